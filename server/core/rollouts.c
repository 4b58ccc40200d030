/*
 * rollouts.c - see rollouts.h.
 */
#include "rollouts_priv.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "planner.h"
#include "products.h"
#include "util.h"

#define MAX_WAVES ALD_ROLLOUT_MAX_WAVES


static int collect_rdev(void *ctx, const struct ald_rollout_device_rec *rd)
{
    return ald_rlist_append(ctx, rd);
}

static int collect_member(void *ctx, const struct ald_device_summary *d)
{
    struct ald_member m;
    ald_member_of_summary(d, &m);
    return ald_rlist_append(ctx, &m);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void emit(struct ald_rollouts *r, const char *type, const char *device, int64_t update_id,
                 int64_t rollout_id, json_t *data)
{
    char *text = json_dumps(data, JSON_COMPACT);
    ald_event_emit_rollout(r->st, type, device, update_id, rollout_id, text);
    free(text);
    json_decref(data);
}

static bool is(const struct ald_rollout_device_rec *rd, const char *state)
{
    return !strcmp(rd->state, state);
}

static enum ald_store_rc put_device(struct ald_store *tx, void *ctx)
{
    return tx->ops->rollout_device_put(tx, ctx);
}

/* rollout_save raises ro->rev on success: each run of a transaction starts from rev0. */
struct rollout_put {
    struct ald_rollout_rec *ro;
    int64_t rev0;
};
static enum ald_store_rc put_rollout(struct ald_store *tx, void *ctx)
{
    struct rollout_put *p = ctx;
    p->ro->rev = p->rev0;
    return tx->ops->rollout_save(tx, p->ro);
}

/* Save a row with put; if changed, with its event in the same transaction. */
static enum ald_store_rc save_with(struct ald_rollouts *r, enum ald_store_rc (*put)(struct ald_store *, void *),
                                   void *row, bool changed, const char *type, const char *device,
                                   int64_t update_id, int64_t rollout_id, json_t *data)
{
    char *text = changed && data ? json_dumps(data, JSON_COMPACT) : NULL;
    struct ald_event_write w = {put, row, type, device, update_id, rollout_id, text};
    enum ald_store_rc rc = !changed ? put(r->st, row)
                         : text   ? ald_store_write_with_event(r->st, &w)
                                  : ALD_STORE_ERROR;
    free(text);
    json_decref(data);
    return rc;
}

static void save_device(struct ald_rollouts *r, const struct ald_rollout_rec *ro,
                        struct ald_rollout_device_rec *rd, const char *state, const char *why)
{
    bool changed = strcmp(rd->state, state) != 0;
    json_t *data = NULL;
    snprintf(rd->state, sizeof rd->state, "%s", state);
    if (changed) {
        data = json_pack("{s:s, s:i}", "state", state, "wave", rd->wave + 1);
        if (why && why[0])
            json_object_set_new(data, "why", json_string(why));
    }
    (void)save_with(r, put_device, rd, changed, "rollout.device", rd->device, rd->update_id,
                    ro->id, data);
}

static bool set_state(struct ald_rollouts *r, struct ald_rollout_rec *ro, const char *state,
                      const char *why)
{
    bool changed = strcmp(ro->state, state) != 0;
    snprintf(ro->state, sizeof ro->state, "%s", state);
    snprintf(ro->why, sizeof ro->why, "%s", why ? why : "");
    ro->updated_at = ald_now_ms();
    if ((!strcmp(state, "completed") || !strcmp(state, "cancelled") ||
         !strcmp(state, "superseded")) && !ro->finished_at)
        ro->finished_at = ro->updated_at;
    char type[ALD_EVENT_TYPE_MAX + 1];
    snprintf(type, sizeof type, "rollout.%s", state);
    struct rollout_put p = {ro, ro->rev};
    if (save_with(r, put_rollout, &p, changed, type, NULL, 0, ro->id,
                  changed ? json_pack("{s:s}", "why", ro->why) : NULL) != ALD_STORE_OK) {
        ro->rev = p.rev0;
        return false;
    }
    if (changed)
        ald_log(ALD_LOG_INFO, "rollout", "state", state, "why", ro->why, NULL);
    return true;
}

void ald_rollout_emit(struct ald_rollouts *r, const char *type, const char *device,
                      int64_t update_id, int64_t rollout_id, json_t *data)
{
    emit(r, type, device, update_id, rollout_id, data);
}

void ald_rollout_save_device(struct ald_rollouts *r, const struct ald_rollout_rec *ro,
                             struct ald_rollout_device_rec *rd, const char *state,
                             const char *why)
{
    save_device(r, ro, rd, state, why);
}

bool ald_rollout_set_state(struct ald_rollouts *r, struct ald_rollout_rec *ro,
                           const char *state, const char *why)
{
    return set_state(r, ro, state, why);
}

/* ---- the API's side ---- */

bool ald_rollout_waves_valid(const char *text, char *msg, size_t msglen)
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

bool ald_rollout_target_valid(const char *text, char *msg, size_t msglen)
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

/* Distinct group (groups: true) or channel names of the product's devices, comma
 * separated, into buf ("none" if there are none). */
static void names_in_use(struct ald_store *st, int64_t product_id, bool groups, char *buf,
                         size_t cap)
{
    struct ald_device_filter f;
    struct ald_rlist l = {NULL, 0, 0, sizeof(struct ald_member)};
    json_t *seen = json_object(), *v;
    const char *key;
    size_t used = 0;
    memset(&f, 0, sizeof f);
    f.product_id = product_id;
    f.online = -1;
    f.index = -1;
    buf[0] = '\0';
    if (st->ops->device_query(st, &f, collect_member, &l) == ALD_STORE_OK) {
        for (size_t i = 0; i < l.n; i++) {
            const struct ald_member *m = (struct ald_member *)l.items + i;
            if (!groups) {
                json_object_set_new(seen, m->channel, json_true());
                continue;
            }
            json_t *mine = json_loads(m->groups_json, 0, NULL), *g;
            size_t k;
            json_array_foreach(mine, k, g)
                if (json_is_string(g))
                    json_object_set_new(seen, json_string_value(g), json_true());
            json_decref(mine);
        }
    }
    /* jansson keeps insertion order; sort the names for a stable message */
    const char *names[64];
    size_t n = 0;
    json_object_foreach(seen, key, v)
        if (n < 64)
            names[n++] = key;
    qsort(names, n, sizeof names[0], cmp_str);
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", names[i]);
        if (w < 0 || (size_t)w >= cap - used)
            break;
        used += (size_t)w;
    }
    if (!n)
        snprintf(buf, cap, "none");
    json_decref(seen);
    free(l.items);
}

