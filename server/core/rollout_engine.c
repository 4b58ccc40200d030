/*
 * rollout_engine.c - the background pass that moves rollouts along (docs/fleets.md).
 *
 * Its work follows what changed, so a quiet fleet costs nothing:
 *  - Only running rollouts are evaluated; paused ones only learn how their updates ended;
 *    completed and cancelled ones are never read again.
 *  - The event log is the change feed. The engine reads the events after its cursor: an
 *    update's final event (it names its rollout) moves that rollout device along (of a
 *    superseded rollout too); a device.created or device.changed event enrolls that one
 *    device in its current rollout only (the newest live one covering it, rollout_rules.c;
 *    docs/fleets.md "One desired release per device"), reopening it if it had completed.
 *    Completed rollouts are read only then: by an event about a device they cover.
 *  - A running rollout is evaluated (one aggregate query of its devices per wave and state)
 *    when an event touched it, while it has devices it may start, and otherwise every
 *    RECHECK_MS as a safety net. Starting takes a page of its pending devices at a time.
 *  - A rollout's whole target is enrolled once per node, when the node first takes it up (an
 *    indexed query of the product's devices), and its updates under way are looked at once.
 * With several nodes on one database, each rollout is moved by the one node that holds its
 * claim (store.h: claim; a PostgreSQL session lock, lost at once when the node dies); a
 * node that wins a claim begins with a full look at that rollout. Nothing here is needed
 * for correctness across a crash: every step is repeatable from the store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "planner.h"
#include "rollouts_priv.h"
#include "util.h"

#define DAY_MS (24 * 3600 * 1000LL)
#define MINUTE_MS (60 * 1000LL)
#define RECHECK_MS (30 * 1000LL)      /* a quiet running rollout is looked at this often */
#define FOLLOW_ALL_MS (5 * 60 * 1000LL) /* and all its updates under way this often */
#define DEFERRED_RETRY_MS MINUTE_MS    /* devices over their data budget are retried */
#define START_BATCH 64                 /* updates started per rollout per pass at most */
#define EVENTS_PAGE 256                /* events read per query; a pass reads until caught up */
#define EVENTS_PER_PASS 4096

/* What this node knows of one rollout it moves. */
struct slot {
    int64_t id;
    bool enrolled;       /* the whole target was enrolled by this node */
    bool dirty;          /* an event touched it since its last evaluation */
    bool seen;           /* still running or paused at this pass */
    bool claimed;        /* this node holds its claim (store.h: claim) */
    int64_t next_eval;   /* evaluate at the latest then */
    int64_t next_follow; /* look at every update under way then */
    int64_t next_deferred;
};

struct ald_engine {
    int64_t cursor; /* the last event read; -1 until the first pass */
    struct slot *slots;
    size_t n, cap;
};

struct ald_engine *ald_engine_new(void)
{
    struct ald_engine *e = calloc(1, sizeof *e);
    if (e)
        e->cursor = -1;
    return e;
}

void ald_engine_free(struct ald_engine *e)
{
    if (!e)
        return;
    free(e->slots);
    free(e);
}

static struct slot *slot_of(struct ald_engine *e, int64_t id, bool make)
{
    for (size_t i = 0; i < e->n; i++)
        if (e->slots[i].id == id)
            return &e->slots[i];
    if (!make)
        return NULL;
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 8;
        struct slot *p = realloc(e->slots, cap * sizeof *p);
        if (!p)
            return NULL;
        e->slots = p;
        e->cap = cap;
    }
    struct slot *s = &e->slots[e->n++];
    memset(s, 0, sizeof *s);
    s->id = id;
    return s;
}

/* ---- lists from the store ---- */


static int collect_rollout(void *ctx, const struct ald_rollout_rec *ro)
{
    return ald_rlist_append(ctx, ro);
}

static int collect_rdev(void *ctx, const struct ald_rollout_device_rec *rd)
{
    return ald_rlist_append(ctx, rd);
}

static int collect_event(void *ctx, const struct ald_event_rec *ev)
{
    return ald_rlist_append(ctx, ev);
}

/* ---- targets and waves ---- */

static int collect_member(void *ctx, const struct ald_device_summary *d)
{
    struct ald_member m;
    ald_member_of_summary(d, &m);
    return ald_rlist_append(ctx, &m);
}

