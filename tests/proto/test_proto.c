/* test_proto.c - device protocol messages: round trips, sizes, and strict rejection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "airlift/proto.h"

static struct al_inventory sample_inventory(void)
{
    struct al_inventory inv;
    memset(&inv, 0, sizeof inv);
    inv.flags = AL_INV_AFTER_INSTALL | AL_INV_SLEEPY | AL_INV_SLOTS;
    inv.boot_state = AL_BOOT_REVERTED;
    inv.last_result = AL_RESULT_REVERTED;
    inv.last_err = 0;
    inv.next_checkin_s = 3600;
    inv.dl_plan_id = 0x01020304;
    inv.dl_step = 2;
    inv.dl_offset = 65536;
    inv.dl_result = AL_RESULT_INTEGRITY_FAILURE;
    inv.dl_err = AL_ERR_PATCH_BASE;
    strcpy(inv.reason, "not confirmed (last reset: crash)");
    inv.module_count = 5;
    for (uint8_t i = 0; i < 5; i++) {
        struct al_module_status *m = &inv.modules[i];
        m->function = i == 0 ? AL_FN_BOOTLOADER : i == 4 ? AL_FN_APPLICATION : AL_FN_SYSTEM;
        m->index = i == 0 ? 0 : i == 4 ? 1 : i;
        m->present = i != 4;
        m->on_trial = i == 2;
        al_version_parse("0.7.0-rc.6", 10, &m->version);
        memset(m->payload_sha256, 0xa0 + i, AL_SHA256_SIZE);
    }
    return inv;
}

static void test_inventory_round_trip(void **state)
{
    (void)state;
    struct al_inventory in = sample_inventory(), out;
    uint8_t buf[AL_PROTO_INVENTORY_MAX];
    size_t len;
    assert_int_equal(al_inventory_encode(&in, buf, sizeof buf, &len), AL_OK);
    assert_int_equal(len, 20 + strlen(in.reason) + 5 * (36 + 10)); /* 283 bytes: one datagram */
    assert_int_equal(al_inventory_decode(buf, len, &out), AL_OK);
    assert_int_equal(out.flags, in.flags);
    assert_int_equal(out.boot_state, in.boot_state);
    assert_int_equal(out.next_checkin_s, 3600);
    assert_int_equal(out.dl_plan_id, in.dl_plan_id);
    assert_int_equal(out.dl_offset, 65536);
    assert_int_equal(out.dl_result, AL_RESULT_INTEGRITY_FAILURE);
    assert_int_equal(out.dl_err, AL_ERR_PATCH_BASE);
    assert_string_equal(out.reason, in.reason);
    assert_int_equal(out.module_count, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(out.modules[i].function, in.modules[i].function);
        assert_int_equal(out.modules[i].index, in.modules[i].index);
        assert_int_equal(out.modules[i].present, in.modules[i].present);
        assert_int_equal(out.modules[i].on_trial, in.modules[i].on_trial);
        assert_int_equal(al_version_compare(&out.modules[i].version, &in.modules[i].version), 0);
        assert_memory_equal(out.modules[i].payload_sha256, in.modules[i].payload_sha256, 32);
    }
    assert_int_equal(al_inventory_encode(&in, buf, len - 1, &len), AL_ERR_BUFFER_TOO_SMALL);
}

static void test_inventory_rejects(void **state)
{
    (void)state;
    struct al_inventory in = sample_inventory(), out;
    uint8_t buf[AL_PROTO_INVENTORY_MAX], bad[AL_PROTO_INVENTORY_MAX];
    size_t len;
    assert_int_equal(al_inventory_encode(&in, buf, sizeof buf, &len), AL_OK);
    size_t mod0 = 20 + strlen(in.reason);
    struct { size_t off; uint8_t v; } cases[] = {
        {0, 2},          /* protocol version */
        {1, 0x80},       /* unknown flag */
        {1, 0x20},       /* the next one */
        {2, 3},          /* boot state */
        {5, 6},          /* module count disagrees with the length */
        {5, 13},         /* too many modules */
        {17, 14},        /* download result unknown */
        {17, 0},         /* an error detail without a result */
        {19, 48},        /* reason too long */
        {20, 0},         /* NUL inside the reason */
        {mod0, 0},       /* module function 0 */
        {mod0 + 1, 16},  /* module index */
        {mod0 + 2, 4},   /* module flags */
        {mod0 + 3, 1},   /* version length: "0" is no version */
        {mod0 + 3, 200}, /* version length past the end */
        {mod0 + 3, 11},  /* version length takes a byte of the hash */
        {mod0 + 4 + 1, 'x'},  /* version number */
        {mod0 + 4 + 6, '!'},  /* version pre-release */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(bad, buf, len);
        bad[cases[i].off] = cases[i].v;
        if (al_inventory_decode(bad, len, &out) != AL_ERR_PROTOCOL)
            fail_msg("case %zu (byte %zu = %u) accepted", i, cases[i].off, cases[i].v);
    }
    assert_int_equal(al_inventory_decode(buf, len - 1, &out), AL_ERR_PROTOCOL);
    assert_int_equal(al_inventory_decode(buf, 17, &out), AL_ERR_PROTOCOL);
    buf[len] = 0;
    assert_int_equal(al_inventory_decode(buf, len + 1, &out), AL_ERR_PROTOCOL);
}

