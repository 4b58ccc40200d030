/*
 * rollouts.c - see rollouts.h.
 */
#include "rollouts.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "planner.h"
#include "util.h"

#define MAX_WAVES 10
#define DAY_MS (24 * 3600 * 1000LL)
#define MINUTE_MS (60 * 1000LL)

struct ald_rollouts {
    struct ald_store *st;
    struct ald_updates *u;
    pthread_mutex_t lock; /* one pass or one user action at a time */
    pthread_t thread;
    bool started;
    atomic_bool stop;
    unsigned tick_ms;
};

/* What a pass needs to know of a device. */
struct member {
    int64_t id;
    char name[ALD_NAME_MAX + 1];
    int64_t product_id;
    bool dev;
    char groups_json[ALD_GROUPS_JSON_MAX];
    char channel[ALD_NAME_MAX + 1];
    char pinned[ALD_VERSION_MAX + 1];
};

struct list {
    void *items;
    size_t n, cap, size;
};

static int append(struct list *l, const void *item)
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

static int collect_member(void *ctx, const struct ald_device_rec *d)
{
    struct member m;
    memset(&m, 0, sizeof m);
    m.id = d->id;
    memcpy(m.name, d->name, sizeof m.name);
    m.product_id = d->product_id;
    m.dev = d->dev;
    memcpy(m.groups_json, d->groups_json, sizeof m.groups_json);
    memcpy(m.channel, d->channel, sizeof m.channel);
    memcpy(m.pinned, d->pinned, sizeof m.pinned);
    return append(ctx, &m);
}

static int collect_rdev(void *ctx, const struct ald_rollout_device_rec *rd)
{
    return append(ctx, rd);
}

static int collect_rollout(void *ctx, const struct ald_rollout_rec *ro)
{
    return append(ctx, ro);
}

static void emit(struct ald_rollouts *r, const char *type, const char *device, int64_t update_id,
                 int64_t rollout_id, json_t *data)
{
    char *text = json_dumps(data, JSON_COMPACT);
    ald_event_emit_rollout(r->st, type, device, update_id, rollout_id, text);
    free(text);
    json_decref(data);
}

/* ---- targets and waves ---- */

/* Channels a rollout reaches: the target's "channels", else the release's channel. */
static bool channel_in(const json_t *target, const struct ald_release_rec *rel, const char *ch)
{
    json_t *chs = json_object_get(target, "channels"), *v;
    size_t i;
    if (!json_array_size(chs))
        return !strcmp(ch, rel->channel);
    json_array_foreach(chs, i, v)
        if (json_is_string(v) && !strcmp(json_string_value(v), ch))
            return true;
    return false;
}

/* Is m one of the devices the rollout is for? Development devices never are; a pinned
 * device only for the release it is pinned to. */
static bool in_target(const json_t *target, const struct ald_release_rec *rel,
                      const struct member *m)
{
    json_t *groups = json_object_get(target, "groups"), *mine, *g, *h;
    size_t i, k;
    bool hit = false;
    if (m->product_id != rel->product_id || m->dev || (m->pinned[0] && strcmp(m->pinned, rel->version)))
        return false;
    if (!channel_in(target, rel, m->channel))
        return false;
    if (!json_array_size(groups))
        return true;
    mine = json_loads(m->groups_json, 0, NULL);
    json_array_foreach(groups, i, g)
        json_array_foreach(mine, k, h)
            hit |= json_equal(g, h) != 0;
    json_decref(mine);
    return hit;
}

/* Sizes of the waves for n devices: a count, or a percent of n (at least 1); the last
 * wave takes whatever is left. */
static size_t wave_sizes(const char *waves_json, size_t n, size_t *sizes)
{
    json_t *waves = json_loads(waves_json, 0, NULL), *w;
    size_t i, count = 0, left = n;
    json_array_foreach(waves, i, w) {
        json_int_t c = json_integer_value(json_object_get(w, "count"));
        json_int_t p = json_integer_value(json_object_get(w, "percent"));
        size_t want = c > 0 ? (size_t)c : (size_t)((n * (size_t)p + 99) / 100);
        if (want == 0)
            want = 1;
        sizes[count++] = want < left ? want : left;
        left -= sizes[count - 1];
        if (count == MAX_WAVES)
            break;
    }
    if (count)
        sizes[count - 1] += left;
    json_decref(waves);
    return count;
}

