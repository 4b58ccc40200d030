/*
 * test_coap.c - the update agent over real CoAP + DTLS 1.2 (PSK) on 127.0.0.1: libcoap's
 * client in the device's transport port, airliftd's CoAP endpoint with a stand-in planner
 * in a server thread. Covers an update through trial to confirmed over Block2, a wrong PSK,
 * an unknown device and malformed payloads, with the server serving everyone throughout.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "airlift/agent.h"
#include "coap_endpoint.h"
#include "coap_transport.h"
#include "fake_server.h"
#include "harness.h"
#include "link.h"

#include <arpa/inet.h>

static const uint8_t good_psk[16] = "0123456789abcdef";

struct server {
    struct fake_server plan;
    struct ald_coap *coap;
    pthread_t thread;
    atomic_bool stop;
};

static int psk_lookup(void *ctx, const char *identity, uint8_t key[ALD_PSK_MAX])
{
    (void)ctx;
    if (strcmp(identity, "electron-1") != 0)
        return -1;
    memcpy(key, good_psk, sizeof good_psk);
    return sizeof good_psk;
}

static int on_inventory(void *ctx, const char *identity, const uint8_t *msg, size_t len,
                        uint8_t *plan, size_t cap, size_t *plan_len)
{
    struct server *s = ctx;
    if (strcmp(identity, "electron-1") != 0)
        return 129; /* 4.01 */
    return fake_inventory(&s->plan, msg, len, plan, cap, plan_len);
}

static int on_status(void *ctx, const char *identity, const uint8_t *msg, size_t len)
{
    struct server *s = ctx;
    (void)identity;
    return fake_status(&s->plan, msg, len);
}

static const uint8_t *on_transfer(void *ctx, const char *identity, uint32_t plan, uint8_t step,
                                  uint32_t offset, uint32_t end, size_t *len)
{
    struct server *s = ctx;
    (void)identity;
    const uint8_t *p = fake_transfer(&s->plan, plan, step, len);
    if (p && offset < *len) /* the bytes from offset to end are what goes out (at most) */
        s->plan.bytes_served += (uint32_t)((end < *len ? end : *len) - offset);
    return p;
}

static void *serve(void *arg)
{
    struct server *s = arg;
    while (!atomic_load(&s->stop))
        ald_coap_serve(s->coap, 50);
    return NULL;
}

struct world {
    struct harness h;
    struct test_image sys1, app, app2;
    struct server server;
    struct al_coap_transport *coap;
    struct al_agent agent;
};

static void open_transport_mode(struct world *w, const char *identity, const uint8_t *psk,
                                bool block2)
{
    char err[128];
    struct al_coap_config cfg = {.host = "127.0.0.1", .port = ald_coap_bound_port(w->server.coap),
                                 .identity = identity, .psk = psk, .psk_len = 16,
                                 .timeout_ms = 4000, .block2 = block2};
    al_coap_close(w->coap);
    assert_int_equal(al_coap_open(&w->coap, &cfg, err, sizeof err), 0);
    al_agent_init(&w->agent, &w->h.dev, al_coap_port(w->coap));
}

