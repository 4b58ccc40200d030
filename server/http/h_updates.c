/*
 * h_updates.c - updates: queue or preview one (POST /v1/devices/{name}/updates), list a
 * device's, read and cancel one (docs/api.md, "Updates").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_priv.h"
#include "planner.h"
#include "reply.h"
#include "updates.h"

#define UPDATES_LIST_MAX 100 /* the newest a device listing shows */

enum MHD_Result reply_active_update(struct MHD_Connection *c, struct req *r,
                                    const struct ald_result *res,
                                    const struct ald_update_rec *active)
{
    char origin[ALD_NAME_MAX + 32];
    ald_update_origin(active, origin, sizeof origin);
    json_t *upd = json_pack("{s:I, s:s, s:s, s:o, s:o}", "id", (json_int_t)active->id, "state",
                            active->state, "origin", origin, "rollout_id",
                            active->rollout_id ? json_integer(active->rollout_id) : json_null(),
                            "queued_by",
                            active->queued_by[0] ? json_string(active->queued_by) : json_null());
    json_t *err = json_pack("{s:s, s:s, s:o}", "code", res->reason, "message", res->msg,
                            "update", upd);
    return reply_json(c, r, MHD_HTTP_CONFLICT, err ? json_pack("{s:o}", "error", err) : NULL);
}

struct ald_result update_body_parse(json_t *doc, const char **sha, size_t *n, bool *dry_run,
                                    bool *replace)
{
    static const char *const fields[] = {"images", "dry_run", "replace", NULL};
    struct ald_result res = body_fields(doc, fields);
    json_t *images, *v, *dry, *rep;
    size_t i;
    *n = 0;
    if (!ald_is_ok(&res))
        return res;
    images = json_object_get(doc, "images");
    dry = json_object_get(doc, "dry_run");
    rep = json_object_get(doc, "replace");
    if (!json_is_array(images) || json_array_size(images) < 1 ||
        json_array_size(images) > ALD_PLAN_MAX_STEPS || (dry && !json_is_boolean(dry)) ||
        (rep && !json_is_boolean(rep)))
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                        "'images' must be an array of 1..%d image hashes; 'dry_run' and "
                        "'replace' booleans", ALD_PLAN_MAX_STEPS);
    json_array_foreach(images, i, v) {
        if (!(sha[i] = json_string_value(v)))
            return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request", "images[%zu] must be a string",
                            i);
    }
    *n = json_array_size(images);
    *dry_run = json_is_true(dry);
    *replace = json_is_true(rep);
    return res;
}

/* POST /v1/devices/{name}/updates: {"images": [sha256...], "dry_run": bool,
 * "replace": bool}. */
HANDLER(h_updates_create)
{
    enum MHD_Result ret = MHD_NO;
    struct ald_update_rec *u = malloc(sizeof *u), *active = malloc(sizeof *active);
    const char *sha[ALD_PLAN_MAX_STEPS];
    json_t *doc = parse_body(c, r, &ret);
    struct ald_queue_opts opts;
    struct ald_result res;
    bool dry_run, replace, queued;
    size_t n;

    if (!u || !active || !doc)
        goto out;
    res = update_body_parse(doc, sha, &n, &dry_run, &replace);
    if (!ald_is_ok(&res)) {
        ret = reply_result(c, r, &res);
        goto out;
    }
    opts = (struct ald_queue_opts){dry_run, replace, r->token.name, 0};
    memset(active, 0, sizeof *active);
    res = ald_updates_queue_opts(h->updates, r->params[0], sha, n, &opts, u, active);
    if (!ald_is_ok(&res)) {
        ret = active->id ? reply_active_update(c, r, &res, active) : reply_result(c, r, &res);
        goto out;
    }
    queued = strcmp(u->state, "up_to_date") != 0;
    if (queued && !dry_run)
        snprintf(r->location, sizeof r->location, "/v1/updates/%lld", (long long)u->id);
    ret = reply_json(c, r, queued && !dry_run ? MHD_HTTP_CREATED : MHD_HTTP_OK,
                     ald_update_json_live(h->store, u));
out:
    free(u);
    free(active);
    json_decref(doc);
    return ret;
}

static int collect_update(void *ctx, const struct ald_update_rec *u)
{
    return json_array_append_new(ctx, ald_update_json(u, NULL));
}

HANDLER(h_updates_list)
{
    json_t *arr = json_array();
    struct ald_result res;
    if (!arr)
        return MHD_NO;
    res = ald_update_list(h->store, r->params[0], UPDATES_LIST_MAX, collect_update, arr);
    if (!ald_is_ok(&res)) {
        json_decref(arr);
        return reply_result(c, r, &res);
    }
    return reply_json(c, r, MHD_HTTP_OK, json_pack("{s:o}", "updates", arr));
}

HANDLER(h_update_get)
{
    struct ald_update_rec *u = malloc(sizeof *u);
    struct ald_result res;
    enum MHD_Result ret;
    int64_t id = 0;
    if (!u)
        return MHD_NO;
    if (!parse_id(r->params[0], &id))
        ret = reply_error(c, r, MHD_HTTP_NOT_FOUND, "not_found", "update '%s' does not exist",
                          r->params[0]);
    else if (res = ald_update_get(h->store, id, u), !ald_is_ok(&res))
        ret = reply_result(c, r, &res);
    else
        ret = reply_json(c, r, MHD_HTTP_OK, ald_update_json_live(h->store, u));
    free(u);
    return ret;
}

HANDLER(h_update_cancel)
{
    struct ald_update_rec *u = malloc(sizeof *u);
    struct ald_result res;
    enum MHD_Result ret;
    int64_t id = 0;
    if (!u)
        return MHD_NO;
    if (!parse_id(r->params[0], &id))
        ret = reply_error(c, r, MHD_HTTP_NOT_FOUND, "not_found", "update '%s' does not exist",
                          r->params[0]);
    else if (res = ald_updates_cancel(h->updates, id, u), !ald_is_ok(&res))
        ret = reply_result(c, r, &res);
    else
        ret = reply_json(c, r, MHD_HTTP_OK, ald_update_json_live(h->store, u));
    free(u);
    return ret;
}
