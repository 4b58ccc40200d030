/*
 * layout.c - flash geometry and layout checks. A layout is data; al_layout_check makes sure
 * the install engine can rely on it (docs/flash-layout.md lists the rules).
 */
#include <stdbool.h>
#include <stddef.h>

#include "airlift/image.h"
#include "airlift/install.h"
#include "airlift/layout.h"

/* Flash sizes are bounded by the 32-bit address space: base + size <= 2^32. */
#define ADDRESS_SPACE_END 0x100000000ull

uint32_t al_flash_sector_size(const struct al_flash *flash, uint32_t addr)
{
    uint64_t pos = flash->base;
    if (addr < flash->base || flash->sectors == NULL)
        return 0;
    for (size_t i = 0; i < flash->sector_run_count; i++) {
        const struct al_sector_run *run = &flash->sectors[i];
        uint64_t run_len = (uint64_t)run->count * run->size;
        if (run->size == 0)
            return 0;
        if (addr < pos + run_len)
            return (uint32_t)(addr - pos) % run->size == 0 ? run->size : 0;
        pos += run_len;
    }
    return 0;
}

uint32_t al_flash_size(const struct al_flash *flash)
{
    uint64_t total = 0;
    if (flash->sectors == NULL)
        return 0;
    for (size_t i = 0; i < flash->sector_run_count; i++) {
        total += (uint64_t)flash->sectors[i].count * flash->sectors[i].size;
        if (total > 0xffffffffu)
            return 0; /* not a 32-bit device: callers treat 0 as invalid */
    }
    return (uint32_t)total;
}

/* Is addr (64-bit so a flash ending at 4 GiB works) a sector boundary of flash: a sector
 * start or the end of the device? */
static bool on_boundary(const struct al_flash *flash, uint64_t addr)
{
    if (addr == (uint64_t)flash->base + al_flash_size(flash))
        return true;
    return addr <= 0xffffffffu && al_flash_sector_size(flash, (uint32_t)addr) != 0;
}

