/*
 * test_suggest.c - the "did you mean" helper (airlift_common/suggest.h) and the time parser
 * of the events filters (airlift_common/timeparse.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "airlift_common/suggest.h"
#include "airlift_common/timeparse.h"

static void test_distance(void **state)
{
    (void)state;
    assert_int_equal(alc_edit_distance("", ""), 0);
    assert_int_equal(alc_edit_distance("abc", ""), 3);
    assert_int_equal(alc_edit_distance("", "abc"), 3);
    assert_int_equal(alc_edit_distance("tracker", "tracker"), 0);
    assert_int_equal(alc_edit_distance("trakcer", "tracker"), 1); /* a swap */
    assert_int_equal(alc_edit_distance("truk-1", "truck-1"), 1);  /* an insertion */
    assert_int_equal(alc_edit_distance("truck-11", "truck-1"), 1); /* a deletion */
    assert_int_equal(alc_edit_distance("feild", "field"), 1);
    assert_int_equal(alc_edit_distance("kitten", "sitting"), 3);
    assert_int_equal(alc_edit_distance("ca", "abc"), 3); /* optimal string alignment */
    assert_int_equal(alc_edit_distance("Tracker", "tracker"), 1);
    char long_name[ALC_SUGGEST_LEN_MAX + 2];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    assert_int_equal(alc_edit_distance(long_name, "a"), (size_t)-1);
    long_name[ALC_SUGGEST_LEN_MAX] = '\0';
    assert_int_equal(alc_edit_distance(long_name, long_name), 0);
}

static void test_suggest(void **state)
{
    static const char *const products[] = {"tracker", "meter", "tractor"};
    static const char *const devices[] = {"truck-1", "truck-2", "van-1"};
    static const char *const commands[] = {"devices", "events", "release", "releases"};
    (void)state;
    assert_string_equal(alc_suggest("trakcer", products, 3), "tracker");
    assert_string_equal(alc_suggest("metre", products, 3), "meter");
    assert_null(alc_suggest("lamp", products, 3));          /* nothing close */
    assert_null(alc_suggest("tracker", products, 1));       /* itself is no suggestion */
    assert_string_equal(alc_suggest("tracker", products, 3), "tractor");
    assert_string_equal(alc_suggest("truk-1", devices, 3), "truck-1"); /* first of a tie */
    assert_string_equal(alc_suggest("van1", devices, 3), "van-1");
    assert_null(alc_suggest("x", devices, 3));
    assert_string_equal(alc_suggest("devcies", commands, 4), "devices");
    assert_string_equal(alc_suggest("relase", commands, 4), "release");
    assert_null(alc_suggest("anything", commands, 0));
    assert_int_equal(alc_suggest_max_distance(1), 1);
    assert_int_equal(alc_suggest_max_distance(5), 2);
    assert_int_equal(alc_suggest_max_distance(9), 3);

    struct alc_suggest s;
    alc_suggest_init(&s, "feild");
    alc_suggest_offer(&s, "lab");
    alc_suggest_offer(&s, NULL);
    alc_suggest_offer(&s, "fields");
    alc_suggest_offer(&s, "field"); /* closer than "fields" */
    assert_string_equal(s.best, "field");
    assert_int_equal(s.best_distance, 1);
}

static void test_time(void **state)
{
    const int64_t now = 1764547200000LL; /* 2025-12-01T00:00:00Z */
    int64_t t = -1;
    (void)state;
    assert_true(alc_parse_time("1970-01-01T00:00:00Z", now, &t));
    assert_int_equal(t, 0);
    assert_true(alc_parse_time("2025-12-01T00:00:00Z", now, &t));
    assert_int_equal(t, now);
    assert_true(alc_parse_time("2025-12-01", now, &t));
    assert_int_equal(t, now);
    assert_true(alc_parse_time("2025-12-01T01:30:00.25+01:30", now, &t));
    assert_int_equal(t, now + 250);
    assert_true(alc_parse_time("2025-11-30t19:00:00.123456789-05:00", now, &t));
    assert_int_equal(t, now + 123);
    assert_true(alc_parse_time("2024-02-29T12:00:00Z", now, &t)); /* a leap day */
    assert_true(alc_parse_time("2h", now, &t));
    assert_int_equal(t, now - 2 * 3600 * 1000LL);
    assert_true(alc_parse_time("90s", now, &t));
    assert_int_equal(t, now - 90000);
    assert_true(alc_parse_time("15m", now, &t));
    assert_int_equal(t, now - 15 * 60000);
    assert_true(alc_parse_time("7d", now, &t));
    assert_int_equal(t, now - 7 * 86400000LL);
    assert_true(alc_parse_time("1w", now, &t));
    assert_int_equal(t, now - 7 * 86400000LL);
    t = 42;
    static const char *const bad[] = {
        "", "2h ago", "h", "2", "2y", "-2h", "1234567890s", "2025-13-01", "2025-02-29",
        "2025-12-01T24:00:00Z", "2025-12-01T00:00:00", "2025-12-01T00:00Z",
        "2025-12-01T00:00:00.Z", "2025-12-01 00:00:00Z", "1969-12-31T23:59:59Z",
        "2025-12-01T00:00:00+1:00", "2025-12-1", "yesterday",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (alc_parse_time(bad[i], now, &t))
            fail_msg("'%s' was accepted", bad[i]);
    }
    assert_int_equal(t, 42); /* untouched */
    assert_int_equal(alc_days_from_civil(2000, 3, 1), 11017);
}

static void test_month(void **state)
{
    (void)state;
    assert_true(alc_month_valid("2026-12"));
    assert_true(alc_month_valid("1970-01"));
    assert_true(alc_month_valid("9999-12"));
    assert_false(alc_month_valid("2026-13"));
    assert_false(alc_month_valid("2026-00"));
    assert_false(alc_month_valid("1969-12"));
    assert_false(alc_month_valid("2026-1"));
    assert_false(alc_month_valid("2026/12"));
    assert_false(alc_month_valid("2026-12-01"));
    assert_false(alc_month_valid(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_distance),
        cmocka_unit_test(test_suggest),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_month),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
