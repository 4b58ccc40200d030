/*
 * coap_transport.h - the update agent's transport port on a POSIX host: CoAP over DTLS 1.2
 * with a pre-shared key or (issue 14) an X.509 certificate or a raw public key, on libcoap's client
 * (docs/protocol.md, Transport binding and Device credentials).
 */
#ifndef AIRLIFT_COAP_TRANSPORT_H
#define AIRLIFT_COAP_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "airlift/agent.h"

struct al_coap_config {
    const char *host;      /* numeric address, e.g. "127.0.0.1" */
    uint16_t port;         /* 5684 for coaps */
    const char *identity;  /* PSK identity: the device's id */
    const uint8_t *psk;
    size_t psk_len;
    bool insecure;         /* plain CoAP, no DTLS: development only */
    uint32_t timeout_ms;   /* per exchange, retransmissions included, from the end of the
                              DTLS handshake (which has as long again); 0: 30 s. Block2
                              (issue 16): the download fails only once the server has been
                              silent 3 x this long (docs/protocol.md, "Block2") */
    uint16_t mtu;          /* the path's IP MTU, for the transfer's chunk size; 0: 1500 */
    bool block2;           /* fetch by RFC 7959 Block2, 1024 bytes a request, not by windows */
    uint32_t window_bytes; /* ask for at most this many bytes at once (a modem's budget per
                              wake, say); 0: no limit but the protocol's and the link's */
    /* issue 14 (creds): an X.509 device instead of PSK: its certificate and private key (PEM
     * files; the key is read by libcoap on the device and sent nowhere), and the CA that
     * issued the server's certificate (PEM file; NULL: the server is not verified, which
     * lets anyone on the path pose as the server: development only; the port's `connect`
     * then answers AL_ERR_STATE, it proves nothing). identity and psk are then unused. */
    const char *cert_file;
    const char *key_file;
    const char *ca_file;
    /* issue 14 (rpk): a raw public key device (RFC 7250) instead: its public key (PEM
     * SubjectPublicKeyInfo file) with key_file its private key (read at open), and the
     * server's public key it pins (PEM file; NULL: not pinned, development only: connect
     * answers AL_ERR_STATE). cert_file, identity and psk are then unused. */
    const char *pubkey_file;
    const char *server_pubkey_file;
};

struct al_coap_transport;

/* Returns 0, or -1 with err set (bad address, libcoap setup failed). Connects lazily. */
int al_coap_open(struct al_coap_transport **out, const struct al_coap_config *cfg, char *err,
                 size_t errlen);
void al_coap_close(struct al_coap_transport *t);
const struct al_transport *al_coap_port(struct al_coap_transport *t);
/* DTLS handshakes of one transport so far (the fleet simulator counts them): sessions
 * started, and those whose handshake completed. Between exchanges, the difference is the
 * handshakes that failed (DTLS alert, timeout, no answer). */
struct al_coap_stats {
    uint32_t sessions;
    uint32_t handshakes;
};
const struct al_coap_stats *al_coap_stats(const struct al_coap_transport *t);
/*
 * issue 16 (speed): wait up to ms milliseconds for a plan the server sends unasked on this
 * session (the device's last inventory had AL_INV_WINDOW and an update was queued since);
 * true if one came (the agent's next inventory, if it is the same, is answered with it
 * without a round trip), or if its first window came without it (the plan was lost: the
 * device should check in now). Without a live DTLS session this just sleeps.
 */
bool al_coap_wait(struct al_coap_transport *t, uint32_t ms);
/*
 * issue 16 (speed): the device reset (to install) and kept this transport's DTLS session in
 * RAM that survives the reset (docs/protocol.md, "Session": what a real device keeps). The
 * session goes on; until the server answers on it again it proves nothing, so the next
 * connect() asks the server something first (and shakes hands anew if no answer comes).
 */
void al_coap_retain(struct al_coap_transport *t);
/* Change cfg.window_bytes: what the device can still take (a modem's budget left this wake). */
void al_coap_set_window_bytes(struct al_coap_transport *t, uint32_t bytes);

#endif
