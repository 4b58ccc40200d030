/*
 * delta.c - streaming decoder of delta patches and compressed full images
 * (docs/delta-format.md): an LZMA1 decoder whose window is the old image followed by the
 * output, read back from flash, with the Thumb-2 branch transform undone on the fly.
 *
 * Data flow: stream bytes -> inbuf (look-ahead) -> range decoder -> LZMA symbols -> bytes of
 * the transformed output ("T domain") -> ring (recent T bytes) -> finalize (inverse Thumb-2
 * transform) -> outbuf -> write_new. Window bytes come from the ring when recent, else from
 * flash (read_old / read_new) through a small cache, transformed forward again.
 */
#include "airlift/delta.h"
#include "airlift/thumb2.h"
#include "bytes.h"
#include "crc32.h"

#include <string.h>

/* Parser phases. */
enum { PH_HEADER, PH_MAP, PH_BLOCK_HEADER, PH_BLOCK_DATA, PH_DONE, PH_ERROR };

#define BLOCK_TAG_LZMA 1
#define BLOCK_HEADER_MAX 20 /* tag, three varints of up to 5 bytes, CRC-32 */
#define LOOKAHEAD 32        /* input bytes one LZMA symbol may need, at most (20), rounded up */

/* LZMA model layout in probs[] (pb <= 2: 4 position states). */
#define NUM_STATES 12
#define POS_STATES 4
#define P_IS_MATCH 0
#define P_IS_REP (P_IS_MATCH + NUM_STATES * POS_STATES)
#define P_IS_REP0 (P_IS_REP + NUM_STATES)
#define P_IS_REP1 (P_IS_REP0 + NUM_STATES)
#define P_IS_REP2 (P_IS_REP1 + NUM_STATES)
#define P_IS_REP0_LONG (P_IS_REP2 + NUM_STATES)
#define P_POS_SLOT (P_IS_REP0_LONG + NUM_STATES * POS_STATES)
#define P_SPEC_POS (P_POS_SLOT + 4 * 64)
#define P_ALIGN (P_SPEC_POS + 115)
#define P_LEN (P_ALIGN + 16)
#define LEN_CHOICE 0
#define LEN_CHOICE2 1
#define LEN_LOW 2
#define LEN_MID (LEN_LOW + POS_STATES * 8)
#define LEN_HIGH (LEN_MID + POS_STATES * 8)
#define LEN_PROBS (LEN_HIGH + 256)
#define P_REP_LEN (P_LEN + LEN_PROBS)
#define P_LITERAL (P_REP_LEN + LEN_PROBS)

typedef char probs_layout_check[(P_LITERAL == 1175 && AL_DELTA_PROBS == 1175 + 0x300 * 4) ? 1 : -1];
typedef char map_room_check[(AL_DELTA_SEGMENTS_MAX(0) == 896 - (192 << 0) && AL_DELTA_SEGMENTS_MAX(1) == 896 - (192 << 1) &&
                             AL_DELTA_SEGMENTS_MAX(2) == 896 - (192 << 2) && AL_DELTA_SEGMENTS_MAX(2) == 128) ? 1 : -1];
typedef char ring_pow2_check[(AL_DELTA_RING & (AL_DELTA_RING - 1)) == 0 ? 1 : -1];

static void fail(struct al_delta *st, al_err err)
{
    if (st->err == AL_OK)
        st->err = err;
    st->phase = PH_ERROR;
}

/* ---- Thumb-2 branch transform -------------------------------------------------------- */

/* ---- Window reads -------------------------------------------------------------------- */

/* Raw (untransformed) byte at virtual position v (old image, then output) from flash, via the
 * cache. limit: first virtual position that may not be read. Returns -1 if unavailable. */
static int raw_byte(struct al_delta *st, uint32_t v)
{
    uint32_t old = st->hdr.old_size;
    uint32_t base = v < old ? 0 : old;
    uint32_t limit = v < old ? old : old + st->flushed;
    if (v >= limit)
        return -1;
    if (v < st->cache_pos || v - st->cache_pos >= st->cache_len) {
        uint32_t start = v - base >= 4 ? v - 4 : base;
        uint32_t n = limit - start < AL_DELTA_CACHE ? limit - start : AL_DELTA_CACHE;
        al_err err = v < old ? st->io.read_old(st->io.ctx, start, st->cache, n)
                             : st->io.read_new(st->io.ctx, start - old, st->cache, n);
        if (err != AL_OK) {
            fail(st, err);
            st->cache_len = 0;
            return -1;
        }
        st->cache_pos = start;
        st->cache_len = (uint16_t)n;
    }
    return st->cache[v - st->cache_pos];
}

