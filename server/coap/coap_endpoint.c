/*
 * coap_endpoint.c - see coap_endpoint.h. Resources: POST /i (inventory -> plan), POST /s
 * (status), GET /f/{plan}/{step} (Block2 transfer), GET /w/{plan}/{step} (windowed transfer).
 * Every request is bounded;
 * anything malformed gets a 4.xx and the endpoint keeps serving everyone else.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr */
#endif
#include "coap_endpoint.h"
#include "coap_request.h"
#include "coap_pace.h"
#include "coap_listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <coap3/coap.h>
#include <dlfcn.h>
#include <gnutls/gnutls.h>
#include <gnutls/dtls.h>
#include <gnutls/abstract.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "airlift/proto.h"
#include "airlift/wire.h"
#include "metrics.h"
#include "dtls_guard.h"
#include "certid.h"

#define DEVICE_RCVBUF (4 * 1024 * 1024) /* the device socket's receive buffer, asked */
#define MAX_REQUEST 2048 /* an inventory is at most 18 + 47 + 12 * 64 bytes */
#define MAX_PLAN 1024
#define WINDOW_HEADERS 6 /* CoAP header 4, payload marker 1, chunk index 1; plus the token */
#define DATAGRAM_MTU 1472 /* the UDP payload of a 1500-byte IPv4 datagram */
#define LIBCOAP_GNUTLS_OVERHEAD 37 /* libcoap 4.3.1's coap_dtls_get_overhead for GnuTLS */
#define UDP_IP_HEADERS 28 /* IPv4 20 + UDP 8, added per datagram to DTLS record bytes */
#define PLAIN_OVERHEAD 24 /* plain CoAP: header, token, options, estimated per message */
#define ACCOUNT_EVERY 16384 /* report wire bytes to the service at least this often */
#define SESSION_IDLE_S 30 /* a silent device's session ends after this */
/* Sessions shaking hands at once, all past the cookie exchange (their senders proved their
 * address); libcoap ignores further ClientHellos until one ends or stalls for 30 s. libcoap's
 * default, 100, made a reconnect storm of a large fleet wait on its devices' retransmission
 * timers with the CPU idle; a GnuTLS session in its handshake is some tens of KB. */
#define MAX_HANDSHAKES 1000
#define PUSH_EVERY_MS 50 /* issue 16 (speed): look for updates queued at least this often */

/*
 * Wire bytes of one device session. Under DTLS they are exact (issue 14, rpk): every datagram
 * libcoap's GnuTLS reads or writes for the session passes through its transport pull and push
 * functions, which airliftd wraps (gnutls_transport_set_*_function are interposed below): the
 * record bytes and one UDP/IPv4 header per datagram, handshake included; the cookie exchange
 * the guard answered before libcoap saw the peer is added from the guard. Plain CoAP
 * (development only) estimates PLAIN_OVERHEAD bytes per message.
 */
struct session_bytes {
    struct session_bytes *next, **prev; /* in ald_coap.sessions, freed at stop at the latest */
    coap_session_t *session;
    char identity[ALD_IDENTITY_MAX + 1];
    uint64_t rec_in, rec_out;   /* DTLS record bytes (UDP payloads) through GnuTLS */
    uint64_t banked_in, banked_out; /* the guard's cookie exchange */
    uint64_t dgrams_in, dgrams_out;
    uint64_t plain_in, plain_out;
    uint64_t reported_in, reported_out; /* already given to ops.account */
    bool identity_refused; /* issue 15 (ops): this handshake's failure is already counted */
    bool connected;        /* issue 15 (ops): a DTLS handshake completed on this session */
    char cert_identity[ALD_IDENTITY_MAX + 1]; /* issue 14 (creds): an x509 device's identity */
    struct ald_coap_pace pace; /* window chunks: the session's byte budget (coap_pace.h) */
    struct ald_coap_listen listen; /* issue 16 (speed): coap_listen.h */
    uint64_t heard_ms; /* CLOCK_MONOTONIC ms of its last request, else of its first datagram */
};

struct ald_coap {
    coap_context_t *ctx;
    coap_endpoint_t *ep;
    struct ald_device_ops ops;
    uint16_t port;
    int fd; /* the endpoint's socket (libcoap's), -1 if not found */
    bool guarded; /* fd is behind the DTLS guard (dtls_guard.h) */
    uint8_t key[ALD_PSK_MAX];
    coap_bin_const_t key_bin;
    uint8_t dummy_key[32]; /* issue 14 (creds): see ald_coap_start */
    /* issue 14 (rpk): the endpoint's raw public key (the SubjectPublicKeyInfo of --coap-key,
     * PEM) and its private key (a copy of --coap-key), or NULL without certificates */
    gnutls_datum_t rpk_pub, rpk_key;
    struct session_bytes *sessions; /* every session seen and not yet deleted */
    uint64_t queued_cursor; /* issue 16 (speed): ops.queued's */
    bool windows_due;       /* issue 16 (speed): a session's listen.due may be set */
};

/* libcoap 4.3.1 has no per-context user data: a small registry maps contexts to endpoints. */
#define MAX_ENDPOINTS 8
static struct ald_coap *registry[MAX_ENDPOINTS];

static struct ald_coap *endpoint_of(coap_session_t *session)
{
    coap_context_t *ctx = coap_session_get_context(session);
    for (int i = 0; i < MAX_ENDPOINTS; i++)
        if (registry[i] && registry[i]->ctx == ctx)
            return registry[i];
    return NULL;
}

