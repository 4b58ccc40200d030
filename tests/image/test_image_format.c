/*
 * test_image_format.c - versions, the image parser's every error, verification, one flipped
 * byte anywhere, and dependency checks, on real Electron firmware.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "airlift/image.h"
#include "airlift_host/image_build.h"
#include "al_host_crypto.h"

static struct al_version V(const char *s)
{
    struct al_version v;
    assert_int_equal(al_version_parse(s, strlen(s), &v), AL_OK);
    return v;
}

static void test_version_round_trip(void **state)
{
    (void)state;
    const char *ok[] = {"0.7.0-rc.6", "1.0.0", "0.0.0", "4294967295.4294967295.4294967295",
                        "1.2.3-alpha.1.beta", "2.0.0-x-y-z.0", "1.0.0-0123abc"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char buf[AL_VERSION_STR_MAX];
        uint8_t wire[AL_VERSION_WIRE_SIZE];
        struct al_version v = V(ok[i]), back;
        assert_int_equal(al_version_format(&v, buf, sizeof buf), strlen(ok[i]));
        assert_string_equal(buf, ok[i]);
        al_version_encode(&v, wire);
        assert_int_equal(al_version_decode(wire, &back), AL_OK);
        assert_int_equal(al_version_compare(&v, &back), 0);
        assert_string_equal(back.pre, v.pre);
    }
    char tiny[4];
    struct al_version v = V("10.20.30");
    assert_int_equal(al_version_format(&v, tiny, sizeof tiny), 0);
}

static void test_version_rejects(void **state)
{
    (void)state;
    const char *bad[] = {"", "1", "1.2", "1.2.3.4", "01.2.3", "1.02.3", "1.2.03", "1.2.3-",
                         "1.2.3-rc..1", "1.2.3-rc.01", "1.2.3+build", "1.2.3-rc+b", "v1.2.3",
                         "1.2.3 ", "4294967296.0.0", "1.2.3-abcdefghijklmnopq", "1.2.3-a_b", "-1.2.3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct al_version v;
        if (al_version_parse(bad[i], strlen(bad[i]), &v) != AL_ERR_BAD_VERSION)
            fail_msg("'%s' was accepted", bad[i]);
    }
    /* Wire form: bytes after the tag's end must be zero. */
    uint8_t wire[AL_VERSION_WIRE_SIZE] = {0};
    struct al_version v;
    wire[12] = 'r';
    wire[14] = 'c';
    assert_int_equal(al_version_decode(wire, &v), AL_ERR_BAD_VERSION);
}

static void test_version_precedence(void **state)
{
    (void)state;
    const char *chain[] = {"0.6.4", "0.7.0-rc.1", "0.7.0-rc.6", "0.7.0-rc.10", "0.7.0",
                           "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
                           "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1",
                           "1.1.0", "2.0.0", "10.0.0"};
    size_t n = sizeof chain / sizeof chain[0];
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            struct al_version a = V(chain[i]), b = V(chain[j]);
            int c = al_version_compare(&a, &b);
            int want = i < j ? -1 : i > j;
            if ((c < 0 ? -1 : c > 0) != want)
                fail_msg("compare(%s, %s) = %d", chain[i], chain[j], c);
        }
    }
}

/* --- images --- */

struct fixture {
    alh_key *key;
    struct al_key trusted;
    struct al_keyring ring;
    struct al_verify_params params;
    uint8_t *payload;
    size_t payload_len;
    uint8_t *img;
    size_t len;
};

static uint8_t *read_firmware(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/electron/%s", AIRLIFT_FIRMWARE_DIR, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    uint8_t *buf = malloc(*len);
    assert_int_equal(fread(buf, 1, *len, f), *len);
    fclose(f);
    return buf;
}

static struct al_image_header template(void)
{
    struct al_image_header t;
    memset(&t, 0, sizeof t);
    t.function = AL_FN_SYSTEM;
    t.index = 3;
    t.platform = 10;
    t.version = V("0.7.0-rc.6");
    t.security_counter = 7;
    t.link_address = 0x08060000;
    t.dep_count = 2;
    t.deps[0] = (struct al_dependency){AL_FN_SYSTEM, 2, V("0.6.4")};
    t.deps[1] = (struct al_dependency){AL_FN_BOOTLOADER, 0, V("101.0.0")};
    return t;
}

