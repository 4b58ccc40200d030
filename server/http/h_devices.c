/*
 * h_devices.c - /v1/devices: create, list, read, change (fleet fields) and delete devices
 * (docs/api.md, "Devices"; docs/fleets.md).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devcreds.h"
#include "devices.h"
#include "fleetq.h"
#include "http_priv.h"
#include "labels.h"
#include "reply.h"
#include "rollouts.h"
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
    /* issue 14 (creds): how it authenticates; disabled: its handshakes are refused */
    json_object_set_new(o, "credential",
                        !strcmp(d->credential, "rpk") /* issue 14 (rpk) */
                            ? json_pack("{s:s, s:s}", "kind", "rpk", "fingerprint", d->fingerprint)
                        : strcmp(d->credential, "x509")
                            ? json_pack("{s:s}", "kind", "psk")
                            : json_pack("{s:s, s:s, s:s}", "kind", "x509", "fingerprint",
                                        d->fingerprint, "subject", d->subject));
    json_object_set_new(o, "disabled", json_boolean(d->disabled));
    if (full) {
        json_t *inv = d->inventory[0] ? json_loads(d->inventory, 0, NULL) : NULL;
        ald_label_modules_json(json_object_get(inv, "modules"), d->platform); /* issue 16 */
        json_object_set_new(o, "inventory", inv ? inv : json_null());
    }
    ald_device_live_json(d, o);
    if (with_update)
        json_object_set_new(o, "update", ald_device_update_json(h->store, d->id));
    if (full) /* where it stands in its newest rollout: pinned, flashed by hand, ... */
        json_object_set_new(o, "rollout", ald_device_rollout_json(h->store, d->id));
    if (with_product && d->product_id)
        json_object_set_new(o, "product", ald_product_name(h->store, d->product_id, product)
                                              ? json_string(product) : json_null());
    return o;
}

