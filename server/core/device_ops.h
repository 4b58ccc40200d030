/*
 * device_ops.h - what a device endpoint asks of the core: the operations the update service
 * implements (core/updates.c) and a transport adapter (coap/coap_endpoint.c) calls for every
 * authenticated message. Nothing here knows CoAP beyond the reply codes it returns.
 */
#ifndef AIRLIFTD_DEVICE_OPS_H
#define AIRLIFTD_DEVICE_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ALD_PSK_MAX 64
#define ALD_IDENTITY_MAX 64
/* issue 14 (creds): cert_lookup's answers */
#define ALD_CERT_OK 0
#define ALD_CERT_UNKNOWN 1  /* no device has this key */
#define ALD_CERT_REVOKED 2  /* its device was removed or is disabled */
#define ALD_COAP_REMOVED 131 /* 4.03: the inventory of a removed device (docs/protocol.md) */

struct ald_device_ops {
    void *ctx;
    /* Key for a PSK identity: its length, or -1 if no such device (the handshake fails). */
    int (*psk_lookup)(void *ctx, const char *identity, uint8_t key[ALD_PSK_MAX]);
    /* issue 14 (creds): failure NULL: a device certificate that chains to a configured CA
     * and is valid was presented (fingerprint: hex SHA-256 of its SubjectPublicKeyInfo,
     * subject for the log); ALD_CERT_OK if a live, enabled x509 device has that key (its
     * identity is the fingerprint), else why not, logged. failure set: the handshake's
     * certificate was refused for that reason ("certificate expired", ...; fingerprint and
     * subject "" if unknown): only logged. May be NULL (no certificate devices).
     * issue 14 (rpk): subject NULL: a raw public key (RFC 7250) was presented, fingerprint
     * its SubjectPublicKeyInfo's; ALD_CERT_OK if a live, enabled rpk device has it. */
    int (*cert_lookup)(void *ctx, const char *fingerprint, const char *subject,
                       const char *failure);
    /* An inventory arrived: write the plan (docs/protocol.md) into plan. Return a CoAP code
     * as class * 32 + detail: 68 (2.04) with a plan, 128 (4.00) for a malformed message,
     * 131 (4.03, ALD_COAP_REMOVED) from a removed device (the tombstone's identity),
     * 163 (5.03) while the database is unreachable, 160 (5.00) for any other failure. */
    int (*inventory)(void *ctx, const char *identity, const uint8_t *msg, size_t len,
                     uint8_t *plan, size_t cap, size_t *plan_len);
    /* A status report arrived: 68, or 128 if malformed. */
    int (*status)(void *ctx, const char *identity, const uint8_t *msg, size_t len);
    /* The whole transfer resource of step `step` of plan `plan` for this device, or NULL
     * (4.04); the endpoint is about to send its bytes from `offset` up to `end` (a Block2
     * block or a window; end may lie past the size). The pointer must stay valid until
     * release(ctx, ptr), which the endpoint calls once the bytes are sent. */
    const uint8_t *(*transfer)(void *ctx, const char *identity, uint32_t plan, uint8_t step,
                               uint32_t offset, uint32_t end, size_t *len);
    void (*release)(void *ctx, const uint8_t *ptr);
    /* Wire bytes to (tx) and from (rx) this device since the last call, UDP/IP headers
     * included; ended: its session is over (closed, or idle past the session timeout);
     * quiet_ms: how long ago the device last sent a request, or opened the session if it
     * sent none (0 while it talks; about the idle timeout when that ended it), so last
     * seen is when it was. May be NULL. */
    void (*account)(void *ctx, const char *identity, uint64_t tx, uint64_t rx, bool ended,
                    uint64_t quiet_ms);
    /* issue 16 (speed): identities of devices that got an update queued since *cursor (a
     * count the call advances), at most max of them; the oldest are skipped when more than
     * the core keeps (ALD_QUEUED_KEEP) came since. The endpoint sends those that listen on a
     * live session their plan unasked (docs/protocol.md). May be NULL. */
    size_t (*queued)(void *ctx, uint64_t *cursor, char (*ids)[ALD_IDENTITY_MAX + 1], size_t max);
};
#define ALD_QUEUED_KEEP 64

#endif
