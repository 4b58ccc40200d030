/*
 * airlift_host/delta.h - make delta patches and compressed full images on the host, in the
 * stream format the device decodes (include/airlift/delta.h, docs/delta-format.md).
 *
 * The matcher and entropy coder are liblzma's: one raw LZMA2 encoder with the old image as
 * its preset dictionary, flushed and its model reset at each block, so each chunk is one
 * block's LZMA1 data and matches reach back into the old image and all earlier output; the
 * device's decoder reads that window from flash.
 */
#ifndef AIRLIFT_HOST_DELTA_H
#define AIRLIFT_HOST_DELTA_H

#include <stddef.h>
#include <stdint.h>

/* The default block size, in stream bytes: a power cut costs at most one block fetched and
 * decoded again, and every block start resets the LZMA model (about 1.2 % of a large patch
 * at 8 KiB blocks, 0.6 % at 16 KiB; docs/delta-format.md, "Block size and resume"). */
#define ALH_DELTA_BLOCK_TARGET 16384

struct alh_delta_opts {
    int thumb;                /* Thumb-2 branch transform: -1 try both and keep the smaller, 0 off, 1 on */
    int map;                  /* old -> new address map (patches): -1 try both, 0 off, 1 on if found */
    int data;                 /* data pointers in the map (AL_DELTA_FLAG_DATA): -1 try with and without, 0 never, 1 whenever found */
    int lc, lp, pb;           /* LZMA parameters; -1 for the defaults (0, 1, 1); lc + lp <= 2, pb <= 2 */
    uint32_t block_target;    /* aim for blocks of about this many stream bytes; 0: ALH_DELTA_BLOCK_TARGET */
    uint32_t block_max_out;   /* and at most this many output bytes; 0: no limit */
    int fast;                 /* 1: LZMA preset 6 instead of 9 (tests) */
    int old_origin, new_origin; /* where Thumb-2 code starts; -1: detect airlift images, else 0 */
    uint32_t old_link;        /* where the old image's origin runs; 0: detect */
    size_t old_primary;       /* old is this many bytes of the slot's own image followed by other
                               * modules' (AL_ENC_DELTA_SLOTS): origin, links and map come from
                               * those first bytes alone; 0: all of old */
};

/* The defaults above. */
void alh_delta_opts_default(struct alh_delta_opts *o);

/*
 * Encode a patch from old to new (old_len > 0) or a compressed full image (old NULL, old_len
 * 0). *out is malloc'ed (caller frees). Returns 0, or -1 with a message in err.
 */
int alh_delta_encode(const uint8_t *old, size_t old_len, const uint8_t *new_data, size_t new_len,
                     const struct alh_delta_opts *opts, uint8_t **out, size_t *out_len, char *err,
                     size_t errlen);

/*
 * Decode a stream with the device decoder against buffers (tests, the bench tool): old may be
 * NULL for a full image; *out is malloc'ed. feed_piece: feed in pieces of this size (0: all
 * at once). Returns the decoder's al_err as an int (0 = AL_OK).
 */
int alh_delta_decode(const uint8_t *old, size_t old_len, const uint8_t *stream, size_t stream_len,
                     size_t feed_piece, uint8_t **out, size_t *out_len);

#endif
