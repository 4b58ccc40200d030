/*
 * images.c - see images.h.
 */
#include "images.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "airlift/image.h"
#include "al_host_crypto.h"
#include "blobs.h"
#include "log.h"

bool ald_image_blob_path(const char *data_dir, const char *sha256, char *out, size_t cap)
{
    return ald_blob_path(data_dir, ALD_BLOB_IMAGE, sha256, out, cap);
}

/* Serialises check-then-write of blobs and rows, so two uploads of one payload with
 * different headers cannot leave a row describing the other's blob. */
static pthread_mutex_t ingest_lock = PTHREAD_MUTEX_INITIALIZER;

struct mem_reader {
    const uint8_t *buf;
    size_t len;
};

static al_err read_mem(void *ctx, uint32_t off, void *buf, size_t len)
{
    const struct mem_reader *m = ctx;
    if (off > m->len || len > m->len - off)
        return AL_ERR_TRUNCATED;
    memcpy(buf, m->buf + off, len);
    return AL_OK;
}

/* Dependencies as JSON text into out; false if it does not fit. */
static bool deps_to_json(const struct al_image_header *h, char *out, size_t cap)
{
    json_t *arr = json_array();
    bool ok = false;
    size_t n;
    if (!arr)
        goto out;
    for (uint8_t i = 0; i < h->dep_count; i++) {
        char v[AL_VERSION_STR_MAX];
        al_version_format(&h->deps[i].min_version, v, sizeof v);
        if (json_array_append_new(arr, json_pack("{s:s, s:i, s:s}", "function",
                                                 al_function_name(h->deps[i].function), "index",
                                                 h->deps[i].index, "min_version", v)) != 0)
            goto out;
    }
    n = json_dumpb(arr, out, cap, JSON_COMPACT);
    if (n == 0 || n >= cap)
        goto out;
    out[n] = '\0';
    ok = true;
out:
    json_decref(arr);
    return ok;
}

/* Does image blob `sha256` hold exactly (data, len)? */
static bool same_blob(const char *data_dir, const char *sha256, const uint8_t *data, size_t len)
{
    uint8_t buf[65536];
    uint64_t off = 0;
    for (;;) {
        ssize_t n = ald_blob_read(data_dir, ALD_BLOB_IMAGE, sha256, off, buf, sizeof buf);
        if (n < 0)
            return false;
        if (n == 0)
            return off == len;
        if ((size_t)n > len - off || memcmp(buf, data + off, (size_t)n) != 0)
            return false;
        off += (uint64_t)n;
    }
}

enum ald_ingest ald_image_ingest(struct ald_store *st, const char *data_dir, const uint8_t *file,
                                 size_t len, struct ald_image_rec *rec, char *code,
                                 size_t codelen, char *msg, size_t msglen)
{
    struct al_image_header h;
    struct mem_reader reader = {file, len};
    uint8_t *scratch = NULL;
    char path[2048], data[256];
    enum ald_ingest result = ALD_INGEST_ERROR;
    enum ald_store_rc src;
    bool locked = false;
    al_err e;

    memset(rec, 0, sizeof *rec);
    e = al_image_parse_header(file, len, &h);
    if (e != AL_OK) {
        snprintf(code, codelen, "%s", al_err_name(e));
        snprintf(msg, msglen, "not a valid airlift image: %s", al_strerror(e));
        result = ALD_INGEST_INVALID;
        goto out;
    }
    if ((uint64_t)h.header_size + h.payload_size != len) {
        snprintf(code, codelen, "%s", al_err_name(AL_ERR_SIZE_MISMATCH));
        snprintf(msg, msglen,
                 "image is %zu bytes but its header says %u (header) + %u (payload): "
                 "truncated or padded", len, (unsigned)h.header_size, (unsigned)h.payload_size);
        result = ALD_INGEST_INVALID;
        goto out;
    }
    scratch = malloc(4096);
    if (!scratch)
        goto out;
    e = al_image_check_payload(al_host_crypto(), &h, read_mem, &reader, h.header_size, scratch,
                               4096);
    if (e != AL_OK) {
        snprintf(code, codelen, "%s", al_err_name(e));
        snprintf(msg, msglen, "payload SHA-256 does not match the image header: the file is "
                              "corrupt");
        result = ALD_INGEST_INVALID;
        goto out;
    }

    alc_hex_encode(h.payload_sha256, 32, rec->sha256);
    rec->function = h.function;
    rec->index = h.index;
    rec->platform = h.platform;
    al_version_format(&h.version, rec->version, sizeof rec->version);
    rec->security_counter = h.security_counter;
    rec->link_address = h.link_address;
    rec->payload_size = h.payload_size;
    rec->file_size = len;
    alc_hex_encode(h.key_id, AL_KEY_ID_SIZE, rec->key_id);
    if (!ald_version_sort_key(&h.version, rec->version_key, sizeof rec->version_key) ||
        !deps_to_json(&h, rec->deps_json, sizeof rec->deps_json) ||
        !ald_image_blob_path(data_dir, rec->sha256, path, sizeof path))
        goto out;

    pthread_mutex_lock(&ingest_lock);
    locked = true;
    src = st->ops->image_get(st, rec->sha256, rec);
    if (src == ALD_STORE_ERROR)
        goto out;
    if (src == ALD_STORE_OK) {
        if (same_blob(data_dir, rec->sha256, file, len)) {
            result = ALD_INGEST_SAME;
        } else if (!ald_blob_exists(data_dir, ALD_BLOB_IMAGE, rec->sha256, NULL) &&
                   rec->file_size == len) {
            /* The row outlived its blob (restored database?): put the file back. */
            result = ald_blob_put(data_dir, ALD_BLOB_IMAGE, rec->sha256, file, len, 0644) == 0
                         ? ALD_INGEST_SAME : ALD_INGEST_ERROR;
        } else {
            snprintf(code, codelen, "exists");
            snprintf(msg, msglen, "an image with payload %s is already held with a different "
                                  "header (version, counter, dependencies or signature)",
                     rec->sha256);
            result = ALD_INGEST_CONFLICT;
        }
        goto out;
    }
    if (ald_blob_put(data_dir, ALD_BLOB_IMAGE, rec->sha256, file, len, 0644) != 0) {
        ald_log(ALD_LOG_ERROR, "cannot write image blob", "path", path, "error", strerror(errno),
                NULL);
        goto out;
    }
    src = st->ops->image_put(st, rec);
    if (src != ALD_STORE_OK)
        goto out;
    snprintf(data, sizeof data, "{\"sha256\":\"%s\",\"function\":\"%s\",\"index\":%u,"
                                "\"version\":\"%s\"}",
             rec->sha256, al_function_name(rec->function), (unsigned)rec->index, rec->version);
    ald_event_emit(st, "image.uploaded", NULL, 0, data);
    result = ALD_INGEST_CREATED;
out:
    if (locked)
        pthread_mutex_unlock(&ingest_lock);
    free(scratch);
    return result;
}

