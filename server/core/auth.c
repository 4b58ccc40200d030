/*
 * auth.c - see auth.h.
 */
#include "auth.h"

#include <string.h>

#include <openssl/crypto.h>

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
