/*
 * delta_encode.c - patches and compressed full images in the airlift delta stream format
 * (docs/delta-format.md), and a buffer-to-buffer driver of the device decoder.
 *
 * Encoding, in short: both images go through the Thumb-2 branch transform and the old one
 * through the address map (each optional: every variant is profiled by a quick LZMA2 run and
 * the best encoded in full); the transformed new image is cut into blocks; each block is one
 * raw LZMA1 stream (no end marker) whose dictionary is the transformed old image followed by
 * every earlier transformed output byte. One liblzma LZMA2 encoder makes all blocks in one
 * pass (a chunk per block, the model reset at each), so the time is linear in the sizes. A
 * block header gives its output range, its stream length and the CRC-32 of its output.
 */
#include "airlift_host/delta.h"

#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airlift/delta.h"
#include "airlift/thumb2.h"

#define BLOCK_HEADER_MAX 20

void alh_delta_opts_default(struct alh_delta_opts *o)
{
    memset(o, 0, sizeof *o);
    o->thumb = -1;
    o->map = -1;
    o->data = -1;
    o->lc = o->lp = o->pb = -1;
    o->old_origin = o->new_origin = -1;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static size_t put_varint(uint8_t *p, uint32_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Where Thumb-2 code starts: after the header of an airlift image, else at 0. */
static uint32_t detect_origin(const uint8_t *d, size_t len)
{
    if (len >= 192 && memcmp(d, "ALIM", 4) == 0) {
        uint32_t hs = (uint32_t)d[6] | (uint32_t)d[7] << 8;
        if (hs >= 192 && hs <= len && hs % 2 == 0 && hs <= 0xFFFF)
            return hs;
    }
    return 0;
}

/* Where the code at origin runs: the link address of an airlift image; else, in the flash
 * window (16 MiB at 0x08000000, the STM32 flash; at 0x10000000, the XIP flash of RP2 and
 * the M33 parts; at 0, nRF/Kinetis/SAM, words below 16 KiB not counted) that most
 * pointer-like words fall in, the 16 KiB boundary below which most of them point into the
 * image; else 0 (no pointers are then found). detect_link_in: one window, *hits the count. */
static uint32_t detect_link_in(const uint8_t *d, size_t len, uint32_t origin, uint32_t base,
                               size_t *hits)
{
    size_t buckets = 1024, best_count = 0, span = (len >> 14) + 1;
    uint32_t *hist = calloc(buckets, sizeof *hist), best = 0;
    *hits = 0;
    if (!hist)
        return 0;
    for (size_t i = origin; i + 4 <= len; i += 4) {
        uint32_t w = (uint32_t)d[i] | (uint32_t)d[i + 1] << 8 | (uint32_t)d[i + 2] << 16 | (uint32_t)d[i + 3] << 24;
        if (w >= base && w - base < 0x01000000u && ((w - base) >> 14) < buckets &&
            (base || w >= 0x4000u)) /* at 0: not the small numbers below 16 KiB */
            hist[(w - base) >> 14]++;
    }
    size_t counts[1024];
    for (size_t b = 0; b < buckets; b++) {
        counts[b] = 0;
        for (size_t k = b; k < buckets && k < b + span; k++)
            counts[b] += hist[k];
        if (counts[b] > best_count)
            best_count = counts[b];
    }
    for (size_t b = 0; b < buckets && best_count >= 16; b++)
        if (counts[b] * 100 >= best_count * 97) { /* the lowest that covers nearly as many */
            best = base + (uint32_t)(b << 14);
            break;
        }
    free(hist);
    *hits = best || (base == 0 && best_count >= 16 && counts[0] * 100 >= best_count * 97) ? best_count : 0;
    return best;
}

static uint32_t detect_link(const uint8_t *d, size_t len, uint32_t origin, int *known)
{
    *known = 1;
    if (origin && len >= 52 && memcmp(d, "ALIM", 4) == 0)
        return (uint32_t)d[48] | (uint32_t)d[49] << 8 | (uint32_t)d[50] << 16 | (uint32_t)d[51] << 24;
    static const uint32_t bases[3] = {0x08000000u, 0x10000000u, 0};
    size_t hits, best_hits = 0;
    uint32_t best = 0;
    for (int k = 0; k < 3; k++) {
        uint32_t link = detect_link_in(d, len, origin, bases[k], &hits);
        if (hits > best_hits) {
            best_hits = hits;
            best = link;
        }
    }
    *known = best_hits > 0; /* a link of 0 (flash at 0) is a found one too */
    return best;
}

/* Old address -> new address through the map (segments sorted by address). */
struct segment {
    uint32_t addr, delta, support, values;
};

static uint32_t map_address(const struct segment *seg, size_t n, uint32_t a)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (seg[mid].addr <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? a + seg[lo - 1].delta : a;
}

static uint32_t get32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/*
 * The transform of one image (docs/delta-format.md, "Transforms"), in place. thumb: at every
 * even offset from origin where a 32-bit BL or B.W starts, its 22-bit halfword offset becomes
 * the halfword address of its target (mod 2^22); candidates never overlap. seg (old image
 * only): branch targets go through the address map, and so do the aligned words, outside
 * branches, that point into the image itself.
 */
static void transform(uint8_t *b, size_t len, size_t origin, uint32_t link, int thumb,
                      const struct segment *seg, size_t nseg, int data)
{
    /* Pointer words mapped: into the image itself, or (data) from the map's first segment
     * start to its last one. */
    uint32_t lo = link, span = (uint32_t)(len - origin);
    if (seg && data && nseg) {
        lo = seg[0].addr;
        span = seg[nseg - 1].addr - lo;
    }
    uint8_t *in_branch = calloc(len + 1, 1);
    if (!in_branch)
        abort();
    for (size_t s = origin; thumb && s + 4 <= len; s += 2) {
        if (!al_thumb2_is_branch(b[s + 1], b[s + 3]))
            continue;
        memset(in_branch + s, 1, 4);
        uint32_t off = al_thumb2_branch_get(b + s), here = link + (uint32_t)(s - origin) + 4;
        if (seg)
            off = map_address(seg, nseg, here + ((off ^ 0x200000u) - 0x200000u) * 2) >> 1;
        else
            off += here >> 1;
        al_thumb2_branch_set(b + s, off & 0x3FFFFF);
    }
    for (size_t a = origin; seg && a + 4 <= len; a += 4) {
        uint32_t v = get32le(b + a);
        if (in_branch[a] || in_branch[a + 1] || in_branch[a + 2] || in_branch[a + 3] ||
            v - lo >= span)
            continue;
        v = map_address(seg, nseg, v);
        b[a] = (uint8_t)v;
        b[a + 1] = (uint8_t)(v >> 8);
        b[a + 2] = (uint8_t)(v >> 16);
        b[a + 3] = (uint8_t)(v >> 24);
    }
    free(in_branch);
}

static int cmp_seg_addr(const void *x, const void *y)
{
    const struct segment *a = x, *b = y;
    return a->addr < b->addr ? -1 : a->addr > b->addr;
}

static int cmp_seg_support(const void *x, const void *y)
{
    const struct segment *a = x, *b = y;
    return a->support > b->support ? -1 : a->support < b->support;
}

/*
 * The address map: where 16-byte pieces of new occur exactly once in old, the move
 * (new address - old address) of the old bytes; with them the nvotes moves of votes
 * (map_votes()), each backed as much as a piece; runs of equal moves become segments; runs
 * backed by fewer than 4 are dropped, and only the max_segments best kept. Returns the
 * number of segments in seg (allocated by the caller for new_len / 4 + 1 + nvotes).
 */
#define GRAM 16
static size_t build_map(const uint8_t *old, size_t old_len, uint32_t old_origin, uint32_t old_link,
                        const uint8_t *nw, size_t new_len, uint32_t new_origin, uint32_t new_link,
                        struct segment *seg, size_t max_segments, const struct segment *votes,
                        size_t nvotes)
{
    size_t bits = 10;
    while (((size_t)1 << bits) < old_len)
        bits++;
    bits++;
    size_t mask = ((size_t)1 << bits) - 1, n = 0;
    int64_t *table = malloc(sizeof(int64_t) << bits);
    if (!table || old_len < GRAM + old_origin || new_len < GRAM + new_origin) {
        free(table);
        return 0;
    }
    for (size_t i = 0; i <= mask; i++)
        table[i] = -1;
#define GRAM_HASH(p) ((size_t)((get32le(p) * 2654435761u) ^ (get32le((p) + 4) * 2246822519u) ^ \
                               (get32le((p) + 8) * 3266489917u) ^ (get32le((p) + 12) * 668265263u)))
    const int64_t dup = (int64_t)1 << 62; /* flag: the piece occurs more than once in old */
    for (size_t i = old_origin; i + GRAM <= old_len; i += 2) {
        size_t h = GRAM_HASH(old + i) & mask;
        while (table[h] >= 0 && memcmp(old + (table[h] & ~dup), old + i, GRAM) != 0)
            h = (h + 1) & mask;
        table[h] = table[h] >= 0 ? table[h] | dup : (int64_t)i;
    }
    for (size_t j = new_origin; j + GRAM <= new_len; j += 4) {
        size_t h = GRAM_HASH(nw + j) & mask;
        while (table[h] >= 0 && memcmp(old + (table[h] & ~dup), nw + j, GRAM) != 0)
            h = (h + 1) & mask;
        if (table[h] < 0 || (table[h] & dup))
            continue;
        size_t i = (size_t)table[h];
        uint32_t oa = old_link + (uint32_t)(i - old_origin), na = new_link + (uint32_t)(j - new_origin);
        seg[n].addr = oa;
        seg[n].delta = na - oa;
        seg[n].support = seg[n].values = 1;
        n++;
    }
#undef GRAM_HASH
    free(table);
    if (nvotes)
        memcpy(seg + n, votes, nvotes * sizeof *seg);
    n += nvotes;
    qsort(seg, n, sizeof *seg, cmp_seg_addr);
    size_t runs = 0;
    for (size_t k = 0; k < n; k++) {
        if (runs && seg[runs - 1].delta == seg[k].delta)
            seg[runs - 1].support++;
        else
            seg[runs++] = seg[k];
    }
    size_t kept = 0;
    for (size_t k = 0; k < runs; k++)
        if (seg[k].support >= 4)
            seg[kept++] = seg[k];
    if (kept > max_segments) {
        qsort(seg, kept, sizeof *seg, cmp_seg_support);
        kept = max_segments;
        qsort(seg, kept, sizeof *seg, cmp_seg_addr);
    }
    n = 0; /* merge neighbours that now move alike; of two at one address the better backed */
    for (size_t k = 0; k < kept; k++)
        if (n && seg[n - 1].addr == seg[k].addr) {
            if (seg[k].support > seg[n - 1].support)
                seg[n - 1] = seg[k];
        } else if (!n || seg[n - 1].delta != seg[k].delta) {
            seg[n++] = seg[k];
        }
    return n;
}

