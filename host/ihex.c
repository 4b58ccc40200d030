/*
 * ihex.c - Intel HEX to one flat binary (see ihex.h). Data is decoded into one growing buffer;
 * consecutive records that continue each other become one run.
 */
#include "airlift_host/ihex.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct runs {
    struct alh_flat_run *v;
    size_t n, cap;
    uint8_t *bytes;      /* all data bytes, in file order */
    size_t nbytes, bcap;
    size_t *offsets;     /* v[i] starts at bytes + offsets[i] (data pointers set at the end) */
    size_t ocap;
};

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
    size_t ncap = *cap ? *cap : 64;
    void *q;

    if (need <= *cap)
        return true;
    while (ncap < need)
        ncap *= 2;
    q = realloc(*p, ncap * elem);
    if (q == NULL)
        return false;
    *p = q;
    *cap = ncap;
    return true;
}

/* Append len data bytes at addr; merges with the previous run when contiguous. */
static bool add_data(struct runs *r, uint64_t addr, const uint8_t *data, size_t len)
{
    if (!grow((void **)&r->bytes, &r->bcap, r->nbytes + len, 1))
        return false;
    memcpy(r->bytes + r->nbytes, data, len);
    if (r->n > 0 && r->v[r->n - 1].addr + r->v[r->n - 1].len == addr &&
        r->offsets[r->n - 1] + r->v[r->n - 1].len == r->nbytes) {
        r->v[r->n - 1].len += len;
    } else {
        if (!grow((void **)&r->v, &r->cap, r->n + 1, sizeof(r->v[0])))
            return false;
        if (!grow((void **)&r->offsets, &r->ocap, r->n + 1, sizeof(r->offsets[0])))
            return false;
        r->v[r->n].addr = addr;
        r->v[r->n].len = len;
        r->offsets[r->n] = r->nbytes;
        r->n++;
    }
    r->nbytes += len;
    return true;
}

bool alh_ihex_is(const uint8_t *buf, size_t len)
{
    /* ':' and 8 hex digits (byte count, address, record type): a binary that merely starts
     * with ':' (1 in 256 do) is not HEX; a HEX file with a broken record still is, so the
     * parser can say what is wrong with it. */
    if (!buf || len < 9 || buf[0] != ':')
        return false;
    for (size_t i = 1; i < 9; i++)
        if (!isxdigit(buf[i]))
            return false;
    return true;
}