/* Refuse a target naming a group or channel that no device of the product has. */
static struct ald_result check_target(struct ald_store *st, const struct ald_product_rec *prod,
                                      const char *target_json)
{
    static const char *const keys[] = {"groups", "channels"};
    json_t *target = json_loads(target_json, 0, NULL), *v;
    struct ald_result res = ald_ok();
    size_t i;
    for (size_t k = 0; k < 2 && ald_is_ok(&res); k++) {
        json_array_foreach(json_object_get(target, keys[k]), i, v) {
            struct ald_device_filter f;
            uint64_t n = 0;
            char names[256];
            memset(&f, 0, sizeof f);
            f.product_id = prod->id;
            f.online = -1;
            f.index = -1;
            if (k == 0)
                f.group = json_string_value(v);
            else
                f.channel = json_string_value(v);
            if (st->ops->device_count(st, &f, &n) != ALD_STORE_OK) {
                res = ald_store_failed(ALD_STORE_ERROR);
                break;
            }
            if (n)
                continue;
            names_in_use(st, prod->id, k == 0, names, sizeof names);
            res = ald_fail(ALD_ERR_UNPROCESSABLE, "empty_target",
                           "target %s '%s': no device of product '%s' is in it (its %s: %s); "
                           "allow_empty (--allow-empty) starts the rollout anyway",
                           k == 0 ? "group" : "channel", json_string_value(v), prod->name,
                           k == 0 ? "groups" : "channels", names);
            break;
        }
    }
    json_decref(target);
    return res;
}

/* Everything a new rollout (or its preview) is checked for. */
static struct ald_result validate(struct ald_rollouts *r, const char *product,
                                  const char *version, struct ald_rollout_rec *rec,
                                  bool allow_empty, struct ald_product_rec *prod,
                                  struct ald_release_rec *rel)
{
    char msg[256];
    /* What is missing first: the product, then its release. */
    if (r->st->ops->product_get(r->st, product, prod) != ALD_STORE_OK)
        return ald_fail(ALD_ERR_NOT_FOUND, "not_found", "product '%s' does not exist", product);
    if (r->st->ops->release_get(r->st, prod->id, version, rel) != ALD_STORE_OK)
        return ald_release_missing(r->st, prod, version);
    rec->release_id = rel->id;
    if (!ald_rollout_waves_valid(rec->waves_json, msg, sizeof msg) ||
        !ald_rollout_target_valid(rec->target_json, msg, sizeof msg))
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request", "%s", msg);
    if (rec->success_percent < 1 || rec->success_percent > 100 || rec->error_count < 0 ||
        rec->error_percent < 0 || rec->error_percent > 100 || rec->rate_per_min < 0)
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                        "success_percent 1..100, error_percent 0..100, error_count and "
                        "rate_per_min >= 0");
    return allow_empty ? ald_ok() : check_target(r->st, prod, rec->target_json);
}