static size_t wave_count(const char *waves_json)
{
    json_t *waves = json_loads(waves_json, 0, NULL);
    size_t n = json_array_size(waves);
    json_decref(waves);
    return n < 1 ? 1 : n > ALD_ROLLOUT_MAX_WAVES ? ALD_ROLLOUT_MAX_WAVES : n;
}

static bool is(const struct ald_rollout_device_rec *rd, const char *state)
{
    return !strcmp(rd->state, state);
}

/* The rollout device of m in rollout_id into *out; false if it holds none (or on a store
 * error: then nothing is enrolled). */
static bool held(struct ald_rollouts *r, int64_t rollout_id, int64_t device_id,
                 struct ald_rollout_device_rec *out, bool *error)
{
    struct ald_rollout_device_filter f = {rollout_id, device_id, NULL, -1, 1};
    struct ald_rlist l = {NULL, 0, 0, sizeof(struct ald_rollout_device_rec)};
    bool yes = false;
    *error = r->st->ops->rollout_device_query(r->st, &f, collect_rdev, &l) != ALD_STORE_OK;
    if (!*error && l.n) {
        *out = *(struct ald_rollout_device_rec *)l.items;
        yes = true;
    }
    free(l.items);
    return yes;
}

/* Enroll m in wave `wave`: "pending", or "pinned" if it is pinned to another version.
 * joined: it joined after the rollout's first pass (a rollout.device event says so). */
static void enroll_one(struct ald_rollouts *r, const struct ald_rollout_rec *ro,
                       const struct ald_release_rec *rel, const struct ald_member *m, int wave,
                       bool joined)
{
    struct ald_rollout_device_rec rd;
    bool pinned = ald_member_pinned_away(m, rel);
    memset(&rd, 0, sizeof rd);
    rd.rollout_id = ro->id;
    rd.device_id = m->id;
    memcpy(rd.device, m->name, sizeof rd.device);
    rd.wave = wave;
    if (joined || pinned) {
        char why[ALD_VERSION_MAX + 32];
        snprintf(why, sizeof why, "pinned to %s", m->pinned);
        if (joined)
            ald_rollout_emit(r, "rollout.device", rd.device, 0, ro->id,
                             json_pack("{s:s, s:i}", "state", "joined", "wave", rd.wave + 1));
        ald_rollout_save_device(r, ro, &rd, pinned ? "pinned" : "pending", pinned ? why : NULL);
    } else {
        snprintf(rd.state, sizeof rd.state, "pending");
        (void)r->st->ops->rollout_device_put(r->st, &rd);
    }
}

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Enroll the whole target: at a rollout's first pass in waves, later (another node, a
 * restart, a resume) only the devices it does not hold yet, into its last wave. A device
 * that a newer live rollout covers belongs to that one, not to this one. Pinned devices
 * are enrolled as "pinned" in the last wave and do not count in the wave sizes. */
static bool enroll_all(struct ald_rollouts *r, const struct ald_rollout_rec *ro,
                       const struct ald_release_rec *rel)
{
    struct ald_device_filter f;
    struct ald_rlist members = {NULL, 0, 0, sizeof(struct ald_member)};
    struct ald_rlist fresh = {NULL, 0, 0, sizeof(struct ald_member)};
    struct ald_rlist had = {NULL, 0, 0, sizeof(struct ald_rollout_device_rec)};
    struct ald_rollout_device_filter hf = {ro->id, 0, NULL, -1, 0};
    struct ald_lives newer = {NULL, 0};
    json_t *target = json_loads(ro->target_json, 0, NULL);
    size_t sizes[ALD_ROLLOUT_MAX_WAVES], waves, movable = 0;
    int last = (int)wave_count(ro->waves_json) - 1;
    int64_t *ids = NULL;
    bool ok = false;
    memset(&f, 0, sizeof f);
    f.product_id = rel->product_id;
    f.online = -1;
    f.index = -1;
    if (!ald_lives_load(r->st, rel->product_id, ro->id, &newer) ||
        r->st->ops->rollout_device_query(r->st, &hf, collect_rdev, &had) != ALD_STORE_OK ||
        r->st->ops->device_query(r->st, &f, collect_member, &members) != ALD_STORE_OK)
        goto out;
    if (had.n && !(ids = malloc(had.n * sizeof *ids)))
        goto out;
    for (size_t i = 0; i < had.n; i++)
        ids[i] = ((struct ald_rollout_device_rec *)had.items)[i].device_id;
    if (had.n)
        qsort(ids, had.n, sizeof *ids, cmp_id);
    for (size_t i = 0; i < members.n; i++) {
        const struct ald_member *m = (struct ald_member *)members.items + i;
        if (ald_rollout_covers(target, rel, m) && !ald_lives_covering(&newer, m) &&
            (!had.n || !bsearch(&m->id, ids, had.n, sizeof *ids, cmp_id))) {
            ald_rlist_append(&fresh, m);
            movable += !ald_member_pinned_away(m, rel);
        }
    }
    waves = ald_wave_sizes(ro->waves_json, movable, sizes);
    for (size_t i = 0, w = 0, in_wave = 0; i < fresh.n; i++) {
        const struct ald_member *m = (struct ald_member *)fresh.items + i;
        if (had.n || ald_member_pinned_away(m, rel)) {
            enroll_one(r, ro, rel, m, last, had.n > 0);
            continue;
        }
        while (w + 1 < waves && in_wave >= sizes[w]) {
            w++;
            in_wave = 0;
        }
        enroll_one(r, ro, rel, m, (int)w, false);
        in_wave++;
    }
    ok = true;
out:
    ald_lives_free(&newer);
    json_decref(target);
    free(ids);
    free(members.items);
    free(fresh.items);
    free(had.items);
    return ok;
}

