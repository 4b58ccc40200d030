/*
 * http_api.c - see http_api.h.
 *
 * Life of a request (libmicrohttpd calls on_request several times per request):
 *  1. first call: route the method and path, authenticate the bearer token, check the
 *     scope, Content-Type and declared Content-Length. Any failure queues the error reply
 *     at once, before a byte of the body is read.
 *  2. upload calls: the body is appended to a buffer bounded by the route's limit; past it
 *     the rest is discarded and the request ends in 413.
 *  3. last call: the route's handler runs and queues exactly one reply.
 * on_completed logs the request and frees its state.
 */
#include "http_api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "airlift/image.h"
#include "airlift_common/buf.h"
#include "airlift_common/parse.h"
#include "airlift_common/platform.h"
#include "auth.h"
#include "images.h"
#include "log.h"
#include "planner.h"
#include "rollouts.h"
#include "updates.h"

#ifndef AIRLIFTD_VERSION
#define AIRLIFTD_VERSION "0.0.0"
#endif
#define PARAM_MAX 80       /* longest path segment a route accepts */
#define MAX_SEGMENTS 6
#define EVENTS_DEFAULT_LIMIT 100
#define EVENTS_MAX_LIMIT 1000
#define EVENT_PREFIX_MAX 31       /* the `type` filter */
#define STREAM_POLL_MS 200        /* how often the ticker looks for new events */
#define STREAM_KEEPALIVE_MS 15000 /* a comment after this much silence; token re-checked */
#define STREAM_BATCH 64           /* events read from the store at once */
#define STREAM_BLOCK 16384        /* libmicrohttpd's buffer for a stream */
#define STREAM_PENDING_MAX (STREAM_BATCH * 16384u) /* a batch as wire text, at most */
#define STREAM_END_WAIT_MS 1000   /* at shutdown, for the streams to end */
#define PSK_BYTES 32
#define IDENTITY_RANDOM_BYTES 8

struct event_stream;

struct ald_http {
    struct MHD_Daemon *daemon;
    struct ald_store *store;
    struct ald_updates *updates;
    struct ald_rollouts *rollouts; /* NULL: the fleet endpoints answer 503 */
    const char *data_dir;
    uint16_t port;
    /* Live event streams and the thread that wakes them (see "the live event stream"). */
    pthread_mutex_t streams_lock;
    pthread_cond_t streams_wake;
    struct event_stream *streams;
    bool stopping;
    pthread_t ticker;
    bool ticker_running;
};

enum body_kind { BODY_NONE, BODY_JSON, BODY_IMAGE };

struct req;
typedef enum MHD_Result (*handler_fn)(struct ald_http *h, struct MHD_Connection *c,
                                      struct req *r);

struct route {
    const char *method;
    const char *pattern; /* "/v1/devices/{}": "{}" matches one segment, kept in params */
    enum ald_scope scope; /* 0: no token needed */
    enum body_kind body;
    handler_fn handle;
};

/* Per-request state, owned by libmicrohttpd's con_cls until on_completed. */
struct req {
    const struct route *route;
    char params[2][PARAM_MAX + 1];
    struct ald_token_rec token;
    struct alc_buf body; /* the request body; body.max is the route's limit */
    bool too_large;
    bool replied;
    unsigned status;
    int64_t started_ms;
    char method[16];
    char path[256];
    char location[192]; /* Location header of a 201, if set */
};

/* ---- replies ---- */

/* Queue resp with status, recording it for the access log. Destroys resp. */
static enum MHD_Result send_reply(struct MHD_Connection *c, struct req *r, unsigned status,
                                  struct MHD_Response *resp)
{
    enum MHD_Result ret;
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (r->location[0])
        MHD_add_response_header(resp, "Location", r->location);
    r->replied = true;
    r->status = status;
    ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Reply with body as JSON (steals the reference). */
static enum MHD_Result reply_json(struct MHD_Connection *c, struct req *r, unsigned status,
                                  json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct MHD_Response *resp = NULL;
    json_decref(body);
    if (!text)
        return MHD_NO; /* out of memory: drop the connection */
    resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    return send_reply(c, r, status, resp);
}

/* {"error":{"code":code,"message":...}} with an optional extra "reason". */
static enum MHD_Result reply_error_reason(struct MHD_Connection *c, struct req *r,
                                          unsigned status, const char *code, const char *reason,
                                          const char *fmt, ...)
{
    char message[512];
    json_t *err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    err = json_pack("{s:s, s:s}", "code", code, "message", message);
    if (err && reason)
        json_object_set_new(err, "reason", json_string(reason));
    return reply_json(c, r, status, err ? json_pack("{s:o}", "error", err) : NULL);
}

#define reply_error(c, r, status, code, ...) \
    reply_error_reason(c, r, status, code, NULL, __VA_ARGS__)

static enum MHD_Result reply_empty(struct MHD_Connection *c, struct req *r, unsigned status)
{
    return send_reply(c, r, status,
                      MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT));
}

static enum MHD_Result reply_store_error(struct MHD_Connection *c, struct req *r)
{
    return reply_error(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                       "the server could not complete the request (see its log)");
}

/* The answer to a lookup of the `kind` named r->params[0]: 404, 500, or 200 with body
 * (which the caller builds only when rc is ALD_STORE_OK). */
static enum MHD_Result reply_lookup(struct MHD_Connection *c, struct req *r,
                                    enum ald_store_rc rc, const char *kind, json_t *body)
{
    if (rc == ALD_STORE_NOT_FOUND) {
        json_decref(body);
        return reply_error(c, r, MHD_HTTP_NOT_FOUND, "not_found", "%s '%s' does not exist", kind,
                           r->params[0]);
    }
    if (rc != ALD_STORE_OK) {
        json_decref(body);
        return reply_store_error(c, r);
    }
    return reply_json(c, r, MHD_HTTP_OK, body);
}

/* ---- JSON helpers ---- */

/* Parse the request body as a JSON object; on failure the 400 is queued and NULL returned. */
static json_t *parse_body(struct MHD_Connection *c, struct req *r, enum MHD_Result *ret)
{
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)r->body.data, r->body.len, JSON_REJECT_DUPLICATES,
                              &jerr);
    if (!doc) {
        *ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_json",
                           "request body is not valid JSON (line %d, column %d): %s", jerr.line,
                           jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        *ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_json",
                           "request body must be a JSON object");
        return NULL;
    }
    return doc;
}

/*
 * Every key of obj must be in allowed (NULL-terminated). Unknown fields are refused so a
 * typo never passes silently. On failure the 400 is queued and false returned.
 */
static bool only_fields(struct MHD_Connection *c, struct req *r, json_t *obj,
                        const char *const *allowed, enum MHD_Result *ret)
{
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value) {
        bool known = false;
        for (const char *const *a = allowed; *a; a++)
            if (!strcmp(key, *a))
                known = true;
        if (!known) {
            *ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request", "unknown field '%.64s'",
                               key);
            return false;
        }
    }
    return true;
}

/* A required string field of at most max bytes; on failure the 400 is queued, NULL returned. */
static const char *string_field(struct MHD_Connection *c, struct req *r, json_t *obj,
                                const char *field, size_t max, enum MHD_Result *ret)
{
    json_t *v = json_object_get(obj, field);
    if (!v) {
        *ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request", "missing field '%s'", field);
        return NULL;
    }
    if (!json_is_string(v)) {
        *ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request",
                           "field '%s' must be a string", field);
        return NULL;
    }
    if (json_string_length(v) > max || strlen(json_string_value(v)) != json_string_length(v)) {
        *ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request",
                           "field '%s' must be at most %zu bytes, without NUL", field, max);
        return NULL;
    }
    return json_string_value(v);
}

/* ---- handlers: health ---- */

static enum MHD_Result h_health(struct ald_http *h, struct MHD_Connection *c, struct req *r)
{
    int version = 0;
    if (h->store->ops->schema_version(h->store, &version) != ALD_STORE_OK)
        return reply_error(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                           "the database does not answer");
    return reply_json(c, r, MHD_HTTP_OK,
                      json_pack("{s:s, s:s, s:s, s:i}", "status", "ok", "version",
                                AIRLIFTD_VERSION, "store", h->store->ops->backend,
                                "schema_version", version));
}

/* ---- handlers: tokens ---- */

static json_t *token_json(const struct ald_token_rec *t)
{
    return json_pack("{s:I, s:s, s:s, s:o, s:o, s:b}", "id", (json_int_t)t->id, "name", t->name,
                     "scope", ald_scope_name(t->scope), "created_at", ald_time_json(t->created_at),
                     "last_used_at", ald_time_json(t->last_used_at), "revoked", t->revoked);
}

static enum MHD_Result h_tokens_create(struct ald_http *h, struct MHD_Connection *c,
                                       struct req *r)
{
    static const char *const fields[] = {"name", "scope", NULL};
    enum MHD_Result ret = MHD_NO;
    struct ald_token_rec rec;
    char token[ALD_TOKEN_LEN + 1], data[160];
    const char *name, *scope_name;
    enum ald_scope scope;
    json_t *doc = parse_body(c, r, &ret), *body;

    if (!doc || !only_fields(c, r, doc, fields, &ret))
        goto out;
    if (!(name = string_field(c, r, doc, "name", ALD_NAME_MAX, &ret)) ||
        !(scope_name = string_field(c, r, doc, "scope", 16, &ret)))
        goto out;
    if (!alc_name_valid(name)) {
        ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request",
                          "token name must be 1..64 of [A-Za-z0-9._-], starting with a letter "
                          "or digit");
        goto out;
    }
    scope = ald_scope_parse(scope_name);
    if (!scope) {
        ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request",
                          "scope must be read, operator or admin");
        goto out;
    }
    if (ald_token_issue(h->store, name, scope, token, &rec) != ALD_STORE_OK) {
        ret = reply_store_error(c, r);
        goto out;
    }
    snprintf(data, sizeof data, "{\"id\":%" PRId64 ",\"name\":\"%s\",\"scope\":\"%s\"}", rec.id,
             rec.name, ald_scope_name(rec.scope));
    ald_event_emit(h->store, "token.created", NULL, 0, data);
    ald_log(ALD_LOG_INFO, "token created", "name", rec.name, "scope", ald_scope_name(rec.scope),
            "by", r->token.name, NULL);
    body = token_json(&rec);
    json_object_set_new(body, "token", json_string(token));
    ret = reply_json(c, r, MHD_HTTP_CREATED, body);
