/*
 * test_common.c - hex, names, the platform table, integer parsing and the bounded buffer
 * of airlift_common.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "airlift_common/buf.h"
#include "airlift_common/hex.h"
#include "airlift_common/name.h"
#include "airlift_common/parse.h"
#include "airlift_common/platform.h"

static void test_hex_round_trip(void **state)
{
    const uint8_t in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char text[2 * sizeof in + 1];
    uint8_t back[sizeof in];
    (void)state;

    alc_hex_encode(in, sizeof in, text);
    assert_string_equal(text, "00017f80abff");
    assert_true(alc_hex_decode(text, back, sizeof back));
    assert_memory_equal(in, back, sizeof in);
    assert_true(alc_hex_decode("00017F80ABFF", back, sizeof back)); /* either case */
    assert_memory_equal(in, back, sizeof in);
    alc_hex_encode(in, 0, text);
    assert_string_equal(text, "");
}

static void test_hex_decode_rejects(void **state)
{
    uint8_t out[2];
    (void)state;
    assert_false(alc_hex_decode("abc", out, 2));    /* short */
    assert_false(alc_hex_decode("abcdef", out, 2)); /* long */
    assert_false(alc_hex_decode("ab c", out, 2));
    assert_false(alc_hex_decode("abcg", out, 2));
    assert_false(alc_hex_decode("+abc", out, 2));
    assert_false(alc_hex_decode("", out, 1));
    assert_true(alc_hex_decode("", out, 0));
    assert_false(alc_hex_decode("ab\n", out, 1));
}

static void test_hex_predicates(void **state)
{
    (void)state;
    assert_true(alc_is_lower_hex("0123456789abcdef", 16));
    assert_false(alc_is_lower_hex("0123456789ABCDEF", 16));
    assert_false(alc_is_lower_hex("0123456789abcdef0", 16)); /* longer */
    assert_false(alc_is_lower_hex("0123456789abcde", 16));   /* shorter */
    assert_true(alc_is_hex("0123456789ABCDEF", 16));
    assert_false(alc_is_hex("0123456789ABCDEG", 16));
}

static void test_names(void **state)
{
    char longest[ALC_NAME_MAX + 2];
    (void)state;
    assert_true(alc_name_valid("a"));
    assert_true(alc_name_valid("electron-01"));
    assert_true(alc_name_valid("0.7.0_rc-1"));
    assert_false(alc_name_valid(""));
    assert_false(alc_name_valid("-a"));
    assert_false(alc_name_valid(".hidden"));
    assert_false(alc_name_valid("_a"));
    assert_false(alc_name_valid("a b"));
    assert_false(alc_name_valid("a/b"));
    assert_false(alc_name_valid("a%2f"));
    assert_false(alc_name_valid("caf\xc3\xa9"));
    memset(longest, 'x', ALC_NAME_MAX);
    longest[ALC_NAME_MAX] = '\0';
    assert_true(alc_name_valid(longest));
    longest[ALC_NAME_MAX] = 'x';
    longest[ALC_NAME_MAX + 1] = '\0';
    assert_false(alc_name_valid(longest));
}

static void test_platforms(void **state)
{
    size_t n;
    const struct alc_platform *t = alc_platforms(&n);
    static const char *const bad[] = {"65536", "-1", "Electron", "", "010", " 10", "0x0a"};
    uint16_t id;
    (void)state;

    assert_true(n > 0);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            assert_true(t[i - 1].id < t[i].id); /* id order, no id twice */
        assert_string_equal(alc_platform_name(t[i].id), t[i].name);
        assert_true(alc_platform_parse(t[i].name, &id));
        assert_int_equal(id, t[i].id);
        assert_true(alc_platform_by_name(t[i].name, &id));
        assert_int_equal(id, t[i].id);
    }
    assert_string_equal(alc_platform_name(ALC_PLATFORM_ELECTRON), "electron");
    assert_null(alc_platform_name(9999));
    assert_false(alc_platform_by_name("10", &id)); /* names only */
    assert_false(alc_platform_by_name("electron ", &id));
    assert_true(alc_platform_parse("10", &id));
    assert_int_equal(id, 10);
    assert_true(alc_platform_parse("65535", &id));
    assert_int_equal(id, 65535);
    assert_true(alc_platform_parse("0", &id));
    assert_int_equal(id, 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(alc_platform_parse(bad[i], &id));
}

static void test_parse_i64(void **state)
{
    int64_t v = 7;
    (void)state;
    assert_true(alc_parse_i64("0", 0, 10, &v));
    assert_int_equal(v, 0);
    assert_true(alc_parse_i64("-42", -100, 100, &v));
    assert_int_equal(v, -42);
    assert_true(alc_parse_i64("9223372036854775807", INT64_MIN, INT64_MAX, &v));
    assert_true(v == INT64_MAX);
    assert_true(alc_parse_i64("-9223372036854775808", INT64_MIN, INT64_MAX, &v));
    assert_true(v == INT64_MIN);
    v = 7;
    assert_false(alc_parse_i64("9223372036854775808", INT64_MIN, INT64_MAX, &v));
    assert_false(alc_parse_i64("-9223372036854775809", INT64_MIN, INT64_MAX, &v));
    assert_false(alc_parse_i64("99999999999999999999999", INT64_MIN, INT64_MAX, &v));
    assert_false(alc_parse_i64("11", 0, 10, &v));
    assert_false(alc_parse_i64("-1", 0, 10, &v));
    assert_false(alc_parse_i64("", 0, 10, &v));
    assert_false(alc_parse_i64("-", 0, 10, &v));
    assert_false(alc_parse_i64("-0", -10, 10, &v));
    assert_false(alc_parse_i64("+1", 0, 10, &v));
    assert_false(alc_parse_i64(" 1", 0, 10, &v));
    assert_false(alc_parse_i64("1 ", 0, 10, &v));
    assert_false(alc_parse_i64("01", 0, 10, &v));
    assert_false(alc_parse_i64("1e3", 0, 10000, &v));
    assert_false(alc_parse_i64("0x10", 0, 100, &v));
    assert_int_equal(v, 7); /* untouched by every failure */
}

