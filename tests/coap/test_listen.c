/*
 * test_listen.c - issue 16 (speed): what the device endpoint keeps of a session whose
 * device sets inventory flag AL_INV_WINDOW (server/coap/coap_listen.c): the inventory and
 * its token, when the first window of a plan is due, and that it is due once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "coap_listen.h"
#include "airlift/proto.h"

static uint8_t inv_bytes[AL_PROTO_INVENTORY_MAX], plan_bytes[AL_PROTO_PLAN_MAX];
static size_t inv_len, plan_len;

/* An inventory of one system module, flags as given; a plan of one step that it does not run. */
static void make(uint8_t flags)
{
    struct al_inventory inv;
    struct al_plan plan;
    memset(&inv, 0, sizeof inv);
    inv.flags = flags;
    inv.module_count = 1;
    inv.modules[0].function = AL_FN_SYSTEM;
    inv.modules[0].index = 1;
    inv.modules[0].present = true;
    al_version_parse("0.6.4", 5, &inv.modules[0].version);
    memset(inv.modules[0].payload_sha256, 1, AL_SHA256_SIZE);
    assert_int_equal(al_inventory_encode(&inv, inv_bytes, sizeof inv_bytes, &inv_len), AL_OK);
    memset(&plan, 0, sizeof plan);
    plan.status = AL_PLAN_UPDATE;
    plan.plan_id = 1234;
    plan.step_count = 1;
    plan.steps[0].function = AL_FN_SYSTEM;
    plan.steps[0].index = 1;
    plan.steps[0].transfer_size = 50000;
    memset(plan.steps[0].image_sha256, 2, AL_SHA256_SIZE);
    assert_int_equal(al_plan_encode(&plan, plan_bytes, sizeof plan_bytes, &plan_len), AL_OK);
}

static coap_pdu_t *request(coap_mid_t mid, uint8_t token)
{
    coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_POST, mid, 1024);
    assert_non_null(pdu);
    assert_int_equal(coap_add_token(pdu, 1, &token), 1);
    return pdu;
}

static void a_listening_inventory_is_kept_and_its_window_due_once(void **state)
{
    (void)state;
    struct ald_coap_listen l;
    memset(&l, 0, sizeof l);
    make(AL_INV_WINDOW);
    coap_pdu_t *r1 = request(7, 0x11);
    ald_coap_listen_inventory(&l, r1, inv_bytes, inv_len, plan_bytes, plan_len);
    assert_non_null(l.inv);
    assert_int_equal(l.inv_len, inv_len);
    assert_int_equal(l.toklen, 1);
    assert_int_equal(l.token[0], 0x11);
    assert_true(l.due);
    assert_int_equal(l.plan_id, 1234);
    assert_int_equal(l.step, 0);
    l.due = false; /* the endpoint sent it */
    /* The same request again (a CoAP retransmission): the plan, no second window. */
    ald_coap_listen_inventory(&l, r1, inv_bytes, inv_len, plan_bytes, plan_len);
    assert_false(l.due);
    /* A new check-in with the same plan (it crossed a pushed one): no second window either. */
    coap_pdu_t *r2 = request(8, 0x12);
    ald_coap_listen_inventory(&l, r2, inv_bytes, inv_len, plan_bytes, plan_len);
    assert_false(l.due);
    assert_int_equal(l.token[0], 0x12); /* pushed plans now answer this one */
    ald_coap_listen_plan(&l, plan_bytes, plan_len);
    assert_false(l.due);
    /* Without the flag, nothing is kept. */
    make(0);
    coap_pdu_t *r3 = request(9, 0x13);
    ald_coap_listen_inventory(&l, r3, inv_bytes, inv_len, plan_bytes, plan_len);
    assert_null(l.inv);
    assert_false(l.due);
    ald_coap_listen_free(&l);
    coap_delete_pdu(r1);
    coap_delete_pdu(r2);
    coap_delete_pdu(r3);
}

static void a_plan_sent_unasked_makes_its_window_due(void **state)
{
    (void)state;
    struct ald_coap_listen l;
    memset(&l, 0, sizeof l);
    make(AL_INV_WINDOW);
    coap_pdu_t *r = request(1, 0x21);
    uint8_t up_to_date[AL_PROTO_PLAN_MAX];
    size_t n;
    struct al_plan none;
    memset(&none, 0, sizeof none);
    assert_int_equal(al_plan_encode(&none, up_to_date, sizeof up_to_date, &n), AL_OK);
    ald_coap_listen_inventory(&l, r, inv_bytes, inv_len, up_to_date, n);
    assert_non_null(l.inv);
    assert_false(l.due); /* up to date: nothing to send */
    ald_coap_listen_plan(&l, plan_bytes, plan_len); /* an update was queued */
    assert_true(l.due);
    assert_int_equal(l.plan_id, 1234);
    ald_coap_listen_free(&l);
    assert_null(l.inv);
    coap_delete_pdu(r);
}

int main(void)
{
    coap_startup();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_listening_inventory_is_kept_and_its_window_due_once),
        cmocka_unit_test(a_plan_sent_unasked_makes_its_window_due),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
