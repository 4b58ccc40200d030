/*
 * coap_transport.c - al_transport on libcoap (client). One DTLS session per transport;
 * requests are confirmable (libcoap retransmits them), one at a time.
 *
 * fetch() uses airlift's windowed transfer (docs/protocol.md): non-confirmable requests ask
 * for windows of datagram-sized chunks, which the server sends back to back. What to ask
 * for and when is pace.c's: it keeps more than one window in flight, sized and timed from
 * its estimates of the round trip and of the link's rate, holds chunks that arrive ahead of
 * the one the agent wants, and asks again for a lost chunk as soon as later ones show it
 * lost. With cfg.block2, fetch() asks for one RFC 7959 Block2 block of 1024 bytes per
 * request instead (stop and wait; a lost block is asked for again on the same session:
 * fetch_block()).
 */
#include "coap_transport.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <coap3/coap.h>
#include <gnutls/gnutls.h>
#include <gnutls/dtls.h>
#include <gnutls/abstract.h>

#include "airlift/wire.h"
#include "pace.h"

#define WINDOW_HEADERS 9u /* CoAP header 4, token <= 3 bytes, payload marker 1, chunk index 1 */

/* The windowed transfer in progress: pace.c decides, this maps its requests to tokens. */
struct window {
    bool active;
    char name[32];        /* "<plan>/<step>" */
    uint32_t size;        /* the transfer's size */
    uint8_t error;        /* a 4.xx/5.xx answer to a window request */
    struct {
        uint32_t id;      /* pace.c's request number */
        uint8_t len;
        uint8_t bytes[8];
    } tokens[AL_PACE_REQS];
};

struct al_coap_transport {
    struct al_transport port;
    struct al_coap_config cfg;
    char identity[128];
    uint8_t psk[64];
    char cert_file[512], key_file[512], ca_file[512]; /* issue 14 (creds): "" if unused */
    /* issue 14 (rpk): a raw public key device: its public key (PEM SubjectPublicKeyInfo) and
     * private key (PEM), read at open; the server's key it pins (DER SubjectPublicKeyInfo;
     * len 0: not pinned). NULL / 0 if unused. */
    char *rpk_pub, *rpk_key;
    size_t rpk_pub_len, rpk_key_len;
    uint8_t server_spki[1024];
    size_t server_spki_len;
    coap_context_t *ctx;
    coap_session_t *session;
    bool broken; /* DTLS failed or closed: reconnect on next use */
    bool connected; /* the session's handshake completed */
    /* issue 16 (speed): the session outlived a reset of the device (al_coap_retain): the
     * server has not answered on it since, so it proves nothing yet; an answer does. */
    bool unproven;
    struct al_coap_stats stats;
    /* The one exchange in flight. */
    coap_bin_const_t token;
    uint8_t token_bytes[8];
    uint64_t token_counter;
    bool done;
    uint8_t code;
    uint8_t *resp;
    size_t resp_cap, resp_len;
    bool resp_truncated;
    struct window win;
    /* issue 16 (speed): the last inventory (its token stays the one pushed plans come with)
     * and the first window that comes with its plan (docs/protocol.md, "Plan with its
     * first window"). */
    uint64_t sent_us;      /* when the last exchange's request went out */
    uint8_t inv[AL_PROTO_INVENTORY_MAX];
    size_t inv_len;
    uint8_t inv_token[8], prev_token[8]; /* the last inventory's, and the one before */
    size_t inv_toklen, prev_toklen;
    bool inv_repeat;       /* the last inventory is the same as the one before */
    bool answered_early;   /* the exchange was answered by a pushed plan: no round trip */
    struct {
        bool valid, sample;
        char name[32];
        uint32_t size;
        uint64_t sent_us;
        uint8_t token[8]; /* the chunks come with the token of the inventory they answer */
        size_t toklen;
    } prime;
    uint8_t pushed[AL_PROTO_PLAN_MAX]; /* a plan the server sent unasked, for that inventory */
    size_t pushed_len;
    bool has_pushed;
    bool nudged; /* chunks of a pushed plan came, the plan itself was lost: check in */
    struct al_pace *pace;  /* the windowed transfer's state (pace.h) */
    uint64_t rtt_hint_us;  /* the quickest exchange of this transport: pace.c's first RTT */
    /* issue 16 (b2cells): Block2's retry policy (fetch_block). */
    uint64_t heard_us;     /* when the server's last datagram arrived on the session */
    uint64_t block_rtt_us; /* the quickest block exchange: its retransmission timer */
    bool block_waiting;    /* a block request is in flight */
    bool block_nacked;     /* libcoap gave that request up (MAX_RETRANSMIT): ask again */
};

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* AIRLIFT_TRACE=1 in the environment: a timestamped line on stderr for each window request,
 * chunk and exchange (docs/simulated-device.md), to read a transfer's timeline. */
static void trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void trace(const char *fmt, ...)
{
    static int on = -1;
    if (on < 0) {
        const char *e = getenv("AIRLIFT_TRACE");
        on = e && *e;
    }
    if (!on)
        return;
    struct timespec ts;
    va_list ap;
    clock_gettime(CLOCK_REALTIME, &ts);
    fprintf(stderr, "%lld.%03ld ", (long long)ts.tv_sec, ts.tv_nsec / 1000000L);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}
#define TRACE trace

/* A response with one of the window requests' tokens: a chunk for pace.c, or an error. */
static bool on_window_response(struct al_coap_transport *t, const coap_pdu_t *received)
{
    struct window *w = &t->win;
    coap_bin_const_t tok = coap_pdu_get_token(received);
    uint32_t id = 0;
    for (unsigned i = 0; i < AL_PACE_REQS && w->active; i++)
        if (w->tokens[i].len && tok.length == w->tokens[i].len &&
            memcmp(tok.s, w->tokens[i].bytes, tok.length) == 0)
            id = w->tokens[i].id;
    if (!id || !al_pace_knows(t->pace, id))
        return false;
    const uint8_t *data = NULL;
    size_t len = 0;
    coap_pdu_code_t code = coap_pdu_get_code(received);
    if (code != COAP_RESPONSE_CODE(205)) {
        w->error = (uint8_t)(((code >> 5) & 7) * 32 + (code & 31));
        return true;
    }
    if (coap_get_data(received, &len, &data) && len >= 2)
        TRACE("chunk %u.%u\n", (unsigned)id, (unsigned)data[0]);
    if (coap_get_data(received, &len, &data) && len >= 2)
        (void)al_pace_chunk(t->pace, id, data[0], data + 1, len - 1, now_us());
    return true;
}