/* printf into why[cap]; returns why. */
static const char *say(char *why, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static const char *say(char *why, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return why;
}

/*
 * One entry of a create request into *it: {"name", "platform", "dev", "product", "groups",
 * "channel"}; groups points into groups[ALD_GROUPS_MAX]. NULL, or what is wrong (written
 * into why[cap]) prefixed with `at`. (http_priv.h)
 */
const char *device_new_parse(json_t *o, const char *at, struct ald_device_new *it,
                             const char **groups, char *why, size_t cap)
{
    static const char *const fields[] = {"name",    "platform", "dev",        "product",
                                         "groups",  "channel",  "credential", NULL};
    const char *key;
    json_t *v, *x;
    size_t i;
    memset(it, 0, sizeof *it);
    if (!json_is_object(o))
        return say(why, cap, "%sa device must be a JSON object", at);
    json_object_foreach(o, key, v) {
        bool known = false;
        for (const char *const *f = fields; *f; f++)
            known = known || !strcmp(key, *f);
        if (!known)
            return say(why, cap, "%sunknown field '%.*s'", at, (int)utf8_cut(key, 64), key);
    }
    if (!(v = json_object_get(o, "name")))
        return say(why, cap, "%smissing field 'name'", at);
    if (!json_is_string(v))
        return say(why, cap, "%sfield 'name' must be a string", at);
    it->name = json_string_value(v);
    struct ald_result res = ald_device_name_check(it->name); /* the first thing to fix */
    if (!ald_is_ok(&res))
        return say(why, cap, "%s%s", at, res.msg);
    if (!platform_value(json_object_get(o, "platform"), &it->platform))
        return say(why, cap, "%sfield 'platform' must be a platform id 0..65535 or "
                                  "\"electron\"", at);
    if ((v = json_object_get(o, "dev")) && !json_is_boolean(v))
        return say(why, cap, "%sfield 'dev' must be true or false", at);
    it->dev = json_is_true(v);
    if ((v = json_object_get(o, "product")) && !json_is_null(v) &&
        !(it->product = json_string_value(v)))
        return say(why, cap, "%sfield 'product' must name an existing product", at);
    if ((v = json_object_get(o, "groups"))) {
        if (!json_is_array(v) || json_array_size(v) > ALD_GROUPS_MAX)
            return say(why, cap, "%sfield 'groups' must be an array of at most %d "
                                      "distinct names", at, ALD_GROUPS_MAX);
        json_array_foreach(v, i, x) {
            if (!(groups[i] = json_string_value(x)))
                return say(why, cap, "%sfield 'groups' must hold names", at);
        }
        it->groups = groups;
        it->ngroups = json_array_size(v);
    }
    if ((v = json_object_get(o, "channel")) && !(it->channel = json_string_value(v)))
        return say(why, cap, "%sfield 'channel' must be a name", at);
    if ((v = json_object_get(o, "credential"))) { /* issue 14 (creds) */
        const char *kind = json_string_value(json_object_get(v, "kind"));
        if (!json_is_object(v) || !kind)
            return say(why, cap, "%sfield 'credential' must be {\"kind\": \"psk\"}, "
                                 "{\"kind\": \"rpk\", \"public_key\": PEM} or "
                                 "{\"kind\": \"x509\", \"certificate\": PEM}", at);
        json_object_foreach(v, key, x) {
            if (strcmp(key, "kind") && strcmp(key, "certificate") && strcmp(key, "public_key"))
                return say(why, cap, "%scredential: unknown field '%.*s'", at,
                           (int)utf8_cut(key, 64), key);
        }
        if (strcmp(kind, "psk") && strcmp(kind, "x509") && strcmp(kind, "rpk"))
            return say(why, cap, "%scredential.kind must be \"psk\", \"x509\" or \"rpk\"", at);
        if (!strcmp(kind, "rpk") && !json_is_string(json_object_get(v, "public_key")))
            return say(why, cap, "%scredential.public_key: missing (a PEM public key)", at);
        if (!strcmp(kind, "rpk") && json_object_get(v, "certificate"))
            return say(why, cap, "%scredential kind 'rpk' takes 'public_key', not "
                                 "'certificate'", at);
        if (!strcmp(kind, "x509") &&
            !json_is_string(json_object_get(v, "certificate")))
            return say(why, cap, "%scredential.certificate: missing (a PEM certificate)", at);
        if (!strcmp(kind, "psk") && json_object_size(v) != 1)
            return say(why, cap, "%scredential kind 'psk' takes no other field (the server "
                                 "makes the key)", at);
        if (!strcmp(kind, "x509") && json_object_get(v, "public_key"))
            return say(why, cap, "%scredential kind 'x509' takes 'certificate', not "
                                 "'public_key'", at);
        it->credential = kind;
    }
    return NULL;
}

/* A created device as the API shows it once: with its PSK (hex). */
static json_t *created_json(struct ald_http *h, const struct ald_device_rec *d)
{
    char psk_hex[2 * ALD_DEVICE_PSK_BYTES + 1];
    json_t *o = device_json(h, d, false, false, true);
    alc_hex_encode(d->psk, d->psk_len, psk_hex);
    if (o && d->psk_len) /* issue 14 (creds): only PSK devices have one */
        json_object_set_new(o, "psk", json_string(psk_hex));
    memset(psk_hex, 0, sizeof psk_hex);
    return o;
}

struct ald_result devices_body_list(json_t *doc, json_t **list, size_t *n)
{
    static const char *const fields[] = {"devices", NULL};
    struct ald_result res;
    *n = 1;
    if (!(*list = json_object_get(doc, "devices")))
        return ald_ok();
    res = body_fields(doc, fields);
    if (!ald_is_ok(&res))
        return res;
    if (!json_is_array(*list) || json_array_size(*list) < 1 ||
        json_array_size(*list) > ALD_DEVICE_BATCH_MAX)
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                        "field 'devices' must be an array of 1..%d devices", ALD_DEVICE_BATCH_MAX);
    *n = json_array_size(*list);
    return ald_ok();
}

/* issue 14 (creds): a checked certificate's fingerprint and subject. */
struct cert_id {
    char fingerprint[ALD_SHA256_HEX + 1];
    char subject[ALD_SUBJECT_MAX + 1];
};

/*
 * POST /v1/devices: one device {"name", "platform", "dev", "product", "groups", "channel"},
 * or a batch {"devices": [such objects]} created in one transaction (docs/api.md).
 */
