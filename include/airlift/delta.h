/*
 * airlift/delta.h - the streaming decoder of delta patches and compressed full images.
 *
 * One stream format (docs/delta-format.md) carries either a patch (old image -> new image)
 * or a compressed full image (no old image). The decoder takes the stream in pieces of any
 * size, as they arrive over the radio, and writes the new image strictly in order through
 * the caller's callbacks. It keeps no copy of the output: its match window beyond a small
 * RAM ring is read back from flash, the old image from its slot (read_old) and the bytes
 * already written from staging (read_new).
 *
 * Freestanding C99: no heap, no stdio. The caller owns struct al_delta (about 10 KiB; put it
 * in static memory, not on a small stack).
 *
 * Resume: the stream is a sequence of blocks. At each block start the entropy coder starts
 * afresh and every output byte before it is already written, so decoding can restart there
 * from a checkpoint {patch offset, output offset} (al_delta_checkpoint) after a power cut or
 * a lost link: al_delta_resume, then feed from al_delta_want() (the prologue again, then the
 * checkpoint's block).
 */
#ifndef AIRLIFT_DELTA_H
#define AIRLIFT_DELTA_H

#include <stddef.h>
#include <stdint.h>

#include "airlift/error.h"

#define AL_DELTA_MAGIC "ALDZ"
#define AL_DELTA_FORMAT_VERSION 1
#define AL_DELTA_HEADER_SIZE 32   /* the fixed stream header; an address map may follow */
#define AL_DELTA_WRITE_ALIGN 16   /* every write_new starts at a multiple of this */
#define AL_DELTA_MAX_SIZE (16u * 1024 * 1024) /* old and new sizes, as images (16 MiB) */

#define AL_DELTA_KIND_FULL 0  /* compressed full image: no old image */
#define AL_DELTA_KIND_PATCH 1 /* patch: old image -> new image */

#define AL_DELTA_FLAG_THUMB 0x01 /* Thumb-2 BL/B.W branch targets made absolute */
#define AL_DELTA_FLAG_MAP 0x02   /* an old -> new address map follows the header */
#define AL_DELTA_FLAG_DATA 0x04  /* the map also moves data pointers (with FLAG_MAP only) */
#define AL_DELTA_FLAG_MAPREL 0x08 /* each map delta after the first is coded as its change from the one before (with FLAG_MAP only) */

/* RAM sizes (bytes): the recent-output ring, the input look-ahead, the output buffer. */
#define AL_DELTA_RING 1024
#define AL_DELTA_INBUF 96
#define AL_DELTA_OUTBUF 64
#define AL_DELTA_CACHE 64
/* Probability model: 1175 fixed + 0x300 << (lc + lp) literal probabilities, lc + lp <= 2. */
#define AL_DELTA_PROBS (1175 + (0x300 << 2))
/* The model and the address map share one area of 32-bit words: the model from its start,
 * the map's segments (two words each) from the area's end down, as far as the word after
 * the model's last probability: room for 128 segments with lc + lp = 2, 512 with 1, 704
 * with 0. */
#define AL_DELTA_AREA_WORDS ((AL_DELTA_PROBS * 2 + 128 * 8 + 3) / 4)
#define AL_DELTA_MODEL_WORDS(lc_lp) ((1175u + (0x300u << (lc_lp)) + 1u) / 2u)
#define AL_DELTA_SEGMENTS_MAX(lc_lp) ((AL_DELTA_AREA_WORDS - AL_DELTA_MODEL_WORDS(lc_lp)) / 2)
#define AL_DELTA_MAX_SEGMENTS AL_DELTA_SEGMENTS_MAX(0) /* address map entries, at most */
/* The longest prologue (header, then an address map of 5-byte varints and its CRC). */
#define AL_DELTA_PROLOGUE_MAX (AL_DELTA_HEADER_SIZE + 5 + AL_DELTA_MAX_SEGMENTS * 10 + 4)

/*
 * The caller's I/O. Each callback returns AL_OK or an error, which the decoder passes back
 * unchanged (a failed write leaves the decoder in the error state).
 *   read_old:  bytes [off, off+len) of the old image (off + len <= old_size, never beyond).
 *   read_new:  bytes [off, off+len) of the output already written (off + len <= written).
 *   write_new: the next output bytes, strictly in order, each byte once; off is always a
 *              multiple of AL_DELTA_WRITE_ALIGN, and so is len except for the last write.
 * old_size is the size of the image in the old slot, checked against the stream header.
 */
struct al_delta_io {
    void *ctx;
    al_err (*read_old)(void *ctx, uint32_t off, uint8_t *buf, size_t len);
    al_err (*read_new)(void *ctx, uint32_t off, uint8_t *buf, size_t len);
    al_err (*write_new)(void *ctx, uint32_t off, const uint8_t *buf, size_t len);
    uint32_t old_size;
};

/* The parsed stream header. */
struct al_delta_header {
    uint8_t kind;         /* AL_DELTA_KIND_* */
    uint8_t flags;        /* AL_DELTA_FLAG_* */
    uint8_t lc, lp, pb;   /* LZMA literal context, literal position, position bits */
    uint32_t old_size;    /* 0 for a full image */
    uint32_t new_size;    /* output size, 1 .. AL_DELTA_MAX_SIZE */
    uint16_t old_origin;  /* where Thumb-2 code starts in the old image */
    uint16_t new_origin;  /* where Thumb-2 code starts in the output */
    uint32_t old_link;    /* address the old image's byte old_origin runs at */
    uint32_t new_link;    /* address the output's byte new_origin runs at */
};