/* Old address a -> new address, by the address map (identity before its first segment). */
static uint32_t map_address(const struct al_delta *st, uint32_t a)
{
    const uint32_t *top = &st->area.words[AL_DELTA_AREA_WORDS]; /* segment i at top[-2 - 2i] */
    unsigned lo = 0, hi = st->seg_count; /* find the last segment starting at or below a */
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (top[-2 - 2 * (int)mid] <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? a + top[1 - 2 * (int)lo] : a;
}

/* Does a branch start at offset s of the region at virtual base (raw bytes)? */
static int branch_at(struct al_delta *st, uint32_t base, uint32_t size, uint32_t origin, uint32_t s)
{
    if (s < origin || s > size || size - s < 4)
        return 0;
    int b1 = raw_byte(st, base + s + 1);
    if (b1 < 0 || (b1 & 0xF8) != 0xF0)
        return 0;
    int b3 = raw_byte(st, base + s + 3);
    return b3 >= 0 && al_thumb2_is_branch((uint8_t)b1, (uint8_t)b3);
}

static void raw_window(struct al_delta *st, uint32_t v, uint8_t *w)
{
    for (uint32_t i = 0; i < 4; i++) {
        int b = raw_byte(st, v + i);
        w[i] = (uint8_t)(b < 0 ? 0 : b);
    }
}

/* Transformed byte at virtual position v, read from flash: in a branch, the byte of its
 * absolute target; in the old image with an address map, branch targets and pointer words
 * to the old image are mapped to the new addresses. */
static uint8_t flash_byte(struct al_delta *st, uint32_t v)
{
    const uint32_t old = st->hdr.old_size;
    const int thumb = st->hdr.flags & AL_DELTA_FLAG_THUMB;
    int raw = raw_byte(st, v);
    if (raw < 0)
        return 0;
    const int is_old = v < old;
    const int map = is_old && (st->hdr.flags & AL_DELTA_FLAG_MAP);
    if (!thumb && !map)
        return (uint8_t)raw;
    uint32_t base = is_old ? 0 : old;
    uint32_t origin = is_old ? st->hdr.old_origin : st->hdr.new_origin;
    uint32_t size = is_old ? old : st->hdr.new_size;
    uint32_t link = is_old ? st->hdr.old_link : st->hdr.new_link;
    uint32_t q = v - base;
    uint8_t w[4];
    if (q < origin)
        return (uint8_t)raw;
    if (thumb) {
        uint32_t even = q - ((q - origin) & 1);
        for (uint32_t back = 0; back <= 2 && even >= origin + back; back += 2) {
            uint32_t s = even - back;
            if (!branch_at(st, base, size, origin, s))
                continue;
            raw_window(st, base + s, w);
            uint32_t off = al_thumb2_branch_get(w), here = link + (s - origin) + 4;
            if (map) /* absolute target, sign-extended offset, through the map */
                off = map_address(st, here + ((off ^ 0x200000u) - 0x200000u) * 2) >> 1;
            else
                off += here >> 1;
            al_thumb2_branch_set(w, off & 0x3FFFFF);
            return w[q - s];
        }
    }
    if (map) {
        uint32_t a = q - ((q - origin) & 3);
        if (size - a >= 4 && !(thumb && (branch_at(st, base, size, origin, a - 2) ||
                                         branch_at(st, base, size, origin, a) ||
                                         branch_at(st, base, size, origin, a + 2)))) {
            raw_window(st, base + a, w);
            uint32_t val = al_get32(w);
            uint32_t end = link + size - origin;
            if (st->hdr.flags & AL_DELTA_FLAG_DATA) { /* from the first segment to the last */
                link = st->area.words[AL_DELTA_AREA_WORDS - 2];
                end = st->area.words[AL_DELTA_AREA_WORDS - 2 * st->seg_count];
            }
            if (val - link < end - link) {
                val = map_address(st, val);
                return (uint8_t)(val >> (8 * (q - a)));
            }
        }
    }
    return (uint8_t)raw;
}

/* Transformed byte dist (>= 1, already checked) positions back from the decoding point. */
static uint8_t window_byte(struct al_delta *st, uint32_t dist)
{
    if (dist <= st->produced) {
        uint32_t p = st->produced - dist;
        if (p >= st->ring_start && dist <= AL_DELTA_RING - 8)
            return st->ring[p & (AL_DELTA_RING - 1)];
    }
    return flash_byte(st, st->hdr.old_size + st->produced - dist);
}

/* ---- Output -------------------------------------------------------------------------- */

/* Write outbuf (all of it), skipping what staging already holds. */
static void flush_out(struct al_delta *st)
{
    uint32_t off = st->flushed, len = st->out_len;
    if (len == 0 || st->phase == PH_ERROR)
        return;
    uint32_t skip = st->write_from > off ? st->write_from - off : 0;
    if (skip < len) {
        al_err err = st->io.write_new(st->io.ctx, off + skip, st->outbuf + skip, len - skip);
        if (err != AL_OK) {
            fail(st, err);
            return;
        }
    }
    st->flushed += len;
    st->out_len = 0;
}

static void emit(struct al_delta *st, const uint8_t *b, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        st->outbuf[st->out_len++] = b[i];
        if (st->out_len == AL_DELTA_OUTBUF) {
            flush_out(st);
            if (st->phase == PH_ERROR) {
                st->out_len = 0; /* a failed write: nothing more goes into the buffer */
                return;
            }
        }
    }
    st->finalized += n;
}

