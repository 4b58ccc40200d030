/*
 * h_images.c - /v1/images: upload, list, read and remove images and download their files
 * (docs/api.md, "Images"). An image is named by its id (the SHA-256 of its file) or by a
 * payload hash exactly one held image has (images.h, ald_image_resolve).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "airlift/image.h"
#include "http_priv.h"
#include "images.h"
#include "labels.h"
#include "reply.h"
#include "swu.h"
#include "updates.h"

static json_t *image_json(const struct ald_image_rec *m)
{
    char link[16], label[ALD_VERSION_LABEL_MAX];
    json_t *deps = json_loads(m->deps_json, 0, NULL), *o;
    snprintf(link, sizeof link, "0x%08x", (unsigned)m->link_address);
    ald_label_deps_json(deps, m->platform); /* issue 16: "bootloader 1005 (Device OS 2.0.1)" */
    o = json_pack("{s:s, s:s, s:s, s:i, s:i, s:s, s:I, s:s, s:I, s:I, s:s, s:o, s:o}", "id",
                     m->id, "sha256", m->sha256, "function", al_function_name(m->function),
                     "index", m->index, "platform", m->platform, "version", m->version,
                     "security_counter", (json_int_t)m->security_counter, "link_address", link,
                     "payload_size", (json_int_t)m->payload_size, "file_size",
                     (json_int_t)m->file_size, "key_id", m->key_id, "dependencies",
                     deps ? deps : json_array(), "created_at", ald_time_json(m->created_at));
    /* issue 16: "bootloader 1006 (Device OS 2.2.0)" for a bootloader's 1006.0.0 */
    if (o && ald_version_label(m->function, m->index, m->platform, m->version, label,
                               sizeof label))
        json_object_set_new(o, "version_label", json_string(label));
    /* issue 14 (ddi): "airlift" (the signed image format) or "swu" (swu.h) */
    if (o)
        json_object_set_new(o, "kind", json_string(ald_swu_image(m) ? "swu" : "airlift"));
    return o;
}

/* POST /v1/images: the image file as the body. 201 new, 200 already held. */
HANDLER(h_images_create)
{
    struct ald_image_rec *m = malloc(sizeof *m);
    struct ald_result res;
    enum MHD_Result ret;
    bool created;
    if (!m)
        return MHD_NO;
    res = ald_image_create(h->store, h->data_dir, r->body, r->len, r->token.name, m, &created);
    if (!ald_is_ok(&res)) {
        ret = reply_result(c, r, &res);
    } else {
        if (created)
            snprintf(r->location, sizeof r->location, "/v1/images/%s", m->id);
        ret = reply_json(c, r, created ? MHD_HTTP_CREATED : MHD_HTTP_OK, image_json(m));
    }
    free(m);
    return ret;
}

static int collect_image(void *ctx, const struct ald_image_rec *m)
{
    return json_array_append_new(ctx, image_json(m));
}

/* GET /v1/images[?function=F&platform=N&version=V&sha256=H]: every image matching them all. */
HANDLER(h_images_list)
{
    const char *fn = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "function");
    const char *platform = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "platform");
    const char *version = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "version");
    const char *sha = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "sha256");
    struct ald_image_filter f = {0, -1, NULL, NULL};
    char canon[AL_VERSION_STR_MAX];
    struct al_version v;
    struct ald_result res;
    json_t *arr;
    if (fn) {
        for (uint8_t k = 1; k <= AL_FN_MAX && !f.function; k++)
            if (!strcmp(fn, al_function_name(k)))
                f.function = k;
        if (!f.function)
            return reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request",
                               "query 'function': '%s' is not bootloader, system, application "
                               "or radio", fn);
    }
    if (platform) {
        char *end = NULL;
        long n = strtol(platform, &end, 10);
        if (!*platform || *end || n < 0 || n > 65535)
            return reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request",
                               "query 'platform': '%s' is not a platform number (0..65535)",
                               platform);
        f.platform = (int)n;
    }
    if (version) {
        if (al_version_parse(version, strlen(version), &v) != AL_OK)
            return reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request",
                               "query 'version': '%s' is not a semantic version", version);
        al_version_format(&v, canon, sizeof canon);
        f.version = canon;
    }
    if (sha) {
        if (!alc_is_lower_hex(sha, ALD_SHA256_HEX))
            return reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request",
                               "query 'sha256': a payload hash is 64 lowercase hex digits");
        f.sha256 = sha;
    }
    if (!(arr = json_array()))
        return MHD_NO;
    res = ald_image_list(h->store, &f, collect_image, arr);
    if (!ald_is_ok(&res)) {
        json_decref(arr);
        return reply_result(c, r, &res);
    }
    return reply_json(c, r, MHD_HTTP_OK, json_pack("{s:o}", "images", arr));
}

HANDLER(h_image_get)
{
    struct ald_image_rec *m = malloc(sizeof *m);
    struct ald_result res;
    enum MHD_Result ret;
    if (!m)
        return MHD_NO;
    res = ald_image_get(h->store, r->params[0], m);
    ret = ald_is_ok(&res) ? reply_json(c, r, MHD_HTTP_OK, image_json(m))
                          : reply_result(c, r, &res);
    free(m);
    return ret;
}

/* DELETE /v1/images/{id}: 200 with the image removed; 409 "image_in_use" while a release
 * or an active update needs it. */
HANDLER(h_image_delete)
{
    struct ald_image_rec *m = malloc(sizeof *m);
    struct ald_result res;
    enum MHD_Result ret;
    if (!m)
        return MHD_NO;
    res = ald_image_remove(h->store, h->data_dir, r->params[0], r->token.name, m);
    ret = ald_is_ok(&res) ? reply_json(c, r, MHD_HTTP_OK, image_json(m))
                          : reply_result(c, r, &res);
    free(m);
    return ret;
}

/* GET /v1/images/{id}/blob: the file, as it was uploaded. */
HANDLER(h_image_blob)
{
    struct ald_image_rec *m = malloc(sizeof *m);
    enum MHD_Result ret = MHD_NO;
    struct MHD_Response *resp;
    struct ald_result res;
    char disposition[128];
    uint64_t size = 0;
    int fd = -1;

    if (!m)
        goto out;
    res = ald_image_get(h->store, r->params[0], m);
    if (ald_is_ok(&res))
        res = ald_image_open_blob(h->data_dir, m, &fd, &size);
    if (!ald_is_ok(&res)) {
        ret = reply_result(c, r, &res);
        goto out;
    }
    resp = MHD_create_response_from_fd(size, fd);
    if (!resp)
        goto out;
    fd = -1; /* the response owns it now */
    MHD_add_response_header(resp, "Content-Type", "application/octet-stream");
    snprintf(disposition, sizeof disposition, "attachment; filename=\"%s.alim\"", m->id);
    MHD_add_response_header(resp, "Content-Disposition", disposition);
    ret = send_reply(c, r, MHD_HTTP_OK, resp);
out:
    if (fd >= 0)
        close(fd);
    free(m);
    return ret;
}
