/*
 * rollouts.h - releases going out to fleets, wave by wave (docs/fleets.md).
 *
 * A rollout's whole state is in the store: which devices it holds, in which wave, and what
 * became of each one's update. The API's side (rollouts.c) creates rollouts and pauses,
 * resumes or cancels them; a background thread (rollout_engine.c) moves running ones along:
 * it enrolls the target's devices (those that join later too), learns how their updates
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

#include "store.h"
#include "updates.h"

struct ald_rollouts;

/* Start the rollout thread (tick_ms between passes; 0: 500). Returns 0, or -1. */
int ald_rollouts_start(struct ald_rollouts **out, struct ald_store *st, struct ald_updates *u,
                       unsigned tick_ms);
void ald_rollouts_stop(struct ald_rollouts *r);

/* One pass of the engine (the thread's work; tests may call it directly). */
void ald_rollouts_tick(struct ald_rollouts *r);

enum ald_rollout_rc {
    ALD_ROLLOUT_OK = 0,
    ALD_ROLLOUT_NOT_FOUND = 1, /* no such rollout, product or release: msg says which */
    ALD_ROLLOUT_BAD_REQUEST = 2, /* msg says what */
    ALD_ROLLOUT_CONFLICT = 3,  /* the rollout's state does not allow it */
    ALD_ROLLOUT_ERROR = 4,
};

/*
 * Create a rollout of `rec->release_id` (other fields of rec: target, waves, thresholds,
 * limits; validated here) in state running. Fills rec.
 */
enum ald_rollout_rc ald_rollout_create(struct ald_rollouts *r, struct ald_rollout_rec *rec,
                                       char *msg, size_t msglen);

/* "pause", "resume" or "cancel" a rollout. Cancel also cancels its updates still under way. */
enum ald_rollout_rc ald_rollout_act(struct ald_rollouts *r, int64_t id, const char *action,
                                    struct ald_rollout_rec *out, char *msg, size_t msglen);

/* The rollout as JSON: its fields, the release, and per wave the devices' states counted. */
json_t *ald_rollout_json(struct ald_rollouts *r, const struct ald_rollout_rec *rec);

#endif