/* Mark in pool[] (old_len bytes, zeroed) the offsets of the words of old that a Thumb LDR
 * literal of old loads (16-bit LDR Rt, [PC, #imm8 * 4]; 32-bit LDR.W Rt, [PC, #+-imm12]). */
static void mark_pools(const uint8_t *old, size_t old_len, uint32_t old_origin, uint32_t old_link,
                       uint8_t *pool)
{
    uint32_t span = (uint32_t)(old_len - old_origin);
    for (size_t s = old_origin; s + 4 <= old_len; s += 2) {
        unsigned h = old[s] | old[s + 1] << 8, h2 = old[s + 2] | old[s + 3] << 8;
        uint32_t pc = (old_link + (uint32_t)(s - old_origin) + 4) & ~3u, a;
        if (h >> 11 == 9)
            a = pc + (h & 0xFF) * 4;
        else if ((h & 0xFF7F) == 0xF85F)
            a = h & 0x80 ? pc + (h2 & 0xFFF) : pc - (h2 & 0xFFF);
        else
            continue;
        if (a - old_link < span - 3)
            pool[a - old_link + old_origin] = 1;
    }
}

/*
 * Votes for the map from what points into the old image: each 32-bit BL or B.W of old
 * (at an even offset from its origin), and each aligned word of old holding an address
 * inside it that is odd (a Thumb function pointer: tables, vectors) or that an LDR literal
 * loads (a pointer into flash data: mark_pools()), is looked for at the place the map seg
 * gives it in new. If new has a branch there (for a word: an address inside new, odd if the
 * old one was), its target is where the old target went: a vote {old target, new - old
 * target}. The pieces of build_map() place a segment's start at the first 16 bytes that
 * match exactly, after a changed prologue or literal, and miss functions called from many
 * places that moved alone; their callers know. Returns the number of votes in v (allocated
 * for old_len / 2 + 1), or 0 (also when out of memory: no votes).
 */
