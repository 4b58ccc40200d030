/*
 * auth.c - see auth.h.
 */
#include "auth.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "log.h"

#define TOUCH_EVERY_MS 60000 /* last_used_at's resolution: at most one write a minute */

/* Has t passed its expiry (it has one and now is at or past it)? */
static bool token_expired(const struct ald_token_rec *t, int64_t now)
{
    return t->expires_at > 0 && now >= t->expires_at;
}

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
                                  int64_t expires_at, char out[ALD_TOKEN_LEN + 1],
                                  struct ald_token_rec *rec)
{
    size_t n = strlen(name);
    memset(rec, 0, sizeof *rec);
    if (n > ALD_NAME_MAX || !ald_token_generate(out, rec->sha256))
        return ALD_STORE_ERROR;
    memcpy(rec->name, name, n + 1);
    rec->scope = scope;
    rec->expires_at = expires_at;
    return st->ops->token_create(st, rec);
}

/* token_list callback: is ctx->name the name of a live token (neither revoked nor
 * expired)? */
struct name_taken {
    const char *name;
    bool taken;
};
static int live_name(void *ctx, const struct ald_token_rec *t)
{
    struct name_taken *x = ctx;
    if (!t->revoked && !token_expired(t, ald_now_ms()) && !strcmp(t->name, x->name))
        x->taken = true;
    return x->taken;
}

/* ald_token_create's write: the name is free (a token's name is who did what in the events,
 * their actor: one live token per name), the row, and the event's data with its id. */
struct issue_tx {
    struct name_taken *taken;
    const char *name;
    enum ald_scope scope;
    int64_t expires_at;
    const char *expires; /* expires_at formatted, "" if none */
    char *out;
    struct ald_token_rec *rec;
    char *data;
    size_t cap;
};
static enum ald_store_rc issue_row(struct ald_store *tx, void *ctx)
{
    struct issue_tx *it = ctx;
    enum ald_store_rc rc;
    it->taken->taken = false;
    if ((rc = tx->ops->token_list(tx, live_name, it->taken)) != ALD_STORE_OK)
        return rc;
    if (it->taken->taken)
        return ALD_STORE_EXISTS;
    if ((rc = ald_token_issue(tx, it->name, it->scope, it->expires_at, it->out, it->rec)) != ALD_STORE_OK)
        return rc;
    snprintf(it->data, it->cap,
             "{\"id\":%" PRId64 ",\"name\":\"%s\",\"scope\":\"%s\",\"expires_at\":%s%s%s}",
             it->rec->id, it->rec->name, ald_scope_name(it->rec->scope), it->expires_at ? "\"" : "",
             it->expires_at ? it->expires : "null", it->expires_at ? "\"" : "");
    return ALD_STORE_OK;
}

struct ald_result ald_token_create(struct ald_store *st, const char *name, const char *scope,
                                   int64_t expires_at, const char *by,
                                   char out[ALD_TOKEN_LEN + 1], struct ald_token_rec *rec)
{
    struct name_taken taken = {name, false};
    enum ald_scope sc;
    enum ald_store_rc rc;
    char data[200], expires[32] = "";
    if (!alc_name_valid(name))
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                        "token name must be 1..64 of [A-Za-z0-9._-], starting with a letter or "
                        "digit");
    sc = ald_scope_parse(scope);
    if (!sc)
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request", "scope must be read, operator or admin");
    if (expires_at < 0 || (expires_at > 0 && expires_at <= ald_now_ms()))
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                        "expires_at must be in the future (or absent: the token never expires)");
    if (expires_at)
        ald_format_time(expires_at, expires, sizeof expires);
    struct issue_tx it = {&taken, name, sc, expires_at, expires, out, rec, data, sizeof data};
    struct ald_event_write w = {issue_row, &it, "token.created", NULL, 0, 0, data};
    rc = ald_store_write_with_event(st, &w);
    if (rc == ALD_STORE_EXISTS && taken.taken)
        return ald_fail(ALD_ERR_EXISTS, "exists", "a token named '%s' already exists (revoke "
                        "it first, or choose another name)", name);
    if (rc != ALD_STORE_OK)
        return ald_store_failed(rc);
    ald_log(ALD_LOG_INFO, "token created", "name", rec->name, "scope", ald_scope_name(rec->scope),
            "expires", expires_at ? expires : "never", "by", by, NULL);
    return ald_ok();
}

struct ald_result ald_token_list(struct ald_store *st, ald_token_cb each, void *ctx)
{
    enum ald_store_rc rc = st->ops->token_list(st, each, ctx);
    return rc == ALD_STORE_OK ? ald_ok() : ald_store_failed(rc);
}

