/* devcreds.c - see devcreds.h (issue 14, creds). On OpenSSL's libcrypto. */
#include "devcreds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "certid.h"

#define CERT_PEM_MAX 16384 /* a device certificate, as the API takes it */

struct ald_device_cas {
    X509_STORE *store;
    char *pem; /* every CA certificate, PEM, NUL-terminated */
    size_t pem_len;
};

/* Append the PEM of x to cas->pem. */
static bool add_pem(struct ald_device_cas *cas, X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL;
    long n = b && PEM_write_bio_X509(b, x) ? BIO_get_mem_data(b, &data) : 0;
    char *grown = n > 0 ? realloc(cas->pem, cas->pem_len + (size_t)n + 1) : NULL;
    if (grown) {
        memcpy(grown + cas->pem_len, data, (size_t)n);
        cas->pem_len += (size_t)n;
        grown[cas->pem_len] = '\0';
        cas->pem = grown;
    }
    BIO_free(b);
    return grown != NULL;
}

struct ald_device_cas *ald_device_cas_load(const char *const *files, size_t n, char *err,
                                           size_t errlen)
{
    struct ald_device_cas *cas = calloc(1, sizeof *cas);
    if (!cas || !(cas->store = X509_STORE_new())) {
        snprintf(err, errlen, "out of memory");
        ald_device_cas_free(cas);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        FILE *f = fopen(files[i], "r");
        X509 *x;
        int count = 0;
        if (!f) {
            snprintf(err, errlen, "--device-ca %s: cannot open it", files[i]);
            ald_device_cas_free(cas);
            return NULL;
        }
        while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
            bool ok = X509_STORE_add_cert(cas->store, x) == 1 && add_pem(cas, x);
            X509_free(x);
            if (!ok) {
                fclose(f);
                snprintf(err, errlen, "--device-ca %s: cannot add certificate %d", files[i],
                         count + 1);
                ald_device_cas_free(cas);
                return NULL;
            }
            count++;
        }
        ERR_clear_error(); /* the end of the file */
        fclose(f);
        if (!count) {
            snprintf(err, errlen, "--device-ca %s: no PEM certificate in it", files[i]);
            ald_device_cas_free(cas);
            return NULL;
        }
    }
    return cas;
}

void ald_device_cas_free(struct ald_device_cas *cas)
{
    if (!cas)
        return;
    X509_STORE_free(cas->store);
    free(cas->pem);
    free(cas);
}

const char *ald_device_cas_pem(const struct ald_device_cas *cas, size_t *len)
{
    *len = cas ? cas->pem_len : 0;
    return cas ? cas->pem : NULL;
}

int ald_endpoint_pki_check(const char *cert, size_t cert_len, const char *key, size_t key_len,
                           const char *cert_name, const char *key_name, char *err,
                           size_t errlen)
{
    BIO *cb = cert_len <= 0x7fffffff ? BIO_new_mem_buf(cert, (int)cert_len) : NULL;
    BIO *kb = key_len <= 0x7fffffff ? BIO_new_mem_buf(key, (int)key_len) : NULL;
    X509 *x = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
    EVP_PKEY *k = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
    int rc = -1;
    if (!x)
        snprintf(err, errlen, "--coap-cert %s: no PEM certificate in it", cert_name);
    else if (!k)
        snprintf(err, errlen, "--coap-key %s: no PEM private key in it (or one with a "
                              "passphrase)", key_name);
    else if (X509_check_private_key(x, k) != 1)
        snprintf(err, errlen, "--coap-key %s is not the private key of the certificate in "
                              "--coap-cert %s", key_name, cert_name);
    else
        rc = 0;
    ERR_clear_error();
    EVP_PKEY_free(k);
    X509_free(x);
    BIO_free(kb);
    BIO_free(cb);
    return rc;
}

/* NULL if key k is one devices may use, else what is wrong with it. */
static const char *pkey_refused(EVP_PKEY *k)
{
    char group[64] = "";
    size_t glen = 0;
    if (!k)
        return "its public key cannot be read";
    if (EVP_PKEY_is_a(k, "EC")) {
        if (EVP_PKEY_get_group_name(k, group, sizeof group, &glen) == 1 &&
            (!strcmp(group, "prime256v1") || !strcmp(group, "secp384r1")))
            return NULL;
        return "key type EC on a curve other than P-256 or P-384 is not accepted";
    }
    if (EVP_PKEY_is_a(k, "RSA"))
        return EVP_PKEY_get_bits(k) >= 2048 ? NULL
                                            : "key type RSA under 2048 bits is not accepted";
    return "key type not accepted (EC P-256, EC P-384 or RSA of 2048 bits or more)";
}