int alh_ihex_flatten(const uint8_t *buf, size_t len, size_t max_size, struct alh_flat_image *out,
                     char *err, size_t errlen)
{
    struct runs r = {0};
    uint8_t rec[5 + 255];
    uint32_t upper = 0; /* from 02 (segment << 4) or 04 (linear << 16) */
    uint32_t entry = 0;
    bool has_entry = false, eof = false;
    size_t pos = 0, line = 0;
    int result = -1;

    if (errlen > 0)
        err[0] = '\0';
    if (out == NULL || buf == NULL) {
        snprintf(err, errlen, "invalid argument");
        goto out;
    }
    memset(out, 0, sizeof(*out));
    while (pos < len) {
        size_t start = pos, end, n = 0, count;
        uint8_t sum = 0, type;
        uint16_t addr16;

        line++;
        while (pos < len && buf[pos] != '\n')
            pos++;
        end = pos;
        if (pos < len)
            pos++; /* the LF */
        if (end > start && buf[end - 1] == '\r')
            end--;
        if (end == start)
            continue; /* an empty line */
        if (eof) {
            snprintf(err, errlen, "line %zu: data after the end-of-file record", line);
            goto out;
        }
        if (end - start > ALH_IHEX_LINE_MAX) {
            snprintf(err, errlen, "line %zu: %zu characters, longer than any record", line,
                     end - start);
            goto out;
        }
        if (buf[start] != ':') {
            snprintf(err, errlen, "line %zu: does not start with ':'", line);
            goto out;
        }
        if ((end - start - 1) % 2 != 0) {
            snprintf(err, errlen, "line %zu: an odd number of hex digits", line);
            goto out;
        }
        for (size_t i = start + 1; i < end; i += 2) {
            int hi = hexval(buf[i]), lo = hexval(buf[i + 1]);
            if (hi < 0 || lo < 0) {
                snprintf(err, errlen, "line %zu, column %zu: not a hex digit", line,
                         (hi < 0 ? i : i + 1) - start + 1);
                goto out;
            }
            if (n >= sizeof(rec)) {
                snprintf(err, errlen, "line %zu: record too long", line);
                goto out;
            }
            rec[n++] = (uint8_t)(hi << 4 | lo);
        }
        if (n < 5) {
            snprintf(err, errlen, "line %zu: a record is at least 5 bytes (count, address, type, "
                     "checksum), this one has %zu", line, n);
            goto out;
        }
        count = rec[0];
        if (n != count + 5) {
            snprintf(err, errlen, "line %zu: byte count says %zu data bytes, the line holds %zu",
                     line, count, n - 5);
            goto out;
        }
        for (size_t i = 0; i < n; i++)
            sum = (uint8_t)(sum + rec[i]);
        if (sum != 0) {
            snprintf(err, errlen, "line %zu: bad checksum 0x%02x (should be 0x%02x)", line,
                     rec[n - 1], (uint8_t)(rec[n - 1] - sum));
            goto out;
        }
        addr16 = (uint16_t)(rec[1] << 8 | rec[2]);
        type = rec[3];
        switch (type) {
        case 0x00:
            if (count == 0)
                break;
            if ((uint32_t)addr16 + count > 0x10000u) {
                snprintf(err, errlen, "line %zu: data record at 0x%04x (%zu bytes) crosses a "
                         "64 KiB boundary", line, addr16, count);
                goto out;
            }
            if (r.nbytes + count > max_size) {
                snprintf(err, errlen, "line %zu: more than %zu data bytes", line, max_size);
                goto out;
            }
            if (!add_data(&r, (uint64_t)upper + addr16, rec + 4, count)) {
                snprintf(err, errlen, "out of memory");
                goto out;
            }
            break;
        case 0x01:
            if (count != 0) {
                snprintf(err, errlen, "line %zu: end-of-file record with %zu data bytes", line,
                         count);
                goto out;
            }
            eof = true;
            break;
        case 0x02:
        case 0x04:
            if (count != 2) {
                snprintf(err, errlen, "line %zu: extended %s address record needs 2 data bytes, "
                         "has %zu", line, type == 2 ? "segment" : "linear", count);
                goto out;
            }
            upper = type == 2 ? (uint32_t)(rec[4] << 8 | rec[5]) << 4
                              : (uint32_t)(rec[4] << 8 | rec[5]) << 16;
            break;
        case 0x03:
        case 0x05:
            if (count != 4) {
                snprintf(err, errlen, "line %zu: start address record needs 4 data bytes, has %zu",
                         line, count);
                goto out;
            }
            if (type == 3)
                entry = ((uint32_t)(rec[4] << 8 | rec[5]) << 4) + (uint32_t)(rec[6] << 8 | rec[7]);
            else
                entry = (uint32_t)rec[4] << 24 | (uint32_t)rec[5] << 16 |
                        (uint32_t)rec[6] << 8 | rec[7];
            has_entry = true;
            break;
        default:
            snprintf(err, errlen, "line %zu: unknown record type 0x%02x (00..05 are defined)",
                     line, type);
            goto out;
        }
    }
    if (!eof) {
        snprintf(err, errlen, "no end-of-file record (type 01): the file is truncated");
        goto out;
    }
    for (size_t i = 0; i < r.n; i++)
        r.v[i].data = r.bytes + r.offsets[i];
    if (alh_flat_build(r.v, r.n, max_size, "record", out, err, errlen) != 0)
        goto out;
    out->entry = entry;
    out->has_entry = has_entry;
    result = 0;
out:
    free(r.v);
    free(r.offsets);
    free(r.bytes);
    return result;
}