static bool is(const struct ald_rollout_device_rec *rd, const char *state)
{
    return !strcmp(rd->state, state);
}

static bool failure(const struct ald_rollout_device_rec *rd)
{
    return is(rd, "failed") || is(rd, "reverted");
}

/* ---- one pass ---- */

static void save_device(struct ald_rollouts *r, const struct ald_rollout_rec *ro,
                        struct ald_rollout_device_rec *rd, const char *state, const char *why)
{
    bool changed = strcmp(rd->state, state) != 0;
    snprintf(rd->state, sizeof rd->state, "%s", state);
    if (r->st->ops->rollout_device_put(r->st, rd) != ALD_STORE_OK || !changed)
        return;
    json_t *data = json_pack("{s:s, s:i}", "state", state, "wave", rd->wave + 1);
    if (why && why[0])
        json_object_set_new(data, "why", json_string(why));
    emit(r, "rollout.device", rd->device, rd->update_id, ro->id, data);
}

static void set_state(struct ald_rollouts *r, struct ald_rollout_rec *ro, const char *state,
                      const char *why)
{
    bool changed = strcmp(ro->state, state) != 0;
    snprintf(ro->state, sizeof ro->state, "%s", state);
    snprintf(ro->why, sizeof ro->why, "%s", why ? why : "");
    ro->updated_at = ald_now_ms();
    if ((!strcmp(state, "completed") || !strcmp(state, "cancelled")) && !ro->finished_at)
        ro->finished_at = ro->updated_at;
    if (r->st->ops->rollout_save(r->st, ro) != ALD_STORE_OK || !changed)
        return;
    char type[ALD_EVENT_TYPE_MAX + 1];
    snprintf(type, sizeof type, "rollout.%s", state);
    ald_log(ALD_LOG_INFO, "rollout", "state", state, "why", ro->why, NULL);
    emit(r, type, NULL, 0, ro->id, json_pack("{s:s}", "why", ro->why));
}

/* Enroll the target's devices: all of them in waves at the first pass, later ones into the
 * last wave. */
static void enroll(struct ald_rollouts *r, const struct ald_rollout_rec *ro,
                   const struct ald_release_rec *rel, struct list *members, struct list *rdevs)
{
    json_t *target = json_loads(ro->target_json, 0, NULL);
    struct list fresh = {NULL, 0, 0, sizeof(struct member)};
    size_t sizes[MAX_WAVES], waves, had = rdevs->n;
    for (size_t i = 0; i < members->n; i++) {
        const struct member *m = (struct member *)members->items + i;
        bool known = false;
        for (size_t k = 0; k < had && !known; k++)
            known = ((struct ald_rollout_device_rec *)rdevs->items)[k].device_id == m->id;
        if (!known && in_target(target, rel, m))
            append(&fresh, m);
    }
    waves = wave_sizes(ro->waves_json, fresh.n, sizes);
    int last_wave = (int)waves - 1; /* the waves were drawn at the first pass: latecomers go last */
    for (size_t i = 0, w = 0, in_wave = 0; i < fresh.n; i++) {
        const struct member *m = (struct member *)fresh.items + i;
        struct ald_rollout_device_rec rd;
        memset(&rd, 0, sizeof rd);
        rd.rollout_id = ro->id;
        rd.device_id = m->id;
        memcpy(rd.device, m->name, sizeof rd.device);
        if (had) {
            rd.wave = last_wave;
        } else {
            while (w + 1 < waves && in_wave >= sizes[w]) {
                w++;
                in_wave = 0;
            }
            rd.wave = (int)w;
            in_wave++;
        }
        snprintf(rd.state, sizeof rd.state, "pending");
        if (r->st->ops->rollout_device_put(r->st, &rd) == ALD_STORE_OK) {
            append(rdevs, &rd);
            if (had)
                emit(r, "rollout.device", rd.device, 0, ro->id,
                     json_pack("{s:s, s:i}", "state", "joined", "wave", rd.wave + 1));
        }
    }
    free(fresh.items);
    json_decref(target);
}