static void test_parse_id(void **state)
{
    int64_t v = 0;
    (void)state;
    assert_true(alc_parse_id("1", false, &v));
    assert_int_equal(v, 1);
    assert_true(alc_parse_id("123456789012345678", false, &v));
    assert_true(v == 123456789012345678LL);
    assert_true(alc_parse_id("9223372036854775807", false, &v));
    assert_false(alc_parse_id("9223372036854775808", false, &v));
    assert_false(alc_parse_id("0", false, &v));
    assert_true(alc_parse_id("0", true, &v));
    assert_int_equal(v, 0);
    assert_false(alc_parse_id("00", true, &v));
    assert_false(alc_parse_id("07", true, &v));
    assert_false(alc_parse_id("-1", true, &v));
    assert_false(alc_parse_id("abc", true, &v));
    assert_false(alc_parse_id("", true, &v));
}

static void test_parse_u32(void **state)
{
    uint32_t v = 0;
    (void)state;
    assert_true(alc_parse_u32("4294967295", UINT32_MAX, &v));
    assert_true(v == UINT32_MAX);
    assert_false(alc_parse_u32("4294967296", UINT32_MAX, &v));
    assert_true(alc_parse_u32("0x08060000", UINT32_MAX, &v));
    assert_true(v == 0x08060000u);
    assert_true(alc_parse_u32("0XfF", 255, &v));
    assert_int_equal(v, 255);
    assert_false(alc_parse_u32("0x100", 255, &v));
    assert_false(alc_parse_u32("0x", UINT32_MAX, &v));
    assert_false(alc_parse_u32("0x123456789", UINT32_MAX, &v));
    assert_false(alc_parse_u32("0x-1", UINT32_MAX, &v));
    assert_false(alc_parse_u32("-1", UINT32_MAX, &v));
    assert_false(alc_parse_u32("12", 11, &v));
    assert_true(alc_parse_u32("0", 0, &v));
}

static void test_buf_append_and_cap(void **state)
{
    struct alc_buf b;
    size_t len;
    uint8_t *data;
    (void)state;

    alc_buf_init(&b, 10);
    assert_null(b.data);
    assert_int_equal(alc_buf_append(&b, "hello", 5), ALC_BUF_OK);
    assert_string_equal((char *)b.data, "hello");
    assert_int_equal(alc_buf_append(&b, "world!", 6), ALC_BUF_FULL); /* 11 > 10 */
    assert_int_equal(b.len, 5);                                      /* nothing appended */
    assert_string_equal((char *)b.data, "hello");
    assert_int_equal(alc_buf_append(&b, "world", 5), ALC_BUF_OK); /* exactly the cap */
    assert_int_equal(b.len, 10);
    assert_true(b.cap <= 11);
    assert_int_equal(alc_buf_append(&b, "x", 1), ALC_BUF_FULL);
    assert_int_equal(alc_buf_append(&b, NULL, 0), ALC_BUF_OK);
    alc_buf_consume(&b, 5);
    assert_string_equal((char *)b.data, "world");
    alc_buf_consume(&b, 99);
    assert_int_equal(b.len, 0);
    assert_string_equal((char *)b.data, "");
    assert_int_equal(alc_buf_printf(&b, "%d-%s", 42, "ab"), ALC_BUF_OK);
    assert_string_equal((char *)b.data, "42-ab");
    assert_int_equal(alc_buf_printf(&b, "%s", "too long"), ALC_BUF_FULL);
    assert_string_equal((char *)b.data, "42-ab");
    data = alc_buf_take(&b, &len);
    assert_int_equal(len, 5);
    assert_string_equal((char *)data, "42-ab");
    free(data);
    assert_null(b.data);
    assert_int_equal(b.max, 10);
    alc_buf_free(&b);
}

static void test_buf_grows(void **state)
{
    struct alc_buf b;
    uint8_t block[1000];
    (void)state;

    memset(block, 0x5a, sizeof block);
    alc_buf_init(&b, 1000 * 1000);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(alc_buf_append(&b, block, sizeof block), ALC_BUF_OK);
    assert_int_equal(b.len, 1000 * 1000);
    assert_int_equal(b.cap, 1000 * 1000 + 1); /* doubling stops at the cap */
    assert_int_equal(b.data[b.len], 0);
    assert_int_equal(alc_buf_append(&b, block, 1), ALC_BUF_FULL);
    alc_buf_clear(&b);
    assert_int_equal(b.len, 0);
    assert_int_equal(alc_buf_reserve(&b, 1000 * 1000), ALC_BUF_OK);
    assert_int_equal(alc_buf_reserve(&b, 1000 * 1000 + 1), ALC_BUF_FULL);
    alc_buf_free(&b);
    assert_null(b.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex_round_trip),   cmocka_unit_test(test_hex_decode_rejects),
        cmocka_unit_test(test_hex_predicates),   cmocka_unit_test(test_names),
        cmocka_unit_test(test_platforms),        cmocka_unit_test(test_parse_i64),
        cmocka_unit_test(test_parse_id),         cmocka_unit_test(test_parse_u32),
        cmocka_unit_test(test_buf_append_and_cap), cmocka_unit_test(test_buf_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