/* A free UDP port on addr, for port 0 (libcoap 4.3.1 does not report what it bound). */
static uint16_t free_udp_port(const struct sockaddr_in *addr)
{
    struct sockaddr_in a = *addr;
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    uint16_t port = 0;
    a.sin_port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* The device's identity: its DTLS PSK identity, or (issue 14) the fingerprint of the
 * certificate it shook hands with; over plain CoAP (development only), the
 * request's "id=IDENTITY" query. "" if it has none. */
static void identity_of(coap_session_t *session, const coap_pdu_t *request,
                        char out[ALD_IDENTITY_MAX + 1])
{
    const coap_bin_const_t *id = coap_session_get_psk_identity(session);
    const struct session_bytes *sb = coap_session_get_app_data(session);
    size_t n = id && id->length <= ALD_IDENTITY_MAX ? id->length : 0;
    if (n)
        memcpy(out, id->s, n);
    out[n] = '\0';
    if (!n && sb && sb->cert_identity[0]) /* issue 14 (creds): its certificate's key */
        memcpy(out, sb->cert_identity, sizeof sb->cert_identity);
    if (!n && coap_session_get_proto(session) == COAP_PROTO_UDP)
        (void)ald_coap_query_identity(request, out);
}

static void set_code(coap_pdu_t *response, int code)
{
    coap_pdu_set_code(response, (coap_pdu_code_t)(((code / 32) << 5) | (code % 32)));
}

/* The whole request body, or NULL if missing or too large (the response says so). */
static const uint8_t *request_body(const coap_pdu_t *request, coap_pdu_t *response, size_t *len)
{
    const uint8_t *data = NULL;
    size_t offset = 0, total = 0;
    *len = 0;
    if (!coap_get_data_large(request, len, &data, &offset, &total) || offset != 0 || *len != total) {
        set_code(response, 128); /* 4.00 */
        return NULL;
    }
    if (*len > MAX_REQUEST) {
        set_code(response, 141); /* 4.13 Request Entity Too Large */
        return NULL;
    }
    return data;
}

/* ---- wire accounting ---- */

/* The session's byte record, created on first sight. NULL if out of memory. */
static uint64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct session_bytes *bytes_of(coap_session_t *session, const coap_pdu_t *request)
{
    struct session_bytes *sb = coap_session_get_app_data(session);
    if (!sb) {
        struct ald_coap *c = endpoint_of(session);
        sb = c ? calloc(1, sizeof *sb) : NULL;
        if (!sb)
            return NULL;
        sb->session = session;
        coap_session_set_mtu(session, DATAGRAM_MTU); /* windows fill whole datagrams */
        sb->next = c->sessions;
        sb->prev = &c->sessions;
        if (c->sessions)
            c->sessions->prev = &sb->next;
        c->sessions = sb;
        coap_session_set_app_data(session, sb);
        /* The cookie exchange the guard answered before libcoap saw this peer: its
         * datagrams are among the 3 in and 2 out counted below, their bytes are here. */
        const coap_address_t *r = coap_session_get_addr_remote(session);
        uint32_t xin = 0, xout = 0;
        if (c->guarded && r && r->addr.sa.sa_family == AF_INET &&
            ald_guard_take_exchange(c->fd, &r->addr.sin, &xin, &xout)) {
            sb->banked_in += xin;
            sb->banked_out += xout;
            sb->dgrams_in++;
            sb->dgrams_out++;
        }
    }
    if (!sb->identity[0] && request)
        identity_of(session, request, sb->identity);
    if (request || !sb->heard_ms) /* a request, or the handshake that made the session */
        sb->heard_ms = monotonic_ms();
    return sb;
}

/* Give the service the bytes not yet reported (all of them if `ended`, else in batches). */
static void account(struct ald_coap *c, coap_session_t *session, const coap_pdu_t *request,
                    bool ended, bool force)
{
    struct session_bytes *sb = bytes_of(session, request);
    if (!sb || !c->ops.account || !sb->identity[0])
        return;
    uint64_t in = sb->plain_in + sb->dgrams_in * UDP_IP_HEADERS + sb->banked_in + sb->rec_in;
    uint64_t out = sb->plain_out + sb->dgrams_out * UDP_IP_HEADERS + sb->banked_out + sb->rec_out;
    uint64_t din = in - sb->reported_in, dout = out - sb->reported_out;
    if (!ended && !force && din + dout < ACCOUNT_EVERY)
        return;
    sb->reported_in = in;
    sb->reported_out = out;
    ald_metrics_wire(dout, din); /* issue 15 (ops) */
    /* A session that ends by its idle timeout was last heard that long ago, not now. */
    uint64_t now = monotonic_ms();
    uint64_t quiet = ended && sb->heard_ms && now > sb->heard_ms ? now - sb->heard_ms : 0;
    c->ops.account(c->ops.ctx, sb->identity, dout, din, ended, quiet);
}

/* Count a plain-CoAP message out, and the request in if `with_request` (no DTLS BIO to read). */
static void count_plain(coap_session_t *session, const coap_pdu_t *request, size_t in_payload,
                        size_t out_payload, bool with_request)
{
    struct session_bytes *sb = bytes_of(session, request);
    if (sb && coap_session_get_proto(session) == COAP_PROTO_UDP) {
        if (with_request)
            sb->plain_in += UDP_IP_HEADERS + PLAIN_OVERHEAD + in_payload;
        sb->plain_out += UDP_IP_HEADERS + PLAIN_OVERHEAD + out_payload;
    }
}

/* A session ends: count its last bytes, free its record. */
static void forget_session(struct ald_coap *c, struct session_bytes *sb)
{
    if (!sb)
        return;
    account(c, sb->session, NULL, true, true);
    coap_session_set_app_data(sb->session, NULL);
    ald_coap_listen_free(&sb->listen);
    *sb->prev = sb->next;
    if (sb->next)
        sb->next->prev = sb->prev;
    free(sb);
}

static void refused(coap_session_t *session, enum ald_metrics_dtls_failure reason);

/* The endpoint of a server session of ours behind GnuTLS session g (its transport pointer is
 * the libcoap session), or NULL for anything else (a client session in the same process). */
static char libcoap_mark; /* the user pointer of every GnuTLS session libcoap made */

static struct ald_coap *server_of(gnutls_session_t g, coap_session_t **session)
{
    /* libmicrohttpd's TLS sessions (the API) are GnuTLS's too: only libcoap's are ours */
    coap_session_t *s = g && gnutls_session_get_ptr(g) == &libcoap_mark
                            ? gnutls_transport_get_ptr(g) : NULL;
    *session = s;
    return s && coap_session_get_type(s) != COAP_SESSION_TYPE_CLIENT ? endpoint_of(s) : NULL;
}

/* issue 14 (creds, rpk): a handshake that failed in the certificate's verification (expired,
 * from another CA): counted and logged with its reason. libcoap 4.3.1 calls no callback of
 * ours for those: the status bits of gnutls_certificate_verify_peers, which libcoap's GnuTLS
 * calls (interposed below), say which it was. */
static void cert_failure(gnutls_session_t g, unsigned status)
{
    coap_session_t *session;
    struct ald_coap *c = server_of(g, &session);
    enum ald_metrics_dtls_failure reason;
    const char *why;
    if (!c || !status)
        return;
    if (status & (GNUTLS_CERT_EXPIRED | GNUTLS_CERT_NOT_ACTIVATED)) {
        reason = ALD_DTLS_FAIL_CERT_EXPIRED;
        why = status & GNUTLS_CERT_EXPIRED ? "certificate expired" : "certificate not yet valid";
    } else if (status & GNUTLS_CERT_SIGNER_NOT_FOUND) {
        reason = ALD_DTLS_FAIL_CERT_UNKNOWN_CA;
        why = "certificate not from a configured device CA (--device-ca)";
    } else {
        reason = ALD_DTLS_FAIL_ERROR;
        why = status & GNUTLS_CERT_REVOKED ? "certificate revoked by its CA"
              : status & GNUTLS_CERT_SIGNATURE_FAILURE ? "certificate signature invalid"
                                                        : "certificate not valid";
    }
    struct session_bytes *sb = bytes_of(session, NULL);
    if (sb && sb->identity_refused)
        return;
    char fp[ALD_CERT_FP_HEX + 1] = "", subject[ALD_CERT_SUBJECT_MAX + 1] = "";
    unsigned n = 0;
    const gnutls_datum_t *peers = gnutls_certificate_get_peers(g, &n);
    if (peers && n > 0)
        (void)ald_cert_der_id(peers[0].data, peers[0].size, fp, subject);
    if (c->ops.cert_lookup) /* it logs why */
        (void)c->ops.cert_lookup(c->ops.ctx, fp, subject, why);
    refused(session, reason);
}

typedef int (*verify_peers_fn)(gnutls_session_t, gnutls_typed_vdata_st *, unsigned, unsigned *);

/* Interposed (issue 14, rpk): GnuTLS's check of the peer's certificate chain, as libcoap calls
 * it; a failure on one of our server sessions is told by cert_failure. */
int gnutls_certificate_verify_peers(gnutls_session_t session, gnutls_typed_vdata_st *data,
                                    unsigned elements, unsigned *status)
{
    verify_peers_fn real;
    void *sym = dlsym(RTLD_NEXT, "gnutls_certificate_verify_peers");
    memcpy(&real, &sym, sizeof real);
    if (!real)
        return GNUTLS_E_INTERNAL_ERROR;
    int rc = real(session, data, elements, status);
    if (rc == 0 && status && *status)
        cert_failure(session, *status);
    return rc;
}

/* ---- issue 14 (rpk): the datagrams of each server session, through GnuTLS ---- */

static gnutls_pull_func coap_pull; /* libcoap's DTLS pull and push, wrapped */
static gnutls_push_func coap_push;

/* Count n record bytes in (or out) on the server session behind transport pointer p. */
static void count_datagram(gnutls_transport_ptr_t p, ssize_t n, bool in)
{
    coap_session_t *s = p;
    if (n <= 0 || !s || coap_session_get_type(s) == COAP_SESSION_TYPE_CLIENT || !endpoint_of(s))
        return;
    struct session_bytes *sb = coap_session_get_app_data(s);
    if (!sb)
        return;
    if (in) {
        sb->rec_in += (uint64_t)n;
        sb->dgrams_in++;
    } else {
        sb->rec_out += (uint64_t)n;
        sb->dgrams_out++;
    }
}

static ssize_t counted_pull(gnutls_transport_ptr_t p, void *out, size_t n)
{
    ssize_t r = coap_pull(p, out, n);
    if (out) /* one call, one datagram: libcoap hands GnuTLS a whole datagram at a time */
        count_datagram(p, r, true);
    return r;
}

static ssize_t counted_push(gnutls_transport_ptr_t p, const void *data, size_t n)
{
    ssize_t r = coap_push(p, data, n); /* one call, one datagram (libcoap's sendmsg) */
    count_datagram(p, r, false);
    return r;
}

typedef void (*set_pull_fn)(gnutls_session_t, gnutls_pull_func);
typedef void (*set_push_fn)(gnutls_session_t, gnutls_push_func);

static gnutls_audit_log_func coap_audit; /* libcoap's, for its own sessions only */

static void audit_guarded(gnutls_session_t g, const char *text)
{
    if (coap_audit && (!g || gnutls_session_get_ptr(g) == &libcoap_mark))
        coap_audit(g, text);
}

typedef void (*set_audit_fn)(gnutls_audit_log_func);

/* Interposed (issue 14, rpk): libcoap's GnuTLS audit log (process-wide) takes every GnuTLS
 * session for a libcoap one; in airliftd the API's TLS sessions (libmicrohttpd) are GnuTLS's
 * too, and an audit message on one of those (a client refusing our certificate) would make
 * libcoap print an address from a pointer that is not a session. It is called for libcoap's
 * sessions only. */
void gnutls_global_set_audit_log_function(gnutls_audit_log_func f)
{
    set_audit_fn real;
    void *sym = dlsym(RTLD_NEXT, "gnutls_global_set_audit_log_function");
    memcpy(&real, &sym, sizeof real);
    __atomic_store_n(&coap_audit, f, __ATOMIC_RELEASE);
    if (real)
        real(f ? audit_guarded : NULL);
}

/* True if function f is libcoap's (its shared object's name says so). */
static bool in_libcoap(const void *fp, size_t n)
{
    void *addr = NULL;
    Dl_info info;
    memcpy(&addr, fp, n < sizeof addr ? n : sizeof addr);
    return addr && dladdr(addr, &info) && info.dli_fname && strstr(info.dli_fname, "libcoap");
}

/* Interposed: a session whose pull function is libcoap's is libcoap's (marked with
 * libcoap_mark as its user pointer, which libcoap 4.3.1 does not use), and the first pull
 * function libcoap sets (its DTLS one) is wrapped by counted_pull for every session that
 * gets it; any other goes through as it is (libmicrohttpd's, for one). */
void gnutls_transport_set_pull_function(gnutls_session_t session, gnutls_pull_func f)
{
    set_pull_fn real;
    void *sym = dlsym(RTLD_NEXT, "gnutls_transport_set_pull_function");
    memcpy(&real, &sym, sizeof real);
    gnutls_pull_func first = NULL;
    bool coap = f && in_libcoap(&f, sizeof f);
    if (coap)
        gnutls_session_set_ptr(session, &libcoap_mark);
    if (!coap)
        first = NULL;
    else if (!__atomic_compare_exchange_n(&coap_pull, &first, f, false, __ATOMIC_ACQ_REL,
                                          __ATOMIC_ACQUIRE))
        first = coap_pull;
    else
        first = f;
    if (real)
        real(session, f && f == first ? counted_pull : f);
}

/* Interposed, as gnutls_transport_set_pull_function. */
void gnutls_transport_set_push_function(gnutls_session_t session, gnutls_push_func f)
{
    set_push_fn real;
    void *sym = dlsym(RTLD_NEXT, "gnutls_transport_set_push_function");
    memcpy(&real, &sym, sizeof real);
    gnutls_push_func first = NULL;
    if (!f || !in_libcoap(&f, sizeof f))
        first = NULL;
    else if (!__atomic_compare_exchange_n(&coap_push, &first, f, false, __ATOMIC_ACQ_REL,
                                          __ATOMIC_ACQUIRE))
        first = coap_push;
    else
        first = f;
    if (real)
        real(session, f && f == first ? counted_push : f);
}

/* issue 14 (creds): n random bytes into out; false if there are none. */
static bool ald_random_bytes(uint8_t *out, size_t n)
{
    return n <= 0x7fffffff && RAND_bytes(out, (int)n) == 1;
}

/* issue 14 (creds): libcoap's check of a presented certificate passed (chain to a device CA,
 * validity); depth 0 is the device's own: its key must name a live, enabled x509 device. */
static int validate_cert(const char *cn, const uint8_t *der, size_t len,
                         coap_session_t *session, unsigned depth, int validated, void *arg)
{
    struct ald_coap *c = arg;
    char fp[ALD_CERT_FP_HEX + 1], subject[ALD_CERT_SUBJECT_MAX + 1];
    (void)cn;
    if (depth != 0)
        return 1;
    struct session_bytes *sb = bytes_of(session, NULL);
    if (sb) /* a handshake anew on this session names its device anew */
        sb->cert_identity[0] = '\0';
    /* issue 14 (rpk): a raw public key (RFC 7250): der is its SubjectPublicKeyInfo */
    coap_tls_library_t lib = COAP_TLS_LIBRARY_NOTLS;
    gnutls_session_t g = coap_session_get_tls(session, &lib);
    bool raw = g && lib == COAP_TLS_LIBRARY_GNUTLS &&
               gnutls_certificate_type_get2(g, GNUTLS_CTYPE_PEERS) == GNUTLS_CRT_RAWPK;
    if (!validated || !c->ops.cert_lookup ||
        !(raw ? ald_spki_der_fp(der, len, fp) : ald_cert_der_id(der, len, fp, subject)))
        return 0;
    int rc = c->ops.cert_lookup(c->ops.ctx, fp, raw ? NULL : subject, NULL);
    if (rc != ALD_CERT_OK) {
        refused(session, rc == ALD_CERT_REVOKED ? ALD_DTLS_FAIL_REVOKED
                                                : ALD_DTLS_FAIL_CERT_UNKNOWN);
        return 0;
    }
    if (sb)
        memcpy(sb->cert_identity, fp, sizeof fp);
    return 1;
}

typedef int (*credentials_set_fn)(gnutls_session_t, gnutls_credentials_type_t, void *);

/*
 * Interposed (issue 14, rpk): libcoap 4.3.1 gives a server session one kind of certificate
 * credential, X.509 or a raw public key (coap_dtls_pki_t.is_rpk_not_cert). airliftd serves
 * both at once: to the X.509 credential libcoap builds for each of our server sessions, the
 * endpoint's raw public key (--coap-key's) is added, so GnuTLS negotiates RFC 7250 with a
 * device that asks for it and X.509 with one that does not.
 */
int gnutls_credentials_set(gnutls_session_t g, gnutls_credentials_type_t type, void *cred)
{
    credentials_set_fn real;
    void *sym = dlsym(RTLD_NEXT, "gnutls_credentials_set");
    memcpy(&real, &sym, sizeof real);
    if (!real)
        return GNUTLS_E_INTERNAL_ERROR;
    coap_session_t *session;
    struct ald_coap *c = type == GNUTLS_CRD_CERTIFICATE ? server_of(g, &session) : NULL;
    if (c && c->rpk_pub.data && cred)
        (void)gnutls_certificate_set_rawpk_key_mem(cred, &c->rpk_pub, &c->rpk_key,
                                                   GNUTLS_X509_FMT_PEM, NULL, 0, NULL, 0, 0);
    /* A CertificateRequest without the device CAs' names: a GnuTLS device sends a
     * certificate only if it matches one, and one from another CA must be seen (and
     * refused, counted and logged with its reason), not missed. */
    if (c)
        gnutls_certificate_send_x509_rdn_sequence(g, 1);
    return real(g, type, cred);
}

/* issue 14 (rpk): free what endpoint_rpk made (the private key wiped first). */
static void rpk_free(struct ald_coap *c)
{
    if (c->rpk_key.data)
        OPENSSL_cleanse(c->rpk_key.data, c->rpk_key.size);
    gnutls_free(c->rpk_key.data);
    gnutls_free(c->rpk_pub.data);
    c->rpk_key.data = c->rpk_pub.data = NULL;
}

/* issue 14 (rpk): the endpoint's raw public key from its private key (PEM, len bytes):
 * c->rpk_pub (its SubjectPublicKeyInfo, PEM) and c->rpk_key (a copy). False if unreadable. */
static bool endpoint_rpk(struct ald_coap *c, const char *key, size_t len)
{
    BIO *in = len <= 0x7fffffff ? BIO_new_mem_buf(key, (int)len) : NULL, *out = BIO_new(BIO_s_mem());
    EVP_PKEY *k = in ? PEM_read_bio_PrivateKey(in, NULL, NULL, NULL) : NULL;
    char *pem = NULL;
    long n = k && out && PEM_write_bio_PUBKEY(out, k) ? BIO_get_mem_data(out, &pem) : 0;
    bool ok = n > 0 && (c->rpk_pub.data = gnutls_malloc((size_t)n + 1)) &&
              (c->rpk_key.data = gnutls_malloc(len + 1));
    if (ok) {
        memcpy(c->rpk_pub.data, pem, (size_t)n);
        c->rpk_pub.data[n] = 0;
        c->rpk_pub.size = (unsigned)n;
        memcpy(c->rpk_key.data, key, len);
        c->rpk_key.data[len] = 0;
        c->rpk_key.size = (unsigned)len;
    }
    EVP_PKEY_free(k);
    BIO_free(in);
    BIO_free(out);
    return ok;
}

typedef int (*handshake_fn)(gnutls_session_t);

/*
 * Interposed (issue 14, rpk): libcoap 4.3.1's GnuTLS server raises no
 * COAP_EVENT_DTLS_CONNECTED, so a server session's completed handshake is seen here: it is
 * counted (issue 15, ops), and its records get the whole datagram (libcoap never gives
 * GnuTLS the session's MTU; GnuTLS's default, 1200 bytes, is less than a window chunk's).
 * The handshake's own flights keep GnuTLS's 1200 bytes.
 */
int gnutls_handshake(gnutls_session_t g)
{
    handshake_fn real;
    void *sym = dlsym(RTLD_NEXT, "gnutls_handshake");
    memcpy(&real, &sym, sizeof real);
    if (!real)
        return GNUTLS_E_INTERNAL_ERROR;
    int rc = real(g);
    coap_session_t *session;
    if (rc != GNUTLS_E_SUCCESS || !server_of(g, &session))
        return rc;
    struct session_bytes *sb = bytes_of(session, NULL);
    ald_metrics_dtls_handshake(); /* issue 15 (ops) */
    if (sb)
        sb->connected = true;
    gnutls_dtls_set_mtu(g, DATAGRAM_MTU);
    /* libcoap 4.3.1 reckons 37 bytes of record overhead for every GnuTLS suite (29 for
     * PSK's and ECDSA's AEAD suites): its PDU limit is made what one record carries. */
    coap_session_set_mtu(session, gnutls_dtls_get_data_mtu(g) + LIBCOAP_GNUTLS_OVERHEAD);
    return rc;
}

static int on_event(coap_session_t *session, const coap_event_t event)
{
    struct ald_coap *c = endpoint_of(session);
    if (!c)
        return 0;
    if (event == COAP_EVENT_SERVER_SESSION_NEW) {
        bytes_of(session, NULL); /* issue 15 (ops): to tell a failed handshake at its end */
    } else if (event == COAP_EVENT_SERVER_SESSION_DEL) {
        struct session_bytes *sb = coap_session_get_app_data(session);
        /* issue 15 (ops): a DTLS session that ends without a completed handshake failed
         * it (wrong key, broken records, given up); a refused identity was counted then. */
        if (sb && !sb->connected && !sb->identity_refused &&
            coap_session_get_proto(session) == COAP_PROTO_DTLS)
            ald_metrics_dtls_failure(ALD_DTLS_FAIL_ERROR);
        forget_session(c, sb);
    }
    return 0;
}

static void handle_inventory(coap_resource_t *r, coap_session_t *session, const coap_pdu_t *request,
                             const coap_string_t *query, coap_pdu_t *response)
{
    struct ald_coap *c = endpoint_of(session);
    char id[ALD_IDENTITY_MAX + 1];
    uint8_t plan[MAX_PLAN];
    size_t len, plan_len = 0;
    (void)r;
    (void)query;
    const uint8_t *body = request_body(request, response, &len);
    if (!body)
        return;
    identity_of(session, request, id);
    ald_metrics_checkin(); /* issue 15 (ops) */
    int code = c->ops.inventory(c->ops.ctx, id, body, len, plan, sizeof plan, &plan_len);
    set_code(response, code);
    if (code / 32 == 2 && plan_len)
        coap_add_data(response, plan_len, plan);
    /* issue 16 (speed): the plan's first window follows the answer (sent from
     * ald_coap_serve, once the answer has left); the inventory is kept for a pushed plan. */
    struct session_bytes *sb = bytes_of(session, request);
    if (sb && code == 68) {
        ald_coap_listen_inventory(&sb->listen, request, body, len, plan, plan_len);
        c->windows_due |= sb->listen.due;
    }
    count_plain(session, request, len, plan_len, true);
    account(c, session, request, false, true);
}

static void handle_status(coap_resource_t *r, coap_session_t *session, const coap_pdu_t *request,
                          const coap_string_t *query, coap_pdu_t *response)
{
    struct ald_coap *c = endpoint_of(session);
    char id[ALD_IDENTITY_MAX + 1];
    size_t len;
    (void)r;
    (void)query;
    const uint8_t *body = request_body(request, response, &len);
    if (!body)
        return;
    identity_of(session, request, id);
    set_code(response, c->ops.status(c->ops.ctx, id, body, len));
    count_plain(session, request, len, 0, true);
    account(c, session, request, false, true);
}

/* GET f/<plan>/<step>, Block2 (RFC 7959) served here: each block is a request of its own, so
 * the service sees every offset (progress, resume) and nothing is cached per session. */
static void serve_block(struct ald_coap *c, coap_session_t *session, const coap_pdu_t *request,
                        coap_pdu_t *response, const char *id, uint32_t plan, uint8_t step)
{
    coap_block_t block = {0, 0, AL_WIRE_BLOCK_SZX};
    uint8_t opt[8];
    if (coap_get_block(request, COAP_OPTION_BLOCK2, &block) && block.szx > AL_WIRE_BLOCK_SZX)
        block.szx = AL_WIRE_BLOCK_SZX;
    size_t size = (size_t)1 << (block.szx + 4), offset = (size_t)block.num * size, len = 0;
    const uint8_t *data = offset <= 0xffffffffu
        ? c->ops.transfer(c->ops.ctx, id, plan, step, (uint32_t)offset,
                          (uint32_t)(offset + size), &len)
        : NULL;
    if (!data || offset >= len) {
        if (data && c->ops.release)
            c->ops.release(c->ops.ctx, data);
        set_code(response, data ? 130 : 132); /* 4.02 past the end, 4.04 no such transfer */
        return;
    }
    size_t chunk = len - offset < size ? len - offset : size;
    unsigned value = (unsigned)(block.num << 4) | (offset + chunk < len ? 8u : 0u) | block.szx;
    set_code(response, 69); /* 2.05 */
    coap_add_option(response, COAP_OPTION_BLOCK2, coap_encode_var_safe(opt, sizeof opt, value), opt);
    if (block.num == 0)
        coap_add_option(response, COAP_OPTION_SIZE2,
                        coap_encode_var_safe(opt, sizeof opt, (unsigned)len), opt);
    coap_add_data(response, chunk, data + offset);
    if (c->ops.release)
        c->ops.release(c->ops.ctx, data);
    count_plain(session, request, 0, chunk, true);
}

/* A response PDU for one chunk of a window: 2.05, the request's token, a payload of the
 * chunk's index (one byte) and its bytes. */
static void add_chunk(coap_pdu_t *pdu, uint32_t index, const uint8_t *data, size_t len)
{
    coap_pdu_set_code(pdu, COAP_RESPONSE_CODE(205));
    uint8_t *at = coap_add_data_after(pdu, len + 1);
    if (at) {
        at[0] = (uint8_t)index;
        memcpy(at + 1, data, len);
    }
}

/* GET w/<plan>/<step>?o=&n=&c=[&m=]: airlift's windowed transfer (docs/protocol.md). One
 * request, then chunk i (bytes offset + i * chunk, up to chunk of them) of every i < count
 * not in the skip mask, each a response of its own with the request's token and a payload
 * of i (one byte) and the chunk; the last one is the handler's own response, so they leave in order. */
static void serve_window(struct ald_coap *c, coap_session_t *session, const coap_pdu_t *request,
                         coap_pdu_t *response, const char *id, uint32_t plan, uint8_t step)
{
    struct ald_coap_window w;
    size_t len = 0;
    /* The largest chunk that fits one datagram: the session's PDU size less our headers. */
    size_t fit = coap_session_max_pdu_size(session), headers = WINDOW_HEADERS +
                 coap_pdu_get_token(request).length;
    fit = fit > headers ? fit - headers : 0;
    if (!ald_coap_window_query(request, &w) || !ald_coap_window_ok(&w, fit)) {
        static const char why[] = "bad o/n/c/m";
        set_code(response, 128); /* 4.00: bad window */
        coap_add_data(response, sizeof why - 1, (const uint8_t *)why);
        return;
    }
    uint64_t end = (uint64_t)w.offset + (uint64_t)w.count * w.chunk;
    const uint8_t *data = c->ops.transfer(c->ops.ctx, id, plan, step, w.offset,
                                          end > 0xffffffffu ? 0xffffffffu : (uint32_t)end, &len);
    if (!data || w.offset >= len) {
        if (data && c->ops.release)
            c->ops.release(c->ops.ctx, data);
        set_code(response, data ? 130 : 132); /* 4.02 past the end, 4.04 no such transfer */
        return;
    }
    coap_bin_const_t token = coap_pdu_get_token(request);
    uint32_t last = UINT32_MAX; /* the last chunk to send */
    /* The session's byte budget (coap_pace.h): the chunks past it are not sent. */
    struct session_bytes *sb = bytes_of(session, request);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
    for (uint32_t i = 0; i < w.count && w.offset + (uint64_t)i * w.chunk < len; i++) {
        size_t at = w.offset + (size_t)i * w.chunk, n = len - at < w.chunk ? len - at : w.chunk;
        if (i < 32 && (w.skip >> i & 1u))
            continue;
        if (sb && !ald_coap_pace_take(&sb->pace, (uint32_t)n, last == UINT32_MAX, now))
            break;
        last = i;
    }
    if (last == UINT32_MAX) { /* the mask skips every chunk left before the end */
        if (c->ops.release)
            c->ops.release(c->ops.ctx, data);
        set_code(response, 128);
        return;
    }
    for (uint32_t i = 0; i <= last; i++) {
        if (i < 32 && (w.skip >> i & 1u))
            continue;
        size_t at = w.offset + (size_t)i * w.chunk, n = len - at < w.chunk ? len - at : w.chunk;
        if (i == last) {
            add_chunk(response, i, data + at, n);
        } else {
            coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_NON, COAP_RESPONSE_CODE(205),
                                            coap_new_message_id(session),
                                            coap_session_max_pdu_size(session));
            if (!pdu)
                break;
            coap_add_token(pdu, token.length, token.s);
            add_chunk(pdu, i, data + at, n);
            coap_send(session, pdu);
        }
        count_plain(session, request, 0, n, i == 0);
    }
    if (c->ops.release)
        c->ops.release(c->ops.ctx, data);
}

