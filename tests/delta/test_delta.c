/*
 * test_delta.c - the delta codec: host encoder (host/delta_encode.c) against the device
 * decoder (lib/delta.c). Round trips on every pair of ../shared/firmware/pairs.tsv (raw and
 * payload -> image file), compressed full images, random, empty and identical inputs;
 * resume at every checkpoint and after cuts mid-block; bit flips and truncations fail with
 * a patch error and never write outside the output; old reads stay inside the old image;
 * the address map with data pointers (AL_DELTA_FLAG_DATA) on firmware whose variables move.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "airlift/delta.h"
#include "airlift_host/delta.h"

/* A flash-like sink: bytes written once, in order, aligned; reads checked against bounds. */
struct sink {
    const uint8_t *old;
    size_t old_len;
    uint8_t *out;
    uint8_t *times; /* how often each output byte was written */
    size_t cap, written;
    int bad; /* a contract violation */
    size_t fail_from; /* writes at or past this output offset fail (0: none), like a dead flash */
};

/* len bytes at off of src (have bytes), or a contract violation. */
static al_err sink_copy(struct sink *s, const uint8_t *src, size_t have, uint32_t off,
                        uint8_t *buf, size_t len)
{
    if (off > have || len > have - off) {
        s->bad = 1;
        return AL_ERR_OUT_OF_RANGE;
    }
    memcpy(buf, src + off, len);
    return AL_OK;
}

static al_err s_read_old(void *ctx, uint32_t off, uint8_t *buf, size_t len)
{
    struct sink *s = ctx;
    return sink_copy(s, s->old, s->old_len, off, buf, len);
}

static al_err s_read_new(void *ctx, uint32_t off, uint8_t *buf, size_t len)
{
    struct sink *s = ctx;
    return sink_copy(s, s->out, s->written, off, buf, len);
}

static al_err s_write_new(void *ctx, uint32_t off, const uint8_t *buf, size_t len)
{
    struct sink *s = ctx;
    if (s->fail_from && off + len > s->fail_from)
        return AL_ERR_FLASH;
    if (off != s->written || off % AL_DELTA_WRITE_ALIGN || off > s->cap || len > s->cap - off) {
        s->bad = 1;
        return AL_ERR_OUT_OF_RANGE;
    }
    for (size_t i = 0; i < len; i++)
        if (s->times[off + i]++)
            s->bad = 1;
    memcpy(s->out + off, buf, len);
    s->written += len;
    return AL_OK;
}

static void sink_init(struct sink *s, const uint8_t *old, size_t old_len, size_t cap)
{
    memset(s, 0, sizeof *s);
    s->old = old;
    s->old_len = old_len;
    s->cap = cap;
    s->out = calloc(cap + 1, 1);
    s->times = calloc(cap + 1, 1);
    assert_non_null(s->out);
    assert_non_null(s->times);
}

static void sink_free(struct sink *s)
{
    free(s->out);
    free(s->times);
}

static struct al_delta_io sink_io(struct sink *s)
{
    struct al_delta_io io = {s, s_read_old, s_read_new, s_write_new, (uint32_t)s->old_len};
    return io;
}

static struct al_delta dec; /* 11 KiB: static, as on a device */

/* Feed stream[from, len) in pieces of `piece` (0: pseudo-random sizes); stop at max_fed. */
static al_err feed_range(struct al_delta *st, const uint8_t *stream, size_t len, size_t piece,
                         size_t max_fed)
{
    uint32_t rnd = 12345;
    while (al_delta_want(st) < len && al_delta_want(st) < max_fed) {
        size_t off = al_delta_want(st);
        rnd = rnd * 1103515245u + 12345u;
        size_t n = piece ? piece : 1 + (rnd >> 16) % 700;
        if (n > len - off)
            n = len - off;
        if (n > max_fed - off)
            n = max_fed - off;
        al_err err = al_delta_feed(st, stream + off, n);
        if (err != AL_OK)
            return err;
    }
    return AL_OK;
}

/* Decode a whole stream into a fresh sink; returns the error, checks the contract. */
static al_err decode(const uint8_t *old, size_t old_len, const uint8_t *stream, size_t len,
                     size_t new_cap, size_t piece, struct sink *s)
{
    sink_init(s, old, old_len, new_cap);
    struct al_delta_io io = sink_io(s);
    al_err err = al_delta_init(&dec, &io);
    if (err == AL_OK)
        err = feed_range(&dec, stream, len, piece, len);
    if (err == AL_OK)
        err = al_delta_finish(&dec);
    assert_false(s->bad);
    return err;
}

