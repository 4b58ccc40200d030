/*
 * airlift/install.h - staging, the install transaction, trial boots, confirm and revert.
 *
 * Lifecycle of an update of one module (docs/install-engine.md has the state tables):
 *
 *   agent:       al_stage_begin -> al_stage_write... -> al_stage_finish -> al_install_request
 *   (reset)
 *   bootloader:  al_boot: backs up the slot, copies staging into it, boots it on trial
 *   firmware:    al_confirm once it is happy (e.g. it reached the server)
 *   bootloader:  after max_trial_boots unconfirmed boots, al_boot restores the backup
 *
 * Every step is recorded in a power-safe journal before and after it runs; a power cut at any
 * flash operation leaves a device whose next al_boot finishes or undoes the step and boots a
 * complete verified image. Bootloader images are written to the inactive bootloader copy and
 * selected by the immutable first stage (boot0), so they are as safe as any other module.
 *
 * All state lives in a caller-owned struct al_device; no heap, no globals.
 */
#ifndef AIRLIFT_INSTALL_H
#define AIRLIFT_INSTALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "airlift/error.h"
#include "airlift/image.h"
#include "airlift/layout.h"
#include "airlift/port.h"

#define AL_DEFAULT_MAX_TRIAL_BOOTS 3
#define AL_MAX_MODULES 12          /* slots + bootloader tracked in the journal */
#define AL_JOURNAL_RECORD_SIZE 256 /* bytes per journal record on flash */
#define AL_REASON_MAX 48

/* Boot state of the device as a whole, reported in the inventory. */
enum al_boot_state {
    AL_BOOT_CONFIRMED = 0, /* everything installed is confirmed */
    AL_BOOT_TRIAL = 1,     /* a new module runs on trial, not yet confirmed */
    AL_BOOT_REVERTED = 2,  /* the last install was undone; last_result says why */
};

/* What al_boot decided to run. */
enum al_boot_target {
    AL_RUN_APPLICATION = 0, /* system and application verified, dependencies met */
    AL_RUN_SAFE_MODE = 1,   /* system runs, application missing or its dependencies unmet */
    AL_RUN_NOTHING = 2,     /* no verified system firmware at all (unprovisioned device) */
};

/* Outcome of the last install, in the spirit of LwM2M Object 5 "Update Result". */
enum al_result {
    AL_RESULT_NONE = 0,
    AL_RESULT_SUCCESS = 1,           /* installed and confirmed */
    AL_RESULT_NO_SPACE = 2,          /* does not fit */
    AL_RESULT_OUT_OF_RAM = 3,
    AL_RESULT_CONNECTION_LOST = 4,
    AL_RESULT_INTEGRITY_FAILURE = 5, /* hash or signature failed */
    AL_RESULT_UNSUPPORTED = 6,       /* wrong platform, unknown format */
    AL_RESULT_UPDATE_FAILED = 8,     /* install could not complete */
    AL_RESULT_REVERTED = 9,          /* booted on trial, never confirmed, reverted */
    AL_RESULT_CANCELLED = 10,
    AL_RESULT_DEFERRED = 11,
    AL_RESULT_DEPENDENCY = 12,       /* dependencies unmet */
    AL_RESULT_ROLLBACK = 13,         /* security counter too low */
};

/* One installed module, as reported in the inventory. */
struct al_module_status {
    uint8_t function;
    uint8_t index;
    bool present; /* a verified image is in the slot */
    bool on_trial;
    struct al_version version;
    uint8_t payload_sha256[AL_SHA256_SIZE];
    uint32_t security_counter; /* of the image */
    uint32_t size;             /* payload size */
};

/* The update agent's download record, kept in the journal (the engine only stores it). */
struct al_download {
    uint32_t plan_id;     /* 0: none */
    uint8_t step;
    uint8_t result;       /* 0: under way; else enum al_result: this transfer failed */
    uint8_t err;          /* al_err detail of that failure */
    uint32_t offset;      /* transfer bytes safely used: resume here (a stream: its checkpoint) */
    uint32_t out_offset;  /* a compressed or delta stream: output offset of the checkpoint */
    uint32_t written;     /* a compressed or delta stream: staging bytes written */
    uint8_t sha256[AL_SHA256_SIZE]; /* of the transfer */
};

