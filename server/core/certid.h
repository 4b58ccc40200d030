/*
 * certid.h - issue 14 (creds): how a device certificate names its device: the SHA-256 of its
 * DER SubjectPublicKeyInfo, lowercase hex (the "fingerprint"), and its subject (RFC 2253)
 * for people. Shared by the core (checking certificates at POST /v1/devices) and the device
 * endpoint (the certificate of a handshake); needs only libcrypto.
 */
#ifndef AIRLIFTD_CERTID_H
#define AIRLIFTD_CERTID_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/x509.h>

#define ALD_CERT_FP_HEX 64
#define ALD_CERT_SUBJECT_MAX 255 /* the subject is cut to this */

/* Fingerprint and subject of x. False if its public key cannot be encoded. */
bool ald_cert_x509_id(X509 *x, char fingerprint[ALD_CERT_FP_HEX + 1],
                      char subject[ALD_CERT_SUBJECT_MAX + 1]);

/* The same of a DER certificate (what a DTLS handshake presents), without any check of its
 * issuer or validity. False if it does not parse. */
bool ald_cert_der_id(const unsigned char *der, size_t len, char fingerprint[ALD_CERT_FP_HEX + 1],
                     char subject[ALD_CERT_SUBJECT_MAX + 1]);
/* issue 14 (rpk): the fingerprint of a raw public key (RFC 7250): the SHA-256 of its DER
 * SubjectPublicKeyInfo (len bytes), as for a certificate's key. False if there is none. */
bool ald_spki_der_fp(const unsigned char *der, size_t len, char fingerprint[ALD_CERT_FP_HEX + 1]);

#endif