/* issue 16 (speed): a plan answers inventory `inv`: does its first window come with it? */
static void expect_window(struct al_coap_transport *t, const uint8_t *plan_bytes, size_t plan_len,
                          uint64_t sent_us, bool sample, const uint8_t *token, size_t toklen)
{
    struct al_plan plan;
    struct al_inventory inv;
    uint8_t step = 0;
    t->prime.valid = false;
    if (al_plan_decode(plan_bytes, plan_len, &plan) != AL_OK ||
        al_inventory_decode(t->inv, t->inv_len, &inv) != AL_OK ||
        !al_plan_window_with(&plan, &inv, &step))
        return;
    snprintf(t->prime.name, sizeof t->prime.name, "%u/%u", (unsigned)plan.plan_id, (unsigned)step);
    t->prime.size = plan.steps[step].transfer_size;
    t->prime.sent_us = sent_us;
    t->prime.sample = sample;
    memcpy(t->prime.token, token, toklen);
    t->prime.toklen = toklen;
    t->prime.valid = true;
}

/* The largest chunk the session's datagrams carry (<= cap, a multiple of 16), 0 if none. */
static size_t chunk_size(struct al_coap_transport *t, size_t cap)
{
    size_t pdu = coap_session_max_pdu_size(t->session), chunk = AL_WIRE_CHUNK_MAX;
    if (pdu > WINDOW_HEADERS && pdu - WINDOW_HEADERS < chunk)
        chunk = pdu - WINDOW_HEADERS;
    if (chunk > cap)
        chunk = cap;
    return chunk < AL_WIRE_CHUNK_ALIGN ? 0 : chunk - chunk % AL_WIRE_CHUNK_ALIGN;
}

/* Start the window state of transfer `name` (size bytes) at `offset`; with the plan's first
 * window on its way (t->prime, for this transfer from 0), record it as asked for. */
static void start_window(struct al_coap_transport *t, const char *name, uint32_t offset,
                         uint32_t size, size_t chunk)
{
    struct window *w = &t->win;
    uint64_t hint = t->pace->srtt_us ? t->pace->srtt_us : t->rtt_hint_us;
    memset(w, 0, sizeof *w);
    w->active = true;
    snprintf(w->name, sizeof w->name, "%s", name);
    w->size = size;
    al_pace_start(t->pace, offset, size, (uint32_t)chunk, hint);
    if (t->prime.valid && !strcmp(t->prime.name, name) && t->prime.size == size && offset == 0 &&
        chunk == AL_WIRE_CHUNK_MAX) {
        /* issue 16 (speed): the chunks come under the inventory's token. */
        uint32_t id = al_pace_prime(t->pace, AL_WIRE_WINDOW_FIRST, t->prime.sent_us,
                                    t->prime.sample);
        unsigned at = id % AL_PACE_REQS;
        w->tokens[at].id = id;
        w->tokens[at].len = (uint8_t)t->prime.toklen;
        memcpy(w->tokens[at].bytes, t->prime.token, t->prime.toklen);
        TRACE("primed window %u\n", (unsigned)id);
    }
    t->prime.valid = false;
}

/* issue 16 (speed): a 2.04 with the last inventory's token, after its answer: a plan the
 * server sends unasked (an update was queued); kept for al_coap_wait(). */
static bool on_pushed_plan(struct al_coap_transport *t, const coap_pdu_t *received)
{
    coap_bin_const_t tok = coap_pdu_get_token(received);
    const uint8_t *data = NULL;
    size_t len = 0, chunk;
    /* It answers the last inventory, or (crossing it) the one before. */
    bool last = t->inv_toklen && tok.length == t->inv_toklen &&
                !memcmp(tok.s, t->inv_token, tok.length);
    bool before = t->prev_toklen && tok.length == t->prev_toklen &&
                  !memcmp(tok.s, t->prev_token, tok.length);
    if (!last && !before)
        return false;
    if (coap_pdu_get_code(received) == COAP_RESPONSE_CODE(204) &&
        coap_get_data(received, &len, &data) && len <= sizeof t->pushed) {
        if (last) { /* the device's next inventory, the same, is answered with it */
            memcpy(t->pushed, data, len);
            t->pushed_len = len;
            t->has_pushed = true;
        }
        if (before && t->inv_repeat && !t->done && t->token.length == t->inv_toklen &&
            !memcmp(t->token.s, t->inv_token, t->inv_toklen) && len <= t->resp_cap) {
            /* It crossed the same inventory again, still on its way: that one's answer
             * would be this plan too, and waits behind its first window on the link. */
            memcpy(t->resp, data, len);
            t->resp_len = len;
            t->code = AL_COAP_CHANGED;
            t->resp_truncated = false;
            t->answered_early = true;
            t->done = true;
        }
        expect_window(t, data, len, now_us(), false, tok.s, tok.length);
        /* Its first window follows at once: take it from now on, even while an exchange
         * is under way. */
        if (t->prime.valid && !(t->win.active && !strcmp(t->win.name, t->prime.name)) &&
            (chunk = chunk_size(t, AL_WIRE_CHUNK_MAX)) == AL_WIRE_CHUNK_MAX)
            start_window(t, t->prime.name, 0, t->prime.size, chunk);
        TRACE("pushed plan\n");
    } else if (last && coap_pdu_get_code(received) == COAP_RESPONSE_CODE(205)) {
        t->nudged = true; /* a first window without its plan: that was lost on the way */
    }
    return true;
}