/* A rollout device whose update may have ended: learn how. */
static void follow_device(struct ald_rollouts *r, const struct ald_rollout_rec *ro,
                          struct ald_rollout_device_rec *rd, struct ald_update_rec *upd)
{
    if (!is(rd, "updating") || r->st->ops->update_get(r->st, rd->update_id, upd) != ALD_STORE_OK ||
        !ald_update_state_final(upd->state))
        return;
    rd->finished_at = upd->finished_at ? upd->finished_at : ald_now_ms();
    ald_rollout_save_device(r, ro, rd, upd->state, upd->why);
}

static void follow_all(struct ald_rollouts *r, const struct ald_rollout_rec *ro)
{
    struct ald_rollout_device_filter f = {ro->id, 0, "updating", -1, 0};
    struct ald_rlist l = {NULL, 0, 0, sizeof(struct ald_rollout_device_rec)};
    struct ald_update_rec *upd = malloc(sizeof *upd);
    if (upd && r->st->ops->rollout_device_query(r->st, &f, collect_rdev, &l) == ALD_STORE_OK)
        for (size_t i = 0; i < l.n; i++)
            follow_device(r, ro, (struct ald_rollout_device_rec *)l.items + i, upd);
    free(upd);
    free(l.items);
}

static int collect_update(void *ctx, const struct ald_update_rec *u)
{
    memcpy(ctx, u, sizeof *u);
    return 1; /* the newest only */
}

/* Was the device flashed by hand while the rollout ran: is its newest update a user's,
 * created after the rollout, that succeeded? (upd: scratch space) */
static bool flashed_by_hand(struct ald_rollouts *r, const struct ald_rollout_rec *ro,
                            int64_t device_id, struct ald_update_rec *upd)
{
    memset(upd, 0, sizeof *upd);
    if (r->st->ops->update_list(r->st, device_id, 1, collect_update, upd) != ALD_STORE_OK ||
        !upd->id)
        return false;
    return !upd->rollout_id && upd->created_at >= ro->created_at &&
           !strcmp(upd->state, "succeeded");
}

