/*
 * hex.c - see airlift_common/hex.h.
 */
#include "airlift_common/hex.h"

static const char digits[] = "0123456789abcdef";

void alc_hex_encode(const uint8_t *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* The value of hex digit c, or -1; lowercase letters only if lower_only. */
static int digit_value(char c, bool lower_only)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (!lower_only && c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool alc_hex_decode(const char *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi = digit_value(s[2 * i], false), lo = hi < 0 ? -1 : digit_value(s[2 * i + 1], false);
        if (lo < 0)
            return false; /* also stops at a NUL, before reading past it */
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return s[2 * n] == '\0';
}

/* Is s exactly len digits (lowercase ones only if lower_only) and its NUL? */
static bool all_hex(const char *s, size_t len, bool lower_only)
{
    for (size_t i = 0; i < len; i++)
        if (digit_value(s[i], lower_only) < 0)
            return false;
    return s[len] == '\0';
}

bool alc_is_lower_hex(const char *s, size_t len)
{
    return all_hex(s, len, true);
}

bool alc_is_hex(const char *s, size_t len)
{
    return all_hex(s, len, false);
}