/* Encode with the defaults, but blocks of about block_target stream bytes (0: the default). */
static uint8_t *encode_blocks(const uint8_t *old, size_t old_len, const uint8_t *nw, size_t new_len,
                              uint32_t block_target, size_t *out_len)
{
    struct alh_delta_opts o;
    uint8_t *out = NULL;
    char err[160];
    alh_delta_opts_default(&o);
    o.block_target = block_target;
    int rc = alh_delta_encode(old, old_len, nw, new_len, &o, &out, out_len, err, sizeof err);
    if (rc != 0)
        fail_msg("encode: %s", err);
    return out;
}

static uint8_t *encode(const uint8_t *old, size_t old_len, const uint8_t *nw, size_t new_len,
                       size_t *out_len)
{
    return encode_blocks(old, old_len, nw, new_len, 0, out_len);
}

static void round_trip(const uint8_t *old, size_t old_len, const uint8_t *nw, size_t new_len,
                       size_t piece, size_t *patch_len)
{
    size_t len = 0;
    uint8_t *p = encode(old, old_len, nw, new_len, &len);
    struct sink s;
    assert_int_equal(decode(old, old_len, p, len, new_len, piece, &s), AL_OK);
    assert_int_equal(s.written, new_len);
    assert_memory_equal(s.out, nw, new_len);
    if (patch_len)
        *patch_len = len;
    sink_free(&s);
    free(p);
}

