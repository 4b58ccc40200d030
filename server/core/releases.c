/*
 * releases.c - see products.h (releases).
 */
#include "products.h"
#include "airlift_common/platform.h" /* issue 14 (ddi) */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "airlift/image.h"
#include "airlift_common/suggest.h"
#include "images.h"
#include "planner.h"
#include "util.h"

static enum ald_store_rc create_row(struct ald_store *tx, void *ctx)
{
    return tx->ops->release_create(tx, ctx);
}

struct ald_result ald_release_create(struct ald_store *st, const struct ald_product_rec *p,
                                     const struct ald_release_spec *spec,
                                     struct ald_release_rec *out)
{
    const char *channel = spec->channel ? spec->channel : "stable";
    const char *notes = spec->notes ? spec->notes : "";
    struct ald_image_rec *img = NULL;
    struct al_version ver;
    struct ald_result res;
    json_t *arr = NULL;
    char *text = NULL;
    enum ald_store_rc rc;

    memset(out, 0, sizeof *out);
    if (strlen(spec->version) > ALD_VERSION_MAX ||
        al_version_parse(spec->version, strlen(spec->version), &ver) != AL_OK) {
        res = ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                       "'version' must be a semantic version (e.g. \"1.2.0\" or \"2.0.0-rc.1\")");
        goto out;
    }
    if (!alc_name_valid(channel)) {
        res = ald_fail(ALD_ERR_BAD_REQUEST, "bad_request", "'channel' must be a name");
        goto out;
    }
    if (strlen(notes) > ALD_WHY_MAX) {
        res = ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                       "field 'notes' must be at most %d bytes, without NUL", ALD_WHY_MAX);
        goto out;
    }
    if (spec->nimages < 1 || spec->nimages > ALD_PLAN_MAX_STEPS) {
        res = ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                       "'images' must list 1 to %d image hashes", ALD_PLAN_MAX_STEPS);
        goto out;
    }
    if (p->platform == ALC_PLATFORM_LINUX && spec->nimages != 1) { /* issue 14 (ddi) */
        res = ald_fail(ALD_ERR_BAD_REQUEST, "bad_request", "a release of a product of "
                       "platform linux holds exactly one .swu image");
        goto out;
    }
    if (!(img = malloc(sizeof *img)) || !(arr = json_array())) {
        res = ald_store_failed(ALD_STORE_ERROR);
        goto out;
    }
    for (size_t i = 0; i < spec->nimages; i++) {
        const char *sha = spec->images[i];
        /* An image by its id, or by a payload hash exactly one held image has (images.h);
         * the release keeps the id. */
        res = sha && alc_is_lower_hex(sha, ALD_SHA256_HEX)
                  ? ald_image_resolve(st, sha, img)
                  : ald_fail(ALD_ERR_NOT_FOUND, "not_found", "not an image id");
        if (res.code == ALD_ERR_NOT_FOUND) {
            res = ald_fail(ALD_ERR_UNPROCESSABLE, "unknown_image",
                           "images[%zu]: the server holds no such image: upload it first", i);
            goto out;
        }
        if (!ald_is_ok(&res)) {
            res = ald_with_prefix(res, "images[%zu]", i);
            goto out;
        }
        if (img->platform != p->platform &&
            (img->platform == ALC_PLATFORM_LINUX || p->platform == ALC_PLATFORM_LINUX)) {
            /* issue 14 (ddi): .swu files and airlift images never mix (swu.h) */
            res = ald_fail(ALD_ERR_UNPROCESSABLE, "wrong_kind",
                           img->platform == ALC_PLATFORM_LINUX
                               ? "images[%zu] is a .swu file, for products of platform linux; "
                                 "the product is platform %u"
                               : "images[%zu] is an airlift image; the product is platform "
                                 "linux (%u), which takes .swu files only",
                           i, (unsigned)p->platform);
            goto out;
        }
        if (img->platform != p->platform) {
            res = ald_fail(ALD_ERR_UNPROCESSABLE, "wrong_platform",
                           "images[%zu] is built for platform %u; the product is platform %u", i,
                           img->platform, p->platform);
            goto out;
        }
        for (size_t k = 0; k < json_array_size(arr); k++)
            if (!strcmp(json_string_value(json_array_get(arr, k)), img->id)) {
                res = ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                               "images[%zu]: image %s is listed twice (also images[%zu]): "
                               "list each image once", i, img->id, k);
                goto out;
            }
        json_array_append_new(arr, json_string(img->id));
    }
    text = json_dumps(arr, JSON_COMPACT);
    snprintf(out->images_json, sizeof out->images_json, "%s", text ? text : "[]");
    out->product_id = p->id;
    snprintf(out->version, sizeof out->version, "%s", spec->version);
    snprintf(out->channel, sizeof out->channel, "%s", channel);
    snprintf(out->notes, sizeof out->notes, "%s", notes);
    { /* the row and what was made (product, version, channel, images: docs/api.md,
       * "Events"), together */
        json_t *d = json_pack("{s:s, s:s, s:s, s:O}", "product", p->name, "version",
                              out->version, "channel", out->channel, "images", arr);
        char *djson = d ? json_dumps(d, JSON_COMPACT) : NULL;
        struct ald_event_write w = {create_row, out, "release.created", NULL, 0, 0, djson};
        rc = djson ? ald_store_write_with_event(st, &w) : ALD_STORE_ERROR;
        free(djson);
        json_decref(d);
    }
    if (rc == ALD_STORE_EXISTS) {
        res = ald_fail(ALD_ERR_EXISTS, "exists", "product '%s' already has release %s", p->name,
                       spec->version);
        goto out;
    }
    if (rc != ALD_STORE_OK) {
        res = ald_store_failed(rc);
        goto out;
    }
    res = ald_ok();
