/*
 * h_tokens.c - /v1/tokens: create, list, revoke API tokens (docs/api.md, "Tokens").
 */
#include "auth.h"
#include "http_priv.h"
#include "reply.h"
#include "updates.h"

static json_t *token_json(const struct ald_token_rec *t)
{
    return json_pack("{s:I, s:s, s:s, s:o, s:o, s:b}", "id", (json_int_t)t->id, "name", t->name,
                     "scope", ald_scope_name(t->scope), "created_at", ald_time_json(t->created_at),
                     "last_used_at", ald_time_json(t->last_used_at), "revoked", t->revoked);
}

/* POST /v1/tokens: {"name", "scope"}. */
HANDLER(h_tokens_create)
{
    static const char *const fields[] = {"name", "scope", NULL};
    enum MHD_Result ret = MHD_NO;
    struct ald_token_rec rec;
    struct ald_result res;
    char token[ALD_TOKEN_LEN + 1];
    const char *name, *scope;
    json_t *doc = parse_body(c, r, &ret), *body;

    if (!doc || !only_fields(c, r, doc, fields, &ret))
        goto out;
    if (!(name = string_field(c, r, doc, "name", ALD_NAME_MAX, &ret)) ||
        !(scope = string_field(c, r, doc, "scope", 16, &ret)))
        goto out;
    res = ald_token_create(h->store, name, scope, r->token.name, token, &rec);
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