static uint8_t *load(const char *rel, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", AIRLIFT_FIRMWARE_DIR, rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    uint8_t *buf = malloc(1 << 20);
    assert_non_null(buf);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

/* A stand-in for an airlift image file: a 192-byte header (magic, header size, link
 * address) before the payload. The codec only looks at these fields. */
static uint8_t *as_image(const uint8_t *payload, size_t len, uint32_t link, size_t *out_len)
{
    uint8_t *f = calloc(192 + len, 1);
    assert_non_null(f);
    memcpy(f, "ALIM\x01\x00\xc0\x00", 8);
    for (int i = 0; i < 4; i++)
        f[48 + i] = (uint8_t)(link >> (8 * i));
    memcpy(f + 192, payload, len);
    *out_len = 192 + len;
    return f;
}

static void test_pairs(void **state)
{
    (void)state;
    char path[512], line[512];
    snprintf(path, sizeof path, "%s/pairs.tsv", AIRLIFT_FIRMWARE_DIR);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int pairs = 0;
    while (fgets(line, sizeof line, f)) {
        char name[128], oldp[200], newp[200], kind[32];
        if (sscanf(line, "%127s %199s %199s %31s", name, oldp, newp, kind) != 4 || strcmp(name, "name") == 0)
            continue;
        size_t ol, nl, il, plen = 0;
        uint8_t *o = load(oldp, &ol), *n = load(newp, &nl);
        round_trip(o, ol, n, nl, 0, &plen);
        assert_true(plen < nl);
        uint32_t link = (uint32_t)o[0] | (uint32_t)o[1] << 8 | (uint32_t)o[2] << 16 | (uint32_t)o[3] << 24;
        if (pairs % 4 == 0) { /* old payload -> new image file, on a few pairs (run time) */
            uint8_t *img = as_image(n, nl, link & 0xFFFFC000u, &il);
            round_trip(o, ol, img, il, 512, NULL);
            free(img);
        }
        free(o);
        free(n);
        pairs++;
    }
    fclose(f);
    assert_int_equal(pairs, 17);
}

static void test_full_images(void **state)
{
    (void)state;
    const char *files[] = {"electron/bootloader-2.3.0.bin", "electron/system-part1-0.7.0.bin",
                           "electron/system-part3-2.3.1.bin"};
    for (unsigned i = 0; i < 3; i++) {
        size_t nl, plen;
        uint8_t *n = load(files[i], &nl);
        round_trip(NULL, 0, n, nl, 1 + i * 100, &plen);
        assert_true(plen < nl * 3 / 4);
        free(n);
    }
}

static void test_random_empty_identical(void **state)
{
    (void)state;
    uint8_t *a = malloc(70000), *b = malloc(70000);
    uint32_t x = 1;
    for (size_t i = 0; i < 70000; i++) {
        x = x * 1664525u + 1013904223u;
        a[i] = (uint8_t)(x >> 24);
    }
    memcpy(b, a, 70000);
    for (size_t i = 0; i < 70000; i += 997)
        b[i] ^= 0x5A;
    round_trip(NULL, 0, a, 70000, 0, NULL);          /* incompressible */
    round_trip(a, 70000, b, 70000, 0, NULL);         /* random with changes */
    size_t plen;
    round_trip(a, 70000, a, 70000, 0, &plen);        /* identical */
    assert_true(plen < 400);
    round_trip(NULL, 0, a, 0, 0, &plen);             /* empty full image */
    assert_int_equal(plen, AL_DELTA_HEADER_SIZE);
    round_trip(a, 1000, a, 0, 0, NULL);              /* patch to empty */
    round_trip(a, 1, b, 1, 1, NULL);                 /* one byte */
    round_trip(a, 5000, a + 1, 17, 3, NULL);         /* short odd output */
    free(a);
    free(b);
}

/* Power cut or lost link after `cut` stream bytes: resume from the checkpoint, with staging
 * written as far as the decoder got. The result must be exact, with no byte written twice. */
static void resume_after(const uint8_t *old, size_t old_len, const uint8_t *nw, size_t new_len,
                         const uint8_t *p, size_t len, size_t cut, size_t piece)
{
    struct sink s;
    sink_init(&s, old, old_len, new_len);
    struct al_delta_io io = sink_io(&s);
    assert_int_equal(al_delta_init(&dec, &io), AL_OK);
    assert_int_equal(feed_range(&dec, p, len, piece, cut), AL_OK);
    struct al_delta_checkpoint cp;
    al_delta_checkpoint(&dec, &cp);
    uint32_t written = al_delta_written(&dec);
    assert_true(cp.output_offset <= written);
    memset(&dec, 0xA5, sizeof dec); /* the RAM is gone */
    assert_int_equal(al_delta_resume(&dec, &io, &cp, written), AL_OK);
    assert_int_equal(al_delta_want(&dec), 0);
    al_err e = feed_range(&dec, p, len, piece, len);
    if (e != AL_OK) {
        size_t i = 0;
        while (i < s.written && s.out[i] == nw[i])
            i++;
        fprintf(stderr, "first difference at %zu of %zu written\n", i, s.written);
    }
    if (e != AL_OK)
        fail_msg("resume after %zu (checkpoint %u/%u, written %u): %s", cut, (unsigned)cp.patch_offset,
                 (unsigned)cp.output_offset, (unsigned)written, al_err_name(e));
    assert_int_equal(al_delta_finish(&dec), AL_OK);
    assert_false(s.bad);
    assert_int_equal(s.written, new_len);
    assert_memory_equal(s.out, nw, new_len);
    sink_free(&s);
}

static void test_resume(void **state)
{
    (void)state;
    const char *pairs[][2] = {{"electron/system-part1-0.6.4.bin", "electron/system-part1-0.7.0.bin"},
                              {"electron/system-part3-2.2.0.bin", "electron/system-part3-2.3.0.bin"},
                              {NULL, "electron/bootloader-2.3.0.bin"}};
    for (unsigned k = 0; k < 3; k++) {
        size_t ol = 0, nl, len;
        uint8_t *o = pairs[k][0] ? load(pairs[k][0], &ol) : NULL, *n = load(pairs[k][1], &nl);
        /* Blocks of about 4 KiB: the 13 KiB patch spans several (the 16 KiB default would
         * make it one), so resuming starts mid-stream too. */
        uint8_t *p = encode_blocks(o, ol, n, nl, 4096, &len);
        /* Every checkpoint: decode once, note each new one, resume at each. */
        struct sink s;
        struct al_delta_checkpoint seen[64];
        unsigned count = 0;
        sink_init(&s, o, ol, nl);
        struct al_delta_io io = sink_io(&s);
        assert_int_equal(al_delta_init(&dec, &io), AL_OK);
        for (size_t off = 0; off < len; off++) {
            assert_int_equal(al_delta_feed(&dec, p + off, 1), AL_OK);
            struct al_delta_checkpoint cp;
            al_delta_checkpoint(&dec, &cp);
            if (cp.patch_offset && (!count || cp.patch_offset != seen[count - 1].patch_offset) && count < 64)
                seen[count++] = cp;
        }
        assert_int_equal(al_delta_finish(&dec), AL_OK);
        sink_free(&s);
        assert_true(count >= (k == 0 ? 4u : 2u)); /* the 13 KiB patch: several blocks */
        for (unsigned i = 0; i < count; i++)
            resume_after(o, ol, n, nl, p, len, seen[i].patch_offset, 0);
        /* Cuts mid-block, at a few places, with pieces of several sizes. */
        for (unsigned i = 1; i < 12; i++)
            resume_after(o, ol, n, nl, p, len, len * i / 12 + i, i % 3 ? 0 : 64);
        free(o);
        free(n);
        free(p);
    }
}

/* A write that fails mid-stream (a flash error, a power cut) stops the decoder with that
 * error, at once and for good, whatever the piece sizes. */
static void test_write_failure(void **state)
{
    (void)state;
    size_t ol, nl, len;
    uint8_t *o = load("electron/system-part1-0.6.4.bin", &ol), *n = load("electron/system-part1-0.7.0.bin", &nl);
    uint8_t *p = encode(o, ol, n, nl, &len);
    for (size_t at = 16; at < nl; at += nl / 7 + 3) {
        struct sink s;
        sink_init(&s, o, ol, nl);
        s.fail_from = at;
        struct al_delta_io io = sink_io(&s);
        assert_int_equal(al_delta_init(&dec, &io), AL_OK);
        al_err err = al_delta_feed(&dec, p, len);
        assert_int_equal(err, AL_ERR_FLASH);
        assert_int_equal(al_delta_feed(&dec, p, 1), AL_ERR_FLASH);
        assert_int_equal(al_delta_finish(&dec), AL_ERR_FLASH);
        assert_true(s.written <= at);
        assert_false(s.bad);
        sink_free(&s);
    }
    free(o);
    free(n);
    free(p);
}

static int is_patch_error(al_err e)
{
    return e == AL_ERR_PATCH_CORRUPT || e == AL_ERR_PATCH_TRUNCATED || e == AL_ERR_PATCH_UNSUPPORTED ||
           e == AL_ERR_PATCH_BASE;
}

static void test_corrupt_and_truncated(void **state)
{
    (void)state;
    size_t ol, nl, len, len2, ol2, nl2;
    uint8_t *o = load("electron/bootloader-2.2.0.bin", &ol), *n = load("electron/bootloader-2.3.0.bin", &nl);
    uint8_t *p = encode(o, ol, n, nl, &len);
    uint8_t *bad = malloc(len);
    struct sink s;
    /* Every bit of a small patch. */
    for (size_t i = 0; i < len * 8; i++) {
        memcpy(bad, p, len);
        bad[i / 8] ^= (uint8_t)(1u << (i % 8));
        al_err e = decode(o, ol, bad, len, nl, 0, &s);
        if (!is_patch_error(e))
            fail_msg("bit %zu: %s", i, al_err_name(e));
        sink_free(&s);
    }
    /* Every truncation. */
    for (size_t cut = 0; cut < len; cut++) {
        al_err e = decode(o, ol, p, cut, nl, 0, &s);
        assert_int_equal(e, AL_ERR_PATCH_TRUNCATED);
        sink_free(&s);
    }
    /* Trailing garbage, and the wrong old image. */
    uint8_t *longer = calloc(len + 1, 1);
    memcpy(longer, p, len);
    assert_int_equal(decode(o, ol, longer, len + 1, nl, 0, &s), AL_ERR_PATCH_CORRUPT);
    sink_free(&s);
    free(longer);
    assert_int_equal(decode(o, ol - 4, p, len, nl, 0, &s), AL_ERR_PATCH_BASE);
    sink_free(&s);
    /* Bit flips spread over a larger patch and a compressed image. */
    uint8_t *o2 = load("electron/system-part1-1.5.0.bin", &ol2), *n2 = load("electron/system-part1-1.5.2.bin", &nl2);
    for (int full = 0; full <= 1; full++) {
        uint8_t *p2 = full ? encode(NULL, 0, n2, 20000, &len2) : encode(o2, ol2, n2, nl2, &len2);
        uint8_t *bad2 = malloc(len2);
        size_t step = len2 / 60 + 1;
        for (size_t i = 0; i < len2; i += step) {
            memcpy(bad2, p2, len2);
            bad2[i] ^= (uint8_t)(1u << (i % 8));
            al_err e = full ? decode(NULL, 0, bad2, len2, 20000, 0, &s) : decode(o2, ol2, bad2, len2, nl2, 0, &s);
            if (!is_patch_error(e))
                fail_msg("byte %zu: %s", i, al_err_name(e));
            sink_free(&s);
        }
        free(bad2);
        free(p2);
    }
    /* Resume at a wrong place. */
    struct al_delta_checkpoint cp = {AL_DELTA_HEADER_SIZE + 1, 0};
    sink_init(&s, o, ol, nl);
    struct al_delta_io io = sink_io(&s);
    assert_int_equal(al_delta_resume(&dec, &io, &cp, 0), AL_OK);
    al_err e = feed_range(&dec, p, len, 0, len);
    assert_true(e == AL_ERR_PATCH_CORRUPT || e == AL_ERR_PATCH_RESUME);
    sink_free(&s);
    free(o2);
    free(n2);
    free(bad);
    free(p);
    free(o);
    free(n);
}

/* A firmware-like image at 0x08000000: functions of pseudo-random code (the same in both
 * versions), each followed by a literal pool: a pointer to another function and two to
 * variables in RAM (0x20000000 + 4 * v). Version 1 has 96 more bytes of code in function
 * 60 (every later address moves) and a variable more before v = 200 (every later variable
 * moves 16 bytes up). */
#define FW_FUNCS 480
#define FW_CODE 120
#define FW_FUNC (FW_CODE + 12)
static uint32_t fw_start(unsigned f, int version)
{
    return (uint32_t)(f * FW_FUNC + (version && f > 60 ? 96 : 0));
}

static uint8_t *firmware(int version, size_t *len)
{
    *len = fw_start(FW_FUNCS, version);
    uint8_t *b = malloc(*len);
    assert_non_null(b);
    for (unsigned f = 0; f < FW_FUNCS; f++) {
        uint8_t *p = b + fw_start(f, version);
        uint32_t x = f * 2654435761u + 1;
        unsigned code = FW_CODE + (version && f == 60 ? 96 : 0);
        for (unsigned i = 0; i < code; i++) {
            x = x * 1664525u + 1013904223u;
            p[i] = (uint8_t)(x >> 24);
        }
        unsigned v1 = f * 13 % 400, v2 = (f * 29 + 7) % 400;
        uint32_t pool[3] = {0x08000001u + fw_start(f * 7 % FW_FUNCS, version),
                            0x20000000u + 4 * v1 + (version && v1 >= 200 ? 16 : 0),
                            0x20000000u + 4 * v2 + (version && v2 >= 200 ? 16 : 0)};
        for (unsigned w = 0; w < 3; w++)
            for (unsigned k = 0; k < 4; k++)
                p[code + 4 * w + k] = (uint8_t)(pool[w] >> (8 * k));
    }
    return b;
}

static uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return ~c;
}