static int count_active_admins(void *ctx, const struct ald_token_rec *t)
{
    if (t->scope == ALD_SCOPE_ADMIN && !t->revoked && !token_expired(t, ald_now_ms()))
        (*(int *)ctx)++;
    return 0;
}

static enum ald_store_rc revoke_row(struct ald_store *tx, void *ctx)
{
    return tx->ops->token_revoke(tx, *(const int64_t *)ctx);
}

struct ald_result ald_token_revoke(struct ald_store *st, int64_t id, const char *by)
{
    struct ald_token_rec t;
    enum ald_store_rc rc = st->ops->token_get(st, id, &t);
    int admins = 0;
    char data[128];
    if (rc == ALD_STORE_NOT_FOUND)
        return ald_fail(ALD_ERR_NOT_FOUND, "not_found", "token '%" PRId64 "' does not exist", id);
    if (rc != ALD_STORE_OK)
        return ald_store_failed(rc);
    if (t.revoked)
        return ald_ok();
    /* An expired admin token is not counted among the live ones: revoking it is fine. */
    if (t.scope == ALD_SCOPE_ADMIN && !token_expired(&t, ald_now_ms())) {
        if ((rc = st->ops->token_list(st, count_active_admins, &admins)) != ALD_STORE_OK)
            return ald_store_failed(rc);
        if (admins <= 1)
            return ald_fail(ALD_ERR_CONFLICT, "last_admin",
                            "token '%s' (id %" PRId64 ") is the last admin token; create "
                            "another first", t.name, id);
    }
    snprintf(data, sizeof data, "{\"id\":%" PRId64 ",\"name\":\"%s\"}", id, t.name);
    struct ald_event_write w = {revoke_row, &id, "token.revoked", NULL, 0, 0, data};
    if ((rc = ald_store_write_with_event(st, &w)) != ALD_STORE_OK)
        return ald_store_failed(rc);
    ald_log(ALD_LOG_INFO, "token revoked", "name", t.name, "by", by, NULL);
    return ald_ok();
}

struct ald_result ald_token_authenticate(struct ald_store *st, const char *token,
                                         enum ald_scope need, struct ald_token_rec *out)
{
    uint8_t hash[32];
    enum ald_store_rc rc;
    int64_t now = ald_now_ms();
    memset(out, 0, sizeof *out);
    if (!ald_token_hash(token, hash))
        return ald_fail(ALD_ERR_UNAUTHORIZED, "unauthorized",
                        "malformed token: expected alt_ and 64 hex digits");
    rc = st->ops->token_by_hash(st, hash, out);
    if (rc == ALD_STORE_NOT_FOUND)
        return ald_fail(ALD_ERR_UNAUTHORIZED, "unauthorized", "unknown token");
    if (rc != ALD_STORE_OK)
        return ald_store_failed(rc);
    if (out->revoked || token_expired(out, now)) {
        /* Which of the two, and since when: the caller can tell a revoked token from an
         * expired one without asking an admin. */
        char when[32];
        bool revoked = out->revoked;
        int64_t at = revoked ? out->revoked_at : out->expires_at;
        if (at)
            ald_format_time(at, when, sizeof when);
        if (revoked && !at)
            return ald_fail(ALD_ERR_UNAUTHORIZED, "unauthorized", "token '%s' was revoked",
                            out->name);
        return ald_fail(ALD_ERR_UNAUTHORIZED, "unauthorized",
                        revoked ? "token '%s' was revoked at %s" : "token '%s' expired at %s",
                        out->name, when);
    }
    if (out->scope < need)
        return ald_fail(ALD_ERR_FORBIDDEN, "forbidden",
                        "token '%s' has scope '%s'; this request needs '%s'", out->name,
                        ald_scope_name(out->scope), ald_scope_name(need));
    /* last_used_at is kept to the minute: a request whose token was used in the last
     * minute writes nothing (the store's touch has the same rule, for concurrent ones). */
    if (out->last_used_at == 0 || now - out->last_used_at >= TOUCH_EVERY_MS)
        st->ops->token_touch(st, out->id, now);
    return ald_ok();
}

bool ald_token_live(struct ald_store *st, int64_t id)
{
    struct ald_token_rec t;
    enum ald_store_rc rc = st->ops->token_get(st, id, &t);
    return rc == ALD_STORE_OK ? !t.revoked && !token_expired(&t, ald_now_ms())
                              : rc != ALD_STORE_NOT_FOUND;
}
