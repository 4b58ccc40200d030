/*
 * h_fleet.c - /v1/products and their releases (docs/api.md, "Fleets"; docs/fleets.md).
 */
#include <stdio.h>
#include <string.h>

#include "http_priv.h"
#include "planner.h"
#include "products.h"
#include "reply.h"
#include "updates.h"

static json_t *product_json(const struct ald_product_rec *p)
{
    return json_pack("{s:s, s:i, s:o}", "name", p->name, "platform", p->platform, "created_at",
                     ald_time_json(p->created_at));
}

static int collect_product(void *ctx, const struct ald_product_rec *p)
{
    return json_array_append_new(ctx, product_json(p));
}

struct ald_result product_body_parse(json_t *doc, const char **name, uint16_t *platform)
{
    static const char *const fields[] = {"name", "platform", NULL};
    struct ald_result res = body_fields(doc, fields);
    if (ald_is_ok(&res))
        res = body_string(doc, "name", ALD_NAME_MAX, name);
    if (ald_is_ok(&res)) /* the name first: it is the first thing to fix */
        res = ald_product_name_check(*name);
    if (ald_is_ok(&res) && !platform_value(json_object_get(doc, "platform"), platform))
        res = ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                       "field 'platform' must be a platform id 0..65535 or \"electron\"");
    return res;
}

/* POST /v1/products: {"name", "platform"}. */
HANDLER(h_products_create)
{
    enum MHD_Result ret = MHD_NO;
    struct ald_product_rec p;
    struct ald_result res;
    const char *name;
    uint16_t platform;
    json_t *doc = parse_body(c, r, &ret);
    if (!doc)
        goto out;
    res = product_body_parse(doc, &name, &platform);
    if (!ald_is_ok(&res)) {
        ret = reply_result(c, r, &res);
        goto out;
    }
    res = ald_product_create(h->store, name, platform, &p);
    if (!ald_is_ok(&res)) {
        ret = reply_result(c, r, &res);
        goto out;
    }
    snprintf(r->location, sizeof r->location, "/v1/products/%s", p.name);
    ret = reply_json(c, r, MHD_HTTP_CREATED, product_json(&p));
out:
    json_decref(doc);
    return ret;
}

HANDLER(h_products_list)
{
    json_t *arr = json_array();
    struct ald_result res;
    if (!arr)
        return MHD_NO;
    res = ald_product_list(h->store, collect_product, arr);
    if (!ald_is_ok(&res)) {
        json_decref(arr);
        return reply_result(c, r, &res);
    }
    return reply_json(c, r, MHD_HTTP_OK, json_pack("{s:o}", "products", arr));
}

HANDLER(h_product_get)
{
    struct ald_product_rec p;
    struct ald_result res = ald_product_get(h->store, r->params[0], &p);
    return ald_is_ok(&res) ? reply_json(c, r, MHD_HTTP_OK, product_json(&p))
                           : reply_result(c, r, &res);
}

static json_t *release_json(const struct ald_release_rec *rel, const char *product)
{
    return json_pack("{s:I, s:s, s:s, s:s, s:o, s:s, s:o}", "id", (json_int_t)rel->id, "product",
                     product, "version", rel->version, "channel", rel->channel, "images",
                     json_loads(rel->images_json, 0, NULL), "notes", rel->notes, "created_at",
                     ald_time_json(rel->created_at));
}

struct release_list {
    json_t *arr;
    const char *product;
};

static int collect_release(void *ctx, const struct ald_release_rec *rel)
{
    struct release_list *l = ctx;
    return json_array_append_new(l->arr, release_json(rel, l->product));
}

struct ald_result release_body_parse(json_t *doc, struct ald_release_spec *spec,
                                     const char **sha)
{
    struct ald_result res;
    json_t *images, *v;
    size_t i;
    memset(spec, 0, sizeof *spec);
    res = body_string(doc, "version", ALD_VERSION_MAX, &spec->version);
    if (ald_is_ok(&res) && json_object_get(doc, "channel"))
        res = body_string(doc, "channel", ALD_NAME_MAX, &spec->channel);
    if (ald_is_ok(&res) && json_object_get(doc, "notes"))
        res = body_string(doc, "notes", ALD_WHY_MAX, &spec->notes);
    images = json_object_get(doc, "images");
    if (!ald_is_ok(&res) || !json_is_array(images) || json_array_size(images) < 1 ||
        json_array_size(images) > ALD_PLAN_MAX_STEPS)
        return res;
    json_array_foreach(images, i, v)
        sha[i] = json_string_value(v); /* NULL: not a hash, the service says so */
    spec->images = sha;
    spec->nimages = json_array_size(images);
    return res;
}

/* POST /v1/products/{p}/releases: {"version", "channel", "images": [sha...], "notes"}. */
HANDLER(h_releases_create)
{
    static const char *const fields[] = {"version", "channel", "images", "notes", NULL};
    enum MHD_Result ret = MHD_NO;
    struct ald_product_rec p;
    struct ald_release_rec rel;
    struct ald_release_spec spec;
    const char *sha[ALD_PLAN_MAX_STEPS];
    json_t *doc = parse_body(c, r, &ret);
    struct ald_result res;

    memset(&spec, 0, sizeof spec);
    if (!doc || !only_fields(c, r, doc, fields, &ret))
        goto out;
    res = ald_product_get(h->store, r->params[0], &p); /* a 404 comes before any 400 */
    if (!ald_is_ok(&res)) {
        ret = reply_result(c, r, &res);
        goto out;
    }
    res = release_body_parse(doc, &spec, sha);
    if (!ald_is_ok(&res)) {
        ret = reply_result(c, r, &res);
        goto out;
    }
    /* No images (or not 1..ALD_PLAN_MAX_STEPS of them): the version's and channel's own
     * errors come first, as the service checks them, and its answer to no images. */
    res = ald_release_create(h->store, &p, &spec, &rel);
    if (!ald_is_ok(&res) || !spec.nimages) {
        ret = reply_result(c, r, &res);
        goto out;
    }
    snprintf(r->location, sizeof r->location, "/v1/products/%s/releases/%s", p.name,
             rel.version);
    ret = reply_json(c, r, MHD_HTTP_CREATED, release_json(&rel, p.name));
out:
    json_decref(doc);
    return ret;
}

HANDLER(h_releases_list)
{
    struct ald_product_rec p;
    struct ald_result res = ald_product_get(h->store, r->params[0], &p);
    struct release_list l = {NULL, p.name};
    if (!ald_is_ok(&res))
        return reply_result(c, r, &res);
    if (!(l.arr = json_array()))
        return MHD_NO;
    res = ald_release_list(h->store, &p, collect_release, &l);
    if (!ald_is_ok(&res)) {
        json_decref(l.arr);
        return reply_result(c, r, &res);
    }
    return reply_json(c, r, MHD_HTTP_OK, json_pack("{s:o}", "releases", l.arr));
}

HANDLER(h_release_get)
{
    struct ald_product_rec p;
    struct ald_release_rec rel;
    struct ald_result res = ald_product_get(h->store, r->params[0], &p);
    if (ald_is_ok(&res))
        res = ald_release_get(h->store, &p, r->params[1], &rel);
    return ald_is_ok(&res) ? reply_json(c, r, MHD_HTTP_OK, release_json(&rel, p.name))
                           : reply_result(c, r, &res);
}
