/*
 * cowflash.h - a simulated NOR flash that is a private copy-on-write view of a shared
 * factory image, page by page (docs/fleet-simulator.md, Memory).
 *
 * Thousands of simulated devices of airlift-fleet start from the same factory flash. Each
 * device's flash reads the factory bytes until it erases or programs a page: an erase makes
 * the page's sectors "erased" (no memory: they read as the erased value), a program copies
 * the page (4 KiB) into memory of its own first. So a device costs memory only for the pages
 * it wrote. NOR semantics as sim/simflash.h (program clears bits; aligned to write_size;
 * erase a whole sector), without power cuts or wear files: the fleet simulates no power
 * loss, and its flash lives in memory only (it is gone when the process exits).
 *
 * Host code (C11). One cowflash is driven by one thread; the factory image it reads must
 * not change while it is open.
 */
#ifndef AIRLIFT_SIM_COWFLASH_H
#define AIRLIFT_SIM_COWFLASH_H

#include <stddef.h>
#include <stdint.h>

#include "airlift/port.h"

#define SIM_COW_PAGE 4096u

struct sim_cowflash {
    struct al_flash port;   /* what libairlift sees; port.ctx points back here */
    const uint8_t *factory; /* the factory contents, factory[0] at port.base */
    uint32_t size;
    uint8_t **pages;        /* per page: NULL = the factory's, SIM_COW_ERASED, or its own copy */
    size_t page_count;
    size_t own_pages;       /* pages with memory of their own */
    uint64_t programs, erases;
};

/*
 * Open a copy-on-write view of `factory` (size bytes, the contents of a flash whose port is
 * `like`: the same base, write size, erased value and sectors, which must outlive it).
 * Every sector must be a multiple of SIM_COW_PAGE. Returns 0, or -1 (bad geometry, out of
 * memory).
 */
int sim_cowflash_open(struct sim_cowflash *f, const struct al_flash *like, const uint8_t *factory,
                      uint32_t size);
/* Free every page of its own. */
void sim_cowflash_close(struct sim_cowflash *f);
/* Forget every write: the view is the factory image again. */
void sim_cowflash_reset(struct sim_cowflash *f);

#endif
