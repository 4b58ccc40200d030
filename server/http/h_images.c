/*
 * h_images.c - /v1/images: upload, list, read images and download their files
 * (docs/api.md, "Images").
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "airlift/image.h"
#include "http_priv.h"
#include "images.h"
#include "reply.h"
#include "updates.h"

static json_t *image_json(const struct ald_image_rec *m)
{
    char link[16];
    json_t *deps = json_loads(m->deps_json, 0, NULL);
    snprintf(link, sizeof link, "0x%08x", (unsigned)m->link_address);
    return json_pack("{s:s, s:s, s:i, s:i, s:s, s:I, s:s, s:I, s:I, s:s, s:o, s:o}", "sha256",
                     m->sha256, "function", al_function_name(m->function), "index", m->index,
                     "platform", m->platform, "version", m->version, "security_counter",
                     (json_int_t)m->security_counter, "link_address", link, "payload_size",
                     (json_int_t)m->payload_size, "file_size", (json_int_t)m->file_size,
                     "key_id", m->key_id, "dependencies", deps ? deps : json_array(),
                     "created_at", ald_time_json(m->created_at));
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
            snprintf(r->location, sizeof r->location, "/v1/images/%s", m->sha256);
        ret = reply_json(c, r, created ? MHD_HTTP_CREATED : MHD_HTTP_OK, image_json(m));
    }
    free(m);
    return ret;
}

static int collect_image(void *ctx, const struct ald_image_rec *m)
{
    return json_array_append_new(ctx, image_json(m));
}

HANDLER(h_images_list)
{
    json_t *arr = json_array();
    struct ald_result res;
    if (!arr)
        return MHD_NO;
    res = ald_image_list(h->store, collect_image, arr);
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

/* GET /v1/images/{sha256}/blob: the file, as it was uploaded. */
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
    snprintf(disposition, sizeof disposition, "attachment; filename=\"%s.alim\"", m->sha256);
    MHD_add_response_header(resp, "Content-Disposition", disposition);
    ret = send_reply(c, r, MHD_HTTP_OK, resp);
out:
    if (fd >= 0)
        close(fd);
    free(m);
    return ret;
}