/* Turn T-domain bytes into image bytes as far as they can be decided. At a block end every
 * byte can: the format forbids a branch across a block boundary. */
static void finalize(struct al_delta *st)
{
    const uint32_t end = st->produced;
    const int block_end = end == st->blk_out_end;
    const int thumb = st->hdr.flags & AL_DELTA_FLAG_THUMB;
    while (st->finalized < end && st->phase != PH_ERROR) {
        uint32_t p = st->finalized;
        uint8_t w[4];
        w[0] = st->ring[p & (AL_DELTA_RING - 1)];
        if (!thumb || p < st->hdr.new_origin || p + 2 > end) {
            if (thumb && p >= st->hdr.new_origin && !block_end)
                return; /* wait for the second byte of the halfword */
            emit(st, w, 1);
            continue;
        }
        w[1] = st->ring[(p + 1) & (AL_DELTA_RING - 1)];
        if ((w[1] & 0xF8) == 0xF0 && p + 4 <= st->hdr.new_size) {
            if (p + 4 > end) {
                if (block_end)
                    fail(st, AL_ERR_PATCH_CORRUPT); /* a branch across a block boundary */
                return;
            }
            w[2] = st->ring[(p + 2) & (AL_DELTA_RING - 1)];
            w[3] = st->ring[(p + 3) & (AL_DELTA_RING - 1)];
            if (al_thumb2_is_branch(w[1], w[3])) {
                al_thumb2_branch_set(w, al_thumb2_branch_get(w) - ((st->hdr.new_link + (p - st->hdr.new_origin) + 4) >> 1));
                emit(st, w, 4);
                continue;
            }
        }
        emit(st, w, 2);
    }
}

static void put_byte(struct al_delta *st, uint8_t b)
{
    st->ring[st->produced & (AL_DELTA_RING - 1)] = b;
    st->crc = al_crc32(st->crc, &b, 1);
    st->produced++;
}

/* ---- Range decoder and LZMA ---------------------------------------------------------- */

static uint8_t in_byte(struct al_delta *st)
{
    if (st->in_pos < st->in_len)
        return st->inbuf[st->in_pos++];
    st->rc_bad = 1; /* past the block's data */
    return 0;
}

static void rc_normalize(struct al_delta *st)
{
    if (st->range < (1u << 24)) {
        st->range <<= 8;
        st->code = (st->code << 8) | in_byte(st);
    }
}

