/*
 * test_install.c - behaviour of the install engine, one property per test, on the Electron
 * board with the real Device OS 0.6.4 and 0.7.0 system parts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "airlift_host/image_build.h"
#include "harness.h"

/* Real dependencies of the Electron modules (see docs/particle-modules.md). */
#define DEPS_P1_070 "2:2:0.6.4"            /* system-part1 file: system 3 needs system 2 */
#define DEPS_P2_070 "2:3:0.7.0"            /* system-part2 file: system 1 needs system 3 */
#define DEPS_P3_070 "2:1:0.7.0 1:0:101.0.0" /* system-part3 file: system 2 needs system 1 + bootloader */

struct world {
    struct harness h;
    struct test_image bl, sys[4], app;
};

static struct test_image make(struct harness *h, const char *file, uint8_t fn, uint8_t idx,
                              const char *ver, uint32_t counter, const char *deps)
{
    struct test_image img;
    size_t len;
    uint8_t *p = harness_firmware(file, &len);
    harness_image(h, &img, fn, idx, ver, counter, p, len, deps);
    free(p);
    return img;
}

static struct test_image make_app(struct harness *h, const char *ver, uint32_t counter,
                                  size_t len, const char *deps)
{
    struct test_image img;
    uint8_t *p = malloc(len);
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(i * 31u + ver[0]);
    harness_image(h, &img, AL_FN_APPLICATION, 1, ver, counter, p, len, deps);
    free(p);
    return img;
}

/* A device fresh from the factory on Device OS 0.6.4 with an application, booted once. */
static int setup(void **state)
{
    struct world *w = calloc(1, sizeof *w);
    struct al_boot_info info;
    harness_open(&w->h, "electron");
    w->bl = make(&w->h, "electron/bootloader-2.3.0.bin", AL_FN_BOOTLOADER, 0, "100.0.0", 0, NULL);
    w->sys[1] = make(&w->h, "electron/system-part2-0.6.4.bin", AL_FN_SYSTEM, 1, "0.6.4", 0, "2:3:0.6.4");
    w->sys[2] = make(&w->h, "electron/system-part3-0.6.4.bin", AL_FN_SYSTEM, 2, "0.6.4", 0, "2:1:0.6.4");
    w->sys[3] = make(&w->h, "electron/system-part1-0.6.4.bin", AL_FN_SYSTEM, 3, "0.6.4", 0, NULL);
    w->app = make_app(&w->h, "1.0.0", 0, 5000, "2:2:0.6.4");
    harness_factory(&w->h, &w->bl);
    for (int i = 1; i <= 3; i++)
        harness_factory(&w->h, &w->sys[i]);
    harness_factory(&w->h, &w->app);
    assert_int_equal(harness_device_open(&w->h), AL_OK);
    assert_int_equal(al_boot(&w->h.dev, AL_RESET_POWER_ON, &info), AL_OK);
    assert_int_equal(info.target, AL_RUN_APPLICATION);
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    harness_image_free(&w->bl);
    for (int i = 1; i <= 3; i++)
        harness_image_free(&w->sys[i]);
    harness_image_free(&w->app);
    harness_close(&w->h);
    free(w);
    return 0;
}

/* Reset the device: RAM is lost, the journal is read again, the bootloader runs. */
static struct al_boot_info reboot(struct world *w, enum al_reset_reason why)
{
    struct al_boot_info info;
    assert_int_equal(harness_device_open(&w->h), AL_OK);
    assert_int_equal(al_boot(&w->h.dev, why, &info), AL_OK);
    return info;
}

static const struct al_module_status *module(struct world *w, uint8_t fn, uint8_t idx)
{
    static struct al_module_status mods[AL_MAX_MODULES];
    size_t n;
    assert_int_equal(al_modules(&w->h.dev, mods, AL_MAX_MODULES, &n), AL_OK);
    for (size_t i = 0; i < n; i++)
        if (mods[i].function == fn && mods[i].index == idx)
            return &mods[i];
    fail_msg("module %u/%u not in the inventory", fn, idx);
    return NULL;
}