static coap_response_t on_response(coap_session_t *session, const coap_pdu_t *sent,
                                   const coap_pdu_t *received, const coap_mid_t mid)
{
    struct al_coap_transport *t = coap_session_get_app_data(session);
    coap_bin_const_t tok = coap_pdu_get_token(received);
    const uint8_t *data = NULL;
    size_t len = 0;
    (void)sent;
    (void)mid;
    if (t)
        t->heard_us = now_us(); /* issue 16 (b2cells): the link carries datagrams */
    if (t && on_window_response(t, received))
        return COAP_RESPONSE_OK;
    if (!t || t->done || tok.length != t->token.length ||
        memcmp(tok.s, t->token.s, tok.length) != 0) {
        if (t)
            (void)on_pushed_plan(t, received);
        return COAP_RESPONSE_OK; /* else a late duplicate of an earlier exchange */
    }
    coap_pdu_code_t code = coap_pdu_get_code(received);
    t->code = (uint8_t)(((code >> 5) & 7) * 32 + (code & 31));
    coap_get_data(received, &len, &data);
    t->resp_truncated = len > t->resp_cap;
    t->resp_len = len > t->resp_cap ? t->resp_cap : len;
    if (t->resp_len)
        memcpy(t->resp, data, t->resp_len);
    t->done = true;
    return COAP_RESPONSE_OK;
}

static void fit_records(struct al_coap_transport *t, coap_session_t *session);

/* The session's handshake completed: counted once, its records fitted to the path. */
static void handshake_done(struct al_coap_transport *t)
{
    if (t->connected)
        return;
    t->connected = true;
    t->unproven = false;
    t->stats.handshakes++;
    fit_records(t, t->session);
}

/*
 * coap_io_process, and then (issue 14, rpk) the handshake's end: libcoap 4.3.1's GnuTLS
 * client raises no COAP_EVENT_DTLS_CONNECTED for DTLS (OpenSSL's did), so an established
 * DTLS session is noticed here.
 */
static int process(struct al_coap_transport *t, uint32_t ms)
{
    int rc = coap_io_process(t->ctx, ms);
    if (t->session && !t->connected && !t->cfg.insecure &&
        coap_session_get_state(t->session) == COAP_SESSION_STATE_ESTABLISHED)
        handshake_done(t);
    return rc;
}

static int on_event(coap_session_t *session, const coap_event_t event)
{
    struct al_coap_transport *t = coap_session_get_app_data(session);
    TRACE("event %d\n", (int)event);
    if (t && event == COAP_EVENT_DTLS_CONNECTED)
        handshake_done(t);
    if (t && (event == COAP_EVENT_DTLS_ERROR || event == COAP_EVENT_DTLS_CLOSED ||
              event == COAP_EVENT_SESSION_FAILED))
        t->broken = true;
    return 0;
}

static void on_nack(coap_session_t *session, const coap_pdu_t *sent, const coap_nack_reason_t reason,
                    const coap_mid_t mid)
{
    struct al_coap_transport *t = coap_session_get_app_data(session);
    (void)mid;
    if (t && t->block_waiting && reason == COAP_NACK_TOO_MANY_RETRIES && sent) {
        /* issue 16 (b2cells): a block request went unanswered: fetch_block asks again on
         * this session (the session is not at fault; the link lost datagrams). */
        coap_bin_const_t tok = coap_pdu_get_token(sent);
        if (tok.length == t->token.length && !memcmp(tok.s, t->token.s, tok.length)) {
            t->block_nacked = true;
            return;
        }
    }
    if (t)
        t->broken = true; /* retransmissions exhausted, or the session failed */
}

/*
 * issue 14 (rpk): libcoap 4.3.1 does not give GnuTLS the session's MTU (GnuTLS's default,
 * 1200 bytes, is less than a chunk's datagram) and reckons 37 bytes of record overhead for
 * every GnuTLS suite (29 for ours). Once the handshake is done: records fill the path's
 * datagrams, and libcoap's PDU limit is exactly what one record of the suite carries.
 */
#define LIBCOAP_GNUTLS_OVERHEAD 37u /* libcoap 4.3.1's coap_dtls_get_overhead for GnuTLS */
static void fit_records(struct al_coap_transport *t, coap_session_t *session)
{
    coap_tls_library_t lib = COAP_TLS_LIBRARY_NOTLS;
    gnutls_session_t g = coap_session_get_tls(session, &lib);
    if (!g || lib != COAP_TLS_LIBRARY_GNUTLS)
        return;
    gnutls_dtls_set_mtu(g, (t->cfg.mtu ? t->cfg.mtu : 1500u) - 28u); /* IPv4 + UDP */
    coap_session_set_mtu(session, gnutls_dtls_get_data_mtu(g) + LIBCOAP_GNUTLS_OVERHEAD);
}

static void drop_session(struct al_coap_transport *t)
{
    if (t->session) {
        t->connected = false;
        coap_session_set_app_data(t->session, NULL);
        /* issue 16 (b2cells): cancel what it still has queued. A released session with a
         * confirmable request pending lives on, retransmitting it from its old socket for
         * up to 45 s: on a carrier's NAT (sim/link.c) that moves the device's mapping back
         * to the old socket, and the new session's datagrams reach the server from a port
         * it does not know, unanswered: at 30 % loss the device failed session after
         * session that way. */
        coap_session_disconnected(t->session, COAP_NACK_NOT_DELIVERABLE);
        coap_session_release(t->session);
        t->session = NULL;
    }
}

/*
 * libcoap sends the first ClientHello at once; the server's HelloVerifyRequest makes the
 * client send it again, and that one is built from the session's settings now. A device
 * offers only what airlift's server speaks and asks for no session ticket (it keeps no
 * session across resets), which saves about 300 bytes per handshake.
 */
