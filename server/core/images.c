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
#include "transfers.h"
#include "log.h"
#include "swu.h"

bool ald_image_blob_path(const char *data_dir, const char *id, char *out, size_t cap)
{
    return ald_blob_path(data_dir, ALD_BLOB_IMAGE, id, out, cap);
}

/* Serialises check-then-write of blobs and rows, so two uploads of one file cannot both
 * write it, and a removal cannot interleave with an upload of the same image. */
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

/* Does image blob `id` hold exactly (data, len)? */
static bool same_blob(const char *data_dir, const char *id, const uint8_t *data, size_t len)
{
    uint8_t buf[65536];
    uint64_t off = 0;
    for (;;) {
        ssize_t n = ald_blob_read(data_dir, ALD_BLOB_IMAGE, id, off, buf, sizeof buf);
        if (n < 0)
            return false;
        if (n == 0)
            return off == len;
        if ((size_t)n > len - off || memcmp(buf, data + off, (size_t)n) != 0)
            return false;
        off += (uint64_t)n;
    }
}

/* Do a and b (of one payload) say the same in every signed field: the same module signed
 * again by the same key with the same counter, only the (randomised) ECDSA signature
 * differing? */
static bool same_signed_fields(const struct ald_image_rec *a, const struct ald_image_rec *b)
{
    return a->file_size == b->file_size && a->function == b->function &&
           a->index == b->index && a->platform == b->platform &&
           !strcmp(a->version, b->version) && a->security_counter == b->security_counter &&
           a->link_address == b->link_address && a->payload_size == b->payload_size &&
           !strcmp(a->key_id, b->key_id) && !strcmp(a->deps_json, b->deps_json);
}

/* Looks, among the images of one payload, for one whose blob is exactly the file, or that
 * differs from it in the signature alone. */
struct same_file {
    const char *data_dir;
    const uint8_t *file;
    size_t len;
    const struct ald_image_rec *fields; /* the file's */
    struct ald_image_rec *rec;
    bool found;
};

static int find_same_file(void *ctx, const struct ald_image_rec *m)
{
    struct same_file *sf = ctx;
    if (!same_signed_fields(m, sf->fields) &&
        (m->file_size != sf->len || !same_blob(sf->data_dir, m->id, sf->file, sf->len)))
        return 0;
    *sf->rec = *m;
    sf->found = true;
    return 1;
}

enum ald_ingest ald_image_ingest(struct ald_store *st, const char *data_dir, const uint8_t *file,
                                 size_t len, struct ald_image_rec *rec, char *code,
                                 size_t codelen, char *msg, size_t msglen)
{
    struct al_image_header h;
    struct mem_reader reader = {file, len};
    uint8_t *scratch = NULL;
    char path[2048], data[384], h_payload[ALD_SHA256_HEX + 1];
    uint8_t file_id[32];
    struct ald_image_rec *held = malloc(sizeof *held);
    enum ald_ingest result = ALD_INGEST_ERROR;
    enum ald_store_rc src;
    bool locked = false;
    al_err e;

    memset(rec, 0, sizeof *rec);
    if (!held)
        goto out;
    if (len > AL_IMAGE_MAX_FILE) {
        snprintf(code, codelen, "too_large");
        snprintf(msg, msglen, "image file of %zu bytes is larger than the most an image may be, "
                 "%u bytes (AL_IMAGE_MAX_FILE, header included)", len, AL_IMAGE_MAX_FILE);
        result = ALD_INGEST_INVALID;
        goto out;
    }
    /* issue 14 (ddi): a .swu file is the other kind of image (swu.h) */
    if (ald_swu_is(file, len)) {
        if (!ald_swu_describe(file, len, rec, code, codelen, msg, msglen)) {
            result = ALD_INGEST_INVALID;
            goto out;
        }
        snprintf(h_payload, sizeof h_payload, "%s", rec->sha256);
        if (!ald_image_blob_path(data_dir, rec->id, path, sizeof path))
            goto out;
        goto store;
    }
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

    ald_sha256(file, len, file_id);
    alc_hex_encode(file_id, 32, rec->id);
    alc_hex_encode(h.payload_sha256, 32, rec->sha256);
    snprintf(h_payload, sizeof h_payload, "%s", rec->sha256);
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
        !ald_image_blob_path(data_dir, rec->id, path, sizeof path))
        goto out;