static size_t map_votes(const uint8_t *old, size_t old_len, uint32_t old_origin, uint32_t old_link,
                        const uint8_t *nw, size_t new_len, uint32_t new_origin, uint32_t new_link,
                        const struct segment *seg, size_t nseg, struct segment *v)
{
    size_t n = 0;
    uint32_t old_span = (uint32_t)(old_len - old_origin), new_span = (uint32_t)(new_len - new_origin);
    uint8_t *pool = calloc(old_len, 1);
    if (!pool)
        return 0;
    mark_pools(old, old_len, old_origin, old_link, pool);
    for (size_t s = old_origin; s + 4 <= old_len; s += 2) {
        int branch = al_thumb2_is_branch(old[s + 1], old[s + 3]);
        if (!branch && (s - old_origin) % 4)
            continue;
        uint32_t here = old_link + (uint32_t)(s - old_origin), there = map_address(seg, nseg, here), t, u;
        size_t j = (size_t)(there - new_link) + new_origin;
        if (there < new_link || j + 4 > new_len)
            continue;
        if (branch) {
            s += 2; /* branch windows never overlap */
            if (!al_thumb2_is_branch(nw[j + 1], nw[j + 3]))
                continue;
            uint32_t fo = al_thumb2_branch_get(old + s - 2), fn = al_thumb2_branch_get(nw + j);
            t = here + 4 + ((fo ^ 0x200000u) - 0x200000u) * 2;
            u = there + 4 + ((fn ^ 0x200000u) - 0x200000u) * 2;
        } else {
            t = get32le(old + s);
            u = get32le(nw + j);
            if (!((t & 1) || pool[s]) || (t & 1) != (u & 1) || u - new_link >= new_span)
                continue;
            t &= ~1u;
            u &= ~1u;
        }
        if (t - old_link >= old_span)
            continue;
        v[n].addr = t;
        v[n].delta = u - t;
        v[n].support = v[n].values = 1;
        n++;
    }
    free(pool);
    return n;
}

/* Data pointers: words in the SRAM region of the Cortex-M memory map (0x20000000 ..
 * 0x3FFFFFFF) that the code of both images loads (literal pools, tables). */
#define SRAM_LO 0x20000000u
#define SRAM_HI 0x21000000u
#define DATA_MOVE_MAX 0x10000u /* a variable moves by less than 64 KiB */

struct data_pair {
    uint32_t old_val, delta;
};

static int cmp_pair(const void *x, const void *y)
{
    const struct data_pair *a = x, *b = y;
    if (a->old_val != b->old_val)
        return a->old_val < b->old_val ? -1 : 1;
    return a->delta < b->delta ? -1 : a->delta > b->delta;
}

/*
 * Extend the flash map seg[0, nseg) (sorted) with data segments (docs/delta-format.md,
 * "Data map"): every aligned word of old holding an SRAM address is paired with the word
 * the flash map says is its place in new; each old value takes the move most of its pairs
 * show; runs of old values with one move, backed by at least 2 pairs, become segments,
 * after an identity segment at the old image's end and before a closing one past the last
 * value. Keeps at most max_segments in all (the best-supported flash segments
 * give way down to half). Returns the new count, or 0 when no data pointer moves.
 */
static size_t build_data_map(const uint8_t *old, size_t old_len, uint32_t old_origin,
                             uint32_t old_link, const uint8_t *nw, size_t new_len,
                             uint32_t new_origin, uint32_t new_link, struct segment *seg,
                             size_t nseg, size_t max_segments)
{
    uint32_t old_end = old_link + (uint32_t)(old_len - old_origin);
    if (!nseg || old_end >= SRAM_LO || old_end < old_link) /* data segments start above it */
        return 0;
    size_t cap = old_len / 4 + 1, np = 0;
    struct data_pair *pr = malloc(cap * sizeof *pr);
    struct segment *runs = malloc((cap + 2) * sizeof *runs);
    if (!pr || !runs)
        goto none;
    for (size_t i = old_origin; i + 4 <= old_len; i += 4) {
        uint32_t vo = get32le(old + i);
        if (vo < SRAM_LO || vo >= SRAM_HI)
            continue;
        uint32_t na = map_address(seg, nseg, old_link + (uint32_t)(i - old_origin));
        size_t j = (size_t)(na - new_link) + new_origin;
        if (na < new_link || j + 4 > new_len)
            continue;
        uint32_t vn = get32le(nw + j);
        if (vn < SRAM_LO || vn >= SRAM_HI || vn - vo + DATA_MOVE_MAX >= 2 * DATA_MOVE_MAX)
            continue;
        pr[np].old_val = vo;
        pr[np].delta = vn - vo;
        np++;
    }
    qsort(pr, np, sizeof *pr, cmp_pair);
    /* One move per old value (the most frequent), then runs of equal moves. */
    size_t nr = 0;
    for (size_t k = 0; k < np;) {
        size_t end = k, best_n = 0;
        uint32_t best_d = 0;
        while (end < np && pr[end].old_val == pr[k].old_val)
            end++;
        for (size_t a = k; a < end;) {
            size_t b = a;
            while (b < end && pr[b].delta == pr[a].delta)
                b++;
            if (b - a > best_n) {
                best_n = b - a;
                best_d = pr[a].delta;
            }
            a = b;
        }
        if (nr && runs[nr - 1].delta == best_d) {
            runs[nr - 1].support += (uint32_t)best_n;
            runs[nr - 1].values++;
        } else {
            runs[nr].addr = pr[k].old_val;
            runs[nr].delta = best_d;
            runs[nr].support = (uint32_t)best_n;
            runs[nr].values = 1;
            nr++;
        }
        k = end;
    }
    uint32_t last = np ? pr[np - 1].old_val + 4 : 0;
    size_t kept = 0, moved = 0;
    for (size_t k = 0; k < nr; k++)
        if (runs[k].support >= 4 && runs[k].values >= 2 && (!kept || runs[kept - 1].delta != runs[k].delta)) {
            runs[kept++] = runs[k];
            moved += runs[k].delta != 0;
        }
    if (!moved)
        goto none;
    /* Room: flash and data segments share max_segments; two are the identity at the old
     * image's end and the closing one. Flash segments give way down to half. */
    size_t room = max_segments - 2, flash_room = nseg;
    if (flash_room + kept > room)
        flash_room = room - kept < room / 2 ? room / 2 : room - kept;
    if (flash_room > nseg)
        flash_room = nseg;
    if (kept > room - flash_room) {
        qsort(runs, kept, sizeof *runs, cmp_seg_support);
        kept = room - flash_room;
        qsort(runs, kept, sizeof *runs, cmp_seg_addr);
    }
    if (nseg > flash_room) {
        qsort(seg, nseg, sizeof *seg, cmp_seg_support);
        nseg = flash_room;
        qsort(seg, nseg, sizeof *seg, cmp_seg_addr);
    }
    seg[nseg].addr = old_end;
    seg[nseg].delta = 0;
    seg[nseg].support = seg[nseg].values = 0;
    nseg++;
    for (size_t k = 0; k < kept; k++)
        if (runs[k].delta != seg[nseg - 1].delta)
            seg[nseg++] = runs[k];
    seg[nseg].addr = last > seg[nseg - 1].addr ? last : seg[nseg - 1].addr + 4;
    seg[nseg].delta = 0;
    seg[nseg].support = seg[nseg].values = 0;
    nseg++;
    free(pr);
    free(runs);
    return nseg;
none:
    free(pr);
    free(runs);
    return 0;
}

