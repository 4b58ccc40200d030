/*
 * rollouts.h - releases going out to fleets, wave by wave (docs/fleets.md).
 *
 * A rollout's whole state is in the store: which devices it holds, in which wave, and what
 * became of each one's update. The API's side (rollouts.c) creates rollouts and pauses,
 * resumes or cancels them; a background thread (rollout_engine.c) moves running ones along:
 * it enrolls the target's devices (one that joins later in its current rollout only: the
 * newest live rollout covering it, docs/fleets.md), learns how their updates
 * ended, pauses the rollout when failures pass its error threshold, and starts updates for
 * the next devices when the waves before theirs met the success threshold, within the rate
 * limit and each device's data budget. Its work follows the event log, so finished rollouts
 * and a quiet fleet cost nothing. Every pass can be repeated after a crash: nothing is lost
 * or started twice.
 */
#ifndef AIRLIFTD_ROLLOUTS_H
#define AIRLIFTD_ROLLOUTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "result.h"
#include "store.h"
#include "updates.h"

struct ald_rollouts;

/* Start the rollout thread (tick_ms between passes; 0: 500). Returns 0, or -1. */
int ald_rollouts_start(struct ald_rollouts **out, struct ald_store *st, struct ald_updates *u,
                       unsigned tick_ms);
void ald_rollouts_stop(struct ald_rollouts *r);

/* One pass of the engine (the thread's work; tests may call it directly). */
void ald_rollouts_tick(struct ald_rollouts *r);

/*
 * Create a rollout of release `version` of `product` in state running. The other fields of
 * rec (target, waves, thresholds, limits) are validated here; on success rec is the new
 * rollout, and it has superseded the older running or paused rollouts of the product as
 * docs/fleets.md says. A target group or channel that no device of the product has is
 * refused unless allow_empty. Errors: NOT_FOUND (no such product, or it has no such
 * release: the message names which), BAD_REQUEST (names what is wrong), UNPROCESSABLE
 * "empty_target" (names the group or channel and lists the existing ones), INTERNAL.
 */
struct ald_result ald_rollout_create(struct ald_rollouts *r, const char *product,
                                     const char *version, struct ald_rollout_rec *rec,
                                     bool allow_empty);

/*
 * What ald_rollout_create would do, without starting or storing anything: *out is the
 * preview of docs/fleets.md ("Previews": per-wave device counts, and for the devices
 * [offset, offset + limit) in enrolment order what each needs and the estimated bytes).
 * Errors as ald_rollout_create.
 */
struct ald_result ald_rollout_preview(struct ald_rollouts *r, const char *product,
                                      const char *version, struct ald_rollout_rec *rec,
                                      bool allow_empty, size_t offset, size_t limit,
                                      json_t **out);

/*
 * "pause", "resume" or "cancel" a rollout; *out is the rollout afterwards. Cancel also
 * cancels its updates still under way. Errors: NOT_FOUND (no such rollout, or an unknown
 * action), CONFLICT "conflict" (its state does not allow it).
 */
struct ald_result ald_rollout_act(struct ald_rollouts *r, int64_t id, const char *action,
                                  struct ald_rollout_rec *out);

/* ---- queries of the rollouts service (rollouts_api.c): they need only the store ---- */

/* Rollout `id` into *out. Errors: NOT_FOUND, INTERNAL. */
struct ald_result ald_rollout_get(struct ald_store *st, int64_t id, struct ald_rollout_rec *out);

/* The ids of the newest ALD_ROLLOUT_LIST_MAX rollouts, in the store's order, into ids[];
 * *n is how many. Errors: INTERNAL. */
#define ALD_ROLLOUT_LIST_MAX 1024
struct ald_result ald_rollout_ids(struct ald_store *st, int64_t ids[ALD_ROLLOUT_LIST_MAX],
                                  size_t *n);

/* Call each(ctx, device) for every device of rollout `id`.
 * Errors: NOT_FOUND "no rollout 'id'", INTERNAL. */
struct ald_result ald_rollout_devices(struct ald_store *st, int64_t id,
                                      ald_rollout_device_cb each, void *ctx);

/*
 * Where device `device_id` stands in the newest rollout that holds it (docs/fleets.md), as
 * JSON {"id", "release", "state", "wave" (from 1), "update_id"}: its state there says whether it is
 * pending, updating, done, pinned, flashed by hand (hand_flashed) or superseded. JSON null
 * when no rollout holds it (or the store cannot be read).
 */
json_t *ald_device_rollout_json(struct ald_store *st, int64_t device_id);

/* The rollout as JSON: its fields, the release, and per wave the devices' states counted. */
json_t *ald_rollout_json(struct ald_rollouts *r, const struct ald_rollout_rec *rec);

#endif
