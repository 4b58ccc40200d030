/* certid.c - see certid.h (issue 14, creds). */
#include "certid.h"

#include <openssl/bio.h>
#include <openssl/evp.h>

#include "airlift_common/hex.h"

bool ald_cert_x509_id(X509 *x, char fingerprint[ALD_CERT_FP_HEX + 1],
                      char subject[ALD_CERT_SUBJECT_MAX + 1])
{
    unsigned char *der = NULL, md[32];
    unsigned int mdlen = 0;
    int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
    bool ok = n > 0 && EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL) == 1 &&
              mdlen == sizeof md;
    OPENSSL_free(der);
    if (!ok)
        return false;
    alc_hex_encode(md, sizeof md, fingerprint);
    subject[0] = '\0';
    BIO *b = BIO_new(BIO_s_mem());
    if (b && X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0) {
        int got = BIO_read(b, subject, ALD_CERT_SUBJECT_MAX);
        subject[got > 0 ? got : 0] = '\0';
    }
    BIO_free(b);
    return true;
}

bool ald_cert_der_id(const unsigned char *der, size_t len, char fingerprint[ALD_CERT_FP_HEX + 1],
                     char subject[ALD_CERT_SUBJECT_MAX + 1])
{
    const unsigned char *p = der;
    X509 *x = len <= 0x7fffffff ? d2i_X509(NULL, &p, (long)len) : NULL;
    bool ok = x && ald_cert_x509_id(x, fingerprint, subject);
    X509_free(x);
    return ok;
}


bool ald_spki_der_fp(const unsigned char *der, size_t len, char fingerprint[ALD_CERT_FP_HEX + 1])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!der || !len || EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
        mdlen != sizeof md)
        return false;
    alc_hex_encode(md, sizeof md, fingerprint);
    return true;
}