out:
    json_decref(doc);
    return ret;
}

static int collect_token(void *ctx, const struct ald_token_rec *t)
{
    return json_array_append_new(ctx, token_json(t));
}

static enum MHD_Result h_tokens_list(struct ald_http *h, struct MHD_Connection *c, struct req *r)
{
    json_t *arr = json_array();
    if (!arr || h->store->ops->token_list(h->store, collect_token, arr) != ALD_STORE_OK) {
        json_decref(arr);
        return reply_store_error(c, r);
    }
    return reply_json(c, r, MHD_HTTP_OK, json_pack("{s:o}", "tokens", arr));
}

static int count_active_admins(void *ctx, const struct ald_token_rec *t)
{
    if (t->scope == ALD_SCOPE_ADMIN && !t->revoked)
        (*(int *)ctx)++;
    return 0;
}

static enum MHD_Result h_token_delete(struct ald_http *h, struct MHD_Connection *c,
                                      struct req *r)
{
    struct ald_token_rec t;
    enum ald_store_rc rc;
    int admins = 0;
    int64_t id;
    char data[64];

    if (!alc_parse_id(r->params[0], false, &id) ||
        (rc = h->store->ops->token_get(h->store, id, &t)) == ALD_STORE_NOT_FOUND)
        return reply_error(c, r, MHD_HTTP_NOT_FOUND, "not_found", "token '%s' does not exist",
                           r->params[0]);
    if (rc != ALD_STORE_OK)
        return reply_store_error(c, r);
    if (t.revoked)
        return reply_empty(c, r, MHD_HTTP_NO_CONTENT);
    if (t.scope == ALD_SCOPE_ADMIN) {
        if (h->store->ops->token_list(h->store, count_active_admins, &admins) != ALD_STORE_OK)
            return reply_store_error(c, r);
        if (admins <= 1)
            return reply_error(c, r, MHD_HTTP_CONFLICT, "last_admin",
                               "token %" PRId64 " is the last admin token; create another first",
                               id);
    }
    if (h->store->ops->token_revoke(h->store, id) != ALD_STORE_OK)
        return reply_store_error(c, r);
    snprintf(data, sizeof data, "{\"id\":%" PRId64 "}", id);
    ald_event_emit(h->store, "token.revoked", NULL, 0, data);
    ald_log(ALD_LOG_INFO, "token revoked", "name", t.name, "by", r->token.name, NULL);
    return reply_empty(c, r, MHD_HTTP_NO_CONTENT);
}

/* ---- handlers: devices ---- */

/* A device object; with_update: also its active update (not from inside a store listing,
 * which holds the store's lock). */
static json_t *device_json(struct ald_http *h, const struct ald_device_rec *d, bool full,
                           bool with_update)
{
    json_t *o = json_pack("{s:s, s:s, s:i, s:b, s:o, s:o, s:s, s:o, s:o, s:o, s:o}", "name",
                          d->name, "identity", d->identity, "platform", d->platform, "dev", d->dev,
                          "product", d->product_id ? json_integer(d->product_id) : json_null(),
                          "groups",
                          d->groups_json[0] ? json_loads(d->groups_json, 0, NULL) : json_array(),
                          "channel", d->channel[0] ? d->channel : "stable", "pinned",
                          d->pinned[0] ? json_string(d->pinned) : json_null(), "created_at",
                          ald_time_json(d->created_at), "last_seen_at",
                          ald_time_json(d->last_seen_at), "reported_at", ald_time_json(d->reported_at));
    if (o && full) {
        json_t *inv = d->inventory[0] ? json_loads(d->inventory, 0, NULL) : NULL;
        json_object_set_new(o, "inventory", inv ? inv : json_null());
    }
    if (o)
        ald_device_live_json(d, o);
    if (o && with_update)
        json_object_set_new(o, "update", ald_device_update_json(h->store, d->id));
    return o;
}

/* Replace a device object's product id by the product's name (not inside a store listing:
 * it reads the store). */
static json_t *name_product(struct ald_http *h, json_t *o)
{
    struct ald_product_rec p;
    json_t *id = json_object_get(o, "product");
    if (json_is_integer(id))
        json_object_set_new(o, "product",
                            h->store->ops->product_get_id(h->store, json_integer_value(id), &p) ==
                                    ALD_STORE_OK ? json_string(p.name) : json_null());
    return o;
}

/* "platform": a number 0..65535, or a platform name (airlift_common/platform.h). false if
 * neither. */
static bool platform_value(json_t *v, uint16_t *out)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0 &&
        json_integer_value(v) <= ALC_PLATFORM_ID_MAX) {
        *out = (uint16_t)json_integer_value(v);
        return true;
    }
    return json_is_string(v) && alc_platform_by_name(json_string_value(v), out);
}

static enum MHD_Result h_devices_create(struct ald_http *h, struct MHD_Connection *c,
                                        struct req *r)
{
    static const char *const fields[] = {"name", "platform", "dev", NULL};
    enum MHD_Result ret = MHD_NO;
    struct ald_device_rec *d = calloc(1, sizeof *d);
    char psk_hex[2 * PSK_BYTES + 1], data[128];
    const char *name;
    json_t *doc = parse_body(c, r, &ret), *dev, *body;
    enum ald_store_rc rc = ALD_STORE_EXISTS;

    if (!d) {
        ret = MHD_NO;
        goto out;
    }
    if (!doc || !only_fields(c, r, doc, fields, &ret))
        goto out;
    if (!(name = string_field(c, r, doc, "name", ALD_NAME_MAX, &ret)))
        goto out;
    if (!alc_name_valid(name)) {
        ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request",
                          "device name must be 1..64 of [A-Za-z0-9._-], starting with a letter "
                          "or digit");
        goto out;
    }
    if (!platform_value(json_object_get(doc, "platform"), &d->platform)) {
        ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request",
                          "field 'platform' must be a platform id 0..65535 or a platform name "
                          "(\"electron\", \"boron\", ...)");
        goto out;
    }
    dev = json_object_get(doc, "dev");
    if (dev && !json_is_boolean(dev)) {
        ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request",
                          "field 'dev' must be true or false");
        goto out;
    }
    d->dev = json_is_true(dev);
    memcpy(d->name, name, strlen(name) + 1);
    d->psk_len = PSK_BYTES;
    /* A fresh random identity per attempt: a collision (never seen) just retries. */
    for (int attempt = 0; attempt < 3 && rc == ALD_STORE_EXISTS; attempt++) {
        uint8_t rnd[IDENTITY_RANDOM_BYTES];
        struct ald_device_rec *other = NULL;
        if (!ald_random(rnd, sizeof rnd) || !ald_random(d->psk, PSK_BYTES)) {
            rc = ALD_STORE_ERROR;
            break;
        }
        memcpy(d->identity, "airlift-", 8);
        alc_hex_encode(rnd, sizeof rnd, d->identity + 8);
        rc = h->store->ops->device_create(h->store, d);
        if (rc != ALD_STORE_EXISTS)
            break;
        other = malloc(sizeof *other);
        if (!other || h->store->ops->device_get(h->store, name, other) != ALD_STORE_NOT_FOUND) {
            free(other);
            ret = reply_error(c, r, MHD_HTTP_CONFLICT, "exists", "device '%s' already exists",
                              name);
            goto out;
        }
        free(other);
    }
    if (rc != ALD_STORE_OK) {
        ret = reply_store_error(c, r);
        goto out;
    }
    snprintf(data, sizeof data, "{\"platform\":%u,\"dev\":%s}", (unsigned)d->platform,
             d->dev ? "true" : "false");
    ald_event_emit(h->store, "device.created", d->name, 0, data);
    ald_log(ALD_LOG_INFO, "device created", "device", d->name, "identity", d->identity, "by",
            r->token.name, NULL);
    alc_hex_encode(d->psk, d->psk_len, psk_hex);
    body = device_json(h, d, false, false);
    json_object_set_new(body, "psk", json_string(psk_hex));
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
    json_t *ids; /* device ids, to add active updates once the listing is done */
};

static int collect_device(void *ctx, const struct ald_device_rec *d)
{
    struct device_listing *l = ctx;
    json_array_append_new(l->ids, json_integer(d->id));
    return json_array_append_new(l->devices, device_json(l->h, d, false, false));
}

static enum MHD_Result h_devices_list(struct ald_http *h, struct MHD_Connection *c,
                                      struct req *r)
{
    struct device_listing l = {h, json_array(), json_array()};
    json_t *id;
    size_t i;
    if (!l.devices || !l.ids ||
        h->store->ops->device_list(h->store, collect_device, &l) != ALD_STORE_OK) {
        json_decref(l.devices);
        json_decref(l.ids);
        return reply_store_error(c, r);
    }
    json_array_foreach(l.ids, i, id) {
        json_object_set_new(json_array_get(l.devices, i), "update",
                            ald_device_update_json(h->store, json_integer_value(id)));
        name_product(h, json_array_get(l.devices, i));
    }
    json_decref(l.ids);
    return reply_json(c, r, MHD_HTTP_OK, json_pack("{s:o}", "devices", l.devices));
}