static void handle_unknown_get(coap_resource_t *r, coap_session_t *session, const coap_pdu_t *request,
                               const coap_string_t *query, coap_pdu_t *response)
{
    struct ald_coap *c = endpoint_of(session);
    char id[ALD_IDENTITY_MAX + 1];
    uint32_t plan = 0;
    uint8_t step = 0;
    (void)r;
    (void)query;
    char kind = ald_coap_transfer_path(request, &plan, &step);
    if (!kind) {
        set_code(response, 132); /* 4.04 */
        return;
    }
    identity_of(session, request, id);
    if (kind == 'f')
        serve_block(c, session, request, response, id, plan, step);
    else
        serve_window(c, session, request, response, id, plan, step);
    account(c, session, request, false, false);
}

/* issue 15 (ops): count a refused PSK identity once per session (a retransmitted flight
 * asks again), and not again as a failed handshake when the session ends. */
static void refused(coap_session_t *session, enum ald_metrics_dtls_failure reason)
{
    struct session_bytes *sb = bytes_of(session, NULL);
    if (sb && sb->identity_refused)
        return;
    if (sb)
        sb->identity_refused = true;
    ald_metrics_dtls_failure(reason);
}

static const coap_bin_const_t *validate_identity(coap_bin_const_t *identity, coap_session_t *session,
                                                 void *arg)
{
    struct ald_coap *c = arg;
    char id[ALD_IDENTITY_MAX + 1];
    if (!identity || identity->length == 0 || identity->length > ALD_IDENTITY_MAX ||
        memchr(identity->s, '\0', identity->length)) { /* not another device's name cut short */
        refused(session, ALD_DTLS_FAIL_BAD_IDENTITY); /* issue 15 (ops) */
        return NULL;
    }
    memcpy(id, identity->s, identity->length);
    id[identity->length] = '\0';
    int n = c->ops.psk_lookup(c->ops.ctx, id, c->key);
    if (n <= 0 || n > ALD_PSK_MAX) {
        refused(session, ALD_DTLS_FAIL_UNKNOWN_IDENTITY);
        return NULL; /* unknown device: the handshake fails */
    }
    c->key_bin.s = c->key;
    c->key_bin.length = (size_t)n;
    return &c->key_bin;
}

