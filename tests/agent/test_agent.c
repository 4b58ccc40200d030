/*
 * test_agent.c - the update agent against an in-process fake server (a transport port that
 * answers like airliftd's planner would), on a simulated Electron: a whole update through
 * trial and confirm, downloads that resume after a lost link and after a power cut, no
 * re-download of what runs, refusals reported as status.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "airlift/agent.h"
#include "airlift_host/delta.h"
#include "fake_server.h"
#include "harness.h"

/* The transport port of the fake server: exchanges and fetches go straight to it. */
struct fake_link {
    struct fake_server server;
    int fail_fetch_at; /* fetch number that fails (0: none) */
    int fetches;
    uint32_t offsets[512], untils[512]; /* of each fetch */
    bool removed; /* answer inventories 4.03: the server removed this device */
};

static al_err fake_exchange(void *ctx, uint8_t method, const char *path, const uint8_t *req,
                            size_t req_len, uint8_t *resp, size_t cap, size_t *resp_len, uint8_t *code)
{
    struct fake_link *l = ctx;
    assert_int_equal(method, AL_METHOD_POST);
    *resp_len = 0;
    if (strcmp(path, "s") == 0) {
        assert_null(resp); /* reports want no answer */
        *code = (uint8_t)fake_status(&l->server, req, req_len);
        return AL_OK;
    }
    assert_string_equal(path, "i");
    if (l->removed) {
        *code = AL_COAP_FORBIDDEN;
        return AL_OK;
    }
    *code = (uint8_t)fake_inventory(&l->server, req, req_len, resp, cap, resp_len);
    return AL_OK;
}

static al_err fake_fetch(void *ctx, const char *name, uint32_t offset, uint32_t size,
                         uint32_t until, uint8_t *buf,
                         size_t cap, size_t *got)
{
    struct fake_link *l = ctx;
    unsigned plan, step;
    size_t len;
    assert_int_equal(sscanf(name, "%u/%u", &plan, &step), 2);
    if (l->fetches < 512) {
        l->offsets[l->fetches] = offset;
        l->untils[l->fetches] = until;
    }
    assert_true(until > offset && until <= size);
    if (++l->fetches == l->fail_fetch_at)
        return AL_ERR_TIMEOUT;
    const uint8_t *data = fake_transfer(&l->server, plan, (uint8_t)step, &len);
    assert_non_null(data);
    assert_true(offset < len);
    assert_int_equal(size, len);
    size_t n = len - offset < cap ? len - offset : cap;
    memcpy(buf, data + offset, n);
    fake_restore(&l->server);
    l->server.bytes_served += (uint32_t)n;
    *got = n;
    return AL_OK;
}

struct world {
    struct harness h;
    struct test_image sys[4], app, app2;
    struct fake_link link;
    struct al_transport transport;
    struct al_agent agent;
};

static struct test_image load(struct harness *h, const char *file, uint8_t idx, const char *deps)
{
    struct test_image img;
    size_t len;
    uint8_t *p = harness_firmware(file, &len);
    harness_image(h, &img, AL_FN_SYSTEM, idx, "0.6.4", 0, p, len, deps);
    free(p);
    return img;
}

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof *w);
    struct al_boot_info info;
    harness_open(&w->h, "electron");
    w->sys[1] = load(&w->h, "electron/system-part2-0.6.4.bin", 1, NULL);
    w->sys[2] = load(&w->h, "electron/system-part3-0.6.4.bin", 2, NULL);
    w->sys[3] = load(&w->h, "electron/system-part1-0.6.4.bin", 3, NULL);
    uint8_t *p = malloc(60000);
    for (size_t i = 0; i < 60000; i++)
        p[i] = (uint8_t)(i * 7 + (i >> 8));
    harness_image(&w->h, &w->app, AL_FN_APPLICATION, 1, "1.0.0", 0, p, 20000, "2:1:0.6.4");
    p[0] ^= 1;
    harness_image(&w->h, &w->app2, AL_FN_APPLICATION, 1, "1.1.0", 1, p, 60000, "2:1:0.6.4");
    free(p);
    for (int i = 1; i <= 3; i++)
        harness_factory(&w->h, &w->sys[i]);
    harness_factory(&w->h, &w->app);
    assert_int_equal(harness_device_open(&w->h), AL_OK);
    assert_int_equal(al_boot(&w->h.dev, AL_RESET_POWER_ON, &info), AL_OK);
    w->link.server.plan_id = 7;
    w->transport = (struct al_transport){&w->link, fake_exchange, fake_fetch, NULL};
    al_agent_init(&w->agent, &w->h.dev, &w->transport);
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    for (int i = 1; i <= 3; i++)
        harness_image_free(&w->sys[i]);
    harness_image_free(&w->app);
    harness_image_free(&w->app2);
    harness_close(&w->h);
    free(w);
    return 0;
}

