/*
 * dtls_guard.h - what airliftd's device endpoint does with a DTLS ClientHello before libcoap
 * sees it (docs/protocol.md "DTLS session handling", docs/security.md).
 *
 * libcoap 4.3.1 gives every source address:port that sends a ClientHello a session of its
 * own before the cookie exchange (at most 100, freed after 30 s), and hands a new ClientHello
 * from the address of an established session to that session, which ignores it. The guard
 * sits in front of it on the endpoint's socket (it wraps recvmsg(2), the call libcoap reads
 * datagrams with) and, for each ClientHello of epoch 0:
 *   - takes a token from its source address's bucket (CH_RATE a second, CH_BURST at once):
 *     without one, the datagram is dropped and counted;
 *   - without a valid cookie, answers with a HelloVerifyRequest itself (stateless: the
 *     cookie is an HMAC of the peer's address and port under a process secret that changes
 *     every COOKIE_PERIOD_S seconds) and libcoap never sees the datagram;
 *   - with a valid cookie (the peer has shown it receives at its address), drops an
 *     established session of that address:port (RFC 6347 section 4.2.8: the peer reset) and
 *     passes the datagram on; libcoap's GnuTLS then checks the same cookie (the guard
 *     interposes gnutls_dtls_cookie_verify, which libcoap checks it with; issue 14, rpk).
 * Everything else passes untouched.
 */
#ifndef AIRLIFTD_DTLS_GUARD_H
#define AIRLIFTD_DTLS_GUARD_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#define ALD_GUARD_CH_RATE 2000  /* ClientHellos a second per source address, sustained */
#define ALD_GUARD_CH_BURST 4000 /* ... and at once */
#define ALD_GUARD_COOKIE_PERIOD_S 60

/* Counters of one guarded socket, since it was attached. */
struct ald_guard_stats {
    uint64_t hellos;       /* ClientHellos of epoch 0 seen */
    uint64_t cookies_sent; /* answered with a HelloVerifyRequest, not passed on */
    uint64_t cookies_ok;   /* carried a valid cookie: passed on to libcoap */
    uint64_t throttled;    /* dropped by the per-address rate limit */
    uint64_t malformed;    /* not a parseable, unfragmented ClientHello: dropped */
    uint64_t resets;       /* dropped an established session of the same address:port */
};

/* Drop the established session of peer, if there is one. Returns true if it dropped one. */
typedef bool (*ald_guard_reset_fn)(void *arg, const struct sockaddr_in *peer);

/*
 * Guard the bound UDP socket fd (IPv4). reset is called from the thread that reads fd, while
 * libcoap reads it. Returns 0, or -1 if ALD_GUARD_MAX sockets are guarded already.
 */
int ald_guard_attach(int fd, ald_guard_reset_fn reset, void *arg);
/* Stop guarding fd (before it is closed). */
void ald_guard_detach(int fd);
/* The record bytes (UDP payloads) of the last cookie exchange the guard answered for peer
 * on fd: its ClientHello in, the HelloVerifyRequest out. Each is given once, to the peer's
 * session for its wire accounting. Returns false if there is none. */
bool ald_guard_take_exchange(int fd, const struct sockaddr_in *peer, uint32_t *in,
                             uint32_t *out);
/* The counters of guarded socket fd (zeros if it is not guarded). */
void ald_guard_stats(int fd, struct ald_guard_stats *out);
/* True once a socket is guarded: from then on libcoap's GnuTLS accepts the guard's cookies
 * (gnutls_dtls_cookie_verify is the guard's). Without them the guard only rate-limits (and
 * resets on a cookie-less ClientHello). */
bool ald_guard_cookies_installed(void);

#endif