static enum MHD_Result h_device_get(struct ald_http *h, struct MHD_Connection *c, struct req *r)
{
    struct ald_device_rec *d = malloc(sizeof *d);
    enum ald_store_rc rc;
    enum MHD_Result ret;
    if (!d)
        return MHD_NO;
    rc = alc_name_valid(r->params[0]) ? h->store->ops->device_get(h->store, r->params[0], d)
                                      : ALD_STORE_NOT_FOUND;
    ret = reply_lookup(c, r, rc, "device",
                       rc == ALD_STORE_OK ? name_product(h, device_json(h, d, true, true)) : NULL);
    memset(d->psk, 0, sizeof d->psk);
    free(d);
    return ret;
}

static enum MHD_Result h_device_delete(struct ald_http *h, struct MHD_Connection *c,
                                       struct req *r)
{
    enum ald_store_rc rc = alc_name_valid(r->params[0])
                               ? h->store->ops->device_delete(h->store, r->params[0])
                               : ALD_STORE_NOT_FOUND;
    if (rc == ALD_STORE_NOT_FOUND)
        return reply_error(c, r, MHD_HTTP_NOT_FOUND, "not_found", "device '%s' does not exist",
                           r->params[0]);
    if (rc != ALD_STORE_OK)
        return reply_store_error(c, r);
    ald_event_emit(h->store, "device.deleted", r->params[0], 0, NULL);
    ald_log(ALD_LOG_INFO, "device deleted", "device", r->params[0], "by", r->token.name, NULL);
    return reply_empty(c, r, MHD_HTTP_NO_CONTENT);
}

/* ---- handlers: images ---- */

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

static enum MHD_Result h_images_create(struct ald_http *h, struct MHD_Connection *c,
                                       struct req *r)
{
    struct ald_image_rec *m = malloc(sizeof *m);
    char code[48], msg[256];
    enum MHD_Result ret;
    if (!m)
        return MHD_NO;
    switch (ald_image_ingest(h->store, h->data_dir, r->body.data, r->body.len, m, code,
                             sizeof code, msg, sizeof msg)) {
    case ALD_INGEST_CREATED:
        ald_log(ALD_LOG_INFO, "image stored", "sha256", m->sha256, "version", m->version, "by",
                r->token.name, NULL);
        snprintf(r->location, sizeof r->location, "/v1/images/%s", m->sha256);
        ret = reply_json(c, r, MHD_HTTP_CREATED, image_json(m));
        break;
    case ALD_INGEST_SAME:
        ret = reply_json(c, r, MHD_HTTP_OK, image_json(m));
        break;
    case ALD_INGEST_CONFLICT:
        ret = reply_error(c, r, MHD_HTTP_CONFLICT, "exists", "%s", msg);
        break;
    case ALD_INGEST_INVALID:
        ret = reply_error_reason(c, r, MHD_HTTP_BAD_REQUEST, "invalid_image", code, "%s", msg);
        break;
    default:
        ret = reply_store_error(c, r);
        break;
    }
    free(m);
    return ret;
}

static int collect_image(void *ctx, const struct ald_image_rec *m)
{
    return json_array_append_new(ctx, image_json(m));
}

static enum MHD_Result h_images_list(struct ald_http *h, struct MHD_Connection *c,
                                     struct req *r)
{
    json_t *arr = json_array();
    if (!arr || h->store->ops->image_list(h->store, collect_image, arr) != ALD_STORE_OK) {
        json_decref(arr);
        return reply_store_error(c, r);
    }
    return reply_json(c, r, MHD_HTTP_OK, json_pack("{s:o}", "images", arr));
}

/* Look up the image named by params[0]; on failure the reply is queued and false returned. */
static bool find_image(struct ald_http *h, struct MHD_Connection *c, struct req *r,
                       struct ald_image_rec *m, enum MHD_Result *ret)
{
    enum ald_store_rc rc;
    if (!alc_is_lower_hex(r->params[0], ALD_SHA256_HEX)) {
        *ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request",
                           "an image is named by its payload SHA-256: 64 lowercase hex digits");
        return false;
    }
    rc = h->store->ops->image_get(h->store, r->params[0], m);
    if (rc == ALD_STORE_NOT_FOUND)
        *ret = reply_error(c, r, MHD_HTTP_NOT_FOUND, "not_found", "image '%s' does not exist",
                           r->params[0]);
    else if (rc != ALD_STORE_OK)
        *ret = reply_store_error(c, r);
    return rc == ALD_STORE_OK;
}

static enum MHD_Result h_image_get(struct ald_http *h, struct MHD_Connection *c, struct req *r)
{
    struct ald_image_rec *m = malloc(sizeof *m);
    enum MHD_Result ret = MHD_NO;
    if (m && find_image(h, c, r, m, &ret))
        ret = reply_json(c, r, MHD_HTTP_OK, image_json(m));
    free(m);
    return ret;
}

static enum MHD_Result h_image_blob(struct ald_http *h, struct MHD_Connection *c, struct req *r)
{
    struct ald_image_rec *m = malloc(sizeof *m);
    enum MHD_Result ret = MHD_NO;
    struct MHD_Response *resp;
    struct stat sb;
    char path[2048], disposition[128];
    int fd = -1;

    if (!m || !find_image(h, c, r, m, &ret))
        goto out;
    if (!ald_image_blob_path(h->data_dir, m->sha256, path, sizeof path) ||
        (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &sb) != 0) {
        ald_log(ALD_LOG_ERROR, "image blob missing", "path", path, "error", strerror(errno),
                NULL);
        ret = reply_store_error(c, r);
        goto out;
    }
    resp = MHD_create_response_from_fd((uint64_t)sb.st_size, fd);
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

/* ---- handlers: events ---- */

static json_t *event_json(const struct ald_event_rec *e)
{
    json_t *data = json_loads(e->data, 0, NULL);
    return json_pack("{s:I, s:o, s:o, s:o, s:o, s:s, s:o}", "id", (json_int_t)e->id, "ts",
                     ald_time_json(e->ts), "device",
                     e->device[0] ? json_string(e->device) : json_null(), "update_id",
                     e->update_id ? json_integer(e->update_id) : json_null(), "rollout_id",
                     e->rollout_id ? json_integer(e->rollout_id) : json_null(), "type",
                     e->type, "data", data ? data : json_object());
}

static int collect_event(void *ctx, const struct ald_event_rec *e)
{
    return json_array_append_new(ctx, event_json(e));
}

/* A type prefix: 1..EVENT_PREFIX_MAX of [a-z.]. */
static bool type_prefix_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > EVENT_PREFIX_MAX)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || *s == '.'))
            return false;
    return true;
}

/*
 * The filters both event endpoints take: device, update, rollout, type, after. f's strings
 * point into the request's arguments. On failure the 400 is queued and false returned.
 */
static bool event_filter_params(struct MHD_Connection *c, struct req *r,
                                struct ald_event_filter *f, enum MHD_Result *ret)
{
    const char *device = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "device");
    const char *update = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "update");
    const char *rollout = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "rollout");
    const char *type = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "type");
    const char *after = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after");
    const char *bad = NULL;

    if (device && !alc_name_valid(device))
        bad = "'device' must be a device name";
    else if (update && !alc_parse_id(update, false, &f->update_id))
        bad = "'update' must be an update id (a positive integer)";
    else if (rollout && !alc_parse_id(rollout, false, &f->rollout_id))
        bad = "'rollout' must be a rollout id (a positive integer)";
    else if (type && !type_prefix_valid(type))
        bad = "'type' must be 1..31 of [a-z.], the start of event types (\"update.\")";
    else if (after && !alc_parse_id(after, true, &f->after_id))
        bad = "'after' must be an event id";
    if (bad) {
        *ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request", "%s", bad);
        return false;
    }
    f->device = device;
    f->type_prefix = type;
    return true;
}

static enum MHD_Result h_events_list(struct ald_http *h, struct MHD_Connection *c,
                                     struct req *r)
{
    const char *limit = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
    struct ald_event_filter f = {.limit = EVENTS_DEFAULT_LIMIT};
    enum MHD_Result ret = MHD_NO;
    int64_t n;
    json_t *arr;

    if (!event_filter_params(c, r, &f, &ret))
        return ret;
    if (limit) {
        if (!alc_parse_id(limit, false, &n) || n > EVENTS_MAX_LIMIT)
            return reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request",
                               "'limit' must be 1..%d", EVENTS_MAX_LIMIT);
        f.limit = (size_t)n;
    }
    arr = json_array();
    if (!arr || h->store->ops->event_list(h->store, &f, collect_event, arr) != ALD_STORE_OK) {
        json_decref(arr);
        return reply_store_error(c, r);
    }
    return reply_json(c, r, MHD_HTTP_OK, json_pack("{s:o}", "events", arr));
}

/*
 * The live event stream (GET /v1/events/stream, server-sent events).
 *
 * A stream must not hold a worker thread: each worker serves many connections. So a stream
 * with nothing to send suspends its connection (MHD_suspend_connection, from inside its
 * content reader), and the ticker thread resumes it when the store has a newer event than
 * the stream has looked at, or a keepalive or a token check is due. On resume libmicrohttpd
 * calls the reader again, which reads the store and writes, or suspends again.
 *
 * h->streams_lock guards the list of streams, each stream's `suspended` and h->stopping.
 * The reader sets its stream's other fields before taking the lock to suspend, and the
 * ticker reads them only while the stream is suspended, under the lock. Shutdown sets
 * stopping and resumes every stream, whose reader then ends it: libmicrohttpd must never be
 * stopped with a connection suspended.
 */
struct event_stream {
    struct event_stream *next;
    struct ald_http *h;
    struct MHD_Connection *c;
    struct ald_event_filter f;     /* f.after_id: every event up to it has been looked at */
    char device[ALD_NAME_MAX + 1];
    char type_prefix[EVENT_PREFIX_MAX + 1];
    int64_t token_id;
    bool suspended;
    bool failed;                   /* out of memory while formatting */
    size_t batch;                  /* events in the current batch */
    int64_t last_write_ms, auth_checked_ms; /* monotonic */
    struct alc_buf out;            /* wire text; from out.data + off not yet given out */
    size_t off;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Append n bytes to the stream's pending text; false on out of memory (or past
 * STREAM_PENDING_MAX, which one batch does not reach). */
