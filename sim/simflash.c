/* simflash.c - see simflash.h. */
#include "simflash.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void sim_power_init(struct sim_power *p)
{
    memset(p, 0, sizeof *p);
    p->cut_at = UINT64_MAX;
    p->seed = 0x9e3779b9u;
}

void sim_power_arm(struct sim_power *p, uint64_t op, enum sim_cut tear)
{
    p->cut_at = op;
    p->tear = tear;
}

void sim_power_on(struct sim_power *p)
{
    p->off = false;
    p->cut_at = UINT64_MAX;
}

bool sim_power_is_on(const struct sim_power *p) { return !p->off; }
uint64_t sim_power_ops(const struct sim_power *p) { return p->ops; }
void sim_power_reset_ops(struct sim_power *p) { p->ops = 0; }

/* xorshift32 seeded by the operation number: the same cut tears the same way every time. */
static uint32_t next_rand(uint32_t *s)
{
    uint32_t x = *s ? *s : 1u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* Start an operation: AL_OK to do it whole; AL_ERR_POWER_LOSS with *torn set if this is the
 * cut (the caller does part of it when *torn), or if the power is already off. */
static al_err begin_op(struct sim_power *p, bool *torn, uint32_t *rng)
{
    *torn = false;
    if (p->off)
        return AL_ERR_POWER_LOSS;
    uint64_t n = p->ops++;
    if (n != p->cut_at)
        return AL_OK;
    p->off = true;
    *torn = p->tear == SIM_CUT_TORN;
    *rng = p->seed ^ (uint32_t)(n * 2654435761u) ^ (uint32_t)(n >> 32);
    return AL_ERR_POWER_LOSS;
}

static size_t sector_index(const struct simflash *f, uint32_t addr, uint32_t *start, uint32_t *size)
{
    uint32_t pos = f->port.base;
    size_t idx = 0;
    for (size_t r = 0; r < f->port.sector_run_count; r++) {
        const struct al_sector_run *run = &f->port.sectors[r];
        for (uint32_t i = 0; i < run->count; i++, idx++) {
            if (addr >= pos && addr < pos + run->size) {
                *start = pos;
                *size = run->size;
                return idx;
            }
            pos += run->size;
        }
    }
    return SIZE_MAX;
}

static al_err sim_read(void *ctx, uint32_t addr, void *buf, size_t len)
{
    struct simflash *f = ctx;
    if (addr < f->port.base || addr - f->port.base > f->size || len > f->size - (addr - f->port.base))
        return AL_ERR_OUT_OF_RANGE;
    memcpy(buf, f->mem + (addr - f->port.base), len);
    return AL_OK;
}

static al_err sim_program(void *ctx, uint32_t addr, const void *buf, size_t len)
{
    struct simflash *f = ctx;
    const uint8_t *src = buf;
    bool torn;
    uint32_t rng = 0;
    if (addr < f->port.base || addr - f->port.base > f->size || len > f->size - (addr - f->port.base))
        return AL_ERR_OUT_OF_RANGE;
    if ((addr - f->port.base) % f->port.write_size || len % f->port.write_size)
        return AL_ERR_ALIGNMENT;
    uint8_t *dst = f->mem + (addr - f->port.base);
    al_err err = begin_op(f->power, &torn, &rng);
    if (err != AL_OK) {
        if (torn && len) {
            /* A prefix lands whole; the next write unit gets a random subset of its bits. */
            size_t units = len / f->port.write_size;
            size_t done = (next_rand(&rng) % units) * f->port.write_size;
            for (size_t i = 0; i < done; i++)
                dst[i] &= src[i];
            for (size_t i = done; i < done + f->port.write_size; i++)
                dst[i] &= (uint8_t)(src[i] | next_rand(&rng));
        }
        return err;
    }
    for (size_t i = 0; i < len; i++)
        dst[i] &= src[i];
    f->bytes_programmed += len;
    return AL_OK;
}

static al_err sim_erase(void *ctx, uint32_t addr)
{
    struct simflash *f = ctx;
    uint32_t start, size;
    bool torn;
    uint32_t rng = 0;
    size_t idx = sector_index(f, addr, &start, &size);
    if (idx == SIZE_MAX)
        return AL_ERR_OUT_OF_RANGE;
    if (start != addr)
        return AL_ERR_ALIGNMENT;
    uint8_t *p = f->mem + (addr - f->port.base);
    al_err err = begin_op(f->power, &torn, &rng);
    if (err != AL_OK) {
        if (torn) {
            /* A random part of the sector is erased; the rest keeps its bytes or turns into
             * garbage, as an interrupted erase pulse leaves cells in between. */
            uint32_t from = next_rand(&rng) % size, n = next_rand(&rng) % (size - from + 1);
            memset(p + from, 0xff, n);
            for (uint32_t i = 0; i < 16 && size; i++)
                p[next_rand(&rng) % size] ^= (uint8_t)next_rand(&rng);
            f->wear[idx]++;
        }
        return err;
    }
    memset(p, 0xff, size);
    f->wear[idx]++;
    f->erases++;
    return AL_OK;
}

static int load_file(const char *path, void *buf, size_t len, bool *exists)
{
    FILE *fp = fopen(path, "rb");
    *exists = fp != NULL;
    if (!fp)
        return errno == ENOENT ? 0 : -1;
    size_t got = fread(buf, 1, len, fp);
    int extra = fgetc(fp);
    fclose(fp);
    return got == len && extra == EOF ? 0 : -1;
}

static int save_file(const char *path, const void *buf, size_t len)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return -1;
    FILE *fp = fopen(tmp, "wb");
    if (!fp)
        return -1;
    bool ok = fwrite(buf, 1, len, fp) == len && fflush(fp) == 0 && fsync(fileno(fp)) == 0;
    ok = fclose(fp) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int simflash_sync(const struct simflash *f)
{
    char wear_path[4200];
    uint8_t *wear;
    if (!f->path)
        return 0;
    if (save_file(f->path, f->mem, f->size) != 0)
        return -1;
    wear = malloc(f->sector_count * 4);
    if (!wear)
        return -1;
    for (size_t i = 0; i < f->sector_count; i++) {
        wear[4 * i] = (uint8_t)f->wear[i];
        wear[4 * i + 1] = (uint8_t)(f->wear[i] >> 8);
        wear[4 * i + 2] = (uint8_t)(f->wear[i] >> 16);
        wear[4 * i + 3] = (uint8_t)(f->wear[i] >> 24);
    }
    snprintf(wear_path, sizeof wear_path, "%s.wear", f->path);
    int rc = save_file(wear_path, wear, f->sector_count * 4);
    free(wear);
    return rc;
}

int simflash_open(struct simflash *f, const struct simflash_config *cfg, struct sim_power *power)
{
    uint64_t total = 0;
    size_t sectors = 0;
    memset(f, 0, sizeof *f);
    if (cfg->write_size == 0 || (cfg->write_size & (cfg->write_size - 1)) || cfg->sector_run_count == 0)
        return -1;
    for (size_t i = 0; i < cfg->sector_run_count; i++) {
        if (cfg->sectors[i].size == 0 || cfg->sectors[i].size % cfg->write_size)
            return -1;
        total += (uint64_t)cfg->sectors[i].count * cfg->sectors[i].size;
        sectors += cfg->sectors[i].count;
    }
    if (total == 0 || total > 256u * 1024 * 1024)
        return -1;
    f->port = (struct al_flash){
        .ctx = f, .read = sim_read, .program = sim_program, .erase = sim_erase,
        .base = cfg->base, .write_size = cfg->write_size, .erased_value = 0xff,
        .sectors = cfg->sectors, .sector_run_count = cfg->sector_run_count,
    };
    f->power = power;
    f->size = (uint32_t)total;
    f->sector_count = sectors;
    f->mem = malloc(f->size);
    f->wear = calloc(sectors, sizeof *f->wear);
    if (!f->mem || !f->wear)
        goto fail;
    memset(f->mem, 0xff, f->size);
    if (cfg->path) {
        char wear_path[4200];
        uint8_t *wear = malloc(sectors * 4);
        bool exists, wear_exists;
        f->path = strdup(cfg->path);
        if (!f->path || !wear || load_file(cfg->path, f->mem, f->size, &exists) != 0) {
            free(wear);
            goto fail;
        }
        snprintf(wear_path, sizeof wear_path, "%s.wear", cfg->path);
        if (load_file(wear_path, wear, sectors * 4, &wear_exists) != 0) {
            free(wear);
            goto fail;
        }
        for (size_t i = 0; wear_exists && i < sectors; i++)
            f->wear[i] = (uint32_t)wear[4 * i] | (uint32_t)wear[4 * i + 1] << 8 |
                         (uint32_t)wear[4 * i + 2] << 16 | (uint32_t)wear[4 * i + 3] << 24;
        free(wear);
        if (!exists && simflash_sync(f) != 0)
            goto fail;
    }
    return 0;
fail:
    free(f->mem);
    free(f->wear);
    free(f->path);
    memset(f, 0, sizeof *f);
    return -1;
}

int simflash_close(struct simflash *f)
{
    int rc = simflash_sync(f);
    free(f->mem);
    free(f->wear);
    free(f->path);
    memset(f, 0, sizeof *f);
    return rc;
}

uint32_t simflash_wear(const struct simflash *f, size_t i)
{
    return i < f->sector_count ? f->wear[i] : 0;
}
