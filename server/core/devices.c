/*
 * devices.c - see devices.h.
 */
#include "devices.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "airlift/image.h"
#include "devcache.h" /* issue 11 (checkin) */
#include "log.h"
#include "updates.h"
#include "util.h"
#include "airlift_common/platform.h"


bool ald_platform_by_name(const char *name, uint16_t *out)
{
    return alc_platform_by_name(name, out);
}

struct ald_result ald_device_name_check(const char *name)
{
    if (!alc_name_valid(name))
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                        "device name must be 1..64 of [A-Za-z0-9._-], starting with a letter or "
                        "digit");
    return ald_ok();
}

struct ald_result ald_device_list(struct ald_store *st, ald_device_cb each, void *ctx)
{
    enum ald_store_rc rc = st->ops->device_list(st, each, ctx);
    return rc == ALD_STORE_OK ? ald_ok() : ald_store_failed(rc);
}

static bool module_function(const char *s, size_t n)
{
    static const char *const names[] = {"bootloader", "system", "application", "radio", "ncp"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == n && !strncmp(s, names[i], n))
            return true;
    return false;
}

/* issue 13 (sort) */
static const char *const sort_names[] = {
    [ALD_SORT_NAME] = "name", [ALD_SORT_LAST_SEEN] = "last_seen",
    [ALD_SORT_REPORTED] = "reported", [ALD_SORT_NEXT_CHECKIN] = "next_checkin",
    [ALD_SORT_BYTES] = "bytes", [ALD_SORT_STATE] = "state",
};

bool ald_device_sort_parse(const char *s, int *sort, bool *desc)
{
    *desc = s[0] == '-';
    for (size_t i = 0; i < sizeof sort_names / sizeof sort_names[0]; i++)
        if (!strcmp(s + *desc, sort_names[i])) {
            *sort = (int)i;
            return true;
        }
    return false;
}

void ald_device_cursor(int sort, const struct ald_device_summary *d, char *out, size_t cap)
{
    bool none = true;
    int64_t v;
    if (sort == ALD_SORT_NAME) {
        snprintf(out, cap, "%s", d->name);
        return;
    }
    v = ald_device_sort_value(sort, d, &none);
    if (none)
        snprintf(out, cap, "~%s", d->name);
    else
        snprintf(out, cap, "%lld~%s", (long long)v, d->name);
}

/* "VALUE~NAME" (VALUE: 0..19 decimal digits, empty for none) into f's cursor. */
static bool parse_cursor(const char *s, struct ald_device_filter *f)
{
    const char *tilde = strchr(s, '~');
    size_t n = tilde ? (size_t)(tilde - s) : 0;
    int64_t v = 0;
    if (!tilde || n > 18 || !alc_name_valid(tilde + 1) || (n == 0 && f->sort == ALD_SORT_BYTES))
        return false; /* every device has a byte count: an empty VALUE is no cursor of it */
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    f->after_key = true;
    f->after_none = n == 0;
    f->after_value = v;
    f->after_name = tilde + 1;
    return true;
}

