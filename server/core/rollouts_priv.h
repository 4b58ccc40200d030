/*
 * rollouts_priv.h - what the rollout service (rollouts.c: the API's side) and the rollout
 * engine (rollout_engine.c: the background pass) share. Private to those two files.
 */
#ifndef AIRLIFTD_ROLLOUTS_PRIV_H
#define AIRLIFTD_ROLLOUTS_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "rollouts.h"

#define ALD_ROLLOUT_MAX_WAVES 10

struct ald_engine; /* rollout_engine.c: what one node knows of the rollouts it moves */

struct ald_rollouts {
    struct ald_store *st;
    struct ald_updates *u;
    pthread_mutex_t lock; /* one pass or one user action at a time, in this process */
    pthread_t thread;
    bool started;
    atomic_bool stop;
    unsigned tick_ms;
    struct ald_engine *engine;
};

/* A growable list of fixed-size records, filled from store listings. */
struct ald_rlist {
    void *items;
    size_t n, cap, size;
};

static inline int ald_rlist_append(struct ald_rlist *l, const void *item)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        void *p = realloc(l->items, cap * l->size);
        if (!p)
            return -1;
        l->items = p;
        l->cap = cap;
    }
    memcpy((char *)l->items + l->n++ * l->size, item, l->size);
    return 0;
}

/* Append an event about a rollout; takes ownership of data. */
void ald_rollout_emit(struct ald_rollouts *r, const char *type, const char *device,
                      int64_t update_id, int64_t rollout_id, json_t *data);

/* Store a rollout device in `state` (why: the reason, or NULL) and, if its state changed,
 * append a rollout.device event, in one transaction. */
void ald_rollout_save_device(struct ald_rollouts *r, const struct ald_rollout_rec *ro,
                             struct ald_rollout_device_rec *rd, const char *state,
                             const char *why);

/* Move a rollout to `state` with a reason and, if it changed, append rollout.<state>.
 * Returns false if the store refused (a newer revision was written meanwhile: re-read). */
bool ald_rollout_set_state(struct ald_rollouts *r, struct ald_rollout_rec *ro,
                           const char *state, const char *why);

/* ---- the rules of docs/fleets.md ("One desired release per device"), shared by the
 * service (creating, superseding, previewing) and the engine (enrolling, starting) ---- */

/* What enrolment needs to know of a device. */
struct ald_member {
    int64_t id;
    char name[ALD_NAME_MAX + 1];
    int64_t product_id;
    bool dev;
    char groups_json[ALD_GROUPS_JSON_MAX];
    char channel[ALD_NAME_MAX + 1];
    char pinned[ALD_VERSION_MAX + 1];
};

void ald_member_of_summary(const struct ald_device_summary *d, struct ald_member *m);
void ald_member_of_device(const struct ald_device_rec *d, struct ald_member *m);

/* Does a rollout of rel with this target cover m: m is a device of rel's product, not a
 * development device, on one of the target's channels (default: the release's), in one of
 * its groups (default: any)? A pin does not matter here (see ald_member_pinned_away). */
bool ald_rollout_covers(const json_t *target, const struct ald_release_rec *rel,
                        const struct ald_member *m);

/* Is m pinned to a version other than rel's (so a rollout of rel leaves it alone)? */
bool ald_member_pinned_away(const struct ald_member *m, const struct ald_release_rec *rel);

/* A live rollout is one whose release is, for the devices it covers, the desired one:
 * running, paused or completed (not cancelled, not superseded). */
bool ald_rollout_state_live(const char *state);

/* A live rollout with its release and target, for coverage tests. */
struct ald_live {
    struct ald_rollout_rec ro;
    struct ald_release_rec rel;
    json_t *target;
};
struct ald_lives {
    struct ald_live *items;
    size_t n;
};

/* The live rollouts of product `product_id` with an id above `after_id`, newest first,
 * into *out (free with ald_lives_free). Returns false on a store error (*out empty). */
bool ald_lives_load(struct ald_store *st, int64_t product_id, int64_t after_id,
                    struct ald_lives *out);
void ald_lives_free(struct ald_lives *l);
/* The newest of l covering m, or NULL. */
const struct ald_live *ald_lives_covering(const struct ald_lives *l, const struct ald_member *m);

/* A rollout device the rollout does not move (docs/fleets.md): "pinned" (to another
 * version), "hand_flashed" (a user flashed it while the rollout ran), "superseded" (a newer
 * rollout took it over before it started). Final; not counted against the thresholds. */
static inline bool ald_rd_state_skipped(const char *state)
{
    return !strcmp(state, "pinned") || !strcmp(state, "hand_flashed") ||
           !strcmp(state, "superseded");
}

/* A rollout's "waves" as the API gives them (compact JSON text): 1..ALD_ROLLOUT_MAX_WAVES
 * objects, each {"count": N >= 1} or {"percent": 1..100}. false, with what is wrong in
 * msg[msglen], if not (fuzz/fuzz_http.c feeds it). */
bool ald_rollout_waves_valid(const char *text, char *msg, size_t msglen);
/* A rollout's "target": an object with optional "groups" and "channels", arrays of names.
 * false, with what is wrong in msg[msglen], if not. */
bool ald_rollout_target_valid(const char *text, char *msg, size_t msglen);

/* Sizes of the waves for n devices (at most ALD_ROLLOUT_MAX_WAVES); returns how many. */
size_t ald_wave_sizes(const char *waves_json, size_t n, size_t *sizes);

/* The engine's own state: made by ald_rollouts_start, freed by ald_rollouts_stop. */
struct ald_engine *ald_engine_new(void);
void ald_engine_free(struct ald_engine *e);

#endif
