/*
 * coap_transport.c - al_transport on libcoap (client). One DTLS session per transport;
 * requests are confirmable (libcoap retransmits them), one at a time.
 *
 * fetch() uses airlift's windowed transfer (docs/protocol.md): one non-confirmable request
 * asks for a window of up to 64 datagram-sized chunks, which the server sends back to back;
 * chunks that arrive ahead of the one the agent wants wait in a small ring, and anything
 * lost is asked for again (the chunks already held are named in a skip mask). The window
 * grows while nothing is lost and halves when something is, so a lossy link does not pay
 * for a long burst it cannot take. With cfg.block2, fetch() asks for one RFC 7959 Block2
 * block of 1024 bytes per request instead (stop and wait).
 */
#include "coap_transport.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <coap3/coap.h>
#include <openssl/ssl.h>

#include "airlift/wire.h"

#define RING 16            /* chunks held ahead of the one the agent wants */
#define WINDOW_TIME_MS 2000u /* a window is at most what the link carries in this time */
#define WINDOW_HEADERS 9u /* CoAP header 4, token <= 3 bytes, payload marker 1, chunk index 1 */
#define RTO_MS 2000u       /* silence that means loss: CoAP's ACK_TIMEOUT */
#define REORDER_MS 100u    /* after a window's last chunk, how long a missing one may lag */
#define RETRIES 4u         /* window requests without an answer before giving up: MAX_RETRANSMIT */

struct held_chunk {
    bool used;
    uint32_t offset;
    uint16_t len;
    uint8_t data[AL_WIRE_CHUNK_MAX];
};

/* The windowed transfer in progress. */
struct window {
    char name[32];        /* "<plan>/<step>" */
    uint32_t size;        /* the transfer's size */
    uint32_t chunk;       /* bytes per chunk */
    uint32_t cwnd;        /* chunks to ask for next */
    uint32_t start, count; /* the window asked for last: chunks start + i * chunk, i < count */
    uint32_t last_index;   /* highest chunk index the server will send */
    uint32_t until;        /* the agent wants bytes below this before it jumps elsewhere */
    bool last_seen;        /* ... and it arrived */
    bool lost;             /* this window lost something */
    uint8_t error;         /* a 4.xx/5.xx answer to the window request */
    coap_bin_const_t token;
    uint8_t token_bytes[8];
    /* The window before: its late chunks are as good as any. */
    coap_bin_const_t prev_token;
    uint8_t prev_token_bytes[8];
    uint32_t prev_start, prev_count;
    uint64_t last_rx_ms;   /* when the request went out or a chunk last arrived */
    uint64_t sent_ms;      /* when the window request went out */
    uint32_t bytes;        /* chunk bytes of this window received */
    unsigned retries;
    struct held_chunk held[RING];
};

