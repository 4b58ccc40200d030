/*
 * auth.c - see auth.h.
 */
#include "auth.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "log.h"

bool ald_token_generate(char out[ALD_TOKEN_LEN + 1], uint8_t sha256[32])
{
    uint8_t raw[32];
    bool ok = ald_random(raw, sizeof raw);
    if (ok) {
        memcpy(out, ALD_TOKEN_PREFIX, 4);
        alc_hex_encode(raw, sizeof raw, out + 4);
        ald_sha256(out, ALD_TOKEN_LEN, sha256);
    }
    OPENSSL_cleanse(raw, sizeof raw);
    return ok;
}

bool ald_token_hash(const char *token, uint8_t sha256[32])
{
    if (strnlen(token, ALD_TOKEN_LEN + 1) != ALD_TOKEN_LEN ||
        memcmp(token, ALD_TOKEN_PREFIX, 4) != 0 || !alc_is_lower_hex(token + 4, 64))
        return false;
    ald_sha256(token, ALD_TOKEN_LEN, sha256);
    return true;
}

enum ald_store_rc ald_token_issue(struct ald_store *st, const char *name, enum ald_scope scope,
                                  char out[ALD_TOKEN_LEN + 1], struct ald_token_rec *rec)
{
    size_t n = strlen(name);
    memset(rec, 0, sizeof *rec);
    if (n > ALD_NAME_MAX || !ald_token_generate(out, rec->sha256))
        return ALD_STORE_ERROR;
    memcpy(rec->name, name, n + 1);
    rec->scope = scope;
    return st->ops->token_create(st, rec);
}

/* token_list callback: is ctx->name the name of a live token? */
struct name_taken {
    const char *name;
    bool taken;
};
static int live_name(void *ctx, const struct ald_token_rec *t)
{
    struct name_taken *x = ctx;
    if (!t->revoked && !strcmp(t->name, x->name))
        x->taken = true;
    return x->taken;
}

struct ald_result ald_token_create(struct ald_store *st, const char *name, const char *scope,
                                   const char *by, char out[ALD_TOKEN_LEN + 1],
                                   struct ald_token_rec *rec)
{
    struct name_taken taken = {name, false};
    enum ald_scope sc;
    enum ald_store_rc rc;
    char data[160];
    if (!alc_name_valid(name))
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                        "token name must be 1..64 of [A-Za-z0-9._-], starting with a letter or "
                        "digit");
    sc = ald_scope_parse(scope);
    if (!sc)
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request", "scope must be read, operator or admin");
    /* A token's name is who did what in the events (their actor): one live token per name. */
    if ((rc = st->ops->token_list(st, live_name, &taken)) != ALD_STORE_OK)
        return ald_store_failed(rc);
    if (taken.taken)
        return ald_fail(ALD_ERR_EXISTS, "exists", "a token named '%s' already exists (revoke "
                        "it first, or choose another name)", name);
    if ((rc = ald_token_issue(st, name, sc, out, rec)) != ALD_STORE_OK)
        return ald_store_failed(rc);
    snprintf(data, sizeof data, "{\"id\":%" PRId64 ",\"name\":\"%s\",\"scope\":\"%s\"}", rec->id,
             rec->name, ald_scope_name(rec->scope));
    ald_event_emit(st, "token.created", NULL, 0, data);
    ald_log(ALD_LOG_INFO, "token created", "name", rec->name, "scope", ald_scope_name(rec->scope),
            "by", by, NULL);
    return ald_ok();
}

struct ald_result ald_token_list(struct ald_store *st, ald_token_cb each, void *ctx)
{
    enum ald_store_rc rc = st->ops->token_list(st, each, ctx);
    return rc == ALD_STORE_OK ? ald_ok() : ald_store_failed(rc);
}

static int count_active_admins(void *ctx, const struct ald_token_rec *t)
{
    if (t->scope == ALD_SCOPE_ADMIN && !t->revoked)
        (*(int *)ctx)++;
    return 0;
}

struct ald_result ald_token_revoke(struct ald_store *st, int64_t id, const char *by)
{
    struct ald_token_rec t;
    enum ald_store_rc rc = st->ops->token_get(st, id, &t);
    int admins = 0;
    char data[64];
    if (rc == ALD_STORE_NOT_FOUND)
        return ald_fail(ALD_ERR_NOT_FOUND, "not_found", "token '%" PRId64 "' does not exist", id);
    if (rc != ALD_STORE_OK)
        return ald_store_failed(rc);
    if (t.revoked)
        return ald_ok();
    if (t.scope == ALD_SCOPE_ADMIN) {
        if ((rc = st->ops->token_list(st, count_active_admins, &admins)) != ALD_STORE_OK)
            return ald_store_failed(rc);
        if (admins <= 1)
            return ald_fail(ALD_ERR_CONFLICT, "last_admin",
                            "token %" PRId64 " is the last admin token; create another first", id);
    }
    if ((rc = st->ops->token_revoke(st, id)) != ALD_STORE_OK)
        return ald_store_failed(rc);
    snprintf(data, sizeof data, "{\"id\":%" PRId64 "}", id);
    ald_event_emit(st, "token.revoked", NULL, 0, data);
    ald_log(ALD_LOG_INFO, "token revoked", "name", t.name, "by", by, NULL);
    return ald_ok();
}

struct ald_result ald_token_authenticate(struct ald_store *st, const char *token,
                                         enum ald_scope need, struct ald_token_rec *out)
{
    uint8_t hash[32];
    enum ald_store_rc rc;
    memset(out, 0, sizeof *out);
    if (!ald_token_hash(token, hash))
        return ald_fail(ALD_ERR_UNAUTHORIZED, "unauthorized",
                        "malformed token: expected alt_ and 64 hex digits");
    rc = st->ops->token_by_hash(st, hash, out);
    if (rc == ALD_STORE_NOT_FOUND)
        return ald_fail(ALD_ERR_UNAUTHORIZED, "unauthorized", "unknown token");
    if (rc != ALD_STORE_OK)
        return ald_store_failed(rc);
    if (out->revoked)
        return ald_fail(ALD_ERR_UNAUTHORIZED, "unauthorized", "token revoked");
    if (out->scope < need)
        return ald_fail(ALD_ERR_FORBIDDEN, "forbidden",
                        "token '%s' has scope '%s'; this request needs '%s'", out->name,
                        ald_scope_name(out->scope), ald_scope_name(need));
    st->ops->token_touch(st, out->id, ald_now_ms());
    return ald_ok();
}

bool ald_token_live(struct ald_store *st, int64_t id)
{
    struct ald_token_rec t;
    enum ald_store_rc rc = st->ops->token_get(st, id, &t);
    return rc == ALD_STORE_OK ? !t.revoked : rc != ALD_STORE_NOT_FOUND;
}
