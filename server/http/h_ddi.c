/*
 * h_ddi.c - issue 14 item 6: Eclipse hawkBit's Direct Device Integration API for linux
 * devices (SWUpdate's suricatta), under /{tenant}/controller/v1/{controllerId}
 * (docs/ddi.md). Every request is authenticated here (core/ddi.h, ald_ddi_auth) with a
 * TargetToken or the GatewayToken, not a bearer token; the bytes of each exchange (request
 * and reply bodies) are counted as the device's wire bytes.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ddi.h"
#include "events.h"
#include "http_priv.h"
#include "images.h"
#include "reply.h"
#include "updates.h"

/* Authenticate the request as its path's device into *dev; false with the error queued. */
static bool ddi_device(struct ald_http *h, struct MHD_Connection *c, struct req *r,
                       struct ald_device_rec *dev, enum MHD_Result *ret)
{
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                   MHD_HTTP_HEADER_AUTHORIZATION);
    struct ald_result res = ald_ddi_auth(h->store, &h->ddi, r->params[0], r->params[1], auth,
                                         dev);
    if (ald_is_ok(&res)) {
        ald_event_actor_device(); /* the events it causes are the device's (events.h) */
        return true;
    }
    *ret = reply_result(c, r, &res);
    return false;
}

/* The device's DDI root as links name it: scheme, Host header, /tenant/controller/v1/name.
 * false, with the 400 in *ret, if the Host header is missing or not a plain host[:port]. */
static bool ddi_base(struct ald_http *h, struct MHD_Connection *c, struct req *r, char *out,
                     size_t cap, enum MHD_Result *ret)
{
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    int n = -1;
    if (host && *host && strlen(host) <= 255 &&
        strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") ==
            strlen(host))
        n = snprintf(out, cap, "%s://%s/%s/controller/v1/%s", h->ddi_https ? "https" : "http",
                     host, r->params[0], r->params[1]);
    if (n > 0 && (size_t)n < cap)
        return true;
    *ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request",
                       "the Host header is missing or not host[:port]");
    return false;
}

/* Reply with body (stolen) as JSON and count the exchange as dev's wire bytes. */
static enum MHD_Result ddi_json(struct ald_http *h, struct MHD_Connection *c, struct req *r,
                                const struct ald_device_rec *dev, unsigned status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text)
        return MHD_NO;
    size_t n = strlen(text);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(n, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/hal+json;charset=UTF-8");
    ald_ddi_account(h->store, dev, n, r->len);
    return send_reply(c, r, status, resp);
}

/* An empty 200 to a feedback or configData, counted. */
static enum MHD_Result ddi_ok(struct ald_http *h, struct MHD_Connection *c, struct req *r,
                              const struct ald_device_rec *dev)
{
    ald_ddi_account(h->store, dev, 0, r->len);
    return reply_empty(c, r, MHD_HTTP_OK);
}

/* The action id path parameter (params[2]); false with a 404 queued. */
static bool ddi_action(struct MHD_Connection *c, struct req *r, int64_t *id,
                       enum MHD_Result *ret)
{
    if (parse_id(r->params[2], id))
        return true;
    *ret = reply_error(c, r, MHD_HTTP_NOT_FOUND, "not_found", "no action '%s'", r->params[2]);
    return false;
}

/* GET /{tenant}/controller/v1/{controllerId}: the poll. */
HANDLER(h_ddi_poll)
{
    struct ald_device_rec *dev = malloc(sizeof *dev);
    enum MHD_Result ret = MHD_NO;
    char base[512];
    struct ald_result res;
    if (!dev)
        return MHD_NO;
    if (!ddi_device(h, c, r, dev, &ret) || !ddi_base(h, c, r, base, sizeof base, &ret))
        goto out;
    json_t *body = ald_ddi_poll(h->store, &h->ddi, dev, base, &res);
    ret = body ? ddi_json(h, c, r, dev, MHD_HTTP_OK, body) : reply_result(c, r, &res);
out:
    free(dev);
    return ret;
}