/*
 * The socket libcoap bound for our endpoint: the newest UDP socket of this process bound to
 * addr (libcoap 4.3.1 does not say which it is). -1 if none.
 */
static int endpoint_socket(const struct sockaddr_in *addr)
{
    int found = -1;
    for (int fd = 0; fd < 4096; fd++) {
        struct sockaddr_in a;
        socklen_t len = sizeof a;
        int type = 0;
        socklen_t tl = sizeof type;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 || type != SOCK_DGRAM ||
            getsockname(fd, (struct sockaddr *)&a, &len) != 0 || a.sin_family != AF_INET)
            continue;
        if (a.sin_port == addr->sin_port && a.sin_addr.s_addr == addr->sin_addr.s_addr)
            found = fd;
    }
    return found;
}

/*
 * Bind a probe socket to addr without SO_REUSEADDR: it fails if anything holds the address
 * (libcoap binds with SO_REUSEADDR, which Linux lets two UDP sockets share). Returns 0, or
 * -1 with err set.
 */
static int address_free(const struct sockaddr_in *addr, const char *text, char *err, size_t errlen)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int rc = fd >= 0 && bind(fd, (const struct sockaddr *)addr, sizeof *addr) == 0 ? 0 : -1;
    if (rc != 0)
        snprintf(err, errlen, "cannot listen on %s:%u (udp): %s", text,
                 (unsigned)ntohs(addr->sin_port),
                 errno == EADDRINUSE ? "the address is already in use" : strerror(errno));
    if (fd >= 0)
        close(fd);
    return rc;
}

