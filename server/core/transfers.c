/*
 * transfers.c - see transfers.h.
 */
#include "transfers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airlift/delta.h"
#include "airlift/image.h"
#include "airlift/proto.h"
#include "airlift_host/delta.h"
#include "blobs.h"
#include "log.h"

#define IMAGE_FILE_MAX ((size_t)AL_IMAGE_MAX_FILE)

const char *ald_encoding_name(uint8_t encoding)
{
    return encoding == AL_ENC_COMPRESSED ? "compressed"
           : encoding == AL_ENC_DELTA || encoding == AL_ENC_DELTA_SLOTS ? "delta"
                                                                         : "full";
}

void ald_transfer_key(const struct ald_transfer *t, char *out)
{
    if (t->encoding == AL_ENC_DELTA || t->encoding == AL_ENC_DELTA_SLOTS) {
        int n = snprintf(out, ALD_TRANSFER_KEY_MAX + 1, "%s.%s", t->target, t->base);
        for (uint8_t k = 0; k < t->also_count; k++) /* encoding 3 only */
            n += snprintf(out + n, ALD_TRANSFER_KEY_MAX + 1 - (size_t)n, ".%.*s",
                          ALD_TRANSFER_ALSO_HEX, t->also[k]);
    } else
        snprintf(out, ALD_TRANSFER_KEY_MAX + 1, "%s%s", t->target,
                 t->encoding == AL_ENC_COMPRESSED ? ".z" : "");
}

bool ald_transfer_parse_key(const char *key, struct ald_transfer *out)
{
    size_t n = strlen(key);
    memset(out, 0, sizeof *out);
    if (n < ALD_SHA256_HEX || n > ALD_TRANSFER_KEY_MAX)
        return false;
    memcpy(out->target, key, ALD_SHA256_HEX);
    const char *rest = key + ALD_SHA256_HEX;
    if (!alc_is_lower_hex(out->target, ALD_SHA256_HEX))
        return false;
    if (!*rest) {
        out->encoding = AL_ENC_FULL;
    } else if (!strcmp(rest, ".z")) {
        out->encoding = AL_ENC_COMPRESSED;
    } else if (rest[0] == '.' && strlen(rest + 1) >= ALD_SHA256_HEX) {
        out->encoding = AL_ENC_DELTA;
        memcpy(out->base, rest + 1, ALD_SHA256_HEX);
        if (!alc_is_lower_hex(out->base, ALD_SHA256_HEX))
            return false;
        for (rest += 1 + ALD_SHA256_HEX; *rest; rest += 1 + ALD_TRANSFER_ALSO_HEX) {
            char *also = out->also[out->also_count];
            if (out->also_count == ALD_TRANSFER_ALSO_MAX || rest[0] != '.' ||
                strlen(rest + 1) < ALD_TRANSFER_ALSO_HEX)
                return false;
            memcpy(also, rest + 1, ALD_TRANSFER_ALSO_HEX);
            if (!alc_is_lower_hex(also, ALD_TRANSFER_ALSO_HEX))
                return false;
            out->also_count++;
            out->encoding = AL_ENC_DELTA_SLOTS;
        }
    } else {
        return false;
    }
    return true;
}

/* The held image whose id starts with prefix (an id cut in a key): found only if exactly
 * one does. */
struct find_prefix {
    const char *prefix;
    char id[ALD_SHA256_HEX + 1];
    int found;
};

static int find_prefix_each(void *ctx, const char *key)
{
    struct find_prefix *f = ctx;
    if (strlen(key) == ALD_SHA256_HEX && !strncmp(key, f->prefix, strlen(f->prefix)) &&
        f->found++ == 0)
        memcpy(f->id, key, sizeof f->id);
    return 0;
}

/* Append the payload of image `id` (a whole id, or one cut as in a key) to *old. */
static bool append_payload(const char *data_dir, const char *id, struct al_image_header *h,
                           uint8_t **old, size_t *old_len)
{
    struct find_prefix f = {id, "", 0};
    size_t len = 0;
    uint8_t *img, *grown;
    if (strlen(id) < ALD_SHA256_HEX &&
        (ald_blob_each(data_dir, ALD_BLOB_IMAGE, find_prefix_each, &f) != 0 || f.found != 1))
        return false;
    if (!(img = ald_blob_get(data_dir, ALD_BLOB_IMAGE, f.found ? f.id : id, IMAGE_FILE_MAX, &len)))
        return false;
    bool ok = al_image_parse_header(img, len, h) == AL_OK &&
              (size_t)h->header_size + h->payload_size == len &&
              *old_len + h->payload_size <= AL_DELTA_MAX_SIZE &&
              (grown = realloc(*old, *old_len + h->payload_size + 1)) != NULL;
    if (ok) {
        memcpy(grown + *old_len, img + h->header_size, h->payload_size);
        *old = grown;
        *old_len += h->payload_size;
    }
    free(img);
    return ok;
}

/* Encode the stream of t and store it: the target image file, from the base image's
 * payload for a patch (followed by the other slots' for encoding 3). */