static void build(struct fixture *fx, const struct al_image_header *t)
{
    char err[256];
    free(fx->img);
    fx->img = NULL;
    assert_int_equal(alh_image_build(t, fx->payload, fx->payload_len, fx->key, &fx->img, &fx->len,
                                     err, sizeof err), 0);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    char err[256];
    assert_int_equal(alh_key_generate(&fx->key, err, sizeof err), 0);
    assert_int_equal(alh_key_public_point(fx->key, fx->trusted.pub), 0);
    alh_key_id(fx->trusted.pub, fx->trusted.id);
    fx->ring = (struct al_keyring){&fx->trusted, 1};
    fx->params = (struct al_verify_params){al_host_crypto(), &fx->ring, 10};
    fx->payload = read_firmware("system-part1-0.7.0.bin", &fx->payload_len);
    struct al_image_header t = template();
    build(fx, &t);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    alh_key_free(fx->key);
    free(fx->payload);
    free(fx->img);
    free(fx);
    return 0;
}

static al_err verify(struct fixture *fx, const uint8_t *img, size_t len)
{
    struct al_image_header h;
    return al_image_verify_buffer(&fx->params, img, len, &h);
}

static void test_built_image_verifies_and_round_trips(void **state)
{
    struct fixture *fx = *state;
    struct al_image_header h, t = template();
    assert_int_equal(al_image_verify_buffer(&fx->params, fx->img, fx->len, &h), AL_OK);
    assert_int_equal(h.header_size, 128 + 2 * 32 + 64);
    assert_int_equal(fx->len, h.header_size + fx->payload_len);
    assert_int_equal(h.function, AL_FN_SYSTEM);
    assert_int_equal(h.index, 3);
    assert_int_equal(h.platform, 10);
    assert_int_equal(h.security_counter, 7);
    assert_int_equal(h.link_address, 0x08060000);
    assert_int_equal(h.payload_size, fx->payload_len);
    assert_int_equal(al_version_compare(&h.version, &t.version), 0);
    assert_string_equal(h.version.pre, "rc.6");
    assert_int_equal(h.dep_count, 2);
    assert_int_equal(h.deps[1].function, AL_FN_BOOTLOADER);
    assert_int_equal(h.deps[1].min_version.major, 101);
    /* Encoding the parsed header gives back the same bytes, signature included. */
    uint8_t again[AL_IMAGE_MAX_HEADER];
    size_t n;
    assert_int_equal(al_image_encode_header(&h, again, sizeof again, &n), AL_OK);
    assert_int_equal(n, h.header_size);
    assert_memory_equal(again, fx->img, n);
}

/* Corrupt a copy of the image at off with value v (or set a LE u16/u32), expect code. */
static void expect_byte(struct fixture *fx, size_t off, uint8_t v, al_err want)
{
    uint8_t *copy = malloc(fx->len);
    memcpy(copy, fx->img, fx->len);
    copy[off] = v;
    al_err got = verify(fx, copy, fx->len);
    if (got != want)
        fail_msg("byte %zu = 0x%02x: got %s, want %s", off, v, al_err_name(got), al_err_name(want));
    free(copy);
}