static unsigned rc_bit(struct al_delta *st, uint16_t *p)
{
    uint32_t bound = (st->range >> 11) * *p;
    unsigned bit;
    if (st->code < bound) {
        st->range = bound;
        *p = (uint16_t)(*p + ((2048 - *p) >> 5));
        bit = 0;
    } else {
        st->range -= bound;
        st->code -= bound;
        *p = (uint16_t)(*p - (*p >> 5));
        bit = 1;
    }
    rc_normalize(st);
    return bit;
}

static uint32_t rc_direct(struct al_delta *st, unsigned count)
{
    uint32_t v = 0;
    while (count--) {
        st->range >>= 1;
        uint32_t bit = st->code >= st->range;
        if (bit)
            st->code -= st->range;
        v = (v << 1) | bit;
        rc_normalize(st);
    }
    return v;
}

static uint32_t rc_tree(struct al_delta *st, uint16_t *probs, unsigned bits)
{
    uint32_t m = 1;
    for (unsigned i = 0; i < bits; i++)
        m = (m << 1) | rc_bit(st, &probs[m]);
    return m - (1u << bits);
}

static uint32_t rc_tree_reverse(struct al_delta *st, uint16_t *probs, unsigned bits)
{
    uint32_t m = 1, v = 0;
    for (unsigned i = 0; i < bits; i++) {
        unsigned bit = rc_bit(st, &probs[m]);
        m = (m << 1) | bit;
        v |= (uint32_t)bit << i;
    }
    return v;
}

static uint32_t decode_len(struct al_delta *st, uint16_t *lp, unsigned pos_state)
{
    if (!rc_bit(st, &lp[LEN_CHOICE]))
        return rc_tree(st, &lp[LEN_LOW + pos_state * 8], 3);
    if (!rc_bit(st, &lp[LEN_CHOICE2]))
        return 8 + rc_tree(st, &lp[LEN_MID + pos_state * 8], 3);
    return 16 + rc_tree(st, &lp[LEN_HIGH], 8);
}

static uint32_t decode_dist(struct al_delta *st, uint32_t len)
{
    uint32_t len_state = len < 3 ? len : 3;
    uint32_t slot = rc_tree(st, &st->area.probs[P_POS_SLOT + len_state * 64], 6);
    if (slot < 4)
        return slot;
    unsigned direct = (slot >> 1) - 1;
    uint32_t dist = (2 | (slot & 1)) << direct;
    if (slot < 14)
        return dist + rc_tree_reverse(st, &st->area.probs[P_SPEC_POS + dist - slot], direct);
    dist += rc_direct(st, direct - 4) << 4;
    return dist + rc_tree_reverse(st, &st->area.probs[P_ALIGN], 4);
}

/* Start a block's LZMA stream: fresh models, state and distances, range decoder primed. */
static void lzma_block_start(struct al_delta *st)
{
    for (unsigned i = 0; i < 2u * (AL_DELTA_AREA_WORDS - 2u * st->seg_count); i++) /* not the map */
        st->area.probs[i] = 1024;
    st->state = 0;
    st->rep[0] = st->rep[1] = st->rep[2] = st->rep[3] = 0;
    st->range = 0xFFFFFFFFu;
    st->code = 0;
    st->rc_primed = 0;
}