/* The guard's reset: a peer that shook hands anew from the address:port of an established
 * session has reset; that session goes (its bytes are counted first). */
static bool reset_peer(void *arg, const struct sockaddr_in *peer)
{
    struct ald_coap *c = arg;
    for (struct session_bytes *sb = c->sessions; sb; sb = sb->next) {
        const coap_address_t *r = coap_session_get_addr_remote(sb->session);
        if (!r || r->addr.sa.sa_family != AF_INET || r->addr.sin.sin_port != peer->sin_port ||
            r->addr.sin.sin_addr.s_addr != peer->sin_addr.s_addr)
            continue;
        coap_session_t *s = sb->session;
        if (coap_session_get_type(s) != COAP_SESSION_TYPE_SERVER ||
            coap_session_get_state(s) != COAP_SESSION_STATE_ESTABLISHED)
            return false; /* still shaking hands: a retransmitted ClientHello is its own */
        forget_session(c, sb);
        /* libcoap 4.3.1 frees a server session only when it times out; as a client session
         * with its last reference released, it is freed now and leaves the endpoint. */
        coap_session_set_type_client(s);
        coap_session_release(s);
        return true;
    }
    return false;
}

int ald_coap_start(struct ald_coap **out, const char *addr, uint16_t port, bool insecure,
                   unsigned idle_s, const struct ald_device_ops *ops,
                   const struct ald_coap_pki *pki, char *err, size_t errlen)
{
    struct ald_coap *c = calloc(1, sizeof *c);
    coap_address_t a;
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    c->fd = -1;
    coap_startup();
    c->ops = *ops;
    c->ctx = coap_new_context(NULL);
    if (!c->ctx)
        goto fail;
    int slot = -1;
    for (int i = 0; i < MAX_ENDPOINTS && slot < 0; i++)
        if (!registry[i])
            slot = i;
    if (slot < 0) {
        snprintf(err, errlen, "too many CoAP endpoints in one process");
        goto fail_quiet;
    }
    coap_context_set_session_timeout(c->ctx, idle_s ? idle_s : SESSION_IDLE_S);
    coap_context_set_max_handshake_sessions(c->ctx, MAX_HANDSHAKES);
    coap_register_event_handler(c->ctx, on_event);
    if (!insecure) {
        coap_dtls_spsk_t psk;
        memset(&psk, 0, sizeof psk);
        psk.version = COAP_DTLS_SPSK_SETUP_VERSION;
        psk.validate_id_call_back = validate_identity;
        psk.id_call_back_arg = c;
        /* issue 14 (creds): with certificates too, libcoap 4.3.1 (OpenSSL) takes a
         * ClientHello for PSK only if the context has a key of its own; a random one, never
         * used: validate_identity gives each device's. */
        if (pki && !ald_random_bytes(c->dummy_key, sizeof c->dummy_key)) {
            snprintf(err, errlen, "no random bytes");
            goto fail_quiet;
        }
        if (pki) {
            psk.psk_info.key.s = c->dummy_key;
            psk.psk_info.key.length = sizeof c->dummy_key;
        }
        if (!coap_dtls_is_supported() || !coap_context_set_psk2(c->ctx, &psk)) {
            snprintf(err, errlen, "libcoap has no DTLS PSK support");
            goto fail_quiet;
        }
        if (pki) { /* issue 14 (creds) */
            coap_dtls_pki_t p;
            memset(&p, 0, sizeof p);
            p.version = COAP_DTLS_PKI_SETUP_VERSION;
            p.verify_peer_cert = 1;
            p.check_common_ca = 1;
            p.cert_chain_validation = 1;
            p.cert_chain_verify_depth = 2;
            p.validate_cn_call_back = validate_cert;
            p.cn_call_back_arg = c;
            p.pki_key.key_type = COAP_PKI_KEY_PEM_BUF;
            p.pki_key.key.pem_buf.public_cert = (const uint8_t *)pki->cert;
            p.pki_key.key.pem_buf.public_cert_len = pki->cert_len;
            p.pki_key.key.pem_buf.private_key = (const uint8_t *)pki->key;
            p.pki_key.key.pem_buf.private_key_len = pki->key_len;
            p.pki_key.key.pem_buf.ca_cert = (const uint8_t *)pki->cas;
            p.pki_key.key.pem_buf.ca_cert_len = pki->cas_len;
            if (!endpoint_rpk(c, pki->key, pki->key_len)) { /* issue 14 (rpk) */
                snprintf(err, errlen, "--coap-key: cannot derive the endpoint's raw public key");
                goto fail_quiet;
            }
            if (!coap_context_set_pki(c->ctx, &p)) {
                snprintf(err, errlen, "libcoap refused the DTLS certificate setup "
                                      "(--coap-cert, --coap-key, --device-ca)");
                goto fail_quiet;
            }
        }
    }
    coap_address_init(&a);
    a.addr.sin.sin_family = AF_INET;
    a.addr.sin.sin_port = htons(port);
    a.size = sizeof a.addr.sin;
    if (inet_pton(AF_INET, addr, &a.addr.sin.sin_addr) != 1) {
        snprintf(err, errlen, "'%s' is not a numeric IPv4 address", addr);
        goto fail_quiet;
    }
    if (port == 0 && (port = free_udp_port(&a.addr.sin)) == 0) {
        snprintf(err, errlen, "no free UDP port on %s", addr);
        goto fail_quiet;
    }
    a.addr.sin.sin_port = htons(port);
    if (address_free(&a.addr.sin, addr, err, errlen) != 0)
        goto fail_quiet;
    c->ep = coap_new_endpoint(c->ctx, &a, insecure ? COAP_PROTO_UDP : COAP_PROTO_DTLS);
    if (!c->ep) {
        snprintf(err, errlen, "cannot listen on %s:%u (udp)", addr, port);
        goto fail_quiet;
    }
    c->port = port;
    /* One owner per port: with SO_REUSEADDR off again, no later socket can share it. */
    c->fd = endpoint_socket(&a.addr.sin);
    int off = 0;
    if (c->fd >= 0)
        (void)setsockopt(c->fd, SOL_SOCKET, SO_REUSEADDR, &off, sizeof off);
    /* Room for a burst (a fleet coming back at once) while the thread is busy: the kernel's
     * default (about 200 KB, some 150 handshake datagrams) drops the rest. The kernel caps
     * it at net.core.rmem_max. */
    int rcvbuf = DEVICE_RCVBUF;
    if (c->fd >= 0)
        (void)setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (!insecure && c->fd >= 0 && ald_guard_attach(c->fd, reset_peer, c) == 0)
        c->guarded = true;
    registry[slot] = c;

    coap_resource_t *r = coap_resource_init(coap_make_str_const("i"), 0);
    coap_register_handler(r, COAP_REQUEST_POST, handle_inventory);
    coap_add_resource(c->ctx, r);
    r = coap_resource_init(coap_make_str_const("s"), 0);
    coap_register_handler(r, COAP_REQUEST_POST, handle_status);
    coap_add_resource(c->ctx, r);
    r = coap_resource_unknown_init2(NULL, 0);
    coap_register_handler(r, COAP_REQUEST_GET, handle_unknown_get);
    coap_add_resource(c->ctx, r);
    *out = c;
    return 0;
fail:
    snprintf(err, errlen, "libcoap: cannot create a context");
fail_quiet:
    if (c->ctx)
        coap_free_context(c->ctx);
    rpk_free(c);
    free(c);
    return -1;
}

