/*
 * updates.h - airliftd's update service: what each device should run, the plans that get it
 * there, and the state of every update as the device's own reports move it along.
 *
 * It is the brain behind both doors: the CoAP endpoint calls it through struct
 * ald_device_ops (inventory -> plan, status, transfer, wire bytes), the HTTP API to queue,
 * preview and cancel updates. One mutex orders every change to an update, so a device report
 * and a user's cancel never interleave. State machine and wire accounting: docs/protocol.md.
 */
#ifndef AIRLIFTD_UPDATES_H
#define AIRLIFTD_UPDATES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "device_ops.h"
#include "result.h"
#include "store.h"

#define ALD_ONLINE_WINDOW_MS 60000 /* a device heard from this recently is "online" */

struct ald_updates;

/* store and data_dir must outlive the service. Returns 0, or -1 (out of memory). */
int ald_updates_open(struct ald_updates **out, struct ald_store *st, const char *data_dir);
/* Stops the worker pool (if started) first: a job being made finishes. NULL ok. */
void ald_updates_close(struct ald_updates *u);

/*
 * Make transfers (patches, compressed images) on a pool of `threads` worker threads with a
 * queue of `queue` jobs (workers.h), instead of on the thread that asks. Without it, they
 * are made on the asking thread (tests). Call once, before the service is used. 0, or -1.
 */
int ald_updates_start_workers(struct ald_updates *u, unsigned threads, size_t queue);

/* The callbacks the CoAP endpoint calls; ctx is u. */
struct ald_device_ops ald_updates_device_ops(struct ald_updates *u);

/*
 * Make `device` run the images named by sha256[0..n): image ids, or payload hashes exactly
 * one held image has (images.h, ald_image_resolve; the update keeps the ids; CONFLICT
 * "ambiguous_image" when several images have one). Plans against the last
 * inventory; supersedes the device's active update unless dry_run (what a rollout does;
 * a user's request goes through ald_updates_queue_opts). rollout_id: the rollout
 * that starts it (0: a user). On success *out is the new update (or what it would be, dry
 * run), or, with out->state "up_to_date", nothing was queued: the device runs all of it.
 * Errors: NOT_FOUND (device), BAD_REQUEST (e.g. two images for one module), UNPROCESSABLE
 * "unknown_image" (detail: the hash not held) or "plan_error" (detail: the planner's reason
 * name), INTERNAL.
 */
struct ald_result ald_updates_queue(struct ald_updates *u, const char *device,
                                    const char *const *sha256, size_t n, bool dry_run,
                                    struct ald_update_rec *out, int64_t rollout_id);

/* ---- issue 12: concurrent actions, removal ---- */

/* How an update is queued (ald_updates_queue_opts). */
struct ald_queue_opts {
    bool dry_run;       /* plan it, store nothing */
    bool replace;       /* cancel the device's active update (event update.cancelled with
                         * "replaced": true and "replaced_by"); false: CONFLICT if one is */
    const char *by;     /* the token name that queues it (NULL: none); kept as queued_by */
    int64_t rollout_id; /* the rollout that queues it; 0: a user */
};

/*
 * ald_updates_queue with options. A device with an active update is busy: unless
 * opts->replace, the answer is CONFLICT "active_update" (also for a dry run, and also when
 * the device runs the images already: what is under way counts as much as what runs) and
 * *active (if not NULL) is that update. With replace, the active update is cancelled and
 * the new one queued; if the device already runs the images, a user's request still
 * cancels the active one and answers "up_to_date". Other errors as ald_updates_queue.
 */
struct ald_result ald_updates_queue_opts(struct ald_updates *u, const char *device,
                                         const char *const *sha256, size_t n,
                                         const struct ald_queue_opts *opts,
                                         struct ald_update_rec *out,
                                         struct ald_update_rec *active);

/* Who started an update, for people: "rollout N", the token name, or "a user". */
void ald_update_origin(const struct ald_update_rec *rec, char *out, size_t cap);

/*
 * Remove device `name` on behalf of token `by` (ald_device_delete). With an active update:
 * CONFLICT "active_update" (*active, if not NULL, is that update) unless force, which
 * cancels it first (event update.cancelled with "removed": true). Errors: NOT_FOUND,
 * CONFLICT, INTERNAL.
 */
struct ald_result ald_updates_remove_device(struct ald_updates *u, const char *name, bool force,
                                            const char *by, struct ald_update_rec *active);

/* Cancel update `id`; *out is the update afterwards (also on CONFLICT: its final state).
 * Errors: NOT_FOUND, CONFLICT "final" (it already ended), INTERNAL. */
struct ald_result ald_updates_cancel(struct ald_updates *u, int64_t id,
                                     struct ald_update_rec *out);

/* ---- issue 14 (ddi): updates of linux devices, moved by their DDI feedback ---- */

/*
 * Move active update `update_id` (a linux device's, docs/ddi.md) to `state` ("downloading",
 * "installing", "succeeded", "failed", "cancelled"; the same state renews it) with `why`
 * (NULL: kept) and the bytes the device holds (`offset`, kept if smaller), saving it with
 * its event (update.<state>) as every other update. *out is the update afterwards.
 * Errors: NOT_FOUND, CONFLICT "final" (it already ended), INTERNAL, UNAVAILABLE.
 */
struct ald_result ald_updates_ddi_report(struct ald_updates *u, int64_t update_id,
                                         const char *state, const char *why, uint64_t offset,
                                         struct ald_update_rec *out);

/* ---- queries of the update service (updates_api.c): they need only the store ---- */

/* Update `id` into *out. Errors: NOT_FOUND, INTERNAL. */
struct ald_result ald_update_get(struct ald_store *st, int64_t id, struct ald_update_rec *out);

/* Call each(ctx, update) for the newest `limit` updates of device `name`, newest first (the
 * store is locked meanwhile). Errors: NOT_FOUND (device), INTERNAL. */
struct ald_result ald_update_list(struct ald_store *st, const char *name, size_t limit,
                                  ald_update_cb each, void *ctx);

/* ald_update_json of rec with its device's liveness (if the device still exists). */
json_t *ald_update_json_live(struct ald_store *st, const struct ald_update_rec *rec);

/* Is this update state one of the final ones? */
bool ald_update_state_final(const char *state);

/* The API's JSON objects (docs/api.md): an update, and the live fields of a device. */
json_t *ald_update_json(const struct ald_update_rec *rec, const struct ald_device_rec *dev);
/* Adds online, next_checkin_at, bytes_sent, bytes_received to a device object. */
void ald_device_live_json(const struct ald_device_rec *dev, json_t *obj);
/* {"id":7,"state":"downloading"} for the device's active update, or JSON null. */
json_t *ald_device_update_json(struct ald_store *st, int64_t device_id);

/* An RFC 3339 time as a JSON string, or JSON null for 0 ("never"). */
json_t *ald_time_json(int64_t ms);

/* A decoded inventory as the store keeps it (a device's "inventory", docs/api.md); its
 * reason must be UTF-8 (ald_utf8_scrub). NULL only if out of memory or if it is not. */
struct al_inventory;
json_t *ald_inventory_json(const struct al_inventory *inv);

/* Wire bytes a transfer of `size` bytes should cost (docs/protocol.md, "Cost"). */
uint64_t ald_wire_estimate(uint64_t size);

#endif