struct ald_result ald_image_create(struct ald_store *st, const char *data_dir,
                                   const uint8_t *file, size_t len, const char *by,
                                   struct ald_image_rec *rec, bool *created)
{
    char code[48], msg[256];
    *created = false;
    switch (ald_image_ingest(st, data_dir, file, len, rec, code, sizeof code, msg, sizeof msg)) {
    case ALD_INGEST_CREATED:
        *created = true;
        ald_log(ALD_LOG_INFO, "image stored", "sha256", rec->sha256, "version", rec->version,
                "by", by, NULL);
        return ald_ok();
    case ALD_INGEST_SAME:
        return ald_ok();
    case ALD_INGEST_CONFLICT:
        return ald_fail(ALD_ERR_EXISTS, "exists", "%s", msg);
    case ALD_INGEST_INVALID:
        return ald_with_detail(ald_fail(ALD_ERR_BAD_REQUEST, "invalid_image", "%s", msg), code);
    default:
        return ald_store_failed(ALD_STORE_ERROR);
    }
}

struct ald_result ald_image_list(struct ald_store *st, ald_image_cb each, void *ctx)
{
    enum ald_store_rc rc = st->ops->image_list(st, each, ctx);
    return rc == ALD_STORE_OK ? ald_ok() : ald_store_failed(rc);
}

struct ald_result ald_image_get(struct ald_store *st, const char *sha256,
                                struct ald_image_rec *rec)
{
    enum ald_store_rc rc;
    if (!alc_is_lower_hex(sha256, ALD_SHA256_HEX))
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                        "an image is named by its payload SHA-256: 64 lowercase hex digits");
    rc = st->ops->image_get(st, sha256, rec);
    if (rc == ALD_STORE_NOT_FOUND)
        return ald_fail(ALD_ERR_NOT_FOUND, "not_found", "image '%s' does not exist", sha256);
    return rc == ALD_STORE_OK ? ald_ok() : ald_store_failed(rc);
}

struct ald_result ald_image_open_blob(const char *data_dir, const struct ald_image_rec *rec,
                                      int *fd, uint64_t *size)
{
    char path[2048] = "";
    struct stat sb;
    *fd = -1;
    if (!ald_image_blob_path(data_dir, rec->sha256, path, sizeof path) ||
        (*fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(*fd, &sb) != 0) {
        ald_log(ALD_LOG_ERROR, "image blob missing", "path", path, "error", strerror(errno),
                NULL);
        if (*fd >= 0)
            close(*fd);
        *fd = -1;
        return ald_store_failed(ALD_STORE_ERROR);
    }
    *size = (uint64_t)sb.st_size;
    return ald_ok();
}