out:
    free(text);
    json_decref(arr);
    free(img);
    return res;
}

struct ald_result ald_release_list(struct ald_store *st, const struct ald_product_rec *p,
                                   ald_release_cb each, void *ctx)
{
    enum ald_store_rc rc = st->ops->release_list(st, p->id, each, ctx);
    return rc == ALD_STORE_OK ? ald_ok() : ald_store_failed(rc);
}

/* The releases' versions offered to a "did you mean" search. */
#define VERSIONS_OFFERED 256
struct version_offer {
    struct alc_suggest s;
    char (*versions)[ALD_VERSION_MAX + 1];
    size_t n;
};

static int offer_version(void *ctx, const struct ald_release_rec *rec)
{
    struct version_offer *o = ctx;
    if (o->n == VERSIONS_OFFERED)
        return 1;
    memcpy(o->versions[o->n], rec->version, sizeof o->versions[0]);
    alc_suggest_offer(&o->s, o->versions[o->n++]);
    return 0;
}

struct ald_result ald_release_missing(struct ald_store *st, const struct ald_product_rec *p,
                                      const char *version)
{
    struct version_offer o = {.versions = calloc(VERSIONS_OFFERED, sizeof o.versions[0])};
    struct ald_result res;
    alc_suggest_init(&o.s, version);
    if (o.versions)
        st->ops->release_list(st, p->id, offer_version, &o);
    if (o.s.best)
        res = ald_fail(ALD_ERR_NOT_FOUND, "not_found",
                       "product '%s' has no release %s; did you mean %s?", p->name, version,
                       o.s.best);
    else
        res = ald_fail(ALD_ERR_NOT_FOUND, "not_found", "product '%s' has no release %s",
                       p->name, version);
    free(o.versions);
    return res;
}

struct ald_result ald_release_get(struct ald_store *st, const struct ald_product_rec *p,
                                  const char *version, struct ald_release_rec *out)
{
    enum ald_store_rc rc = st->ops->release_get(st, p->id, version, out);
    if (rc == ALD_STORE_NOT_FOUND)
        return ald_release_missing(st, p, version);
    return rc == ALD_STORE_OK ? ald_ok() : ald_store_failed(rc);
}