static void assert_runs(struct world *w, uint8_t fn, uint8_t idx, const struct test_image *img)
{
    const struct al_module_status *m = module(w, fn, idx);
    assert_true(m->present);
    assert_memory_equal(m->payload_sha256, img->hdr.payload_sha256, AL_SHA256_SIZE);
}

static void test_application_update_confirmed(void **state)
{
    struct world *w = *state;
    struct test_image app2 = make_app(&w->h, "1.1.0", 1, 7000, "2:2:0.6.4");
    assert_int_equal(harness_stage(&w->h, &app2, 1024), AL_OK);
    assert_int_equal(al_boot_state(&w->h.dev), AL_BOOT_CONFIRMED); /* not before the reset */

    struct al_boot_info info = reboot(w, AL_RESET_SOFTWARE);
    assert_true(info.installed);
    assert_int_equal(info.target, AL_RUN_APPLICATION);
    assert_int_equal(info.state, AL_BOOT_TRIAL);
    assert_true(module(w, AL_FN_APPLICATION, 1)->on_trial);
    assert_runs(w, AL_FN_APPLICATION, 1, &app2);

    assert_int_equal(al_confirm(&w->h.dev), AL_OK);
    assert_int_equal(al_boot_state(&w->h.dev), AL_BOOT_CONFIRMED);
    assert_int_equal(w->h.dev.state.last_result, AL_RESULT_SUCCESS);
    info = reboot(w, AL_RESET_POWER_ON);
    assert_false(info.installed);
    assert_runs(w, AL_FN_APPLICATION, 1, &app2);
    harness_image_free(&app2);
}

static void test_unconfirmed_image_reverts_with_reason(void **state)
{
    struct world *w = *state;
    struct test_image app2 = make_app(&w->h, "2.0.0", 0, 9000, "2:2:0.6.4");
    assert_int_equal(harness_stage(&w->h, &app2, 512), AL_OK);
    struct al_boot_info info = reboot(w, AL_RESET_SOFTWARE); /* trial boot 1 */
    assert_true(info.installed);
    info = reboot(w, AL_RESET_FAULT);    /* 2 */
    assert_false(info.reverted);
    info = reboot(w, AL_RESET_WATCHDOG); /* 3 */
    assert_false(info.reverted);
    info = reboot(w, AL_RESET_FAULT);    /* past the limit */
    assert_true(info.reverted);
    assert_int_equal(info.state, AL_BOOT_REVERTED);
    assert_int_equal(info.target, AL_RUN_APPLICATION);
    assert_runs(w, AL_FN_APPLICATION, 1, &w->app);
    assert_int_equal(w->h.dev.state.last_result, AL_RESULT_REVERTED);
    assert_string_equal(w->h.dev.state.last_reason, "not confirmed (last reset: crash)");
    harness_image_free(&app2);
}

static void test_system_parts_install_in_dependency_order(void **state)
{
    struct world *w = *state;
    struct test_image p3 = make(&w->h, "electron/system-part1-0.7.0.bin", AL_FN_SYSTEM, 3, "0.7.0", 0, DEPS_P1_070);
    struct test_image p1 = make(&w->h, "electron/system-part2-0.7.0.bin", AL_FN_SYSTEM, 1, "0.7.0", 0, DEPS_P2_070);
    struct test_image p2 = make(&w->h, "electron/system-part3-0.7.0.bin", AL_FN_SYSTEM, 2, "0.7.0", 0, DEPS_P3_070);
    struct test_image bl = make(&w->h, "electron/bootloader-2.3.0.bin", AL_FN_BOOTLOADER, 0, "1006.0.0", 0, NULL);

    /* Out of order: system 1 0.7.0 needs system 3 >= 0.7.0, which is still 0.6.4. */
    assert_int_equal(harness_stage(&w->h, &p1, 1024), AL_ERR_DEPENDENCY);
    /* system 2 0.7.0 also needs bootloader >= 101.0.0; the device has 100.0.0. */
    assert_int_equal(harness_stage(&w->h, &p2, 1024), AL_ERR_DEPENDENCY);

    const struct test_image *order[] = {&bl, &p3, &p1, &p2};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(harness_stage(&w->h, order[i], 1024), AL_OK);
        struct al_boot_info info = reboot(w, AL_RESET_SOFTWARE);
        assert_int_equal(info.state, AL_BOOT_TRIAL);
        assert_int_equal(info.target, AL_RUN_APPLICATION);
        assert_int_equal(al_confirm(&w->h.dev), AL_OK);
    }
    assert_runs(w, AL_FN_BOOTLOADER, 0, &bl);
    assert_runs(w, AL_FN_SYSTEM, 1, &p1);
    assert_runs(w, AL_FN_SYSTEM, 2, &p2);
    assert_runs(w, AL_FN_SYSTEM, 3, &p3);
    assert_int_equal(w->h.dev.state.bootloader_active, 1); /* the new copy */
    harness_image_free(&p1);
    harness_image_free(&p2);
    harness_image_free(&p3);
    harness_image_free(&bl);
}

