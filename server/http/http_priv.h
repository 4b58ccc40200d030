/*
 * http_priv.h - what the parts of the management API share: the server's state, a
 * request's state, the route table's types, the request-parsing helpers (parse.c) and every
 * handler (h_*.c). Not for use outside server/http.
 *
 * A handler parses the request (path parameters, query, JSON body), calls a core service,
 * and renders the reply; it never calls the store. It queues exactly one reply (or returns
 * MHD_NO to drop the connection when out of memory).
 */
#ifndef AIRLIFTD_HTTP_PRIV_H
#define AIRLIFTD_HTTP_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>

#include "ddi.h"
#include "http_api.h"
#include "result.h"
#include "store.h"

#ifndef AIRLIFTD_VERSION
#define AIRLIFTD_VERSION "0.0.0"
#endif
#define PARAM_MAX 80 /* longest path segment a route accepts */
#define EVENT_PREFIX_MAX 31 /* the longest `type` filter of the event endpoints */

struct event_stream;

struct ald_http {
    struct MHD_Daemon *daemon;
    struct ald_store *store;
    struct ald_updates *updates;
    struct ald_rollouts *rollouts; /* NULL: the fleet endpoints answer 503 */
    const char *data_dir;
    uint16_t port;
    /* Live event streams and the thread that wakes them (h_stream.c). */
    pthread_mutex_t streams_lock;
    pthread_cond_t streams_wake;
    struct event_stream *streams;
    bool stopping;
    pthread_t ticker;
    bool ticker_running;
    bool metrics_public; /* issue 15 (ops): GET /metrics without a token (atomic access) */
    struct http_guard *guard; /* net: header deadline (http_guard.h) */
    const struct ald_device_cas *device_cas; /* issue 14 (creds): NULL: no --device-ca */
    struct ald_ddi_conf ddi;  /* issue 14 (ddi): hawkBit DDI settings (h_ddi.c) */
    bool ddi_https;           /* issue 14 (ddi): artifact links are https (the API has TLS) */
};

enum body_kind { BODY_NONE, BODY_JSON, BODY_IMAGE };

struct req;
typedef enum MHD_Result (*handler_fn)(struct ald_http *h, struct MHD_Connection *c,
                                      struct req *r);

struct route {
    const char *method;
    const char *pattern;  /* "/v1/devices/{}": "{}" matches one segment, kept in params */
    enum ald_scope scope; /* 0: no token needed */
    enum body_kind body;
    handler_fn handle;
};

/* Per-request state, owned by libmicrohttpd's con_cls until the request completes. */
struct req {
    const struct route *route;
    char params[4][PARAM_MAX + 1]; /* issue 14 (ddi): DDI paths have up to 4 */
    struct ald_token_rec token; /* the caller's token, once authenticated */
    uint8_t *body;
    size_t len, cap, limit;
    bool too_large;
    bool replied;
    unsigned status;
    int64_t started_ms;
    char method[16];
    char path[256];
    char location[192]; /* Location header of a 201, if set */
    bool close_connection; /* net: the reply says "Connection: close" and the connection ends */
    struct ald_store *store; /* for reply_result's "did you mean" (suggest.h) */
    /* issue 13 (console): the request target as it came, before libmicrohttpd decoded it
     * (router.c's on_uri), for h_static.c's path checks. */
    bool begun;
    bool bad_path; /* net: an encoded slash or NUL in the raw path (on_uri) */
    bool raw_too_long;
    char raw_path[512];
};

/* ---- request parsing (parse.c); each queues the 400 itself and returns NULL/false ---- */

/* The request body as a JSON object. */
json_t *parse_body(struct MHD_Connection *c, struct req *r, enum MHD_Result *ret);

/* Every key of obj is in allowed (NULL-terminated): unknown fields are refused. */
bool only_fields(struct MHD_Connection *c, struct req *r, json_t *obj,
                 const char *const *allowed, enum MHD_Result *ret);

