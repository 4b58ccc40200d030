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

#include "result.h"
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

/* ---- the images service (POST/GET /v1/images...) ---- */

/*
 * Take in an uploaded image file (ald_image_ingest) on behalf of the token named `by`. On
 * success *rec is the held image and *created says whether it is new (false: this exact
 * file was already held). Errors: BAD_REQUEST "invalid_image" with the image format's error
 * name as detail, EXISTS (same payload, another header), INTERNAL.
 */
struct ald_result ald_image_create(struct ald_store *st, const char *data_dir,
                                   const uint8_t *file, size_t len, const char *by,
                                   struct ald_image_rec *rec, bool *created);

/* Call each(ctx, image) for every image. Errors: INTERNAL. */
struct ald_result ald_image_list(struct ald_store *st, ald_image_cb each, void *ctx);

/* The image whose payload hash is sha256 (64 lowercase hex digits) into *rec.
 * Errors: BAD_REQUEST (not such a hash), NOT_FOUND, INTERNAL. */
struct ald_result ald_image_get(struct ald_store *st, const char *sha256,
                                struct ald_image_rec *rec);

/* Open the blob of image rec for reading: *fd (the caller closes it) and its *size.
 * Errors: INTERNAL (the blob is missing: logged). */
struct ald_result ald_image_open_blob(const char *data_dir, const struct ald_image_rec *rec,
                                      int *fd, uint64_t *size);

#endif
