/*
 * h_rollouts.c - /v1/rollouts: start, list, read, pause, resume and cancel rollouts, and
 * list their devices (docs/api.md, "Fleets"; docs/fleets.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_priv.h"
#include "reply.h"
#include "rollouts.h"
#include "updates.h"

#define INT_FIELDS 5
#define PREVIEW_LIMIT 100      /* devices a dry run lists by default */
#define PREVIEW_LIMIT_MAX 1000 /* and at most */

/* The 503 of the fleet endpoints when the daemon runs no rollout service. */
static enum MHD_Result rollouts_off(struct MHD_Connection *c, struct req *r)
{
    return reply_error(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", "rollouts are off");
}

struct ald_result rollout_body_names(json_t *doc, const char **product, const char **release)
{
    static const char *const fields[] = {"product", "release", "target", "waves",
                                         "success_percent", "error_count", "error_percent",
                                         "rate_per_min", "budget_bytes_per_day", "allow_empty",
                                         "dry_run", "offset", "limit", NULL};
    struct ald_result res = body_fields(doc, fields);
    if (ald_is_ok(&res))
        res = body_string(doc, "product", ALD_NAME_MAX, product);
    if (ald_is_ok(&res))
        res = body_string(doc, "release", ALD_VERSION_MAX, release);
    return res;
}

struct ald_result rollout_body_parse(json_t *doc, struct rollout_body *b)
{
    static const char *const flags[] = {"allow_empty", "dry_run"};
    bool flag[2] = {false, false};
    json_int_t page[2] = {0, PREVIEW_LIMIT}; /* offset, limit */
    static const char *const ints[INT_FIELDS] = {"success_percent", "error_count",
                                                 "error_percent", "rate_per_min",
                                                 "budget_bytes_per_day"};
    json_int_t num[INT_FIELDS] = {100, 0, 0, 0, 0};
    struct ald_rollout_rec *ro = &b->ro;
    json_t *v;
    char *text;

    memset(b, 0, sizeof *b);
    for (size_t i = 0; i < 2; i++) {
        if (!(v = json_object_get(doc, flags[i])))
            continue;
        if (!json_is_boolean(v))
            return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request", "'%s' must be true or false",
                            flags[i]);
        flag[i] = json_is_true(v);
    }
    for (size_t i = 0; i < 2; i++) {
        const char *name = i ? "limit" : "offset";
        if (!(v = json_object_get(doc, name)))
            continue;
        if (!flag[1] || !json_is_integer(v) || json_integer_value(v) < (json_int_t)i ||
            json_integer_value(v) > (i ? PREVIEW_LIMIT_MAX : 1000000000)) {
            if (flag[1])
                return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request", "'%s' must be a whole "
                                "number %s", name, i ? "1..1000" : ">= 0");
            return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                            "'%s' pages a dry run's devices: give \"dry_run\": true", name);
        }
        page[i] = json_integer_value(v);
    }
    for (size_t i = 0; i < INT_FIELDS; i++) {
        if (!(v = json_object_get(doc, ints[i])))
            continue;
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request", "'%s' must be a whole number >= 0",
                            ints[i]);
        num[i] = json_integer_value(v);
    }
    v = json_object_get(doc, "target");
    text = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    snprintf(ro->target_json, sizeof ro->target_json, "%s", v ? (text ? text : "") : "{}");
    free(text);
    v = json_object_get(doc, "waves");
    text = v ? json_dumps(v, JSON_COMPACT) : NULL;
    snprintf(ro->waves_json, sizeof ro->waves_json, "%s", text ? text : "[{\"percent\":100}]");
    free(text);
    /* Out-of-range numbers are clamped to a value the service refuses, never wrapped. */
    ro->success_percent = num[0] > 100 ? 101 : (int)num[0];
    ro->error_count = num[1] > 1000000 ? 1000000 : (int)num[1];
    ro->error_percent = num[2] > 100 ? 101 : (int)num[2];
    ro->rate_per_min = num[3] > 1000000 ? 1000000 : (int)num[3];
    ro->budget_bytes_per_day = (uint64_t)num[4];
    b->allow_empty = flag[0];
    b->dry_run = flag[1];
    b->offset = (size_t)page[0];
    b->limit = (size_t)page[1];
    return ald_ok();
}

/* POST /v1/rollouts: {"product", "release", "target", "waves", "success_percent",
 * "error_count", "error_percent", "rate_per_min", "budget_bytes_per_day", "allow_empty",
 * "dry_run", "offset", "limit"} (the last two page a dry run's device list). */