/* Learn how the updates under way ended. */
static void follow(struct ald_rollouts *r, const struct ald_rollout_rec *ro, struct list *rdevs)
{
    struct ald_update_rec *upd = malloc(sizeof *upd);
    for (size_t i = 0; upd && i < rdevs->n; i++) {
        struct ald_rollout_device_rec *rd = (struct ald_rollout_device_rec *)rdevs->items + i;
        if (!is(rd, "updating") || r->st->ops->update_get(r->st, rd->update_id, upd) != ALD_STORE_OK ||
            !ald_update_state_final(upd->state))
            continue;
        rd->finished_at = upd->finished_at ? upd->finished_at : ald_now_ms();
        save_device(r, ro, rd, !strcmp(upd->state, "succeeded") ? "succeeded" : upd->state,
                    upd->why);
    }
    free(upd);
}

/* Start (or adopt, after a crash) the update of one device. Returns true if it started. */
static bool start_device(struct ald_rollouts *r, const struct ald_rollout_rec *ro,
                         const struct ald_release_rec *rel, struct ald_rollout_device_rec *rd)
{
    struct ald_update_rec *upd = malloc(sizeof *upd);
    json_t *images = json_loads(rel->images_json, 0, NULL), *v;
    const char *sha[ALD_PLAN_MAX_STEPS];
    char code[80], msg[ALD_WHY_MAX + 1];
    size_t n = 0, i;
    bool started = false;
    if (!upd || !images)
        goto out;
    json_array_foreach(images, i, v)
        if (n < ALD_PLAN_MAX_STEPS && json_is_string(v))
            sha[n++] = json_string_value(v);
    if (r->st->ops->update_active(r->st, rd->device_id, upd) == ALD_STORE_OK) {
        if (upd->rollout_id == ro->id) { /* queued before a crash: adopt it */
            rd->update_id = upd->id;
            rd->started_at = upd->created_at;
            save_device(r, ro, rd, "updating", NULL);
            started = true;
            goto out;
        }
        if (!upd->rollout_id)
            goto out; /* someone flashes it by hand: wait for that to end */
    }
    if (ro->budget_bytes_per_day) {
        uint64_t used = 0;
        enum ald_queue_rc q = ald_updates_queue(r->u, rd->device, sha, n, true, upd, code,
                                                sizeof code, msg, sizeof msg, ro->id);
        if (q == ALD_QUEUE_QUEUED &&
            (r->st->ops->auto_bytes(r->st, rd->device_id, ald_now_ms() - DAY_MS, &used) != ALD_STORE_OK ||
             used + upd->wire_estimate > ro->budget_bytes_per_day)) {
            snprintf(msg, sizeof msg, "over its data budget: %llu bytes used today, the update "
                     "needs about %llu, the budget is %llu", (unsigned long long)used,
                     (unsigned long long)upd->wire_estimate,
                     (unsigned long long)ro->budget_bytes_per_day);
            save_device(r, ro, rd, "deferred", msg);
            goto out;
        }
    }
    switch (ald_updates_queue(r->u, rd->device, sha, n, false, upd, code, sizeof code, msg,
                              sizeof msg, ro->id)) {
    case ALD_QUEUE_QUEUED:
        rd->update_id = upd->id;
        rd->started_at = ald_now_ms();
        save_device(r, ro, rd, "updating", NULL);
        started = true;
        break;
    case ALD_QUEUE_UP_TO_DATE:
        rd->started_at = rd->finished_at = ald_now_ms();
        save_device(r, ro, rd, "succeeded", "already runs the release");
        break;
    case ALD_QUEUE_NO_DEVICE:
        save_device(r, ro, rd, "cancelled", "the device was deleted");
        break;
    case ALD_QUEUE_ERROR:
        break; /* storage trouble: the next pass tries again */
    default:
        rd->started_at = rd->finished_at = ald_now_ms();
        save_device(r, ro, rd, "failed", msg);
        break;
    }
out:
    json_decref(images);
    free(upd);
    return started;
}

