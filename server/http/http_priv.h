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
    char params[2][PARAM_MAX + 1];
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
    struct ald_store *store; /* for reply_result's "did you mean" (suggest.h) */
    /* issue 13 (console): the request target as it came, before libmicrohttpd decoded it
     * (router.c's on_uri), for h_static.c's path checks. */
    bool begun;
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
/* issue 13 (console): the console's files (h_static.c) and the caller's token (h_tokens.c) */
HANDLER(h_static);
HANDLER(h_whoami);

#endif
