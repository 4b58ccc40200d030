/* cowflash.c - see cowflash.h. */
#include "cowflash.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* A page erased since the view opened: it reads as the erased value and owns no memory. */
static uint8_t erased_marker;
#define SIM_COW_ERASED (&erased_marker)

static bool in_range(const struct sim_cowflash *f, uint32_t addr, size_t len)
{
    if (addr < f->port.base)
        return false;
    uint32_t off = addr - f->port.base;
    return off <= f->size && len <= f->size - off;
}

static al_err cow_read(void *ctx, uint32_t addr, void *buf, size_t len)
{
    struct sim_cowflash *f = ctx;
    uint8_t *out = buf;
    if (!in_range(f, addr, len))
        return AL_ERR_OUT_OF_RANGE;
    uint32_t off = addr - f->port.base;
    while (len) {
        size_t page = off / SIM_COW_PAGE, in = off % SIM_COW_PAGE;
        size_t n = SIM_COW_PAGE - in < len ? SIM_COW_PAGE - in : len;
        const uint8_t *p = f->pages[page];
        if (!p)
            memcpy(out, f->factory + off, n);
        else if (p == SIM_COW_ERASED)
            memset(out, f->port.erased_value, n);
        else
            memcpy(out, p + in, n);
        out += n;
        off += (uint32_t)n;
        len -= n;
    }
    return AL_OK;
}

/* Page number `page`, with memory of its own (copied or erased on first write). */
static uint8_t *own_page(struct sim_cowflash *f, size_t page)
{
    uint8_t *p = f->pages[page];
    if (p && p != SIM_COW_ERASED)
        return p;
    uint8_t *copy = malloc(SIM_COW_PAGE);
    if (!copy)
        return NULL;
    if (p == SIM_COW_ERASED)
        memset(copy, f->port.erased_value, SIM_COW_PAGE);
    else
        memcpy(copy, f->factory + page * SIM_COW_PAGE, SIM_COW_PAGE);
    f->pages[page] = copy;
    f->own_pages++;
    return copy;
}

static al_err cow_program(void *ctx, uint32_t addr, const void *buf, size_t len)
{
    struct sim_cowflash *f = ctx;
    const uint8_t *src = buf;
    if (!in_range(f, addr, len))
        return AL_ERR_OUT_OF_RANGE;
    uint32_t off = addr - f->port.base;
    if (off % f->port.write_size != 0 || len % f->port.write_size != 0)
        return AL_ERR_ALIGNMENT;
    while (len) {
        size_t page = off / SIM_COW_PAGE, in = off % SIM_COW_PAGE;
        size_t n = SIM_COW_PAGE - in < len ? SIM_COW_PAGE - in : len;
        uint8_t *p = f->pages[page];
        bool all_erased = true;
        for (size_t i = 0; i < n && all_erased; i++)
            all_erased = src[i] == f->port.erased_value;
        if (!all_erased || (p && p != SIM_COW_ERASED)) { /* programming erased bytes is a no-op */
            if (!(p = own_page(f, page)))
                return AL_ERR_FLASH;
            for (size_t i = 0; i < n; i++)
                p[in + i] &= src[i];
        }
        src += n;
        off += (uint32_t)n;
        len -= n;
    }
    f->programs++;
    return AL_OK;
}

static al_err cow_erase(void *ctx, uint32_t addr)
{
    struct sim_cowflash *f = ctx;
    uint32_t size = al_flash_sector_size(&f->port, addr);
    if (size == 0)
        return AL_ERR_ALIGNMENT;
    size_t first = (addr - f->port.base) / SIM_COW_PAGE;
    for (size_t i = first; i < first + size / SIM_COW_PAGE; i++) {
        if (f->pages[i] && f->pages[i] != SIM_COW_ERASED) {
            free(f->pages[i]);
            f->own_pages--;
        }
        f->pages[i] = SIM_COW_ERASED;
    }
    f->erases++;
    return AL_OK;
}

int sim_cowflash_open(struct sim_cowflash *f, const struct al_flash *like, const uint8_t *factory,
                      uint32_t size)
{
    memset(f, 0, sizeof *f);
    uint64_t total = 0;
    for (size_t r = 0; r < like->sector_run_count; r++) {
        if (like->sectors[r].size % SIM_COW_PAGE != 0)
            return -1;
        total += (uint64_t)like->sectors[r].count * like->sectors[r].size;
    }
    if (total != size || size == 0 || like->base % SIM_COW_PAGE != 0)
        return -1;
    f->port = *like;
    f->port.ctx = f;
    f->port.read = cow_read;
    f->port.program = cow_program;
    f->port.erase = cow_erase;
    f->factory = factory;
    f->size = size;
    f->page_count = size / SIM_COW_PAGE;
    f->pages = calloc(f->page_count, sizeof *f->pages);
    return f->pages ? 0 : -1;
}

void sim_cowflash_reset(struct sim_cowflash *f)
{
    for (size_t i = 0; i < f->page_count; i++) {
        if (f->pages[i] && f->pages[i] != SIM_COW_ERASED)
            free(f->pages[i]);
        f->pages[i] = NULL;
    }
    f->own_pages = 0;
}

void sim_cowflash_close(struct sim_cowflash *f)
{
    if (!f->pages)
        return;
    sim_cowflash_reset(f);
    free(f->pages);
    f->pages = NULL;
}
