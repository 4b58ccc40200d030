/*
 * images.h - taking in image files uploaded to airliftd and keeping their blobs.
 *
 * Blobs are content addressed, kept through blobs.h (kind ALD_BLOB_IMAGE, key the payload
 * SHA-256: images/<payload-sha256>.alim, written atomically). The database row is written
 * after the blob, so a crash leaves at worst an unreferenced blob, never a row without its
 * file.
 *
 * The server holds no signing keys and does not verify signatures: devices do, end to end,
 * against the keys they trust. The server checks structure, exact size and the payload
 * hash, so a corrupt upload is refused at once instead of being discovered by a device.
 */
#ifndef AIRLIFTD_IMAGES_H
#define AIRLIFTD_IMAGES_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

enum ald_ingest {
    ALD_INGEST_CREATED = 0,  /* new image stored */
    ALD_INGEST_SAME = 1,     /* this exact file is already held */
    ALD_INGEST_CONFLICT = 2, /* same payload hash, different header: refused */
    ALD_INGEST_INVALID = 3,  /* not a valid image: code and message say why */
    ALD_INGEST_ERROR = 4,    /* storage failed; logged */
};

/*
 * Validate an image file (file, len) and store it. On CREATED or SAME, *rec describes the
 * held image. On INVALID, code is a short machine name (e.g. "hash_mismatch", from
 * al_err_name) and msg a sentence for the user.
 */
enum ald_ingest ald_image_ingest(struct ald_store *st, const char *data_dir, const uint8_t *file,
                                 size_t len, struct ald_image_rec *rec, char *code,
                                 size_t codelen, char *msg, size_t msglen);

/* Path of an image's blob; false if it does not fit. */
bool ald_image_blob_path(const char *data_dir, const char *sha256, char *out, size_t cap);

#endif
