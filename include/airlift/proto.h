/*
 * airlift/proto.h - the device protocol's messages, encoded and decoded in bounded,
 * caller-owned buffers (format: docs/protocol.md). Transport-agnostic: the update agent
 * carries these payloads over CoAP; the server uses the same code to read and write them.
 *
 * Every decoder is strict: a message that is short, long, has unknown enum values or
 * non-zero reserved bytes is AL_ERR_PROTOCOL, and nothing outside the input is read.
 */
#ifndef AIRLIFT_PROTO_H
#define AIRLIFT_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "airlift/error.h"
#include "airlift/install.h"
#include "airlift/version.h"

#define AL_PROTO_VERSION 1
#define AL_PROTO_MAX_MODULES AL_MAX_MODULES
#define AL_PROTO_MAX_STEPS 8
#define AL_PROTO_MODULE_FIXED 36 /* a module entry without its version text */
#define AL_PROTO_MODULE_MAX (AL_PROTO_MODULE_FIXED + AL_VERSION_STR_MAX - 1)
#define AL_PROTO_INVENTORY_FIXED 20
#define AL_PROTO_INVENTORY_MAX \
    (AL_PROTO_INVENTORY_FIXED + (AL_REASON_MAX - 1) + AL_PROTO_MAX_MODULES * AL_PROTO_MODULE_MAX)
#define AL_PROTO_STEP_SIZE 72
#define AL_PROTO_PLAN_FIXED 9
#define AL_PROTO_PLAN_MAX (AL_PROTO_PLAN_FIXED + AL_PROTO_MAX_STEPS * AL_PROTO_STEP_SIZE)
#define AL_PROTO_STATUS_SIZE 13

/* Inventory flags. */
#define AL_INV_AFTER_INSTALL 0x01 /* first report after an install or a revert */
#define AL_INV_SLEEPY 0x02        /* the device sleeps; next_checkin_s says when it is back */
#define AL_INV_STREAMS 0x04       /* the device decodes compressed and delta transfers */
/* issue 16 (speed): the device takes the first window of its download with an update plan,
 * and a plan the server sends unasked on the session (docs/protocol.md, "Plan with its
 * first window"): AL_WIRE_WINDOW_FIRST chunks of AL_WIRE_CHUNK_MAX bytes. */
#define AL_INV_WINDOW 0x08
/* issue 16 (seed): the device reads encoding 3's old image across its slots (AL_ENC_DELTA_SLOTS). */
#define AL_INV_SLOTS 0x10
/* Encoding 3 reads at most this many slots: the step's own and the others of its function. */
#define AL_PROTO_SLOTS_MAX 4

/* What the device runs and where it stands: sent at every session start. */
struct al_inventory {
    uint8_t flags;
    uint8_t boot_state;   /* enum al_boot_state */
    uint8_t last_result;  /* enum al_result */
    uint8_t last_err;     /* al_err detail */
    uint16_t next_checkin_s; /* 0: stays reachable */
    uint32_t dl_plan_id;  /* download in progress: 0 = none */
    uint8_t dl_step;
    uint32_t dl_offset;
    uint8_t dl_result;    /* 0: under way; else enum al_result: that transfer failed */
    uint8_t dl_err;       /* al_err detail of the failure */
    char reason[AL_REASON_MAX]; /* NUL-terminated */
    uint8_t module_count;
    struct al_module_status modules[AL_PROTO_MAX_MODULES];
};

/* How the bytes of a step travel. */
enum al_encoding {
    AL_ENC_FULL = 0,       /* the image file as is */
    AL_ENC_COMPRESSED = 1, /* the image file, compressed */
    AL_ENC_DELTA = 2,      /* a patch from the image the device runs */
    AL_ENC_DELTA_SLOTS = 3, /* a patch from it followed by the other modules of its function */
};

enum al_plan_status {
    AL_PLAN_UP_TO_DATE = 0,
    AL_PLAN_UPDATE = 1, /* steps follow */
    AL_PLAN_WAIT = 2,   /* something is planned, not now: ask again after poll_s */
};

struct al_plan_step {
    uint8_t function;
    uint8_t index;
    uint8_t encoding;       /* enum al_encoding */
    uint32_t transfer_size; /* bytes on the transfer resource */
    uint8_t transfer_sha256[AL_SHA256_SIZE];
    uint8_t image_sha256[AL_SHA256_SIZE]; /* payload hash of the image it installs */
};

struct al_plan {
    uint8_t status; /* enum al_plan_status */
    uint16_t poll_s;
    uint32_t plan_id;
    uint8_t step_count;
    struct al_plan_step steps[AL_PROTO_MAX_STEPS];
};

/* Progress and outcome of a plan's step, in the spirit of LwM2M Object 5. */
enum al_update_state {
    AL_STATE_IDLE = 0,
    AL_STATE_DOWNLOADING = 1,
    AL_STATE_DOWNLOADED = 2,
    AL_STATE_VERIFYING = 3,
    AL_STATE_INSTALLING = 4, /* install requested, rebooting into it */
    AL_STATE_FAILED = 5,
};

struct al_status {
    uint8_t state;  /* enum al_update_state */
    uint8_t result; /* enum al_result */
    uint8_t err;    /* al_err detail */
    uint32_t plan_id;
    uint8_t step;
    uint32_t offset;
};

al_err al_inventory_encode(const struct al_inventory *inv, uint8_t *buf, size_t cap, size_t *len);
al_err al_inventory_decode(const uint8_t *buf, size_t len, struct al_inventory *inv);
al_err al_plan_encode(const struct al_plan *plan, uint8_t *buf, size_t cap, size_t *len);
al_err al_plan_decode(const uint8_t *buf, size_t len, struct al_plan *plan);
al_err al_status_encode(const struct al_status *st, uint8_t *buf, size_t cap, size_t *len);
al_err al_status_decode(const uint8_t *buf, size_t len, struct al_status *st);

/* The step a device takes first under this plan: the first whose image it does not run in
 * the step's slot (by the inventory's payload hashes); plan->step_count if it runs them all. */
uint8_t al_plan_first_step(const struct al_plan *plan, const struct al_inventory *inv);
/* issue 16 (speed): whether the first window of step *step comes with this plan: the
 * inventory asked for it (AL_INV_WINDOW), the plan is an update, the device is not on trial
 * (it confirms first), and it has no download of that step under way (it resumes instead).
 * Server and device both decide by this. */
bool al_plan_window_with(const struct al_plan *plan, const struct al_inventory *inv, uint8_t *step);

/* Fill an inventory from the install engine: modules, boot state, last result, download. */
al_err al_inventory_collect(struct al_device *dev, uint8_t flags, uint16_t next_checkin_s,
                            struct al_inventory *inv);

#endif
