/*
 * coap_endpoint.h - airliftd's device endpoint: CoAP over DTLS 1.2 (PSK per device) on
 * libcoap, serving the resources of docs/protocol.md. What the endpoint does with a message
 * is decided by the core's device operations (core/device_ops.h); the endpoint only
 * authenticates, routes, bounds and transfers.
 */
#ifndef AIRLIFTD_COAP_ENDPOINT_H
#define AIRLIFTD_COAP_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device_ops.h"
#include "dtls_guard.h"

struct ald_coap;

/* issue 14 (creds): certificate devices. The server's own certificate (chain) and key and
 * the device CAs, PEM in memory (each buffer NUL-terminated, len without the NUL); all
 * must stay valid until ald_coap_stop. */
struct ald_coap_pki {
    const char *cert, *key, *cas;
    size_t cert_len, key_len, cas_len;
};

/*
 * Listen on addr:port (numeric IPv4; port 0 picks one), refusing an address any other socket
 * holds. insecure: plain CoAP instead of DTLS, for development only. A session silent for idle_s seconds ends (0: 30 s). pki
 * (issue 14): NULL for PSK devices only, else devices may also shake hands with a certificate
 * from pki->cas (ops->cert_lookup finds the device). Returns 0, or -1 with err set.
 */
int ald_coap_start(struct ald_coap **out, const char *addr, uint16_t port, bool insecure,
                   unsigned idle_s, const struct ald_device_ops *ops,
                   const struct ald_coap_pki *pki, char *err, size_t errlen);
uint16_t ald_coap_bound_port(const struct ald_coap *c);
/* The DTLS guard's counters (dtls_guard.h). Returns false (and zeros) if the endpoint is not
 * guarded (plain CoAP). */
bool ald_coap_guard_stats(const struct ald_coap *c, struct ald_guard_stats *out);
/* Serve for up to timeout_ms; returns -1 on a fatal I/O error. */
int ald_coap_serve(struct ald_coap *c, uint32_t timeout_ms);
void ald_coap_stop(struct ald_coap *c);

#endif
