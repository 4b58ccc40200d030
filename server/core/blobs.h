/*
 * blobs.h - the bytes airliftd keeps beside its database: image files and the transfers
 * made from them (patches, compressed images), each a blob named by a key in a kind.
 *
 * Keys are content names (an image's id, images.h, for an image, a transfer key from transfers.h
 * for a transfer): lowercase hex, '.' and 'z', fewer than ALD_BLOB_KEY_MAX bytes, never starting
 * with '.'. A blob is written whole or not at all and never changes once written, so readers
 * need no lock: a reader sees the old state or the complete new blob.
 *
 * This implementation is a directory: DATA_DIR/images/<key>.alim and
 * DATA_DIR/transfers/<key>.ald, each written atomically (temporary file, fsync, rename,
 * fsync of the directory). Several nodes share it as one directory (docs/blobs.md).
 */
#ifndef AIRLIFTD_BLOBS_H
#define AIRLIFTD_BLOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ALD_BLOB_KEY_MAX 240 /* a transfer key (transfers.h) fits */

enum ald_blob_kind {
    ALD_BLOB_IMAGE = 0,    /* images/<image-id>.alim (images.h) */
    ALD_BLOB_TRANSFER = 1, /* transfers/<transfer-key>.ald */
};

/* Is key a valid blob key (see above)? */
bool ald_blob_key_ok(const char *key);

/* Store data[0..len) as blob (kind, key), replacing any; mode: its permission bits.
 * 0, or -1 with errno set (EINVAL for a bad key). */
int ald_blob_put(const char *data_dir, enum ald_blob_kind kind, const char *key,
                 const void *data, size_t len, unsigned mode);

/* The whole blob in a malloc'd buffer (*len its size), or NULL if absent, empty, larger
 * than max bytes, unreadable or the key is bad. */
uint8_t *ald_blob_get(const char *data_dir, enum ald_blob_kind kind, const char *key, size_t max,
                      size_t *len);

/* Up to cap bytes of the blob from offset into buf: the count read, or -1 if absent or
 * unreadable (0 at or past its end). */
ssize_t ald_blob_read(const char *data_dir, enum ald_blob_kind kind, const char *key,
                      uint64_t offset, void *buf, size_t cap);

/* Is the blob held? If so and size is not NULL, *size is its length. */
bool ald_blob_exists(const char *data_dir, enum ald_blob_kind kind, const char *key,
                     uint64_t *size);

/* Remove the blob: 0, also if it was absent; -1 with errno on failure. */
int ald_blob_delete(const char *data_dir, enum ald_blob_kind kind, const char *key);

/* Where this implementation keeps a blob, for a reader that streams a file (the API's image
 * download). false if the path does not fit or the key is bad. */
bool ald_blob_path(const char *data_dir, enum ald_blob_kind kind, const char *key, char *out,
                   size_t cap);

/* Call each(ctx, key) for every blob of a kind held now, in no particular order, until it
 * returns non-zero (each may delete the blob it is given). 0, or -1 if the blobs cannot be
 * listed. Temporary files of writes under way are not blobs and are skipped. */
int ald_blob_each(const char *data_dir, enum ald_blob_kind kind,
                  int (*each)(void *ctx, const char *key), void *ctx);

#endif
