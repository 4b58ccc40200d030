/*
 * transfers.h - what travels to a device for one step of a plan: the image file as it is,
 * the image compressed, or a patch from the image the device runs (docs/protocol.md,
 * "Encodings"). Streams are made on demand with the host encoder (airlift_host/delta.h)
 * and kept in DATA_DIR/transfers/, named by what they are made from, so each is made once.
 */
#ifndef AIRLIFTD_TRANSFERS_H
#define AIRLIFTD_TRANSFERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define ALD_TRANSFER_KEY_MAX (2 * ALD_SHA256_HEX + 2)

struct ald_transfer {
    uint8_t encoding;                /* enum al_encoding */
    char target[ALD_SHA256_HEX + 1]; /* payload hash of the image it installs */
    char base[ALD_SHA256_HEX + 1];   /* a patch: payload hash of the image it applies to */
    uint64_t size;                   /* bytes that travel */
};

/* The name of a transfer: "<target>" (the image file), "<target>.z" (compressed) or
 * "<target>.<base>" (a patch). out holds ALD_TRANSFER_KEY_MAX + 1 bytes. */
void ald_transfer_key(const struct ald_transfer *t, char *out);

/* The inverse; false for anything that is not a key. */
bool ald_transfer_parse_key(const char *key, struct ald_transfer *out);

/* Where a transfer's bytes are: the image blob, or the stream file, made if missing (the
 * encoder takes 0.22 s for an Electron system-part1 patch, 0.48 s for system-part2's). false
 * if it cannot be made. */
bool ald_transfer_path(const char *data_dir, const struct ald_transfer *t, char *path, size_t cap);

/*
 * The smallest way to send image `target` (held): the file itself, or, for a device that
 * decodes streams, the image compressed, or a patch from `base` (the payload hash of the
 * image the device runs in that slot; NULL or unheld: no patch). Fills *out, size included.
 * false only if the image file itself cannot be read.
 */
bool ald_transfer_choose(const char *data_dir, const char *target, const char *base,
                         bool streams, struct ald_transfer *out);

/* A stream a device could not apply: remove its file, so it is made again if asked for
 * (a file gone bad on disk is not served twice). Image files are never removed. */
void ald_transfer_forget(const char *data_dir, const struct ald_transfer *t);

/* "full", "compressed" or "delta". */
const char *ald_encoding_name(uint8_t encoding);

#endif
