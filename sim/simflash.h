/*
 * simflash.h - simulated NOR flash with power cuts (docs/simflash.md).
 *
 * NOR semantics: erase sets a whole sector to 0xFF; program can only clear bits (the stored
 * byte becomes old AND new); programs are aligned to the write size. Every program and every
 * erase call is one *operation*, counted by the sim_power shared by all flashes of a board,
 * which can cut the power when a chosen operation starts: cleanly (nothing happens) or torn
 * (part of it happens). After a cut every operation fails with AL_ERR_POWER_LOSS until the
 * power comes back. Tears are deterministic: a PRNG seeded by the operation number.
 */
#ifndef AIRLIFT_SIMFLASH_H
#define AIRLIFT_SIMFLASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "airlift/port.h"

enum sim_cut { SIM_CUT_CLEAN = 0, SIM_CUT_TORN = 1 };

struct sim_power {
    uint64_t ops;       /* operations started since the last reset of the counter */
    uint64_t cut_at;    /* operation number that loses power; UINT64_MAX: none */
    enum sim_cut tear;
    bool off;
    uint32_t seed;
};

void sim_power_init(struct sim_power *p);
/* Cut the power when operation number op (0-based, counted from the last reset) starts. */
void sim_power_arm(struct sim_power *p, uint64_t op, enum sim_cut tear);
void sim_power_on(struct sim_power *p); /* power back; disarms the cut */
bool sim_power_is_on(const struct sim_power *p);
uint64_t sim_power_ops(const struct sim_power *p);
void sim_power_reset_ops(struct sim_power *p);

struct simflash {
    struct al_flash port;  /* what libairlift sees; port.ctx points back here */
    struct sim_power *power;
    uint8_t *mem;          /* contents */
    uint32_t size;
    uint32_t *wear;        /* erase count per sector */
    size_t sector_count;
    uint64_t bytes_programmed;
    uint64_t erases;
    char *path;            /* file backing, or NULL */
    int mem_fd, wear_fd;   /* mapped files when file backed */
};

struct simflash_config {
    uint32_t base;
    uint32_t write_size;
    const struct al_sector_run *sectors;
    size_t sector_run_count;
    const char *path; /* NULL: memory only. Otherwise contents in path, wear in path.wear,
                       * both mapped shared: every operation is in the file at once */
};

/* Returns 0, or -1 (bad geometry, or the file cannot be created or has the wrong size). */
int simflash_open(struct simflash *f, const struct simflash_config *cfg, struct sim_power *power);
/* Flushes the files (if file backed) and frees. Returns -1 if flushing failed. */
int simflash_close(struct simflash *f);
/* msync the files now. */
int simflash_sync(const struct simflash *f);
/* Erase count of the sector with index i. */
uint32_t simflash_wear(const struct simflash *f, size_t i);

#endif