/*
 * Links found from the images alone are 16 KiB boundaries near the true ones, each image's
 * on its own. Try for the old link the shifts -16 KiB .. +16 KiB - 256 (steps of 256), with
 * the new link as found or equal to the old one: the pair where the flash map (seg, found
 * with the links as given; other links move its starts and change its moves by a constant)
 * predicts the most aligned pointer words of old exactly (map(v) equals the word at the
 * place of v's word in new, and differs from v) wins, if it predicts at least 1/16 more
 * than the links as given. Updates *old_link, *new_link and seg.
 */
static void refine_links(const uint8_t *old, size_t old_len, uint32_t old_origin,
                         uint32_t *old_link, const uint8_t *nw, size_t new_len,
                         uint32_t new_origin, uint32_t *new_link, struct segment *seg,
                         size_t nseg)
{
    size_t n = 0, best_count = 0, given = 0;
    uint32_t o = *old_link, nl = *new_link, span = (uint32_t)(old_len - old_origin);
    uint32_t best_o = o, best_n = nl;
    struct { uint32_t val, actual; } *w = malloc((old_len / 4 + 1) * sizeof *w);
    if (!w || !nseg)
        goto out;
    for (size_t i = old_origin; i + 4 <= old_len; i += 4) { /* pointer-like words and their fate */
        uint32_t v = get32le(old + i);
        if (v - (o - 0x4000) >= span + 0x8000)
            continue;
        uint32_t na = map_address(seg, nseg, o + (uint32_t)(i - old_origin));
        size_t j = (size_t)(na - nl) + new_origin;
        if (na < nl || j + 4 > new_len)
            continue;
        w[n].val = v;
        w[n].actual = get32le(nw + j);
        n++;
    }
    for (int same = 0; same <= (o != nl); same++)
        for (uint32_t shift = (uint32_t)-0x4000; shift != 0x4000; shift += 256) {
            uint32_t o2 = o + shift, n2 = same ? o2 : nl + shift;
            uint32_t dd = (n2 - o2) - (nl - o); /* the change of every move */
            size_t count = 0;
            for (size_t k = 0; k < nseg; k++) {
                seg[k].addr += shift;
                seg[k].delta += dd;
            }
            for (size_t k = 0; k < n; k++)
                if (w[k].val - o2 < span && w[k].val != w[k].actual &&
                    map_address(seg, nseg, w[k].val) == w[k].actual)
                    count++;
            for (size_t k = 0; k < nseg; k++) {
                seg[k].addr -= shift;
                seg[k].delta -= dd;
            }
            if (!shift && !same)
                given = count;
            if (count > best_count) {
                best_count = count;
                best_o = o2;
                best_n = n2;
            }
        }
    if (best_count < given + given / 16 + 1)
        goto out;
    for (size_t k = 0; k < nseg; k++) {
        seg[k].addr += best_o - o;
        seg[k].delta += (best_n - best_o) - (nl - o);
    }
    *old_link = best_o;
    *new_link = best_n;
out:
    free(w);
}

struct enc {
    const struct alh_delta_opts *o;
    uint8_t *virt;      /* transformed old ++ transformed new */
    size_t old_len, new_len;
    const uint8_t *new_raw;
    unsigned lc, lp, pb;
    uint32_t old_origin, new_origin, old_link, new_link;
    struct segment *seg; /* the address map in use (use_map()) */
    size_t nseg;
    int data;            /* it also covers data pointers (AL_DELTA_FLAG_DATA) */
    struct segment *maps[2]; /* the maps found: flash alone, flash and data */
    size_t nmaps[2];
};

/* Make map 0 (none), 1 (flash) or 2 (flash and data) the one in use. */
static void use_map(struct enc *e, int map)
{
    e->seg = map ? e->maps[map - 1] : NULL;
    e->nseg = map ? e->nmaps[map - 1] : 0;
    e->data = map == 2;
}

/* The LZMA options of every block: preset 9 (6 with fast; 9 gave smaller patches than 9e
 * on 14 of the 17 Electron pairs, and is faster), lc/lp/pb of the stream; the
 * profile uses the quick PROFILE_PRESET (profile nonzero). */
