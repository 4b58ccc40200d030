/*
 * airlift/agent.h - the update agent: the device side of the protocol (docs/protocol.md),
 * transport-agnostic, with its progress persisted in the install journal so that a power
 * cut, a lost link or a sleep resumes a download at the byte the device already holds.
 *
 * One call to al_agent_session() is one conversation with the server:
 *   1. report the inventory (what runs, boot state, download in progress);
 *   2. if the running image is on trial and the server heard the report, confirm it and
 *      report again, so the server learns "confirmed" from the device itself;
 *   3. follow the plan: download the next step into staging (resuming if it can), verify
 *      it completely, request its install; the caller then resets the device.
 */
#ifndef AIRLIFT_AGENT_H
#define AIRLIFT_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "airlift/delta.h"
#include "airlift/install.h"
#include "airlift/proto.h"
#include "airlift/wire.h"

#define AL_AGENT_CHUNK AL_WIRE_CHUNK_MAX /* bytes per fetch at most */
#define AL_AGENT_SAVE_EVERY 8  /* persist the download offset every N chunks */

enum al_method { AL_METHOD_GET = 1, AL_METHOD_POST = 2 };

/*
 * The transport port. exchange: one request and its response (CoAP: a confirmable request;
 * code is the response code as class * 32 + detail, e.g. 2.04 = 68); with resp NULL, a
 * message that wants no answer, sent once and not waited for (CoAP: non-confirmable, with
 * No-Response), which is how status reports travel: the next inventory is the truth.
 * fetch: the next piece of transfer `name` ("<plan>/<step>", `size` bytes in all) starting
 * at `offset`: 1..cap bytes, a multiple of 16 unless it ends the transfer. The agent asks
 * in order up to `until` (<= size), so a transport may ask the server for more ahead, but
 * not past `until` (CoAP: a window of chunks, or Block2); then the agent may go on
 * elsewhere (resuming a delta stream, it reads the stream's first bytes, then jumps).
 * Both return AL_OK, AL_ERR_TRANSPORT, AL_ERR_TIMEOUT or AL_ERR_PROTOCOL (the server
 * refused: no such transfer).
 * connect (optional, NULL: none): set the session up now and return AL_OK only if the
 * server has authenticated itself (CoAP: the DTLS handshake with the device's key
 * completed). A new image on trial then counts as having reached the server and confirms
 * before its first inventory, which saves that inventory's round trip (docs/protocol.md,
 * "Session"). Any other answer: the agent confirms after the server answers, as before.
 */
struct al_transport {
    void *ctx;
    al_err (*exchange)(void *ctx, uint8_t method, const char *path, const uint8_t *req,
                       size_t req_len, uint8_t *resp, size_t resp_cap, size_t *resp_len,
                       uint8_t *code);
    al_err (*fetch)(void *ctx, const char *name, uint32_t offset, uint32_t size, uint32_t until,
                    uint8_t *buf, size_t cap, size_t *got);
    al_err (*connect)(void *ctx);
};

#define AL_COAP_CHANGED 68 /* 2.04 */
#define AL_COAP_CONTENT 69 /* 2.05 */
#define AL_COAP_BAD_REQUEST 128 /* 4.00 */
#define AL_COAP_FORBIDDEN 131 /* 4.03: the server removed this device (docs/protocol.md) */

/* A removed device backs off: the first wait after a "removed" answer, and the longest. */
#define AL_AGENT_REMOVED_FIRST_S 60u
#define AL_AGENT_REMOVED_MAX_S 86400u

/*
 * Seconds to wait before the next session after the n-th "removed" answer in a row (n >= 1;
 * al_agent_session returned AL_ERR_REMOVED): AL_AGENT_REMOVED_FIRST_S, doubling, at most
 * AL_AGENT_REMOVED_MAX_S (docs/protocol.md, "Removed devices").
 */
uint32_t al_agent_removed_backoff_s(unsigned n);

/* What a session did. */
struct al_session_result {
    bool confirmed;      /* the trial image was confirmed */
    bool up_to_date;
    bool reset_needed;   /* an install was requested: reset to run it */
    uint8_t plan_status; /* enum al_plan_status of the server's answer */
    uint32_t bytes_fetched; /* payload bytes downloaded in this session */
    uint8_t failed_result;  /* enum al_result if a step failed, else 0 */
};

/* Caller-owned agent state. */
struct al_agent {
    struct al_device *dev;
    const struct al_transport *transport;
    uint8_t flags;           /* AL_INV_* for the next inventory (AFTER_INSTALL is set by the caller after a boot that installed or reverted; WINDOW only with a transport that takes a plan's first window and plans sent unasked, as ports/posix's does: docs/protocol.md; al_agent_init sets SLOTS) */
    uint16_t next_checkin_s; /* for sleepy devices */
    bool hold_confirm;       /* firmware that never confirms (tests, simulated bad firmware) */
    struct al_inventory inv; /* last inventory sent */
    struct al_plan plan;     /* last plan received */
    uint8_t msg[AL_PROTO_INVENTORY_MAX];
    uint8_t chunk[AL_AGENT_CHUNK];
    /* A compressed or delta step: the decoder; the slots its old image is read from, one
     * after the other (the step's own, then for AL_ENC_DELTA_SLOTS the others of its
     * function in inventory order) and their sizes; whether staging is erased. */
    struct al_delta stream;
    uint8_t base_function, base_count;
    uint8_t base_index[AL_PROTO_SLOTS_MAX];
    uint32_t base_size[AL_PROTO_SLOTS_MAX];
    bool stage_begun;
};

void al_agent_init(struct al_agent *a, struct al_device *dev, const struct al_transport *t);

/* One conversation with the server; see the top of this file. */
al_err al_agent_session(struct al_agent *a, struct al_session_result *out);

#endif
