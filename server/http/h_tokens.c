/*
 * h_tokens.c - /v1/tokens: create, list, revoke API tokens (docs/api.md, "Tokens").
 */
#include <string.h>

#include "airlift_common/timeparse.h"
#include "auth.h"
#include "http_priv.h"
#include "reply.h"
#include "updates.h"
#include "util.h"

static json_t *token_json(const struct ald_token_rec *t)
{
    bool expired = t->expires_at > 0 && ald_now_ms() >= t->expires_at;
    return json_pack("{s:I, s:s, s:s, s:o, s:o, s:b, s:o, s:o, s:b}", "id", (json_int_t)t->id,
                     "name", t->name, "scope", ald_scope_name(t->scope), "created_at",
                     ald_time_json(t->created_at), "last_used_at",
                     ald_time_json(t->last_used_at), "revoked", t->revoked, "revoked_at",
                     ald_time_json(t->revoked_at), "expires_at", ald_time_json(t->expires_at),
                     "expired", expired);
}

#define EXPIRES_IN_MAX (10ll * 366 * 86400) /* ten years */

/* The optional expiry: at most one of "expires_at" and "expires_in", into *out. */
static struct ald_result expires_field(json_t *doc, int64_t now, int64_t *out)
{
    json_t *at = json_object_get(doc, "expires_at"), *in = json_object_get(doc, "expires_in");
    const char *s = json_string_value(at);
    bool has_at = at && !json_is_null(at), has_in = in && !json_is_null(in);
    *out = 0;
    if (has_at && has_in)
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                        "give expires_at or expires_in, not both");
    if (has_in) {
        json_int_t secs = json_integer_value(in);
        if (!json_is_integer(in) || secs < 1 || secs > EXPIRES_IN_MAX)
            return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                            "expires_in must be a number of seconds, 1..%lld", EXPIRES_IN_MAX);
        *out = now + (int64_t)secs * 1000;
        return ald_ok();
    }
    if (!has_at)
        return ald_ok();
    /* alc_parse_time also reads durations before now ("7d"): a time has a '-' in its date. */
    if (!s || strlen(s) > 40 || !strchr(s, '-') || !alc_parse_time(s, now, out))
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                        "expires_at must be an RFC 3339 time (\"2026-12-31T00:00:00Z\") or "
                        "null");
    if (*out <= 0) /* 1970-01-01T00:00:00Z itself: not "never" */
        *out = 1;
    return ald_ok();
}

struct ald_result token_body_parse(json_t *doc, int64_t now, const char **name,
                                   const char **scope, int64_t *expires_at)
{
    static const char *const fields[] = {"name", "scope", "expires_at", "expires_in", NULL};
    struct ald_result res = body_fields(doc, fields);
    if (ald_is_ok(&res))
        res = body_string(doc, "name", ALD_NAME_MAX, name);
    if (ald_is_ok(&res))
        res = body_string(doc, "scope", 16, scope);
    if (ald_is_ok(&res))
        res = expires_field(doc, now, expires_at);
    return res;
}

/* POST /v1/tokens: {"name", "scope", "expires_at"? | "expires_in"?}. */
HANDLER(h_tokens_create)
{
    enum MHD_Result ret = MHD_NO;
    struct ald_token_rec rec;
    struct ald_result res;
    char token[ALD_TOKEN_LEN + 1];
    const char *name, *scope;
    int64_t expires_at;
    json_t *doc = parse_body(c, r, &ret), *body;

    if (!doc)
        goto out;
    res = token_body_parse(doc, ald_now_ms(), &name, &scope, &expires_at);
    if (!ald_is_ok(&res)) {
        ret = reply_result(c, r, &res);
        goto out;
    }
    res = ald_token_create(h->store, name, scope, expires_at, r->token.name, token, &rec);
    if (!ald_is_ok(&res)) {
        ret = reply_result(c, r, &res);
        goto out;
    }
    body = token_json(&rec);
    if (body)
        json_object_set_new(body, "token", json_string(token));
    ret = reply_json(c, r, MHD_HTTP_CREATED, body);
out:
    json_decref(doc);
    return ret;
}

static int collect_token(void *ctx, const struct ald_token_rec *t)
{
    return json_array_append_new(ctx, token_json(t));
}

HANDLER(h_tokens_list)
{
    json_t *arr = json_array();
    struct ald_result res;
    if (!arr)
        return MHD_NO;
    res = ald_token_list(h->store, collect_token, arr);
    if (!ald_is_ok(&res)) {
        json_decref(arr);
        return reply_result(c, r, &res);
    }
    return reply_json(c, r, MHD_HTTP_OK, json_pack("{s:o}", "tokens", arr));
}

/* DELETE /v1/tokens/{id} */
HANDLER(h_token_delete)
{
    struct ald_result res;
    int64_t id;
    if (!parse_id(r->params[0], &id))
        return reply_error(c, r, MHD_HTTP_NOT_FOUND, "not_found", "token '%s' does not exist",
                           r->params[0]);
    res = ald_token_revoke(h->store, id, r->token.name);
    if (!ald_is_ok(&res))
        return reply_result(c, r, &res);
    return reply_empty(c, r, MHD_HTTP_NO_CONTENT);
}

/* issue 13 (console): GET /v1/whoami: the caller's token, {"name", "scope"}, so a client
 * (the web console) shows only what the token may do. */
HANDLER(h_whoami)
{
    (void)h;
    return reply_json(c, r, MHD_HTTP_OK,
                      json_pack("{s:s, s:s}", "name", r->token.name, "scope",
                                ald_scope_name(r->token.scope)));
}