/* Give a stream header another byte at offset at (6 flags, 7 LZMA parameters), its CRC made
 * good again. */
static void set_header_byte(uint8_t *p, unsigned at, uint8_t value)
{
    p[at] = value;
    uint32_t c = crc32_ieee(p, 28);
    for (int k = 0; k < 4; k++)
        p[28 + k] = (uint8_t)(c >> (8 * k));
}

static void test_data_map(void **state)
{
    (void)state;
    size_t ol, nl, len, len_nodata;
    uint8_t *o = firmware(0, &ol), *n = firmware(1, &nl);
    uint8_t *p = encode(o, ol, n, nl, &len);
    assert_int_equal(p[6] & (AL_DELTA_FLAG_MAP | AL_DELTA_FLAG_DATA), AL_DELTA_FLAG_MAP | AL_DELTA_FLAG_DATA);
    round_trip(o, ol, n, nl, 0, NULL);
    round_trip(o, ol, n, nl, 333, NULL);
    /* Without data pointers the patch is larger: every moved variable's pool word costs. */
    struct alh_delta_opts opt;
    uint8_t *q = NULL;
    char err[160];
    alh_delta_opts_default(&opt);
    opt.data = 0;
    assert_int_equal(alh_delta_encode(o, ol, n, nl, &opt, &q, &len_nodata, err, sizeof err), 0);
    assert_int_equal(q[6] & AL_DELTA_FLAG_DATA, 0);
    assert_true(len * 5 < len_nodata * 4);
    /* Cut in the middle and resumed: the map is read again. */
    resume_after(o, ol, n, nl, p, len, len / 2, 7);
    struct sink s;
    /* FLAG_DATA without a map is not a stream of this format. */
    set_header_byte(q, 6, AL_DELTA_FLAG_DATA);
    struct al_delta_header h;
    assert_int_equal(al_delta_parse_header(q, len_nodata, &h), AL_ERR_PATCH_UNSUPPORTED);
    assert_int_equal(decode(o, ol, q, len_nodata, nl, 0, &s), AL_ERR_PATCH_UNSUPPORTED);
    sink_free(&s);
    free(q);
    free(p);
    free(o);
    free(n);
}