/* Does target `nt` of release nrel cover every device that `ot` of orel covers (the same
 * product)? Its channels include the other's, and it names no groups or all of the other's. */
static bool target_subsumes(const json_t *nt, const struct ald_release_rec *nrel, const json_t *ot,
                            const struct ald_release_rec *orel)
{
    json_t *nch = json_object_get(nt, "channels"), *och = json_object_get(ot, "channels");
    json_t *ng = json_object_get(nt, "groups"), *og = json_object_get(ot, "groups"), *v;
    size_t i;
    json_t *ochs = json_array_size(och) ? json_incref(och) : json_pack("[s]", orel->channel);
    json_t *nchs = json_array_size(nch) ? json_incref(nch) : json_pack("[s]", nrel->channel);
    bool ok = true;
    json_array_foreach(ochs, i, v) {
        bool in = false;
        json_t *w;
        size_t k;
        json_array_foreach(nchs, k, w)
            in |= json_equal(v, w) != 0;
        ok &= in;
    }
    if (ok && json_array_size(ng)) {
        ok = json_array_size(og) > 0;
        json_array_foreach(og, i, v) {
            bool in = false;
            json_t *w;
            size_t k;
            json_array_foreach(ng, k, w)
                in |= json_equal(v, w) != 0;
            ok &= in;
        }
    }
    json_decref(ochs);
    json_decref(nchs);
    return ok;
}

/* The new rollout `nro` of nrel supersedes the older running or paused rollouts of the
 * product: their devices not started yet that it covers become "superseded" there (each
 * with a rollout.device event; the new rollout enrolls them), and an older rollout whose
 * whole target the new one covers ends as "superseded". Updates under way finish. */
static void supersede(struct ald_rollouts *r, const struct ald_rollout_rec *nro,
                      const struct ald_release_rec *nrel)
{
    struct ald_lives lives = {NULL, 0};
    json_t *nt = json_loads(nro->target_json, 0, NULL);
    struct ald_device_rec *dev = malloc(sizeof *dev);
    if (!dev || !ald_lives_load(r->st, nrel->product_id, 0, &lives))
        goto out;
    for (size_t i = 0; i < lives.n; i++) {
        struct ald_live *o = &lives.items[i];
        struct ald_rlist l = {NULL, 0, 0, sizeof(struct ald_rollout_device_rec)};
        char why[ALD_VERSION_MAX + 64];
        if (o->ro.id == nro->id || !strcmp(o->ro.state, "completed"))
            continue;
        snprintf(why, sizeof why, "moved to rollout %lld (release %s)", (long long)nro->id,
                 nrel->version);
        for (int k = 0; k < 2; k++) {
            struct ald_rollout_device_filter f = {o->ro.id, 0, k ? "deferred" : "pending", -1, 0};
            l.n = 0;
            if (r->st->ops->rollout_device_query(r->st, &f, collect_rdev, &l) != ALD_STORE_OK)
                continue;
            for (size_t d = 0; d < l.n; d++) {
                struct ald_rollout_device_rec *rd = (struct ald_rollout_device_rec *)l.items + d;
                struct ald_member m;
                if (r->st->ops->device_get(r->st, rd->device, dev) != ALD_STORE_OK)
                    continue;
                ald_member_of_device(dev, &m);
                if (ald_rollout_covers(nt, nrel, &m))
                    save_device(r, &o->ro, rd, "superseded", why);
            }
        }
        free(l.items);
        if (target_subsumes(nt, nrel, o->target, &o->rel)) {
            snprintf(why, sizeof why, "superseded by rollout %lld (release %s)",
                     (long long)nro->id, nrel->version);
            set_state(r, &o->ro, "superseded", why);
        }
    }
out:
    ald_lives_free(&lives);
    json_decref(nt);
    free(dev);
}