/* A required string field of at most max bytes, without NUL. */
const char *string_field(struct MHD_Connection *c, struct req *r, json_t *obj,
                         const char *field, size_t max, enum MHD_Result *ret);

/* A positive decimal id (no sign, no leading zero, at most 18 digits); false otherwise.
 * Queues nothing. */
bool parse_id(const char *s, int64_t *out);

/* "platform": a number 0..65535 or a known platform name; false if neither. Queues nothing. */
bool platform_value(json_t *v, uint16_t *out);

/* ---- request bodies as pure functions (issue 14): what each handler reads from its JSON
 * body, without a connection or a store, so fuzz/fuzz_http.c can feed them any bytes. Each
 * answers a result: ALD_OK, or the 400 the handler replies with reply_result (code
 * "bad_json" or "bad_request", or the name check's own). Strings they set point into the
 * JSON document, which the caller owns. ---- */

struct ald_device_new;
struct ald_device_change;
struct ald_release_spec;

/* The body as a JSON object into *out (the caller's, json_decref it); *out NULL on error,
 * whose message shows the bytes jansson quotes outside printable ASCII as \xNN. */
struct ald_result body_object(const uint8_t *body, size_t len, json_t **out);
/* Every key of obj is in allowed (NULL-terminated); else "unknown field" quoting its first
 * 64 bytes at most, cut where a UTF-8 character starts (utf8_cut). */
struct ald_result body_fields(json_t *obj, const char *const *allowed);
/* A required string field of at most max bytes, without NUL, into *out (NULL on error). */
/* How many of the bytes of s to quote so that at most max are, and no UTF-8 character is
 * cut in two: strlen(s) if that is at most max. */
size_t utf8_cut(const char *s, size_t max);
struct ald_result body_string(json_t *obj, const char *field, size_t max, const char **out);

/* POST /v1/devices (h_devices.c): the batch form {"devices": [1..ALD_DEVICE_BATCH_MAX]}
 * sets *list to the array and *n to its size; the single form sets *list NULL, *n 1. */
struct ald_result devices_body_list(json_t *doc, json_t **list, size_t *n);
/* One device of it into *it (its groups point into groups[ALD_GROUPS_MAX]): NULL, or what
 * is wrong, written into why[cap] and prefixed with `at` ("devices[3]: "). */
const char *device_new_parse(json_t *o, const char *at, struct ald_device_new *it,
                             const char **groups, char *why, size_t cap);
/* PATCH /v1/devices/{name} after its field check (h_devices.c): the change into *ch (its
 * groups into groups[ALD_GROUPS_MAX]); NULL, or what is wrong (a constant sentence). */
const char *device_change_parse(json_t *doc, struct ald_device_change *ch, const char **groups);
/* POST /v1/products (h_fleet.c): {"name", "platform"}, the name checked as the service does. */
struct ald_result product_body_parse(json_t *doc, const char **name, uint16_t *platform);
/* POST /v1/products/{p}/releases after its field check (h_fleet.c): version, channel, notes
 * and images (into sha[ALD_PLAN_MAX_STEPS]) into *spec; images that are not an array of
 * 1..ALD_PLAN_MAX_STEPS leave spec->nimages 0, for the service to judge the rest first. */
struct ald_result release_body_parse(json_t *doc, struct ald_release_spec *spec,
                                     const char **sha);
/* POST /v1/rollouts, first step (h_rollouts.c): the field check, product and release. */
struct ald_result rollout_body_names(json_t *doc, const char **product, const char **release);
/* Its second step, once rollouts are known to be on: the rest into *b. */
struct rollout_body {
    bool allow_empty, dry_run;
    size_t offset, limit; /* a dry run's page of devices */
    struct ald_rollout_rec ro; /* target_json, waves_json and the numbers */
};
struct ald_result rollout_body_parse(json_t *doc, struct rollout_body *b);
/* POST /v1/tokens (h_tokens.c): {"name", "scope", "expires_at"? | "expires_in"?}, the expiry
 * (ms since the epoch, 0: never) as read at `now`. */