/* NULL if x's key is one devices may use, else what is wrong with it. */
static const char *key_refused(X509 *x)
{
    return pkey_refused(X509_get0_pubkey(x));
}

struct ald_result ald_device_cert_check(const struct ald_device_cas *cas, const char *pem,
                                        char fingerprint[ALD_SHA256_HEX + 1],
                                        char subject[ALD_SUBJECT_MAX + 1])
{
    struct ald_result res = ald_ok();
    size_t len = strnlen(pem, CERT_PEM_MAX + 1);
    BIO *b = NULL;
    X509 *x = NULL, *extra = NULL;
    X509_STORE_CTX *ctx = NULL;
    const char *why;
    if (!cas)
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                        "credential: certificates need a device CA: start airliftd with "
                        "--device-ca FILE");
    if (len > CERT_PEM_MAX)
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                        "credential.certificate: longer than %d bytes", CERT_PEM_MAX);
    if (!strstr(pem, "-----BEGIN CERTIFICATE-----") || !(b = BIO_new_mem_buf(pem, (int)len)) ||
        !(x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
        res = ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                       "credential.certificate: not a PEM certificate "
                       "(-----BEGIN CERTIFICATE-----)");
        goto out;
    }
    if ((extra = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        res = ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                       "credential.certificate: more than one certificate; give the device's "
                       "own (its CA goes to --device-ca)");
        goto out;
    }
    if ((why = key_refused(x))) {
        res = ald_fail(ALD_ERR_BAD_REQUEST, "bad_request", "credential.certificate: %s", why);
        goto out;
    }
    ctx = X509_STORE_CTX_new();
    if (!ctx || X509_STORE_CTX_init(ctx, cas->store, x, NULL) != 1) {
        res = ald_fail(ALD_ERR_INTERNAL, "internal", "cannot check the certificate");
        goto out;
    }
    if (X509_verify_cert(ctx) != 1) {
        int e = X509_STORE_CTX_get_error(ctx);
        bool unknown = e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
                       e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
                       e == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
                       e == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
                       e == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE;
        res = unknown ? ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                                 "credential.certificate: not issued by a configured device "
                                 "CA (--device-ca)")
                      : ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                                 "credential.certificate: refused: %s",
                                 X509_verify_cert_error_string(e));
        goto out;
    }
    if (!ald_cert_x509_id(x, fingerprint, subject))
        res = ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                       "credential.certificate: its public key cannot be read");
out:
    ERR_clear_error();
    X509_STORE_CTX_free(ctx);
    X509_free(extra);
    X509_free(x);
    BIO_free(b);
    return res;
}

/* issue 14 (rpk): see devcreds.h. */
struct ald_result ald_device_pubkey_check(const char *pem, char fingerprint[ALD_SHA256_HEX + 1])
{
    struct ald_result res = ald_ok();
    size_t len = strnlen(pem, CERT_PEM_MAX + 1);
    BIO *b = NULL;
    EVP_PKEY *k = NULL, *extra = NULL;
    unsigned char *der = NULL;
    const char *why;
    if (len > CERT_PEM_MAX)
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                        "credential.public_key: longer than %d bytes", CERT_PEM_MAX);
    if (!strstr(pem, "-----BEGIN PUBLIC KEY-----") || !(b = BIO_new_mem_buf(pem, (int)len)) ||
        !(k = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL))) {
        res = ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                       "credential.public_key: not a PEM public key "
                       "(-----BEGIN PUBLIC KEY-----, SubjectPublicKeyInfo)");
        goto out;
    }
    if ((extra = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL)) != NULL) {
        res = ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                       "credential.public_key: more than one public key; give the device's");
        goto out;
    }
    if ((why = pkey_refused(k))) {
        res = ald_fail(ALD_ERR_BAD_REQUEST, "bad_request", "credential.public_key: %s", why);
        goto out;
    }
    int n = i2d_PUBKEY(k, &der);
    if (n <= 0 || !ald_spki_der_fp(der, (size_t)n, fingerprint))
        res = ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                       "credential.public_key: the key cannot be encoded");
out:
    ERR_clear_error();
    OPENSSL_free(der);
    EVP_PKEY_free(extra);
    EVP_PKEY_free(k);
    BIO_free(b);
    return res;
}
