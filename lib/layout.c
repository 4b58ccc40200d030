/*
 * layout.c - flash geometry and layout checks. A layout is data; al_layout_check makes sure
 * the install engine can rely on it (docs/flash-layout.md lists the rules).
 */
#include <stdbool.h>
#include <stddef.h>

#include "airlift/install.h"
#include "airlift/layout.h"

uint32_t al_flash_sector_size(const struct al_flash *flash, uint32_t addr)
{
    uint32_t pos = flash->base;
    if (addr < flash->base)
        return 0;
    for (size_t i = 0; i < flash->sector_run_count; i++) {
        const struct al_sector_run *run = &flash->sectors[i];
        uint64_t run_len = (uint64_t)run->count * run->size;
        if (addr < pos + run_len)
            return (addr - pos) % run->size == 0 ? run->size : 0;
        pos += (uint32_t)run_len;
    }
    return 0;
}

uint32_t al_flash_size(const struct al_flash *flash)
{
    uint64_t total = 0;
    for (size_t i = 0; i < flash->sector_run_count; i++)
        total += (uint64_t)flash->sectors[i].count * flash->sectors[i].size;
    return total > 0xffffffffu ? 0 : (uint32_t)total;
}

/* Is addr a sector boundary of flash (its start, a sector start, or its end)? */
static bool on_boundary(const struct al_flash *flash, uint32_t addr)
{
    return addr == flash->base + al_flash_size(flash) || al_flash_sector_size(flash, addr) != 0;
}

const struct al_region *al_layout_find(const struct al_layout *layout, uint8_t role)
{
    for (size_t i = 0; i < layout->count; i++)
        if (layout->regions[i].role == role)
            return &layout->regions[i];
    return NULL;
}

const struct al_region *al_layout_slot(const struct al_layout *layout, uint8_t function, uint8_t index)
{
    if (function == AL_FN_BOOTLOADER)
        return al_layout_find(layout, AL_REGION_BOOTLOADER_A);
    for (size_t i = 0; i < layout->count; i++) {
        const struct al_region *r = &layout->regions[i];
        if (r->role == AL_REGION_SLOT && r->function == function && r->index == index)
            return r;
    }
    return NULL;
}

size_t al_layout_region_index(const struct al_layout *layout, const struct al_region *r)
{
    return (size_t)(r - layout->regions);
}

static size_t count_role(const struct al_layout *layout, uint8_t role)
{
    size_t n = 0;
    for (size_t i = 0; i < layout->count; i++)
        n += layout->regions[i].role == role;
    return n;
}

al_err al_layout_check(const struct al_layout *layout)
{
    uint32_t largest_slot = 0;
    if (layout == NULL || layout->regions == NULL || layout->count == 0 ||
        layout->count > AL_LAYOUT_MAX_REGIONS)
        return AL_ERR_BAD_LAYOUT;
    for (size_t i = 0; i < layout->count; i++) {
        const struct al_region *r = &layout->regions[i];
        const struct al_flash *f = r->flash;
        if (f == NULL || r->size == 0 || r->role < AL_REGION_BOOT0 || r->role > AL_REGION_BACKUP)
            return AL_ERR_BAD_LAYOUT;
        if (f->write_size == 0 || (f->write_size & (f->write_size - 1)) != 0 ||
            AL_SLOT_HEADER_AREA % f->write_size != 0 || AL_JOURNAL_RECORD_SIZE % f->write_size != 0)
            return AL_ERR_BAD_LAYOUT;
        if ((uint64_t)r->addr + r->size > (uint64_t)f->base + al_flash_size(f) || r->addr < f->base)
            return AL_ERR_BAD_LAYOUT;
        if (!on_boundary(f, r->addr) || !on_boundary(f, r->addr + r->size))
            return AL_ERR_BAD_LAYOUT;
        for (size_t j = 0; j < i; j++) {
            const struct al_region *o = &layout->regions[j];
            if (o->flash == f && r->addr < o->addr + o->size && o->addr < r->addr + r->size)
                return AL_ERR_BAD_LAYOUT; /* overlap */
            if (r->role == AL_REGION_SLOT && o->role == AL_REGION_SLOT &&
                r->function == o->function && r->index == o->index)
                return AL_ERR_BAD_LAYOUT; /* two slots for one module */
        }
        if (r->role == AL_REGION_SLOT || r->role == AL_REGION_BOOTLOADER_A ||
            r->role == AL_REGION_BOOTLOADER_B) {
            if (r->size <= AL_SLOT_HEADER_AREA)
                return AL_ERR_BAD_LAYOUT;
            if (r->size > largest_slot)
                largest_slot = r->size;
        }
        if ((r->role == AL_REGION_JOURNAL_A || r->role == AL_REGION_JOURNAL_B) &&
            r->size < 2 * AL_JOURNAL_RECORD_SIZE)
            return AL_ERR_BAD_LAYOUT;
    }
    if (count_role(layout, AL_REGION_JOURNAL_A) != 1 || count_role(layout, AL_REGION_JOURNAL_B) != 1 ||
        count_role(layout, AL_REGION_STAGING) != 1 || count_role(layout, AL_REGION_BACKUP) != 1 ||
        count_role(layout, AL_REGION_BOOTLOADER_A) > 1 || count_role(layout, AL_REGION_BOOTLOADER_B) > 1 ||
        count_role(layout, AL_REGION_BOOTLOADER_A) != count_role(layout, AL_REGION_BOOTLOADER_B))
        return AL_ERR_BAD_LAYOUT;
    const struct al_region *bl_a = al_layout_find(layout, AL_REGION_BOOTLOADER_A);
    const struct al_region *bl_b = al_layout_find(layout, AL_REGION_BOOTLOADER_B);
    if (bl_a && (bl_a->size != bl_b->size || bl_a->function != AL_FN_BOOTLOADER ||
                 bl_b->function != AL_FN_BOOTLOADER || bl_a->link_address != bl_b->link_address))
        return AL_ERR_BAD_LAYOUT;
    if (al_layout_find(layout, AL_REGION_BACKUP)->size < largest_slot ||
        al_layout_find(layout, AL_REGION_STAGING)->size < largest_slot)
        return AL_ERR_BAD_LAYOUT;
    return AL_OK;
}