static bool stream_put(struct event_stream *s, const char *text, size_t n)
{
    return alc_buf_append(&s->out, text, n) == ALC_BUF_OK;
}

/* One event on the wire: "id: N\nevent: TYPE\ndata: {...}\n\n" (compact JSON: one line). */
static int stream_collect(void *ctx, const struct ald_event_rec *e)
{
    struct event_stream *s = ctx;
    json_t *o = event_json(e);
    char *json = o ? json_dumps(o, JSON_COMPACT) : NULL;
    char head[ALD_EVENT_TYPE_MAX + 48];
    int n = snprintf(head, sizeof head, "id: %" PRId64 "\nevent: %s\ndata: ", e->id, e->type);
    json_decref(o);
    if (!json || !stream_put(s, head, (size_t)n) || !stream_put(s, json, strlen(json)) ||
        !stream_put(s, "\n\n", 2)) {
        free(json);
        s->failed = true;
        return 1;
    }
    free(json);
    s->f.after_id = e->id;
    s->batch++;
    return 0;
}

/* The next batch of matching events into s->out; false if the store failed. */
static bool stream_fill(struct event_stream *s)
{
    struct ald_store *st = s->h->store;
    int64_t last = 0;
    s->batch = 0;
    s->f.limit = STREAM_BATCH;
    /* `last` first: every event up to it is visible to the listing that follows. */
    if (st->ops->event_last_id(st, &last) != ALD_STORE_OK ||
        st->ops->event_list(st, &s->f, stream_collect, s) != ALD_STORE_OK || s->failed)
        return false;
    /* A short batch: nothing else up to `last` matches; never look there again. */
    if (s->batch < STREAM_BATCH && last > s->f.after_id)
        s->f.after_id = last;
    return true;
}

/* Is the stream's token still good? (checked every STREAM_KEEPALIVE_MS) */
static bool stream_token_live(struct event_stream *s, int64_t now)
{
    struct ald_token_rec t;
    enum ald_store_rc rc;
    if (now - s->auth_checked_ms < STREAM_KEEPALIVE_MS)
        return true;
    s->auth_checked_ms = now;
    rc = s->h->store->ops->token_get(s->h->store, s->token_id, &t);
    return rc == ALD_STORE_ERROR || (rc == ALD_STORE_OK && !t.revoked);
}

static bool streams_stopping(struct ald_http *h)
{
    pthread_mutex_lock(&h->streams_lock);
    bool stopping = h->stopping;
    pthread_mutex_unlock(&h->streams_lock);
    return stopping;
}

/* libmicrohttpd's content reader of a stream: hand out pending text, or suspend. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct event_stream *s = cls;
    struct ald_http *h = s->h;
    int64_t now = mono_ms();
    (void)pos;
    if (streams_stopping(h) || !stream_token_live(s, now))
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (s->off == s->out.len) {
        s->off = 0;
        alc_buf_clear(&s->out);
        if (!stream_fill(s))
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (s->out.len == 0 && now - s->last_write_ms >= STREAM_KEEPALIVE_MS &&
            !stream_put(s, ": keepalive\n\n", 13))
            return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (s->off < s->out.len) {
        size_t n = s->out.len - s->off < max ? s->out.len - s->off : max;
        memcpy(buf, s->out.data + s->off, n);
        s->off += n;
        s->last_write_ms = now;
        return (ssize_t)n;
    }
    pthread_mutex_lock(&h->streams_lock);
    if (h->stopping) {
        pthread_mutex_unlock(&h->streams_lock);
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    s->suspended = true;
    MHD_suspend_connection(s->c);
    pthread_mutex_unlock(&h->streams_lock);
    return 0;
}

/* The response is gone (the connection closed): forget the stream. */
static void stream_free(void *cls)
{
    struct event_stream *s = cls;
    struct ald_http *h = s->h;
    pthread_mutex_lock(&h->streams_lock);
    for (struct event_stream **p = &h->streams; *p; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            break;
        }
    }
    pthread_cond_broadcast(&h->streams_wake); /* streams_stop waits for the last one */
    pthread_mutex_unlock(&h->streams_lock);
    alc_buf_free(&s->out);
    free(s);
}

/* The ticker: every STREAM_POLL_MS, resume the suspended streams that have work. */
static void *streams_tick(void *arg)
{
    struct ald_http *h = arg;
    struct timespec until;
    pthread_mutex_lock(&h->streams_lock);
    while (!h->stopping) {
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += STREAM_POLL_MS * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&h->streams_wake, &h->streams_lock, &until);
        if (h->stopping || !h->streams)
            continue;
        int64_t last = 0, now;
        pthread_mutex_unlock(&h->streams_lock);
        /* A failing store wakes every stream: its reader reports the failure. */
        bool known = h->store->ops->event_last_id(h->store, &last) == ALD_STORE_OK;
        now = mono_ms();
        pthread_mutex_lock(&h->streams_lock);
        for (struct event_stream *s = h->streams; s; s = s->next) {
            if (!s->suspended)
                continue;
            if (known && last <= s->f.after_id &&
                now - s->last_write_ms < STREAM_KEEPALIVE_MS &&
                now - s->auth_checked_ms < STREAM_KEEPALIVE_MS)
                continue;
            s->suspended = false;
            MHD_resume_connection(s->c);
        }
    }
    pthread_mutex_unlock(&h->streams_lock);
    return NULL;
}

static enum MHD_Result h_events_stream(struct ald_http *h, struct MHD_Connection *c,
                                       struct req *r)
{
    const char *last_id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
    struct ald_event_filter f = {0};
    struct event_stream *s;
    struct MHD_Response *resp;
    enum MHD_Result ret = MHD_NO;
    char opening[48];
    int n;

    if (!event_filter_params(c, r, &f, &ret))
        return ret;
    /* A reconnecting EventSource repeats the URL: its Last-Event-ID is the newer news. */
    if (last_id && !alc_parse_id(last_id, true, &f.after_id))
        return reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request",
                           "Last-Event-ID must be an event id");
    if (!last_id && !MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after") &&
        h->store->ops->event_last_id(h->store, &f.after_id) != ALD_STORE_OK)
        return reply_store_error(c, r);
    if (!(s = calloc(1, sizeof *s)))
        return MHD_NO;
    s->h = h;
    s->c = c;
    s->f = f;
    if (f.device) {
        snprintf(s->device, sizeof s->device, "%s", f.device);
        s->f.device = s->device;
    }
    if (f.type_prefix) {
        snprintf(s->type_prefix, sizeof s->type_prefix, "%s", f.type_prefix);
        s->f.type_prefix = s->type_prefix;
    }
    s->token_id = r->token.id;
    s->last_write_ms = s->auth_checked_ms = mono_ms();
    alc_buf_init(&s->out, STREAM_PENDING_MAX);
    /* A comment first: the client knows the stream is open, and from where. */
    n = snprintf(opening, sizeof opening, ": after %" PRId64 "\n\n", f.after_id);
    if (!stream_put(s, opening, (size_t)n)) {
        alc_buf_free(&s->out);
        free(s);
        return MHD_NO;
    }
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_read, s,
                                             stream_free);
    if (!resp) {
        alc_buf_free(&s->out);
        free(s);
        return MHD_NO;
    }
    pthread_mutex_lock(&h->streams_lock);
    s->next = h->streams;
    h->streams = s;
    pthread_mutex_unlock(&h->streams_lock);
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no"); /* proxies: do not buffer */
    return send_reply(c, r, MHD_HTTP_OK, resp);
}

/* ---- handlers: updates ---- */

/* The update object with its device's liveness. */
static json_t *update_json_of(struct ald_http *h, const struct ald_update_rec *u)
{
    struct ald_device_rec *d = malloc(sizeof *d);
    bool have = d && h->store->ops->device_get(h->store, u->device, d) == ALD_STORE_OK;
    json_t *o = ald_update_json(u, have ? d : NULL);
    free(d);
    return o;
}

static enum MHD_Result h_updates_create(struct ald_http *h, struct MHD_Connection *c,
                                        struct req *r)
{
    static const char *const fields[] = {"images", "dry_run", NULL};
    enum MHD_Result ret = MHD_NO;
    struct ald_update_rec *u = malloc(sizeof *u);
    const char *sha[ALD_PLAN_MAX_STEPS];
    char code[80], msg[ALD_WHY_MAX + 1];
    json_t *doc = parse_body(c, r, &ret), *images, *v, *dry;
    size_t i, n;
    if (!u || !doc || !only_fields(c, r, doc, fields, &ret))
        goto out;
    images = json_object_get(doc, "images");
    dry = json_object_get(doc, "dry_run");
    n = json_array_size(images);
    if (!json_is_array(images) || n < 1 || n > ALD_PLAN_MAX_STEPS || (dry && !json_is_boolean(dry))) {
        ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request",
                          "'images' must be an array of 1..%d image hashes; 'dry_run' a boolean",
                          ALD_PLAN_MAX_STEPS);
        goto out;
    }
    json_array_foreach(images, i, v) {
        if (!(sha[i] = json_string_value(v))) {
            ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request",
                              "images[%zu] must be a string", i);
            goto out;
        }
    }
    bool dry_run = json_is_true(dry);
    switch (ald_updates_queue(h->updates, r->params[0], sha, n, dry_run, u, code, sizeof code,
                              msg, sizeof msg, 0)) {
    case ALD_QUEUE_QUEUED:
        if (!dry_run) {
            snprintf(r->location, sizeof r->location, "/v1/updates/%lld", (long long)u->id);
        }
        ret = reply_json(c, r, dry_run ? MHD_HTTP_OK : MHD_HTTP_CREATED, update_json_of(h, u));
        break;
    case ALD_QUEUE_UP_TO_DATE:
        ret = reply_json(c, r, MHD_HTTP_OK, update_json_of(h, u));
        break;
    case ALD_QUEUE_NO_DEVICE:
        ret = reply_error(c, r, MHD_HTTP_NOT_FOUND, "not_found", "device '%s' does not exist",
                          r->params[0]);
        break;
    case ALD_QUEUE_BAD_REQUEST:
        ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request", "%s", msg);
        break;
    case ALD_QUEUE_UNKNOWN_IMAGE:
        ret = reply_error_reason(c, r, 422, "unknown_image", code, "%s",
                                 msg);
        break;
    case ALD_QUEUE_PLAN_ERROR:
        ret = reply_error_reason(c, r, 422, "plan_error", code, "%s",
                                 msg);
        break;
    default:
        ret = reply_store_error(c, r);
        break;
    }
