/*
 * h_devices.c - /v1/devices: create, list, read, change (fleet fields) and delete devices
 * (docs/api.md, "Devices"; docs/fleets.md).
 */
#include <stdlib.h>
#include <string.h>

#include "devices.h"
#include "http_priv.h"
#include "reply.h"
#include "updates.h"
#include "util.h"

/*
 * A device object. full: with its inventory. with_live: with the names and states the
 * store has to be asked for (its product's name and its active update), so never from
 * inside a store listing, which holds the store's lock.
 */
static json_t *device_json(struct ald_http *h, const struct ald_device_rec *d, bool full,
                           bool with_update, bool with_product)
{
    char product[ALD_NAME_MAX + 1];
    json_t *o = json_pack("{s:s, s:s, s:i, s:b, s:o, s:o, s:s, s:o, s:o, s:o, s:o}", "name",
                          d->name, "identity", d->identity, "platform", d->platform, "dev", d->dev,
                          "product", d->product_id ? json_integer(d->product_id) : json_null(),
                          "groups",
                          d->groups_json[0] ? json_loads(d->groups_json, 0, NULL) : json_array(),
                          "channel", d->channel[0] ? d->channel : "stable", "pinned",
                          d->pinned[0] ? json_string(d->pinned) : json_null(), "created_at",
                          ald_time_json(d->created_at), "last_seen_at",
                          ald_time_json(d->last_seen_at), "reported_at", ald_time_json(d->reported_at));
    if (!o)
        return NULL;
    if (full) {
        json_t *inv = d->inventory[0] ? json_loads(d->inventory, 0, NULL) : NULL;
        json_object_set_new(o, "inventory", inv ? inv : json_null());
    }
    ald_device_live_json(d, o);
    if (with_update)
        json_object_set_new(o, "update", ald_device_update_json(h->store, d->id));
    if (with_product && d->product_id)
        json_object_set_new(o, "product", ald_product_name(h->store, d->product_id, product)
                                              ? json_string(product) : json_null());
    return o;
}

/* POST /v1/devices: {"name", "platform", "dev"}. */
HANDLER(h_devices_create)
{
    static const char *const fields[] = {"name", "platform", "dev", NULL};
    enum MHD_Result ret = MHD_NO;
    struct ald_device_rec *d = malloc(sizeof *d);
    char psk_hex[2 * ALD_DEVICE_PSK_BYTES + 1];
    const char *name;
    json_t *doc = parse_body(c, r, &ret), *dev, *body;
    struct ald_result res;
    uint16_t platform;

    if (!d) {
        ret = MHD_NO;
        goto out;
    }
    memset(d->psk, 0, sizeof d->psk);
    if (!doc || !only_fields(c, r, doc, fields, &ret) ||
        !(name = string_field(c, r, doc, "name", ALD_NAME_MAX, &ret)))
        goto out;
    res = ald_device_name_check(name); /* the name first: it is the first thing to fix */
    if (!ald_is_ok(&res)) {
        ret = reply_result(c, r, &res);
        goto out;
    }
    if (!platform_value(json_object_get(doc, "platform"), &platform)) {
        ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request",
                          "field 'platform' must be a platform id 0..65535 or \"electron\"");
        goto out;
    }
    dev = json_object_get(doc, "dev");
    if (dev && !json_is_boolean(dev)) {
        ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request",
                          "field 'dev' must be true or false");
        goto out;
    }
    res = ald_device_create(h->store, name, platform, json_is_true(dev), r->token.name, d);
    if (!ald_is_ok(&res)) {
        ret = reply_result(c, r, &res);
        goto out;
    }
    alc_hex_encode(d->psk, d->psk_len, psk_hex);
    body = device_json(h, d, false, false, false);
    if (body)
        json_object_set_new(body, "psk", json_string(psk_hex));
    memset(psk_hex, 0, sizeof psk_hex);
    snprintf(r->location, sizeof r->location, "/v1/devices/%s", d->name);
    ret = reply_json(c, r, MHD_HTTP_CREATED, body);
out:
    if (d)
        memset(d->psk, 0, sizeof d->psk);
    free(d);
    json_decref(doc);
    return ret;
}

struct device_listing {
    struct ald_http *h;
    json_t *devices;
    json_t *ids; /* device ids, to add what the store knows once the listing is done */
};

static int collect_device(void *ctx, const struct ald_device_rec *d)
{
    struct device_listing *l = ctx;
    json_array_append_new(l->ids, json_integer(d->id));
    return json_array_append_new(l->devices, device_json(l->h, d, false, false, false));
}