static void test_every_parser_error(void **state)
{
    struct fixture *fx = *state;
    struct al_image_header h;
    /* Truncated at every interesting length. */
    assert_int_equal(verify(fx, fx->img, 0), AL_ERR_TRUNCATED);
    assert_int_equal(verify(fx, fx->img, 7), AL_ERR_TRUNCATED);
    assert_int_equal(verify(fx, fx->img, 127), AL_ERR_TRUNCATED);
    assert_int_equal(verify(fx, fx->img, 255), AL_ERR_TRUNCATED);
    assert_int_equal(verify(fx, fx->img, fx->len - 1), AL_ERR_SIZE_MISMATCH);
    expect_byte(fx, 0, 'X', AL_ERR_BAD_MAGIC);
    expect_byte(fx, 3, 'm', AL_ERR_BAD_MAGIC);
    expect_byte(fx, 4, 2, AL_ERR_FORMAT_VERSION);
    expect_byte(fx, 5, 1, AL_ERR_FORMAT_VERSION);
    expect_byte(fx, 6, 1, AL_ERR_HEADER_SIZE);
    expect_byte(fx, 96, 9, AL_ERR_TOO_MANY_DEPS);
    expect_byte(fx, 96, 3, AL_ERR_HEADER_SIZE);
    expect_byte(fx, 12, 1, AL_ERR_RESERVED);  /* flags */
    expect_byte(fx, 100, 1, AL_ERR_RESERVED); /* reserved tail */
    expect_byte(fx, 8, 0, AL_ERR_BAD_FUNCTION);
    expect_byte(fx, 8, 5, AL_ERR_BAD_FUNCTION);
    expect_byte(fx, 9, 16, AL_ERR_BAD_FUNCTION);
    expect_byte(fx, 28, '!', AL_ERR_BAD_VERSION);     /* pre-release "rc.6" -> "!c.6" */
    expect_byte(fx, 128, 9, AL_ERR_BAD_DEPENDENCY);   /* dependency function */
    expect_byte(fx, 130, 1, AL_ERR_BAD_DEPENDENCY);   /* dependency reserved */
    expect_byte(fx, 132 + 12, '.', AL_ERR_BAD_DEPENDENCY); /* dependency version */
    expect_byte(fx, 10, 6, AL_ERR_BAD_SIGNATURE);     /* platform: signed, so tampering shows */
    expect_byte(fx, 44, 8, AL_ERR_BAD_SIGNATURE);     /* security counter */
    expect_byte(fx, 88, (uint8_t)~fx->img[88], AL_ERR_UNKNOWN_KEY);
    expect_byte(fx, 192 + 5, (uint8_t)~fx->img[197], AL_ERR_BAD_SIGNATURE); /* signature */
    expect_byte(fx, fx->len - 1, (uint8_t)~fx->img[fx->len - 1], AL_ERR_HASH_MISMATCH);
    /* Payload size 0 and larger than any module. */
    uint8_t *copy = malloc(fx->len);
    memcpy(copy, fx->img, fx->len);
    memset(copy + 52, 0, 4);
    assert_int_equal(al_image_parse_header(copy, fx->len, &h), AL_ERR_SIZE_MISMATCH);
    copy[55] = 0x7f;
    assert_int_equal(al_image_parse_header(copy, fx->len, &h), AL_ERR_TOO_LARGE);
    free(copy);
    /* A genuine image for another platform says so. */
    fx->params.platform = 6;
    assert_int_equal(verify(fx, fx->img, fx->len), AL_ERR_WRONG_PLATFORM);
    fx->params.platform = 10;
    /* A key the device does not have. */
    fx->ring.count = 0;
    assert_int_equal(verify(fx, fx->img, fx->len), AL_ERR_UNKNOWN_KEY);
    fx->ring.count = 1;
    /* One byte too many. */
    uint8_t *longer = malloc(fx->len + 1);
    memcpy(longer, fx->img, fx->len);
    longer[fx->len] = 0;
    assert_int_equal(verify(fx, longer, fx->len + 1), AL_ERR_SIZE_MISMATCH);
    free(longer);
}

/*
 * Every header byte, and a stride of payload bytes, flipped one at a time: the image must
 * fail, and with a code that fits the field the byte belongs to.
 */
static bool allowed(size_t off, size_t header_size, al_err got)
{
    if (off >= header_size)
        return got == AL_ERR_HASH_MISMATCH;
    if (off < 4)
        return got == AL_ERR_BAD_MAGIC;
    if (off < 6)
        return got == AL_ERR_FORMAT_VERSION;
    if (off < 8)
        return got == AL_ERR_HEADER_SIZE;
    if (off == 96)
        return got == AL_ERR_HEADER_SIZE || got == AL_ERR_TOO_MANY_DEPS;
    if (off >= 88 && off < 96)
        return got == AL_ERR_UNKNOWN_KEY;
    if ((off >= 12 && off < 16) || (off >= 97 && off < 128))
        return got == AL_ERR_RESERVED;
    /* Any other signed field: structurally invalid values have their own code, anything
     * else is caught by the signature. */
    return got == AL_ERR_BAD_SIGNATURE || got == AL_ERR_BAD_FUNCTION || got == AL_ERR_BAD_VERSION ||
           got == AL_ERR_BAD_DEPENDENCY || got == AL_ERR_TOO_LARGE || got == AL_ERR_SIZE_MISMATCH;
}

