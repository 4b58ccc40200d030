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
};

/* A saved copy of every flash of a board, to replay a scenario from the same state. */
struct sim_snapshot {
    uint8_t *mem[SIM_BOARD_MAX_FLASH];
    uint32_t *wear[SIM_BOARD_MAX_FLASH];
};

/*
 * Build board `kind` ("electron" or "pages4k"). dir NULL: flash in memory; otherwise the
 * flash files live in dir (created erased if missing). The board must not move in memory
 * while open (the layout points into it). Returns 0, or -1 for an unknown kind or file error.
 */
int sim_board_open(struct sim_board *b, const char *kind, const char *dir);
/* Saves file-backed flash and frees. Returns -1 if saving failed. */
int sim_board_close(struct sim_board *b);

void sim_snapshot_take(const struct sim_board *b, struct sim_snapshot *s);
void sim_snapshot_restore(struct sim_board *b, const struct sim_snapshot *s);
void sim_snapshot_free(struct sim_snapshot *s);

#endif
