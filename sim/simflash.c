/* simflash.c - see simflash.h; file formats in docs/simflash.md. */
#include "simflash.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The wear file is mapped as an array of uint32_t, and its format is little-endian. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "simflash maps its little-endian wear file directly: port it before using a big-endian host"
#endif

/* ---- power ---------------------------------------------------------------------------- */

void sim_power_init(struct sim_power *p)
{
    memset(p, 0, sizeof *p);
    p->cut_at = SIM_NO_CUT;
    p->seed = SIM_DEFAULT_SEED;
}

void sim_power_seed(struct sim_power *p, uint32_t seed) { p->seed = seed; }

void sim_power_arm(struct sim_power *p, uint64_t op, enum sim_cut tear)
{
    p->cut_at = op;
    p->tear = tear;
}

void sim_power_disarm(struct sim_power *p) { p->cut_at = SIM_NO_CUT; }

void sim_power_cut(struct sim_power *p)
{
    if (!p->off)
        p->cuts++;
    p->off = true;
}

void sim_power_on(struct sim_power *p)
{
    p->off = false;
    p->cut_at = SIM_NO_CUT;
}

bool sim_power_is_on(const struct sim_power *p) { return !p->off; }
uint64_t sim_power_ops(const struct sim_power *p) { return p->ops; }
void sim_power_reset_ops(struct sim_power *p) { p->ops = 0; }

/* splitmix64: a tear's random numbers, seeded by (seed, operation number) so the same cut of
 * the same scenario tears the same way every time and a failure replays exactly. */
struct tear_rng {
    uint64_t state;
};

