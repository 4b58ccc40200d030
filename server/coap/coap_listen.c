/* coap_listen.c - see coap_listen.h. */
#include "coap_listen.h"

#include <stdlib.h>
#include <string.h>

#include "airlift/proto.h"

void ald_coap_listen_plan(struct ald_coap_listen *l, const uint8_t *plan, size_t plan_len)
{
    struct al_plan p;
    struct al_inventory inv;
    uint8_t step = 0;
    if (l->inv && al_plan_decode(plan, plan_len, &p) == AL_OK &&
        al_inventory_decode(l->inv, l->inv_len, &inv) == AL_OK && al_plan_window_with(&p, &inv, &step) &&
        !(l->sent && l->plan_id == p.plan_id && l->step == step)) {
        l->due = true;
        l->sent = true;
        l->plan_id = p.plan_id;
        l->step = step;
    }
}

void ald_coap_listen_inventory(struct ald_coap_listen *l, const coap_pdu_t *request,
                               const uint8_t *body, size_t len, const uint8_t *plan,
                               size_t plan_len)
{
    coap_bin_const_t tok = coap_pdu_get_token(request);
    coap_mid_t mid = coap_pdu_get_mid(request);
    if (len < 2 || !(body[1] & AL_INV_WINDOW) || tok.length > sizeof l->token) {
        free(l->inv);
        l->inv = NULL;
        l->due = false;
        return;
    }
    bool again = l->inv && mid == l->mid && tok.length == l->toklen &&
                 !memcmp(tok.s, l->token, tok.length);
    uint8_t *copy = realloc(l->inv, len);
    if (!copy) {
        free(l->inv);
        l->inv = NULL;
        l->due = false;
        return;
    }
    memcpy(copy, body, len);
    l->inv = copy;
    l->inv_len = len;
    memcpy(l->token, tok.s, tok.length);
    l->toklen = tok.length;
    l->mid = mid;
    if (!again)
        ald_coap_listen_plan(l, plan, plan_len);
}

void ald_coap_listen_free(struct ald_coap_listen *l)
{
    free(l->inv);
    memset(l, 0, sizeof *l);
}
