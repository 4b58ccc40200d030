/*
 * parse.c - see airlift_common/parse.h.
 */
#include "airlift_common/parse.h"

#include <stddef.h>

bool alc_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    bool negative = s[0] == '-';
    uint64_t v = 0, limit;
    const char *p = s + negative;

    if (p[0] < '0' || p[0] > '9' || (p[0] == '0' && (p[1] || negative)))
        return false;
    /* The magnitude may reach INT64_MAX, or INT64_MAX + 1 for INT64_MIN. */
    limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        if (v > (limit - (uint64_t)(*p - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    int64_t value = negative ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v)
                             : (int64_t)v;
    if (value < min || value > max)
        return false;
    *out = value;
    return true;
}

bool alc_parse_id(const char *s, bool zero_ok, int64_t *out)
{
    return s[0] != '-' && alc_parse_i64(s, zero_ok ? 0 : 1, INT64_MAX, out);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool alc_parse_u32(const char *s, uint32_t max, uint32_t *out)
{
    int64_t dec;
    uint32_t v = 0;
    size_t n;

    if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) {
        if (s[0] == '-' || !alc_parse_i64(s, 0, max, &dec))
            return false;
        *out = (uint32_t)dec;
        return true;
    }
    for (n = 0; s[2 + n]; n++) {
        int d = hex_value(s[2 + n]);
        if (d < 0 || n == 8)
            return false;
        v = v << 4 | (uint32_t)d;
    }
    if (n == 0 || v > max)
        return false;
    *out = v;
    return true;
}