static void open_transport(struct world *w, const char *identity, const uint8_t *psk)
{
    open_transport_mode(w, identity, psk, false);
}

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof *w);
    struct al_boot_info info;
    size_t len;
    char err[128];
    harness_open(&w->h, "electron");
    uint8_t *p = harness_firmware("electron/system-part2-0.6.4.bin", &len);
    harness_image(&w->h, &w->sys1, AL_FN_SYSTEM, 1, "0.6.4", 0, p, len, NULL);
    free(p);
    p = malloc(50000);
    for (size_t i = 0; i < 50000; i++)
        p[i] = (uint8_t)(i * 13 + (i >> 9));
    harness_image(&w->h, &w->app, AL_FN_APPLICATION, 1, "1.0.0", 0, p, 10000, "2:1:0.6.4");
    p[1] ^= 1;
    harness_image(&w->h, &w->app2, AL_FN_APPLICATION, 1, "1.1.0", 0, p, 50000, "2:1:0.6.4");
    free(p);
    harness_factory(&w->h, &w->sys1);
    harness_factory(&w->h, &w->app);
    assert_int_equal(harness_device_open(&w->h), AL_OK);
    assert_int_equal(al_boot(&w->h.dev, AL_RESET_POWER_ON, &info), AL_OK);

    struct ald_device_ops ops = {&w->server, psk_lookup, NULL, on_inventory, on_status, on_transfer, NULL, NULL, NULL};
    w->server.plan.plan_id = 3;
    assert_int_equal(ald_coap_start(&w->server.coap, "127.0.0.1", 0, false, 0, &ops, NULL, err, sizeof err), 0);
    assert_int_equal(pthread_create(&w->server.thread, NULL, serve, &w->server), 0);
    open_transport(w, "electron-1", good_psk);
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    al_coap_close(w->coap);
    atomic_store(&w->server.stop, true);
    pthread_join(w->server.thread, NULL);
    ald_coap_stop(w->server.coap);
    harness_image_free(&w->sys1);
    harness_image_free(&w->app);
    harness_image_free(&w->app2);
    harness_close(&w->h);
    free(w);
    return 0;
}

static void test_update_over_dtls(void **state)
{
    struct world *w = *state;
    struct al_session_result r;
    struct al_boot_info info;
    w->server.plan.target = &w->app2;
    assert_int_equal(al_agent_session(&w->agent, &r), AL_OK);
    assert_true(r.reset_needed);
    assert_int_equal(r.bytes_fetched, w->app2.len);
    assert_int_equal(w->server.plan.bytes_served, w->app2.len); /* windows: no byte twice */
    /* Reset: the bootloader installs, the agent reports and confirms. */
    assert_int_equal(harness_device_open(&w->h), AL_OK);
    assert_int_equal(al_boot(&w->h.dev, AL_RESET_SOFTWARE, &info), AL_OK);
    assert_true(info.installed);
    open_transport(w, "electron-1", good_psk);
    w->agent.flags |= AL_INV_AFTER_INSTALL;
    assert_int_equal(al_agent_session(&w->agent, &r), AL_OK);
    assert_true(r.confirmed);
    assert_true(r.up_to_date);
    assert_int_equal(w->server.plan.last_inventory.boot_state, AL_BOOT_CONFIRMED);
    assert_true(fake_runs(&w->server.plan.last_inventory, &w->app2));
    /* The one report of the step: downloading and verifying the server saw in the
     * transfer requests themselves. */
    assert_int_equal(w->server.plan.status_count, 1);
    assert_int_equal(w->server.plan.statuses[0].state, AL_STATE_INSTALLING);
}

/* The plain RFC 7959 Block2 transfer, one 1024-byte block per request, works as well. */
static void test_block2_transfer(void **state)
{
    struct world *w = *state;
    struct al_session_result r;
    open_transport_mode(w, "electron-1", good_psk, true);
    w->server.plan.target = &w->app2;
    assert_int_equal(al_agent_session(&w->agent, &r), AL_OK);
    assert_true(r.reset_needed);
    assert_int_equal(r.bytes_fetched, w->app2.len);
    assert_int_equal(w->server.plan.bytes_served, w->app2.len);
}

static void test_wrong_psk_and_unknown_device_are_refused(void **state)
{
    struct world *w = *state;
    struct al_session_result r;
    static const uint8_t wrong[16] = "not the real key";
    open_transport(w, "electron-1", wrong);
    assert_int_not_equal(al_agent_session(&w->agent, &r), AL_OK);
    open_transport(w, "intruder", good_psk);
    assert_int_not_equal(al_agent_session(&w->agent, &r), AL_OK);
    assert_int_equal(w->server.plan.inventories, 0);
    /* The real device is still served. */
    open_transport(w, "electron-1", good_psk);
    assert_int_equal(al_agent_session(&w->agent, &r), AL_OK);
    assert_true(r.up_to_date);
    assert_int_equal(w->server.plan.inventories, 1);
}

