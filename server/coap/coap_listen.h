/*
 * coap_listen.h - issue 16 (speed): what the device endpoint keeps of a session whose device
 * sets inventory flag AL_INV_WINDOW (docs/protocol.md, "Plan with its first window"): its
 * last inventory and that request's token, so that a plan for an update queued later can be
 * sent unasked as an answer to it, and whether the first window of a plan is due (sent by
 * the endpoint once the plan has left). Logic only, no I/O.
 */
#ifndef ALD_COAP_LISTEN_H
#define ALD_COAP_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>

struct ald_coap_listen {
    uint8_t *inv;      /* the last inventory (a copy), NULL if it did not set the flag */
    size_t inv_len;
    uint8_t token[8];  /* its request's token: pushed plans and the first window carry it */
    size_t toklen;
    coap_mid_t mid;    /* its message id: a retransmission gets no second window */
    bool due;          /* the first window of step `step` of plan `plan_id` is to be sent */
    uint32_t plan_id;
    uint8_t step;
    bool sent;         /* that first window was due once on this session: never again (an
                          inventory crossing a pushed plan gets the plan, not the window) */
};

/* An inventory (body, len) was answered 2.04 with plan (plan_len bytes): keep it if it set
 * AL_INV_WINDOW (else forget what was kept), and set `due` if its first window goes with
 * the plan (al_plan_window_with), unless the request is a retransmission of the last one. */
void ald_coap_listen_inventory(struct ald_coap_listen *l, const coap_pdu_t *request,
                               const uint8_t *body, size_t len, const uint8_t *plan,
                               size_t plan_len);
/* A plan for the kept inventory is sent: set `due` if its first window goes with it (and has
 * not been due before on this session). */
void ald_coap_listen_plan(struct ald_coap_listen *l, const uint8_t *plan, size_t plan_len);
/* Free what is kept. */
void ald_coap_listen_free(struct ald_coap_listen *l);

#endif
