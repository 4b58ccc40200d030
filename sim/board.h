/*
 * board.h - the reference boards as data: flash devices, their geometry and the layout
 * (docs/flash-layout.md). A board's flash can live in memory or in files of a folder.
 */
#ifndef AIRLIFT_SIM_BOARD_H
#define AIRLIFT_SIM_BOARD_H

#include <stddef.h>

#include "airlift/layout.h"
#include "simflash.h"

#define SIM_BOARD_MAX_FLASH 2

struct sim_board {
    const char *kind;
    struct sim_power power; /* one power supply for every flash of the board */
    struct simflash flash[SIM_BOARD_MAX_FLASH];
    size_t flash_count;
    struct al_region regions[AL_LAYOUT_MAX_REGIONS];
    struct al_layout layout;
    char error[400]; /* why sim_board_open failed */
};

/* A saved copy of every flash of a board, to replay a scenario from the same state. */
struct sim_snapshot {
    struct simflash_state flash[SIM_BOARD_MAX_FLASH];
};

/*
 * Build board `kind` ("electron", "pages4k" or "nrf52840"): its flash devices, powered on, and its
 * layout. dir NULL: flash in memory, erased; otherwise the flash files live in dir (kept if
 * present, created erased if missing; docs/simflash.md). The board must not move in memory
 * while open (the layout points into it). Returns 0, or -1 with b->error saying why (unknown
 * kind, file error).
 */
int sim_board_open(struct sim_board *b, const char *kind, const char *dir);
/* Saves file-backed flash and frees. Returns -1 if saving failed. */
int sim_board_close(struct sim_board *b);

/* The simulated flash behind region r of the board, or NULL if r is not on this board. */
struct simflash *sim_board_flash_of(struct sim_board *b, const struct al_region *r);

/* Copy every flash of b into s, overwritten (free it with sim_snapshot_free). Returns 0, or
 * -1 if out of memory (free s all the same). */
int sim_snapshot_take(const struct sim_board *b, struct sim_snapshot *s);
/* Put every flash of b back to s (contents and wear; not the power). Returns 0, or -1 if s
 * was taken from another kind of board. */
int sim_snapshot_restore(struct sim_board *b, const struct sim_snapshot *s);
void sim_snapshot_free(struct sim_snapshot *s);

#endif