out:
    free(u);
    json_decref(doc);
    return ret;
}

static int collect_update(void *ctx, const struct ald_update_rec *u)
{
    return json_array_append_new(ctx, ald_update_json(u, NULL));
}

static enum MHD_Result h_updates_list(struct ald_http *h, struct MHD_Connection *c, struct req *r)
{
    struct ald_device_rec *d = malloc(sizeof *d);
    json_t *arr = json_array();
    enum MHD_Result ret;
    enum ald_store_rc rc = !d || !arr ? ALD_STORE_ERROR
                           : alc_name_valid(r->params[0])
                               ? h->store->ops->device_get(h->store, r->params[0], d)
                               : ALD_STORE_NOT_FOUND;
    if (rc == ALD_STORE_OK)
        rc = h->store->ops->update_list(h->store, d->id, 100, collect_update, arr);
    ret = reply_lookup(c, r, rc, "device",
                       rc == ALD_STORE_OK ? json_pack("{s:O}", "updates", arr) : NULL);
    json_decref(arr);
    free(d);
    return ret;
}

static enum MHD_Result h_update_get(struct ald_http *h, struct MHD_Connection *c, struct req *r)
{
    struct ald_update_rec *u = malloc(sizeof *u);
    int64_t id = 0;
    enum MHD_Result ret;
    enum ald_store_rc rc = !u ? ALD_STORE_ERROR
                           : alc_parse_id(r->params[0], false, &id) ? h->store->ops->update_get(h->store, id, u)
                                                         : ALD_STORE_NOT_FOUND;
    ret = reply_lookup(c, r, rc, "update", rc == ALD_STORE_OK ? update_json_of(h, u) : NULL);
    free(u);
    return ret;
}

static enum MHD_Result h_update_cancel(struct ald_http *h, struct MHD_Connection *c,
                                       struct req *r)
{
    struct ald_update_rec *u = malloc(sizeof *u);
    int64_t id = 0;
    enum MHD_Result ret;
    enum ald_cancel_rc rc = !u ? ALD_CANCEL_ERROR
                            : alc_parse_id(r->params[0], false, &id) ? ald_updates_cancel(h->updates, id, u)
                                                          : ALD_CANCEL_NOT_FOUND;
    if (rc == ALD_CANCEL_NOT_FOUND)
        ret = reply_error(c, r, MHD_HTTP_NOT_FOUND, "not_found", "update '%s' does not exist",
                          r->params[0]);
    else if (rc == ALD_CANCEL_FINAL)
        ret = reply_error(c, r, MHD_HTTP_CONFLICT, "final", "update %s already ended (%s)",
                          r->params[0], u->state);
    else if (rc != ALD_CANCEL_OK)
        ret = reply_store_error(c, r);
    else
        ret = reply_json(c, r, MHD_HTTP_OK, update_json_of(h, u));
    free(u);
    return ret;
}

/* ---- handlers: fleets (docs/fleets.md) ---- */

static json_t *product_json(const struct ald_product_rec *p)
{
    return json_pack("{s:s, s:i, s:o}", "name", p->name, "platform", p->platform, "created_at",
                     ald_time_json(p->created_at));
}

static int collect_product(void *ctx, const struct ald_product_rec *p)
{
    return json_array_append_new(ctx, product_json(p));
}

static enum MHD_Result h_products_create(struct ald_http *h, struct MHD_Connection *c,
                                         struct req *r)
{
    static const char *const fields[] = {"name", "platform", NULL};
    enum MHD_Result ret = MHD_NO;
    struct ald_product_rec p;
    const char *name;
    json_t *doc = parse_body(c, r, &ret);
    memset(&p, 0, sizeof p);
    if (!doc || !only_fields(c, r, doc, fields, &ret) ||
        !(name = string_field(c, r, doc, "name", ALD_NAME_MAX, &ret)))
        goto out;
    if (!alc_name_valid(name)) {
        ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request",
                          "product name must be 1..64 of [A-Za-z0-9._-], starting with a letter "
                          "or digit");
        goto out;
    }
    if (!platform_value(json_object_get(doc, "platform"), &p.platform)) {
        ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request",
                          "field 'platform' must be a platform id 0..65535 or a platform name "
                          "(\"electron\", \"boron\", ...)");
        goto out;
    }
    memcpy(p.name, name, strlen(name) + 1);
    switch (h->store->ops->product_create(h->store, &p)) {
    case ALD_STORE_OK:
        snprintf(r->location, sizeof r->location, "/v1/products/%s", p.name);
        ald_event_emit(h->store, "product.created", NULL, 0, NULL);
        ret = reply_json(c, r, MHD_HTTP_CREATED, product_json(&p));
        break;
    case ALD_STORE_EXISTS:
        ret = reply_error(c, r, MHD_HTTP_CONFLICT, "exists", "product '%s' already exists", name);
        break;
    default:
        ret = reply_store_error(c, r);
    }
out:
    json_decref(doc);
    return ret;
}

static enum MHD_Result h_products_list(struct ald_http *h, struct MHD_Connection *c, struct req *r)
{
    json_t *arr = json_array();
    if (h->store->ops->product_list(h->store, collect_product, arr) != ALD_STORE_OK) {
        json_decref(arr);
        return reply_store_error(c, r);
    }
    return reply_json(c, r, MHD_HTTP_OK, json_pack("{s:o}", "products", arr));
}

static enum MHD_Result h_product_get(struct ald_http *h, struct MHD_Connection *c, struct req *r)
{
    struct ald_product_rec p;
    enum ald_store_rc rc = h->store->ops->product_get(h->store, r->params[0], &p);
    return reply_lookup(c, r, rc, "product", rc == ALD_STORE_OK ? product_json(&p) : NULL);
}

/* A JSON array of 0..16 distinct names, as compact text into out. */
static bool names_json(json_t *v, char *out, size_t cap)
{
    json_t *x;
    size_t i;
    if (!json_is_array(v) || json_array_size(v) > 16)
        return false;
    json_array_foreach(v, i, x) {
        if (!json_is_string(x) || !alc_name_valid(json_string_value(x)))
            return false;
        for (size_t k = 0; k < i; k++)
            if (json_equal(x, json_array_get(v, k)))
                return false;
    }
    char *text = json_dumps(v, JSON_COMPACT);
    bool ok = text && strlen(text) < cap;
    if (ok)
        memcpy(out, text, strlen(text) + 1);
    free(text);
    return ok;
}

