/*
 * test_planner.c - the planner on the real Electron modules and their real dependencies:
 * every module in ../shared/firmware is imported (as `airlift image create` does) into the
 * server's catalog, and plans are checked for content and order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>

#include <openssl/sha.h>

#include "airlift_host/particle.h"
#include "planner.h"

static struct ald_image catalog_images[64];
static struct ald_catalog catalog = {catalog_images, 0};

static void load_catalog(void)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/electron", AIRLIFT_FIRMWARE_DIR);
    DIR *d = opendir(dir);
    struct dirent *e;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        char path[1024], err[256];
        if (!strstr(e->d_name, ".bin"))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        static uint8_t buf[256 * 1024];
        size_t len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        struct alh_particle_module m;
        struct alh_particle_import imp = {0};
        struct al_image_header h;
        memset(&h, 0, sizeof h);
        assert_true(alh_particle_find(buf, len, &m));
        assert_int_equal(alh_particle_to_header(&m, &imp, &h, err, sizeof err), ALH_PARTICLE_OK);
        SHA256(buf, len, h.payload_sha256);
        h.payload_size = (uint32_t)len;
        bool dup = false;
        for (size_t i = 0; i < catalog.count; i++)
            dup |= memcmp(catalog_images[i].hdr.payload_sha256, h.payload_sha256, 32) == 0;
        if (!dup)
            catalog_images[catalog.count++].hdr = h; /* bootloader 2.2.0 and 2.3.0 are one file */
    }
    closedir(d);
}

static int setup_group(void **state)
{
    (void)state;
    load_catalog();
    return catalog.count == 28 ? 0 : -1; /* 27 system parts + 1 bootloader */
}

static const struct ald_image *image(uint8_t function, uint8_t index, const char *version)
{
    struct al_version v;
    assert_int_equal(al_version_parse(version, strlen(version), &v), AL_OK);
    for (size_t i = 0; i < catalog.count; i++) {
        const struct al_image_header *h = &catalog_images[i].hdr;
        if (h->function == function && (function == AL_FN_BOOTLOADER || h->index == index) &&
            al_version_compare(&h->version, &v) == 0)
            return &catalog_images[i];
    }
    fail_msg("no %u/%u %s in the catalog", function, index, version);
    return NULL;
}

/* A device running Device OS `version` on all three system parts, and a bootloader. */
static size_t device_on(const char *version, const char *bootloader_version, struct al_module_status *out)
{
    size_t n = 0;
    memset(out, 0, sizeof *out * 4);
    out[n].function = AL_FN_BOOTLOADER;
    out[n].present = true;
    al_version_parse(bootloader_version, strlen(bootloader_version), &out[n].version);
    memset(out[n].payload_sha256, 0xb0, 32); /* a bootloader the server does not hold */
    n++;
    for (uint8_t idx = 1; idx <= 3; idx++, n++) {
        const struct ald_image *img = image(AL_FN_SYSTEM, idx, version);
        out[n].function = AL_FN_SYSTEM;
        out[n].index = idx;
        out[n].present = true;
        out[n].version = img->hdr.version;
        memcpy(out[n].payload_sha256, img->hdr.payload_sha256, 32);
    }
    return n;
}

static void assert_step(const struct ald_plan_result *r, size_t i, uint8_t function, uint8_t index,
                        const char *version)
{
    char v[AL_VERSION_STR_MAX];
    assert_true(i < r->step_count);
    al_version_format(&r->steps[i]->hdr.version, v, sizeof v);
    if (r->steps[i]->hdr.function != function ||
        (function != AL_FN_BOOTLOADER && r->steps[i]->hdr.index != index) || strcmp(v, version) != 0)
        fail_msg("step %zu is %s %u %s", i, al_function_name(r->steps[i]->hdr.function),
                 r->steps[i]->hdr.index, v);
}

static void test_seed_upgrade_brings_everything_in_order(void **state)
{
    (void)state;
    struct al_module_status running[4];
    struct ald_plan_result r;
    size_t n = device_on("0.6.4", "100.0.0", running);
    /* The user asks for system-part3 0.7.0 only (module system 2). */
    const struct ald_image *wanted[] = {image(AL_FN_SYSTEM, 2, "0.7.0")};
    ald_plan(10, running, n, wanted, 1, &catalog, &r);
    assert_int_equal(r.error, ALD_PLAN_OK);
    assert_int_equal(r.step_count, 4);
    assert_step(&r, 0, AL_FN_BOOTLOADER, 0, "1006.0.0"); /* needed: bootloader >= 101 */
    assert_step(&r, 1, AL_FN_SYSTEM, 3, "0.7.0");        /* system-part1 file */
    assert_step(&r, 2, AL_FN_SYSTEM, 1, "0.7.0");        /* system-part2 file */
    assert_step(&r, 3, AL_FN_SYSTEM, 2, "0.7.0");        /* system-part3 file */
}

static void test_what_runs_is_never_planned(void **state)
{
    (void)state;
    struct al_module_status running[4];
    struct ald_plan_result r;
    size_t n = device_on("2.3.1", "1006.0.0", running);
    const struct ald_image *wanted[] = {image(AL_FN_SYSTEM, 1, "2.3.1"), image(AL_FN_SYSTEM, 2, "2.3.1"),
                                        image(AL_FN_SYSTEM, 3, "2.3.1")};
    ald_plan(10, running, n, wanted, 3, &catalog, &r);
    assert_int_equal(r.error, ALD_PLAN_OK);
    assert_int_equal(r.step_count, 0);
}