static void tick_one(struct ald_rollouts *r, struct ald_rollout_rec *ro)
{
    struct ald_release_rec rel;
    struct list members = {NULL, 0, 0, sizeof(struct member)};
    struct list rdevs = {NULL, 0, 0, sizeof(struct ald_rollout_device_rec)};
    bool running = !strcmp(ro->state, "running"), done = !strcmp(ro->state, "completed");
    size_t wave_size[MAX_WAVES] = {0}, wave_ok[MAX_WAVES] = {0}, waves = 0;
    size_t started = 0, failures = 0, open = 0, recent = 0;
    int64_t now = ald_now_ms();
    if (!running && !done && strcmp(ro->state, "paused") != 0)
        return;
    if (r->st->ops->release_get_id(r->st, ro->release_id, &rel) != ALD_STORE_OK ||
        r->st->ops->device_list(r->st, collect_member, &members) != ALD_STORE_OK ||
        r->st->ops->rollout_device_list(r->st, ro->id, collect_rdev, &rdevs) != ALD_STORE_OK)
        goto out;
    if (running || done)
        enroll(r, ro, &rel, &members, &rdevs);
    follow(r, ro, &rdevs);
    struct ald_rollout_device_rec *rd = rdevs.items;
    for (size_t i = 0; i < rdevs.n; i++) {
        int w = rd[i].wave < MAX_WAVES ? rd[i].wave : MAX_WAVES - 1;
        waves = (size_t)w + 1 > waves ? (size_t)w + 1 : waves;
        wave_size[w]++;
        wave_ok[w] += is(&rd[i], "succeeded");
        started += !is(&rd[i], "pending") && !is(&rd[i], "deferred");
        failures += failure(&rd[i]);
        open += is(&rd[i], "pending") || is(&rd[i], "deferred") || is(&rd[i], "updating");
        recent += rd[i].started_at >= now - MINUTE_MS && rd[i].update_id;
    }
    if (running && ((ro->error_count && failures >= (size_t)ro->error_count) ||
                    (ro->error_percent && started &&
                     failures * 100 >= (size_t)ro->error_percent * started))) {
        char why[160];
        snprintf(why, sizeof why, "%zu of %zu updates started failed or reverted (threshold: %d%s)",
                 failures, started, ro->error_count ? ro->error_count : ro->error_percent,
                 ro->error_count ? "" : "%");
        set_state(r, ro, "paused", why);
        goto out;
    }
    if (!running && !done)
        goto out;
    /* Waves open in order: wave w only once every wave before it met the success threshold. */
    size_t open_waves = 0;
    while (open_waves < waves) {
        size_t w = open_waves++;
        if (wave_ok[w] * 100 < (size_t)ro->success_percent * wave_size[w])
            break;
    }
    for (size_t i = 0; i < rdevs.n; i++) {
        if ((!is(&rd[i], "pending") && !is(&rd[i], "deferred")) || (size_t)rd[i].wave >= open_waves)
            continue;
        if (ro->rate_per_min && recent >= (size_t)ro->rate_per_min)
            break;
        if (is(&rd[i], "pending") && rd[i].wave > 0 && !rd[i].started_at) {
            bool first = true; /* the first device of a wave to start says so */
            for (size_t k = 0; k < rdevs.n && first; k++)
                first = rd[k].wave != rd[i].wave || !rd[k].started_at;
            if (first)
                emit(r, "rollout.wave", NULL, 0, ro->id, json_pack("{s:i}", "wave", rd[i].wave + 1));
        }
        if (start_device(r, ro, &rel, &rd[i]))
            recent++;
    }
    if (running && !open) {
        char why[96];
        snprintf(why, sizeof why, "%zu devices: %zu failed or reverted", rdevs.n, failures);
        set_state(r, ro, "completed", why);
    }
out:
    free(members.items);
    free(rdevs.items);
}

