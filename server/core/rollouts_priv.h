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

/* The engine's own state: made by ald_rollouts_start, freed by ald_rollouts_stop. */
struct ald_engine *ald_engine_new(void);
void ald_engine_free(struct ald_engine *e);

#endif