/* GET .../deploymentBase/{actionId} */
HANDLER(h_ddi_deployment)
{
    struct ald_device_rec *dev = malloc(sizeof *dev);
    enum MHD_Result ret = MHD_NO;
    char base[512];
    int64_t id;
    json_t *body = NULL;
    if (!dev)
        return MHD_NO;
    if (!ddi_device(h, c, r, dev, &ret) || !ddi_action(c, r, &id, &ret) ||
        !ddi_base(h, c, r, base, sizeof base, &ret))
        goto out;
    struct ald_result res = ald_ddi_deployment(h->updates, h->store, h->data_dir, dev, id,
                                               base, &body);
    ret = ald_is_ok(&res) ? ddi_json(h, c, r, dev, MHD_HTTP_OK, body) : reply_result(c, r, &res);
out:
    free(dev);
    return ret;
}

/* GET .../cancelAction/{actionId} */
HANDLER(h_ddi_cancel)
{
    struct ald_device_rec *dev = malloc(sizeof *dev);
    enum MHD_Result ret = MHD_NO;
    int64_t id;
    json_t *body = NULL;
    if (!dev)
        return MHD_NO;
    if (!ddi_device(h, c, r, dev, &ret) || !ddi_action(c, r, &id, &ret))
        goto out;
    struct ald_result res = ald_ddi_cancel_action(h->store, dev, id, &body);
    ret = ald_is_ok(&res) ? ddi_json(h, c, r, dev, MHD_HTTP_OK, body) : reply_result(c, r, &res);
out:
    free(dev);
    return ret;
}

/* POST .../deploymentBase/{id}/feedback and .../cancelAction/{id}/feedback */
static enum MHD_Result feedback(struct ald_http *h, struct MHD_Connection *c, struct req *r,
                                bool cancel)
{
    struct ald_device_rec *dev = malloc(sizeof *dev);
    struct ald_ddi_feedback *fb = malloc(sizeof *fb);
    enum MHD_Result ret = MHD_NO;
    json_t *doc = NULL;
    int64_t id;
    if (!dev || !fb)
        goto out;
    if (!ddi_device(h, c, r, dev, &ret) || !ddi_action(c, r, &id, &ret))
        goto out;
    if (!(doc = parse_body(c, r, &ret)))
        goto out;
    struct ald_result res = ald_ddi_feedback_parse(doc, fb);
    if (ald_is_ok(&res))
        res = ald_ddi_feedback(h->updates, h->store, dev, id, cancel, fb);
    ret = ald_is_ok(&res) ? ddi_ok(h, c, r, dev) : reply_result(c, r, &res);
out:
    json_decref(doc);
    free(fb);
    free(dev);
    return ret;
}

HANDLER(h_ddi_deployment_feedback)
{
    return feedback(h, c, r, false);
}

HANDLER(h_ddi_cancel_feedback)
{
    return feedback(h, c, r, true);
}

/* PUT .../configData */
HANDLER(h_ddi_config_data)
{
    struct ald_device_rec *dev = malloc(sizeof *dev);
    enum MHD_Result ret = MHD_NO;
    json_t *doc = NULL;
    if (!dev)
        return MHD_NO;
    if (!ddi_device(h, c, r, dev, &ret) || !(doc = parse_body(c, r, &ret)))
        goto out;
    struct ald_result res = ald_ddi_config_data(h->store, dev, doc);
    ret = ald_is_ok(&res) ? ddi_ok(h, c, r, dev) : reply_result(c, r, &res);
out:
    json_decref(doc);
    free(dev);
    return ret;
}

/*
 * A Range header's one range "bytes=A-B", "bytes=A-" or "bytes=-N" over size bytes, into
 * [*from, *to]. 0: no Range header; 1: a satisfiable range; -1: unsatisfiable or malformed
 * (416).
 */
