/*
 * airlift_common/parse.h - strict integer parsing for text from users and the network:
 * decimal digits only, no spaces, no '+', no leading zeros, range checked, and no errno or
 * locale involved (unlike strtol).
 */
#ifndef AIRLIFT_COMMON_PARSE_H
#define AIRLIFT_COMMON_PARSE_H

#include <stdbool.h>
#include <stdint.h>

/*
 * s, a decimal integer in min..max: an optional '-', then "0" or a digit 1-9 and more
 * digits, nothing else ("-0" is not one). true with *out set; false for anything else,
 * including overflow and a value out of range, and *out is then untouched.
 */
bool alc_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);

/*
 * An id of a stored record (a token, an update, a rollout, an event): a decimal integer
 * 1..INT64_MAX, or also 0 if zero_ok; the rules of alc_parse_i64() without a sign.
 */
bool alc_parse_id(const char *s, bool zero_ok, int64_t *out);

/*
 * An unsigned 32-bit value in 0..max: decimal as alc_parse_i64(), or "0x" (or "0X") and
 * 1..8 hex digits of either case (leading zeros allowed there, "0x0010" is 16). Addresses
 * and masks on command lines.
 */
bool alc_parse_u32(const char *s, uint32_t max, uint32_t *out);

#endif
