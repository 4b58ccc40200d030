/*
 * coap_transport.c - al_transport on libcoap (client). One DTLS session per transport;
 * requests are confirmable (libcoap retransmits them), one at a time. fetch() asks for one
 * RFC 7959 Block2 block of 1024 bytes at the requested offset, so a download resumes at
 * any block boundary.
 */
#include "coap_transport.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <coap3/coap.h>

#define BLOCK_SZX 6 /* 1024-byte blocks */
#define BLOCK_SIZE 1024u

struct al_coap_transport {
    struct al_transport port;
    struct al_coap_config cfg;
    char identity[128];
    uint8_t psk[64];
    coap_context_t *ctx;
    coap_session_t *session;
    bool broken; /* DTLS failed or closed: reconnect on next use */
    /* The one exchange in flight. */
    coap_bin_const_t token;
    uint8_t token_bytes[8];
    uint64_t token_counter;
    bool done;
    uint8_t code;
    uint8_t *resp;
    size_t resp_cap, resp_len;
    bool resp_truncated;
};

static coap_response_t on_response(coap_session_t *session, const coap_pdu_t *sent,
                                   const coap_pdu_t *received, const coap_mid_t mid)
{
    struct al_coap_transport *t = coap_session_get_app_data(session);
    coap_bin_const_t tok = coap_pdu_get_token(received);
    const uint8_t *data = NULL;
    size_t len = 0;
    (void)sent;
    (void)mid;
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
        coap_session_set_app_data(t->session, NULL);
        coap_session_release(t->session);
        t->session = NULL;
    }
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
    }
    if (!t->session)
        return AL_ERR_TRANSPORT;
    coap_session_set_app_data(t->session, t);
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

/* A confirmable request to path (segments separated by '/') with a fresh token. */
static coap_pdu_t *new_request(struct al_coap_transport *t, coap_pdu_code_t method, const char *path)
{
    coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, method, coap_new_message_id(t->session),
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
    coap_pdu_t *pdu = new_request(t, method == AL_METHOD_GET ? COAP_REQUEST_CODE_GET
                                                             : COAP_REQUEST_CODE_POST, path);
    if (!pdu)
        return AL_ERR_TRANSPORT;
    if (req_len && !coap_add_data(pdu, req_len, req)) {
        coap_delete_pdu(pdu);
        return AL_ERR_TRANSPORT;
    }
    return transact(t, pdu, resp, resp_cap, resp_len, code);
}

static al_err coap_fetch(void *ctx, const char *path, uint32_t offset, uint8_t *buf, size_t cap,
                         size_t *got)
{
    struct al_coap_transport *t = ctx;
    uint8_t opt[4], code = 0;
    if (offset % BLOCK_SIZE)
        return AL_ERR_INVALID_ARG;
    al_err err = connect_session(t);
    if (err != AL_OK)
        return err;
    coap_pdu_t *pdu = new_request(t, COAP_REQUEST_CODE_GET, path);
    if (!pdu)
        return AL_ERR_TRANSPORT;
    unsigned num = offset / BLOCK_SIZE;
    coap_add_option(pdu, COAP_OPTION_BLOCK2,
                    coap_encode_var_safe(opt, sizeof opt, (num << 4) | BLOCK_SZX), opt);
    uint8_t block[BLOCK_SIZE];
    size_t len = 0;
    err = transact(t, pdu, block, sizeof block, &len, &code);
    if (err != AL_OK)
        return err;
    if (code != AL_COAP_CONTENT)
        return code == 132 /* 4.04 */ ? AL_ERR_PROTOCOL : AL_ERR_TRANSPORT;
    if (len > cap)
        len = cap;
    memcpy(buf, block, len);
    *got = len;
    return AL_OK;
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

const struct al_transport *al_coap_port(struct al_coap_transport *t)
{
    return &t->port;
}