HANDLER(h_devices_create)
{
    enum MHD_Result ret = MHD_NO;
    json_t *doc = parse_body(c, r, &ret), *list, *body = NULL;
    struct ald_device_new *items = NULL;
    struct ald_device_rec *out = NULL;
    const char *(*groups)[ALD_GROUPS_MAX] = NULL;
    struct cert_id *certs = NULL; /* issue 14 (creds) */
    char why[ALD_RESULT_MSG_MAX + 40], at[32] = "";
    struct ald_result res;
    size_t n = 1;
    bool batch;

    if (!doc)
        goto out;
    res = devices_body_list(doc, &list, &n);
    if (!ald_is_ok(&res)) {
        ret = reply_result(c, r, &res);
        goto out;
    }
    batch = list != NULL;
    items = calloc(n, sizeof *items);
    out = calloc(n, sizeof *out);
    groups = calloc(n, sizeof *groups);
    certs = calloc(n, sizeof *certs);
    if (!items || !out || !groups || !certs)
        goto out;
    for (size_t i = 0; i < n; i++) {
        const char *bad;
        if (batch)
            snprintf(at, sizeof at, "devices[%zu]: ", i);
        bad = device_new_parse(batch ? json_array_get(list, i) : doc, at, &items[i], groups[i],
                               why, sizeof why);
        if (bad) {
            ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request", "%s", bad);
            goto out;
        }
        if (items[i].credential && !strcmp(items[i].credential, "x509")) {
            json_t *o = batch ? json_array_get(list, i) : doc;
            const char *pem = json_string_value(
                json_object_get(json_object_get(o, "credential"), "certificate"));
            res = ald_device_cert_check(h->device_cas, pem, certs[i].fingerprint,
                                        certs[i].subject);
            if (!ald_is_ok(&res)) {
                ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request", "%s%s", at,
                                  res.msg);
                goto out;
            }
            items[i].fingerprint = certs[i].fingerprint;
            items[i].subject = certs[i].subject;
        }
        if (items[i].credential && !strcmp(items[i].credential, "rpk")) { /* issue 14 (rpk) */
            json_t *o = batch ? json_array_get(list, i) : doc;
            const char *pem = json_string_value(
                json_object_get(json_object_get(o, "credential"), "public_key"));
            res = ald_device_pubkey_check(pem, certs[i].fingerprint);
            if (!ald_is_ok(&res)) {
                ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request", "%s%s", at,
                                  res.msg);
                goto out;
            }
            items[i].fingerprint = certs[i].fingerprint;
        }
    }
    res = ald_device_create_batch(h->store, items, n, r->token.name, out);
    if (!ald_is_ok(&res)) {
        ret = reply_result(c, r, &res);
        goto out;
    }
    if (batch) {
        body = json_array();
        for (size_t i = 0; i < n && body; i++)
            if (json_array_append_new(body, created_json(h, &out[i])) != 0) {
                json_decref(body);
                body = NULL;
            }
        body = body ? json_pack("{s:o}", "devices", body) : NULL;
    } else {
        body = created_json(h, &out[0]);
        snprintf(r->location, sizeof r->location, "/v1/devices/%s", out[0].name);
    }
    ret = reply_json(c, r, MHD_HTTP_CREATED, body);
out:
    if (out)
        for (size_t i = 0; i < n; i++)
            memset(out[i].psk, 0, sizeof out[i].psk);
    free(out);
    free(items);
    free(groups);
    free(certs);
    json_decref(doc);
    return ret;
}

#define LIST_LIMIT_MAX 1000 /* devices per page */
#define PRODUCT_CACHE 16

/* One page of the listing, rendered as it streams out of the store. */
struct device_listing {
    struct ald_http *h;
    json_t *devices;
    size_t n;
    char last[ALD_DEVICE_CURSOR_MAX]; /* issue 13 (sort): the cursor after the last one */
    int sort;
    struct { int64_t id; char name[ALD_NAME_MAX + 1]; } products[PRODUCT_CACHE];
    size_t nproducts;
    int64_t now;
    int64_t *ids; /* issue 12: each listed device's id, for its modules (fleetq.h) */
    size_t nids, capids;
};

