/*
 * transfers.c - see transfers.h.
 */
#include "transfers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "airlift/image.h"
#include "airlift/proto.h"
#include "airlift_host/delta.h"
#include "images.h"
#include "log.h"

#define IMAGE_FILE_MAX (AL_IMAGE_MAX_HEADER + (size_t)AL_IMAGE_MAX_PAYLOAD)

const char *ald_encoding_name(uint8_t encoding)
{
    return encoding == AL_ENC_COMPRESSED ? "compressed" : encoding == AL_ENC_DELTA ? "delta" : "full";
}

void ald_transfer_key(const struct ald_transfer *t, char *out)
{
    if (t->encoding == AL_ENC_DELTA)
        snprintf(out, ALD_TRANSFER_KEY_MAX + 1, "%s.%s", t->target, t->base);
    else
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
    } else if (rest[0] == '.' && alc_is_lower_hex(rest + 1, ALD_SHA256_HEX)) {
        out->encoding = AL_ENC_DELTA;
        memcpy(out->base, rest + 1, ALD_SHA256_HEX);
    } else {
        return false;
    }
    return true;
}

static bool stream_path(const char *data_dir, const struct ald_transfer *t, char *path, size_t cap)
{
    char key[ALD_TRANSFER_KEY_MAX + 1];
    ald_transfer_key(t, key);
    return (size_t)snprintf(path, cap, "%s/transfers/%s.ald", data_dir, key) < cap;
}

/* Encode the stream of t into path: the target image file, from the base image's payload. */
static bool make_stream(const char *data_dir, const struct ald_transfer *t, const char *path)
{
    char blob[ALD_PATH_MAX], err[160] = "";
    uint8_t *target = NULL, *base = NULL, *out = NULL;
    size_t target_len = 0, base_len = 0, out_len = 0;
    struct al_image_header bh;
    struct alh_delta_opts opts;
    bool ok = false;
    alh_delta_opts_default(&opts);
    if (!ald_image_blob_path(data_dir, t->target, blob, sizeof blob) ||
        !(target = ald_read_file(blob, IMAGE_FILE_MAX, &target_len)))
        goto out;
    if (t->encoding == AL_ENC_DELTA) {
        /* The device reads the old image from its slot: the payload alone, at the slot's
         * address (that is where its branches and pointers point). */
        if (!ald_image_blob_path(data_dir, t->base, blob, sizeof blob) ||
            !(base = ald_read_file(blob, IMAGE_FILE_MAX, &base_len)) ||
            al_image_parse_header(base, base_len, &bh) != AL_OK ||
            (size_t)bh.header_size + bh.payload_size != base_len)
            goto out;
        opts.old_origin = 0;
        opts.old_link = bh.link_address;
        if (alh_delta_encode(base + bh.header_size, bh.payload_size, target, target_len, &opts,
                             &out, &out_len, err, sizeof err) != 0)
            goto out;
    } else if (alh_delta_encode(NULL, 0, target, target_len, &opts, &out, &out_len, err,
                                sizeof err) != 0) {
        goto out;
    }
    snprintf(blob, sizeof blob, "%s/transfers", data_dir); /* made with the first stream */
    if (mkdir(blob, 0700) != 0 && errno != EEXIST)
        goto out;
    ok = alc_write_file_atomic_mode(path, out, out_len, 0600) == 0;
out:
    if (!ok)
        ald_log(ALD_LOG_ERROR, "cannot make a transfer stream", "path", path, "why",
                err[0] ? err : "the images cannot be read or written", NULL);
    free(target);
    free(base);
    free(out);
    return ok;
}

void ald_transfer_forget(const char *data_dir, const struct ald_transfer *t)
{
    char path[ALD_PATH_MAX];
    if (t->encoding != AL_ENC_FULL && stream_path(data_dir, t, path, sizeof path))
        (void)unlink(path);
}

bool ald_transfer_path(const char *data_dir, const struct ald_transfer *t, char *path, size_t cap)
{
    struct stat sb;
    if (t->encoding == AL_ENC_FULL)
        return ald_image_blob_path(data_dir, t->target, path, cap);
    if (!stream_path(data_dir, t, path, cap))
        return false;
    return stat(path, &sb) == 0 || make_stream(data_dir, t, path);
}

/* Size of t's bytes, made if need be; 0 if they cannot be had. */
static uint64_t transfer_size(const char *data_dir, const struct ald_transfer *t)
{
    char path[ALD_PATH_MAX];
    struct stat sb;
    if (!ald_transfer_path(data_dir, t, path, sizeof path) || stat(path, &sb) != 0)
        return 0;
    return (uint64_t)sb.st_size;
}

bool ald_transfer_choose(const char *data_dir, const char *target, const char *base,
                         bool streams, struct ald_transfer *out)
{
    struct ald_transfer t;
    char blob[ALD_PATH_MAX];
    struct stat sb;
    memset(out, 0, sizeof *out);
    snprintf(out->target, sizeof out->target, "%s", target);
    out->encoding = AL_ENC_FULL;
    if (!(out->size = transfer_size(data_dir, out)))
        return false;
    if (!streams)
        return true;
    t = *out;
    t.encoding = AL_ENC_COMPRESSED;
    if ((t.size = transfer_size(data_dir, &t)) && t.size < out->size)
        *out = t;
    if (base && strcmp(base, target) != 0 && ald_image_blob_path(data_dir, base, blob, sizeof blob) &&
        stat(blob, &sb) == 0) {
        t.encoding = AL_ENC_DELTA;
        snprintf(t.base, sizeof t.base, "%s", base);
        if ((t.size = transfer_size(data_dir, &t)) && t.size < out->size)
            *out = t;
    }
    return true;
}
