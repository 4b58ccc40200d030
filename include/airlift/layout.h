/*
 * airlift/layout.h - the flash map, as data.
 *
 * A layout lists regions, each on some flash device, sector aligned, with a role. The
 * install engine finds everything it needs through the layout, so the same code drives an
 * STM32F205-like internal flash or a part with 4 KiB pages and an external staging flash.
 *
 * Module slots hold an installed image as: payload at the slot start (so code runs at the
 * slot's link address) and the image header in the last AL_SLOT_HEADER_AREA bytes.
 * Staging holds an image file exactly as downloaded (header first). The backup region holds
 * a raw copy of a slot while an install is on trial.
 */
#ifndef AIRLIFT_LAYOUT_H
#define AIRLIFT_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "airlift/error.h"
#include "airlift/port.h"

#define AL_SLOT_HEADER_AREA 512u /* >= AL_IMAGE_MAX_HEADER, a multiple of any write size */
#define AL_LAYOUT_MAX_REGIONS 16

enum al_region_role {
    AL_REGION_BOOT0 = 1,        /* immutable first stage; never written by airlift */
    AL_REGION_BOOTLOADER_A = 2, /* bootloader copy A */
    AL_REGION_BOOTLOADER_B = 3, /* bootloader copy B */
    AL_REGION_JOURNAL_A = 4,    /* install journal, first area */
    AL_REGION_JOURNAL_B = 5,    /* install journal, second area */
    AL_REGION_SLOT = 6,         /* a module slot: function + index */
    AL_REGION_STAGING = 7,      /* where downloads land */
    AL_REGION_BACKUP = 8,       /* copy of a slot while its replacement is on trial */
};

struct al_region {
    const char *name; /* for logs and tools, e.g. "system-1" */
    uint8_t role;
    uint8_t function; /* AL_REGION_SLOT and bootloader copies: the module function */
    uint8_t index;    /* AL_REGION_SLOT: module index */
    const struct al_flash *flash;
    uint32_t addr;
    uint32_t size;
    uint32_t link_address; /* address images for this slot must be linked at */
};

struct al_layout {
    const char *name;
    const struct al_region *regions;
    size_t count;
};

/*
 * Check a layout: regions inside their flash, sector aligned, not overlapping, exactly one
 * of each of journal A/B, staging, backup, bootloader A/B (bootloader copies are optional
 * as a pair), at most one slot per function/index, backup at least as large as the largest
 * slot, staging large enough for the largest slot's image. AL_ERR_BAD_LAYOUT otherwise.
 */
al_err al_layout_check(const struct al_layout *layout);

/*
 * al_layout_check that says why: on AL_ERR_BAD_LAYOUT, *reason (if not NULL) is a static
 * string naming the broken rule (e.g. "regions overlap on the same flash") and *region (if
 * not NULL) the index of the offending region, or AL_LAYOUT_NO_REGION for a whole-layout rule.
 */
#define AL_LAYOUT_NO_REGION ((size_t)-1)
al_err al_layout_check_reason(const struct al_layout *layout, const char **reason, size_t *region);

/* First region with this role, or NULL. */
const struct al_region *al_layout_find(const struct al_layout *layout, uint8_t role);

/* The slot for a module, or NULL. Bootloader modules map to bootloader copy A. */
const struct al_region *al_layout_slot(const struct al_layout *layout, uint8_t function,
                                       uint8_t index);

/* Index of region r within layout->regions. */
size_t al_layout_region_index(const struct al_layout *layout, const struct al_region *r);

/* Largest payload a slot can hold. */
static inline uint32_t al_slot_payload_max(const struct al_region *slot)
{
    return slot->size > AL_SLOT_HEADER_AREA ? slot->size - AL_SLOT_HEADER_AREA : 0;
}

#endif
