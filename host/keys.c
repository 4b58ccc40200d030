/*
 * keys.c - ECDSA P-256 keys for host tools, on OpenSSL 3 (EVP). See keys.h.
 */
#include "airlift_host/keys.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "airlift_common/atomic_file.h"

struct alh_key {
    EVP_PKEY *pkey;
    int has_private;
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (err && errlen) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    ERR_clear_error();
    return -1;
}

static int is_p256(EVP_PKEY *pkey)
{
    char group[64];
    size_t len = 0;
    if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC)
        return 0;
    if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len))
        return 0;
    return strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0;
}

int alh_key_generate(alh_key **out, char *err, size_t errlen)
{
    alh_key *k = calloc(1, sizeof *k);
    if (!k)
        return fail(err, errlen, "out of memory");
    k->pkey = EVP_EC_gen("P-256");
    if (!k->pkey) {
        free(k);
        return fail(err, errlen, "cannot generate a P-256 key");
    }
    k->has_private = 1;
    *out = k;
    return 0;
}

int alh_key_load(const char *path, alh_key **out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    EVP_PKEY *pkey = NULL;
    int has_private = 0;
    if (!f)
        return fail(err, errlen, "cannot open key %s: %s", path, strerror(errno));
    pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    if (pkey) {
        has_private = 1;
    } else {
        ERR_clear_error();
        rewind(f);
        pkey = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    }
    fclose(f);
    if (!pkey)
        return fail(err, errlen, "%s is not a PEM private or public key", path);
    if (!is_p256(pkey)) {
        EVP_PKEY_free(pkey);
        return fail(err, errlen, "%s is not an ECDSA P-256 key", path);
    }
    alh_key *k = calloc(1, sizeof *k);
    if (!k) {
        EVP_PKEY_free(pkey);
        return fail(err, errlen, "out of memory");
    }
    k->pkey = pkey;
    k->has_private = has_private;
    *out = k;
    return 0;
}

/* The key as PEM, written with alc_write_file_atomic_mode(): never a half-written key, and a
 * private key is 0600 from the start. */
static int save_pem(const alh_key *key, const char *path, int private_key, char *err, size_t errlen)
{
    BIO *mem = NULL;
    char *pem;
    long len;
    int rc = -1;
    if (private_key && !key->has_private)
        return fail(err, errlen, "no private key to save");
    if (!(mem = BIO_new(BIO_s_mem())))
        return fail(err, errlen, "out of memory");
    if (!(private_key ? PEM_write_bio_PrivateKey(mem, key->pkey, NULL, NULL, 0, NULL, NULL)
                      : PEM_write_bio_PUBKEY(mem, key->pkey)) ||
        (len = BIO_get_mem_data(mem, &pem)) <= 0) {
        rc = fail(err, errlen, "cannot encode the key as PEM");
        goto out;
    }
    if (alc_write_file_atomic_mode(path, pem, (size_t)len, private_key ? 0600 : 0644) != 0) {
        rc = fail(err, errlen, "cannot write %s: %s", path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    BIO_free(mem);
    return rc;
}

int alh_key_save_private(const alh_key *key, const char *path, char *err, size_t errlen)
{
    return save_pem(key, path, 1, err, errlen);
}

int alh_key_save_public(const alh_key *key, const char *path, char *err, size_t errlen)
{
    return save_pem(key, path, 0, err, errlen);
}

int alh_key_has_private(const alh_key *key)
{
    return key->has_private;
}

int alh_key_public_point(const alh_key *key, uint8_t pub[AL_P256_PUBKEY_SIZE])
{
    size_t len = 0;
    if (!EVP_PKEY_get_octet_string_param(key->pkey, OSSL_PKEY_PARAM_PUB_KEY, pub,
                                         AL_P256_PUBKEY_SIZE, &len) ||
        len != AL_P256_PUBKEY_SIZE || pub[0] != 0x04) {
        /* Keys loaded with a compressed point: ask for the uncompressed form explicitly. */
        unsigned char *buf = NULL;
        EVP_PKEY_set_utf8_string_param(key->pkey, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                       "uncompressed");
        len = EVP_PKEY_get1_encoded_public_key(key->pkey, &buf);
        if (len != AL_P256_PUBKEY_SIZE) {
            OPENSSL_free(buf);
            ERR_clear_error();
            return -1;
        }
        memcpy(pub, buf, AL_P256_PUBKEY_SIZE);
        OPENSSL_free(buf);
    }
    return 0;
}

void alh_key_id(const uint8_t pub[AL_P256_PUBKEY_SIZE], uint8_t id[AL_KEY_ID_SIZE])
{
    uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256(pub, AL_P256_PUBKEY_SIZE, digest);
    memcpy(id, digest, AL_KEY_ID_SIZE);
}

int alh_sign_digest(const alh_key *key, const uint8_t hash[AL_SHA256_SIZE],
                    uint8_t sig[AL_P256_SIG_SIZE], char *err, size_t errlen)
{
    EVP_PKEY_CTX *ctx = NULL;
    unsigned char der[128];
    size_t der_len = sizeof der;
    const unsigned char *p = der;
    ECDSA_SIG *es = NULL;
    int rc = -1;
    if (!key->has_private)
        return fail(err, errlen, "signing needs a private key, this is a public key");
    ctx = EVP_PKEY_CTX_new(key->pkey, NULL);
    if (!ctx || EVP_PKEY_sign_init(ctx) <= 0 ||
        EVP_PKEY_sign(ctx, der, &der_len, hash, AL_SHA256_SIZE) <= 0)
        goto out;
    es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    if (!es)
        goto out;
    const BIGNUM *r = NULL, *s = NULL;
    ECDSA_SIG_get0(es, &r, &s);
    if (BN_bn2binpad(r, sig, 32) != 32 || BN_bn2binpad(s, sig + 32, 32) != 32)
        goto out;
    rc = 0;
out:
    ECDSA_SIG_free(es);
    EVP_PKEY_CTX_free(ctx);
    return rc == 0 ? 0 : fail(err, errlen, "ECDSA signing failed");
}

void alh_key_free(alh_key *key)
{
    if (!key)
        return;
    EVP_PKEY_free(key->pkey);
    free(key);
}
