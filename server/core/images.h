/*
 * images.h - taking in image files uploaded to airliftd, naming them, keeping their blobs,
 * and removing the ones nothing needs.
 *
 * An image's id is the SHA-256 of its whole file (header, signature and payload; what
 * `sha256sum FILE` prints), so the same payload signed again (a higher security counter,
 * another key) is another image; an image stored before schema 6 keeps its payload hash as
 * its id. Blobs are kept through blobs.h (kind ALD_BLOB_IMAGE, key the image id:
 * images/<id>.alim, written atomically). The database row is written after the blob, so a
 * crash leaves at worst an unreferenced blob, never a row without its file.
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

/* Path of the blob of image id; false if it does not fit. */
bool ald_image_blob_path(const char *data_dir, const char *id, char *out, size_t cap);

/* ---- the images service (POST/GET/DELETE /v1/images...) ---- */

/*
 * Take in an uploaded image file (ald_image_ingest) on behalf of the token named `by`. On
 * success *rec is the held image and *created says whether it is new (false: this exact
 * file was already held). Errors: BAD_REQUEST "invalid_image" with the image format's error
 * name as detail, TOO_LARGE "too_large" (more than AL_IMAGE_MAX_FILE bytes), INTERNAL.
 */
struct ald_result ald_image_create(struct ald_store *st, const char *data_dir,
                                   const uint8_t *file, size_t len, const char *by,
                                   struct ald_image_rec *rec, bool *created);

/* Which images a listing shows: every field set must match. */
struct ald_image_filter {
    uint8_t function; /* 0: any; else enum al_function */
    int platform;     /* -1: any */
    const char *version; /* NULL: any; else the canonical version string */
    const char *sha256;  /* NULL: any; else this payload hash */
};

/* Call each(ctx, image) for every image matching f (NULL: all). Errors: INTERNAL. */
struct ald_result ald_image_list(struct ald_store *st, const struct ald_image_filter *f,
                                 ald_image_cb each, void *ctx);

/*
 * The image a user names by key, into *rec: its id, or a payload hash that exactly one held
 * image has (what the API took before images had ids). Errors: BAD_REQUEST (not 64
 * lowercase hex digits), NOT_FOUND "not_found", CONFLICT "ambiguous_image" (several images
 * have that payload: the message names every candidate id; detail is the payload hash),
 * INTERNAL.
 */
struct ald_result ald_image_resolve(struct ald_store *st, const char *key,
                                    struct ald_image_rec *rec);

/* ald_image_resolve under its older name: the image named by id or unique payload hash. */
struct ald_result ald_image_get(struct ald_store *st, const char *key,
                                struct ald_image_rec *rec);

/*
 * Resolve each of keys[0..n) (ald_image_resolve) and write the JSON array of their ids into
 * out (cap bytes). On an error, the result names the key by its position: "images[2]: ...".
 */
struct ald_result ald_image_resolve_list(struct ald_store *st, const char *const *keys,
                                         size_t n, char *out, size_t cap);

/*
 * Remove the image named by key (ald_image_resolve) on behalf of `by`: its row, its blob and
 * every cached transfer made to or from it (transfers/), with an "image.removed" event.
 * Refused while something needs it: CONFLICT "image_in_use" whose message names the
 * releases ("tracker 2.1.0") and active updates ("update 12 of device truck-1") that do.
 * *rec is the image (also when refused). Errors as ald_image_resolve, and INTERNAL.
 */
struct ald_result ald_image_remove(struct ald_store *st, const char *data_dir, const char *key,
                                   const char *by, struct ald_image_rec *rec);

/* Open the blob of image rec for reading: *fd (the caller closes it) and its *size.
 * Errors: INTERNAL (the blob is missing: logged). */
struct ald_result ald_image_open_blob(const char *data_dir, const struct ald_image_rec *rec,
                                      int *fd, uint64_t *size);

#endif