/* Decode one LZMA symbol (a literal or a whole match) of the current block. */
static void lzma_symbol(struct al_delta *st)
{
    const struct al_delta_header *h = &st->hdr;
    uint32_t pos = h->old_size + st->produced; /* LZMA counts the preset dictionary */
    unsigned pos_state = pos & ((1u << h->pb) - 1);
    unsigned s = st->state;
    uint32_t len;

    if (!st->rc_primed) {
        if (in_byte(st) != 0)
            st->rc_bad = 1;
        for (int i = 0; i < 4; i++)
            st->code = (st->code << 8) | in_byte(st);
        if (st->code == st->range)
            st->rc_bad = 1;
        st->rc_primed = 1;
        return;
    }
    if (!rc_bit(st, &st->area.probs[P_IS_MATCH + s * POS_STATES + pos_state])) {
        uint8_t prev = pos ? window_byte(st, 1) : 0;
        unsigned ctx = ((pos & ((1u << h->lp) - 1)) << h->lc) + (prev >> (8 - h->lc));
        uint16_t *lit = &st->area.probs[P_LITERAL + 0x300 * ctx];
        uint32_t sym = 1;
        if (s >= 7) {
            unsigned match = window_byte(st, st->rep[0] + 1);
            do {
                unsigned mbit = (match >> 7) & 1;
                match <<= 1;
                unsigned bit = rc_bit(st, &lit[((1 + mbit) << 8) + sym]);
                sym = (sym << 1) | bit;
                if (bit != mbit)
                    break;
            } while (sym < 0x100);
        }
        while (sym < 0x100)
            sym = (sym << 1) | rc_bit(st, &lit[sym]);
        put_byte(st, (uint8_t)sym);
        st->state = (uint8_t)(s < 4 ? 0 : s < 10 ? s - 3 : s - 6);
        return;
    }
    if (rc_bit(st, &st->area.probs[P_IS_REP + s])) {
        if (!rc_bit(st, &st->area.probs[P_IS_REP0 + s])) {
            if (!rc_bit(st, &st->area.probs[P_IS_REP0_LONG + s * POS_STATES + pos_state])) {
                st->state = (uint8_t)(s < 7 ? 9 : 11); /* short rep: one byte at rep0 */
                len = 1;
                goto copy;
            }
        } else {
            uint32_t d;
            if (!rc_bit(st, &st->area.probs[P_IS_REP1 + s])) {
                d = st->rep[1];
            } else {
                if (!rc_bit(st, &st->area.probs[P_IS_REP2 + s])) {
                    d = st->rep[2];
                } else {
                    d = st->rep[3];
                    st->rep[3] = st->rep[2];
                }
                st->rep[2] = st->rep[1];
            }
            st->rep[1] = st->rep[0];
            st->rep[0] = d;
        }
        len = decode_len(st, &st->area.probs[P_REP_LEN], pos_state) + 2;
        st->state = (uint8_t)(s < 7 ? 8 : 11);
    } else {
        st->rep[3] = st->rep[2];
        st->rep[2] = st->rep[1];
        st->rep[1] = st->rep[0];
        len = decode_len(st, &st->area.probs[P_LEN], pos_state);
        st->state = (uint8_t)(s < 7 ? 7 : 10);
        st->rep[0] = decode_dist(st, len);
        len += 2;
    }
copy:
    /* The distance must stay inside old ++ output, the length inside the block. */
    if (st->rep[0] >= pos || len > st->blk_out_end - st->produced) {
        fail(st, AL_ERR_PATCH_CORRUPT);
        return;
    }
    while (len--)
        put_byte(st, window_byte(st, st->rep[0] + 1));
}

/* ---- Stream structure ---------------------------------------------------------------- */

al_err al_delta_parse_header(const uint8_t *b, size_t len, struct al_delta_header *out)
{
    if (len < AL_DELTA_HEADER_SIZE)
        return AL_ERR_PATCH_TRUNCATED;
    if (memcmp(b, AL_DELTA_MAGIC, 4) != 0 || b[4] != AL_DELTA_FORMAT_VERSION)
        return AL_ERR_PATCH_UNSUPPORTED;
    if (al_crc32(0, b, AL_DELTA_HEADER_SIZE - 4) != al_get32(b + AL_DELTA_HEADER_SIZE - 4))
        return AL_ERR_PATCH_CORRUPT;
    out->kind = b[5];
    out->flags = b[6];
    out->lc = b[7] & 3;
    out->lp = (b[7] >> 2) & 3;
    out->pb = (b[7] >> 4) & 3;
    out->old_size = al_get32(b + 8);
    out->new_size = al_get32(b + 12);
    out->old_origin = al_get16(b + 16);
    out->new_origin = al_get16(b + 18);
    out->old_link = al_get32(b + 20);
    out->new_link = al_get32(b + 24);
    if (out->kind > AL_DELTA_KIND_PATCH ||
        (out->flags & ~(AL_DELTA_FLAG_THUMB | AL_DELTA_FLAG_MAP | AL_DELTA_FLAG_DATA | AL_DELTA_FLAG_MAPREL)) ||
        ((out->flags & (AL_DELTA_FLAG_DATA | AL_DELTA_FLAG_MAPREL)) && !(out->flags & AL_DELTA_FLAG_MAP)) ||
        (b[7] & 0xC0) || out->lc + out->lp > 2 || out->pb > 2 || out->new_size > AL_DELTA_MAX_SIZE ||
        out->old_size > AL_DELTA_MAX_SIZE || (out->kind == AL_DELTA_KIND_FULL) != (out->old_size == 0) ||
        ((out->flags & AL_DELTA_FLAG_MAP) && out->kind != AL_DELTA_KIND_PATCH) ||
        (out->old_origin | out->new_origin | out->old_link | out->new_link) & 1)
        return AL_ERR_PATCH_UNSUPPORTED;
    return AL_OK;
}