struct ald_result token_body_parse(json_t *doc, int64_t now, const char **name,
                                   const char **scope, int64_t *expires_at);
/* POST /v1/devices/{name}/updates (h_updates.c): {"images", "dry_run", "replace"}, the
 * images into sha[ALD_PLAN_MAX_STEPS] and *n. */
struct ald_result update_body_parse(json_t *doc, const char **sha, size_t *n, bool *dry_run,
                                    bool *replace);

/* ---- the live event stream (h_stream.c) ---- */

/* Start the streams' lock, condition and ticker thread; false if that fails. */
bool streams_init(struct ald_http *h);
/* End every stream and join the ticker (before libmicrohttpd stops). */
void streams_stop(struct ald_http *h);
/* Free the lock and condition (after streams_stop). */
void streams_destroy(struct ald_http *h);

/* ---- shared renderings ---- */

/* An event object (docs/api.md, "Events"). */
json_t *event_json(const struct ald_event_rec *e);
/* The event filters both event endpoints take (device, update, rollout, type, after); f's
 * strings point into the request's arguments. */
bool event_filter_params(struct MHD_Connection *c, struct req *r, struct ald_event_filter *f,
                         enum MHD_Result *ret);
/* "0" or an event id. */
bool parse_after(const char *s, int64_t *out);

/* ---- handlers, one file per resource ---- */

#define HANDLER(name) \
    enum MHD_Result name(struct ald_http *h, struct MHD_Connection *c, struct req *r)
HANDLER(h_health);
/* issue 14 (ddi): hawkBit DDI (h_ddi.c, docs/ddi.md) */
HANDLER(h_ddi_poll);
HANDLER(h_ddi_config_data);
HANDLER(h_ddi_deployment);
HANDLER(h_ddi_deployment_feedback);
HANDLER(h_ddi_cancel);
HANDLER(h_ddi_cancel_feedback);
HANDLER(h_ddi_artifact);
/* 409 "active_update" (issue 12): res's message and the active update {"id", "state",
 * "origin", "rollout_id", "queued_by"} as the error's "update" (h_updates.c). */
struct ald_update_rec;
enum MHD_Result reply_active_update(struct MHD_Connection *c, struct req *r,
                                    const struct ald_result *res,
                                    const struct ald_update_rec *active);

HANDLER(h_tokens_create);
HANDLER(h_tokens_list);
HANDLER(h_token_delete);
HANDLER(h_devices_create);
HANDLER(h_devices_list);
HANDLER(h_device_get);
HANDLER(h_device_patch);
HANDLER(h_device_delete);
HANDLER(h_images_create);
HANDLER(h_images_list);
HANDLER(h_image_get);
HANDLER(h_image_delete);
HANDLER(h_image_blob);
HANDLER(h_events_list);
HANDLER(h_events_stream);
HANDLER(h_updates_create);
HANDLER(h_updates_list);
HANDLER(h_update_get);
HANDLER(h_update_cancel);
HANDLER(h_products_create);
HANDLER(h_products_list);
HANDLER(h_product_get);
HANDLER(h_releases_create);
HANDLER(h_releases_list);
HANDLER(h_release_get);
HANDLER(h_rollouts_create);
HANDLER(h_rollouts_list);
HANDLER(h_rollout_get);
HANDLER(h_rollout_devices);
HANDLER(h_rollout_act);
/* issue 12 (cli): the fleet questions (h_fleetq.c) */
HANDLER(h_fleet_versions);
HANDLER(h_usage_list);
/* issue 15 (ops): GET /metrics and GET /v1/ready (h_metrics.c), and the route table the
 * metrics name their latency slots after (slot i is table entry i). */
HANDLER(h_metrics);
HANDLER(h_ready);
const struct route *http_route_table(size_t *count);
/* issue 13 (console): the console's files (h_static.c) and the caller's token (h_tokens.c) */
HANDLER(h_static);
HANDLER(h_whoami);

#endif