struct ald_result ald_device_query(struct ald_store *st, const struct ald_device_query *q,
                                   ald_device_summary_cb each, void *ctx, uint64_t *total)
{
    struct ald_device_filter f;
    struct ald_product_rec prod;
    char function[ALD_FUNCTION_NAME_MAX + 1];
    enum ald_store_rc rc;
    memset(&f, 0, sizeof f);
    f.online = -1;
    f.index = -1;
    if (q->product) {
        if (!alc_name_valid(q->product))
            return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request", "product: not a valid name");
        rc = st->ops->product_get(st, q->product, &prod);
        if (rc == ALD_STORE_NOT_FOUND)
            return ald_fail(ALD_ERR_NOT_FOUND, "not_found", "product '%s' does not exist",
                            q->product);
        if (rc != ALD_STORE_OK)
            return ald_store_failed(rc);
        f.product_id = prod.id;
    }
    if ((q->group && !alc_name_valid(q->group)) || (q->channel && !alc_name_valid(q->channel)))
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request", "%s: not a valid name",
                        q->group && !alc_name_valid(q->group) ? "group" : "channel");
    f.group = q->group;
    f.channel = q->channel;
    if (q->module || q->version) {
        const char *colon = q->module ? strchr(q->module, ':') : NULL;
        char *end = NULL;
        long index = colon ? strtol(colon + 1, &end, 10) : -1;
        if (!q->module || !q->version || !colon || !module_function(q->module, (size_t)(colon - q->module)) ||
            end == colon + 1 || *end || index < 0 || index > 255 || strlen(q->version) > ALD_VERSION_MAX)
            return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                            "module and version go together: module=FUNCTION:INDEX (bootloader, "
                            "system, application, radio or ncp) and version=X.Y.Z");
        snprintf(function, sizeof function, "%.*s", (int)(colon - q->module), q->module);
        f.function = function;
        f.index = (int)index;
        f.version = q->version;
    }
    if (q->online) {
        if (strcmp(q->online, "true") && strcmp(q->online, "false"))
            return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request", "online: true or false");
        f.online = !strcmp(q->online, "true");
        f.online_since = ald_now_ms() - ALD_ONLINE_WINDOW_MS;
    }
    if (q->sleeping) { /* issue 13 (console): the fleet's sleeping devices */
        if (strcmp(q->sleeping, "true") && strcmp(q->sleeping, "false"))
            return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request", "sleeping: true or false");
        f.sleeping = !strcmp(q->sleeping, "true") ? 1 : -1;
        f.now_ms = ald_now_ms();
    }
    if (q->state) {
        static const char *const states[] = {"none", "active", "queued", "downloading",
                                             "verifying", "installing", "rebooting",
                                             "confirming"};
        bool known = false;
        for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
            known |= !strcmp(q->state, states[i]);
        if (!known)
            return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                            "state: none, active, or the state of an update under way (queued, "
                            "downloading, verifying, installing, rebooting, confirming)");
        f.update_state = q->state;
    }
    bool cursor = q->after && q->sort && strcmp(q->sort, "name") && strcmp(q->sort, "-name");
    if ((q->prefix && strlen(q->prefix) > ALD_NAME_MAX) ||
        (q->after && !cursor && !alc_name_valid(q->after)))
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request", "%s: not a valid name",
                        q->after && !cursor && !alc_name_valid(q->after) ? "after" : "prefix");
    f.name_prefix = q->prefix;
    f.after_name = q->after;
    f.limit = q->limit;
    if (q->sort && !ald_device_sort_parse(q->sort, &f.sort, &f.desc)) /* issue 13 (sort) */
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                        "sort: name, last_seen, reported, next_checkin, bytes or state, "
                        "with a '-' in front for descending");
    if (q->after && f.sort != ALD_SORT_NAME && !parse_cursor(q->after, &f))
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                        "after: expected the `next` of the page before (VALUE~NAME) for sort=%s",
                        q->sort);
    if (q->count && (rc = st->ops->device_count(st, &f, total)) != ALD_STORE_OK)
        return ald_store_failed(rc);
    rc = st->ops->device_query(st, &f, each, ctx);
    return rc == ALD_STORE_OK ? ald_ok() : ald_store_failed(rc);
}

struct ald_result ald_device_get(struct ald_store *st, const char *name,
                                 struct ald_device_rec *out)
{
    enum ald_store_rc rc =
        alc_name_valid(name) ? st->ops->device_get(st, name, out) : ALD_STORE_NOT_FOUND;
    if (rc == ALD_STORE_NOT_FOUND)
        return ald_fail(ALD_ERR_NOT_FOUND, "not_found", "device '%s' does not exist", name);
    return rc == ALD_STORE_OK ? ald_ok() : ald_store_failed(rc);
}