/* Reset: RAM (device and agent) is lost; the bootloader runs; the agent starts again. */
static struct al_boot_info reboot(struct world *w)
{
    struct al_boot_info info;
    assert_int_equal(harness_device_open(&w->h), AL_OK);
    assert_int_equal(al_boot(&w->h.dev, AL_RESET_SOFTWARE, &info), AL_OK);
    al_agent_init(&w->agent, &w->h.dev, &w->transport);
    if (info.installed || info.reverted)
        w->agent.flags |= AL_INV_AFTER_INSTALL;
    return info;
}

static void test_update_through_trial_to_confirmed(void **state)
{
    struct world *w = *state;
    struct al_session_result r;
    assert_int_equal(al_agent_session(&w->agent, &r), AL_OK); /* nothing wanted yet */
    assert_true(r.up_to_date);
    assert_int_equal(r.bytes_fetched, 0);

    w->link.server.target = &w->app2;
    assert_int_equal(al_agent_session(&w->agent, &r), AL_OK);
    assert_true(r.reset_needed);
    assert_int_equal(r.bytes_fetched, w->app2.len);
    assert_int_equal(w->link.server.statuses[w->link.server.status_count - 1].state, AL_STATE_INSTALLING);

    struct al_boot_info info = reboot(w);
    assert_true(info.installed);
    assert_int_equal(al_agent_session(&w->agent, &r), AL_OK);
    assert_true(r.confirmed);
    assert_true(r.up_to_date);
    assert_int_equal(r.bytes_fetched, 0);
    /* The server learnt "confirmed" from the device's own report. */
    assert_int_equal(w->link.server.last_inventory.boot_state, AL_BOOT_CONFIRMED);
    assert_int_equal(w->link.server.last_inventory.last_result, AL_RESULT_SUCCESS);
    assert_true(fake_runs(&w->link.server.last_inventory, &w->app2));
    assert_int_equal(w->link.server.bytes_served, w->app2.len);
}

static void test_lost_link_resumes_at_saved_offset(void **state)
{
    struct world *w = *state;
    struct al_session_result r;
    w->link.server.target = &w->app2;
    w->link.fail_fetch_at = 40; /* 39 chunks in */
    assert_int_equal(al_agent_session(&w->agent, &r), AL_ERR_TIMEOUT);
    assert_int_equal(w->link.server.last_inventory.dl_plan_id, 0);
    /* Next session (same boot, or after sleep): the inventory says where it stands. */
    assert_int_equal(al_agent_session(&w->agent, &r), AL_OK);
    assert_int_equal(w->link.server.last_inventory.dl_plan_id, 7);
    assert_int_equal(w->link.server.last_inventory.dl_offset, 39 * AL_AGENT_CHUNK);
    assert_true(r.reset_needed);
    assert_int_equal(r.bytes_fetched, w->app2.len - 39 * AL_AGENT_CHUNK); /* nothing fetched twice */
    assert_true(reboot(w).installed);
}

static void test_power_cut_mid_download_resumes(void **state)
{
    struct world *w = *state;
    struct al_session_result r;
    w->link.server.target = &w->app2;
    /* Cut the power 30 flash operations into the session. */
    sim_power_reset_ops(&w->h.board.power);
    sim_power_arm(&w->h.board.power, 30, SIM_CUT_TORN);
    assert_int_equal(al_agent_session(&w->agent, &r), AL_ERR_POWER_LOSS);
    sim_power_on(&w->h.board.power);
    struct al_boot_info info;
    assert_int_equal(harness_device_open(&w->h), AL_OK);
    assert_int_equal(al_boot(&w->h.dev, AL_RESET_POWER_ON, &info), AL_OK);
    assert_false(info.installed);
    al_agent_init(&w->agent, &w->h.dev, &w->transport);
    assert_int_equal(al_agent_session(&w->agent, &r), AL_OK);
    assert_true(r.reset_needed);
    assert_true(w->link.server.last_inventory.dl_offset > 0); /* it resumed, not restarted */
    /* Bytes on the wire stay under 1.2 x the image even with the cut. */
    assert_true(w->link.server.bytes_served < w->app2.len * 12 / 10);
    assert_true(reboot(w).installed);
}