store:
    pthread_mutex_lock(&ingest_lock);
    locked = true;
    /* This image, held already: this exact file under its id, or under its payload hash (an
     * image stored before ids were file hashes), or the same module signed again by the
     * same key with the same counter (ECDSA signatures differ each time): the one held. */
    struct same_file sf = {data_dir, file, len, rec, held, false};
    src = st->ops->image_get_id(st, rec->id, held);
    if (src == ALD_STORE_NOT_FOUND)
        src = st->ops->image_by_payload(st, h_payload, find_same_file, &sf) == ALD_STORE_OK
                  ? (sf.found ? ALD_STORE_OK : ALD_STORE_NOT_FOUND)
                  : ALD_STORE_ERROR;
    if (src == ALD_STORE_ERROR)
        goto out;
    if (src == ALD_STORE_OK) {
        *rec = *held;
        if (!ald_blob_exists(data_dir, ALD_BLOB_IMAGE, rec->id, NULL) &&
            ald_blob_put(data_dir, ALD_BLOB_IMAGE, rec->id, file, len, 0644) != 0) {
            /* The row outlived its blob (restored database?) and it cannot be put back. */
            ald_log(ALD_LOG_ERROR, "cannot write image blob", "path", path, "error",
                    strerror(errno), NULL);
            goto out;
        }
        result = ALD_INGEST_SAME;
        goto out;
    }
    if (ald_blob_put(data_dir, ALD_BLOB_IMAGE, rec->id, file, len, 0644) != 0) {
        ald_log(ALD_LOG_ERROR, "cannot write image blob", "path", path, "error", strerror(errno),
                NULL);
        goto out;
    }
    src = st->ops->image_put(st, rec);
    if (src == ALD_STORE_EXISTS && st->ops->image_get_id(st, rec->id, held) == ALD_STORE_OK) {
        *rec = *held; /* another node stored this very file just now */
        result = ALD_INGEST_SAME;
        goto out;
    }
    if (src != ALD_STORE_OK)
        goto out;
    snprintf(data, sizeof data, "{\"id\":\"%s\",\"sha256\":\"%s\",\"function\":\"%s\","
                                "\"index\":%u,\"version\":\"%s\",\"security_counter\":%u}",
             rec->id, rec->sha256, al_function_name(rec->function), (unsigned)rec->index,
             rec->version, (unsigned)rec->security_counter);
    ald_event_emit(st, "image.uploaded", NULL, 0, data);
    result = ALD_INGEST_CREATED;
out:
    if (locked)
        pthread_mutex_unlock(&ingest_lock);
    free(scratch);
    free(held);
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
        ald_log(ALD_LOG_INFO, "image stored", "id", rec->id, "sha256", rec->sha256, "version",
                rec->version, "by", by, NULL);
        return ald_ok();
    case ALD_INGEST_SAME:
        return ald_ok();
    case ALD_INGEST_INVALID:
        if (!strcmp(code, "too_large"))
            return ald_fail(ALD_ERR_TOO_LARGE, "too_large", "%s", msg);
        return ald_with_detail(ald_fail(ALD_ERR_BAD_REQUEST, "invalid_image", "%s", msg), code);
    default:
        return ald_store_failed(ALD_STORE_ERROR);
    }
}

struct list_filter {
    const struct ald_image_filter *f;
    ald_image_cb each;
    void *ctx;
};

static int filter_one(void *ctx, const struct ald_image_rec *m)
{
    const struct list_filter *lf = ctx;
    const struct ald_image_filter *f = lf->f;
    if ((f->function && m->function != f->function) ||
        (f->platform >= 0 && m->platform != f->platform) ||
        (f->version && strcmp(m->version, f->version) != 0) ||
        (f->sha256 && strcmp(m->sha256, f->sha256) != 0))
        return 0;
    return lf->each(lf->ctx, m);
}

struct ald_result ald_image_list(struct ald_store *st, const struct ald_image_filter *f,
                                 ald_image_cb each, void *ctx)
{
    struct list_filter lf = {f, each, ctx};
    enum ald_store_rc rc = f ? st->ops->image_list(st, filter_one, &lf)
                             : st->ops->image_list(st, each, ctx);
    return rc == ALD_STORE_OK ? ald_ok() : ald_store_failed(rc);
}

/* The images of one payload, gathered for ald_image_resolve: the first kept, every id
 * named in a message. */
struct candidates {
    struct ald_image_rec *first;
    size_t n;
    char ids[ALD_RESULT_MSG_MAX + 1];
};

static int add_candidate(void *ctx, const struct ald_image_rec *m)
{
    struct candidates *c = ctx;
    size_t used = strlen(c->ids);
    if (!c->n++)
        *c->first = *m;
    snprintf(c->ids + used, sizeof c->ids - used, "%s%s (security counter %u, key %s)",
             used ? ", " : "", m->id, (unsigned)m->security_counter, m->key_id);
    return 0;
}

