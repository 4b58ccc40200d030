/*
 * auth.h - API tokens: 32 random bytes shown as "alt_" + 64 lowercase hex digits. The server
 * keeps only SHA-256 of the token string, so a stolen database reveals no usable token.
 */
#ifndef AIRLIFTD_AUTH_H
#define AIRLIFTD_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

#define ALD_TOKEN_PREFIX "alt_"
#define ALD_TOKEN_LEN 68 /* "alt_" + 64 hex */

/* A fresh token in out (ALD_TOKEN_LEN + 1 bytes) and its hash; false if no randomness. */
bool ald_token_generate(char out[ALD_TOKEN_LEN + 1], uint8_t sha256[32]);

/* Hash of a presented token; false if it is not shaped like a token (no lookup needed). */
bool ald_token_hash(const char *token, uint8_t sha256[32]);

/*
 * Create a token named name with scope in the store; the token string (shown once) goes to
 * out. Returns the store's answer (ALD_STORE_ERROR also when randomness failed).
 */
enum ald_store_rc ald_token_issue(struct ald_store *st, const char *name, enum ald_scope scope,
                                  char out[ALD_TOKEN_LEN + 1], struct ald_token_rec *rec);

#endif
