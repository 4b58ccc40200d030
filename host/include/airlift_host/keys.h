/*
 * airlift_host/keys.h - ECDSA P-256 signing keys for host tools (CLI, tests, benches).
 *
 * OpenSSL does the work. The private key never leaves the author's machine: airliftd only
 * ever sees public keys and signed images. Functions return 0 on success, -1 on failure
 * with a message naming the file and what is wrong in err (always NUL-terminated).
 */
#ifndef AIRLIFT_HOST_KEYS_H
#define AIRLIFT_HOST_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "airlift/image.h"

typedef struct alh_key alh_key; /* a P-256 key pair, or a public key alone */

int alh_key_generate(alh_key **out, char *err, size_t errlen);
/* PEM: a private key (PKCS#8 or SEC1) or a public key (SubjectPublicKeyInfo). */
int alh_key_load(const char *path, alh_key **out, char *err, size_t errlen);
/* Written atomically (temp file, fsync, rename); private keys with mode 0600. */
int alh_key_save_private(const alh_key *key, const char *path, char *err, size_t errlen);
int alh_key_save_public(const alh_key *key, const char *path, char *err, size_t errlen);
int alh_key_has_private(const alh_key *key);
/* 65-byte uncompressed point, the form devices keep in their keyring. */
int alh_key_public_point(const alh_key *key, uint8_t pub[AL_P256_PUBKEY_SIZE]);
/* id = first 8 bytes of SHA-256(pub) */
void alh_key_id(const uint8_t pub[AL_P256_PUBKEY_SIZE], uint8_t id[AL_KEY_ID_SIZE]);
/* Raw r || s signature of a SHA-256 digest; needs the private key. */
int alh_sign_digest(const alh_key *key, const uint8_t hash[AL_SHA256_SIZE],
                    uint8_t sig[AL_P256_SIG_SIZE], char *err, size_t errlen);
void alh_key_free(alh_key *key);

#endif