/* Start (or adopt, after a crash) the update of one device. Returns true if it started. */
static bool start_device(struct ald_rollouts *r, const struct ald_rollout_rec *ro,
                         const struct ald_release_rec *rel, struct ald_rollout_device_rec *rd)
{
    struct ald_update_rec *upd = malloc(sizeof *upd);
    struct ald_device_rec *dev = malloc(sizeof *dev);
    json_t *images = json_loads(rel->images_json, 0, NULL), *v;
    const char *sha[ALD_PLAN_MAX_STEPS];
    char msg[ALD_WHY_MAX + 1];
    size_t n = 0, i;
    bool started = false;
    if (!upd || !dev || !images)
        goto out;
    json_array_foreach(images, i, v)
        if (n < ALD_PLAN_MAX_STEPS && json_is_string(v))
            sha[n++] = json_string_value(v);
    if (r->st->ops->update_active(r->st, rd->device_id, upd) == ALD_STORE_OK) {
        if (upd->rollout_id == ro->id) { /* queued before a crash: adopt it */
            rd->update_id = upd->id;
            rd->started_at = upd->created_at;
            ald_rollout_save_device(r, ro, rd, "updating", NULL);
            started = true;
        }
        /* else a user's update, or an older rollout's that this one superseded: it
         * finishes first, then this device is looked at again */
        goto out;
    }
    if (r->st->ops->device_get(r->st, rd->device, dev) == ALD_STORE_OK && dev->id == rd->device_id) {
        struct ald_member m;
        ald_member_of_device(dev, &m);
        if (ald_member_pinned_away(&m, rel)) {
            snprintf(msg, sizeof msg, "pinned to %s", m.pinned);
            ald_rollout_save_device(r, ro, rd, "pinned", msg);
            goto out;
        }
    }
    if (flashed_by_hand(r, ro, rd->device_id, upd)) {
        snprintf(msg, sizeof msg, "flashed by hand (update %lld) while the rollout ran",
                 (long long)upd->id);
        rd->update_id = 0;
        ald_rollout_save_device(r, ro, rd, "hand_flashed", msg);
        goto out;
    }
    if (ro->budget_bytes_per_day) {
        uint64_t used = 0;
        struct ald_result q = ald_updates_queue(r->u, rd->device, sha, n, true, upd, ro->id);
        if (ald_is_ok(&q) && strcmp(upd->state, "up_to_date") &&
            (r->st->ops->auto_bytes(r->st, rd->device_id, ald_now_ms() - DAY_MS, &used) != ALD_STORE_OK ||
             used + upd->wire_estimate > ro->budget_bytes_per_day)) {
            snprintf(msg, sizeof msg, "over its data budget: %llu bytes used today, the update "
                     "needs about %llu, the budget is %llu", (unsigned long long)used,
                     (unsigned long long)upd->wire_estimate,
                     (unsigned long long)ro->budget_bytes_per_day);
            ald_rollout_save_device(r, ro, rd, "deferred", msg);
            goto out;
        }
    }
    struct ald_result q = ald_updates_queue(r->u, rd->device, sha, n, false, upd, ro->id);
    if (ald_is_ok(&q) && strcmp(upd->state, "up_to_date")) {
        rd->update_id = upd->id;
        rd->started_at = ald_now_ms();
        ald_rollout_save_device(r, ro, rd, "updating", NULL);
        started = true;
    } else if (ald_is_ok(&q)) {
        rd->started_at = rd->finished_at = ald_now_ms();
        ald_rollout_save_device(r, ro, rd, "succeeded", "already runs the release");
    } else if (q.code == ALD_ERR_NOT_FOUND) {
        ald_rollout_save_device(r, ro, rd, "cancelled", "the device was deleted");
    } else if (q.code != ALD_ERR_INTERNAL && q.code != ALD_ERR_UNAVAILABLE) {
        rd->started_at = rd->finished_at = ald_now_ms();
        ald_rollout_save_device(r, ro, rd, "failed", q.msg);
    } /* else storage trouble: the next pass tries again */
out:
    json_decref(images);
    free(upd);
    free(dev);
    return started;
}

/* ---- evaluating one running rollout ---- */

/* The states a completed rollout's summary counts, in its order. */
static const char *const SUMMARY_STATES[] = {"succeeded", "failed", "reverted", "cancelled",
                                             "pinned", "hand_flashed", "superseded"};
#define NSUMMARY (sizeof SUMMARY_STATES / sizeof SUMMARY_STATES[0])

struct counts {
    size_t waves;
    size_t size[ALD_ROLLOUT_MAX_WAVES], ok[ALD_ROLLOUT_MAX_WAVES];
    size_t skipped[ALD_ROLLOUT_MAX_WAVES]; /* pinned, hand_flashed, superseded: not moved */
    size_t by_state[NSUMMARY];
    size_t waiting[ALD_ROLLOUT_MAX_WAVES]; /* pending or deferred: not started */
    size_t pending[ALD_ROLLOUT_MAX_WAVES], deferred[ALD_ROLLOUT_MAX_WAVES];
    size_t updating[ALD_ROLLOUT_MAX_WAVES];
    size_t devices, started, failures, open, recent;
};