#define PROFILE_PRESET 1
#ifndef PROFILE_DEPTH
#define PROFILE_DEPTH 4
#endif
#ifndef PROFILE_NICE
#define PROFILE_NICE 64
#endif
static int block_options(const struct enc *e, lzma_options_lzma *opt, int profile)
{
    if (lzma_lzma_preset(opt, profile ? PROFILE_PRESET : e->o->fast ? 6 : 9))
        return -1;
    if (profile) { /* a short chain: random data would walk every chain to its depth */
        opt->mode = LZMA_MODE_FAST;
        opt->mf = LZMA_MF_HC4;
        opt->nice_len = PROFILE_NICE;
        opt->depth = PROFILE_DEPTH;
    }
    opt->lc = e->lc;
    opt->lp = e->lp;
    opt->pb = e->pb;
    return 0;
}

/* One block on its own: raw LZMA1 of virt[old_len + start, +len) with the preset dictionary
 * the last `window` bytes before it (all of virt[0, old_len + start) if window is 0 or
 * larger). A shorter window keeps the virtual position modulo 16, so pos_state and the
 * literal position bits stay those the decoder uses; a short window is for data that does
 * not compress, so it is coded with the quick PROFILE_PRESET. The cost is that of hashing
 * the whole window, so the streaming encoder below uses this only where it gives no block.
 * Returns the stream length, or 0 on failure. */
static size_t encode_block(const struct enc *e, size_t start, size_t len, size_t window,
                           uint8_t *out, size_t cap)
{
    lzma_options_lzma opt;
    if (block_options(e, &opt, window != 0))
        return 0;
    size_t dict_len = e->old_len + start;
    if (window && window < dict_len)
        dict_len -= (dict_len - window) & ~(size_t)15;
    size_t need = dict_len + len;
    opt.dict_size = need < LZMA_DICT_SIZE_MIN ? LZMA_DICT_SIZE_MIN : (uint32_t)need;
    opt.preset_dict = dict_len ? e->virt + e->old_len + start - dict_len : NULL;
    opt.preset_dict_size = (uint32_t)dict_len;
    opt.ext_flags = 0; /* no end marker: the block header gives the output length */
    lzma_filter filters[2] = {{LZMA_FILTER_LZMA1EXT, &opt}, {LZMA_VLI_UNKNOWN, NULL}};
    size_t pos = 0;
    if (lzma_raw_buffer_encode(filters, NULL, e->virt + e->old_len + start, len, out, &pos, cap) != LZMA_OK)
        return 0;
    return pos;
}

/*
 * The streaming encoder: one liblzma raw LZMA2 encoder over all of T(new), with T(old) as
 * its preset dictionary, hashed once. A sync flush ends an LZMA2 chunk (the range coder is
 * flushed, the next chunk starts a new one), so with the dictionary kept and the model reset
 * an LZMA2 chunk's data is exactly one block's LZMA1 data. liblzma resets the model of the
 * next chunk when lc/lp/pb change; setting other values and then ours again after a flush
 * asks for that reset with our parameters. Cost: linear in old + new, where one LZMA1 run
 * per block with the whole preceding buffer as its preset dictionary is quadratic.
 */
struct lz2 {
    lzma_stream strm;
    lzma_options_lzma opt;
    uint8_t *buf; /* the output of the last flush */
    size_t cap, len;
};

static int lz2_begin(struct lz2 *z, const struct enc *e, size_t cap, int profile)
{
    lzma_stream init = LZMA_STREAM_INIT;
    z->strm = init;
    z->buf = malloc(cap);
    z->cap = cap;
    z->len = 0;
    if (!z->buf || block_options(e, &z->opt, profile))
        return -1;
    size_t need = e->old_len + e->new_len;
    z->opt.dict_size = need < LZMA_DICT_SIZE_MIN ? LZMA_DICT_SIZE_MIN : (uint32_t)need;
    z->opt.preset_dict = e->old_len ? e->virt : NULL;
    z->opt.preset_dict_size = (uint32_t)e->old_len;
    lzma_filter filters[2] = {{LZMA_FILTER_LZMA2, &z->opt}, {LZMA_VLI_UNKNOWN, NULL}};
    return lzma_raw_encoder(&z->strm, filters) == LZMA_OK ? 0 : -1;
}

static void lz2_end(struct lz2 *z)
{
    lzma_end(&z->strm);
    free(z->buf);
}

/* Encode in[0, len) as the next LZMA2 chunk(s), with a fresh model if reset; the chunks are
 * in z->buf[0, z->len). */
static int lz2_chunk(struct lz2 *z, const uint8_t *in, size_t len, int reset)
{
    if (reset) {
        lzma_options_lzma other = z->opt;
        other.lc = z->opt.lc ? 0 : 1; /* any other valid lc; lc + lp <= 2 here */
        lzma_filter f1[2] = {{LZMA_FILTER_LZMA2, &other}, {LZMA_VLI_UNKNOWN, NULL}};
        lzma_filter f2[2] = {{LZMA_FILTER_LZMA2, &z->opt}, {LZMA_VLI_UNKNOWN, NULL}};
        if (lzma_filters_update(&z->strm, f1) != LZMA_OK || lzma_filters_update(&z->strm, f2) != LZMA_OK)
            return -1;
    }
    z->strm.next_in = in;
    z->strm.avail_in = len;
    z->strm.next_out = z->buf;
    z->strm.avail_out = z->cap;
    lzma_ret r;
    while ((r = lzma_code(&z->strm, LZMA_SYNC_FLUSH)) == LZMA_OK)
        if (z->strm.avail_out == 0)
            return -1;
    if (r != LZMA_STREAM_END)
        return -1;
    z->len = z->cap - z->strm.avail_out;
    return 0;
}

/* The LZMA1 data of z->buf if it is one LZMA2 chunk of exactly len bytes that starts with a
 * fresh model: *data, returns its length. 0: not so; *stored = 1 if every chunk was stored
 * (the data did not compress). */