static int collect_summary(void *ctx, const struct ald_device_summary *d)
{
    struct device_listing *l = ctx;
    json_t *product = json_null();
    for (size_t i = 0; d->product_id && i < l->nproducts; i++)
        if (l->products[i].id == d->product_id)
            product = json_string(l->products[i].name);
    if (d->product_id && json_is_null(product))
        product = json_integer(d->product_id); /* named once the page is read */
    json_t *o = json_pack("{s:s, s:s, s:i, s:b, s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:b, s:o, s:I, s:I, s:o}",
        "name", d->name, "identity", d->identity, "platform", d->platform, "dev", d->dev,
        "product", product, "groups",
        d->groups_json[0] ? json_loads(d->groups_json, 0, NULL) : json_array(),
        "channel", d->channel[0] ? d->channel : "stable", "pinned",
        d->pinned[0] ? json_string(d->pinned) : json_null(), "created_at",
        ald_time_json(d->created_at), "last_seen_at", ald_time_json(d->last_seen_at),
        "reported_at", ald_time_json(d->reported_at), "online",
        d->last_seen_at && l->now - d->last_seen_at < ALD_ONLINE_WINDOW_MS, "next_checkin_at",
        ald_time_json(d->next_checkin_at), "bytes_sent", (json_int_t)d->bytes_tx,
        "bytes_received", (json_int_t)d->bytes_rx, "update",
        d->update_id ? json_pack("{s:I, s:s}", "id", (json_int_t)d->update_id, "state",
                                 d->update_state)
                     : json_null());
    l->n++;
    ald_device_cursor(l->sort, d, l->last, sizeof l->last);
    if (l->nids == l->capids) {
        size_t cap = l->capids ? 2 * l->capids : 64;
        int64_t *grown = realloc(l->ids, cap * sizeof *grown);
        if (!grown) {
            json_decref(o);
            return 1;
        }
        l->ids = grown;
        l->capids = cap;
    }
    l->ids[l->nids++] = d->id;
    return json_array_append_new(l->devices, o);
}

/* GET /v1/devices[?product=&group=&channel=&module=&version=&online=&state=&prefix=
 * &sort=&after=&limit=&count=]: a page of devices in name order or the `sort` order
 * (docs/api.md). */
HANDLER(h_devices_list)
{
    struct device_listing *l = calloc(1, sizeof *l);
    struct ald_device_query q;
    struct ald_result res;
    uint64_t total = 0;
    const char *limit = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
    const char *count = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "count");
    int64_t n = 0;
    size_t i;
    json_t *o, *body;
    if (!l || !(l->devices = json_array())) {
        free(l);
        return MHD_NO;
    }
    memset(&q, 0, sizeof q);
#define ARG(f) q.f = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, #f)
    ARG(product); ARG(group); ARG(channel); ARG(module); ARG(version); ARG(online); ARG(state);
    ARG(prefix); ARG(after);
    ARG(sleeping); /* issue 13 (console) */
    ARG(sort);     /* issue 13 (sort) */
#undef ARG
    if (limit && (!parse_id(limit, &n) || n > LIST_LIMIT_MAX)) {
        json_decref(l->devices);
        free(l);
        return reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request",
                           "limit: a number 1..%d", LIST_LIMIT_MAX);
    }
    if (count && strcmp(count, "true") && strcmp(count, "false")) {
        json_decref(l->devices);
        free(l);
        return reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request", "count: true or false");
    }
    q.limit = (size_t)n;
    q.count = count && !strcmp(count, "true");
    l->h = h;
    l->now = ald_now_ms();
    if (q.sort) { /* a bad one is refused by ald_device_query */
        bool desc;
        if (!ald_device_sort_parse(q.sort, &l->sort, &desc))
            l->sort = ALD_SORT_NAME;
    }
    res = ald_device_query(h->store, &q, collect_summary, l, &total);
    if (!ald_is_ok(&res)) {
        json_decref(l->devices);
        free(l->ids);
        free(l);
        return reply_result(c, r, &res);
    }
    json_array_foreach(l->devices, i, o) { /* product ids to names, a few lookups per page */
        json_t *pid = json_object_get(o, "product");
        char name[ALD_NAME_MAX + 1];
        if (!json_is_integer(pid))
            continue;
        size_t k;
        for (k = 0; k < l->nproducts && l->products[k].id != json_integer_value(pid); k++)
            ;
        if (k == l->nproducts) {
            if (!ald_product_name(h->store, json_integer_value(pid), name))
                name[0] = '\0';
            if (k < PRODUCT_CACHE) {
                l->products[k].id = json_integer_value(pid);
                snprintf(l->products[k].name, sizeof l->products[k].name, "%s", name);
                l->nproducts++;
            }
        } else {
            snprintf(name, sizeof name, "%s", l->products[k].name);
        }
        json_object_set_new(o, "product", name[0] ? json_string(name) : json_null());
    }
    /* Each device's modules, as its last inventory has them (issue 12: the fleet at a
     * glance in `airlift devices list`). */
    json_t **mods = calloc(l->nids ? l->nids : 1, sizeof *mods);
    /* issue 11 (checkin): one query for the page, not one per device */
    if (mods && !ald_device_modules_page(h->store, l->ids, l->nids, mods)) {
        free(mods);
        mods = NULL;
    }
    json_array_foreach(l->devices, i, o) {
        json_t *m = mods && i < l->nids ? mods[i] : NULL;
        ald_label_modules_json(m, (unsigned)json_integer_value(json_object_get(o, "platform")));
        json_object_set_new(o, "modules", m ? m : json_array());
    }
    free(mods);
    free(l->ids);
    body = json_pack("{s:o}", "devices", l->devices);
    if (q.limit && l->n == q.limit)
        json_object_set_new(body, "next", json_string(l->last));
    if (q.count)
        json_object_set_new(body, "count", json_integer((json_int_t)total));
    free(l);
    return reply_json(c, r, MHD_HTTP_OK, body);
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