struct ald_result ald_image_resolve(struct ald_store *st, const char *key,
                                    struct ald_image_rec *rec)
{
    struct candidates c = {rec, 0, ""};
    enum ald_store_rc rc;
    if (!key || !alc_is_lower_hex(key, ALD_SHA256_HEX))
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                        "an image is named by its id (the SHA-256 of its file) or its payload "
                        "SHA-256: 64 lowercase hex digits");
    rc = st->ops->image_get_id(st, key, rec);
    if (rc != ALD_STORE_NOT_FOUND)
        return rc == ALD_STORE_OK ? ald_ok() : ald_store_failed(rc);
    rc = st->ops->image_by_payload(st, key, add_candidate, &c);
    if (rc != ALD_STORE_OK)
        return ald_store_failed(rc);
    if (c.n == 0)
        return ald_fail(ALD_ERR_NOT_FOUND, "not_found",
                        "image '%s' does not exist (no image has that id or payload)", key);
    if (c.n > 1)
        return ald_with_detail(ald_fail(ALD_ERR_CONFLICT, "ambiguous_image",
                                        "%zu images have payload %s: name one by its id: %s",
                                        c.n, key, c.ids),
                               key);
    return ald_ok();
}

struct ald_result ald_image_get(struct ald_store *st, const char *key,
                                struct ald_image_rec *rec)
{
    return ald_image_resolve(st, key, rec);
}

struct ald_result ald_image_resolve_list(struct ald_store *st, const char *const *keys,
                                         size_t n, char *out, size_t cap)
{
    struct ald_image_rec *rec = malloc(sizeof *rec);
    json_t *arr = json_array();
    struct ald_result res = ald_ok();
    char *text = NULL;
    if (!rec || !arr) {
        res = ald_store_failed(ALD_STORE_ERROR);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        res = ald_image_resolve(st, keys[i], rec);
        if (!ald_is_ok(&res)) {
            res = ald_with_prefix(res, "images[%zu]", i);
            goto out;
        }
        json_array_append_new(arr, json_string(rec->id));
    }
    text = json_dumps(arr, JSON_COMPACT);
    if (!text || strlen(text) >= cap) {
        res = ald_store_failed(ALD_STORE_ERROR);
        goto out;
    }
    memcpy(out, text, strlen(text) + 1);
out:
    free(text);
    json_decref(arr);
    free(rec);
    return res;
}

/* ---- removal ---- */

/* What needs an image: the releases (their product ids and versions, named after the
 * listing, which must not call the store) and the active updates, as a sentence. */
#define USERS_NAMED 8
struct users {
    char updates[ALD_RESULT_MSG_MAX + 1]; /* "update 12 (device truck-1), ..." */
    size_t update_count;
    int64_t product_ids[USERS_NAMED];
    char versions[USERS_NAMED][ALD_VERSION_MAX + 1];
    size_t release_count;
};

static int add_release_user(void *ctx, const struct ald_release_rec *r)
{
    struct users *u = ctx;
    if (u->release_count < USERS_NAMED) {
        u->product_ids[u->release_count] = r->product_id;
        snprintf(u->versions[u->release_count], sizeof u->versions[0], "%s", r->version);
    }
    u->release_count++;
    return 0;
}

static int add_update_user(void *ctx, const struct ald_update_rec *r)
{
    struct users *u = ctx;
    size_t used = strlen(u->updates);
    if (u->update_count++ < USERS_NAMED)
        snprintf(u->updates + used, sizeof u->updates - used, "%supdate %lld (device %s)",
                 used ? ", " : "", (long long)r->id, r->device);
    return 0;
}

struct remove_txn {
    const char *id;
    struct users *users;
};

/* In one transaction: what needs the image, and if nothing does, the row goes. */
static enum ald_store_rc remove_in_txn(struct ald_store *tx, void *ctx)
{
    struct remove_txn *t = ctx;
    enum ald_store_rc rc;
    memset(t->users, 0, sizeof *t->users);
    if ((rc = tx->ops->image_releases(tx, t->id, add_release_user, t->users)) != ALD_STORE_OK ||
        (rc = tx->ops->image_updates(tx, t->id, add_update_user, t->users)) != ALD_STORE_OK)
        return rc;
    if (t->users->update_count || t->users->release_count)
        return ALD_STORE_OK; /* refused: nothing written */
    return tx->ops->image_delete(tx, t->id);
}

struct drop_ctx {
    const char *data_dir;
    const char *id;
    unsigned dropped;
};