static void test_application_with_unmet_dependency_boots_safe_mode(void **state)
{
    struct world *w = *state;
    struct test_image needy = make_app(&w->h, "3.0.0", 0, 3000, "2:1:0.7.0");
    /* The installer refuses it... */
    assert_int_equal(harness_stage(&w->h, &needy, 1024), AL_ERR_DEPENDENCY);
    /* ...and if it got there anyway (factory programming), the device boots safe mode. */
    harness_factory(&w->h, &needy);
    struct al_boot_info info = reboot(w, AL_RESET_POWER_ON);
    assert_int_equal(info.target, AL_RUN_SAFE_MODE);
    assert_string_equal(info.reason, "application 1 needs system 1 >= 0.7.0");
    harness_image_free(&needy);
}

/* Stage an image built from header `t` over `payload`, signed again: its staging result. */
static al_err stage_resigned(struct world *w, const struct al_image_header *t, const uint8_t *payload)
{
    struct test_image again;
    char err[128];
    memset(&again, 0, sizeof again);
    assert_int_equal(alh_image_build(t, payload, t->payload_size, w->h.key, &again.bytes,
                                     &again.len, err, sizeof err), 0);
    assert_int_equal(al_image_parse_header(again.bytes, again.len, &again.hdr), AL_OK);
    al_err rc = harness_stage(&w->h, &again, 1024);
    harness_image_free(&again);
    return rc;
}

static void test_refusals_have_their_own_codes(void **state)
{
    struct world *w = *state;
    struct test_image img;
    /* Security counter below the floor. */
    struct test_image app2 = make_app(&w->h, "1.2.0", 5, 2000, NULL);
    assert_int_equal(harness_stage(&w->h, &app2, 1024), AL_OK);
    reboot(w, AL_RESET_SOFTWARE);
    assert_int_equal(al_confirm(&w->h.dev), AL_OK);
    struct test_image old = make_app(&w->h, "1.3.0", 4, 2000, NULL);
    assert_int_equal(harness_stage(&w->h, &old, 1024), AL_ERR_ROLLBACK);
    harness_image_free(&old);
    harness_image_free(&app2);

    /* Wrong platform. */
    w->h.platform = 6;
    img = make_app(&w->h, "1.4.0", 9, 2000, NULL);
    w->h.platform = 10;
    assert_int_equal(harness_stage(&w->h, &img, 1024), AL_ERR_WRONG_PLATFORM);
    harness_image_free(&img);

    /* Unknown key: the device trusts another key than the one that signed. */
    img = make_app(&w->h, "1.4.0", 9, 2000, NULL);
    w->h.trusted.id[0] ^= 1;
    assert_int_equal(harness_stage(&w->h, &img, 1024), AL_ERR_UNKNOWN_KEY);
    w->h.trusted.id[0] ^= 1;

    /* Payload corrupted in flight. */
    img.bytes[img.len - 1] ^= 0x80;
    assert_int_equal(harness_stage(&w->h, &img, 1024), AL_ERR_HASH_MISMATCH);
    img.bytes[img.len - 1] ^= 0x80;
    /* Header corrupted in flight. */
    img.bytes[44] ^= 1; /* security counter */
    assert_int_equal(harness_stage(&w->h, &img, 1024), AL_ERR_BAD_SIGNATURE);
    img.bytes[44] ^= 1;
    harness_image_free(&img);

    /* Too large for its slot. */
    img = make_app(&w->h, "1.5.0", 9, 128 * 1024, NULL);
    assert_int_equal(harness_stage(&w->h, &img, 4096), AL_ERR_TOO_LARGE);
    harness_image_free(&img);

    /* No slot for it on this board; linked for another address than its slot's. */
    img = make_app(&w->h, "1.5.0", 9, 1000, NULL);
    struct al_image_header t = img.hdr;
    t.index = 7;
    assert_int_equal(stage_resigned(w, &t, img.bytes + img.hdr.header_size), AL_ERR_NO_SLOT);
    t = img.hdr;
    t.link_address += 0x1000;
    assert_int_equal(stage_resigned(w, &t, img.bytes + img.hdr.header_size), AL_ERR_LINK_ADDRESS);
    harness_image_free(&img);

    /* Nothing was installed by any of this. */
    struct al_boot_info info = reboot(w, AL_RESET_POWER_ON);
    assert_false(info.installed);
    assert_int_equal(info.state, AL_BOOT_CONFIRMED);
}