/* The map's deltas are coded as changes (FLAG_MAPREL, set with every map): read as plain
 * deltas they move the old image's pointers elsewhere and the blocks' CRCs fail; without a
 * map the flag is not a stream of this format. */
static void test_map_relative(void **state)
{
    (void)state;
    size_t ol, nl, len;
    uint8_t *o = firmware(0, &ol), *n = firmware(1, &nl);
    uint8_t *p = encode(o, ol, n, nl, &len);
    assert_int_equal(p[6] & (AL_DELTA_FLAG_MAP | AL_DELTA_FLAG_MAPREL), AL_DELTA_FLAG_MAP | AL_DELTA_FLAG_MAPREL);
    struct sink s;
    assert_int_equal(decode(o, ol, p, len, nl, 0, &s), AL_OK);
    sink_free(&s);
    set_header_byte(p, 6, (uint8_t)(p[6] & ~AL_DELTA_FLAG_MAPREL));
    assert_int_equal(decode(o, ol, p, len, nl, 0, &s), AL_ERR_PATCH_CORRUPT);
    sink_free(&s);
    set_header_byte(p, 6, AL_DELTA_FLAG_THUMB | AL_DELTA_FLAG_MAPREL);
    struct al_delta_header h;
    assert_int_equal(al_delta_parse_header(p, len, &h), AL_ERR_PATCH_UNSUPPORTED);
    free(p);
    free(o);
    free(n);
}