static int count_row(void *ctx, int wave, const char *state, uint64_t n, uint64_t since)
{
    struct counts *c = ctx;
    size_t w = wave < 0 ? 0 : wave >= ALD_ROLLOUT_MAX_WAVES ? ALD_ROLLOUT_MAX_WAVES - 1 : (size_t)wave;
    bool waiting = !strcmp(state, "pending") || !strcmp(state, "deferred");
    if (w + 1 > c->waves)
        c->waves = w + 1;
    c->size[w] += n;
    c->devices += n;
    c->ok[w] += !strcmp(state, "succeeded") ? n : 0;
    c->waiting[w] += waiting ? n : 0;
    c->pending[w] += !strcmp(state, "pending") ? n : 0;
    c->deferred[w] += !strcmp(state, "deferred") ? n : 0;
    c->updating[w] += !strcmp(state, "updating") ? n : 0;
    c->started += waiting || ald_rd_state_skipped(state) ? 0 : n;
    c->failures += !strcmp(state, "failed") || !strcmp(state, "reverted") ? n : 0;
    c->open += waiting || !strcmp(state, "updating") ? n : 0;
    c->recent += since;
    c->skipped[w] += ald_rd_state_skipped(state) ? n : 0;
    for (size_t i = 0; i < NSUMMARY; i++)
        c->by_state[i] += !strcmp(state, SUMMARY_STATES[i]) ? n : 0;
    return 0;
}

/* Start up to `budget` devices of `state` in the open waves; returns how many started. */
static size_t start_some(struct ald_rollouts *r, const struct ald_rollout_rec *ro,
                         const struct ald_release_rec *rel, struct counts *c, size_t open_waves,
                         const char *state, size_t budget)
{
    struct ald_rollout_device_filter f = {ro->id, 0, state, (int)open_waves - 1, budget};
    struct ald_rlist l = {NULL, 0, 0, sizeof(struct ald_rollout_device_rec)};
    size_t started = 0;
    if (!budget || r->st->ops->rollout_device_query(r->st, &f, collect_rdev, &l) != ALD_STORE_OK)
        goto out;
    for (size_t i = 0; i < l.n; i++) {
        struct ald_rollout_device_rec *rd = (struct ald_rollout_device_rec *)l.items + i;
        size_t w = rd->wave < ALD_ROLLOUT_MAX_WAVES ? (size_t)rd->wave : ALD_ROLLOUT_MAX_WAVES - 1;
        if (c->waiting[w] + c->skipped[w] == c->size[w] && is(rd, "pending")) /* its first */
            ald_rollout_emit(r, "rollout.wave", NULL, 0, ro->id, json_pack("{s:i}", "wave", rd->wave + 1));
        if (c->waiting[w])
            c->waiting[w]--;
        if (start_device(r, ro, rel, rd))
            started++;
    }
out:
    free(l.items);
    return started;
}

