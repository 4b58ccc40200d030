/* simflash.c - see simflash.h. */
#include "simflash.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
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

/*
 * File backing: the contents file and the wear file are mapped shared, so every program and
 * erase is in the file the moment it happens: a simulated device killed with SIGKILL keeps
 * its flash exactly as a real one keeps it across a reset.
 */
static void *map_file(const char *path, size_t len, uint8_t fill, int *fd_out)
{
    struct stat st;
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    void *p = MAP_FAILED;
    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) != 0)
        goto out;
    if (st.st_size == 0) {
        uint8_t block[4096];
        memset(block, fill, sizeof block);
        for (size_t done = 0; done < len;) {
            size_t n = len - done < sizeof block ? len - done : sizeof block;
            if (write(fd, block, n) != (ssize_t)n)
                goto out;
            done += n;
        }
    } else if ((size_t)st.st_size != len) {
        goto out; /* a flash file of another geometry */
    }
    p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
out:
    if (p == MAP_FAILED) {
        close(fd);
        return NULL;
    }
    *fd_out = fd;
    return p;
}

int simflash_sync(const struct simflash *f)
{
    if (!f->path)
        return 0;
    int rc = msync(f->mem, f->size, MS_SYNC);
    rc |= msync(f->wear, f->sector_count * sizeof *f->wear, MS_SYNC);
    return rc ? -1 : 0;
}

int simflash_open(struct simflash *f, const struct simflash_config *cfg, struct sim_power *power)
{
    uint64_t total = 0;
    size_t sectors = 0;
    memset(f, 0, sizeof *f);
    f->mem_fd = f->wear_fd = -1;
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
    if (cfg->path) {
        char wear_path[4200];
        snprintf(wear_path, sizeof wear_path, "%s.wear", cfg->path);
        f->path = strdup(cfg->path);
        f->mem = map_file(cfg->path, f->size, 0xff, &f->mem_fd);
        f->wear = map_file(wear_path, sectors * sizeof *f->wear, 0, &f->wear_fd);
        if (!f->path || !f->mem || !f->wear) {
            simflash_close(f);
            return -1;
        }
        return 0;
    }
    f->mem = malloc(f->size);
    f->wear = calloc(sectors, sizeof *f->wear);
    if (!f->mem || !f->wear) {
        simflash_close(f);
        return -1;
    }
    memset(f->mem, 0xff, f->size);
    return 0;
}

int simflash_close(struct simflash *f)
{
    int rc = 0;
    if (f->path) {
        if (f->mem && f->wear)
            rc = simflash_sync(f);
        if (f->mem)
            munmap(f->mem, f->size);
        if (f->wear)
            munmap(f->wear, f->sector_count * sizeof *f->wear);
        if (f->mem_fd >= 0)
            close(f->mem_fd);
        if (f->wear_fd >= 0)
            close(f->wear_fd);
    } else {
        free(f->mem);
        free(f->wear);
    }
    free(f->path);
    memset(f, 0, sizeof *f);
    f->mem_fd = f->wear_fd = -1;
    return rc;
}

uint32_t simflash_wear(const struct simflash *f, size_t i)
{
    return i < f->sector_count ? f->wear[i] : 0;
}