/* DELETE /v1/devices/{name}[?force=true]: 409 while it has an active update, unless force
 * (which cancels it). */
HANDLER(h_device_delete)
{
    const char *force = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "force");
    struct ald_update_rec *active = calloc(1, sizeof *active);
    struct ald_result res;
    enum MHD_Result ret;
    if (!active)
        return MHD_NO;
    if (force && strcmp(force, "true") && strcmp(force, "false")) {
        free(active);
        return reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request", "force: true or false");
    }
    res = ald_updates_remove_device(h->updates, r->params[0], force && !strcmp(force, "true"),
                                    r->token.name, active);
    if (ald_is_ok(&res))
        ret = reply_empty(c, r, MHD_HTTP_NO_CONTENT);
    else if (active->id)
        ret = reply_active_update(c, r, &res, active);
    else
        ret = reply_result(c, r, &res);
    free(active);
    return ret;
}

/* PATCH's fields into *ch (http_priv.h). */
const char *device_change_parse(json_t *doc, struct ald_device_change *ch, const char **groups)
{
    const char *why = NULL;
    json_t *v, *x;
    size_t i;
    memset(ch, 0, sizeof *ch);
    if ((v = json_object_get(doc, "product"))) {
        ch->set_product = true;
        if (!json_is_null(v) && !(ch->product = json_string_value(v)))
            why = "'product' must name an existing product, or be null";
    }
    if (!why && (v = json_object_get(doc, "groups"))) {
        ch->set_groups = true;
        ch->groups = groups;
        if (!json_is_array(v) || json_array_size(v) > ALD_GROUPS_MAX)
            why = "'groups' must be an array of at most 16 distinct names";
        json_array_foreach(v, i, x) {
            if (why || !(groups[i] = json_string_value(x))) {
                why = "'groups' must be an array of at most 16 distinct names";
                break;
            }
        }
        ch->ngroups = json_array_size(v);
    }
    if (!why && (v = json_object_get(doc, "channel")) && !(ch->channel = json_string_value(v)))
        why = "'channel' must be a name (stable, beta, rc, or your own)";
    if (!why && (v = json_object_get(doc, "pinned"))) {
        ch->set_pinned = true;
        if (!json_is_null(v) && !(ch->pinned = json_string_value(v)))
            why = "'pinned' must be a release version (e.g. \"1.2.0\") or null";
    }
    if (!why && (v = json_object_get(doc, "dev"))) {
        ch->set_dev = true;
        ch->dev = json_is_true(v);
        if (!json_is_boolean(v))
            why = "'dev' must be true or false";
    }
    if (!why && (v = json_object_get(doc, "disabled"))) { /* issue 14 (creds) */
        ch->set_disabled = true;
        ch->disabled = json_is_true(v);
        if (!json_is_boolean(v))
            why = "'disabled' must be true or false";
    }
    return why;
}

/* PATCH /v1/devices/{name}: product, groups, channel, pinned, dev, disabled (issue 14). */
HANDLER(h_device_patch)
{
    static const char *const fields[] = {"product", "groups", "channel", "pinned", "dev",
                                         "disabled", NULL};
    enum MHD_Result ret = MHD_NO;
    struct ald_device_rec *d = malloc(sizeof *d);
    struct ald_device_change ch;
    const char *groups[ALD_GROUPS_MAX];
    json_t *doc = parse_body(c, r, &ret);
    const char *why = NULL;
    struct ald_result res;

    memset(&ch, 0, sizeof ch);
    if (!d || !doc || !only_fields(c, r, doc, fields, &ret))
        goto out;
    res = ald_device_get(h->store, r->params[0], d); /* a 404 comes before any 400 */
    if (!ald_is_ok(&res)) {
        ret = reply_result(c, r, &res);
        goto out;
    }
    why = device_change_parse(doc, &ch, groups);
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

void ald_http_set_device_cas(struct ald_http *h, const struct ald_device_cas *cas)
{
    h->device_cas = cas;
}