static bool make_stream(const char *data_dir, const struct ald_transfer *t)
{
    char key[ALD_TRANSFER_KEY_MAX + 1], err[160] = "";
    uint8_t *target = NULL, *base = NULL, *out = NULL;
    size_t target_len = 0, base_len = 0, out_len = 0;
    struct al_image_header bh, other;
    struct alh_delta_opts opts;
    bool ok = false;
    ald_transfer_key(t, key);
    alh_delta_opts_default(&opts);
    if (!(target = ald_blob_get(data_dir, ALD_BLOB_IMAGE, t->target, IMAGE_FILE_MAX, &target_len)))
        goto out;
    if (t->encoding == AL_ENC_DELTA || t->encoding == AL_ENC_DELTA_SLOTS) {
        /* The device reads the old image from its slot: the payload alone, at the slot's
         * address (that is where its branches and pointers point); for encoding 3 the
         * other slots' payloads follow, and links and map come from the first alone. */
        if (!append_payload(data_dir, t->base, &bh, &base, &base_len))
            goto out;
        for (uint8_t k = 0; k < t->also_count; k++) /* encoding 3 only */
            if (!append_payload(data_dir, t->also[k], &other, &base, &base_len))
                goto out;
        opts.old_origin = 0;
        opts.old_link = bh.link_address;
        opts.old_primary = bh.payload_size;
        if (alh_delta_encode(base, base_len, target, target_len, &opts, &out, &out_len, err,
                             sizeof err) != 0)
            goto out;
    } else if (alh_delta_encode(NULL, 0, target, target_len, &opts, &out, &out_len, err,
                                sizeof err) != 0) {
        goto out;
    }
    ok = ald_blob_put(data_dir, ALD_BLOB_TRANSFER, key, out, out_len, 0600) == 0;
out:
    if (!ok)
        ald_log(ALD_LOG_ERROR, "cannot make a transfer stream", "transfer", key, "why",
                err[0] ? err : "the images cannot be read or written", NULL);
    free(target);
    free(base);
    free(out);
    return ok;
}

void ald_transfer_forget(const char *data_dir, const struct ald_transfer *t)
{
    char key[ALD_TRANSFER_KEY_MAX + 1];
    ald_transfer_key(t, key);
    if (t->encoding != AL_ENC_FULL)
        (void)ald_blob_delete(data_dir, ALD_BLOB_TRANSFER, key);
}

uint8_t *ald_transfer_get(const char *data_dir, const struct ald_transfer *t, size_t *len)
{
    char key[ALD_TRANSFER_KEY_MAX + 1];
    if (t->encoding == AL_ENC_FULL)
        return ald_blob_get(data_dir, ALD_BLOB_IMAGE, t->target, IMAGE_FILE_MAX, len);
    ald_transfer_key(t, key);
    return ald_blob_get(data_dir, ALD_BLOB_TRANSFER, key, IMAGE_FILE_MAX, len);
}

/* Size of t's bytes if held now; 0 if not. */
static uint64_t held_size(const char *data_dir, const struct ald_transfer *t)
{
    char key[ALD_TRANSFER_KEY_MAX + 1];
    uint64_t size = 0;
    ald_transfer_key(t, key);
    if (!ald_blob_exists(data_dir, t->encoding == AL_ENC_FULL ? ALD_BLOB_IMAGE : ALD_BLOB_TRANSFER,
                         key, &size))
        return 0;
    return size;
}

bool ald_transfer_make(const char *data_dir, const struct ald_transfer *t)
{
    return held_size(data_dir, t) || (t->encoding != AL_ENC_FULL && make_stream(data_dir, t));
}

bool ald_transfer_job(void *ctx, const char *key)
{
    struct ald_transfer t;
    return ald_transfer_parse_key(key, &t) && ald_transfer_make(ctx, &t);
}

/* Consider candidate t: held (size set, kept in *best if smaller), or queued on w, or made
 * here with w NULL. Updates the overall state *st. */
static void consider(const char *data_dir, struct ald_workers *w, struct ald_transfer *t,
                     struct ald_transfer *best, enum ald_transfer_state *st)
{
    char key[ALD_TRANSFER_KEY_MAX + 1];
    if (!(t->size = held_size(data_dir, t))) {
        if (w) {
            ald_transfer_key(t, key);
            switch (ald_workers_submit(w, key)) {
            case ALD_WORK_QUEUED:
            case ALD_WORK_RUNNING:
                *st = ALD_TRANSFER_PENDING;
                break;
            case ALD_WORK_BUSY:
                if (*st == ALD_TRANSFER_READY)
                    *st = ALD_TRANSFER_BUSY;
                break;
            case ALD_WORK_FAILED: /* left out: the smallest of the others is sent */
                break;
            }
            return;
        }
        if (!make_stream(data_dir, t) || !(t->size = held_size(data_dir, t)))
            return;
    }
    if (t->size < best->size)
        *best = *t;
}

enum ald_transfer_state ald_transfer_choose(const char *data_dir, struct ald_workers *w,
                                            const char *target, const char *base,
                                            const char (*also)[ALD_SHA256_HEX + 1],
                                            size_t also_count, bool streams,
                                            struct ald_transfer *out)
{
    enum ald_transfer_state st = ALD_TRANSFER_READY;
    struct ald_transfer t;
    memset(out, 0, sizeof *out);
    snprintf(out->target, sizeof out->target, "%s", target);
    out->encoding = AL_ENC_FULL;
    if (!(out->size = held_size(data_dir, out)))
        return ALD_TRANSFER_ERROR;
    if (!streams)
        return st;
    t = *out;
    t.encoding = AL_ENC_COMPRESSED;
    consider(data_dir, w, &t, out, &st);
    if (base && strcmp(base, target) != 0 && ald_blob_exists(data_dir, ALD_BLOB_IMAGE, base, NULL)) {
        t.encoding = AL_ENC_DELTA;
        snprintf(t.base, sizeof t.base, "%s", base);
        consider(data_dir, w, &t, out, &st);
        if (also_count && also_count <= ALD_TRANSFER_ALSO_MAX) {
            t.encoding = AL_ENC_DELTA_SLOTS;
            t.also_count = (uint8_t)also_count;
            memcpy(t.also, also, also_count * sizeof *also);
            consider(data_dir, w, &t, out, &st);
        }
    }
    return st;
}