static size_t lz2_block_data(const struct lz2 *z, size_t len, const uint8_t **data, int *stored)
{
    const uint8_t *b = z->buf;
    size_t n = z->len, pos = 0;
    *stored = 1;
    while (pos < n) { /* check the chunk kinds */
        uint8_t c = b[pos];
        if (c == 1 || c == 2) {
            if (pos + 3 > n)
                return 0;
            pos += 3 + ((size_t)b[pos + 1] << 8 | b[pos + 2]) + 1;
        } else if (c >= 0x80 && pos + 5 <= n) {
            *stored = 0;
            pos += 5 + (c >= 0xC0) + ((size_t)b[pos + 3] << 8 | b[pos + 4]) + 1;
        } else {
            *stored = 0;
            return 0;
        }
    }
    if (n < 6 || b[0] < 0xA0)
        return 0;
    size_t unpacked = ((size_t)(b[0] & 0x1F) << 16 | (size_t)b[1] << 8 | b[2]) + 1;
    size_t packed = ((size_t)b[3] << 8 | b[4]) + 1, hdr = 5 + (b[0] >= 0xC0);
    if (unpacked != len || hdr + packed != n)
        return 0;
    *data = b + hdr;
    return packed;
}

#define PROFILE_PIECE 1024
#define BLOCK_OUT_MAX ((size_t)1 << 20) /* below LZMA2's 2 MiB per chunk */

/* The cost profile of T(new) in the current transforms: the LZMA2 bytes of each
 * PROFILE_PIECE of output, coded in one run with the model carried on and the quick
 * PROFILE_PRESET. Returns the total (an estimate of the stream's size), 0 on failure. */
static size_t profile_stream(const struct enc *e, uint32_t *cost)
{
    struct lz2 z;
    size_t total = 0;
    if (lz2_begin(&z, e, PROFILE_PIECE * 2 + 4096, 1) != 0)
        goto out;
    for (size_t p = 0, k = 0; p < e->new_len; p += PROFILE_PIECE, k++) {
        size_t len = e->new_len - p < PROFILE_PIECE ? e->new_len - p : PROFILE_PIECE;
        if (lz2_chunk(&z, e->virt + e->old_len + p, len, 0) != 0) {
            total = 0;
            goto out;
        }
        size_t c = z.len, over = z.buf[0] >= 0x80 ? 10 : 3; /* chunk header, range coder ends */
        cost[k] = c > over ? (uint32_t)(c - over) : 1;
        total += cost[k];
    }
    total += 1;
out:
    lz2_end(&z);
    return total;
}

/* May a block end at output offset b (a multiple of 16 before the end)? Not if the halfword
 * before b could start a branch: the decoder would need the next block to decide. */
static int boundary_ok(const struct enc *e, size_t b, uint32_t new_origin)
{
    return b < new_origin + 2 || (e->virt[e->old_len + b - 1] & 0xF8) != 0xF0;
}

/* Fill virt with T(old) ++ T(new) in the transforms given. */
static void prepare(struct enc *e, const uint8_t *old, int thumb, int map)
{
    if (e->old_len)
        memcpy(e->virt, old, e->old_len);
    if (e->new_len)
        memcpy(e->virt + e->old_len, e->new_raw, e->new_len);
    transform(e->virt, e->old_len, e->old_origin, e->old_link, thumb, map ? e->seg : NULL, e->nseg, e->data);
    transform(e->virt + e->old_len, e->new_len, e->new_origin, e->new_link, thumb, NULL, 0, 0);
}

/* Encode the whole stream from virt (prepare() with the same thumb and map), with block
 * boundaries chosen from cost (profile_stream()), or with cost NULL from the ratio of the
 * block before; returns the length or 0. */
