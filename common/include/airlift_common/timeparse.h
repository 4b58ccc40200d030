/*
 * airlift_common/timeparse.h - times typed by people and sent in API queries (events
 * since/until): an RFC 3339 time or a time relative to now. Milliseconds since the Unix
 * epoch, UTC, like the rest of airlift.
 */
#ifndef AIRLIFT_COMMON_TIMEPARSE_H
#define AIRLIFT_COMMON_TIMEPARSE_H

#include <stdbool.h>
#include <stdint.h>

/*
 * s is one of
 *  - an RFC 3339 time: "2026-11-24T21:31:58Z", with optional fraction of a second (1..9
 *    digits, kept to the millisecond) and "Z" or an offset "+01:00" / "-05:30" ('t' and
 *    'z' in lower case too);
 *  - a date alone, "2026-11-24": its midnight UTC;
 *  - a duration before now_ms: digits (1..9 of them) and a unit, s, m, h, d or w
 *    ("90s", "15m", "2h", "7d", "1w").
 * true with *out_ms set, false for anything else (a field out of range, a day the month
 * does not have, a time before 1970 or after 9999).
 */
bool alc_parse_time(const char *s, int64_t now_ms, int64_t *out_ms);

/* Is s a calendar month "YYYY-MM", 1970-01 .. 9999-12? */
bool alc_month_valid(const char *s);

/* Days since 1970-01-01 of a proleptic Gregorian date (no range check). */
int64_t alc_days_from_civil(int64_t year, unsigned month, unsigned day);

#endif