/* Persistent state kept in the journal (the engine owns it; read it via al_status). */
struct al_journal_state {
    uint32_t seq;
    uint8_t bootloader_active; /* 0 = copy A, 1 = copy B */
    uint8_t txn_kind;          /* internal: enum in install_priv.h */
    uint8_t txn_phase;
    uint8_t txn_region;        /* region index the transaction targets */
    uint8_t txn_had_backup;
    uint8_t trial_boots;
    uint8_t last_reset_reason;
    uint8_t last_result;         /* enum al_result */
    uint8_t last_result_region;
    uint8_t last_err;            /* al_err detail of last_result */
    char last_reason[AL_REASON_MAX]; /* human reason of the last revert/failure */
    uint8_t staged_sha256[AL_SHA256_SIZE];   /* payload hash of the image being installed */
    struct al_version last_result_version;   /* version involved in last_result */
    uint32_t counters[AL_MAX_MODULES]; /* anti-rollback floor per region index */
    uint32_t boot_count;
    /* Download progress of the update agent (docs/protocol.md); opaque to the engine. */
    struct al_download dl;
};

struct al_device_config {
    const struct al_layout *layout;
    const struct al_crypto *crypto;
    const struct al_keyring *keys;
    uint16_t platform;
    uint8_t max_trial_boots; /* 0 means AL_DEFAULT_MAX_TRIAL_BOOTS */
    uint8_t *scratch;        /* copy buffer, at least 256 bytes; 1 KiB or more is faster */
    size_t scratch_len;
};

/* The engine's context; caller-owned, opaque in practice. */
struct al_device {
    struct al_device_config cfg;
    struct al_journal_state state;
    uint8_t journal_area; /* 0/1: area holding the newest record */
    uint32_t journal_next; /* record slot to write next in that area, or UINT32_MAX if full */
    uint32_t stage_size;   /* bytes the staging download expects */
    bool open;
    char refusal[AL_REASON_MAX]; /* why the last staged image was refused, if it says more */
};

/* Result of al_boot. */
struct al_boot_info {
    enum al_boot_target target;
    enum al_boot_state state;
    uint8_t bootloader_copy; /* which copy boot0 chose */
    bool installed;          /* this boot finished an install (new image on trial) */
    bool reverted;           /* this boot reverted an install */
    char reason[AL_REASON_MAX]; /* for safe mode: which dependency is unmet */
};

/* Load the journal and validate the layout. Does not write flash. */
al_err al_device_open(struct al_device *dev, const struct al_device_config *cfg);

/*
 * Power-on path: boot0 picks a bootloader copy, then the bootloader finishes or undoes any
 * transaction in progress, counts trial boots and reverts past the limit, verifies every slot
 * and decides what to run. Writes flash; safe to cut at any point and call again.
 */
al_err al_boot(struct al_device *dev, enum al_reset_reason why, struct al_boot_info *info);

/* Start a download of total_size bytes into staging: erases what it needs. */
al_err al_stage_begin(struct al_device *dev, uint32_t total_size);
/* Write bytes of the image file at offset (sequential or resumed at an earlier offset). */
al_err al_stage_write(struct al_device *dev, uint32_t offset, const void *data, size_t len);
/*
 * Verify the staged image completely: structure, signature, platform, payload hash, fit in its
 * slot, link address, security counter and dependencies against what is installed.
 */
al_err al_stage_verify(struct al_device *dev, struct al_image_header *out);
/* Verify staging again and record the install in the journal; it happens at next al_boot. */
al_err al_install_request(struct al_device *dev);

/* The running trial image is good: make it permanent (and raise the anti-rollback floor). */
al_err al_confirm(struct al_device *dev);

/* Inventory of the modules (up to cap), and the boot state. */
al_err al_modules(struct al_device *dev, struct al_module_status *out, size_t cap, size_t *count);
enum al_boot_state al_boot_state(const struct al_device *dev);

/* Persist the agent's download record (opaque to the engine) in the journal; NULL clears it. */
al_err al_save_download(struct al_device *dev, const struct al_download *dl);

/* Read bytes [off, off + len) of the payload of the verified image running in the slot of
 * (function, index) (the bootloader: its active copy); *size gets the payload size. A
 * module with no verified image: AL_ERR_NO_IMAGE. len 0 only fetches the size. */
al_err al_running_read(struct al_device *dev, uint8_t function, uint8_t index, uint32_t off,
                       void *buf, size_t len, uint32_t *size);
/* Read back bytes of staging (what a download wrote). */
al_err al_stage_read(struct al_device *dev, uint32_t off, void *buf, size_t len);

/* Human name of an al_result, e.g. "reverted". */
const char *al_result_name(uint8_t result);

#endif