struct ald_result ald_rollout_create(struct ald_rollouts *r, const char *product,
                                     const char *version, struct ald_rollout_rec *rec,
                                     bool allow_empty)
{
    struct ald_product_rec prod;
    struct ald_release_rec rel;
    enum ald_store_rc rc;
    struct ald_result res = validate(r, product, version, rec, allow_empty, &prod, &rel);
    if (!ald_is_ok(&res))
        return res;
    snprintf(rec->state, sizeof rec->state, "running");
    rec->why[0] = '\0';
    pthread_mutex_lock(&r->lock);
    rc = r->st->ops->rollout_create(r->st, rec);
    if (rc == ALD_STORE_OK) {
        emit(r, "rollout.running", NULL, 0, rec->id,
             json_pack("{s:s, s:s}", "release", rel.version, "why", "started"));
        supersede(r, rec, &rel);
    }
    pthread_mutex_unlock(&r->lock);
    return rc == ALD_STORE_OK ? ald_ok() : ald_store_failed(rc);
}

/* One device of a preview: what it needs, planned as a dry run. */
static json_t *preview_device(struct ald_rollouts *r, const struct ald_release_rec *rel,
                              const struct ald_member *m, int wave, struct ald_update_rec *upd,
                              uint64_t *bytes)
{
    json_t *images = json_loads(rel->images_json, 0, NULL), *v, *o;
    const char *sha[ALD_PLAN_MAX_STEPS];
    size_t n = 0, i;
    json_array_foreach(images, i, v)
        if (n < ALD_PLAN_MAX_STEPS && json_is_string(v))
            sha[n++] = json_string_value(v);
    o = json_pack("{s:s, s:i}", "device", m->name, "wave", wave + 1);
    if (ald_member_pinned_away(m, rel)) {
        json_object_set_new(o, "needs", json_string("pinned"));
        json_object_set_new(o, "why", json_string(m->pinned));
        json_decref(images);
        return o;
    }
    memset(upd, 0, sizeof *upd);
    struct ald_result q = ald_updates_queue(r->u, m->name, sha, n, true, upd, 0);
    if (!ald_is_ok(&q)) {
        json_object_set_new(o, "needs", json_string("error"));
        json_object_set_new(o, "why", json_string(q.msg));
    } else if (!strcmp(upd->state, "up_to_date")) {
        json_object_set_new(o, "needs", json_string("nothing"));
    } else {
        json_t *steps = json_loads(upd->steps_json, 0, NULL), *st = json_array(), *s;
        json_array_foreach(steps, i, s) {
            const char *state = json_string_value(json_object_get(s, "state"));
            if (state && !strcmp(state, "done"))
                continue;
            json_array_append_new(st, json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?}", "function",
                                                json_object_get(s, "function"), "index",
                                                json_object_get(s, "index"), "version",
                                                json_object_get(s, "version"), "encoding",
                                                json_object_get(s, "encoding"), "size",
                                                json_object_get(s, "size")));
        }
        json_decref(steps);
        json_object_set_new(o, "needs", json_string("update"));
        json_object_set_new(o, "estimate_only", json_boolean(upd->estimate_only));
        json_object_set_new(o, "steps", st);
        json_object_set_new(o, "wire_estimate", json_integer((json_int_t)upd->wire_estimate));
        *bytes += upd->wire_estimate;
    }
    json_decref(images);
    return o;
}