static void trim_client_hello(coap_session_t *session, bool pki, bool rpk)
{
    coap_tls_library_t lib = COAP_TLS_LIBRARY_NOTLS;
    gnutls_session_t g = session ? coap_session_get_tls(session, &lib) : NULL;
    if (!g || lib != COAP_TLS_LIBRARY_GNUTLS)
        return;
    /* issue 14 (rpk): GnuTLS priority strings. DTLS 1.2 only; PSK: ECDHE-PSK with
     * ChaCha20-Poly1305 and RFC 7252's mandatory PSK-AES128-CCM8; a certificate or raw public
     * key: ECDHE-ECDSA with RFC 7252's AES-128-CCM-8 first, then AES-128-GCM, one signature
     * scheme, one group; a raw public key asks for raw keys both ways (RFC 7250). No
     * session tickets. */
    const char *prio = rpk ? "NONE:+VERS-DTLS1.2:+ECDHE-ECDSA:+AES-128-CCM-8:+AES-128-GCM:"
                             "+AEAD:+SHA256:+SIGN-ECDSA-SHA256:+GROUP-SECP256R1:"
                             "+COMP-NULL:+CTYPE-CLI-RAWPK:+CTYPE-SRV-RAWPK:%NO_TICKETS"
                       : pki ? "NONE:+VERS-DTLS1.2:+ECDHE-ECDSA:+AES-128-CCM-8:+AES-128-GCM:"
                             "+AEAD:+SHA256:+SIGN-ECDSA-SHA256:+GROUP-SECP256R1:"
                             "+COMP-NULL:%NO_TICKETS"
                           : "NONE:+VERS-DTLS1.2:+ECDHE-PSK:+PSK:+CHACHA20-POLY1305:"
                             "+AES-128-CCM-8:+AEAD:+SHA256:+GROUP-X25519:+GROUP-SECP256R1:"
                             "+COMP-NULL:+SIGN-ECDSA-SHA256:%NO_TICKETS";
    (void)gnutls_priority_set_direct(g, prio, NULL);
}

/* issue 14 (rpk): the server's raw public key (der, its SubjectPublicKeyInfo) is the one the
 * device pins; without a pin any key passes (and connect answers AL_ERR_STATE). */
static int server_key_pinned(const char *cn, const uint8_t *der, size_t len,
                             coap_session_t *session, unsigned depth, int validated, void *arg)
{
    const struct al_coap_transport *t = arg;
    (void)cn;
    (void)session;
    (void)depth;
    (void)validated;
    return !t->server_spki_len || (len == t->server_spki_len && !memcmp(der, t->server_spki, len));
}