static uint64_t rng_next(struct tear_rng *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform-enough number in [0, n); n > 0. */
static uint64_t rng_below(struct tear_rng *r, uint64_t n) { return rng_next(r) % n; }

enum op_start {
    OP_RUN,  /* power is on: do the whole operation */
    OP_TEAR, /* the cut is now, torn: do part of it, then fail */
    OP_FAIL, /* the cut is now, clean, or the power was already off: do nothing, fail */
};

/* Start an operation: count it and decide what happens to it. */
static enum op_start begin_op(struct simflash *f, struct tear_rng *rng)
{
    struct sim_power *p = f->power;
    if (p->off) {
        f->stats.refused++;
        return OP_FAIL;
    }
    uint64_t n = p->ops++;
    if (n != p->cut_at)
        return OP_RUN;
    sim_power_cut(p);
    f->stats.refused++;
    if (p->tear != SIM_CUT_TORN)
        return OP_FAIL;
    rng->state = ((uint64_t)p->seed << 32 | p->seed) ^ (n * 0xd1b54a32d192ed03ull);
    f->stats.torn++;
    return OP_TEAR;
}

/* ---- geometry ------------------------------------------------------------------------- */

/* Sector holding absolute address addr: its index, start and size; SIZE_MAX if outside. */
static size_t locate_sector(const struct simflash *f, uint32_t addr, uint32_t *start, uint32_t *size)
{
    uint64_t pos = f->port.base;
    size_t idx = 0;
    if (addr < f->port.base)
        return SIZE_MAX;
    for (size_t r = 0; r < f->port.sector_run_count; r++) {
        const struct al_sector_run *run = &f->port.sectors[r];
        uint64_t run_len = (uint64_t)run->count * run->size;
        if (addr < pos + run_len) {
            uint32_t k = (uint32_t)((addr - pos) / run->size);
            *start = (uint32_t)(pos + (uint64_t)k * run->size);
            *size = run->size;
            return idx + k;
        }
        pos += run_len;
        idx += run->count;
    }
    return SIZE_MAX;
}

size_t simflash_sector_index(const struct simflash *f, uint32_t addr)
{
    uint32_t start, size;
    return locate_sector(f, addr, &start, &size);
}

/* Is [addr, addr + len) inside the device? */
static bool in_range(const struct simflash *f, uint32_t addr, size_t len)
{
    if (addr < f->port.base)
        return false;
    uint32_t off = addr - f->port.base;
    return off <= f->size && len <= f->size - off;
}

const struct al_flash *simflash_port(const struct simflash *f) { return &f->port; }

uint32_t simflash_wear(const struct simflash *f, size_t i)
{
    return i < f->sector_count ? f->wear[i] : 0;
}

uint8_t *simflash_mem(struct simflash *f, uint32_t addr, size_t len)
{
    return in_range(f, addr, len) ? f->mem + (addr - f->port.base) : NULL;
}

void simflash_stats_reset(struct simflash *f) { memset(&f->stats, 0, sizeof f->stats); }

/* ---- the port ------------------------------------------------------------------------- */

static al_err sim_read(void *ctx, uint32_t addr, void *buf, size_t len)
{
    struct simflash *f = ctx;
    if (!in_range(f, addr, len))
        return AL_ERR_OUT_OF_RANGE;
    if (len)
        memcpy(buf, f->mem + (addr - f->port.base), len);
    return AL_OK;
}

/* Torn program: the first k write units land whole (k random, below the unit count), the
 * next unit gets a random subset of the bits it would clear, the rest nothing. */
static void tear_program(struct simflash *f, uint8_t *dst, const uint8_t *src, size_t len,
                         struct tear_rng *rng)
{
    size_t unit = f->port.write_size;
    size_t done = (size_t)rng_below(rng, len / unit) * unit;
    for (size_t i = 0; i < done; i++)
        dst[i] &= src[i];
    for (size_t i = done; i < done + unit; i++)
        dst[i] &= (uint8_t)(src[i] | (uint8_t)rng_next(rng));
}

static al_err sim_program(void *ctx, uint32_t addr, const void *buf, size_t len)
{
    struct simflash *f = ctx;
    const uint8_t *src = buf;
    struct tear_rng rng;
    if (!in_range(f, addr, len))
        return AL_ERR_OUT_OF_RANGE;
    if ((addr - f->port.base) % f->port.write_size != 0 || len % f->port.write_size != 0)
        return AL_ERR_ALIGNMENT;
    uint8_t *dst = f->mem + (addr - f->port.base);
    switch (begin_op(f, &rng)) {
    case OP_TEAR:
        if (len)
            tear_program(f, dst, src, len, &rng);
        return AL_ERR_POWER_LOSS;
    case OP_FAIL:
        return AL_ERR_POWER_LOSS;
    case OP_RUN:
        break;
    }
    bool sets_bits = false;
    for (size_t i = 0; i < len; i++) {
        sets_bits |= (src[i] & ~dst[i]) != 0;
        dst[i] &= src[i];
    }
    f->stats.programs++;
    f->stats.bytes_programmed += len;
    f->stats.set_bit_attempts += sets_bits;
    return AL_OK;
}

/*
 * Torn erase, adversarial but deterministic: one part of the sector reads 0xFF (the start,
 * the end, a span in the middle, or all of it), the rest keeps its old bytes, and up to 32
 * bytes outside the erased part turn into garbage (cells caught between states). "All of it"
 * with no garbage is a complete erase that still reports the power loss.
 */
static void tear_erase(uint8_t *p, uint32_t size, struct tear_rng *rng)
{
    uint32_t from, to;
    switch (rng_below(rng, 4)) {
    case 0: /* a prefix */
        from = 0;
        to = (uint32_t)rng_below(rng, (uint64_t)size + 1);
        break;
    case 1: /* a suffix */
        from = (uint32_t)rng_below(rng, (uint64_t)size + 1);
        to = size;
        break;
    case 2: /* a span in the middle */
        from = (uint32_t)rng_below(rng, size);
        to = from + (uint32_t)rng_below(rng, (uint64_t)(size - from) + 1);
        break;
    default: /* all of it */
        from = 0;
        to = size;
        break;
    }
    memset(p + from, 0xff, to - from);
    uint32_t rest = size - (to - from);
    uint32_t garbage = rest ? (uint32_t)rng_below(rng, 33) : 0;
    for (uint32_t i = 0; i < garbage; i++) {
        uint32_t k = (uint32_t)rng_below(rng, rest); /* k-th byte outside [from, to) */
        p[k < from ? k : k + (to - from)] = (uint8_t)rng_next(rng);
    }
}

static al_err sim_erase(void *ctx, uint32_t addr)
{
    struct simflash *f = ctx;
    uint32_t start, size;
    struct tear_rng rng;
    size_t idx = locate_sector(f, addr, &start, &size);
    if (idx == SIZE_MAX)
        return AL_ERR_OUT_OF_RANGE;
    if (start != addr)
        return AL_ERR_ALIGNMENT;
    uint8_t *p = f->mem + (addr - f->port.base);
    switch (begin_op(f, &rng)) {
    case OP_TEAR:
        tear_erase(p, size, &rng);
        f->wear[idx]++; /* the cells went through (part of) an erase cycle */
        return AL_ERR_POWER_LOSS;
    case OP_FAIL:
        return AL_ERR_POWER_LOSS;
    case OP_RUN:
        break;
    }
    memset(p, 0xff, size);
    f->wear[idx]++;
    f->stats.erases++;
    return AL_OK;
}

/* ---- open, close, files --------------------------------------------------------------- */

static void set_error(struct simflash *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->error, sizeof f->error, fmt, ap);
    va_end(ap);
}