static void test_application_pulls_in_system_parts(void **state)
{
    (void)state;
    struct al_module_status running[4];
    struct ald_plan_result r;
    size_t n = device_on("1.5.0", "1006.0.0", running);
    struct ald_image app = {0};
    app.hdr.function = AL_FN_APPLICATION;
    app.hdr.index = 1;
    app.hdr.platform = 10;
    al_version_parse("3.0.0", 5, &app.hdr.version);
    app.hdr.dep_count = 1;
    app.hdr.deps[0] = (struct al_dependency){AL_FN_SYSTEM, 2, {0}};
    al_version_parse("2.3.0", 5, &app.hdr.deps[0].min_version);
    memset(app.hdr.payload_sha256, 0xaa, 32);
    const struct ald_image *wanted[] = {&app};
    ald_plan(10, running, n, wanted, 1, &catalog, &r);
    assert_int_equal(r.error, ALD_PLAN_OK);
    /* system 2 2.3.0 needs system 1 >= 2.3.0, which needs system 3 >= 2.3.0. */
    assert_int_equal(r.step_count, 4);
    assert_step(&r, 0, AL_FN_SYSTEM, 3, "2.3.0");
    assert_step(&r, 1, AL_FN_SYSTEM, 1, "2.3.0");
    assert_step(&r, 2, AL_FN_SYSTEM, 2, "2.3.0");
    assert_int_equal(r.steps[3], &app);
}

static void test_unsatisfiable_plans_say_why(void **state)
{
    (void)state;
    struct al_module_status running[4];
    struct ald_plan_result r;
    size_t n = device_on("0.7.0", "1006.0.0", running);
    struct ald_image app = {0};
    app.hdr.function = AL_FN_APPLICATION;
    app.hdr.index = 1;
    app.hdr.platform = 10;
    al_version_parse("1.0.0", 5, &app.hdr.version);
    app.hdr.dep_count = 1;
    app.hdr.deps[0] = (struct al_dependency){AL_FN_SYSTEM, 1, {0}};
    al_version_parse("9.0.0", 5, &app.hdr.deps[0].min_version);
    const struct ald_image *wanted[] = {&app};
    ald_plan(10, running, n, wanted, 1, &catalog, &r);
    assert_int_equal(r.error, ALD_PLAN_MISSING_DEPENDENCY);
    assert_string_equal(r.why, "application 1 1.0.0 needs system 1 >= 9.0.0; no such image is held");

    app.hdr.platform = 6;
    ald_plan(10, running, n, wanted, 1, &catalog, &r);
    assert_int_equal(r.error, ALD_PLAN_WRONG_PLATFORM);

    /* Downgrading system 1 alone would break system 2 0.7.0 (needs system 1 >= 0.7.0). */
    const struct ald_image *down[] = {image(AL_FN_SYSTEM, 1, "0.6.4")};
    ald_plan(10, running, n, down, 1, &catalog, &r);
    assert_int_equal(r.error, ALD_PLAN_NO_ORDER);
    assert_int_equal(r.step_count, 0);

    const struct ald_image *twice[] = {image(AL_FN_SYSTEM, 1, "2.3.0"), image(AL_FN_SYSTEM, 1, "2.3.1")};
    ald_plan(10, running, n, twice, 2, &catalog, &r);
    assert_int_equal(r.error, ALD_PLAN_CONFLICT);
}

/* A device that never reported: the wanted images themselves, bootloader and system parts
 * first, though with no inventory no order could be proven (a rollout's device must not
 * fail for not having checked in yet). */
static void test_unreported_device_gets_the_wanted_images(void **state)
{
    (void)state;
    struct ald_plan_result r;
    const struct ald_image *wanted[] = {image(AL_FN_SYSTEM, 3, "0.7.0"), image(AL_FN_SYSTEM, 1, "0.7.0"),
                                        image(AL_FN_BOOTLOADER, 0, "1006.0.0"), image(AL_FN_SYSTEM, 2, "0.7.0")};
    ald_plan(10, NULL, 0, wanted, 4, &catalog, &r);
    assert_int_not_equal(r.error, ALD_PLAN_OK); /* the full planner cannot order them */
    ald_plan_unreported(10, wanted, 4, &r);
    assert_int_equal(r.error, ALD_PLAN_OK);
    assert_int_equal(r.step_count, 4);
    assert_step(&r, 0, AL_FN_BOOTLOADER, 0, "1006.0.0");
    assert_step(&r, 1, AL_FN_SYSTEM, 1, "0.7.0");
    assert_step(&r, 2, AL_FN_SYSTEM, 2, "0.7.0");
    assert_step(&r, 3, AL_FN_SYSTEM, 3, "0.7.0");

    const struct ald_image *twice[] = {image(AL_FN_SYSTEM, 1, "2.3.0"), image(AL_FN_SYSTEM, 1, "2.3.1")};
    ald_plan_unreported(10, twice, 2, &r);
    assert_int_equal(r.error, ALD_PLAN_CONFLICT);
    assert_int_equal(r.step_count, 0);
    ald_plan_unreported(6, twice, 1, &r);
    assert_int_equal(r.error, ALD_PLAN_WRONG_PLATFORM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_upgrade_brings_everything_in_order),
        cmocka_unit_test(test_what_runs_is_never_planned),
        cmocka_unit_test(test_application_pulls_in_system_parts),
        cmocka_unit_test(test_unsatisfiable_plans_say_why),
        cmocka_unit_test(test_unreported_device_gets_the_wanted_images),
    };
    return cmocka_run_group_tests_name("planner", tests, setup_group, NULL);
}