struct ald_result ald_device_delete(struct ald_store *st, const char *name, const char *by)
{
    struct ald_device_rec *d = malloc(sizeof *d);
    struct ald_event_rec *ev = malloc(sizeof *ev);
    struct ald_result res = d && ev ? ald_device_get(st, name, d)
                                    : ald_store_failed(ALD_STORE_ERROR);
    enum ald_store_rc rc;
    if (ald_is_ok(&res) && (rc = st->ops->device_delete(st, name)) != ALD_STORE_OK)
        res = rc == ALD_STORE_NOT_FOUND
                  ? ald_fail(ALD_ERR_NOT_FOUND, "not_found", "device '%s' does not exist", name)
                  : ald_store_failed(rc);
    if (ald_is_ok(&res)) {
        ald_devcache_invalidate(); /* issue 11: no session goes on with the live row */
        /* The name now belongs to no device: the event names this one by its id. */
        json_t *data = json_pack("{s:I, s:s, s:s}", "device_id", (json_int_t)d->id, "identity",
                                 d->identity, "by", by ? by : "");
        char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;
        memset(ev, 0, sizeof *ev);
        snprintf(ev->type, sizeof ev->type, "device.deleted");
        snprintf(ev->device, sizeof ev->device, "%s", d->name);
        snprintf(ev->data, sizeof ev->data, "%s", text ? text : "{}");
        ev->device_id = d->id;
        (void)st->ops->event_append(st, ev);
        free(text);
        json_decref(data);
        ald_log(ALD_LOG_INFO, "device deleted", "device", name, "by", by, NULL);
    }
    if (d)
        memset(d->psk, 0, sizeof d->psk);
    free(d);
    free(ev);
    return res;
}

bool ald_groups_json(const char *const *groups, size_t n, char *out, size_t cap)
{
    json_t *arr = json_array();
    char *text = NULL;
    bool ok = arr && n <= ALD_GROUPS_MAX;
    for (size_t i = 0; ok && i < n; i++) {
        ok = groups[i] && alc_name_valid(groups[i]);
        for (size_t k = 0; ok && k < i; k++)
            ok = strcmp(groups[i], groups[k]) != 0;
        if (ok)
            ok = json_array_append_new(arr, json_string(groups[i])) == 0;
    }
    text = ok ? json_dumps(arr, JSON_COMPACT) : NULL;
    ok = text && strlen(text) < cap;
    if (ok)
        memcpy(out, text, strlen(text) + 1);
    free(text);
    json_decref(arr);
    return ok;
}

/* A device's fleet fields, before a change, for the device.changed event's data. */
struct fleet_fields {
    int64_t product_id;
    char groups_json[ALD_GROUPS_JSON_MAX];
    char channel[ALD_NAME_MAX + 1];
    char pinned[ALD_VERSION_MAX + 1];
    bool dev;
    bool disabled; /* issue 14 (creds) */
};

/* The product's name as JSON, null for none. */
static json_t *product_json(struct ald_store *st, int64_t id)
{
    char name[ALD_NAME_MAX + 1];
    return id && ald_product_name(st, id, name) ? json_string(name) : json_null();
}

