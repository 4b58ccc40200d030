/*
 * tls.c - the management API's TLS material (see http_api.h, "TLS"): the certificate chain
 * and private key read from their PEM files and checked with OpenSSL before libmicrohttpd
 * (built on GnuTLS in Debian) is handed them, so a bad file is named in a clear error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "http_api.h"
#include "util.h"

#define TLS_PEM_MAX (256u * 1024u) /* a certificate chain or key file */

/* The whole file at path as a NUL-terminated string, or NULL with err set. */
static char *read_pem(const char *path, const char *what, char *err, size_t errlen)
{
    size_t len = 0;
    uint8_t *data = ald_read_file(path, TLS_PEM_MAX, &len);
    char *text;
    if (!data) {
        snprintf(err, errlen, "%s %s cannot be read (missing, unreadable or over %u bytes)",
                 what, path, TLS_PEM_MAX);
        return NULL;
    }
    text = malloc(len + 1);
    if (text) {
        memcpy(text, data, len);
        text[len] = '\0';
    } else {
        snprintf(err, errlen, "out of memory");
    }
    OPENSSL_cleanse(data, len);
    free(data);
    return text;
}

int ald_http_tls_load(struct ald_http_tls *tls, const char *cert_path, const char *key_path,
                      char *err, size_t errlen)
{
    BIO *bio = NULL;
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    int rc = -1;

    memset(tls, 0, sizeof *tls);
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        snprintf(err, errlen, "this libmicrohttpd is built without TLS (MHD_FEATURE_TLS): "
                 "--tls-cert cannot be served; install a libmicrohttpd built with GnuTLS");
        goto out;
    }
    if (!(tls->cert_pem = read_pem(cert_path, "--tls-cert", err, errlen)) ||
        !(tls->key_pem = read_pem(key_path, "--tls-key", err, errlen)))
        goto out;
    if (!(bio = BIO_new_mem_buf(tls->cert_pem, -1)) ||
        !(cert = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
        snprintf(err, errlen, "--tls-cert %s: no PEM certificate in it (-----BEGIN "
                 "CERTIFICATE-----)", cert_path);
        goto out;
    }
    BIO_free(bio);
    if (!(bio = BIO_new_mem_buf(tls->key_pem, -1)) ||
        !(key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL))) {
        snprintf(err, errlen, "--tls-key %s: no unencrypted PEM private key in it", key_path);
        goto out;
    }
    if (X509_check_private_key(cert, key) != 1) {
        snprintf(err, errlen, "--tls-key %s is not the private key of the certificate in "
                 "--tls-cert %s", key_path, cert_path);
        goto out;
    }
    rc = 0;
out:
    ERR_clear_error();
    BIO_free(bio);
    X509_free(cert);
    EVP_PKEY_free(key);
    if (rc != 0)
        ald_http_tls_free(tls);
    return rc;
}

void ald_http_tls_free(struct ald_http_tls *tls)
{
    if (tls->key_pem)
        OPENSSL_cleanse(tls->key_pem, strlen(tls->key_pem));
    free(tls->cert_pem);
    free(tls->key_pem);
    tls->cert_pem = tls->key_pem = NULL;
}