struct ald_result ald_rollout_preview(struct ald_rollouts *r, const char *product,
                                      const char *version, struct ald_rollout_rec *rec,
                                      bool allow_empty, size_t offset, size_t limit,
                                      json_t **out)
{
    struct ald_product_rec prod;
    struct ald_release_rec rel;
    struct ald_device_filter f;
    struct ald_rlist members = {NULL, 0, 0, sizeof(struct ald_member)};
    struct ald_update_rec *upd = NULL;
    size_t sizes[MAX_WAVES], nwaves, movable = 0, pinned = 0, listed = 0;
    uint64_t bytes = 0;
    json_t *target = NULL, *list = NULL, *waves = NULL;
    struct ald_result res = validate(r, product, version, rec, allow_empty, &prod, &rel);
    *out = NULL;
    if (!ald_is_ok(&res))
        return res;
    memset(&f, 0, sizeof f);
    f.product_id = prod.id;
    f.online = -1;
    f.index = -1;
    if (!(upd = malloc(sizeof *upd)) || !(list = json_array()) || !(waves = json_array()) ||
        r->st->ops->device_query(r->st, &f, collect_member, &members) != ALD_STORE_OK) {
        res = ald_store_failed(ALD_STORE_ERROR);
        goto out;
    }
    target = json_loads(rec->target_json, 0, NULL);
    /* the devices it would hold: those it covers, movable ones first in name order */
    size_t k = 0;
    for (size_t i = 0; i < members.n; i++) {
        struct ald_member *m = (struct ald_member *)members.items + i;
        if (ald_rollout_covers(target, &rel, m))
            ((struct ald_member *)members.items)[k++] = *m;
    }
    members.n = k;
    for (size_t i = 0; i < members.n; i++)
        movable += !ald_member_pinned_away((struct ald_member *)members.items + i, &rel);
    pinned = members.n - movable;
    nwaves = ald_wave_sizes(rec->waves_json, movable, sizes);
    for (size_t w = 0; w < nwaves; w++)
        json_array_append_new(waves, json_pack("{s:i, s:I}", "wave", (int)w + 1, "devices",
                                               (json_int_t)sizes[w]));
    /* walk them in the order enrolment puts them in waves; list [offset, offset + limit) */
    for (size_t i = 0, pos = 0, w = 0, in_wave = 0; i < members.n && listed < limit; i++) {
        const struct ald_member *m = (struct ald_member *)members.items + i;
        int wave;
        if (ald_member_pinned_away(m, &rel)) {
            wave = (int)(nwaves ? nwaves - 1 : 0);
        } else {
            while (w + 1 < nwaves && in_wave >= sizes[w]) {
                w++;
                in_wave = 0;
            }
            wave = (int)w;
            in_wave++;
        }
        if (pos++ < offset)
            continue;
        json_array_append_new(list, preview_device(r, &rel, m, wave, upd, &bytes));
        listed++;
    }
    json_t *spec = json_loads(rec->waves_json, 0, NULL);
    *out = json_pack("{s:b, s:s, s:s, s:s, s:O, s:o, s:I, s:I, s:I, s:o, s:I, s:I, s:o, s:I, s:o}",
                     "dry_run", 1, "product", prod.name, "release", rel.version, "channel",
                     rel.channel, "target", target, "waves_spec",
                     spec ? spec : json_array(), "devices",
                     (json_int_t)members.n, "movable", (json_int_t)movable, "pinned",
                     (json_int_t)pinned, "waves", waves, "offset", (json_int_t)offset, "limit",
                     (json_int_t)limit, "list", list, "wire_estimate", (json_int_t)bytes,
                     "next_offset", offset + listed < members.n
                                        ? json_integer((json_int_t)(offset + listed))
                                        : json_null());
    waves = list = NULL;
    if (!*out)
        res = ald_store_failed(ALD_STORE_ERROR);
out:
    json_decref(target);
    json_decref(list);
    json_decref(waves);
    free(members.items);
    free(upd);
    return res;
}

struct ald_result ald_rollout_act(struct ald_rollouts *r, int64_t id, const char *action,
                                  struct ald_rollout_rec *out)
{
    struct ald_result res = ald_ok();
    pthread_mutex_lock(&r->lock);
    if (r->st->ops->rollout_get(r->st, id, out) != ALD_STORE_OK) {
        res = ald_fail(ALD_ERR_NOT_FOUND, "not_found", "no rollout %lld", (long long)id);
    } else if (!strcmp(action, "pause") && !strcmp(out->state, "running")) {
        set_state(r, out, "paused", "paused by a user");
    } else if (!strcmp(action, "resume") && !strcmp(out->state, "paused")) {
        set_state(r, out, "running", "resumed by a user");
    } else if (!strcmp(action, "cancel") && (!strcmp(out->state, "running") ||
                                             !strcmp(out->state, "paused"))) {
        struct ald_rlist rdevs = {NULL, 0, 0, sizeof(struct ald_rollout_device_rec)};
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
        /* The action is the last segment of the path: an unknown one names no resource. */
        res = ald_fail(ALD_ERR_NOT_FOUND, "not_found",
                       "unknown action '%s': pause, resume or cancel", action);
    } else {
        res = ald_fail(ALD_ERR_CONFLICT, "conflict", "cannot %s a rollout that is %s", action,
                       out->state);
    }
    pthread_mutex_unlock(&r->lock);
    return res;
}

json_t *ald_rollout_json(struct ald_rollouts *r, const struct ald_rollout_rec *ro)
{
    static const char *const states[] = {"pending",   "deferred",  "updating",
                                         "succeeded", "failed",    "reverted",
                                         "cancelled", "superseded", "pinned",
                                         "hand_flashed"};
    struct ald_rlist rdevs = {NULL, 0, 0, sizeof(struct ald_rollout_device_rec)};
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
