/*
 * version.c - semantic versions (SemVer 2.0.0 precedence), parse/format/compare and the
 * 28-byte wire form of docs/image-format.md.
 */
#include <stdbool.h>
#include <string.h>

#include "airlift/version.h"
#include "bytes.h"

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static bool is_ident_char(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

/* Parse a decimal u32 without leading zeros from s[*pos..len); advances *pos. */
static bool parse_number(const char *s, size_t len, size_t *pos, uint32_t *out)
{
    size_t start = *pos;
    uint64_t v = 0;
    while (*pos < len && is_digit(s[*pos])) {
        v = v * 10u + (uint64_t)(s[*pos] - '0');
        if (v > 0xffffffffu)
            return false;
        (*pos)++;
    }
    if (*pos == start || (s[start] == '0' && *pos - start > 1))
        return false;
    *out = (uint32_t)v;
    return true;
}

/* A pre-release tag: dot-separated non-empty identifiers; numeric ones without leading zeros. */
static bool valid_prerelease(const char *p, size_t len)
{
    size_t start = 0;
    if (len == 0 || len > AL_PRERELEASE_MAX)
        return false;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && p[i] != '.') {
            if (!is_ident_char(p[i]))
                return false;
            continue;
        }
        size_t n = i - start;
        if (n == 0)
            return false;
        bool numeric = true;
        for (size_t j = start; j < i; j++)
            numeric = numeric && is_digit(p[j]);
        if (numeric && n > 1 && p[start] == '0')
            return false;
        start = i + 1;
    }
    return true;
}

al_err al_version_parse(const char *s, size_t len, struct al_version *out)
{
    size_t pos = 0;
    struct al_version v;
    if (s == NULL || out == NULL)
        return AL_ERR_INVALID_ARG;
    memset(&v, 0, sizeof v);
    if (!parse_number(s, len, &pos, &v.major) || pos >= len || s[pos++] != '.' ||
        !parse_number(s, len, &pos, &v.minor) || pos >= len || s[pos++] != '.' ||
        !parse_number(s, len, &pos, &v.patch))
        return AL_ERR_BAD_VERSION;
    if (pos < len) {
        if (s[pos] != '-' || !valid_prerelease(s + pos + 1, len - pos - 1))
            return AL_ERR_BAD_VERSION; /* includes "+build": not supported */
        memcpy(v.pre, s + pos + 1, len - pos - 1);
    }
    *out = v;
    return AL_OK;
}

static int cmp_u32(uint32_t a, uint32_t b) { return a < b ? -1 : a > b; }

/* Compare one pre-release identifier each: numeric < alphanumeric, numbers by value. */
static int cmp_ident(const char *a, size_t an, const char *b, size_t bn)
{
    bool anum = true, bnum = true;
    for (size_t i = 0; i < an; i++)
        anum = anum && is_digit(a[i]);
    for (size_t i = 0; i < bn; i++)
        bnum = bnum && is_digit(b[i]);
    if (anum && bnum) {
        if (an != bn) /* no leading zeros: the longer number is larger */
            return an < bn ? -1 : 1;
        int c = memcmp(a, b, an);
        return c < 0 ? -1 : c > 0;
    }
    if (anum != bnum)
        return anum ? -1 : 1;
    size_t n = an < bn ? an : bn;
    int c = memcmp(a, b, n);
    if (c != 0)
        return c < 0 ? -1 : 1;
    return an < bn ? -1 : an > bn;
}

static size_t str_len(const char *s, size_t max)
{
    size_t n = 0;
    while (n < max && s[n])
        n++;
    return n;
}

int al_version_compare(const struct al_version *a, const struct al_version *b)
{
    int c = cmp_u32(a->major, b->major);
    if (!c) c = cmp_u32(a->minor, b->minor);
    if (!c) c = cmp_u32(a->patch, b->patch);
    if (c)
        return c;
    size_t an = str_len(a->pre, AL_PRERELEASE_MAX), bn = str_len(b->pre, AL_PRERELEASE_MAX);
    if (an == 0 || bn == 0) /* a release ranks above its pre-releases */
        return an == bn ? 0 : an == 0 ? 1 : -1;
    size_t ai = 0, bi = 0;
    while (ai < an && bi < bn) {
        size_t ae = ai, be = bi;
        while (ae < an && a->pre[ae] != '.')
            ae++;
        while (be < bn && b->pre[be] != '.')
            be++;
        c = cmp_ident(a->pre + ai, ae - ai, b->pre + bi, be - bi);
        if (c)
            return c;
        ai = ae + 1;
        bi = be + 1;
    }
    /* All shared identifiers equal: more identifiers rank higher. */
    return ai < an ? 1 : bi < bn ? -1 : 0;
}

static size_t put_u32(char *buf, size_t cap, size_t n, uint32_t v)
{
    char digits[10];
    size_t d = 0;
    do {
        digits[d++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    while (d && n + 1 < cap)
        buf[n++] = digits[--d];
    return d ? cap : n; /* cap signals "did not fit" */
}

size_t al_version_format(const struct al_version *v, char *buf, size_t cap)
{
    size_t n = 0;
    if (buf == NULL || cap == 0)
        return 0;
    n = put_u32(buf, cap, n, v->major);
    if (n + 1 < cap) buf[n++] = '.'; else n = cap;
    if (n < cap) n = put_u32(buf, cap, n, v->minor);
    if (n + 1 < cap) buf[n++] = '.'; else n = cap;
    if (n < cap) n = put_u32(buf, cap, n, v->patch);
    size_t pn = str_len(v->pre, AL_PRERELEASE_MAX);
    if (pn && n < cap) {
        if (n + 1 + pn < cap) {
            buf[n++] = '-';
            memcpy(buf + n, v->pre, pn);
            n += pn;
        } else {
            n = cap;
        }
    }
    if (n >= cap) {
        buf[0] = '\0';
        return 0;
    }
    buf[n] = '\0';
    return n;
}

void al_version_encode(const struct al_version *v, uint8_t out[AL_VERSION_WIRE_SIZE])
{
    al_put32(out, v->major);
    al_put32(out + 4, v->minor);
    al_put32(out + 8, v->patch);
    memset(out + 12, 0, AL_PRERELEASE_MAX);
    memcpy(out + 12, v->pre, str_len(v->pre, AL_PRERELEASE_MAX));
}

al_err al_version_decode(const uint8_t in[AL_VERSION_WIRE_SIZE], struct al_version *out)
{
    const uint8_t *pre = in + 12;
    size_t n = 0;
    memset(out, 0, sizeof *out);
    out->major = al_get32(in);
    out->minor = al_get32(in + 4);
    out->patch = al_get32(in + 8);
    while (n < AL_PRERELEASE_MAX && pre[n])
        n++;
    for (size_t i = n; i < AL_PRERELEASE_MAX; i++)
        if (pre[i])
            return AL_ERR_BAD_VERSION; /* bytes after the terminator must be zero */
    if (n && !valid_prerelease((const char *)pre, n))
        return AL_ERR_BAD_VERSION;
    memcpy(out->pre, pre, n);
    return AL_OK;
}