static void test_plan_round_trip_and_rejects(void **state)
{
    (void)state;
    struct al_plan in, out;
    uint8_t buf[AL_PROTO_PLAN_MAX], bad[AL_PROTO_PLAN_MAX];
    size_t len;
    memset(&in, 0, sizeof in);
    in.status = AL_PLAN_UPDATE;
    in.poll_s = 30;
    in.plan_id = 77;
    in.step_count = 4;
    for (uint8_t i = 0; i < 4; i++) {
        in.steps[i].function = i == 0 ? AL_FN_BOOTLOADER : AL_FN_SYSTEM;
        in.steps[i].index = i == 0 ? 0 : (uint8_t)((i + 1) % 3 + 1);
        in.steps[i].encoding = i; /* full, compressed, delta, delta across slots */
        in.steps[i].transfer_size = 1000u * (i + 1);
        memset(in.steps[i].transfer_sha256, i, 32);
        memset(in.steps[i].image_sha256, 0x10 + i, 32);
    }
    assert_int_equal(al_plan_encode(&in, buf, sizeof buf, &len), AL_OK);
    assert_int_equal(len, 9 + 4 * 72);
    assert_int_equal(al_plan_decode(buf, len, &out), AL_OK);
    assert_int_equal(out.plan_id, 77);
    assert_int_equal(out.step_count, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(out.steps[i].function, in.steps[i].function);
        assert_int_equal(out.steps[i].index, in.steps[i].index);
        assert_int_equal(out.steps[i].encoding, in.steps[i].encoding);
        assert_int_equal(out.steps[i].transfer_size, in.steps[i].transfer_size);
        assert_memory_equal(out.steps[i].transfer_sha256, in.steps[i].transfer_sha256, 32);
        assert_memory_equal(out.steps[i].image_sha256, in.steps[i].image_sha256, 32);
    }
    /* version, status, step count, step function, index, encoding, reserved */
    const size_t cases[][2] = {{0, 9}, {1, 3}, {8, 9}, {9, 0}, {10, 16}, {11, 4}, {12, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(bad, buf, len);
        bad[cases[i][0]] = (uint8_t)cases[i][1];
        if (al_plan_decode(bad, len, &out) != AL_ERR_PROTOCOL)
            fail_msg("plan case %zu accepted", i);
    }
    /* A zero transfer size is refused. */
    memcpy(bad, buf, len);
    memset(bad + 13, 0, 4);
    assert_int_equal(al_plan_decode(bad, len, &out), AL_ERR_PROTOCOL);
    /* Up to date: no steps; "update" with no steps is refused. */
    struct al_plan none = {.status = AL_PLAN_UP_TO_DATE, .poll_s = 600};
    assert_int_equal(al_plan_encode(&none, buf, sizeof buf, &len), AL_OK);
    assert_int_equal(len, 9);
    assert_int_equal(al_plan_decode(buf, len, &out), AL_OK);
    assert_int_equal(out.status, AL_PLAN_UP_TO_DATE);
    buf[1] = AL_PLAN_UPDATE;
    assert_int_equal(al_plan_decode(buf, len, &out), AL_ERR_PROTOCOL);
}

static void test_status_round_trip(void **state)
{
    (void)state;
    struct al_status in = {AL_STATE_DOWNLOADING, AL_RESULT_NONE, 0, 9, 1, 123456}, out;
    uint8_t buf[AL_PROTO_STATUS_SIZE + 1];
    size_t len;
    assert_int_equal(al_status_encode(&in, buf, sizeof buf, &len), AL_OK);
    assert_int_equal(len, 13);
    assert_int_equal(al_status_decode(buf, len, &out), AL_OK);
    assert_int_equal(out.state, in.state);
    assert_int_equal(out.result, in.result);
    assert_int_equal(out.plan_id, 9);
    assert_int_equal(out.step, 1);
    assert_int_equal(out.offset, 123456);
    assert_int_equal(al_status_decode(buf, len - 1, &out), AL_ERR_PROTOCOL);
    buf[1] = 6;
    assert_int_equal(al_status_decode(buf, len, &out), AL_ERR_PROTOCOL);
}

/* issue 16 (speed): the step a device takes first, and whether its first window comes with
 * the plan: server and device decide by the same two functions. */
static void test_plan_first_window(void **state)
{
    (void)state;
    struct al_inventory inv = sample_inventory();
    struct al_plan plan;
    uint8_t step = 99;
    memset(&plan, 0, sizeof plan);
    plan.status = AL_PLAN_UPDATE;
    plan.plan_id = 42;
    plan.step_count = 2;
    plan.steps[0].function = AL_FN_SYSTEM; /* module 1 runs this payload: skipped */
    plan.steps[0].index = 1;
    memset(plan.steps[0].image_sha256, 0xa1, AL_SHA256_SIZE);
    plan.steps[1].function = AL_FN_SYSTEM;
    plan.steps[1].index = 2;
    memset(plan.steps[1].image_sha256, 0x55, AL_SHA256_SIZE);
    assert_int_equal(al_plan_first_step(&plan, &inv), 1);
    inv.boot_state = AL_BOOT_CONFIRMED;
    inv.dl_plan_id = 0;
    inv.dl_offset = 0;
    inv.dl_result = 0;
    inv.dl_err = 0;
    assert_false(al_plan_window_with(&plan, &inv, &step)); /* it did not ask */
    inv.flags |= AL_INV_WINDOW;
    assert_true(al_plan_window_with(&plan, &inv, &step));
    assert_int_equal(step, 1);
    inv.dl_plan_id = 42; /* a download of step 1 of this plan under way: it resumes */
    inv.dl_step = 1;
    inv.dl_offset = 4096;
    assert_false(al_plan_window_with(&plan, &inv, &step));
    inv.dl_offset = 0; /* the same download, nothing kept yet: from 0, with the window */
    assert_true(al_plan_window_with(&plan, &inv, &step));
    inv.boot_state = AL_BOOT_TRIAL; /* it confirms first */
    assert_false(al_plan_window_with(&plan, &inv, &step));
    inv.boot_state = AL_BOOT_CONFIRMED;
    plan.status = AL_PLAN_WAIT;
    assert_false(al_plan_window_with(&plan, &inv, &step));
    plan.status = AL_PLAN_UPDATE;
    memset(plan.steps[1].image_sha256, 0xa2, AL_SHA256_SIZE); /* it runs both */
    assert_int_equal(al_plan_first_step(&plan, &inv), 2);
    assert_false(al_plan_window_with(&plan, &inv, &step));
    /* The flag round-trips; the bits above it (AL_INV_SLOTS, then none) are taken, then refused. */
    uint8_t buf[AL_PROTO_INVENTORY_MAX];
    size_t len;
    struct al_inventory out;
    assert_int_equal(al_inventory_encode(&inv, buf, sizeof buf, &len), AL_OK);
    assert_int_equal(al_inventory_decode(buf, len, &out), AL_OK);
    assert_true(out.flags & AL_INV_WINDOW);
    buf[1] |= AL_INV_SLOTS;
    assert_int_equal(al_inventory_decode(buf, len, &out), AL_OK);
    buf[1] |= 0x20;
    assert_int_equal(al_inventory_decode(buf, len, &out), AL_ERR_PROTOCOL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inventory_round_trip),
        cmocka_unit_test(test_inventory_rejects),
        cmocka_unit_test(test_plan_round_trip_and_rejects),
        cmocka_unit_test(test_status_round_trip),
        cmocka_unit_test(test_plan_first_window),
    };
    return cmocka_run_group_tests_name("proto", tests, NULL, NULL);
}