static void test_running_image_is_never_sent_again(void **state)
{
    struct world *w = *state;
    struct al_session_result r;
    w->link.server.target = &w->app; /* what the device already runs */
    w->link.server.force_step = true; /* even if the server asks */
    assert_int_equal(al_agent_session(&w->agent, &r), AL_OK);
    assert_true(r.up_to_date);
    assert_false(r.reset_needed);
    assert_int_equal(w->link.server.bytes_served, 0);
}

static void test_corrupt_transfer_is_reported_not_installed(void **state)
{
    struct world *w = *state;
    struct al_session_result r;
    w->link.server.target = &w->app2;
    w->link.server.corrupt = true;
    assert_int_equal(al_agent_session(&w->agent, &r), AL_OK);
    assert_false(r.reset_needed);
    assert_int_equal(r.failed_result, AL_RESULT_INTEGRITY_FAILURE);
    const struct al_status *last = &w->link.server.statuses[w->link.server.status_count - 1];
    assert_int_equal(last->state, AL_STATE_FAILED);
    assert_int_equal(last->result, AL_RESULT_INTEGRITY_FAILURE);
    assert_int_equal(last->err, AL_ERR_HASH_MISMATCH);
    assert_false(reboot(w).installed);
    /* The failure is kept: the next inventory tells the server even if the report was lost,
     * and the same transfer is not fetched again. */
    uint32_t served = w->link.server.bytes_served;
    w->link.server.corrupt = false;
    assert_int_equal(al_agent_session(&w->agent, &r), AL_OK);
    assert_false(r.reset_needed);
    assert_int_equal(w->link.server.last_inventory.dl_result, AL_RESULT_INTEGRITY_FAILURE);
    assert_int_equal(w->link.server.last_inventory.dl_err, AL_ERR_HASH_MISMATCH);
    assert_int_equal(w->link.server.bytes_served, served);
    /* A new plan (the user tries again) starts clean and succeeds. */
    w->link.server.plan_id++;
    assert_int_equal(al_agent_session(&w->agent, &r), AL_OK);
    assert_true(r.reset_needed);
}

/* A stream of img from the running image `from` (a patch), or compressed (from NULL). */
static void make_stream(struct world *w, const struct test_image *from, const struct test_image *img,
                        uint8_t encoding)
{
    struct alh_delta_opts o;
    char err[160];
    alh_delta_opts_default(&o);
    o.fast = 1;
    o.old_origin = 0;
    if (from)
        o.old_link = from->hdr.link_address;
    assert_int_equal(alh_delta_encode(from ? from->bytes + from->hdr.header_size : NULL,
                                      from ? from->hdr.payload_size : 0, img->bytes, img->len, &o,
                                      &w->link.server.stream, &w->link.server.stream_len, err,
                                      sizeof err), 0);
    w->link.server.encoding = encoding;
    w->link.server.target = img;
}

static void test_delta_update_sends_a_fraction(void **state)
{
    struct world *w = *state;
    struct al_session_result r;
    make_stream(w, &w->app, &w->app2, AL_ENC_DELTA);
    assert_int_equal(al_agent_session(&w->agent, &r), AL_OK);
    assert_true(w->link.server.last_inventory.flags & AL_INV_STREAMS);
    assert_true(r.reset_needed);
    assert_int_equal(w->link.server.bytes_served, w->link.server.stream_len);
    assert_true(w->link.server.stream_len < w->app2.len / 2);
    assert_true(reboot(w).installed);
    assert_int_equal(al_agent_session(&w->agent, &r), AL_OK);
    assert_true(r.confirmed);
    assert_true(fake_runs(&w->link.server.last_inventory, &w->app2));
    free(w->link.server.stream);
}