static al_err start(struct al_delta *st, const struct al_delta_io *io)
{
    if (!st || !io || !io->read_old || !io->read_new || !io->write_new)
        return AL_ERR_INVALID_ARG;
    memset(st, 0, offsetof(struct al_delta, hbuf));
    st->seg_count = 0;
    st->io = *io;
    st->phase = PH_HEADER;
    return AL_OK;
}

/* The next block header is due (or the stream is complete): a safe resume point. */
static void block_done_or_next(struct al_delta *st)
{
    st->phase = st->produced == st->hdr.new_size ? PH_DONE : PH_BLOCK_HEADER;
    st->hdr_fill = 0;
    st->checkpoint.patch_offset = st->want;
    st->checkpoint.output_offset = st->produced;
}

/* The prologue (header and address map) is complete: start, or jump to the resume point. */
static void prologue_done(struct al_delta *st)
{
    if (st->resume_at) {
        uint32_t out = st->checkpoint.output_offset, written = st->write_from, size = st->hdr.new_size;
        if (st->resume_at < st->want || out > size || (out % AL_DELTA_WRITE_ALIGN && out != size) ||
            written > size || (written % AL_DELTA_WRITE_ALIGN && written != size)) {
            fail(st, AL_ERR_PATCH_RESUME);
            return;
        }
        st->want = st->resume_at;
        st->resume_at = 0;
        st->produced = st->finalized = st->flushed = st->ring_start = out;
        st->resumed = 1;
        st->jump = 1;
    }
    block_done_or_next(st);
}

al_err al_delta_init(struct al_delta *st, const struct al_delta_io *io)
{
    return start(st, io);
}

al_err al_delta_resume(struct al_delta *st, const struct al_delta_io *io,
                       const struct al_delta_checkpoint *cp, uint32_t written)
{
    al_err err = start(st, io);
    if (err != AL_OK)
        return err;
    if (cp && cp->patch_offset == 0 && cp->output_offset == 0) {
        st->write_from = written; /* no checkpoint yet: from the start */
        return AL_OK;
    }
    if (!cp || cp->patch_offset < AL_DELTA_HEADER_SIZE || written < cp->output_offset) {
        fail(st, AL_ERR_PATCH_RESUME);
        return st->err;
    }
    st->resume_at = cp->patch_offset;
    st->checkpoint = *cp; /* until the prologue is in again */
    st->write_from = written;
    return AL_OK;
}

uint32_t al_delta_want(const struct al_delta *st)
{
    return st->want;
}

/* One byte of the address map: varints (count, then per segment the gap from the previous
 * segment's address and the zigzag delta), then the map's CRC-32. */
