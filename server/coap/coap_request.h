/*
 * coap_request.h - what the device endpoint reads out of a request PDU, as pure functions
 * of the PDU (no session, no service): the transfer path, the window query and its limits,
 * and the development-only id= query. coap_endpoint.c calls them for every request;
 * fuzz/fuzz_coap.c feeds them any datagram libcoap parses (docs/protocol.md).
 */
#ifndef AIRLIFTD_COAP_REQUEST_H
#define AIRLIFTD_COAP_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>

#include "device_ops.h"

/* A window request's query: o=OFFSET, n=COUNT, c=CHUNK, m=SKIP (bit i: the device already
 * holds chunk i; 0 if not given). */
struct ald_coap_window {
    uint32_t offset, count, chunk, skip;
};

/*
 * The Uri-Path "f/<plan>/<step>" or "w/<plan>/<step>" (plan 0..2^32-1, step 0..255, decimal):
 * returns 'f' or 'w' and sets *plan and *step, or returns 0 (and leaves them) for any other
 * path, one of 64 bytes or more included.
 */
char ald_coap_transfer_path(const coap_pdu_t *request, uint32_t *plan, uint8_t *step);

/*
 * The window query of request into *w: each Uri-Query is o=, n= or c= (decimal) or m= (hex),
 * 3..23 bytes in all, the value as strtoull reads it in full (no '-'; a '+', and 0x for m=,
 * pass), below 2^32, each letter at most once; o, n and c required. false if not (then *w
 * holds what was read so far). Other options are ignored.
 */
bool ald_coap_window_query(const coap_pdu_t *request, struct ald_coap_window *w);

/*
 * A window the endpoint serves: 1..AL_WIRE_WINDOW_MAX chunks of a multiple of
 * AL_WIRE_CHUNK_ALIGN bytes that fits `fit` (a datagram less the headers), a skip mask with
 * no bit at or past count, and not skipping every chunk. true if w is such a window.
 */
bool ald_coap_window_ok(const struct ald_coap_window *w, size_t fit);

/*
 * Plain CoAP only (development): the device's identity from the request's first Uri-Query
 * if it is "id=IDENTITY" (1..ALD_IDENTITY_MAX bytes, no NUL among them), copied
 * NUL-terminated into out; false (out untouched) otherwise.
 */
bool ald_coap_query_identity(const coap_pdu_t *request, char out[ALD_IDENTITY_MAX + 1]);

#endif
