/*
 * devcreds.h - issue 14 (creds): device credentials beyond PSKs. The CAs the operator trusts
 * for device certificates (--device-ca), and the checks a certificate passes before a device
 * is created with it: one PEM certificate, an accepted key type, issued by a configured CA,
 * valid now. A device is found by the SHA-256 of its certificate's SubjectPublicKeyInfo
 * (its "fingerprint", lowercase hex), which is also its identity (docs/protocol.md,
 * "Device credentials").
 */
#ifndef AIRLIFTD_DEVCREDS_H
#define AIRLIFTD_DEVCREDS_H

#include <stdbool.h>
#include <stddef.h>

#include "result.h"
#include "store.h"

#define ALD_DEVICE_CA_MAX 8 /* --device-ca files */

struct ald_device_cas;

/*
 * Read the CA certificates of files[0..n) (PEM, one or more certificates each). Returns
 * NULL with err set (the file and what is wrong) if one cannot be read or holds no
 * certificate. Free with ald_device_cas_free.
 */
struct ald_device_cas *ald_device_cas_load(const char *const *files, size_t n, char *err,
                                           size_t errlen);
void ald_device_cas_free(struct ald_device_cas *cas);

/* All CA certificates, concatenated PEM (for libcoap's PEM_BUF CA), and its length. */
const char *ald_device_cas_pem(const struct ald_device_cas *cas, size_t *len);

/*
 * The device endpoint's own certificate and key (PEM text of --coap-cert, --coap-key, len
 * bytes each): 0 if cert holds a certificate and key the private key of it, else -1 with
 * err saying which (named by cert_name / key_name, the files).
 */
int ald_endpoint_pki_check(const char *cert, size_t cert_len, const char *key, size_t key_len,
                           const char *cert_name, const char *key_name, char *err,
                           size_t errlen);

/*
 * Check a device certificate (PEM text) for creating a device: exactly one certificate, an
 * EC P-256/P-384 or RSA (2048 bits and more) key, issued by one of cas and valid now. On
 * success fills fingerprint (hex SHA-256 of the DER SubjectPublicKeyInfo) and subject
 * (RFC 2253, cut to ALD_SUBJECT_MAX). Errors: BAD_REQUEST naming what is wrong ("not a PEM
 * certificate", "key type ...", "not issued by a configured device CA (--device-ca)",
 * "expired", ...); also BAD_REQUEST when cas is NULL (no --device-ca configured).
 */
struct ald_result ald_device_cert_check(const struct ald_device_cas *cas, const char *pem,
                                        char fingerprint[ALD_SHA256_HEX + 1],
                                        char subject[ALD_SUBJECT_MAX + 1]);

/*
 * issue 14 (rpk): check a device's raw public key (RFC 7250; PEM SubjectPublicKeyInfo, one
 * "-----BEGIN PUBLIC KEY-----" block) for creating a device: the same key types as
 * certificates. On success fills fingerprint (hex SHA-256 of the DER SubjectPublicKeyInfo,
 * what the device presents in its handshake). Errors: BAD_REQUEST naming what is wrong.
 */
struct ald_result ald_device_pubkey_check(const char *pem, char fingerprint[ALD_SHA256_HEX + 1]);

#endif