/* issue 14 (rpk): the whole of file path into *out (NUL-terminated, *len with the NUL). */
static bool read_pem(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = f ? malloc(16385) : NULL;
    size_t n = buf ? fread(buf, 1, 16384, f) : 0;
    bool ok = buf && n > 0 && n < 16384 && !ferror(f);
    if (f)
        fclose(f);
    if (!ok) {
        free(buf);
        return false;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n + 1;
    return true;
}

/* issue 14 (rpk): the DER SubjectPublicKeyInfo of the PEM public key in path. */
static bool read_spki(const char *path, uint8_t *der, size_t cap, size_t *len)
{
    char *pem = NULL;
    size_t n = 0;
    gnutls_pubkey_t k = NULL;
    bool ok = read_pem(path, &pem, &n) && gnutls_pubkey_init(&k) == 0;
    gnutls_datum_t d = {(unsigned char *)pem, (unsigned)(n ? n - 1 : 0)};
    size_t size = cap;
    ok = ok && gnutls_pubkey_import(k, &d, GNUTLS_X509_FMT_PEM) == 0 &&
         gnutls_pubkey_export(k, GNUTLS_X509_FMT_DER, der, &size) == 0;
    if (k)
        gnutls_pubkey_deinit(k);
    free(pem);
    *len = ok ? size : 0;
    return ok;
}

static al_err connect_session(struct al_coap_transport *t)
{
    coap_address_t dst;
    if (t->session && !t->broken)
        return AL_OK;
    drop_session(t);
    t->broken = false;
    coap_address_init(&dst);
    dst.addr.sin.sin_family = AF_INET;
    dst.addr.sin.sin_port = htons(t->cfg.port);
    if (inet_pton(AF_INET, t->cfg.host, &dst.addr.sin.sin_addr) != 1)
        return AL_ERR_TRANSPORT;
    dst.size = sizeof dst.addr.sin;
    if (t->cfg.insecure) {
        t->session = coap_new_client_session(t->ctx, NULL, &dst, COAP_PROTO_UDP);
    } else if (t->rpk_pub) { /* issue 14 (rpk): RFC 7250 */
        coap_dtls_pki_t pki;
        memset(&pki, 0, sizeof pki);
        pki.version = COAP_DTLS_PKI_SETUP_VERSION;
        pki.is_rpk_not_cert = 1;
        pki.validate_cn_call_back = server_key_pinned;
        pki.cn_call_back_arg = t;
        pki.pki_key.key_type = COAP_PKI_KEY_PEM_BUF;
        pki.pki_key.key.pem_buf.public_cert = (const uint8_t *)t->rpk_pub;
        pki.pki_key.key.pem_buf.public_cert_len = t->rpk_pub_len;
        pki.pki_key.key.pem_buf.private_key = (const uint8_t *)t->rpk_key;
        pki.pki_key.key.pem_buf.private_key_len = t->rpk_key_len;
        t->session = coap_new_client_session_pki(t->ctx, NULL, &dst, COAP_PROTO_DTLS, &pki);
        trim_client_hello(t->session, true, true);
    } else if (t->cert_file[0]) { /* issue 14 (creds) */
        coap_dtls_pki_t pki;
        memset(&pki, 0, sizeof pki);
        pki.version = COAP_DTLS_PKI_SETUP_VERSION;
        pki.verify_peer_cert = t->ca_file[0] != '\0';
        pki.check_common_ca = t->ca_file[0] != '\0';
        pki.cert_chain_validation = 1;
        pki.cert_chain_verify_depth = 2;
        pki.pki_key.key_type = COAP_PKI_KEY_PEM;
        pki.pki_key.key.pem.public_cert = t->cert_file;
        pki.pki_key.key.pem.private_key = t->key_file;
        pki.pki_key.key.pem.ca_file = t->ca_file[0] ? t->ca_file : NULL;
        t->session = coap_new_client_session_pki(t->ctx, NULL, &dst, COAP_PROTO_DTLS, &pki);
        trim_client_hello(t->session, true, false);
    } else {
        coap_dtls_cpsk_t psk;
        memset(&psk, 0, sizeof psk);
        psk.version = COAP_DTLS_CPSK_SETUP_VERSION;
        psk.psk_info.identity.s = (const uint8_t *)t->identity;
        psk.psk_info.identity.length = strlen(t->identity);
        psk.psk_info.key.s = t->psk;
        psk.psk_info.key.length = t->cfg.psk_len;
        t->session = coap_new_client_session_psk2(t->ctx, NULL, &dst, COAP_PROTO_DTLS, &psk);
        trim_client_hello(t->session, false, false);
    }
    if (!t->session)
        return AL_ERR_TRANSPORT;
    if (!t->cfg.insecure)
        t->stats.sessions++;
    coap_session_set_app_data(t->session, t);
    coap_session_set_mtu(t->session, (t->cfg.mtu ? t->cfg.mtu : 1500u) - 28u); /* IPv4 + UDP */

    return AL_OK;
}

/* Send pdu and wait for its response (or the timeout, or a broken session). */
static al_err transact(struct al_coap_transport *t, coap_pdu_t *pdu, uint8_t *resp, size_t cap,
                       size_t *resp_len, uint8_t *code)
{
    TRACE("exchange start\n");
    t->done = false;
    t->resp = resp;
    t->resp_cap = cap;
    t->resp_len = 0;
    uint64_t sent_us = now_us();
    bool timed = t->connected; /* not a handshake's time too */
    t->sent_us = sent_us;
    t->answered_early = false;
    if (coap_send(t->session, pdu) == COAP_INVALID_MID) {
        t->broken = true;
        return AL_ERR_TRANSPORT;
    }
    uint32_t waited = 0, limit = t->cfg.timeout_ms ? t->cfg.timeout_ms : 30000;
    bool shaken = t->connected;
    while (!t->done && !t->broken && waited < limit) {
        int spent = process(t, 100);
        if (spent < 0) {
            t->broken = true;
            break;
        }
        waited += spent > 0 ? (uint32_t)spent : 1u;
        if (!shaken && t->connected) {
            /* issue 16 (b2cells): the handshake had `limit`; the request gets its own from
             * now (on a lossy link a slow handshake left the inventory too little time, so
             * the session failed again and again, each time after a whole handshake). */
            shaken = true;
            waited = 0;
        }
    }
    if (!t->done) {
        t->broken = true; /* start a fresh session next time */
        return waited >= limit ? AL_ERR_TIMEOUT : AL_ERR_TRANSPORT;
    }
    uint64_t took = now_us() - sent_us;
    TRACE("exchange done %llu us\n", (unsigned long long)took);
    if (timed && !t->answered_early && (!t->rtt_hint_us || took < t->rtt_hint_us))
        t->rtt_hint_us = took; /* the least is the one libcoap did not have to retransmit */
    if (t->resp_truncated)
        return AL_ERR_PROTOCOL;
    *resp_len = t->resp_len;
    *code = t->code;
    return AL_OK;
}

/* A request of `type` to path (segments separated by '/') with a fresh token. */
static coap_pdu_t *new_request(struct al_coap_transport *t, coap_pdu_type_t type,
                               coap_pdu_code_t method, const char *path)
{
    coap_pdu_t *pdu = coap_pdu_init(type, method, coap_new_message_id(t->session),
                                    coap_session_max_pdu_size(t->session));
    if (!pdu)
        return NULL;
    t->token_counter++;
    size_t toklen = 0;
    for (uint64_t v = t->token_counter; v && toklen < sizeof t->token_bytes; v >>= 8)
        t->token_bytes[toklen++] = (uint8_t)v;
    t->token.s = t->token_bytes;
    t->token.length = toklen;
    coap_add_token(pdu, toklen, t->token_bytes);
    for (const char *seg = path; *seg;) {
        const char *end = strchr(seg, '/');
        size_t n = end ? (size_t)(end - seg) : strlen(seg);
        coap_add_option(pdu, COAP_OPTION_URI_PATH, n, (const uint8_t *)seg);
        seg += n + (end ? 1 : 0);
    }
    if (t->cfg.insecure && t->cfg.identity && t->cfg.identity[0]) {
        /* Plain CoAP (development only) has no PSK identity: name the device in the query. */
        char q[4 + sizeof t->identity];
        int n = snprintf(q, sizeof q, "id=%s", t->cfg.identity);
        if (n > 0 && (size_t)n < sizeof q)
            coap_add_option(pdu, COAP_OPTION_URI_QUERY, (size_t)n, (const uint8_t *)q);
    }
    return pdu;
}

static al_err coap_exchange(void *ctx, uint8_t method, const char *path, const uint8_t *req,
                            size_t req_len, uint8_t *resp, size_t resp_cap, size_t *resp_len,
                            uint8_t *code)
{
    struct al_coap_transport *t = ctx;
    al_err err = connect_session(t);
    if (err != AL_OK)
        return err;
    coap_pdu_t *pdu = new_request(t, resp ? COAP_MESSAGE_CON : COAP_MESSAGE_NON,
                                  method == AL_METHOD_GET ? COAP_REQUEST_CODE_GET
                                                          : COAP_REQUEST_CODE_POST, path);
    if (!pdu)
        return AL_ERR_TRANSPORT;
    bool inventory = resp && method == AL_METHOD_POST && !strcmp(path, "i") &&
                     req_len <= sizeof t->inv;
    if (inventory && t->has_pushed && req_len == t->inv_len && !memcmp(req, t->inv, req_len) &&
        t->pushed_len <= resp_cap) {
        /* issue 16 (speed): the server already answered this very inventory, unasked. */
        coap_delete_pdu(pdu);
        memcpy(resp, t->pushed, t->pushed_len);
        *resp_len = t->pushed_len;
        *code = AL_COAP_CHANGED;
        t->has_pushed = false;
        return AL_OK;
    }
    t->has_pushed = false;
    if (inventory) {
        t->inv_repeat = req_len == t->inv_len && !memcmp(req, t->inv, req_len);
        memcpy(t->inv, req, req_len);
        t->inv_len = req_len;
        memcpy(t->prev_token, t->inv_token, t->inv_toklen);
        t->prev_toklen = t->inv_toklen;
        t->inv_toklen = t->token.length;
        memcpy(t->inv_token, t->token_bytes, t->token.length);
        t->prime.valid = false;
    }
    if (!resp) { /* no answer wanted: NON, and No-Response (RFC 7967) for every class */
        uint8_t none[1];
        coap_add_option(pdu, COAP_OPTION_NORESPONSE, coap_encode_var_safe(none, sizeof none, 26),
                        none);
    }
    if (req_len && !coap_add_data(pdu, req_len, req)) {
        coap_delete_pdu(pdu);
        return AL_ERR_TRANSPORT;
    }
    if (!resp) {
        if (coap_send(t->session, pdu) == COAP_INVALID_MID) {
            t->broken = true;
            return AL_ERR_TRANSPORT;
        }
        return AL_OK;
    }
    err = transact(t, pdu, resp, resp_cap, resp_len, code);
    if (inventory && err == AL_OK && *code == AL_COAP_CHANGED)
        expect_window(t, resp, *resp_len, t->sent_us, true, t->inv_token, t->inv_toklen);
    return err;
}

/*
 * One RFC 7959 Block2 block per request (cfg.block2): 1024 bytes, less on a small MTU.
 * issue 16 (b2cells), the retry policy (docs/protocol.md, "Block2"): each request is
 * confirmable, retransmitted by libcoap with RFC 7252's exponential back-off, from an
 * ACK_TIMEOUT of 1.5 x the quickest block exchange seen (at least 1 s, at most 8 s; 2 s,
 * RFC 7252's default, until one is measured) and at most AL_BLOCK2_RETRANSMIT times. A
 * request that is not answered does not end the session: the same block is asked for
 * again, under a fresh token, back-off anew, as long as the server has been heard from
 * (any datagram) within AL_BLOCK2_SILENCE x the exchange timeout; after that silence the
 * fetch fails (AL_ERR_TIMEOUT), the session ends, and the agent's next session resumes at
 * the first block it lacks (its journal's offset: no block it holds is asked again).
 */
#define AL_BLOCK2_RETRANSMIT 2u
#define AL_BLOCK2_SILENCE 3u

/* The block request `pdu` sent and waited for: AL_OK answered, AL_ERR_TIMEOUT given up
 * (retransmissions exhausted, or the server silent since `quiet_from` for `silence` us),
 * AL_ERR_TRANSPORT the session failed. */
static al_err block_exchange(struct al_coap_transport *t, coap_pdu_t *pdu, uint8_t *resp,
                             size_t cap, size_t *resp_len, uint8_t *code, uint64_t quiet_from,
                             uint64_t silence)
{
    t->done = false;
    t->resp = resp;
    t->resp_cap = cap;
    t->resp_len = 0;
    t->block_nacked = false;
    t->block_waiting = true;
    uint64_t sent_us = now_us();
    if (coap_send(t->session, pdu) == COAP_INVALID_MID)
        t->broken = true;
    while (!t->done && !t->broken && !t->block_nacked) {
        uint64_t heard = t->heard_us > quiet_from ? t->heard_us : quiet_from;
        if (now_us() - heard >= silence)
            break;
        if (coap_io_process(t->ctx, 100) < 0)
            t->broken = true;
    }
    t->block_waiting = false;
    if (t->broken)
        return AL_ERR_TRANSPORT;
    if (!t->done)
        return AL_ERR_TIMEOUT;
    uint64_t took = now_us() - sent_us;
    if (!t->block_rtt_us || took < t->block_rtt_us)
        t->block_rtt_us = took;
    if (t->resp_truncated)
        return AL_ERR_PROTOCOL;
    *resp_len = t->resp_len;
    *code = t->code;
    return AL_OK;
}

static al_err fetch_block(struct al_coap_transport *t, const char *name, uint32_t offset,
                          uint8_t *buf, size_t cap, size_t *got)
{
    uint8_t opt[4], code = 0;
    char path[40];
    snprintf(path, sizeof path, "f/%s", name);
    /* 1024-byte blocks, or the largest that fits the session's datagrams with the
     * response's headers (about 24 bytes: header, token, Block2, Size2, marker). */
    unsigned szx = AL_WIRE_BLOCK_SZX;
    while (szx > 0 && (16u << szx) + 24u > coap_session_max_pdu_size(t->session))
        szx--;
    uint32_t bsize = 16u << szx;
    unsigned num = offset / bsize;
    uint8_t block[AL_WIRE_BLOCK_SIZE];
    size_t len = 0;
    uint64_t ack_ms = t->block_rtt_us ? t->block_rtt_us * 3u / 2000u : 2000u;
    ack_ms = ack_ms < 1000u ? 1000u : ack_ms > 8000u ? 8000u : ack_ms;
    coap_fixed_point_t ack_was = coap_session_get_ack_timeout(t->session);
    uint16_t retx_was = coap_session_get_max_retransmit(t->session);
    coap_session_set_ack_timeout(t->session, (coap_fixed_point_t){(uint16_t)(ack_ms / 1000u),
                                                                  (uint16_t)(ack_ms % 1000u)});
    coap_session_set_max_retransmit(t->session, AL_BLOCK2_RETRANSMIT);
    uint64_t silence = (t->cfg.timeout_ms ? t->cfg.timeout_ms : 30000) * 1000ull * AL_BLOCK2_SILENCE;
    uint64_t from = now_us();
    al_err err;
    for (unsigned asked = 0;; asked++) {
        coap_pdu_t *pdu = new_request(t, COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, path);
        if (!pdu) {
            err = AL_ERR_TRANSPORT;
            break;
        }
        coap_add_option(pdu, COAP_OPTION_BLOCK2,
                        coap_encode_var_safe(opt, sizeof opt, (num << 4) | szx), opt);
        TRACE("block %u asked (%u) ack %u ms\n", num, asked, (unsigned)ack_ms);
        err = block_exchange(t, pdu, block, sizeof block, &len, &code, from, silence);
        if (err != AL_ERR_TIMEOUT || !t->block_nacked)
            break; /* answered, failed, or the server silent too long */
    }
    if (t->session && !t->broken) {
        coap_session_set_ack_timeout(t->session, ack_was);
        coap_session_set_max_retransmit(t->session, retx_was);
    }
    if (err == AL_ERR_TIMEOUT)
        t->broken = true; /* silence: start a fresh session next time */
    if (err != AL_OK)
        return err;
    if (code != AL_COAP_CONTENT)
        return code == 132 /* 4.04 */ ? AL_ERR_PROTOCOL : AL_ERR_TRANSPORT;
    TRACE("block %u got\n", num);
    size_t skip = offset % bsize; /* a resumed stream starts inside a block */
    if (len <= skip)
        return AL_ERR_PROTOCOL;
    len -= skip;
    if (len > cap)
        len = cap;
    memcpy(buf, block + skip, len);
    *got = len;
    return AL_OK;
}

/* Send pace.c's window request `ask`, under a fresh token kept for its chunks. */
static al_err send_window(struct al_coap_transport *t, const struct al_pace_ask *ask)
{
    struct window *w = &t->win;
    char path[40], q[24];
    snprintf(path, sizeof path, "w/%s", w->name);
    coap_pdu_t *pdu = new_request(t, COAP_MESSAGE_NON, COAP_REQUEST_CODE_GET, path);
    if (!pdu)
        return AL_ERR_TRANSPORT;
    unsigned at = ask->id % AL_PACE_REQS;
    w->tokens[at].id = ask->id;
    w->tokens[at].len = (uint8_t)t->token.length;
    memcpy(w->tokens[at].bytes, t->token_bytes, t->token.length);
    const char *fmt[4] = {"o=%u", "n=%u", "c=%u", "m=%x"};
    uint32_t val[4] = {ask->offset, ask->count, ask->chunk, ask->skip};
    for (int i = 0; i < (ask->skip ? 4 : 3); i++) {
        int n = snprintf(q, sizeof q, fmt[i], (unsigned)val[i]);
        coap_add_option(pdu, COAP_OPTION_URI_QUERY, (size_t)n, (const uint8_t *)q);
    }
    if (coap_send(t->session, pdu) == COAP_INVALID_MID) {
        t->broken = true;
        return AL_ERR_TRANSPORT;
    }
    TRACE("window %u o=%u n=%u m=%x srtt=%llu rto=%llu rate=%u\n", (unsigned)ask->id, (unsigned)ask->offset, (unsigned)ask->count, (unsigned)ask->skip, (unsigned long long)t->pace->srtt_us, (unsigned long long)t->pace->rto_us, (unsigned)t->pace->rate);
    return AL_OK;
}

/* airlift's windowed transfer; see the top of this file. */
static al_err fetch_window(struct al_coap_transport *t, const char *name, uint32_t offset,
                           uint32_t size, uint32_t until, uint8_t *buf, size_t cap, size_t *got)
{
    struct window *w = &t->win;
    struct al_pace *p = t->pace;
    if (!w->active || strcmp(w->name, name) != 0 || w->size != size || !al_pace_covers(p, offset)) {
        /* A new transfer, or a jump: the largest chunk the session's datagrams carry. */
        size_t chunk = chunk_size(t, cap);
        if (!chunk || strlen(name) >= sizeof w->name)
            return AL_ERR_INVALID_ARG;
        start_window(t, name, offset, size, chunk);
    }
    t->prime.valid = false; /* the window it announced is taken, or not for this transfer */
    al_pace_want(p, offset, until > offset && until < size ? until : size, t->cfg.window_bytes);
    uint64_t limit = (t->cfg.timeout_ms ? t->cfg.timeout_ms : 30000) * 1000ull, start = now_us();
    for (;;) {
        struct al_pace_ask ask;
        while (al_pace_next(p, now_us(), &ask)) {
            al_err err = send_window(t, &ask);
            if (err != AL_OK)
                return err;
        }
        if (al_pace_take(p, buf, cap, got))
            return AL_OK;
        if (w->error) {
            uint8_t e = w->error;
            w->active = false;
            return e == 132 || e == 130 || e == 128 ? AL_ERR_PROTOCOL : AL_ERR_TRANSPORT;
        }
        if (al_pace_failed(p) || now_us() - start >= limit) {
            w->active = false;
            return AL_ERR_TIMEOUT; /* the session fails; the next one resumes */
        }
        if (process(t, 5) < 0 || t->broken) {
            t->broken = true;
            w->active = false;
            return AL_ERR_TRANSPORT;
        }
    }
}

static al_err coap_fetch(void *ctx, const char *name, uint32_t offset, uint32_t size,
                         uint32_t until, uint8_t *buf, size_t cap, size_t *got)
{
    struct al_coap_transport *t = ctx;
    al_err err = connect_session(t);
    if (err != AL_OK)
        return err;
    if (offset >= size)
        return AL_ERR_INVALID_ARG;
    return t->cfg.block2 ? fetch_block(t, name, offset, buf, cap, got)
                         : fetch_window(t, name, offset, size, until, buf, cap, got);
}

/*
 * issue 16 (speed): a session kept across a reset proves the server only once it answers on
 * it again: a NON GET of /i, which every airlift server answers (4.05: /i takes POST only),
 * sent twice at most, each waited for 3 round trips (at least 0.5 s). Non-confirmable, so no
 * retransmission of it outlives a failure (libcoap would keep the old socket busy, and a
 * NAT would follow it). AL_OK once the answer came.
 */
static al_err prove_session(struct al_coap_transport *t)
{
    uint64_t wait = t->rtt_hint_us ? 3 * t->rtt_hint_us : 2000000u;
    uint8_t answer[16];
    if (wait < 500000u)
        wait = 500000u;
    for (int tries = 0; tries < 2 && !t->broken; tries++) {
        coap_pdu_t *pdu = new_request(t, COAP_MESSAGE_NON, COAP_REQUEST_CODE_GET, "i");
        if (!pdu)
            break;
        t->done = false;
        t->resp = answer;
        t->resp_cap = sizeof answer;
        if (coap_send(t->session, pdu) == COAP_INVALID_MID)
            break;
        TRACE("proving the session (wait %llu us)\n", (unsigned long long)wait);
        uint64_t start = now_us();
        while (!t->done && !t->broken && now_us() - start < wait)
            if (process(t, 20) < 0)
                t->broken = true;
        if (t->done) {
            t->unproven = false;
            return AL_OK;
        }
    }
    return AL_ERR_TIMEOUT;
}

/* The DTLS handshake now (the agent's connect): AL_OK once the server's Finished arrived. */
static al_err coap_connect(void *ctx)
{
    struct al_coap_transport *t = ctx;
    if (t->cfg.insecure)
        return AL_ERR_STATE; /* plain CoAP: nothing proves who answers */
    if ((t->cert_file[0] && !t->ca_file[0]) || (t->rpk_pub && !t->server_spki_len))
        return AL_ERR_STATE; /* issue 14 (creds): a certificate device that does not verify
                              * the server (issue 14, rpk: or pins no server key): the
                              * handshake proves nothing of the server */
    if (t->session && !t->broken && t->unproven && prove_session(t) != AL_OK)
        t->broken = true; /* the server no longer holds it: shake hands anew */
    al_err err = connect_session(t);
    if (err != AL_OK)
        return err;
    uint64_t limit = (t->cfg.timeout_ms ? t->cfg.timeout_ms : 30000) * 1000ull, start = now_us();
    while (!t->connected && !t->broken) {
        if (process(t, 20) < 0 || now_us() - start >= limit) {
            t->broken = true;
            return AL_ERR_TIMEOUT;
        }
    }
    return t->connected ? AL_OK : AL_ERR_TRANSPORT;
}

/* issue 14 (rpk): free the raw public key device's keys (the private one wiped first). */
static void rpk_free(struct al_coap_transport *t)
{
    if (t->rpk_key)
        memset(t->rpk_key, 0, t->rpk_key_len);
    free(t->rpk_key);
    free(t->rpk_pub);
    t->rpk_key = t->rpk_pub = NULL;
}

int al_coap_open(struct al_coap_transport **out, const struct al_coap_config *cfg, char *err,
                 size_t errlen)
{
    struct al_coap_transport *t;
    bool pki = cfg->cert_file && cfg->cert_file[0]; /* issue 14 (creds) */
    bool rpk = cfg->pubkey_file && cfg->pubkey_file[0]; /* issue 14 (rpk) */
    if (pki && (!cfg->key_file || !cfg->key_file[0] || strlen(cfg->cert_file) >= sizeof t->cert_file ||
                strlen(cfg->key_file) >= sizeof t->key_file ||
                (cfg->ca_file && strlen(cfg->ca_file) >= sizeof t->ca_file))) {
        snprintf(err, errlen, "a certificate needs its key file (paths < 512 bytes)");
        return -1;
    }
    if (!pki && !rpk && !cfg->insecure &&
        (!cfg->identity || strlen(cfg->identity) >= sizeof t->identity ||
         cfg->psk_len == 0 || cfg->psk_len > sizeof t->psk)) {
        snprintf(err, errlen, "a PSK identity (< 128 bytes) and key (1..64 bytes) are needed");
        return -1;
    }
    t = calloc(1, sizeof *t);
    if (t && !(t->pace = malloc(sizeof *t->pace))) {
        free(t);
        t = NULL;
    }
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    coap_startup();
    t->cfg = *cfg;
    if (cfg->identity)
        snprintf(t->identity, sizeof t->identity, "%s", cfg->identity);
    if (cfg->psk_len)
        memcpy(t->psk, cfg->psk, cfg->psk_len);
    t->cfg.identity = t->identity;
    t->cfg.psk = t->psk;
    if (pki) { /* issue 14 (creds) */
        snprintf(t->cert_file, sizeof t->cert_file, "%s", cfg->cert_file);
        snprintf(t->key_file, sizeof t->key_file, "%s", cfg->key_file);
        snprintf(t->ca_file, sizeof t->ca_file, "%s", cfg->ca_file ? cfg->ca_file : "");
    }
    t->cfg.cert_file = t->cert_file;
    t->cfg.key_file = t->key_file;
    t->cfg.ca_file = t->ca_file;
    if (cfg->pubkey_file && cfg->pubkey_file[0] && /* issue 14 (rpk) */
        (!cfg->key_file || !read_pem(cfg->pubkey_file, &t->rpk_pub, &t->rpk_pub_len) ||
         !read_pem(cfg->key_file, &t->rpk_key, &t->rpk_key_len) ||
         (cfg->server_pubkey_file && cfg->server_pubkey_file[0] &&
          !read_spki(cfg->server_pubkey_file, t->server_spki, sizeof t->server_spki,
                     &t->server_spki_len)))) {
        snprintf(err, errlen, "a raw public key needs its key file and readable PEM files "
                              "(the server's key: a PEM public key)");
        rpk_free(t);
        free(t->pace);
        free(t);
        return -1;
    }
    t->cfg.pubkey_file = t->cfg.server_pubkey_file = NULL;
    t->ctx = coap_new_context(NULL);
    if (!t->ctx) {
        rpk_free(t);
        free(t->pace);
        free(t);
        snprintf(err, errlen, "libcoap: cannot create a context");
        return -1;
    }
    coap_register_response_handler(t->ctx, on_response);
    coap_register_event_handler(t->ctx, on_event);
    coap_register_nack_handler(t->ctx, on_nack);
    t->port = (struct al_transport){t, coap_exchange, coap_fetch, coap_connect};
    *out = t;
    return 0;
}

void al_coap_close(struct al_coap_transport *t)
{
    if (!t)
        return;
    drop_session(t);
    coap_free_context(t->ctx);
    rpk_free(t);
    free(t->pace);
    free(t);
}

bool al_coap_wait(struct al_coap_transport *t, uint32_t ms)
{
    uint64_t start = now_us(), limit = (uint64_t)ms * 1000u;
    if (!t->session || t->broken || !t->connected || t->cfg.insecure || !t->inv_toklen) {
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        return false;
    }
    t->nudged = false;
    while (!t->has_pushed && !t->nudged && !t->broken && now_us() - start < limit) {
        uint64_t left = (limit - (now_us() - start)) / 1000u;
        if (process(t, left ? (uint32_t)left : 1u) < 0)
            t->broken = true;
    }
    return t->has_pushed || t->nudged;
}

void al_coap_retain(struct al_coap_transport *t)
{
    t->win.active = false; /* RAM is rebuilt: the agent starts its download state afresh */
    if (t->session && !t->broken && t->connected)
        t->unproven = true;
}

void al_coap_set_window_bytes(struct al_coap_transport *t, uint32_t bytes)
{
    t->cfg.window_bytes = bytes;
}

const struct al_coap_stats *al_coap_stats(const struct al_coap_transport *t)
{
    return &t->stats;
}

const struct al_transport *al_coap_port(struct al_coap_transport *t)
{
    return &t->port;
}