/* Geometry of one flash device: NULL if sound, else what is wrong with it. */
static const char *flash_problem(const struct al_flash *f)
{
    uint32_t size = al_flash_size(f);
    if (f->sectors == NULL || f->sector_run_count == 0)
        return "flash has no sectors";
    if (f->read == NULL || f->program == NULL || f->erase == NULL)
        return "flash port lacks read, program or erase";
    if (f->write_size == 0 || (f->write_size & (f->write_size - 1)) != 0)
        return "flash write size is not a power of two";
    for (size_t i = 0; i < f->sector_run_count; i++)
        if (f->sectors[i].count == 0 || f->sectors[i].size == 0 ||
            f->sectors[i].size % f->write_size != 0)
            return "flash sector run is empty or not a multiple of the write size";
    if (size == 0 || (uint64_t)f->base + size > ADDRESS_SPACE_END)
        return "flash does not fit the 32-bit address space";
    if (AL_JOURNAL_RECORD_SIZE % f->write_size != 0 || AL_SLOT_HEADER_AREA % f->write_size != 0)
        return "flash write size does not divide the journal record and slot header sizes";
    return NULL;
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

static bool holds_module(const struct al_region *r)
{
    return r->role == AL_REGION_SLOT || r->role == AL_REGION_BOOTLOADER_A ||
           r->role == AL_REGION_BOOTLOADER_B;
}

/* The rules that concern region i alone or with the regions before it. NULL if all hold. */
static const char *region_problem(const struct al_layout *layout, size_t i)
{
    const struct al_region *r = &layout->regions[i];
    const struct al_flash *f = r->flash;
    const char *why;
    if (f == NULL)
        return "region has no flash";
    if ((why = flash_problem(f)) != NULL)
        return why;
    if (r->role < AL_REGION_BOOT0 || r->role > AL_REGION_BACKUP)
        return "region role is unknown";
    if (r->size == 0)
        return "region is empty";
    if (r->addr < f->base || (uint64_t)r->addr + r->size > (uint64_t)f->base + al_flash_size(f))
        return "region lies outside its flash";
    if (!on_boundary(f, r->addr))
        return "region does not start on a sector boundary";
    if (!on_boundary(f, (uint64_t)r->addr + r->size))
        return "region does not end on a sector boundary";
    if (r->role == AL_REGION_SLOT &&
        (r->function == AL_FN_BOOTLOADER || r->function == 0 || r->function > AL_FN_MAX))
        return "slot function is not system, application or radio";
    if ((r->role == AL_REGION_BOOTLOADER_A || r->role == AL_REGION_BOOTLOADER_B) &&
        r->function != AL_FN_BOOTLOADER)
        return "bootloader copy does not have the bootloader function";
    if (holds_module(r) && r->size <= AL_SLOT_HEADER_AREA)
        return "slot is not larger than its header area";
    if ((r->role == AL_REGION_JOURNAL_A || r->role == AL_REGION_JOURNAL_B) &&
        r->size < 2 * AL_JOURNAL_RECORD_SIZE)
        return "journal area holds fewer than two records";
    for (size_t j = 0; j < i; j++) {
        const struct al_region *o = &layout->regions[j];
        if (o->flash == f && r->addr < (uint64_t)o->addr + o->size &&
            o->addr < (uint64_t)r->addr + r->size)
            return "regions overlap on the same flash";
        if (r->role == AL_REGION_SLOT && o->role == AL_REGION_SLOT &&
            r->function == o->function && r->index == o->index)
            return "two slots for the same module function and index";
    }
    return NULL;
}

/* The rules about the layout as a whole. NULL if all hold. */
static const char *layout_problem(const struct al_layout *layout)
{
    uint32_t largest_slot = 0;
    for (size_t i = 0; i < layout->count; i++)
        if (holds_module(&layout->regions[i]) && layout->regions[i].size > largest_slot)
            largest_slot = layout->regions[i].size;
    if (count_role(layout, AL_REGION_JOURNAL_A) != 1)
        return "layout needs exactly one journal A region";
    if (count_role(layout, AL_REGION_JOURNAL_B) != 1)
        return "layout needs exactly one journal B region";
    if (count_role(layout, AL_REGION_STAGING) != 1)
        return "layout needs exactly one staging region";
    if (count_role(layout, AL_REGION_BACKUP) != 1)
        return "layout needs exactly one backup region";
    if (count_role(layout, AL_REGION_BOOT0) > 1)
        return "layout has more than one boot0 region";
    if (count_role(layout, AL_REGION_BOOTLOADER_A) > 1 || count_role(layout, AL_REGION_BOOTLOADER_B) > 1 ||
        count_role(layout, AL_REGION_BOOTLOADER_A) != count_role(layout, AL_REGION_BOOTLOADER_B))
        return "bootloader copies A and B must come as one pair or not at all";
    const struct al_region *bl_a = al_layout_find(layout, AL_REGION_BOOTLOADER_A);
    const struct al_region *bl_b = al_layout_find(layout, AL_REGION_BOOTLOADER_B);
    if (bl_a != NULL && bl_a->size != bl_b->size)
        return "bootloader copies A and B differ in size";
    if (bl_a != NULL && bl_a->link_address != bl_b->link_address)
        return "bootloader copies A and B differ in link address";
    if (al_layout_find(layout, AL_REGION_BACKUP)->size < largest_slot)
        return "backup region is smaller than the largest slot";
    if (al_layout_find(layout, AL_REGION_STAGING)->size < largest_slot)
        return "staging region is smaller than the largest slot";
    return NULL;
}

al_err al_layout_check_reason(const struct al_layout *layout, const char **reason, size_t *region)
{
    const char *why = NULL;
    size_t at = AL_LAYOUT_NO_REGION;
    if (layout == NULL || layout->regions == NULL || layout->count == 0)
        why = "layout has no regions";
    else if (layout->count > AL_LAYOUT_MAX_REGIONS)
        why = "layout has more than AL_LAYOUT_MAX_REGIONS regions";
    for (size_t i = 0; why == NULL && i < layout->count; i++)
        if ((why = region_problem(layout, i)) != NULL)
            at = i;
    if (why == NULL)
        why = layout_problem(layout);
    if (reason != NULL)
        *reason = why;
    if (region != NULL)
        *region = at;
    return why == NULL ? AL_OK : AL_ERR_BAD_LAYOUT;
}

al_err al_layout_check(const struct al_layout *layout)
{
    return al_layout_check_reason(layout, NULL, NULL);
}