/* A safe place to restart: the block starting at patch_offset produces output from
 * output_offset; all output before output_offset is written. */
struct al_delta_checkpoint {
    uint32_t patch_offset;
    uint32_t output_offset;
};

/* Decoder state, caller-owned. Fields are private. */
struct al_delta {
    struct al_delta_io io;
    struct al_delta_header hdr;
    uint32_t produced;       /* output bytes decoded (Thumb-2 domain) */
    uint32_t finalized;      /* output bytes turned back into image bytes */
    uint32_t flushed;        /* output bytes passed to write_new */
    uint32_t write_from;     /* skip writes below this (already in staging) */
    uint32_t want;           /* stream offset of the next byte the decoder takes */
    uint32_t resume_at;      /* after the prologue, continue here (0: no resume pending) */
    uint32_t prologue_crc;   /* running CRC-32 of the address map */
    uint32_t vacc;           /* varint being read (address map) */
    uint16_t map_left;       /* address map items still to read (2 per segment) */
    uint8_t vshift;
    uint32_t ring_start;     /* first output position held in ring[] (0, or the resume point) */
    uint32_t blk_out_start, blk_out_end; /* output range of the current block */
    uint32_t blk_in_left;    /* compressed bytes of the current block not yet consumed */
    uint32_t blk_crc;        /* expected CRC-32 of the block's output */
    uint32_t crc;            /* running CRC-32 of the block's output */
    struct al_delta_checkpoint checkpoint;
    uint32_t range, code;    /* range decoder */
    uint32_t rep[4];         /* LZMA recent distances */
    uint32_t cache_pos;      /* first byte in cache[], as a virtual position (old ++ new) */
    uint16_t cache_len;
    uint8_t state;           /* LZMA state 0..11 */
    uint8_t phase;           /* internal: what the decoder expects next */
    uint8_t hdr_fill;        /* bytes of the stream or block header collected so far */
    uint8_t rc_bad;          /* the range decoder ran past the block's data */
    uint8_t rc_primed;       /* the block's first five bytes are in code */
    uint8_t jump;            /* the prologue ended a resume: drop the rest of this piece */
    uint8_t resumed;         /* the next block header is the first after al_delta_resume */
    uint16_t in_len, in_pos; /* look-ahead buffer */
    uint16_t out_len;        /* bytes in outbuf, starting at output offset flushed */
    al_err err;              /* sticky error */
    uint8_t hbuf[AL_DELTA_HEADER_SIZE];
    uint8_t inbuf[AL_DELTA_INBUF];
    uint8_t outbuf[AL_DELTA_OUTBUF];
    uint8_t cache[AL_DELTA_CACHE];
    uint16_t seg_count;
    uint8_t ring[AL_DELTA_RING];
    union { /* segment i: words[AL_DELTA_AREA_WORDS - 2 - 2i], the old address where it
             * starts, then the word after, new - old address in it */
        uint16_t probs[2 * AL_DELTA_AREA_WORDS];
        uint32_t words[AL_DELTA_AREA_WORDS];
    } area;
};

/* Parse and check a stream header (AL_DELTA_HEADER_SIZE bytes). */
al_err al_delta_parse_header(const uint8_t *buf, size_t len, struct al_delta_header *out);

/*
 * Start decoding a stream from its first byte. io is copied. The header arrives with the
 * first al_delta_feed calls, like the rest.
 */
al_err al_delta_init(struct al_delta *st, const struct al_delta_io *io);

/*
 * Restart decoding at a checkpoint previously reported by al_delta_checkpoint for this same
 * stream (after a power cut or a lost link); a checkpoint of {0, 0} (none reported yet)
 * starts from the beginning. written: how far staging is known to be written
 * already (>= cp->output_offset, a multiple of AL_DELTA_WRITE_ALIGN or the output size); the
 * decoder regenerates those bytes without writing them again. Then feed the stream from
 * al_delta_want(): first its prologue again (the header and address map, from offset 0; a
 * few hundred bytes at most), then, once al_delta_want() jumps, from cp->patch_offset on.
 */
al_err al_delta_resume(struct al_delta *st, const struct al_delta_io *io,
                       const struct al_delta_checkpoint *cp, uint32_t written);

/* The stream offset the next byte passed to al_delta_feed is taken to be. Fetch from here:
 * after a resume this jumps from the end of the prologue to the checkpoint; bytes fed past
 * the prologue before the jump are ignored. */
uint32_t al_delta_want(const struct al_delta *st);

/*
 * Feed the next len bytes of the stream. Decodes as far as they allow, writing output as it
 * goes. Returns AL_OK, or the first error (sticky: later calls return it again). Bytes after
 * the end of the stream are an error (AL_ERR_PATCH_CORRUPT).
 */
al_err al_delta_feed(struct al_delta *st, const uint8_t *data, size_t len);

/* End of input: AL_OK when the whole output was produced and written (the last short piece
 * is written here at the latest), AL_ERR_TRUNCATED if the stream stopped early. */
al_err al_delta_finish(struct al_delta *st);

/* The latest safe resume point: the start of the block being decoded, or of the next one
 * once a block is complete. Persist it (8 bytes); with it, al_delta_resume. */
void al_delta_checkpoint(const struct al_delta *st, struct al_delta_checkpoint *out);

/* Output bytes written so far (passed to write_new). */
uint32_t al_delta_written(const struct al_delta *st);

/* True once the whole output is written. */
int al_delta_done(const struct al_delta *st);

#endif