static void test_stream_resumes_at_its_checkpoint(void **state)
{
    struct world *w = *state;
    struct al_session_result r;
    struct test_image noise;
    uint8_t *p = malloc(60000);
    uint32_t x = 12345;
    for (size_t i = 0; i < 60000; i++, x = x * 1103515245u + 12345u)
        p[i] = (uint8_t)(x >> 16); /* incompressible: the stream is as long as the image */
    harness_image(&w->h, &noise, AL_FN_APPLICATION, 1, "1.2.0", 2, p, 60000, "2:1:0.6.4");
    free(p);
    make_stream(w, NULL, &noise, AL_ENC_COMPRESSED);
    w->link.fail_fetch_at = 30; /* the link drops after 29 pieces */
    assert_int_equal(al_agent_session(&w->agent, &r), AL_ERR_TIMEOUT);
    const struct al_download *d = &w->h.dev.state.dl;
    assert_true(d->offset > 0 && d->written >= d->out_offset && d->written > 0);
    uint32_t checkpoint = d->offset, served = w->link.server.bytes_served;
    int first = w->link.fetches;
    w->link.fail_fetch_at = 0;
    assert_int_equal(al_agent_session(&w->agent, &r), AL_OK);
    assert_true(r.reset_needed);
    /* It read the prologue again (asking for no more), then went on from the checkpoint. */
    assert_int_equal(w->link.offsets[first], 0);
    assert_true(w->link.untils[first] <= AL_DELTA_PROLOGUE_MAX);
    assert_int_equal(w->link.offsets[first + 1], checkpoint);
    uint32_t again = w->link.server.bytes_served - served;
    assert_true(again <= w->link.server.stream_len - checkpoint + AL_AGENT_CHUNK);
    assert_true(reboot(w).installed);
    free(w->link.server.stream);
    harness_image_free(&noise);
}

static void test_corrupt_patch_fails_and_the_image_runs_on(void **state)
{
    struct world *w = *state;
    struct al_session_result r;
    make_stream(w, &w->app, &w->app2, AL_ENC_DELTA);
    w->link.server.corrupt = true;
    assert_int_equal(al_agent_session(&w->agent, &r), AL_OK);
    assert_false(r.reset_needed);
    assert_int_equal(r.failed_result, AL_RESULT_INTEGRITY_FAILURE);
    const struct al_status *last = &w->link.server.statuses[w->link.server.status_count - 1];
    assert_int_equal(last->state, AL_STATE_FAILED);
    assert_true(last->err == AL_ERR_PATCH_CORRUPT || last->err == AL_ERR_HASH_MISMATCH);
    assert_false(reboot(w).installed);
    assert_int_equal(al_agent_session(&w->agent, &r), AL_OK);
    assert_true(fake_runs(&w->link.server.last_inventory, &w->app)); /* untouched */
    assert_int_equal(w->link.server.last_inventory.dl_result, AL_RESULT_INTEGRITY_FAILURE);
    free(w->link.server.stream);
}

static void test_patch_for_another_base_is_refused(void **state)
{
    struct world *w = *state;
    struct al_session_result r;
    make_stream(w, &w->sys[1], &w->app2, AL_ENC_DELTA); /* made from the wrong old image */
    assert_int_equal(al_agent_session(&w->agent, &r), AL_OK);
    assert_false(r.reset_needed);
    assert_int_equal(w->link.server.statuses[w->link.server.status_count - 1].err,
                     AL_ERR_PATCH_BASE);
    assert_int_equal(w->link.fetches, 1); /* the header said so: nothing more is fetched */
    assert_int_equal(w->h.dev.state.dl.err, AL_ERR_PATCH_BASE);
    free(w->link.server.stream);
}

/* issue 16 (seed): encoding 3, a patch whose old image is the step's slot followed by the
 * other slots of its function in inventory order; system-part1 0.6.4 -> 0.7.0 with the other
 * two system parts behind it. Made in another order, the same bytes decode to something else:
 * refused, and the running image stays. */