/* Drops a cached transfer made to or from one image: "<id>.z", "<id>.<base>",
 * "<target>.<id>", and a patch of encoding 3 that also reads it (transfers.h). */
static int drop_transfer(void *ctx, const char *key)
{
    struct drop_ctx *d = ctx;
    struct ald_transfer t;
    if (!ald_transfer_parse_key(key, &t))
        return 0;
    bool made_of = !strcmp(t.target, d->id) || !strcmp(t.base, d->id);
    for (uint8_t k = 0; k < t.also_count; k++)
        made_of |= !strncmp(t.also[k], d->id, ALD_TRANSFER_ALSO_HEX);
    if (t.encoding != AL_ENC_FULL && made_of &&
        ald_blob_delete(d->data_dir, ALD_BLOB_TRANSFER, key) == 0)
        d->dropped++;
    return 0;
}

struct ald_result ald_image_remove(struct ald_store *st, const char *data_dir, const char *key,
                                   const char *by, struct ald_image_rec *rec)
{
    struct ald_result res = ald_image_resolve(st, key, rec);
    struct users *users = NULL;
    struct remove_txn t;
    enum ald_store_rc rc;
    if (!ald_is_ok(&res))
        return res;
    if (!(users = calloc(1, sizeof *users)))
        return ald_store_failed(ALD_STORE_ERROR);
    t.id = rec->id;
    t.users = users;
    pthread_mutex_lock(&ingest_lock);
    rc = ald_store_txn(st, remove_in_txn, &t);
    if (rc == ALD_STORE_OK && (users->release_count || users->update_count)) {
        char names[ALD_RESULT_MSG_MAX + 1] = "";
        struct ald_product_rec prod;
        for (size_t i = 0; i < users->release_count && i < USERS_NAMED; i++) {
            size_t used = strlen(names);
            const char *pname = st->ops->product_get_id(st, users->product_ids[i], &prod) ==
                                        ALD_STORE_OK ? prod.name : "?";
            snprintf(names + used, sizeof names - used, "%srelease %s %s", used ? ", " : "",
                     pname, users->versions[i]);
        }
        if (users->release_count > USERS_NAMED) {
            size_t used = strlen(names);
            snprintf(names + used, sizeof names - used, " and %zu more releases",
                     users->release_count - USERS_NAMED);
        }
        if (users->update_count) {
            size_t used = strlen(names);
            if (snprintf(names + used, sizeof names - used, "%s%s%s", used ? ", " : "",
                         users->updates,
                         users->update_count > USERS_NAMED ? " and more updates" : "") < 0)
                names[used] = '\0';
        }
        res = ald_with_detail(ald_fail(ALD_ERR_CONFLICT, "image_in_use",
                                       "image %s is needed by %s: it stays", rec->id, names),
                              rec->id);
    } else if (rc == ALD_STORE_NOT_FOUND) {
        res = ald_fail(ALD_ERR_NOT_FOUND, "not_found", "image '%s' does not exist", rec->id);
    } else if (rc != ALD_STORE_OK) {
        res = ald_store_failed(rc);
    } else {
        struct drop_ctx d = {data_dir, rec->id, 0};
        char data[256], dropped[16];
        if (ald_blob_delete(data_dir, ALD_BLOB_IMAGE, rec->id) != 0)
            ald_log(ALD_LOG_WARN, "cannot remove an image blob", "id", rec->id, "error",
                    strerror(errno), NULL);
        if (ald_blob_each(data_dir, ALD_BLOB_TRANSFER, drop_transfer, &d) != 0)
            ald_log(ALD_LOG_WARN, "cannot list the cached transfers", "id", rec->id, NULL);
        snprintf(dropped, sizeof dropped, "%u", d.dropped);
        snprintf(data, sizeof data, "{\"id\":\"%s\",\"sha256\":\"%s\",\"function\":\"%s\","
                                    "\"index\":%u,\"version\":\"%s\"}",
                 rec->id, rec->sha256, al_function_name(rec->function), (unsigned)rec->index,
                 rec->version);
        ald_event_emit(st, "image.removed", NULL, 0, data);
        ald_log(ALD_LOG_INFO, "image removed", "id", rec->id, "transfers", dropped, "by", by,
                NULL);
    }
    pthread_mutex_unlock(&ingest_lock);
    free(users);
    return res;
}

struct ald_result ald_image_open_blob(const char *data_dir, const struct ald_image_rec *rec,
                                      int *fd, uint64_t *size)
{
    char path[2048] = "";
    struct stat sb;
    *fd = -1;
    if (!ald_image_blob_path(data_dir, rec->id, path, sizeof path) ||
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