static size_t encode_stream(struct enc *e, int thumb, int map, const uint32_t *cost, uint8_t *out,
                            size_t cap)
{
    uint32_t target = e->o->block_target ? e->o->block_target : ALH_DELTA_BLOCK_TARGET;
    /* Stream header. */
    memcpy(out, AL_DELTA_MAGIC, 4);
    out[4] = AL_DELTA_FORMAT_VERSION;
    out[5] = e->old_len ? AL_DELTA_KIND_PATCH : AL_DELTA_KIND_FULL;
    out[6] = (uint8_t)((thumb ? AL_DELTA_FLAG_THUMB : 0) | (map ? AL_DELTA_FLAG_MAP : 0) |
                       (map && e->data ? AL_DELTA_FLAG_DATA : 0) | (map ? AL_DELTA_FLAG_MAPREL : 0));
    out[7] = (uint8_t)(e->lc | e->lp << 2 | e->pb << 4);
    put32(out + 8, (uint32_t)e->old_len);
    put32(out + 12, (uint32_t)e->new_len);
    out[16] = (uint8_t)e->old_origin;
    out[17] = (uint8_t)(e->old_origin >> 8);
    out[18] = (uint8_t)e->new_origin;
    out[19] = (uint8_t)(e->new_origin >> 8);
    put32(out + 20, e->old_link);
    put32(out + 24, e->new_link);
    put32(out + 28, (uint32_t)lzma_crc32(out, 28, 0));
    size_t n = AL_DELTA_HEADER_SIZE;
    if (map) { /* the address map: count, (gap, zigzag delta change) per segment, CRC-32 */
        size_t m0 = n;
        uint32_t prev = e->old_link, prev_delta = 0;
        n += put_varint(out + n, (uint32_t)e->nseg);
        for (size_t k = 0; k < e->nseg; k++) {
            n += put_varint(out + n, e->seg[k].addr - prev);
            prev = e->seg[k].addr;
            int32_t d = (int32_t)(e->seg[k].delta - prev_delta); /* AL_DELTA_FLAG_MAPREL */
            prev_delta = e->seg[k].delta;
            n += put_varint(out + n, ((uint32_t)d << 1) ^ (uint32_t)(d >> 31));
        }
        put32(out + n, (uint32_t)lzma_crc32(out + m0, n - m0, 0));
        n += 4;
    }

    /* Blocks: from the profile, the shortest run of output (at least 1 KiB) whose estimated
     * stream reaches `target` bytes, moved on while a branch would straddle its end. The
     * profile's quick preset is calibrated by the real size of the blocks before. */
    size_t max_out = BLOCK_OUT_MAX, tmp_cap = e->new_len + e->new_len / 8 + 4096;
    if (e->o->block_max_out && e->o->block_max_out < max_out)
        max_out = e->o->block_max_out;
    max_out &= ~(size_t)(AL_DELTA_WRITE_ALIGN - 1);
    if (!max_out)
        max_out = AL_DELTA_WRITE_ALIGN;
    struct lz2 z;
    uint8_t *tmp = malloc(tmp_cap);
    size_t start = 0;
    if (!tmp || lz2_begin(&z, e, tmp_cap, 0) != 0) {
        free(tmp);
        return 0;
    }
    double ratio = e->old_len ? 0.05 : 0.6; /* without a profile: stream bytes per output byte */
    double done_est = 0, done_real = 0; /* the profile's estimate of the blocks so far, and their size */
    while (start < e->new_len) {
        size_t left = e->new_len - start, end = start;
        double acc = 0, scale = done_est > 0 ? done_real / done_est : 1.0;
        if (!cost) { /* no profile: the ratio of the block before predicts this one */
            double want = (double)target / ratio;
            end = want >= (double)left ? e->new_len : start + (size_t)want;
            if (end - start > max_out)
                end = start + max_out;
            if (end - start < 1024 && left > 1024)
                end = start + 1024;
        }
        while (cost && end < e->new_len && end - start < max_out) {
            size_t k = end / PROFILE_PIECE, p0 = k * PROFILE_PIECE, p1 = p0 + PROFILE_PIECE;
            if (p1 > e->new_len)
                p1 = e->new_len;
            size_t step = p1 - end;
            if (step > max_out - (end - start))
                step = max_out - (end - start);
            acc += (double)cost[k] * (double)step / (double)(p1 - p0);
            end += step;
            if (acc * scale >= target && end - start >= 1024)
                break;
        }
        size_t len = end - start;
        if (len < left)
            len &= ~(size_t)(AL_DELTA_WRITE_ALIGN - 1);
        if (len == 0)
            len = left < AL_DELTA_WRITE_ALIGN ? left : AL_DELTA_WRITE_ALIGN;
        /* No branch may straddle a block boundary: the decoder finishes each block. */
        while (thumb && len < left && !boundary_ok(e, start + len, e->new_origin))
            len += AL_DELTA_WRITE_ALIGN;
        if (len > left)
            len = left;
        const uint8_t *data = NULL;
        int stored = 0;
        size_t clen = 0;
        if (lz2_chunk(&z, e->virt + e->old_len + start, len, 1) != 0)
            goto fail;
        clen = lz2_block_data(&z, len, &data, &stored);
        if (!clen) { /* stored (it did not compress: a short window does as well), or more
                      * than one chunk: code this block on its own */
            clen = encode_block(e, start, len, stored ? 64 : 0, tmp, tmp_cap);
            data = tmp;
            if (!clen)
                goto fail;
        }
        if (n + BLOCK_HEADER_MAX + clen > cap)
            goto fail;
        out[n++] = 1; /* an LZMA block */
        n += put_varint(out + n, (uint32_t)start);
        n += put_varint(out + n, (uint32_t)len);
        n += put_varint(out + n, (uint32_t)clen);
        put32(out + n, (uint32_t)lzma_crc32(e->virt + e->old_len + start, len, 0));
        n += 4;
        memcpy(out + n, data, clen);
        n += clen;
        start += len;
        done_est += acc;
        done_real += (double)clen;
        ratio = (double)clen / (double)len;
        if (ratio < 0.002)
            ratio = 0.002;
    }
    lz2_end(&z);
    free(tmp);
    return n;
fail:
    lz2_end(&z);
    free(tmp);
    return 0;
}

/* Images up to this size are encoded in full in every variant whose estimate is close. */
#define VARIANTS 6 /* branches off/on x no map, flash map, flash and data map */
#define FULL_TRIES_MAX ((size_t)512 << 10)

/* How many 32-bit BL/B.W patterns new holds (at even offsets from origin); random bytes
 * hold one per 512 bytes. */
static size_t count_branches(const uint8_t *b, size_t len, size_t origin)
{
    size_t c = 0;
    for (size_t s = origin; s + 4 <= len; s += 2)
        c += al_thumb2_is_branch(b[s + 1], b[s + 3]);
    return c;
}