/* PATCH /v1/devices/{name}: product, groups, channel, pinned, dev. */
static enum MHD_Result h_device_patch(struct ald_http *h, struct MHD_Connection *c, struct req *r)
{
    static const char *const fields[] = {"product", "groups", "channel", "pinned", "dev", NULL};
    enum MHD_Result ret = MHD_NO;
    struct ald_device_rec *d = malloc(sizeof *d);
    struct ald_product_rec p;
    json_t *doc = parse_body(c, r, &ret), *v;
    const char *why = NULL;
    enum ald_store_rc rc;
    struct al_version ver;
    if (!d || !doc || !only_fields(c, r, doc, fields, &ret))
        goto out;
    rc = h->store->ops->device_get(h->store, r->params[0], d);
    if (rc != ALD_STORE_OK) {
        ret = reply_lookup(c, r, rc, "device", NULL);
        goto out;
    }
    if ((v = json_object_get(doc, "product"))) {
        if (json_is_null(v))
            d->product_id = 0;
        else if (!json_is_string(v) ||
                 h->store->ops->product_get(h->store, json_string_value(v), &p) != ALD_STORE_OK)
            why = "'product' must name an existing product, or be null";
        else if (p.platform != d->platform)
            why = "the product is for another platform than the device";
        else
            d->product_id = p.id;
    }
    if (!why && (v = json_object_get(doc, "groups")) &&
        !names_json(v, d->groups_json, sizeof d->groups_json))
        why = "'groups' must be an array of at most 16 distinct names";
    if (!why && (v = json_object_get(doc, "channel"))) {
        if (!json_is_string(v) || !alc_name_valid(json_string_value(v)))
            why = "'channel' must be a name (stable, beta, rc, or your own)";
        else
            snprintf(d->channel, sizeof d->channel, "%s", json_string_value(v));
    }
    if (!why && (v = json_object_get(doc, "pinned"))) {
        if (json_is_null(v))
            d->pinned[0] = '\0';
        else if (!json_is_string(v) ||
                 al_version_parse(json_string_value(v), strlen(json_string_value(v)), &ver) != AL_OK)
            why = "'pinned' must be a release version (e.g. \"1.2.0\") or null";
        else
            snprintf(d->pinned, sizeof d->pinned, "%s", json_string_value(v));
    }
    if (!why && (v = json_object_get(doc, "dev"))) {
        if (!json_is_boolean(v))
            why = "'dev' must be true or false";
        else
            d->dev = json_is_true(v);
    }
    if (why) {
        ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request", "%s", why);
        goto out;
    }
    if (h->store->ops->device_set_fleet(h->store, d) != ALD_STORE_OK) {
        ret = reply_store_error(c, r);
        goto out;
    }
    ald_event_emit(h->store, "device.changed", d->name, 0, NULL);
    ret = reply_json(c, r, MHD_HTTP_OK, name_product(h, device_json(h, d, false, false)));
out:
    json_decref(doc);
    free(d);
    return ret;
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

/* The product named by the first path parameter, or a 404 queued. */
static bool path_product(struct ald_http *h, struct MHD_Connection *c, struct req *r,
                         struct ald_product_rec *p, enum MHD_Result *ret)
{
    enum ald_store_rc rc = h->store->ops->product_get(h->store, r->params[0], p);
    if (rc != ALD_STORE_OK)
        *ret = reply_lookup(c, r, rc, "product", NULL);
    return rc == ALD_STORE_OK;
}

/* POST /v1/products/{p}/releases: {"version", "channel", "images": [sha...], "notes"}. */
static enum MHD_Result h_releases_create(struct ald_http *h, struct MHD_Connection *c,
                                         struct req *r)
{
    static const char *const fields[] = {"version", "channel", "images", "notes", NULL};
    enum MHD_Result ret = MHD_NO;
    struct ald_product_rec p;
    struct ald_release_rec rel;
    struct ald_image_rec *img = malloc(sizeof *img);
    struct al_version ver;
    json_t *doc = parse_body(c, r, &ret), *images, *v;
    const char *version, *channel = "stable", *notes = "";
    size_t i;
    memset(&rel, 0, sizeof rel);
    if (!img || !doc || !only_fields(c, r, doc, fields, &ret) || !path_product(h, c, r, &p, &ret) ||
        !(version = string_field(c, r, doc, "version", ALD_VERSION_MAX, &ret)))
        goto out;
    if (al_version_parse(version, strlen(version), &ver) != AL_OK) {
        ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request",
                          "'version' must be a semantic version (e.g. \"1.2.0\" or \"2.0.0-rc.1\")");
        goto out;
    }
    if (json_object_get(doc, "channel") &&
        !(channel = string_field(c, r, doc, "channel", ALD_NAME_MAX, &ret)))
        goto out;
    if (!alc_name_valid(channel)) {
        ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request", "'channel' must be a name");
        goto out;
    }
    if (json_object_get(doc, "notes") && !(notes = string_field(c, r, doc, "notes", ALD_WHY_MAX, &ret)))
        goto out;
    images = json_object_get(doc, "images");
    if (!json_is_array(images) || json_array_size(images) < 1 ||
        json_array_size(images) > ALD_PLAN_MAX_STEPS) {
        ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request",
                          "'images' must list 1 to %d image hashes", ALD_PLAN_MAX_STEPS);
        goto out;
    }
    json_array_foreach(images, i, v) {
        const char *sha = json_string_value(v);
        if (!sha || !alc_is_lower_hex(sha, ALD_SHA256_HEX) ||
            h->store->ops->image_get(h->store, sha, img) != ALD_STORE_OK) {
            ret = reply_error(c, r, 422, "unknown_image",
                              "images[%zu]: the server holds no such image: upload it first", i);
            goto out;
        }
        if (img->platform != p.platform) {
            ret = reply_error(c, r, 422, "wrong_platform",
                              "images[%zu] is built for platform %u; the product is platform %u",
                              i, img->platform, p.platform);
            goto out;
        }
    }
    char *text = json_dumps(images, JSON_COMPACT);
    snprintf(rel.images_json, sizeof rel.images_json, "%s", text ? text : "[]");
    free(text);
    rel.product_id = p.id;
    snprintf(rel.version, sizeof rel.version, "%s", version);
    snprintf(rel.channel, sizeof rel.channel, "%s", channel);
    snprintf(rel.notes, sizeof rel.notes, "%s", notes);
    switch (h->store->ops->release_create(h->store, &rel)) {
    case ALD_STORE_OK:
        snprintf(r->location, sizeof r->location, "/v1/products/%s/releases/%s", p.name, rel.version);
        ald_event_emit(h->store, "release.created", NULL, 0, NULL);
        ret = reply_json(c, r, MHD_HTTP_CREATED, release_json(&rel, p.name));
        break;
    case ALD_STORE_EXISTS:
        ret = reply_error(c, r, MHD_HTTP_CONFLICT, "exists", "product '%s' already has release %s",
                          p.name, version);
        break;
    default:
        ret = reply_store_error(c, r);
    }
out:
    json_decref(doc);
    free(img);
    return ret;
}

static enum MHD_Result h_releases_list(struct ald_http *h, struct MHD_Connection *c, struct req *r)
{
    enum MHD_Result ret = MHD_NO;
    struct ald_product_rec p;
    if (!path_product(h, c, r, &p, &ret))
        return ret;
    struct release_list l = {json_array(), p.name};
    if (h->store->ops->release_list(h->store, p.id, collect_release, &l) != ALD_STORE_OK) {
        json_decref(l.arr);
        return reply_store_error(c, r);
    }
    return reply_json(c, r, MHD_HTTP_OK, json_pack("{s:o}", "releases", l.arr));
}

static enum MHD_Result h_release_get(struct ald_http *h, struct MHD_Connection *c, struct req *r)
{
    enum MHD_Result ret = MHD_NO;
    struct ald_product_rec p;
    struct ald_release_rec rel;
    if (!path_product(h, c, r, &p, &ret))
        return ret;
    enum ald_store_rc rc = h->store->ops->release_get(h->store, p.id, r->params[1], &rel);
    if (rc == ALD_STORE_NOT_FOUND)
        return reply_error(c, r, MHD_HTTP_NOT_FOUND, "not_found", "product '%s' has no release %s",
                           p.name, r->params[1]);
    return reply_lookup(c, r, rc, "release", rc == ALD_STORE_OK ? release_json(&rel, p.name) : NULL);
}

/* POST /v1/rollouts: {"product", "release", "target", "waves", "success_percent",
 * "error_count", "error_percent", "rate_per_min", "budget_bytes_per_day"}. */
static enum MHD_Result h_rollouts_create(struct ald_http *h, struct MHD_Connection *c,
                                         struct req *r)
{
    static const char *const fields[] = {"product", "release", "target", "waves",
                                         "success_percent", "error_count", "error_percent",
                                         "rate_per_min", "budget_bytes_per_day", NULL};
    static const char *const ints[] = {"success_percent", "error_count", "error_percent",
                                       "rate_per_min", "budget_bytes_per_day"};
    enum MHD_Result ret = MHD_NO;
    struct ald_product_rec p;
    struct ald_release_rec rel;
    struct ald_rollout_rec ro;
    json_t *doc = parse_body(c, r, &ret), *v;
    const char *product, *version;
    char msg[256];
    json_int_t num[5] = {100, 0, 0, 0, 0};
    memset(&ro, 0, sizeof ro);
    if (!doc || !only_fields(c, r, doc, fields, &ret) ||
        !(product = string_field(c, r, doc, "product", ALD_NAME_MAX, &ret)) ||
        !(version = string_field(c, r, doc, "release", ALD_VERSION_MAX, &ret)))
        goto out;
    if (!h->rollouts) {
        ret = reply_error(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", "rollouts are off");
        goto out;
    }
    if (h->store->ops->product_get(h->store, product, &p) != ALD_STORE_OK ||
        h->store->ops->release_get(h->store, p.id, version, &rel) != ALD_STORE_OK) {
        ret = reply_error(c, r, MHD_HTTP_NOT_FOUND, "not_found", "product '%s' has no release %s",
                          product, version);
        goto out;
    }
    for (size_t i = 0; i < 5; i++) {
        if (!(v = json_object_get(doc, ints[i])))
            continue;
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request",
                              "'%s' must be a whole number >= 0", ints[i]);
            goto out;
        }
        num[i] = json_integer_value(v);
    }
    v = json_object_get(doc, "target");
    char *text = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    snprintf(ro.target_json, sizeof ro.target_json, "%s", v ? (text ? text : "") : "{}");
    free(text);
    v = json_object_get(doc, "waves");
    text = v ? json_dumps(v, JSON_COMPACT) : NULL;
    snprintf(ro.waves_json, sizeof ro.waves_json, "%s", text ? text : "[{\"percent\":100}]");
    free(text);
    ro.release_id = rel.id;
    ro.success_percent = num[0] > 100 ? 101 : (int)num[0];
    ro.error_count = num[1] > 1000000 ? 1000000 : (int)num[1];
    ro.error_percent = num[2] > 100 ? 101 : (int)num[2];
    ro.rate_per_min = num[3] > 1000000 ? 1000000 : (int)num[3];
    ro.budget_bytes_per_day = (uint64_t)num[4];
    switch (ald_rollout_create(h->rollouts, &ro, msg, sizeof msg)) {
    case ALD_ROLLOUT_OK:
        snprintf(r->location, sizeof r->location, "/v1/rollouts/%lld", (long long)ro.id);
        ret = reply_json(c, r, MHD_HTTP_CREATED, ald_rollout_json(h->rollouts, &ro));
        break;
    case ALD_ROLLOUT_BAD_REQUEST:
        ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request", "%s", msg);
        break;
    case ALD_ROLLOUT_NOT_FOUND:
        ret = reply_error(c, r, MHD_HTTP_NOT_FOUND, "not_found", "%s", msg);
        break;
    default:
        ret = reply_store_error(c, r);
    }
out:
    json_decref(doc);
    return ret;
}

struct rollout_ids {
    int64_t ids[1024];
    size_t n;
};

static int collect_rollout_id(void *ctx, const struct ald_rollout_rec *ro)
{
    struct rollout_ids *l = ctx;
    if (l->n < sizeof l->ids / sizeof l->ids[0])
        l->ids[l->n++] = ro->id;
    return 0;
}