static void test_busy_while_on_trial(void **state)
{
    struct world *w = *state;
    struct test_image a = make_app(&w->h, "1.1.0", 0, 3000, NULL);
    struct test_image b = make_app(&w->h, "1.2.0", 0, 3000, NULL);
    assert_int_equal(harness_stage(&w->h, &a, 1024), AL_OK);
    assert_int_equal(harness_stage(&w->h, &b, 1024), AL_ERR_BUSY); /* staging holds a */
    reboot(w, AL_RESET_SOFTWARE);
    assert_int_equal(harness_stage(&w->h, &b, 1024), AL_ERR_BUSY); /* a is on trial */
    assert_int_equal(al_confirm(&w->h.dev), AL_OK);
    assert_int_equal(harness_stage(&w->h, &b, 1024), AL_OK);
    harness_image_free(&a);
    harness_image_free(&b);
}

static void test_journal_survives_many_records(void **state)
{
    struct world *w = *state;
    struct al_download d;
    memset(&d, 0, sizeof d); /* padding too: the whole struct is compared below */
    d.plan_id = 42;
    d.step = 1;
    d.result = AL_RESULT_INTEGRITY_FAILURE;
    d.err = AL_ERR_PATCH_CORRUPT;
    d.out_offset = 4096;
    d.sha256[0] = 1;
    /* Journal A holds 64 records, B 256: 700 records wrap both areas more than once. */
    for (uint32_t i = 0; i < 700; i++) {
        d.offset = i * 1024;
        d.written = i * 2048;
        assert_int_equal(al_save_download(&w->h.dev, &d), AL_OK);
    }
    uint32_t seq = w->h.dev.state.seq;
    reboot(w, AL_RESET_POWER_ON);
    assert_int_equal(w->h.dev.state.seq, seq);
    assert_memory_equal(&w->h.dev.state.dl, &d, sizeof d);
}

static void test_corrupt_staging_is_not_installed(void **state)
{
    struct world *w = *state;
    struct test_image app2 = make_app(&w->h, "1.1.0", 0, 3000, NULL);
    assert_int_equal(harness_stage(&w->h, &app2, 1024), AL_OK);
    /* Flash decay in staging between the request and the reset. */
    const struct al_region *staging = al_layout_find(&w->h.board.layout, AL_REGION_STAGING);
    uint8_t zero[4] = {0};
    assert_int_equal(staging->flash->program(staging->flash->ctx, staging->addr + 1000, zero, 4), AL_OK);
    struct al_boot_info info = reboot(w, AL_RESET_SOFTWARE);
    assert_false(info.installed);
    assert_int_equal(w->h.dev.state.last_result, AL_RESULT_INTEGRITY_FAILURE);
    assert_runs(w, AL_FN_APPLICATION, 1, &w->app);
    harness_image_free(&app2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_application_update_confirmed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unconfirmed_image_reverts_with_reason, setup, teardown),
        cmocka_unit_test_setup_teardown(test_system_parts_install_in_dependency_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_application_with_unmet_dependency_boots_safe_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals_have_their_own_codes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_while_on_trial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_journal_survives_many_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_staging_is_not_installed, setup, teardown),
    };
    return cmocka_run_group_tests_name("install", tests, NULL, NULL);
}
