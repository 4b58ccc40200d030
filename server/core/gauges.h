/*
 * gauges.h - the fleet gauges of GET /metrics (issue 15, docs/operations.md): numbers that
 * live in the database (devices, updates and rollouts by state), read with count queries.
 */
#ifndef AIRLIFTD_GAUGES_H
#define AIRLIFTD_GAUGES_H

#include <stdint.h>

#include "result.h"
#include "store.h"

#define ALD_GAUGE_STATES 16 /* more states than updates or rollouts have */

struct ald_state_count {
    char state[ALD_UPDATE_STATE_MAX + 1];
    uint64_t n;
};

struct ald_gauges {
    uint64_t devices;        /* registered devices (removed ones not counted) */
    uint64_t devices_online; /* heard from within ALD_ONLINE_WINDOW_MS (updates.h) */
    struct ald_state_count updates[ALD_GAUGE_STATES];  /* every update ever, by state */
    size_t update_states;
    struct ald_state_count rollouts[ALD_GAUGE_STATES]; /* every rollout, by state */
    size_t rollout_states;
};

/*
 * Fill out with four count queries (devices, online devices, updates by state, rollouts by
 * state), each O(rows) inside the database and O(states) here. 503 "unavailable" if the
 * store fails; out is then zeroed.
 */
struct ald_result ald_gauges_read(struct ald_store *st, int64_t now_ms, struct ald_gauges *out);

#endif