static void slots_update(struct world *w, bool inventory_order)
{
    struct al_session_result r;
    struct test_image next;
    struct alh_delta_opts o;
    char err[160];
    size_t len, old_len = 0;
    uint8_t *p = harness_firmware("electron/system-part1-0.7.0.bin", &len), *old;
    harness_image(&w->h, &next, AL_FN_SYSTEM, 3, "0.7.0", 0, p, len, NULL);
    free(p);
    assert_int_equal(al_agent_session(&w->agent, &r), AL_OK); /* it reports what it runs */
    const struct al_inventory *inv = &w->link.server.last_inventory;
    assert_true(inv->flags & AL_INV_SLOTS);
    old = malloc(3 * 200000);
    memcpy(old, w->sys[3].bytes + w->sys[3].hdr.header_size, w->sys[3].hdr.payload_size);
    old_len = w->sys[3].hdr.payload_size;
    for (int k = 0; k < inv->module_count; k++) {
        const struct al_module_status *m = &inv->modules[inventory_order ? k : inv->module_count - 1 - k];
        if (!m->present || m->function != AL_FN_SYSTEM || m->index == 3)
            continue;
        memcpy(old + old_len, w->sys[m->index].bytes + w->sys[m->index].hdr.header_size,
               w->sys[m->index].hdr.payload_size);
        old_len += w->sys[m->index].hdr.payload_size;
    }
    alh_delta_opts_default(&o);
    o.fast = 1;
    o.old_origin = 0;
    o.old_link = w->sys[3].hdr.link_address;
    o.old_primary = w->sys[3].hdr.payload_size;
    assert_int_equal(alh_delta_encode(old, old_len, next.bytes, next.len, &o, &w->link.server.stream,
                                      &w->link.server.stream_len, err, sizeof err), 0);
    free(old);
    w->link.server.encoding = AL_ENC_DELTA_SLOTS;
    w->link.server.target = &next;
    assert_int_equal(al_agent_session(&w->agent, &r), AL_OK);
    if (inventory_order) {
        assert_true(r.reset_needed);
        assert_int_equal(w->link.server.bytes_served, w->link.server.stream_len);
        assert_true(reboot(w).installed);
        assert_int_equal(al_agent_session(&w->agent, &r), AL_OK);
        assert_true(r.confirmed);
        assert_true(fake_runs(&w->link.server.last_inventory, &next));
    } else {
        assert_false(r.reset_needed);
        assert_int_equal(r.failed_result, AL_RESULT_INTEGRITY_FAILURE);
        assert_false(reboot(w).installed);
        assert_int_equal(al_agent_session(&w->agent, &r), AL_OK);
        assert_true(fake_runs(&w->link.server.last_inventory, &w->sys[3])); /* untouched */
    }
    free(w->link.server.stream);
    harness_image_free(&next);
}

static void test_patch_across_slots_installs(void **state)
{
    slots_update(*state, true);
}

static void test_patch_across_slots_in_another_order_is_refused(void **state)
{
    slots_update(*state, false);
}

/* issue 12: a removed device is told so (4.03); the agent says AL_ERR_REMOVED, fetches
 * nothing, and its caller backs off 60 s, doubling, at most a day. */
static void test_removed_device_backs_off(void **state)
{
    struct world *w = *state;
    struct al_session_result r;
    w->link.server.target = &w->app2;
    w->link.removed = true;
    assert_int_equal(al_agent_session(&w->agent, &r), AL_ERR_REMOVED);
    assert_int_equal(w->link.fetches, 0);
    assert_false(r.reset_needed);
    assert_string_equal(al_err_name(AL_ERR_REMOVED), "removed");
    assert_int_equal(al_agent_removed_backoff_s(1), 60);
    assert_int_equal(al_agent_removed_backoff_s(2), 120);
    assert_int_equal(al_agent_removed_backoff_s(11), 61440);
    assert_int_equal(al_agent_removed_backoff_s(12), AL_AGENT_REMOVED_MAX_S);
    assert_int_equal(al_agent_removed_backoff_s(1000), AL_AGENT_REMOVED_MAX_S);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_update_through_trial_to_confirmed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delta_update_sends_a_fraction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_resumes_at_its_checkpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_patch_fails_and_the_image_runs_on, setup, teardown),
        cmocka_unit_test_setup_teardown(test_patch_for_another_base_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_patch_across_slots_installs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_patch_across_slots_in_another_order_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lost_link_resumes_at_saved_offset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_power_cut_mid_download_resumes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_running_image_is_never_sent_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_transfer_is_reported_not_installed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removed_device_backs_off, setup, teardown),
    };
    return cmocka_run_group_tests_name("agent", tests, NULL, NULL);
}