/*
 * Map a file of exactly len bytes shared, creating it filled with `fill` if it is missing or
 * empty. Mapped shared, every program and erase is in the file the moment it happens: a
 * simulated device killed with SIGKILL keeps its flash as a real one keeps it across a reset.
 */
static void *map_file(struct simflash *f, const char *path, size_t len, uint8_t fill, int *fd_out)
{
    struct stat st;
    void *p = MAP_FAILED;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        set_error(f, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0) {
        set_error(f, "%s: cannot stat: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        set_error(f, "%s: not a regular file", path);
        goto out;
    }
    if (st.st_size == 0) {
        uint8_t block[4096];
        memset(block, fill, sizeof block);
        for (size_t done = 0; done < len;) {
            size_t n = len - done < sizeof block ? len - done : sizeof block;
            if (write(fd, block, n) != (ssize_t)n) {
                set_error(f, "%s: cannot write: %s", path, strerror(errno));
                goto out;
            }
            done += n;
        }
    } else if ((uint64_t)st.st_size != len) {
        set_error(f, "%s: is %lld bytes, expected %zu (a flash file of another geometry?)", path,
                  (long long)st.st_size, len);
        goto out;
    }
    p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        set_error(f, "%s: cannot map: %s", path, strerror(errno));
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

/* Check the geometry of cfg; on success fill in the total size and sector count. */
static bool geometry_ok(struct simflash *f, const struct simflash_config *cfg, uint32_t *size,
                        size_t *sectors)
{
    uint64_t total = 0;
    size_t count = 0;
    if (cfg->write_size == 0 || (cfg->write_size & (cfg->write_size - 1)) != 0) {
        set_error(f, "write size %u is not a power of two", cfg->write_size);
        return false;
    }
    if (cfg->sectors == NULL || cfg->sector_run_count == 0) {
        set_error(f, "geometry has no sector runs");
        return false;
    }
    for (size_t i = 0; i < cfg->sector_run_count; i++) {
        const struct al_sector_run *run = &cfg->sectors[i];
        if (run->count == 0 || run->size == 0 || run->size % cfg->write_size != 0) {
            set_error(f, "sector run %zu (%u x %u bytes) is empty or not a multiple of the "
                         "write size %u", i, run->count, run->size, cfg->write_size);
            return false;
        }
        total += (uint64_t)run->count * run->size;
        count += run->count;
        if (total > SIMFLASH_MAX_SIZE) {
            set_error(f, "flash larger than %u bytes", SIMFLASH_MAX_SIZE);
            return false;
        }
    }
    if ((uint64_t)cfg->base + total > 0x100000000ull) {
        set_error(f, "flash at 0x%08x of %llu bytes goes past the 32-bit address space",
                  cfg->base, (unsigned long long)total);
        return false;
    }
    *size = (uint32_t)total;
    *sectors = count;
    return true;
}

/* Release what f holds; keeps f->error. */
static int release(struct simflash *f)
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
    f->path = NULL;
    f->mem = NULL;
    f->wear = NULL;
    f->mem_fd = f->wear_fd = -1;
    return rc;
}

int simflash_open(struct simflash *f, const struct simflash_config *cfg, struct sim_power *power)
{
    uint32_t size;
    size_t sectors;
    memset(f, 0, sizeof *f);
    f->mem_fd = f->wear_fd = -1;
    if (!geometry_ok(f, cfg, &size, &sectors))
        return -1;
    f->port = (struct al_flash){
        .ctx = f, .read = sim_read, .program = sim_program, .erase = sim_erase,
        .base = cfg->base, .write_size = cfg->write_size, .erased_value = 0xff,
        .sectors = cfg->sectors, .sector_run_count = cfg->sector_run_count,
    };
    f->power = power;
    f->size = size;
    f->sector_count = sectors;
    if (cfg->path) {
        size_t n = strlen(cfg->path);
        char *wear_path = malloc(n + sizeof ".wear");
        f->path = strdup(cfg->path);
        if (!wear_path || !f->path) {
            free(wear_path);
            set_error(f, "out of memory");
            release(f);
            return -1;
        }
        memcpy(wear_path, cfg->path, n);
        memcpy(wear_path + n, ".wear", sizeof ".wear");
        f->mem = map_file(f, cfg->path, f->size, 0xff, &f->mem_fd);
        if (f->mem)
            f->wear = map_file(f, wear_path, sectors * sizeof *f->wear, 0, &f->wear_fd);
        free(wear_path);
        if (!f->mem || !f->wear) {
            release(f);
            return -1;
        }
        return 0;
    }
    f->mem = malloc(f->size);
    f->wear = calloc(sectors, sizeof *f->wear);
    if (!f->mem || !f->wear) {
        set_error(f, "out of memory for %u bytes of flash", f->size);
        release(f);
        return -1;
    }
    memset(f->mem, 0xff, f->size);
    return 0;
}

int simflash_close(struct simflash *f)
{
    int rc = release(f);
    memset(f, 0, sizeof *f);
    f->mem_fd = f->wear_fd = -1;
    return rc;
}

/* ---- saved states --------------------------------------------------------------------- */

int simflash_state_save(const struct simflash *f, struct simflash_state *s)
{
    if (s->mem == NULL || s->size != f->size || s->sector_count != f->sector_count) {
        simflash_state_free(s);
        s->mem = malloc(f->size);
        s->wear = malloc(f->sector_count * sizeof *s->wear);
        if (!s->mem || !s->wear) {
            simflash_state_free(s);
            return -1;
        }
        s->size = f->size;
        s->sector_count = f->sector_count;
    }
    memcpy(s->mem, f->mem, f->size);
    memcpy(s->wear, f->wear, f->sector_count * sizeof *f->wear);
    return 0;
}

int simflash_state_restore(struct simflash *f, const struct simflash_state *s)
{
    if (s->mem == NULL || s->size != f->size || s->sector_count != f->sector_count)
        return -1;
    memcpy(f->mem, s->mem, f->size);
    memcpy(f->wear, s->wear, f->sector_count * sizeof *f->wear);
    return 0;
}

void simflash_state_free(struct simflash_state *s)
{
    free(s->mem);
    free(s->wear);
    memset(s, 0, sizeof *s);
}