/* Returns when it wants to be evaluated again at the latest. */
static int64_t evaluate(struct ald_rollouts *r, struct ald_rollout_rec *ro, struct slot *s,
                        int64_t now)
{
    struct ald_release_rec rel;
    struct counts c;
    memset(&c, 0, sizeof c);
    if (r->st->ops->release_get_id(r->st, ro->release_id, &rel) != ALD_STORE_OK)
        return now + RECHECK_MS;
    if (!s->enrolled) {
        if (!enroll_all(r, ro, &rel))
            return now + RECHECK_MS;
        s->enrolled = true;
        s->next_follow = 0;
    }
    if (now >= s->next_follow) {
        follow_all(r, ro);
        s->next_follow = now + FOLLOW_ALL_MS;
    }
    if (r->st->ops->rollout_device_counts(r->st, ro->id, now - MINUTE_MS, count_row, &c) != ALD_STORE_OK)
        return now + RECHECK_MS;
    if ((ro->error_count && c.failures >= (size_t)ro->error_count) ||
        (ro->error_percent && c.started && c.failures * 100 >= (size_t)ro->error_percent * c.started)) {
        char why[160];
        snprintf(why, sizeof why, "%zu of %zu updates started failed or reverted (threshold: %d%s)",
                 c.failures, c.started, ro->error_count ? ro->error_count : ro->error_percent,
                 ro->error_count ? "" : "%");
        ald_rollout_set_state(r, ro, "paused", why);
        return now + RECHECK_MS;
    }
    if (!c.open) { /* the summary counts every device it holds, by state */
        char why[256];
        int len = snprintf(why, sizeof why, "%zu device%s", c.devices, c.devices == 1 ? "" : "s");
        const char *sep = ": ";
        for (size_t i = 0; i < NSUMMARY && len > 0 && (size_t)len < sizeof why; i++) {
            if (!c.by_state[i] && i > 1) /* succeeded and failed always, the rest if any */
                continue;
            len += snprintf(why + len, sizeof why - (size_t)len, "%s%zu %s", sep, c.by_state[i],
                            !strcmp(SUMMARY_STATES[i], "hand_flashed") ? "flashed by hand"
                                                                        : SUMMARY_STATES[i]);
            sep = ", ";
        }
        ald_rollout_set_state(r, ro, "completed", why);
        return now + RECHECK_MS;
    }
    /* Waves open in order: wave w only once every wave before it met the success threshold. */
    size_t open_waves = 0, waiting = 0;
    while (open_waves < c.waves) {
        size_t w = open_waves++;
        if (c.ok[w] * 100 < (size_t)ro->success_percent * (c.size[w] - c.skipped[w]))
            break;
    }
    /* A wave short of the threshold with nothing left in the open waves that could still
     * succeed never opens the next one: pause and say so (docs/fleets.md, "Stops itself"). */
    size_t undecided = 0;
    for (size_t w = 0; w < open_waves; w++)
        undecided += c.waiting[w] + c.updating[w];
    if (open_waves < c.waves && !undecided) {
        size_t b = open_waves - 1;
        char why[200], later[48];
        if (b + 2 == c.waves)
            snprintf(later, sizeof later, "wave %zu was", c.waves);
        else
            snprintf(later, sizeof later, "waves %zu to %zu were", b + 2, c.waves);
        snprintf(why, sizeof why, "wave %zu cannot reach %d%% succeeded (%zu of %zu did); %s not started",
                 b + 1, ro->success_percent, c.ok[b], c.size[b] - c.skipped[b], later);
        ald_rollout_set_state(r, ro, "paused", why);
        return now + RECHECK_MS;
    }
    size_t budget = START_BATCH;
    if (ro->rate_per_min)
        budget = c.recent >= (size_t)ro->rate_per_min ? 0 : (size_t)ro->rate_per_min - c.recent;
    budget = budget > START_BATCH ? START_BATCH : budget;
    for (size_t w = 0; w < open_waves; w++)
        waiting += c.pending[w];
    size_t started = start_some(r, ro, &rel, &c, open_waves, "pending", budget);
    bool retry_deferred = false;
    for (size_t w = 0; w < open_waves; w++)
        retry_deferred |= c.deferred[w] > 0;
    if (retry_deferred && now >= s->next_deferred && budget > started) {
        start_some(r, ro, &rel, &c, open_waves, "deferred", budget - started);
        s->next_deferred = now + DEFERRED_RETRY_MS;
    }
    /* More to start: come back next pass (a rate limit frees up within the minute). */
    if (waiting > started)
        return now + (ro->rate_per_min && !budget ? 1000 : 0);
    return now + RECHECK_MS;
}

/* ---- the change feed ---- */

static bool final_update_event(const char *type)
{
    return !strcmp(type, "update.succeeded") || !strcmp(type, "update.failed") ||
           !strcmp(type, "update.reverted") || !strcmp(type, "update.cancelled");
}

/* A device was created, changed or first reported: it belongs to the newest live rollout
 * that covers it (docs/fleets.md), and only to that one. If that rollout holds it already
 * (in any state: a failed device is not tried again), nothing happens, except that a device
 * no longer pinned away goes from "pinned" back to "pending". Otherwise it joins the last
 * wave: of a running rollout this node moves at once; of a paused one when it resumes (the
 * full look); a completed one runs again for it. */
static void device_event(struct ald_rollouts *r, const char *name)
{
    struct ald_device_rec *d = malloc(sizeof *d);
    struct ald_lives lives = {NULL, 0};
    const struct ald_live *cur;
    struct ald_rollout_device_rec rd;
    struct ald_member m;
    bool error;
    if (!d || r->st->ops->device_get(r->st, name, d) != ALD_STORE_OK || d->product_id <= 0 ||
        d->dev)
        goto out;
    ald_member_of_device(d, &m);
    if (!ald_lives_load(r->st, m.product_id, 0, &lives) || !(cur = ald_lives_covering(&lives, &m)))
        goto out;
    struct ald_rollout_rec ro = cur->ro;
    struct slot *s = slot_of(r->engine, ro.id, false);
    int last = (int)wave_count(ro.waves_json) - 1;
    if (held(r, ro.id, m.id, &rd, &error) || error) {
        if (!error && is(&rd, "pinned") && !ald_member_pinned_away(&m, &cur->rel) &&
            !strcmp(ro.state, "running") && s && s->claimed) {
            ald_rollout_save_device(r, &ro, &rd, "pending", "no longer pinned");
            s->dirty = true;
        }
        goto out;
    }
    if (!strcmp(ro.state, "running")) {
        if (s && s->claimed && s->enrolled) { /* else its full look enrolls it */
            enroll_one(r, &ro, &cur->rel, &m, last, true);
            s->dirty = true;
        }
    } else if (!strcmp(ro.state, "completed")) {
        char why[ALD_NAME_MAX + 48];
        snprintf(why, sizeof why, "device %s joined its target", m.name);
        ro.finished_at = 0;
        /* Every node sees the event; the rollout's revision lets one of them reopen it. */
        if (ald_rollout_set_state(r, &ro, "running", why))
            enroll_one(r, &ro, &cur->rel, &m, last, true);
    }
out:
    ald_lives_free(&lives);
    free(d);
}