HANDLER(h_rollouts_create)
{
    enum MHD_Result ret = MHD_NO;
    struct rollout_body b;
    json_t *doc = parse_body(c, r, &ret);
    const char *product, *version;
    struct ald_result res;

    if (!doc)
        goto out;
    res = rollout_body_names(doc, &product, &version);
    if (!ald_is_ok(&res)) {
        ret = reply_result(c, r, &res);
        goto out;
    }
    if (!h->rollouts) {
        ret = rollouts_off(c, r);
        goto out;
    }
    res = rollout_body_parse(doc, &b);
    if (!ald_is_ok(&res)) {
        ret = reply_result(c, r, &res);
        goto out;
    }
    if (b.dry_run) {
        json_t *preview = NULL;
        res = ald_rollout_preview(h->rollouts, product, version, &b.ro, b.allow_empty,
                                  b.offset, b.limit, &preview);
        ret = ald_is_ok(&res) ? reply_json(c, r, MHD_HTTP_OK, preview) : reply_result(c, r, &res);
        goto out;
    }
    res = ald_rollout_create(h->rollouts, product, version, &b.ro, b.allow_empty);
    if (!ald_is_ok(&res)) {
        ret = reply_result(c, r, &res);
        goto out;
    }
    snprintf(r->location, sizeof r->location, "/v1/rollouts/%lld", (long long)b.ro.id);
    ret = reply_json(c, r, MHD_HTTP_CREATED, ald_rollout_json(h->rollouts, &b.ro));
out:
    json_decref(doc);
    return ret;
}

/* GET /v1/rollouts: the newest ALD_ROLLOUT_LIST_MAX (JSON built after the listing: it reads
 * the store). */
HANDLER(h_rollouts_list)
{
    int64_t *ids = malloc(ALD_ROLLOUT_LIST_MAX * sizeof *ids);
    struct ald_rollout_rec ro;
    struct ald_result res;
    json_t *arr = NULL;
    size_t n = 0;
    enum MHD_Result ret = MHD_NO;
    if (!ids || !(arr = json_array()))
        goto out;
    if (!h->rollouts) {
        ret = rollouts_off(c, r);
        goto out;
    }
    res = ald_rollout_ids(h->store, ids, &n);
    if (!ald_is_ok(&res)) {
        ret = reply_result(c, r, &res);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (res = ald_rollout_get(h->store, ids[i], &ro), ald_is_ok(&res))
            json_array_append_new(arr, ald_rollout_json(h->rollouts, &ro));
    ret = reply_json(c, r, MHD_HTTP_OK, json_pack("{s:O}", "rollouts", arr));
out:
    json_decref(arr);
    free(ids);
    return ret;
}

HANDLER(h_rollout_get)
{
    struct ald_rollout_rec ro;
    struct ald_result res;
    int64_t id;
    if (!parse_id(r->params[0], &id))
        return reply_error(c, r, MHD_HTTP_NOT_FOUND, "not_found", "no rollout '%s'", r->params[0]);
    res = ald_rollout_get(h->store, id, &ro);
    if (!ald_is_ok(&res))
        return reply_result(c, r, &res);
    if (!h->rollouts)
        return rollouts_off(c, r);
    return reply_json(c, r, MHD_HTTP_OK, ald_rollout_json(h->rollouts, &ro));
}

static int collect_rollout_device(void *ctx, const struct ald_rollout_device_rec *rd)
{
    return json_array_append_new(
        ctx, json_pack("{s:s, s:i, s:s, s:o, s:o, s:o}", "device", rd->device, "wave",
                       rd->wave + 1, "state", rd->state, "update_id",
                       rd->update_id ? json_integer(rd->update_id) : json_null(), "started_at",
                       ald_time_json(rd->started_at), "finished_at",
                       ald_time_json(rd->finished_at)));
}

HANDLER(h_rollout_devices)
{
    struct ald_result res;
    json_t *arr;
    int64_t id;
    if (!parse_id(r->params[0], &id))
        return reply_error(c, r, MHD_HTTP_NOT_FOUND, "not_found", "no rollout '%s'", r->params[0]);
    if (!(arr = json_array()))
        return MHD_NO;
    res = ald_rollout_devices(h->store, id, collect_rollout_device, arr);
    if (!ald_is_ok(&res)) {
        json_decref(arr);
        return reply_result(c, r, &res);
    }
    return reply_json(c, r, MHD_HTTP_OK, json_pack("{s:o}", "devices", arr));
}

/* POST /v1/rollouts/{id}/{pause|resume|cancel} */
HANDLER(h_rollout_act)
{
    struct ald_rollout_rec ro;
    struct ald_result res;
    int64_t id;
    if (!h->rollouts || !parse_id(r->params[0], &id))
        return reply_error(c, r, MHD_HTTP_NOT_FOUND, "not_found", "no rollout '%s'", r->params[0]);
    res = ald_rollout_act(h->rollouts, id, r->params[1], &ro);
    if (!ald_is_ok(&res))
        return reply_result(c, r, &res);
    return reply_json(c, r, MHD_HTTP_OK, ald_rollout_json(h->rollouts, &ro));
}
