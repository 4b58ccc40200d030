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
#include "util.h"

#define MAX_WAVES ALD_ROLLOUT_MAX_WAVES


static int collect_rdev(void *ctx, const struct ald_rollout_device_rec *rd)
{
    return ald_rlist_append(ctx, rd);
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

static bool set_state(struct ald_rollouts *r, struct ald_rollout_rec *ro, const char *state,
                      const char *why)
{
    bool changed = strcmp(ro->state, state) != 0;
    snprintf(ro->state, sizeof ro->state, "%s", state);
    snprintf(ro->why, sizeof ro->why, "%s", why ? why : "");
    ro->updated_at = ald_now_ms();
    if ((!strcmp(state, "completed") || !strcmp(state, "cancelled")) && !ro->finished_at)
        ro->finished_at = ro->updated_at;
    if (r->st->ops->rollout_save(r->st, ro) != ALD_STORE_OK)
        return false;
    if (!changed)
        return true;
    char type[ALD_EVENT_TYPE_MAX + 1];
    snprintf(type, sizeof type, "rollout.%s", state);
    ald_log(ALD_LOG_INFO, "rollout", "state", state, "why", ro->why, NULL);
    emit(r, type, NULL, 0, ro->id, json_pack("{s:s}", "why", ro->why));
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

struct ald_result ald_rollout_create(struct ald_rollouts *r, const char *product,
                                     const char *version, struct ald_rollout_rec *rec)
{
    struct ald_product_rec prod;
    struct ald_release_rec rel;
    char msg[256];
    enum ald_store_rc rc;
    /* What is missing first: the product, then its release. */
    if (r->st->ops->product_get(r->st, product, &prod) != ALD_STORE_OK)
        return ald_fail(ALD_ERR_NOT_FOUND, "not_found", "product '%s' does not exist", product);
    if (r->st->ops->release_get(r->st, prod.id, version, &rel) != ALD_STORE_OK)
        return ald_fail(ALD_ERR_NOT_FOUND, "not_found", "product '%s' has no release %s",
                        product, version);
    rec->release_id = rel.id;
    if (!valid_waves(rec->waves_json, msg, sizeof msg) ||
        !valid_target(rec->target_json, msg, sizeof msg))
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request", "%s", msg);
    if (rec->success_percent < 1 || rec->success_percent > 100 || rec->error_count < 0 ||
        rec->error_percent < 0 || rec->error_percent > 100 || rec->rate_per_min < 0)
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                        "success_percent 1..100, error_percent 0..100, error_count and "
                        "rate_per_min >= 0");
    snprintf(rec->state, sizeof rec->state, "running");
    rec->why[0] = '\0';
    pthread_mutex_lock(&r->lock);
    rc = r->st->ops->rollout_create(r->st, rec);
    pthread_mutex_unlock(&r->lock);
    if (rc != ALD_STORE_OK)
        return ald_store_failed(rc);
    emit(r, "rollout.running", NULL, 0, rec->id,
         json_pack("{s:s, s:s}", "release", rel.version, "why", "started"));
    return ald_ok();
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
    static const char *const states[] = {"pending", "deferred", "updating", "succeeded",
                                         "failed", "reverted", "cancelled"};
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
