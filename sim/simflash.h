/*
 * simflash.h - simulated NOR flash with power cuts (docs/simflash.md).
 *
 * NOR semantics: erase sets a whole sector to 0xFF; program can only clear bits (the stored
 * byte becomes old AND new; programming bits that are already 0 is allowed, as on the
 * STM32F2); programs are aligned to the write size. Every program and every erase call is one
 * *operation*, counted by the sim_power shared by all flashes of a board, which can cut the
 * power when a chosen operation starts: cleanly (nothing happens) or torn (part of it
 * happens). After a cut every operation fails with AL_ERR_POWER_LOSS until the power comes
 * back; reads keep working so tests can look at what a cut left. Tears are deterministic:
 * their random numbers come from a PRNG seeded by (seed, operation number).
 *
 * Host code (C11). Not thread-safe: one board is driven by one thread.
 */
#ifndef AIRLIFT_SIMFLASH_H
#define AIRLIFT_SIMFLASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "airlift/port.h"

/* How the operation hit by a power cut ends. */
enum sim_cut {
    SIM_CUT_CLEAN = 0, /* it does nothing */
    SIM_CUT_TORN = 1,  /* it is partly done (see simflash.c for what "partly" means) */
};

#define SIM_NO_CUT UINT64_MAX /* sim_power.cut_at when no cut is armed */
#define SIM_DEFAULT_SEED 0x9e3779b9u

/* The power supply of one simulated board, shared by all its flash devices. */
struct sim_power {
    uint64_t ops;    /* operations started since the last sim_power_reset_ops */
    uint64_t cut_at; /* 0-based operation number that loses power, or SIM_NO_CUT */
    enum sim_cut tear;
    bool off;        /* power is cut: every operation fails until sim_power_on */
    uint32_t seed;   /* with the operation number, seeds the PRNG of a tear */
    uint64_t cuts;   /* power cuts so far (statistics) */
};

/* Power on, no cut armed, operation counter 0, seed SIM_DEFAULT_SEED. */
void sim_power_init(struct sim_power *p);
/* Choose the seed of tears: same seed + same operation number = same tear. */
void sim_power_seed(struct sim_power *p, uint32_t seed);
/* Cut the power when operation number op (0-based, counted from the last
 * sim_power_reset_ops) starts; that operation ends as tear says. */
void sim_power_arm(struct sim_power *p, uint64_t op, enum sim_cut tear);
void sim_power_disarm(struct sim_power *p);
/* Cut the power now, between operations (the board is unplugged while idle). */
void sim_power_cut(struct sim_power *p);
/* Power back on; disarms any cut. The operation counter keeps counting. */
void sim_power_on(struct sim_power *p);
bool sim_power_is_on(const struct sim_power *p);
uint64_t sim_power_ops(const struct sim_power *p);
void sim_power_reset_ops(struct sim_power *p);

/* What one flash device went through, for tests and bench/. */
struct simflash_stats {
    uint64_t programs;          /* program calls that completed */
    uint64_t erases;            /* erase calls that completed */
    uint64_t bytes_programmed;  /* by completed programs */
    uint64_t torn;              /* operations torn by a power cut */
    uint64_t refused;           /* operations refused because the power was off or cut */
    uint64_t set_bit_attempts;  /* completed programs whose data had a 1 over a stored 0:
                                 * the flash kept the 0, so what is stored differs from
                                 * what was written (a writer bug unless deliberate) */
};

struct simflash {
    struct al_flash port;  /* what libairlift sees; port.ctx points back here */
    struct sim_power *power;
    uint8_t *mem;          /* contents, mem[0] is at port.base */
    uint32_t size;
    uint32_t *wear;        /* erase count per sector, in address order */
    size_t sector_count;
    struct simflash_stats stats;
    char *path;            /* file backing, or NULL */
    int mem_fd, wear_fd;   /* mapped files when file backed, else -1 */
    char error[320];       /* why simflash_open failed */
};

struct simflash_config {
    uint32_t base;
    uint32_t write_size; /* a power of two */
    const struct al_sector_run *sectors; /* must outlive the simflash */
    size_t sector_run_count;
    const char *path; /* NULL: memory only. Otherwise contents in path, wear in path.wear,
                       * both mapped shared: every operation is in the file at once */
};

#define SIMFLASH_MAX_SIZE (256u * 1024 * 1024)

/*
 * Open a flash device powered by `power` (which must outlive it). Memory-backed flash starts
 * erased; file-backed flash keeps the files' contents, creating them erased (wear 0) if
 * missing. Returns 0, or -1 with f->error saying why (bad geometry, a file that cannot be
 * created or mapped, a file whose size does not match the geometry).
 */
int simflash_open(struct simflash *f, const struct simflash_config *cfg, struct sim_power *power);
/* Flush the files (if file backed) and free. Returns -1 if flushing failed. */
int simflash_close(struct simflash *f);
/* msync the files now (no-op in memory). Returns 0 or -1. */
int simflash_sync(const struct simflash *f);

/* The port bound to f, for a struct al_region; valid while f is open and does not move. */
const struct al_flash *simflash_port(const struct simflash *f);
/* Erase count of the sector with index i (address order), 0 if there is no such sector. */
uint32_t simflash_wear(const struct simflash *f, size_t i);
/* Index of the sector holding absolute address addr, or SIZE_MAX if outside the device. */
size_t simflash_sector_index(const struct simflash *f, uint32_t addr);
/* Direct access to the contents at absolute address addr for len bytes, or NULL if that range
 * is not inside the device. Writes through it bypass NOR rules, operations and power. */
uint8_t *simflash_mem(struct simflash *f, uint32_t addr, size_t len);
void simflash_stats_reset(struct simflash *f);

/* A copy of a flash's contents and wear counters, to replay a scenario from one state. */
struct simflash_state {
    uint8_t *mem;
    uint32_t *wear;
    uint32_t size;
    size_t sector_count;
};

/* Copy f into s. s must be zeroed or hold an earlier save (its buffers are reused when the
 * geometry matches). Returns 0, or -1 if out of memory. */
int simflash_state_save(const struct simflash *f, struct simflash_state *s);
/* Put f back to s (contents and wear; statistics and power are left alone). Returns 0, or -1
 * if s is empty or was saved from a flash of another geometry. */
int simflash_state_restore(struct simflash *f, const struct simflash_state *s);
void simflash_state_free(struct simflash_state *s);

#endif