struct al_coap_transport {
    struct al_transport port;
    struct al_coap_config cfg;
    char identity[128];
    uint8_t psk[64];
    coap_context_t *ctx;
    coap_session_t *session;
    bool broken; /* DTLS failed or closed: reconnect on next use */
    bool connected; /* the session's handshake completed */
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
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A chunk of a window starting at `start` arrived: keep it if it is one the agent lacks. */
static void on_window_chunk(struct window *w, const coap_pdu_t *received, bool current)
{
    const uint8_t *data = NULL;
    size_t len = 0;
    coap_pdu_code_t code = coap_pdu_get_code(received);
    uint32_t start = current ? w->start : w->prev_start, count = current ? w->count : w->prev_count;
    if (code != COAP_RESPONSE_CODE(205)) {
        if (current)
            w->error = (uint8_t)(((code >> 5) & 7) * 32 + (code & 31));
        return;
    }
    if (!coap_get_data(received, &len, &data) || len < 2)
        return; /* no index, no bytes */
    uint32_t index = *data++;
    len--;
    uint64_t offset = (uint64_t)start + (uint64_t)index * w->chunk;
    if (index >= count || offset >= w->size || len == 0 || len > w->chunk ||
        (len < w->chunk && offset + len != w->size))
        return; /* not a chunk we asked for */
    if (current) {
        w->last_rx_ms = now_ms();
        w->bytes += (uint32_t)len;
        if (index == w->last_index)
            w->last_seen = true;
    }
    struct held_chunk *free_slot = NULL;
    for (int i = 0; i < RING; i++) {
        if (w->held[i].used && w->held[i].offset == offset)
            return; /* a duplicate */
        if (!w->held[i].used && !free_slot)
            free_slot = &w->held[i];
    }
    if (!free_slot) {
        w->lost = true; /* no room: it will be asked for again */
        return;
    }
    free_slot->used = true;
    free_slot->offset = (uint32_t)offset;
    free_slot->len = (uint16_t)len;
    memcpy(free_slot->data, data, len);
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
    if (t && t->win.token.length && tok.length == t->win.token.length &&
        memcmp(tok.s, t->win.token.s, tok.length) == 0) {
        on_window_chunk(&t->win, received, true);
        return COAP_RESPONSE_OK;
    }
    if (t && t->win.prev_token.length && tok.length == t->win.prev_token.length &&
        memcmp(tok.s, t->win.prev_token.s, tok.length) == 0) {
        on_window_chunk(&t->win, received, false);
        return COAP_RESPONSE_OK;
    }
    if (!t || t->done || tok.length != t->token.length ||
        memcmp(tok.s, t->token.s, tok.length) != 0)
        return COAP_RESPONSE_OK; /* late duplicate of an earlier exchange */
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

static int on_event(coap_session_t *session, const coap_event_t event)
{
    struct al_coap_transport *t = coap_session_get_app_data(session);
    if (t && event == COAP_EVENT_DTLS_CONNECTED && !t->connected) {
        t->connected = true;
        t->stats.handshakes++;
    }
    if (t && (event == COAP_EVENT_DTLS_ERROR || event == COAP_EVENT_DTLS_CLOSED ||
              event == COAP_EVENT_SESSION_FAILED))
        t->broken = true;
    return 0;
}

static void on_nack(coap_session_t *session, const coap_pdu_t *sent, const coap_nack_reason_t reason,
                    const coap_mid_t mid)
{
    struct al_coap_transport *t = coap_session_get_app_data(session);
    (void)sent;
    (void)reason;
    (void)mid;
    if (t)
        t->broken = true; /* retransmissions exhausted, or the session failed */
}

static void drop_session(struct al_coap_transport *t)
{
    if (t->session) {
        t->connected = false;
        coap_session_set_app_data(t->session, NULL);
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
static void trim_client_hello(coap_session_t *session)
{
    coap_tls_library_t lib = COAP_TLS_LIBRARY_NOTLS;
    SSL *ssl = session ? coap_session_get_tls(session, &lib) : NULL;
    if (!ssl || lib != COAP_TLS_LIBRARY_OPENSSL)
        return;
    SSL_set_options(ssl, SSL_OP_NO_TICKET);
    /* ECDHE-PSK with ChaCha20-Poly1305, and RFC 7252's mandatory PSK suite. */
    (void)SSL_set_cipher_list(ssl, "ECDHE-PSK-CHACHA20-POLY1305:PSK-AES128-CCM8");
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
    } else {
        coap_dtls_cpsk_t psk;
        memset(&psk, 0, sizeof psk);
        psk.version = COAP_DTLS_CPSK_SETUP_VERSION;
        psk.psk_info.identity.s = (const uint8_t *)t->identity;
        psk.psk_info.identity.length = strlen(t->identity);
        psk.psk_info.key.s = t->psk;
        psk.psk_info.key.length = t->cfg.psk_len;
        t->session = coap_new_client_session_psk2(t->ctx, NULL, &dst, COAP_PROTO_DTLS, &psk);
        trim_client_hello(t->session);
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
    t->done = false;
    t->resp = resp;
    t->resp_cap = cap;
    t->resp_len = 0;
    if (coap_send(t->session, pdu) == COAP_INVALID_MID) {
        t->broken = true;
        return AL_ERR_TRANSPORT;
    }
    uint32_t waited = 0, limit = t->cfg.timeout_ms ? t->cfg.timeout_ms : 30000;
    while (!t->done && !t->broken && waited < limit) {
        int spent = coap_io_process(t->ctx, 100);
        if (spent < 0) {
            t->broken = true;
            break;
        }
        waited += spent > 0 ? (uint32_t)spent : 1u;
    }
    if (!t->done) {
        t->broken = true; /* start a fresh session next time */
        return waited >= limit ? AL_ERR_TIMEOUT : AL_ERR_TRANSPORT;
    }
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
    return transact(t, pdu, resp, resp_cap, resp_len, code);
}

/* One RFC 7959 Block2 block of 1024 bytes per request (cfg.block2). */
static al_err fetch_block(struct al_coap_transport *t, const char *name, uint32_t offset,
                          uint8_t *buf, size_t cap, size_t *got)
{
    uint8_t opt[4], code = 0;
    char path[40];
    snprintf(path, sizeof path, "f/%s", name);
    coap_pdu_t *pdu = new_request(t, COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, path);
    if (!pdu)
        return AL_ERR_TRANSPORT;
    unsigned num = offset / AL_WIRE_BLOCK_SIZE;
    coap_add_option(pdu, COAP_OPTION_BLOCK2,
                    coap_encode_var_safe(opt, sizeof opt, (num << 4) | AL_WIRE_BLOCK_SZX), opt);
    uint8_t block[AL_WIRE_BLOCK_SIZE];
    size_t len = 0;
    al_err err = transact(t, pdu, block, sizeof block, &len, &code);
    if (err != AL_OK)
        return err;
    if (code != AL_COAP_CONTENT)
        return code == 132 /* 4.04 */ ? AL_ERR_PROTOCOL : AL_ERR_TRANSPORT;
    size_t skip = offset % AL_WIRE_BLOCK_SIZE; /* a resumed stream starts inside a block */
    if (len <= skip)
        return AL_ERR_PROTOCOL;
    len -= skip;
    if (len > cap)
        len = cap;
    memcpy(buf, block + skip, len);
    *got = len;
    return AL_OK;
}

/* Ask for a window of chunks from `offset`, skipping the ones already held. */
static al_err request_window(struct al_coap_transport *t, uint32_t offset)
{
    struct window *w = &t->win;
    char path[40], q[24];
    uint32_t skip = 0, remaining = (w->until - offset + w->chunk - 1) / w->chunk;
    memcpy(w->prev_token_bytes, w->token_bytes, sizeof w->token_bytes);
    w->prev_token.s = w->prev_token_bytes;
    w->prev_token.length = w->token.length;
    w->prev_start = w->start;
    w->prev_count = w->count;
    w->start = offset;
    w->count = w->cwnd < remaining ? w->cwnd : remaining;
    if (t->cfg.window_bytes && w->count > t->cfg.window_bytes / w->chunk)
        w->count = t->cfg.window_bytes / w->chunk > 1 ? t->cfg.window_bytes / w->chunk : 1;
    for (int i = 0; i < RING; i++) {
        uint32_t rel = w->held[i].offset - offset;
        if (w->held[i].used && w->held[i].offset >= offset && rel % w->chunk == 0 &&
            rel / w->chunk < 32 && rel / w->chunk < w->count)
            skip |= 1u << (rel / w->chunk);
    }
    w->last_index = 0;
    for (uint32_t i = 0; i < w->count; i++)
        if (i >= 32 || !(skip >> i & 1u))
            w->last_index = i;
    w->bytes = 0;
    w->last_seen = false;
    w->lost = false;
    w->error = 0;
    snprintf(path, sizeof path, "w/%s", w->name);
    coap_pdu_t *pdu = new_request(t, COAP_MESSAGE_NON, COAP_REQUEST_CODE_GET, path);
    if (!pdu)
        return AL_ERR_TRANSPORT;
    memcpy(w->token_bytes, t->token_bytes, t->token.length);
    w->token.s = w->token_bytes;
    w->token.length = t->token.length;
    const char *fmt[4] = {"o=%u", "n=%u", "c=%u", "m=%x"};
    uint32_t val[4] = {offset, w->count, w->chunk, skip};
    for (int i = 0; i < (skip ? 4 : 3); i++) {
        int n = snprintf(q, sizeof q, fmt[i], (unsigned)val[i]);
        coap_add_option(pdu, COAP_OPTION_URI_QUERY, (size_t)n, (const uint8_t *)q);
    }
    w->last_rx_ms = w->sent_ms = now_ms();
    if (coap_send(t->session, pdu) == COAP_INVALID_MID) {
        t->broken = true;
        return AL_ERR_TRANSPORT;
    }
    return AL_OK;
}

/* The window after one that arrived whole: twice as large, but no more than the link
 * delivers in WINDOW_TIME_MS (what a device that dies or sleeps mid-window has paid for
 * in vain). */
static uint32_t grown_window(const struct al_coap_transport *t)
{
    const struct window *w = &t->win;
    uint64_t took = w->last_rx_ms > w->sent_ms ? w->last_rx_ms - w->sent_ms : 1;
    uint64_t by_rate = (uint64_t)w->bytes * WINDOW_TIME_MS / took / w->chunk;
    uint32_t n = w->cwnd * 2 < AL_WIRE_WINDOW_MAX ? w->cwnd * 2 : AL_WIRE_WINDOW_MAX;
    if (n > by_rate)
        n = by_rate > AL_WIRE_WINDOW_MIN ? (uint32_t)by_rate : AL_WIRE_WINDOW_MIN;
    return n;
}

/* Hand the agent the chunk at `offset` if it is held; drop what lies behind it. */
static bool take_held(struct window *w, uint32_t offset, uint8_t *buf, size_t cap, size_t *got)
{
    bool found = false;
    for (int i = 0; i < RING; i++) {
        struct held_chunk *h = &w->held[i];
        if (h->used && h->offset == offset && h->len <= cap) {
            memcpy(buf, h->data, h->len);
            *got = h->len;
            h->used = false;
            found = true;
        } else if (h->used && h->offset < offset) {
            h->used = false;
        }
    }
    return found;
}

/* airlift's windowed transfer; see the top of this file. */
static al_err fetch_window(struct al_coap_transport *t, const char *name, uint32_t offset,
                           uint32_t size, uint32_t until, uint8_t *buf, size_t cap, size_t *got)
{
    struct window *w = &t->win;
    if (strcmp(w->name, name) != 0 || w->size != size) {
        /* A new transfer: the largest chunk the session's datagrams carry, and the buffer. */
        size_t pdu = coap_session_max_pdu_size(t->session), chunk = AL_WIRE_CHUNK_MAX;
        if (pdu > WINDOW_HEADERS && pdu - WINDOW_HEADERS < chunk)
            chunk = pdu - WINDOW_HEADERS;
        if (chunk > cap)
            chunk = cap;
        chunk -= chunk % AL_WIRE_CHUNK_ALIGN;
        if (chunk < AL_WIRE_CHUNK_ALIGN || strlen(name) >= sizeof w->name)
            return AL_ERR_INVALID_ARG;
        memset(w, 0, sizeof *w);
        snprintf(w->name, sizeof w->name, "%s", name);
        w->size = size;
        w->chunk = (uint32_t)chunk;
        w->cwnd = AL_WIRE_WINDOW_FIRST;
    }
    w->until = until > offset && until < size ? until : size;
    if (take_held(w, offset, buf, cap, got))
        return AL_OK;
    bool in_window = w->token.length && offset >= w->start &&
                     offset < w->start + (uint64_t)w->count * w->chunk &&
                     (offset - w->start) % w->chunk == 0;
    if (!in_window || w->last_seen || w->error) {
        /* The last window is over: it lost something (halve) or all of it came (double). */
        if (w->token.length && (in_window || w->lost || w->error))
            w->cwnd = w->cwnd / 2 > 2 ? w->cwnd / 2 : 2;
        else if (w->token.length)
            w->cwnd = grown_window(t);
        w->retries = 0;
        al_err err = request_window(t, offset);
        if (err != AL_OK)
            return err;
    }
    uint32_t rto = RTO_MS, waited = 0, limit = t->cfg.timeout_ms ? t->cfg.timeout_ms : 30000;
    for (;;) {
        int spent = coap_io_process(t->ctx, 20);
        if (spent < 0 || t->broken) {
            t->broken = true;
            return AL_ERR_TRANSPORT;
        }
        waited += spent > 0 ? (uint32_t)spent : 1u;
        if (take_held(w, offset, buf, cap, got))
            return AL_OK;
        if (w->error)
            return w->error == 132 || w->error == 130 || w->error == 128 ? AL_ERR_PROTOCOL
                                                                          : AL_ERR_TRANSPORT;
        uint64_t quiet = now_ms() - w->last_rx_ms;
        bool silent = quiet >= rto;
        if ((w->last_seen && quiet >= REORDER_MS) || silent) {
            /* The window is over (or went quiet) without the chunk: ask again from it. */
            if (silent && ++w->retries > RETRIES)
                return AL_ERR_TIMEOUT;
            if (silent)
                rto *= 2;
            w->cwnd = w->cwnd / 2 > 2 ? w->cwnd / 2 : 2;
            al_err err = request_window(t, offset);
            if (err != AL_OK)
                return err;
        }
        if (waited >= limit)
            return AL_ERR_TIMEOUT;
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

int al_coap_open(struct al_coap_transport **out, const struct al_coap_config *cfg, char *err,
                 size_t errlen)
{
    struct al_coap_transport *t;
    if (!cfg->insecure && (!cfg->identity || strlen(cfg->identity) >= sizeof t->identity ||
                           cfg->psk_len == 0 || cfg->psk_len > sizeof t->psk)) {
        snprintf(err, errlen, "a PSK identity (< 128 bytes) and key (1..64 bytes) are needed");
        return -1;
    }
    t = calloc(1, sizeof *t);
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
    t->ctx = coap_new_context(NULL);
    if (!t->ctx) {
        free(t);
        snprintf(err, errlen, "libcoap: cannot create a context");
        return -1;
    }
    coap_register_response_handler(t->ctx, on_response);
    coap_register_event_handler(t->ctx, on_event);
    coap_register_nack_handler(t->ctx, on_nack);
    t->port = (struct al_transport){t, coap_exchange, coap_fetch};
    *out = t;
    return 0;
}

void al_coap_close(struct al_coap_transport *t)
{
    if (!t)
        return;
    drop_session(t);
    coap_free_context(t->ctx);
    free(t);
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