/* GET /v1/rollouts: the newest 1024 (JSON built after the listing: it reads the store). */
static enum MHD_Result h_rollouts_list(struct ald_http *h, struct MHD_Connection *c, struct req *r)
{
    struct rollout_ids *l = calloc(1, sizeof *l);
    struct ald_rollout_rec ro;
    json_t *arr = json_array();
    if (!l || !h->rollouts ||
        h->store->ops->rollout_list(h->store, collect_rollout_id, l) != ALD_STORE_OK) {
        free(l);
        json_decref(arr);
        return reply_store_error(c, r);
    }
    for (size_t i = 0; i < l->n; i++)
        if (h->store->ops->rollout_get(h->store, l->ids[i], &ro) == ALD_STORE_OK)
            json_array_append_new(arr, ald_rollout_json(h->rollouts, &ro));
    free(l);
    return reply_json(c, r, MHD_HTTP_OK, json_pack("{s:o}", "rollouts", arr));
}

static enum MHD_Result h_rollout_get(struct ald_http *h, struct MHD_Connection *c, struct req *r)
{
    struct ald_rollout_rec ro;
    int64_t id;
    if (!alc_parse_id(r->params[0], false, &id))
        return reply_error(c, r, MHD_HTTP_NOT_FOUND, "not_found", "no rollout '%s'", r->params[0]);
    enum ald_store_rc rc = h->store->ops->rollout_get(h->store, id, &ro);
    return reply_lookup(c, r, rc, "rollout",
                        rc == ALD_STORE_OK && h->rollouts ? ald_rollout_json(h->rollouts, &ro) : NULL);
}

static int collect_rollout_device(void *ctx, const struct ald_rollout_device_rec *rd)
{
    return json_array_append_new(ctx, json_pack("{s:s, s:i, s:s, s:o, s:o, s:o}", "device",
        rd->device, "wave", rd->wave + 1, "state", rd->state, "update_id",
        rd->update_id ? json_integer(rd->update_id) : json_null(), "started_at",
        ald_time_json(rd->started_at), "finished_at", ald_time_json(rd->finished_at)));
}

static enum MHD_Result h_rollout_devices(struct ald_http *h, struct MHD_Connection *c, struct req *r)
{
    struct ald_rollout_rec ro;
    int64_t id;
    json_t *arr = json_array();
    if (!alc_parse_id(r->params[0], false, &id) || h->store->ops->rollout_get(h->store, id, &ro) != ALD_STORE_OK) {
        json_decref(arr);
        return reply_error(c, r, MHD_HTTP_NOT_FOUND, "not_found", "no rollout '%s'", r->params[0]);
    }
    if (h->store->ops->rollout_device_list(h->store, id, collect_rollout_device, arr) != ALD_STORE_OK) {
        json_decref(arr);
        return reply_store_error(c, r);
    }
    return reply_json(c, r, MHD_HTTP_OK, json_pack("{s:o}", "devices", arr));
}

/* POST /v1/rollouts/{id}/{pause|resume|cancel} */
static enum MHD_Result h_rollout_act(struct ald_http *h, struct MHD_Connection *c, struct req *r)
{
    struct ald_rollout_rec ro;
    char msg[160];
    int64_t id;
    if (!h->rollouts || !alc_parse_id(r->params[0], false, &id))
        return reply_error(c, r, MHD_HTTP_NOT_FOUND, "not_found", "no rollout '%s'", r->params[0]);
    switch (ald_rollout_act(h->rollouts, id, r->params[1], &ro, msg, sizeof msg)) {
    case ALD_ROLLOUT_OK:
        return reply_json(c, r, MHD_HTTP_OK, ald_rollout_json(h->rollouts, &ro));
    case ALD_ROLLOUT_NOT_FOUND:
        return reply_error(c, r, MHD_HTTP_NOT_FOUND, "not_found", "%s", msg);
    case ALD_ROLLOUT_BAD_REQUEST:
        return reply_error(c, r, MHD_HTTP_NOT_FOUND, "not_found", "%s", msg);
    case ALD_ROLLOUT_CONFLICT:
        return reply_error(c, r, MHD_HTTP_CONFLICT, "conflict", "%s", msg);
    default:
        return reply_store_error(c, r);
    }
}

/* ---- routing ---- */

static const struct route routes[] = {
    {"GET", "/v1/health", 0, BODY_NONE, h_health},
    {"POST", "/v1/tokens", ALD_SCOPE_ADMIN, BODY_JSON, h_tokens_create},
    {"GET", "/v1/tokens", ALD_SCOPE_ADMIN, BODY_NONE, h_tokens_list},
    {"DELETE", "/v1/tokens/{}", ALD_SCOPE_ADMIN, BODY_NONE, h_token_delete},
    {"POST", "/v1/devices", ALD_SCOPE_OPERATOR, BODY_JSON, h_devices_create},
    {"GET", "/v1/devices", ALD_SCOPE_READ, BODY_NONE, h_devices_list},
    {"GET", "/v1/devices/{}", ALD_SCOPE_READ, BODY_NONE, h_device_get},
    {"DELETE", "/v1/devices/{}", ALD_SCOPE_OPERATOR, BODY_NONE, h_device_delete},
    {"POST", "/v1/images", ALD_SCOPE_OPERATOR, BODY_IMAGE, h_images_create},
    {"GET", "/v1/images", ALD_SCOPE_READ, BODY_NONE, h_images_list},
    {"GET", "/v1/images/{}", ALD_SCOPE_READ, BODY_NONE, h_image_get},
    {"GET", "/v1/images/{}/blob", ALD_SCOPE_READ, BODY_NONE, h_image_blob},
    {"GET", "/v1/events", ALD_SCOPE_READ, BODY_NONE, h_events_list},
    {"GET", "/v1/events/stream", ALD_SCOPE_READ, BODY_NONE, h_events_stream},
    {"POST", "/v1/devices/{}/updates", ALD_SCOPE_OPERATOR, BODY_JSON, h_updates_create},
    {"GET", "/v1/devices/{}/updates", ALD_SCOPE_READ, BODY_NONE, h_updates_list},
    {"GET", "/v1/updates/{}", ALD_SCOPE_READ, BODY_NONE, h_update_get},
    {"POST", "/v1/updates/{}/cancel", ALD_SCOPE_OPERATOR, BODY_NONE, h_update_cancel},
    {"PATCH", "/v1/devices/{}", ALD_SCOPE_OPERATOR, BODY_JSON, h_device_patch},
    {"POST", "/v1/products", ALD_SCOPE_OPERATOR, BODY_JSON, h_products_create},
    {"GET", "/v1/products", ALD_SCOPE_READ, BODY_NONE, h_products_list},
    {"GET", "/v1/products/{}", ALD_SCOPE_READ, BODY_NONE, h_product_get},
    {"POST", "/v1/products/{}/releases", ALD_SCOPE_OPERATOR, BODY_JSON, h_releases_create},
    {"GET", "/v1/products/{}/releases", ALD_SCOPE_READ, BODY_NONE, h_releases_list},
    {"GET", "/v1/products/{}/releases/{}", ALD_SCOPE_READ, BODY_NONE, h_release_get},
    {"POST", "/v1/rollouts", ALD_SCOPE_OPERATOR, BODY_JSON, h_rollouts_create},
    {"GET", "/v1/rollouts", ALD_SCOPE_READ, BODY_NONE, h_rollouts_list},
    {"GET", "/v1/rollouts/{}", ALD_SCOPE_READ, BODY_NONE, h_rollout_get},
    {"GET", "/v1/rollouts/{}/devices", ALD_SCOPE_READ, BODY_NONE, h_rollout_devices},
    {"POST", "/v1/rollouts/{}/{}", ALD_SCOPE_OPERATOR, BODY_NONE, h_rollout_act},
};
#define ROUTE_COUNT (sizeof routes / sizeof routes[0])

/*
 * Does path match pattern? Path parameters ("{}") are copied to params (at most 2, each at
 * most PARAM_MAX bytes; a longer one does not match). A trailing slash does not match.
 */
static bool match(const char *pattern, const char *path, char params[2][PARAM_MAX + 1])
{
    int nparam = 0;
    while (*pattern && *path) {
        if (pattern[0] == '{' && pattern[1] == '}') {
            size_t n = strcspn(path, "/");
            if (n == 0 || n > PARAM_MAX || nparam >= 2)
                return false;
            memcpy(params[nparam], path, n);
            params[nparam++][n] = '\0';
            pattern += 2;
            path += n;
        } else if (*pattern++ != *path++) {
            return false;
        }
    }
    return *pattern == '\0' && *path == '\0';
}

/* Parse the Content-Length header; false if absent or malformed. */
static bool content_length(struct MHD_Connection *c, uint64_t *out)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    uint64_t n = 0;
    if (!v || !*v || strlen(v) > 19)
        return false;
    for (; *v; v++) {
        if (*v < '0' || *v > '9')
            return false;
        n = n * 10 + (uint64_t)(*v - '0');
    }
    *out = n;
    return true;
}

/* Is the request's Content-Type (parameters ignored, case-insensitive) one of types? */
static bool content_type_is(struct MHD_Connection *c, const char *const *types)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    size_t n;
    if (!v)
        return false;
    n = strcspn(v, "; \t");
    for (; *types; types++)
        if (strlen(*types) == n && strncasecmp(v, *types, n) == 0)
            return true;
    return false;
}

/*
 * Authenticate: "Authorization: Bearer alt_<hex>" naming a live token with at least `need`.
 * On failure the 401/403 is queued and false returned.
 */