static void test_one_byte_changed_anywhere_fails(void **state)
{
    struct fixture *fx = *state;
    struct al_image_header h;
    assert_int_equal(al_image_parse_header(fx->img, fx->len, &h), AL_OK);
    uint8_t *copy = malloc(fx->len);
    memcpy(copy, fx->img, fx->len);
    size_t tried = 0;
    for (size_t off = 0; off < fx->len; off += off < h.header_size ? 1 : 97) {
        for (int bit = 0; bit < 8; bit += off < h.header_size ? 3 : 8) {
            copy[off] ^= (uint8_t)(1u << bit);
            al_err got = verify(fx, copy, fx->len);
            if (got == AL_OK || !allowed(off, h.header_size, got))
                fail_msg("flipping bit %d of byte %zu gave %s", bit, off, al_err_name(got));
            copy[off] ^= (uint8_t)(1u << bit);
            tried++;
        }
    }
    copy[fx->len - 1] ^= 1; /* the very last byte */
    assert_int_equal(verify(fx, copy, fx->len), AL_ERR_HASH_MISMATCH);
    assert_int_equal(verify(fx, fx->img, fx->len), AL_OK);
    assert_true(tried > 1000);
    free(copy);
}

static void test_dependency_met(void **state)
{
    (void)state;
    struct al_dependency d = {AL_FN_SYSTEM, 2, V("0.7.0")};
    struct al_version v064 = V("0.6.4"), v070rc = V("0.7.0-rc.6"), v070 = V("0.7.0"), v150 = V("1.5.0");
    assert_false(al_dependency_met(&d, AL_FN_SYSTEM, 2, &v064));
    assert_false(al_dependency_met(&d, AL_FN_SYSTEM, 2, &v070rc)); /* a pre-release is older */
    assert_true(al_dependency_met(&d, AL_FN_SYSTEM, 2, &v070));
    assert_true(al_dependency_met(&d, AL_FN_SYSTEM, 2, &v150));
    assert_false(al_dependency_met(&d, AL_FN_SYSTEM, 1, &v150));      /* other index */
    assert_false(al_dependency_met(&d, AL_FN_APPLICATION, 2, &v150)); /* other function */
    struct al_dependency bl = {AL_FN_BOOTLOADER, 0, V("101.0.0")};
    struct al_version b1006 = V("1006.0.0"), b100 = V("100.0.0");
    assert_true(al_dependency_met(&bl, AL_FN_BOOTLOADER, 0, &b1006));
    assert_false(al_dependency_met(&bl, AL_FN_BOOTLOADER, 0, &b100));
}

static void test_every_real_module_wraps_and_verifies(void **state)
{
    struct fixture *fx = *state;
    const char *files[] = {"bootloader-2.2.0.bin", "system-part1-0.6.4.bin", "system-part2-1.5.2.bin",
                           "system-part3-2.0.1.bin", "system-part3-2.3.1.bin"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        free(fx->payload);
        fx->payload = read_firmware(files[i], &fx->payload_len);
        struct al_image_header t = template();
        build(fx, &t);
        assert_int_equal(verify(fx, fx->img, fx->len), AL_OK);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_round_trip),
        cmocka_unit_test(test_version_rejects),
        cmocka_unit_test(test_version_precedence),
        cmocka_unit_test(test_dependency_met),
        cmocka_unit_test_setup_teardown(test_built_image_verifies_and_round_trips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_parser_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_byte_changed_anywhere_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_real_module_wraps_and_verifies, setup, teardown),
    };
    return cmocka_run_group_tests_name("image", tests, NULL, NULL);
}