/* An update of a rollout ended: move its rollout device along. The rollout is running or
 * paused (this node moves it), or superseded (its updates under way still finish). */
static void update_event(struct ald_rollouts *r, const struct ald_rlist *active, int64_t rollout_id,
                         int64_t update_id)
{
    struct ald_update_rec *upd = malloc(sizeof *upd);
    struct ald_rlist l = {NULL, 0, 0, sizeof(struct ald_rollout_device_rec)};
    struct ald_rollout_rec *ro = NULL, other;
    for (size_t i = 0; i < active->n && !ro; i++)
        if (((struct ald_rollout_rec *)active->items)[i].id == rollout_id)
            ro = (struct ald_rollout_rec *)active->items + i;
    if (!ro && r->st->ops->rollout_get(r->st, rollout_id, &other) == ALD_STORE_OK &&
        !strcmp(other.state, "superseded"))
        ro = &other;
    if (upd && ro && r->st->ops->update_get(r->st, update_id, upd) == ALD_STORE_OK) {
        struct slot *s = slot_of(r->engine, ro->id, false);
        struct ald_rollout_device_filter f = {ro->id, upd->device_id, NULL, -1, 1};
        if (r->st->ops->rollout_device_query(r->st, &f, collect_rdev, &l) == ALD_STORE_OK && l.n) {
            struct ald_rollout_device_rec *rd = l.items;
            if (rd->update_id == update_id)
                follow_device(r, ro, rd, upd);
        }
        if (s)
            s->dirty = true;
    }
    free(l.items);
    free(upd);
}

/* Read the events since the cursor and act on those that concern rollouts. */
static void read_events(struct ald_rollouts *r, const struct ald_rlist *active)
{
    struct ald_engine *e = r->engine;
    struct ald_rlist evs = {NULL, 0, 0, sizeof(struct ald_event_rec)};
    size_t read = 0;
    if (e->cursor < 0) { /* first pass: everything before now is covered by the full look */
        int64_t last = 0;
        if (r->st->ops->event_last_id(r->st, &last) == ALD_STORE_OK)
            e->cursor = last;
        return;
    }
    while (read < EVENTS_PER_PASS) {
        struct ald_event_filter f;
        memset(&f, 0, sizeof f);
        f.after_id = e->cursor;
        f.limit = EVENTS_PAGE;
        evs.n = 0;
        if (r->st->ops->event_list(r->st, &f, collect_event, &evs) != ALD_STORE_OK || !evs.n)
            break;
        for (size_t i = 0; i < evs.n; i++) {
            const struct ald_event_rec *ev = (struct ald_event_rec *)evs.items + i;
            e->cursor = ev->id;
            if (ev->rollout_id && ev->update_id && final_update_event(ev->type))
                update_event(r, active, ev->rollout_id, ev->update_id);
            else if (ev->device[0] && (!strcmp(ev->type, "device.created") ||
                                       !strcmp(ev->type, "device.changed")))
                device_event(r, ev->device);
            else if (ev->rollout_id && !strncmp(ev->type, "rollout.", 8)) {
                struct slot *s = slot_of(e, ev->rollout_id, false);
                if (s)
                    s->dirty = true;
            }
        }
        read += evs.n;
        if (evs.n < EVENTS_PAGE)
            break;
    }
    free(evs.items);
}

/* ---- the pass ---- */

/* Drop the slots of rollouts that ended, letting go of their claims. */
static void forget_finished(struct ald_rollouts *r)
{
    struct ald_engine *e = r->engine;
    size_t k = 0;
    for (size_t i = 0; i < e->n; i++) {
        if (e->slots[i].seen)
            e->slots[k++] = e->slots[i];
        else if (e->slots[i].claimed)
            (void)r->st->ops->unclaim(r->st, e->slots[i].id);
    }
    e->n = k;
}