void ald_rollouts_tick(struct ald_rollouts *r)
{
    struct list ros = {NULL, 0, 0, sizeof(struct ald_rollout_rec)};
    pthread_mutex_lock(&r->lock);
    if (r->st->ops->rollout_list(r->st, collect_rollout, &ros) == ALD_STORE_OK)
        for (size_t i = 0; i < ros.n; i++)
            tick_one(r, (struct ald_rollout_rec *)ros.items + i);
    pthread_mutex_unlock(&r->lock);
    free(ros.items);
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
    pthread_mutex_init(&r->lock, NULL);
    atomic_init(&r->stop, false);
    if (pthread_create(&r->thread, NULL, run, r) != 0) {
        pthread_mutex_destroy(&r->lock);
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
    free(r);
}

/* ---- the API's side ---- */

static bool valid_waves(const char *text, char *msg, size_t msglen)
{
    json_t *waves = json_loads(text, 0, NULL), *w;
    size_t i;
    bool ok = json_is_array(waves) && json_array_size(waves) >= 1 &&
              json_array_size(waves) <= MAX_WAVES;
    if (!ok)
        snprintf(msg, msglen, "waves: give 1 to %d waves", MAX_WAVES);
    json_array_foreach(waves, i, w) {
        json_t *c = json_object_get(w, "count"), *p = json_object_get(w, "percent");
        if (!ok)
            break;
        ok = json_object_size(w) == 1 &&
             ((c && json_is_integer(c) && json_integer_value(c) >= 1) ||
              (p && json_is_integer(p) && json_integer_value(p) >= 1 && json_integer_value(p) <= 100));
        if (!ok)
            snprintf(msg, msglen, "waves[%zu]: either {\"count\": N >= 1} or {\"percent\": 1..100}", i);
    }
    json_decref(waves);
    return ok;
}

static bool valid_target(const char *text, char *msg, size_t msglen)
{
    json_t *t = json_loads(text, 0, NULL), *v, *arr;
    const char *key;
    size_t i;
    bool ok = json_is_object(t);
    json_object_foreach(t, key, arr) {
        ok = ok && (!strcmp(key, "groups") || !strcmp(key, "channels")) && json_is_array(arr);
        json_array_foreach(arr, i, v)
            ok = ok && json_is_string(v) && alc_name_valid(json_string_value(v));
    }
    if (!ok)
        snprintf(msg, msglen, "target: {\"groups\": [names], \"channels\": [names]}, both optional");
    json_decref(t);
    return ok;
}

enum ald_rollout_rc ald_rollout_create(struct ald_rollouts *r, struct ald_rollout_rec *rec,
                                       char *msg, size_t msglen)
{
    struct ald_release_rec rel;
    if (r->st->ops->release_get_id(r->st, rec->release_id, &rel) != ALD_STORE_OK) {
        snprintf(msg, msglen, "no such release");
        return ALD_ROLLOUT_NOT_FOUND;
    }
    if (!valid_waves(rec->waves_json, msg, msglen) || !valid_target(rec->target_json, msg, msglen))
        return ALD_ROLLOUT_BAD_REQUEST;
    if (rec->success_percent < 1 || rec->success_percent > 100 || rec->error_count < 0 ||
        rec->error_percent < 0 || rec->error_percent > 100 || rec->rate_per_min < 0) {
        snprintf(msg, msglen, "success_percent 1..100, error_percent 0..100, error_count and "
                 "rate_per_min >= 0");
        return ALD_ROLLOUT_BAD_REQUEST;
    }
    snprintf(rec->state, sizeof rec->state, "running");
    rec->why[0] = '\0';
    pthread_mutex_lock(&r->lock);
    enum ald_store_rc rc = r->st->ops->rollout_create(r->st, rec);
    pthread_mutex_unlock(&r->lock);
    if (rc != ALD_STORE_OK)
        return ALD_ROLLOUT_ERROR;
    emit(r, "rollout.running", NULL, 0, rec->id,
         json_pack("{s:s, s:s}", "release", rel.version, "why", "started"));
    return ALD_ROLLOUT_OK;
}

enum ald_rollout_rc ald_rollout_act(struct ald_rollouts *r, int64_t id, const char *action,
                                    struct ald_rollout_rec *out, char *msg, size_t msglen)
{
    enum ald_rollout_rc rc = ALD_ROLLOUT_OK;
    pthread_mutex_lock(&r->lock);
    if (r->st->ops->rollout_get(r->st, id, out) != ALD_STORE_OK) {
        snprintf(msg, msglen, "no rollout %lld", (long long)id);
        rc = ALD_ROLLOUT_NOT_FOUND;
    } else if (!strcmp(action, "pause") && !strcmp(out->state, "running")) {
        set_state(r, out, "paused", "paused by a user");
    } else if (!strcmp(action, "resume") && !strcmp(out->state, "paused")) {
        set_state(r, out, "running", "resumed by a user");
    } else if (!strcmp(action, "cancel") && (!strcmp(out->state, "running") ||
                                             !strcmp(out->state, "paused"))) {
        struct list rdevs = {NULL, 0, 0, sizeof(struct ald_rollout_device_rec)};
        struct ald_update_rec *upd = malloc(sizeof *upd);
        r->st->ops->rollout_device_list(r->st, id, collect_rdev, &rdevs);
        for (size_t i = 0; upd && i < rdevs.n; i++) {
            struct ald_rollout_device_rec *rd = (struct ald_rollout_device_rec *)rdevs.items + i;
            if (is(rd, "updating"))
                (void)ald_updates_cancel(r->u, rd->update_id, upd);
            if (is(rd, "pending") || is(rd, "deferred") || is(rd, "updating"))
                save_device(r, out, rd, "cancelled", "the rollout was cancelled");
        }
        free(upd);
        free(rdevs.items);
        set_state(r, out, "cancelled", "cancelled by a user");
    } else if (strcmp(action, "pause") && strcmp(action, "resume") && strcmp(action, "cancel")) {
        snprintf(msg, msglen, "unknown action '%s': pause, resume or cancel", action);
        rc = ALD_ROLLOUT_BAD_REQUEST;
    } else {
        snprintf(msg, msglen, "cannot %s a rollout that is %s", action, out->state);
        rc = ALD_ROLLOUT_CONFLICT;
    }
    pthread_mutex_unlock(&r->lock);
    return rc;
}

json_t *ald_rollout_json(struct ald_rollouts *r, const struct ald_rollout_rec *ro)
{
    static const char *const states[] = {"pending", "deferred", "updating", "succeeded",
                                         "failed", "reverted", "cancelled"};
    struct list rdevs = {NULL, 0, 0, sizeof(struct ald_rollout_device_rec)};
    struct ald_release_rec rel;
    json_t *waves = json_array(), *totals = json_object();
    struct ald_product_rec prod;
    bool have_rel = r->st->ops->release_get_id(r->st, ro->release_id, &rel) == ALD_STORE_OK;
    bool have_prod = have_rel && r->st->ops->product_get_id(r->st, rel.product_id, &prod) == ALD_STORE_OK;
    r->st->ops->rollout_device_list(r->st, ro->id, collect_rdev, &rdevs);
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
        json_object_set_new(totals, states[i], json_integer(0));
    for (size_t i = 0; i < rdevs.n; i++) {
        const struct ald_rollout_device_rec *rd = (struct ald_rollout_device_rec *)rdevs.items + i;
        while (json_array_size(waves) <= (size_t)rd->wave) {
            json_t *w = json_pack("{s:i, s:i}", "wave", (int)json_array_size(waves) + 1, "devices", 0);
            for (size_t k = 0; k < sizeof states / sizeof states[0]; k++)
                json_object_set_new(w, states[k], json_integer(0));
            json_array_append_new(waves, w);
        }
        json_t *w = json_array_get(waves, (size_t)rd->wave);
        json_object_set_new(w, "devices", json_integer(json_integer_value(json_object_get(w, "devices")) + 1));
        json_object_set_new(w, rd->state, json_integer(json_integer_value(json_object_get(w, rd->state)) + 1));
        json_object_set_new(totals, rd->state,
                            json_integer(json_integer_value(json_object_get(totals, rd->state)) + 1));
    }
    free(rdevs.items);
    return json_pack("{s:I, s:o, s:o, s:o, s:i, s:i, s:i, s:i, s:I, s:s, s:o, s:I, s:o, s:o, s:o, s:o, s:o}",
        "id", (json_int_t)ro->id,
        "release", have_rel ? json_pack("{s:I, s:s, s:s, s:s, s:o}", "id", (json_int_t)rel.id,
                                        "product", have_prod ? prod.name : "", "version",
                                        rel.version, "channel", rel.channel, "images",
                                        json_loads(rel.images_json, 0, NULL))
                            : json_null(),
        "target", json_loads(ro->target_json, 0, NULL), "waves_spec",
        json_loads(ro->waves_json, 0, NULL), "success_percent", ro->success_percent,
        "error_count", ro->error_count, "error_percent", ro->error_percent, "rate_per_min",
        ro->rate_per_min, "budget_bytes_per_day", (json_int_t)ro->budget_bytes_per_day, "state",
        ro->state, "why", ro->why[0] ? json_string(ro->why) : json_null(), "devices",
        (json_int_t)rdevs.n, "counts", totals, "waves", waves, "created_at",
        ald_time_json(ro->created_at), "updated_at", ald_time_json(ro->updated_at),
        "finished_at", ald_time_json(ro->finished_at));
}