static void test_malformed_payloads_get_4xx(void **state)
{
    struct world *w = *state;
    const struct al_transport *t = al_coap_port(w->coap);
    uint8_t resp[64], junk[40] = {9, 9, 9};
    size_t len;
    uint8_t code;
    assert_int_equal(t->exchange(t->ctx, AL_METHOD_POST, "i", junk, sizeof junk, resp, sizeof resp,
                                 &len, &code), AL_OK);
    assert_int_equal(code, 128); /* 4.00 */
    assert_int_equal(t->exchange(t->ctx, AL_METHOD_POST, "s", junk, 3, resp, sizeof resp, &len, &code), AL_OK);
    assert_int_equal(code, 128);
    assert_int_equal(t->fetch(t->ctx, "999/0", 0, 4096, 4096, resp, sizeof resp, &len), AL_ERR_PROTOCOL); /* 4.04 */
    assert_int_equal(t->exchange(t->ctx, AL_METHOD_GET, "nothing/here", NULL, 0, resp, sizeof resp,
                                 &len, &code), AL_OK);
    assert_int_equal(code, 132); /* 4.04 */
    assert_int_equal(t->exchange(t->ctx, AL_METHOD_GET, "w/3/0", NULL, 0, resp, sizeof resp, &len,
                                 &code), AL_OK);
    assert_int_equal(code, 128); /* 4.00: a window request without its o, n and c */
    struct al_session_result r;
    assert_int_equal(al_agent_session(&w->agent, &r), AL_OK); /* and it keeps serving */
}

/* Over a lossy, duplicating, reordering, slow link the download still completes, and the
 * bytes on the air (datagrams + IP/UDP headers, both ways) stay bounded. */
static void test_update_over_a_bad_link(void **state)
{
    struct world *w = *state;
    struct sim_link *link;
    struct sim_link_config lk = {.loss = 0.05, .duplicate = 0.02, .reorder = 0.02, .latency_ms = 5, .seed = 7};
    struct sockaddr_in srv = {.sin_family = AF_INET, .sin_port = htons(ald_coap_bound_port(w->server.coap))};
    uint16_t port;
    char err[128];
    inet_pton(AF_INET, "127.0.0.1", &srv.sin_addr);
    assert_int_equal(sim_link_start(&link, &lk, &srv, &port), 0);
    struct al_coap_config cfg = {.host = "127.0.0.1", .port = port, .identity = "electron-1",
                                 .psk = good_psk, .psk_len = 16, .timeout_ms = 60000};
    al_coap_close(w->coap);
    assert_int_equal(al_coap_open(&w->coap, &cfg, err, sizeof err), 0);
    al_agent_init(&w->agent, &w->h.dev, al_coap_port(w->coap));
    w->server.plan.target = &w->app2;
    struct al_session_result r;
    al_err e = AL_ERR_TIMEOUT;
    for (int attempt = 0; attempt < 5 && e != AL_OK; attempt++)
        e = al_agent_session(&w->agent, &r); /* a lost link resumes where it stopped */
    assert_int_equal(e, AL_OK);
    assert_true(r.reset_needed);
    const struct sim_link_stats *st = sim_link_stats(link);
    double ratio = (double)(st->up_bytes + st->down_bytes) / (double)w->app2.len;
    printf("bad link: %zu-byte image, %llu bytes on the air (%.3f x), %llu datagrams dropped\n",
           w->app2.len, (unsigned long long)(st->up_bytes + st->down_bytes), ratio,
           (unsigned long long)st->dropped);
    assert_true(ratio < 1.3);
    sim_link_stop(link);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_update_over_dtls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_block2_transfer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_psk_and_unknown_device_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_payloads_get_4xx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_over_a_bad_link, setup, teardown),
    };
    return cmocka_run_group_tests_name("coap", tests, NULL, NULL);
}
