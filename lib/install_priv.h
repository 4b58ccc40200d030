/*
 * install_priv.h - internals shared by the install engine's files (flashio.c, journal.c,
 * install.c, boot.c). Not part of the public API.
 */
#ifndef AL_INSTALL_PRIV_H
#define AL_INSTALL_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "airlift/image.h"
#include "airlift/install.h"
#include "airlift/layout.h"
#include "crc32.h"

/* Transaction kinds and phases, as stored in the journal (docs/install-engine.md). */
enum al_txn_kind {
    AL_TXN_NONE = 0,
    AL_TXN_INSTALL = 1,    /* a module slot: backup, copy, trial, maybe restore */
    AL_TXN_BOOTLOADER = 2, /* the inactive bootloader copy: copy, trial, maybe flip back */
};

enum al_txn_phase {
    AL_PHASE_IDLE = 0,
    AL_PHASE_REQUESTED = 1, /* staging verified and recorded; nothing written yet */
    AL_PHASE_BACKED_UP = 2, /* slot copied to backup (or slot was empty) */
    AL_PHASE_TRIAL = 3,     /* new image in place, booting on trial */
    AL_PHASE_REVERTING = 4, /* restoring the backup into the slot */
};

/* --- flashio.c: region-relative flash access --- */
al_err al_region_read(const struct al_region *r, uint32_t off, void *buf, size_t len);
al_err al_region_program(const struct al_region *r, uint32_t off, const void *buf, size_t len);
/* Erase every sector of r that overlaps [0, len). */
al_err al_region_erase(const struct al_region *r, uint32_t len);
/* Copy a slot-format image (payload_size bytes at 0, header area of `slot`) from src to
 * dst, erasing what it overwrites first. Used for backup and restore. */
al_err al_slot_copy(struct al_device *dev, const struct al_region *src,
                    const struct al_region *dst, const struct al_region *slot,
                    uint32_t payload_size);

/*
 * Verify a slot-format image in region r (payload at 0, header in the last
 * AL_SLOT_HEADER_AREA bytes) as the module of `expect` would be (function/index/link address
 * of that slot). expect may be r itself, or the slot a backup copy belongs to.
 */
al_err al_slot_verify(struct al_device *dev, const struct al_region *r,
                      const struct al_region *expect, struct al_image_header *out);
/* Verify the file-format image in staging; also checks it fits and targets a known slot. */
al_err al_staging_verify(struct al_device *dev, struct al_image_header *out,
                         const struct al_region **target);
/* Copy the image file in staging into slot format in dst (erasing dst first). */
al_err al_staging_install(struct al_device *dev, const struct al_image_header *h,
                          const struct al_region *dst);

/* --- journal.c --- */
al_err al_journal_load(struct al_device *dev);
/* Append dev->state as the newest record (seq + 1). Returns only once it is on flash. */
al_err al_journal_commit(struct al_device *dev);

/* --- install.c --- */
const struct al_region *al_bootloader_copy(const struct al_device *dev, uint8_t copy);
/* The region holding the floor (anti-rollback counter) for a slot or bootloader copy. */
size_t al_counter_index(const struct al_device *dev, const struct al_region *r);
void al_set_reason(struct al_device *dev, const char *a, const char *b);
/* One installed module, as the dependency checks see it. */
struct al_installed {
    uint8_t function;
    uint8_t index;
    bool present;      /* verified image in place */
    bool is_candidate; /* stands for the image about to be installed */
    struct al_version version;
    const struct al_region *at;
};
size_t al_collect_modules(struct al_device *dev, const struct al_image_header *candidate,
                          struct al_installed *mods);
al_err al_dependencies_met(const struct al_installed *mods, size_t n,
                           const struct al_image_header *candidate, char *why, size_t why_len);
/* Would every dependency be met with `candidate` (may be NULL) installed? */
al_err al_check_dependencies(struct al_device *dev, const struct al_image_header *candidate,
                             char *why, size_t why_len);

#define AL_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