int alh_delta_encode(const uint8_t *old, size_t old_len, const uint8_t *new_data, size_t new_len,
                     const struct alh_delta_opts *opts, uint8_t **out, size_t *out_len, char *err,
                     size_t errlen)
{
    struct alh_delta_opts defaults;
    struct enc e;
    uint8_t *best = NULL, *cand = NULL;
    uint32_t *cost = NULL; /* the profile of each variant, npieces each */
    struct segment *votes = NULL; /* map_votes() */
    size_t best_len = 0, npieces = 0;
    int rc = -1;
    *out = NULL;
    *out_len = 0;
    if (!opts) {
        alh_delta_opts_default(&defaults);
        opts = &defaults;
    }
    if (new_len > AL_DELTA_MAX_SIZE || old_len > AL_DELTA_MAX_SIZE ||
        (old_len && !old)) {
        snprintf(err, errlen, "sizes out of range (new 1..%u bytes, old 0..%u)", AL_DELTA_MAX_SIZE,
                 AL_DELTA_MAX_SIZE);
        return -1;
    }
    memset(&e, 0, sizeof e);
    e.o = opts;
    e.old_len = old_len;
    e.new_len = new_len;
    e.new_raw = new_data;
    e.lc = opts->lc >= 0 ? (unsigned)opts->lc : 0;
    e.lp = opts->lp >= 0 ? (unsigned)opts->lp : 1;
    e.pb = opts->pb >= 0 ? (unsigned)opts->pb : 1;
    if (e.lc + e.lp > 2 || e.pb > 2) {
        snprintf(err, errlen, "LZMA parameters out of range (lc + lp <= 2, pb <= 2)");
        return -1;
    }
    /* Links and the map are found from the slot's own image alone (old_primary); the
     * transforms then cover all of old by offset, as the decoder applies them. */
    size_t prim = opts->old_primary && opts->old_primary < old_len ? opts->old_primary : old_len;
    e.old_origin = opts->old_origin >= 0 ? (uint32_t)opts->old_origin : detect_origin(old, prim);
    e.new_origin = opts->new_origin >= 0 ? (uint32_t)opts->new_origin : detect_origin(new_data, new_len);
    if (e.old_origin > 0xFFFF || e.new_origin > 0xFFFF || (e.old_origin | e.new_origin) & 1 ||
        e.old_origin > prim || e.new_origin > new_len) {
        snprintf(err, errlen, "code origins must be even, inside the images and below 65536");
        return -1;
    }
    int old_known = old_len && opts->old_link, new_known;
    /* both links from the images' words alone (to 16 KiB): refined with the map below */
    int links_found = !opts->old_link && !(e.new_origin && new_len >= 52 && memcmp(new_data, "ALIM", 4) == 0);
    e.old_link = !old_len ? 0 : opts->old_link ? opts->old_link : detect_link(old, prim, e.old_origin, &old_known);
    e.new_link = detect_link(new_data, new_len, e.new_origin, &new_known);
    if (!old_known || !new_known) {
        e.old_link = e.new_link = 0; /* no addresses known: branches stay image-relative */
        old_known = 0;
    }
    size_t cap = AL_DELTA_HEADER_SIZE + 4 + 10 * AL_DELTA_MAX_SEGMENTS + new_len + new_len / 8 + 4096;
    e.virt = malloc(old_len + new_len + 1);
    e.maps[0] = malloc((new_len / 4 + 1 + old_len / 2 + 1) * sizeof *e.maps[0]);
    e.maps[1] = malloc((AL_DELTA_MAX_SEGMENTS + 1) * sizeof *e.maps[1]); /* a map, data included */
    best = malloc(cap);
    cand = malloc(cap);
    npieces = new_len / PROFILE_PIECE + 1;
    cost = malloc(VARIANTS * npieces * sizeof *cost);
    votes = malloc((old_len / 2 + 1) * sizeof *votes);
    if (!e.virt || !e.maps[0] || !e.maps[1] || !best || !cand || !cost || !votes) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    /* The map has the room the model leaves (include/airlift/delta.h): 512 segments with the
     * default lc + lp = 1. */
    size_t max_segments = AL_DELTA_SEGMENTS_MAX(e.lc + e.lp);
    if (old_known) { /* the flash map, again with the votes of the first, and with data pointers */
        e.nmaps[0] = build_map(old, prim, e.old_origin, e.old_link, new_data, new_len,
                               e.new_origin, e.new_link, e.maps[0], max_segments, NULL, 0);
        if (links_found)
            refine_links(old, prim, e.old_origin, &e.old_link, new_data, new_len,
                         e.new_origin, &e.new_link, e.maps[0], e.nmaps[0]);
        size_t nvotes = map_votes(old, prim, e.old_origin, e.old_link, new_data, new_len,
                                  e.new_origin, e.new_link, e.maps[0], e.nmaps[0], votes);
        if (nvotes)
            e.nmaps[0] = build_map(old, prim, e.old_origin, e.old_link, new_data, new_len,
                                   e.new_origin, e.new_link, e.maps[0], max_segments, votes,
                                   nvotes);
        memcpy(e.maps[1], e.maps[0], e.nmaps[0] * sizeof *e.maps[0]);
        if (opts->data != 0)
            e.nmaps[1] = build_data_map(old, prim, e.old_origin, e.old_link, new_data, new_len,
                                        e.new_origin, e.new_link, e.maps[1], e.nmaps[0], max_segments);
    }
    /* Every allowed variant (branches off/on x no map, the flash map, the map with data
     * pointers) is profiled (one quick linear LZMA2 run); the best is encoded in
     * full, and for images up to FULL_TRIES_MAX also those within 3 % of its estimate; the
     * smallest stream is kept. Where branch patterns occur at most 4 times as often as in
     * random bytes (one per 512 bytes; Thumb code: 16 to 33 times) the branch transform
     * cannot pay and is not tried (unless asked for). */
    size_t est[VARIANTS] = {0}, best_est = 0, tries = 0;
    size_t branches = count_branches(new_data, new_len, e.new_origin) * 512, code = new_len - e.new_origin;
    int allowed[VARIANTS], thumb_pays = branches >= 2 * code;
    for (int variant = 0; variant < VARIANTS; variant++) {
        int thumb = variant & 1, map = variant >> 1;
        allowed[variant] = !((opts->thumb >= 0 && thumb != opts->thumb) ||
                             (opts->thumb < 0 && thumb && !thumb_pays) ||
                             (map && (!e.nmaps[map - 1] || opts->map == 0)) ||
                             (!map && opts->map == 1 && e.nmaps[0]) ||
                             (map == 1 && opts->data == 1 && e.nmaps[1]));
        tries += (size_t)allowed[variant];
    }
    for (int variant = 0; variant < VARIANTS && tries > 1; variant++) {
        int thumb = variant & 1, map = variant >> 1;
        if (!allowed[variant])
            continue;
        use_map(&e, map);
        prepare(&e, old, thumb, map);
        if (!(est[variant] = profile_stream(&e, cost + variant * npieces))) {
            snprintf(err, errlen, "LZMA encoder failed");
            goto out;
        }
        if (!best_est || est[variant] < best_est)
            best_est = est[variant];
    }
    for (int variant = 0; variant < VARIANTS; variant++) {
        int thumb = variant & 1, map = variant >> 1;
        if (tries == 1 && allowed[variant])
            est[variant] = best_est = 1; /* the only one: no profile needed */
        if (!est[variant] || (est[variant] > best_est &&
                              (new_len > FULL_TRIES_MAX || est[variant] > best_est + best_est / 33)))
            continue;
        use_map(&e, map);
        prepare(&e, old, thumb, map);
        size_t n = encode_stream(&e, thumb, map, tries > 1 ? cost + variant * npieces : NULL, cand, cap);
        if (!n) {
            snprintf(err, errlen, "LZMA encoder failed");
            goto out;
        }
        if (!best_len || n < best_len) {
            uint8_t *t = best;
            best = cand;
            cand = t;
            best_len = n;
        }
    }
    *out = best;
    *out_len = best_len;
    best = NULL;
    rc = 0;
out:
    free(e.virt);
    free(e.maps[0]);
    free(e.maps[1]);
    free(votes);
    free(best);
    free(cand);
    free(cost);
    return rc;
}