/* The map has the room the model leaves (include/airlift/delta.h): 704, 512 and 128
 * segments for lc + lp = 0, 1 and 2; a count above it is refused as soon as it arrives. The
 * Electron pairs of test_pairs have maps of more than 128 (lc + lp = 1) and round-trip. */
static void test_map_room(void **state)
{
    (void)state;
    size_t ol, nl, len;
    uint8_t *o = firmware(0, &ol), *n = firmware(1, &nl);
    uint8_t *p = encode(o, ol, n, nl, &len);
    assert_true(p[6] & AL_DELTA_FLAG_MAP);
    static const unsigned room[3] = {704, 512, 128};
    for (unsigned lc_lp = 0; lc_lp <= 2; lc_lp++) {
        assert_int_equal(AL_DELTA_SEGMENTS_MAX(lc_lp), room[lc_lp]);
        set_header_byte(p, 7, (uint8_t)(lc_lp | 1 << 4)); /* lc = lc + lp, lp = 0, pb = 1 */
        for (unsigned extra = 0; extra <= 1; extra++) {
            uint32_t count = room[lc_lp] + extra;
            uint8_t head[AL_DELTA_HEADER_SIZE + 2];
            memcpy(head, p, AL_DELTA_HEADER_SIZE);
            head[AL_DELTA_HEADER_SIZE] = (uint8_t)(0x80 | (count & 0x7F));
            head[AL_DELTA_HEADER_SIZE + 1] = (uint8_t)(count >> 7);
            struct sink s;
            sink_init(&s, o, ol, nl);
            struct al_delta_io io = sink_io(&s);
            assert_int_equal(al_delta_init(&dec, &io), AL_OK);
            assert_int_equal(al_delta_feed(&dec, head, sizeof head), extra ? AL_ERR_PATCH_CORRUPT : AL_OK);
            sink_free(&s);
        }
    }
    assert_true(AL_DELTA_PROLOGUE_MAX >= AL_DELTA_HEADER_SIZE + 5 + 704 * 10 + 4);
    free(p);
    free(o);
    free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pairs),
        cmocka_unit_test(test_full_images),
        cmocka_unit_test(test_random_empty_identical),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_write_failure),
        cmocka_unit_test(test_corrupt_and_truncated),
        cmocka_unit_test(test_data_map),
        cmocka_unit_test(test_map_relative),
        cmocka_unit_test(test_map_room),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