static void map_byte(struct al_delta *st, uint8_t c)
{
    if (st->map_left == 0) { /* the CRC */
        st->hbuf[st->hdr_fill++] = c;
        if (st->hdr_fill == 4) {
            if (al_get32(st->hbuf) != st->prologue_crc)
                fail(st, AL_ERR_PATCH_CORRUPT);
            else
                prologue_done(st);
        }
        return;
    }
    st->prologue_crc = al_crc32(st->prologue_crc, &c, 1);
    if (st->vshift == 28 && c > 15) {
        fail(st, AL_ERR_PATCH_CORRUPT);
        return;
    }
    st->vacc |= (uint32_t)(c & 0x7F) << st->vshift;
    if (c & 0x80) {
        st->vshift = (uint8_t)(st->vshift + 7);
        return;
    }
    uint32_t v = st->vacc, *seg = &st->area.words[AL_DELTA_AREA_WORDS - 2 - 2 * st->seg_count];
    st->vacc = 0;
    st->vshift = 0;
    st->map_left--;
    if (st->seg_count == 0 && st->map_left == 0xFFFF - 1) { /* the count */
        if (v == 0 || v > 896u - (192u << (st->hdr.lc + st->hdr.lp))) { /* SEGMENTS_MAX */
            fail(st, AL_ERR_PATCH_CORRUPT);
            return;
        }
        st->map_left = (uint16_t)(2 * v);
    } else if (st->map_left % 2) { /* address gap */
        uint32_t prev = st->seg_count ? seg[2] : st->hdr.old_link;
        if ((st->seg_count && v == 0) || prev + v < prev) {
            fail(st, AL_ERR_PATCH_CORRUPT);
            return;
        }
        seg[0] = prev + v;
    } else { /* delta, zigzag; with MAPREL the change from the segment before's */
        uint32_t d = (v >> 1) ^ (0u - (v & 1));
        if ((st->hdr.flags & AL_DELTA_FLAG_MAPREL) && st->seg_count)
            d += seg[3];
        seg[1] = d;
        st->seg_count++;
    }
    st->hdr_fill = 0;
}

/* Read a LEB128 varint from b[*i..n): 1 done, 0 need more bytes, -1 malformed. */
static int varint(const uint8_t *b, unsigned n, unsigned *i, uint32_t *v)
{
    *v = 0;
    for (unsigned shift = 0; shift < 35; shift += 7) {
        if (*i >= n)
            return 0;
        uint8_t c = b[(*i)++];
        if (shift == 28 && c > 15)
            return -1;
        *v |= (uint32_t)(c & 0x7F) << shift;
        if (!(c & 0x80))
            return 1;
    }
    return -1;
}

/* Try to parse the block header collected in hbuf: 1 complete, 0 need more, or failed. */
static int block_header(struct al_delta *st)
{
    unsigned i = 1, n = st->hdr_fill;
    uint32_t out_start, out_len, in_len;
    int r;
    if (st->hbuf[0] != BLOCK_TAG_LZMA)
        goto corrupt;
    if ((r = varint(st->hbuf, n, &i, &out_start)) <= 0 ||
        (r = varint(st->hbuf, n, &i, &out_len)) <= 0 || (r = varint(st->hbuf, n, &i, &in_len)) <= 0)
        goto more;
    if (n < i + 4)
        return 0;
    if (out_start != st->produced) {
        fail(st, st->resumed ? AL_ERR_PATCH_RESUME : AL_ERR_PATCH_CORRUPT);
        return -1;
    }
    if (out_len == 0 || out_len > st->hdr.new_size - out_start ||
        ((out_start + out_len) % AL_DELTA_WRITE_ALIGN && out_start + out_len != st->hdr.new_size) ||
        in_len < 5 || in_len > 2 * AL_DELTA_MAX_SIZE)
        goto corrupt;
    st->resumed = 0;
    st->blk_out_start = out_start;
    st->blk_out_end = out_start + out_len;
    st->blk_in_left = in_len;
    st->blk_crc = al_get32(st->hbuf + i);
    st->crc = 0;
    st->in_len = st->in_pos = 0;
    st->rc_bad = 0;
    lzma_block_start(st);
    st->phase = PH_BLOCK_DATA;
    return 1;
more:
    if (r < 0 || n >= BLOCK_HEADER_MAX)
        goto corrupt;
    return 0;
corrupt:
    fail(st, AL_ERR_PATCH_CORRUPT);
    return -1;
}

/* The block's output is complete: check it and write everything up to its end. */
static void block_end(struct al_delta *st)
{
    if (st->rc_bad || st->code != 0 || st->blk_in_left || st->in_pos != st->in_len ||
        st->crc != st->blk_crc) {
        fail(st, AL_ERR_PATCH_CORRUPT);
        return;
    }
    finalize(st);
    if (st->phase == PH_ERROR)
        return;
    flush_out(st);
    if (st->phase == PH_ERROR)
        return;
    block_done_or_next(st);
}

