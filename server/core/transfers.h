/*
 * transfers.h - what travels to a device for one step of a plan: the image file as it is,
 * the image compressed, or a patch from the image the device runs, alone or followed by
 * its other slots of the function (docs/protocol.md, "Encodings"). Streams are made on demand with the host encoder (airlift_host/delta.h),
 * on the worker pool (workers.h), never on the thread that asks, and kept as transfer blobs
 * (blobs.h) named by what they are made from, so each is made once.
 */
#ifndef AIRLIFTD_TRANSFERS_H
#define AIRLIFTD_TRANSFERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "airlift/proto.h"
#include "util.h"
#include "workers.h"

/* A patch of encoding 3 (AL_ENC_DELTA_SLOTS) also reads up to this many other slots, named
 * in its key by the first ALD_TRANSFER_ALSO_HEX hex digits of their images' ids. */
#define ALD_TRANSFER_ALSO_MAX (AL_PROTO_SLOTS_MAX - 1)
#define ALD_TRANSFER_ALSO_HEX 32
#define ALD_TRANSFER_KEY_MAX \
    (2 * ALD_SHA256_HEX + 1 + ALD_TRANSFER_ALSO_MAX * (ALD_TRANSFER_ALSO_HEX + 1))

struct ald_transfer {
    uint8_t encoding;                /* enum al_encoding */
    char target[ALD_SHA256_HEX + 1]; /* id of the image it installs */
    char base[ALD_SHA256_HEX + 1];   /* a patch: id of a held image of the payload it applies to */
    uint8_t also_count;              /* encoding 3: the other slots it reads after base's, */
    char also[ALD_TRANSFER_ALSO_MAX][ALD_SHA256_HEX + 1]; /* their images' ids in the device's
                                      * order (from a key: the ids' first ALD_TRANSFER_ALSO_HEX digits) */
    uint64_t size;                   /* bytes that travel */
};

/* The name of a transfer: "<target>" (the image file), "<target>.z" (compressed),
 * "<target>.<base>" (a patch) or "<target>.<base>.<also>..." (a patch of encoding 3, each
 * other slot's image id cut to ALD_TRANSFER_ALSO_HEX digits). out holds
 * ALD_TRANSFER_KEY_MAX + 1 bytes. */
void ald_transfer_key(const struct ald_transfer *t, char *out);

/* The inverse; false for anything that is not a key. The ids in also are cut as in the key. */
bool ald_transfer_parse_key(const char *key, struct ald_transfer *out);

/* The bytes of a transfer as they are held (the image blob, or the stream blob) in a
 * malloc'd buffer, *len their size; NULL if not held (a stream not made yet) or unreadable.
 * Never makes anything. */
uint8_t *ald_transfer_get(const char *data_dir, const struct ald_transfer *t, size_t *len);

/*
 * Make the stream of t now, on the calling thread, unless it is held already (the encoder
 * takes 0.22 s for an Electron system-part1 patch, 0.48 s for system-part2's, about 10 s
 * for 1 MiB that does not compress). true if the stream is held afterwards; failures are
 * logged. For the image file itself (AL_ENC_FULL): true if the image is held.
 */
bool ald_transfer_make(const char *data_dir, const struct ald_transfer *t);

/* The worker pool's job (ald_work_fn): ctx is the data directory, key a transfer key. */
bool ald_transfer_job(void *ctx, const char *key);

enum ald_transfer_state {
    ALD_TRANSFER_READY = 0,   /* every candidate is known: *out is the smallest */
    ALD_TRANSFER_PENDING = 1, /* a candidate is being made (queued or running) on the pool */
    ALD_TRANSFER_BUSY = 2,    /* a candidate could not be queued: the pool's queue is full */
    ALD_TRANSFER_ERROR = 3,   /* the image file itself cannot be read */
};

/*
 * The smallest way to send image `target` (held): the file itself, or, for a device that
 * decodes streams, the image compressed, or a patch from `base` (a held image of the payload
 * the device runs in that slot; NULL or unheld: no patch), or with also_count > 0 also a
 * patch of encoding 3 from base's payload followed by the payloads of images also[0..n) (the
 * other slots of the function, in the device's order). Fills *out, size included,
 * with the smallest transfer held now. A stream not held yet is queued on the pool w, and
 * the answer is PENDING (or BUSY if the queue is full): *out is then only the best so far,
 * and a better one may follow. A stream that failed to be made is left out. With w NULL,
 * missing streams are made on this thread (tools and tests).
 */
enum ald_transfer_state ald_transfer_choose(const char *data_dir, struct ald_workers *w,
                                            const char *target, const char *base,
                                            const char (*also)[ALD_SHA256_HEX + 1],
                                            size_t also_count, bool streams,
                                            struct ald_transfer *out);

/* A stream a device could not apply: remove its file, so it is made again if asked for
 * (a file gone bad on disk is not served twice). Image files are never removed. */
void ald_transfer_forget(const char *data_dir, const struct ald_transfer *t);

/* "full", "compressed" or "delta" (encodings 2 and 3). */
const char *ald_encoding_name(uint8_t encoding);

#endif