static bool authorize(struct ald_http *h, struct MHD_Connection *c, struct req *r,
                      enum ald_scope need, enum MHD_Result *ret)
{
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                   MHD_HTTP_HEADER_AUTHORIZATION);
    uint8_t hash[32];
    enum ald_store_rc rc;
    const char *why;

    if (!auth) {
        why = "missing bearer token (Authorization: Bearer alt_...)";
        goto unauthorized;
    }
    if (strncasecmp(auth, "Bearer ", 7) != 0) {
        why = "Authorization must use the Bearer scheme";
        goto unauthorized;
    }
    auth += 7;
    while (*auth == ' ')
        auth++;
    if (!ald_token_hash(auth, hash)) {
        why = "malformed token: expected alt_ and 64 hex digits";
        goto unauthorized;
    }
    rc = h->store->ops->token_by_hash(h->store, hash, &r->token);
    if (rc == ALD_STORE_ERROR) {
        *ret = reply_store_error(c, r);
        return false;
    }
    if (rc == ALD_STORE_NOT_FOUND || r->token.revoked) {
        why = rc == ALD_STORE_NOT_FOUND ? "unknown token" : "token revoked";
        goto unauthorized;
    }
    if (r->token.scope < need) {
        *ret = reply_error(c, r, MHD_HTTP_FORBIDDEN, "forbidden",
                           "token '%s' has scope '%s'; this request needs '%s'", r->token.name,
                           ald_scope_name(r->token.scope), ald_scope_name(need));
        return false;
    }
    h->store->ops->token_touch(h->store, r->token.id, ald_now_ms());
    return true;
unauthorized:
    /* A 401 carries the challenge; reply_error cannot add headers, so build it here. */
    {
        json_t *body = json_pack("{s:{s:s, s:s}}", "error", "code", "unauthorized", "message", why);
        char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
        struct MHD_Response *resp =
            text ? MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE)
                 : NULL;
        json_decref(body);
        if (!resp) {
            free(text);
            *ret = MHD_NO;
            return false;
        }
        MHD_add_response_header(resp, "Content-Type", "application/json");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"airlift\"");
        *ret = send_reply(c, r, MHD_HTTP_UNAUTHORIZED, resp);
    }
    return false;
}

/*
 * First call of a request: route, authenticate, check the declared body. Returns MHD_YES to
 * go on reading the body (or with a reply already queued), MHD_NO to drop the connection.
 */
static enum MHD_Result begin(struct ald_http *h, struct MHD_Connection *c, struct req *r,
                             const char *url, const char *method)
{
    static const char *const json_types[] = {"application/json", NULL};
    static const char *const image_types[] = {"application/octet-stream",
                                              "application/vnd.airlift.image", NULL};
    enum MHD_Result ret = MHD_YES;
    bool path_known = false;
    uint64_t declared = 0;

    for (size_t i = 0; i < ROUTE_COUNT && !r->route; i++) {
        if (!match(routes[i].pattern, url, r->params))
            continue;
        path_known = true;
        if (!strcmp(routes[i].method, method))
            r->route = &routes[i];
    }
    if (!r->route) {
        if (path_known)
            return reply_error(c, r, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                               "%s is not allowed on this resource", r->method);
        return reply_error(c, r, MHD_HTTP_NOT_FOUND, "not_found", "no such endpoint: %s",
                           r->path);
    }
    if (r->route->scope && !authorize(h, c, r, r->route->scope, &ret))
        return ret;
    alc_buf_init(&r->body, r->route->body == BODY_JSON    ? ALD_JSON_BODY_MAX
                           : r->route->body == BODY_IMAGE ? ALD_IMAGE_BODY_MAX
                                                          : 0);
    if (content_length(c, &declared) && declared > r->body.max)
        return reply_error(c, r, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                           "request body of %" PRIu64 " bytes exceeds the limit of %zu bytes",
                           declared, r->body.max);
    if (r->route->body == BODY_JSON && !content_type_is(c, json_types))
        return reply_error(c, r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                           "send the body as Content-Type: application/json");
    if (r->route->body == BODY_IMAGE && !content_type_is(c, image_types))
        return reply_error(c, r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                           "send the image as Content-Type: application/octet-stream");
    if (declared > 0 && alc_buf_reserve(&r->body, (size_t)declared) != ALC_BUF_OK)
        return MHD_NO;
    return MHD_YES;
}

/* Append an upload chunk, bounded by r->body.max; past it the request is marked too large. */
static bool append_body(struct req *r, const char *data, size_t n)
{
    enum alc_buf_rc rc = r->too_large ? ALC_BUF_FULL : alc_buf_append(&r->body, data, n);
    r->too_large = rc == ALC_BUF_FULL;
    return rc != ALC_BUF_NOMEM;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct ald_http *h = cls;
    struct req *r = *con_cls;

    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        *con_cls = r;
        r->started_ms = ald_now_ms();
        snprintf(r->method, sizeof r->method, "%s", method);
        snprintf(r->path, sizeof r->path, "%s", url);
        return begin(h, c, r, url, method);
    }
    if (*upload_data_size) {
        /* After an early reply the rest of the body is read and dropped. */
        bool ok = r->replied || append_body(r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return ok ? MHD_YES : MHD_NO;
    }
    if (r->replied)
        return MHD_YES;
    if (r->too_large)
        return reply_error(c, r, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                           "request body exceeds the limit of %zu bytes", r->body.max);
    return r->route->handle(h, c, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct req *r = *con_cls;
    char status[8], ms[24];
    if (!r)
        return;
    snprintf(status, sizeof status, "%u", r->status);
    snprintf(ms, sizeof ms, "%" PRId64, ald_now_ms() - r->started_ms);
    /* For a request cut short, the extra key turns "aborted=true" on; otherwise the NULL
     * ends the list there. */
    ald_log(r->status >= 500 ? ALD_LOG_WARN : ALD_LOG_INFO, "request", "method", r->method,
            "path", r->path, "status", status, "ms", ms, "token", r->token.name,
            toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? NULL : "aborted", "true", NULL);
    alc_buf_free(&r->body);
    free(r);
    *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[256];
    size_t n;
    vsnprintf(msg, sizeof msg, fmt, ap);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    ald_log(ALD_LOG_WARN, "http", "detail", msg, NULL);
}

/* The lock, the condition (on the monotonic clock) and the ticker of the streams. */
static bool streams_init(struct ald_http *h)
{
    pthread_condattr_t attr;
    bool cond_ok;
    if (pthread_condattr_init(&attr) != 0)
        return false;
    cond_ok = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
              pthread_cond_init(&h->streams_wake, &attr) == 0;
    pthread_condattr_destroy(&attr);
    if (!cond_ok)
        return false;
    if (pthread_mutex_init(&h->streams_lock, NULL) != 0) {
        pthread_cond_destroy(&h->streams_wake);
        return false;
    }
    if (pthread_create(&h->ticker, NULL, streams_tick, h) != 0) {
        pthread_mutex_destroy(&h->streams_lock);
        pthread_cond_destroy(&h->streams_wake);
        return false;
    }
    h->ticker_running = true;
    return true;
}

/*
 * End every stream: no connection may stay suspended once libmicrohttpd stops. Each reader
 * then ends its stream properly (the client sees an end, not a broken transfer); what is
 * still open after STREAM_END_WAIT_MS is cut by MHD_stop_daemon.
 */
static void streams_stop(struct ald_http *h)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += STREAM_END_WAIT_MS / 1000;
    pthread_mutex_lock(&h->streams_lock);
    h->stopping = true;
    for (struct event_stream *s = h->streams; s; s = s->next) {
        if (s->suspended) {
            s->suspended = false;
            MHD_resume_connection(s->c);
        }
    }
    pthread_cond_broadcast(&h->streams_wake);
    while (h->streams && pthread_cond_timedwait(&h->streams_wake, &h->streams_lock, &until) == 0)
        ;
    pthread_mutex_unlock(&h->streams_lock);
    if (h->ticker_running)
        pthread_join(h->ticker, NULL);
    h->ticker_running = false;
}

static void streams_destroy(struct ald_http *h)
{
    pthread_mutex_destroy(&h->streams_lock);
    pthread_cond_destroy(&h->streams_wake);
}

int ald_http_start(struct ald_http **out, const struct ald_listen *listen, unsigned threads,
                   struct ald_store *store, struct ald_updates *updates, const char *data_dir,
                   char *err, size_t errlen)
{
    struct ald_http *h = NULL;
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    const struct sockaddr *sa;
    const union MHD_DaemonInfo *info;
    /* Suspend/resume: event streams wait without holding a worker. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG |
                     MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME;
    int rc = -1;

    *out = NULL;
    h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    h->store = store;
    h->updates = updates;
    h->data_dir = data_dir;
    if (!streams_init(h)) {
        snprintf(err, errlen, "cannot start the event stream thread");
        free(h);
        h = NULL;
        goto out;
    }
    memset(&sin, 0, sizeof sin);
    memset(&sin6, 0, sizeof sin6);
    if (listen->ipv6) {
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons(listen->port);
        inet_pton(AF_INET6, listen->host, &sin6.sin6_addr);
        sa = (const struct sockaddr *)&sin6;
        flags |= MHD_USE_IPv6;
    } else {
        sin.sin_family = AF_INET;
        sin.sin_port = htons(listen->port);
        inet_pton(AF_INET, listen->host, &sin.sin_addr);
        sa = (const struct sockaddr *)&sin;
    }
    h->daemon = MHD_start_daemon(
        flags, listen->port, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
        h, MHD_OPTION_SOCK_ADDR, sa,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT, 512u,
        MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_END);
    if (!h->daemon) {
        snprintf(err, errlen, "cannot listen on %s (address in use or not available?)",
                 listen->text);
        goto out;
    }
    info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : listen->port;
    *out = h;
    rc = 0;
out:
    if (rc != 0 && h) {
        streams_stop(h);
        streams_destroy(h);
        free(h);
    }
    return rc;
}

uint16_t ald_http_port(const struct ald_http *h)
{
    return h->port;
}

void ald_http_set_rollouts(struct ald_http *h, struct ald_rollouts *r)
{
    h->rollouts = r;
}

void ald_http_stop(struct ald_http *h)
{
    MHD_socket fd;
    if (!h)
        return;
    /* Stop accepting first; end the event streams (they would wait forever); workers then
     * finish what they are doing and are joined. */
    fd = MHD_quiesce_daemon(h->daemon);
    streams_stop(h);
    MHD_stop_daemon(h->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    streams_destroy(h);
    free(h);
}