al_err al_delta_feed(struct al_delta *st, const uint8_t *data, size_t len)
{
    al_err err;
    if (!st || (!data && len))
        return AL_ERR_INVALID_ARG;
    for (;;) {
        int progress = 0;
        switch (st->phase) {
        case PH_ERROR:
            return st->err;
        case PH_HEADER:
            while (len && st->hdr_fill < AL_DELTA_HEADER_SIZE) {
                st->hbuf[st->hdr_fill++] = *data++;
                len--;
                st->want++;
            }
            if (st->hdr_fill < AL_DELTA_HEADER_SIZE)
                return AL_OK;
            err = al_delta_parse_header(st->hbuf, AL_DELTA_HEADER_SIZE, &st->hdr);
            if (err == AL_OK && st->hdr.old_size != st->io.old_size)
                err = AL_ERR_PATCH_BASE;
            if (err != AL_OK) {
                fail(st, err);
                return err;
            }
            st->hdr_fill = 0;
            if (st->hdr.flags & AL_DELTA_FLAG_MAP) {
                st->phase = PH_MAP;
                st->map_left = 0xFFFF; /* the count comes first */
            } else {
                prologue_done(st);
            }
            /* fall through - to the map, or (done, or resumed) to the check below */
        case PH_MAP:
            while (len && st->phase == PH_MAP) {
                len--;
                st->want++;
                map_byte(st, *data++);
            }
            if (st->jump || st->phase == PH_ERROR) {
                st->jump = 0;
                return st->err; /* resumed: the rest of this piece is not where we continue */
            }
            if (!len && st->phase == PH_MAP)
                return AL_OK;
            progress = 1;
            break;
        case PH_DONE:
            if (len) {
                fail(st, AL_ERR_PATCH_CORRUPT); /* bytes after the end of the stream */
                return st->err;
            }
            return AL_OK;
        case PH_BLOCK_HEADER:
            if (!len)
                return AL_OK;
            st->hbuf[st->hdr_fill++] = *data++;
            len--;
            st->want++;
            if (block_header(st) < 0)
                return st->err;
            progress = 1;
            break;
        case PH_BLOCK_DATA: {
            /* Top up the look-ahead with this block's data only. */
            if (st->in_pos) {
                memmove(st->inbuf, st->inbuf + st->in_pos, (size_t)(st->in_len - st->in_pos));
                st->in_len = (uint16_t)(st->in_len - st->in_pos);
                st->in_pos = 0;
            }
            size_t take = AL_DELTA_INBUF - st->in_len;
            if (take > len)
                take = len;
            if (take > st->blk_in_left)
                take = st->blk_in_left;
            if (take) {
                memcpy(st->inbuf + st->in_len, data, take);
                st->in_len = (uint16_t)(st->in_len + take);
                st->blk_in_left -= (uint32_t)take;
                st->want += (uint32_t)take;
                data += take;
                len -= take;
                progress = 1;
            }
            while (st->produced < st->blk_out_end && st->phase == PH_BLOCK_DATA &&
                   (st->in_len - st->in_pos >= LOOKAHEAD || st->blk_in_left == 0)) {
                lzma_symbol(st);
                if (st->rc_bad && st->phase != PH_ERROR)
                    fail(st, AL_ERR_PATCH_CORRUPT);
                finalize(st);
                progress = 1;
            }
            if (st->phase == PH_BLOCK_DATA && st->produced == st->blk_out_end) {
                block_end(st);
                progress = 1;
            }
            break;
        }
        }
        if (!progress)
            return AL_OK;
    }
}

al_err al_delta_finish(struct al_delta *st)
{
    if (!st)
        return AL_ERR_INVALID_ARG;
    if (st->phase != PH_DONE)
        fail(st, AL_ERR_PATCH_TRUNCATED); /* keeps an earlier error */
    return st->err;
}

void al_delta_checkpoint(const struct al_delta *st, struct al_delta_checkpoint *out)
{
    *out = st->checkpoint;
}

uint32_t al_delta_written(const struct al_delta *st)
{
    return st->flushed;
}

int al_delta_done(const struct al_delta *st)
{
    return st->phase == PH_DONE;
}
