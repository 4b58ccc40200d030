/*
 * auth.h - API tokens: 32 random bytes shown as "alt_" + 64 lowercase hex digits. The server
 * keeps only SHA-256 of the token string, so a stolen database reveals no usable token.
 */
#ifndef AIRLIFTD_AUTH_H
#define AIRLIFTD_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "result.h"
#include "store.h"

#define ALD_TOKEN_PREFIX "alt_"
#define ALD_TOKEN_LEN 68 /* "alt_" + 64 hex */

/* A fresh token in out (ALD_TOKEN_LEN + 1 bytes) and its hash; false if no randomness. */
bool ald_token_generate(char out[ALD_TOKEN_LEN + 1], uint8_t sha256[32]);

/* Hash of a presented token; false if it is not shaped like a token (no lookup needed). */
bool ald_token_hash(const char *token, uint8_t sha256[32]);

/*
 * Create a token named name with scope in the store, expiring at expires_at (ms since the
 * epoch; 0: never); the token string (shown once) goes to out. Returns the store's answer
 * (ALD_STORE_ERROR also when randomness failed).
 */
enum ald_store_rc ald_token_issue(struct ald_store *st, const char *name, enum ald_scope scope,
                                  int64_t expires_at, char out[ALD_TOKEN_LEN + 1],
                                  struct ald_token_rec *rec);

/* ---- the tokens service (POST/GET/DELETE /v1/tokens, and every request's bearer) ---- */

/*
 * Create a token named `name` (alc_name_valid) with the scope named `scope` ("read",
 * "operator", "admin") that expires at expires_at (ms since the epoch, in the future; 0:
 * never), on behalf of the token named `by` (for the log). On success the token string
 * (shown once) is in out, its record in *rec, and a token.created event is recorded.
 * Errors: BAD_REQUEST (name, scope, expiry not in the future), EXISTS (a live token — not
 * revoked, not expired — has this name), INTERNAL.
 */
struct ald_result ald_token_create(struct ald_store *st, const char *name, const char *scope,
                                   int64_t expires_at, const char *by,
                                   char out[ALD_TOKEN_LEN + 1], struct ald_token_rec *rec);

/* Call each(ctx, token) for every token, revoked ones too. Errors: INTERNAL. */
struct ald_result ald_token_list(struct ald_store *st, ald_token_cb each, void *ctx);

/*
 * Revoke token `id` on behalf of `by` (its revoked_at is now); revoking a revoked token
 * succeeds and does nothing. Errors: NOT_FOUND, CONFLICT "last_admin" (it is the last live
 * admin token: neither revoked nor expired), INTERNAL.
 */
struct ald_result ald_token_revoke(struct ald_store *st, int64_t id, const char *by);

/*
 * Authenticate the presented token string: it must be shaped like a token, name a token
 * that is neither revoked nor expired, and have at least scope `need`. On success *out is
 * the token and its use is recorded (a store write at most once a minute per token).
 * Errors: UNAUTHORIZED (malformed, unknown; revoked: "token 'ci' was revoked at <RFC 3339>";
 * expired: "token 'ci' expired at <RFC 3339>"), FORBIDDEN (scope too low; *out is the
 * token), INTERNAL.
 */
struct ald_result ald_token_authenticate(struct ald_store *st, const char *token,
                                         enum ald_scope need, struct ald_token_rec *out);

/* Is token `id` still live (neither revoked nor expired)? A failing store counts as live: a
 * stream is not cut for the database's hiccup. */
bool ald_token_live(struct ald_store *st, int64_t id);

#endif