/* Keep from `active` only the rollouts this node holds the claim of (another node moves
 * the others). A claim newly won starts with a full look. */
static void keep_claimed(struct ald_rollouts *r, struct ald_rlist *active)
{
    size_t k = 0;
    for (size_t i = 0; i < active->n; i++) {
        struct ald_rollout_rec *ro = (struct ald_rollout_rec *)active->items + i;
        struct slot *s = slot_of(r->engine, ro->id, false);
        bool held = false;
        if (!s || r->st->ops->claim(r->st, ro->id, &held) != ALD_STORE_OK)
            held = false;
        if (held && !s->claimed) {
            char id[24];
            snprintf(id, sizeof id, "%lld", (long long)ro->id);
            ald_log(ALD_LOG_INFO, "rollout taken up", "rollout", id, NULL);
            s->enrolled = false;
        }
        if (s)
            s->claimed = held;
        if (held)
            memmove((struct ald_rollout_rec *)active->items + k++, ro, sizeof *ro);
    }
    active->n = k;
}

void ald_rollouts_tick(struct ald_rollouts *r)
{
    struct ald_rlist active = {NULL, 0, 0, sizeof(struct ald_rollout_rec)};
    struct ald_engine *e = r->engine;
    int64_t now = ald_now_ms();
    pthread_mutex_lock(&r->lock);
    if (r->st->ops->rollout_list_state(r->st, "running", collect_rollout, &active) != ALD_STORE_OK ||
        r->st->ops->rollout_list_state(r->st, "paused", collect_rollout, &active) != ALD_STORE_OK)
        goto out;
    for (size_t i = 0; i < e->n; i++)
        e->slots[i].seen = false;
    for (size_t i = 0; i < active.n; i++) {
        struct slot *s = slot_of(e, ((struct ald_rollout_rec *)active.items)[i].id, true);
        if (s)
            s->seen = true;
    }
    forget_finished(r);
    keep_claimed(r, &active);
    read_events(r, &active);
    for (size_t i = 0; i < active.n; i++) {
        struct ald_rollout_rec *ro = (struct ald_rollout_rec *)active.items + i;
        struct slot *s = slot_of(e, ro->id, false);
        if (!s)
            continue;
        if (strcmp(ro->state, "running")) {
            s->enrolled = false; /* a resumed rollout takes a full look again */
            continue;
        }
        if (!s->dirty && now < s->next_eval && s->enrolled)
            continue;
        /* Re-read: an event above may have moved it (a threshold, a user's action). */
        if (r->st->ops->rollout_get(r->st, ro->id, ro) != ALD_STORE_OK || strcmp(ro->state, "running"))
            continue;
        s->dirty = false;
        s->next_eval = evaluate(r, ro, s, now);
    }
out:
    pthread_mutex_unlock(&r->lock);
    free(active.items);
}

static void *run(void *arg)
{
    struct ald_rollouts *r = arg;
    while (!atomic_load(&r->stop)) {
        ald_rollouts_tick(r);
        for (unsigned waited = 0; waited < r->tick_ms && !atomic_load(&r->stop); waited += 50) {
            struct timespec ts = {0, 50 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

int ald_rollouts_start(struct ald_rollouts **out, struct ald_store *st, struct ald_updates *u,
                       unsigned tick_ms)
{
    struct ald_rollouts *r = calloc(1, sizeof *r);
    if (!r)
        return -1;
    r->st = st;
    r->u = u;
    r->tick_ms = tick_ms ? tick_ms : 500;
    r->engine = ald_engine_new();
    if (!r->engine) {
        free(r);
        return -1;
    }
    pthread_mutex_init(&r->lock, NULL);
    atomic_init(&r->stop, false);
    if (pthread_create(&r->thread, NULL, run, r) != 0) {
        pthread_mutex_destroy(&r->lock);
        ald_engine_free(r->engine);
        free(r);
        return -1;
    }
    r->started = true;
    *out = r;
    return 0;
}

void ald_rollouts_stop(struct ald_rollouts *r)
{
    if (!r)
        return;
    atomic_store(&r->stop, true);
    if (r->started)
        pthread_join(r->thread, NULL);
    pthread_mutex_destroy(&r->lock);
    ald_engine_free(r->engine);
    free(r);
}