static int parse_range(const char *v, uint64_t size, uint64_t *from, uint64_t *to)
{
    uint64_t a = 0, b = 0;
    bool has_a = false, has_b = false;
    if (!v)
        return 0;
    if (strncmp(v, "bytes=", 6) != 0)
        return -1;
    v += 6;
    for (; *v >= '0' && *v <= '9'; v++, has_a = true) {
        if (a > (UINT64_MAX - 9) / 10)
            return -1;
        a = a * 10 + (uint64_t)(*v - '0');
    }
    if (*v++ != '-')
        return -1;
    for (; *v >= '0' && *v <= '9'; v++, has_b = true) {
        if (b > (UINT64_MAX - 9) / 10)
            return -1;
        b = b * 10 + (uint64_t)(*v - '0');
    }
    if (*v || (!has_a && !has_b) || size == 0)
        return -1;
    if (!has_a) { /* the last b bytes */
        if (b == 0)
            return -1;
        *from = b >= size ? 0 : size - b;
        *to = size - 1;
        return 1;
    }
    if (a >= size || (has_b && b < a))
        return -1;
    *from = a;
    *to = has_b && b < size ? b : size - 1;
    return 1;
}

/* GET .../softwaremodules/{actionId}/artifacts/{filename}: the .swu file, with Range. */
HANDLER(h_ddi_artifact)
{
    struct ald_device_rec *dev = malloc(sizeof *dev);
    struct ald_image_rec *img = malloc(sizeof *img);
    enum MHD_Result ret = MHD_NO;
    struct MHD_Response *resp;
    uint64_t size = 0, from = 0, to = 0;
    char cr[96];
    int64_t id;
    int fd = -1;
    if (!dev || !img)
        goto out;
    if (!ddi_device(h, c, r, dev, &ret) || !ddi_action(c, r, &id, &ret))
        goto out;
    struct ald_result res = ald_ddi_artifact(h->store, dev, id, r->params[3], img);
    if (ald_is_ok(&res))
        res = ald_image_open_blob(h->data_dir, img, &fd, &size);
    if (!ald_is_ok(&res)) {
        ret = reply_result(c, r, &res);
        goto out;
    }
    int range = parse_range(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Range"), size,
                            &from, &to);
    if (range < 0) {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        snprintf(cr, sizeof cr, "bytes */%" PRIu64, size);
        if (resp)
            MHD_add_response_header(resp, "Content-Range", cr);
        ret = send_reply(c, r, MHD_HTTP_RANGE_NOT_SATISFIABLE, resp);
        goto out;
    }
    if (!range)
        to = size ? size - 1 : 0;
    uint64_t len = size ? to - from + 1 : 0;
    resp = MHD_create_response_from_fd_at_offset64(len, fd, from);
    if (!resp)
        goto out;
    fd = -1; /* the response owns it now */
    MHD_add_response_header(resp, "Content-Type", "application/octet-stream");
    MHD_add_response_header(resp, "Accept-Ranges", "bytes");
    if (range) {
        snprintf(cr, sizeof cr, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, from, to, size);
        MHD_add_response_header(resp, "Content-Range", cr);
    }
    ald_ddi_account(h->store, dev, len, 0);
    {
        /* the bytes served count as held: the next "proceeding" means installing */
        struct ald_update_rec *rec = malloc(sizeof *rec);
        struct ald_result got = rec ? ald_update_get(h->store, id, rec) : ald_ok();
        if (rec && ald_is_ok(&got) && !strcmp(rec->state, "downloading"))
            ald_updates_ddi_report(h->updates, id, "downloading", NULL, from + len, rec);
        free(rec);
    }
    ret = send_reply(c, r, range ? MHD_HTTP_PARTIAL_CONTENT : MHD_HTTP_OK, resp);
out:
    if (fd >= 0)
        close(fd);
    free(img);
    free(dev);
    return ret;
}