/* {"FIELD": {"from": OLD, "to": NEW}, ...} for each fleet field that changed, as text. */
static char *changed_json(struct ald_store *st, const struct fleet_fields *was,
                          const struct ald_device_rec *now)
{
    json_t *d = json_object();
    char *text;
#define CHANGED(field, from, to) \
    json_object_set_new(d, field, json_pack("{s:o, s:o}", "from", from, "to", to))
    if (was->product_id != now->product_id)
        CHANGED("product", product_json(st, was->product_id), product_json(st, now->product_id));
    if (strcmp(was->groups_json, now->groups_json)) {
        json_t *a = json_loads(was->groups_json[0] ? was->groups_json : "[]", 0, NULL);
        json_t *b = json_loads(now->groups_json[0] ? now->groups_json : "[]", 0, NULL);
        CHANGED("groups", a ? a : json_array(), b ? b : json_array());
    }
    if (strcmp(was->channel, now->channel))
        CHANGED("channel", json_string(was->channel[0] ? was->channel : "stable"),
                json_string(now->channel[0] ? now->channel : "stable"));
    if (strcmp(was->pinned, now->pinned))
        CHANGED("pinned", was->pinned[0] ? json_string(was->pinned) : json_null(),
                now->pinned[0] ? json_string(now->pinned) : json_null());
    if (was->dev != now->dev)
        CHANGED("dev", json_boolean(was->dev), json_boolean(now->dev));
    if (was->disabled != now->disabled) /* issue 14 (creds) */
        CHANGED("disabled", json_boolean(was->disabled), json_boolean(now->disabled));
#undef CHANGED
    text = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    return text;
}

struct ald_result ald_device_change(struct ald_store *st, const char *name,
                                    const struct ald_device_change *ch,
                                    struct ald_device_rec *out)
{
    struct ald_result res = ald_device_get(st, name, out);
    struct ald_product_rec p;
    struct al_version ver;
    struct fleet_fields was;
    enum ald_store_rc rc;
    const char *why = NULL;
    char *changed;
    if (!ald_is_ok(&res))
        return res;
    was.product_id = out->product_id;
    memcpy(was.groups_json, out->groups_json, sizeof was.groups_json);
    memcpy(was.channel, out->channel, sizeof was.channel);
    memcpy(was.pinned, out->pinned, sizeof was.pinned);
    was.dev = out->dev;
    was.disabled = out->disabled;
    if (ch->set_product) {
        if (!ch->product)
            out->product_id = 0;
        else if (st->ops->product_get(st, ch->product, &p) != ALD_STORE_OK)
            why = "'product' must name an existing product, or be null";
        else if (p.platform != out->platform)
            why = "the product is for another platform than the device";
        else
            out->product_id = p.id;
    }
    if (!why && ch->set_groups &&
        !ald_groups_json(ch->groups, ch->ngroups, out->groups_json, sizeof out->groups_json))
        why = "'groups' must be an array of at most 16 distinct names";
    if (!why && ch->channel) {
        if (!alc_name_valid(ch->channel))
            why = "'channel' must be a name (stable, beta, rc, or your own)";
        else
            snprintf(out->channel, sizeof out->channel, "%s", ch->channel);
    }
    if (!why && ch->set_pinned) {
        if (!ch->pinned)
            out->pinned[0] = '\0';
        else if (strlen(ch->pinned) > ALD_VERSION_MAX ||
                 al_version_parse(ch->pinned, strlen(ch->pinned), &ver) != AL_OK)
            why = "'pinned' must be a release version (e.g. \"1.2.0\") or null";
        else
            snprintf(out->pinned, sizeof out->pinned, "%s", ch->pinned);
    }
    if (!why && ch->set_dev)
        out->dev = ch->dev;
    if (!why && ch->set_disabled) /* issue 14 (creds): at the next handshake or inventory */
        out->disabled = ch->disabled;
    if (why)
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request", "%s", why);
    if ((rc = st->ops->device_set_fleet(st, out)) != ALD_STORE_OK)
        return ald_store_failed(rc);
    ald_devcache_invalidate(); /* issue 11: sessions read the changed row again */
    changed = changed_json(st, &was, out);
    ald_event_emit(st, "device.changed", out->name, 0, changed);
    free(changed);
    return ald_ok();
}

bool ald_product_name(struct ald_store *st, int64_t id, char out[ALD_NAME_MAX + 1])
{
    struct ald_product_rec p;
    out[0] = '\0';
    if (st->ops->product_get_id(st, id, &p) != ALD_STORE_OK)
        return false;
    snprintf(out, ALD_NAME_MAX + 1, "%s", p.name);
    return true;
}