uint16_t ald_coap_bound_port(const struct ald_coap *c)
{
    return c->port;
}

bool ald_coap_guard_stats(const struct ald_coap *c, struct ald_guard_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!c->guarded)
        return false;
    ald_guard_stats(c->fd, out);
    return true;
}

/* issue 16 (speed): a NON response of `code` with the token of listen state l, or NULL. */
static coap_pdu_t *listen_response(coap_session_t *session, const struct ald_coap_listen *l,
                                   coap_pdu_code_t code)
{
    coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_NON, code, coap_new_message_id(session),
                                    coap_session_max_pdu_size(session));
    if (pdu)
        coap_add_token(pdu, l->toklen, l->token);
    return pdu;
}

/* issue 16 (speed): send one session its plan's first window (coap_listen.h). */
static void send_first_window(struct ald_coap *c, struct session_bytes *sb)
{
    struct ald_coap_listen *l = &sb->listen;
    size_t len = 0, fit = coap_session_max_pdu_size(sb->session);
    l->due = false;
    if (!sb->identity[0] || fit < WINDOW_HEADERS + l->toklen + AL_WIRE_CHUNK_MAX)
        return; /* a path too small for the chunks the flag asks for: it asks itself */
    uint32_t want = AL_WIRE_WINDOW_FIRST * AL_WIRE_CHUNK_MAX;
    const uint8_t *data = c->ops.transfer(c->ops.ctx, sb->identity, l->plan_id, l->step, 0, want,
                                          &len);
    if (!data)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
    for (uint32_t i = 0; i < AL_WIRE_WINDOW_FIRST && (size_t)i * AL_WIRE_CHUNK_MAX < len; i++) {
        size_t at = (size_t)i * AL_WIRE_CHUNK_MAX;
        size_t n = len - at < AL_WIRE_CHUNK_MAX ? len - at : AL_WIRE_CHUNK_MAX;
        if (!ald_coap_pace_take(&sb->pace, (uint32_t)n, i == 0, now))
            break;
        coap_pdu_t *pdu = listen_response(sb->session, l, COAP_RESPONSE_CODE(205));
        if (!pdu)
            break;
        add_chunk(pdu, i, data + at, n);
        coap_send(sb->session, pdu);
        count_plain(sb->session, NULL, 0, n, false);
    }
    if (c->ops.release)
        c->ops.release(c->ops.ctx, data);
    account(c, sb->session, NULL, false, false);
}