HANDLER(h_devices_list)
{
    struct device_listing l = {h, json_array(), json_array()};
    struct ald_result res = ald_ok();
    char product[ALD_NAME_MAX + 1];
    json_t *id;
    size_t i;
    if (!l.devices || !l.ids) {
        json_decref(l.devices);
        json_decref(l.ids);
        return MHD_NO;
    }
    res = ald_device_list(h->store, collect_device, &l);
    if (!ald_is_ok(&res)) {
        json_decref(l.devices);
        json_decref(l.ids);
        return reply_result(c, r, &res);
    }
    json_array_foreach(l.ids, i, id) {
        json_t *o = json_array_get(l.devices, i);
        json_t *pid = json_object_get(o, "product");
        json_object_set_new(o, "update", ald_device_update_json(h->store, json_integer_value(id)));
        if (json_is_integer(pid))
            json_object_set_new(o, "product",
                                ald_product_name(h->store, json_integer_value(pid), product)
                                    ? json_string(product) : json_null());
    }
    json_decref(l.ids);
    return reply_json(c, r, MHD_HTTP_OK, json_pack("{s:o}", "devices", l.devices));
}

HANDLER(h_device_get)
{
    struct ald_device_rec *d = malloc(sizeof *d);
    struct ald_result res;
    enum MHD_Result ret;
    if (!d)
        return MHD_NO;
    res = ald_device_get(h->store, r->params[0], d);
    ret = ald_is_ok(&res) ? reply_json(c, r, MHD_HTTP_OK, device_json(h, d, true, true, true))
                          : reply_result(c, r, &res);
    memset(d->psk, 0, sizeof d->psk);
    free(d);
    return ret;
}

HANDLER(h_device_delete)
{
    struct ald_result res = ald_device_delete(h->store, r->params[0], r->token.name);
    return ald_is_ok(&res) ? reply_empty(c, r, MHD_HTTP_NO_CONTENT) : reply_result(c, r, &res);
}

/* PATCH /v1/devices/{name}: product, groups, channel, pinned, dev. */
HANDLER(h_device_patch)
{
    static const char *const fields[] = {"product", "groups", "channel", "pinned", "dev", NULL};
    enum MHD_Result ret = MHD_NO;
    struct ald_device_rec *d = malloc(sizeof *d);
    struct ald_device_change ch;
    const char *groups[ALD_GROUPS_MAX];
    json_t *doc = parse_body(c, r, &ret), *v, *x;
    const char *why = NULL;
    struct ald_result res;
    size_t i;

    memset(&ch, 0, sizeof ch);
    if (!d || !doc || !only_fields(c, r, doc, fields, &ret))
        goto out;
    res = ald_device_get(h->store, r->params[0], d); /* a 404 comes before any 400 */
    if (!ald_is_ok(&res)) {
        ret = reply_result(c, r, &res);
        goto out;
    }
    if ((v = json_object_get(doc, "product"))) {
        ch.set_product = true;
        if (!json_is_null(v) && !(ch.product = json_string_value(v)))
            why = "'product' must name an existing product, or be null";
    }
    if (!why && (v = json_object_get(doc, "groups"))) {
        ch.set_groups = true;
        ch.groups = groups;
        if (!json_is_array(v) || json_array_size(v) > ALD_GROUPS_MAX)
            why = "'groups' must be an array of at most 16 distinct names";
        json_array_foreach(v, i, x) {
            if (why || !(groups[i] = json_string_value(x))) {
                why = "'groups' must be an array of at most 16 distinct names";
                break;
            }
        }
        ch.ngroups = json_array_size(v);
    }
    if (!why && (v = json_object_get(doc, "channel")) && !(ch.channel = json_string_value(v)))
        why = "'channel' must be a name (stable, beta, rc, or your own)";
    if (!why && (v = json_object_get(doc, "pinned"))) {
        ch.set_pinned = true;
        if (!json_is_null(v) && !(ch.pinned = json_string_value(v)))
            why = "'pinned' must be a release version (e.g. \"1.2.0\") or null";
    }
    if (!why && (v = json_object_get(doc, "dev"))) {
        ch.set_dev = true;
        ch.dev = json_is_true(v);
        if (!json_is_boolean(v))
            why = "'dev' must be true or false";
    }
    if (why) {
        ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request", "%s", why);
        goto out;
    }
    res = ald_device_change(h->store, r->params[0], &ch, d);
    if (!ald_is_ok(&res)) {
        ret = reply_result(c, r, &res);
        goto out;
    }
    ret = reply_json(c, r, MHD_HTTP_OK, device_json(h, d, false, false, true));
out:
    json_decref(doc);
    free(d);
    return ret;
}