/* issue 16 (speed): devices that got an update queued and listen on a live session get
 * their plan now, unasked, as an answer to their last inventory (docs/protocol.md). */
static void push_plans(struct ald_coap *c)
{
    char ids[8][ALD_IDENTITY_MAX + 1];
    size_t n;
    while ((n = c->ops.queued(c->ops.ctx, &c->queued_cursor, ids, 8)) > 0) {
        for (size_t i = 0; i < n; i++) {
            for (struct session_bytes *sb = c->sessions; sb; sb = sb->next) {
                struct ald_coap_listen *l = &sb->listen;
                uint8_t plan[MAX_PLAN];
                size_t plan_len = 0;
                if (!l->inv || strcmp(sb->identity, ids[i]) ||
                    coap_session_get_state(sb->session) != COAP_SESSION_STATE_ESTABLISHED)
                    continue;
                int code = c->ops.inventory(c->ops.ctx, sb->identity, l->inv, l->inv_len, plan,
                                            sizeof plan, &plan_len);
                struct al_plan p;
                if (code != 68 || al_plan_decode(plan, plan_len, &p) != AL_OK ||
                    p.status != AL_PLAN_UPDATE || (l->sent && l->plan_id == p.plan_id))
                    continue; /* nothing to do, or its own inventory got this plan already */
                coap_pdu_t *pdu = listen_response(sb->session, l, COAP_RESPONSE_CODE(204));
                if (!pdu)
                    continue;
                coap_add_data(pdu, plan_len, plan);
                coap_send(sb->session, pdu);
                count_plain(sb->session, NULL, 0, plan_len, false);
                ald_coap_listen_plan(l, plan, plan_len);
                c->windows_due |= l->due;
            }
        }
    }
}

int ald_coap_serve(struct ald_coap *c, uint32_t timeout_ms)
{
    /* issue 16 (speed): a plan for an update queued meanwhile leaves within 50 ms. */
    if (c->ops.queued && timeout_ms > PUSH_EVERY_MS)
        timeout_ms = PUSH_EVERY_MS;
    if (coap_io_process(c->ctx, timeout_ms) < 0)
        return -1;
    if (c->ops.queued)
        push_plans(c);
    if (c->windows_due) /* the plans have left: their first windows follow */
        for (struct session_bytes *sb = c->sessions; sb; sb = sb->next)
            if (sb->listen.due)
                send_first_window(c, sb);
    c->windows_due = false;
    return 0;
}

void ald_coap_stop(struct ald_coap *c)
{
    if (!c)
        return;
    while (c->sessions) /* sessions still open: count their bytes before they go */
        forget_session(c, c->sessions);
    if (c->guarded)
        ald_guard_detach(c->fd);
    coap_free_context(c->ctx);
    for (int i = 0; i < MAX_ENDPOINTS; i++)
        if (registry[i] == c)
            registry[i] = NULL;
    rpk_free(c);
    free(c);
}
