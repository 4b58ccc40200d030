/*
 * router.c - the management API's front: the route table, matching a request to its
 * handler, authentication, the request's body, the access log, and starting and stopping
 * the server (see http_api.h). The handlers are in h_*.c, the replies in reply.c.
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
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "auth.h"
#include "events.h"
#include "http_guard.h"
#include "h_static.h"
#include "http_priv.h"
#include "log.h"
#include "metrics.h"
#include "reply.h"
#include "util.h"

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
    {"DELETE", "/v1/images/{}", ALD_SCOPE_OPERATOR, BODY_NONE, h_image_delete},
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
    /* issue 12 (cli): the fleet questions */
    {"GET", "/v1/fleet/versions", ALD_SCOPE_READ, BODY_NONE, h_fleet_versions},
    {"GET", "/v1/usage", ALD_SCOPE_READ, BODY_NONE, h_usage_list},
    /* issue 15 (ops): readiness and metrics (docs/operations.md); /metrics takes no token
     * when --metrics-public is set (begin()) */
    {"GET", "/v1/ready", 0, BODY_NONE, h_ready},
    {"GET", "/metrics", ALD_SCOPE_READ, BODY_NONE, h_metrics},
    /* issue 13 (console): who the caller's token is */
    {"GET", "/v1/whoami", ALD_SCOPE_READ, BODY_NONE, h_whoami},
    /* issue 14 (ddi): hawkBit DDI for linux devices; the handlers check the DDI tokens */
    {"GET", "/{}/controller/v1/{}", 0, BODY_NONE, h_ddi_poll},
    {"PUT", "/{}/controller/v1/{}/configData", 0, BODY_JSON, h_ddi_config_data},
    {"GET", "/{}/controller/v1/{}/deploymentBase/{}", 0, BODY_NONE, h_ddi_deployment},
    {"POST", "/{}/controller/v1/{}/deploymentBase/{}/feedback", 0, BODY_JSON,
     h_ddi_deployment_feedback},
    {"GET", "/{}/controller/v1/{}/cancelAction/{}", 0, BODY_NONE, h_ddi_cancel},
    {"POST", "/{}/controller/v1/{}/cancelAction/{}/feedback", 0, BODY_JSON,
     h_ddi_cancel_feedback},
    {"GET", "/{}/controller/v1/{}/softwaremodules/{}/artifacts/{}", 0, BODY_NONE,
     h_ddi_artifact},
};
#define ROUTE_COUNT (sizeof routes / sizeof routes[0])
/* issue 15 (ops): each route has its own slot of the latency histogram (metrics.h). */
_Static_assert(ROUTE_COUNT < ALD_METRICS_ROUTES, "more routes than metrics slots");

const struct route *http_route_table(size_t *count)
{
    *count = ROUTE_COUNT;
    return routes;
}

/*
 * Does path match pattern? Path parameters ("{}") are copied to params (at most 4, each at
 * most PARAM_MAX bytes; a longer one does not match). A trailing slash does not match.
 */
static bool match(const char *pattern, const char *path, char params[4][PARAM_MAX + 1])
{
    int nparam = 0;
    while (*pattern && *path) {
        if (pattern[0] == '{' && pattern[1] == '}') {
            size_t n = strcspn(path, "/");
            if (n == 0 || n > PARAM_MAX || nparam >= 4)
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
 * Authenticate: "Authorization: Bearer alt_<hex>" naming a live token with at least `need`
 * (r->token is then the caller's token). On failure the 401/403 is queued and false
 * returned.
 */
static bool authorize(struct ald_http *h, struct MHD_Connection *c, struct req *r,
                      enum ald_scope need, enum MHD_Result *ret)
{
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                   MHD_HTTP_HEADER_AUTHORIZATION);
    struct ald_result res;

    if (!auth) {
        res = ald_fail(ALD_ERR_UNAUTHORIZED, "unauthorized",
                       "missing bearer token (Authorization: Bearer alt_...)");
    } else if (strncasecmp(auth, "Bearer ", 7) != 0) {
        res = ald_fail(ALD_ERR_UNAUTHORIZED, "unauthorized",
                       "Authorization must use the Bearer scheme");
    } else {
        auth += 7;
        while (*auth == ' ')
            auth++;
        res = ald_token_authenticate(h->store, auth, need, &r->token);
    }
    if (ald_is_ok(&res))
        return true;
    *ret = reply_result(c, r, &res);
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
        /* issue 13 (console): a path outside /v1 that no route has is the console's */
        if (!path_known && ald_static_path(url))
            return h_static(h, c, r);
        if (path_known)
            return reply_error(c, r, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                               "%s is not allowed on this resource", r->method);
        return reply_error(c, r, MHD_HTTP_NOT_FOUND, "not_found", "no such endpoint: %s",
                           r->path);
    }
    bool open_metrics = r->route->handle == h_metrics &&
                        __atomic_load_n(&h->metrics_public, __ATOMIC_RELAXED);
    if (r->route->scope && !open_metrics && !authorize(h, c, r, r->route->scope, &ret))
        return ret;
    r->limit = r->route->body == BODY_JSON    ? ALD_JSON_BODY_MAX
               : r->route->body == BODY_IMAGE ? ALD_IMAGE_BODY_MAX
                                              : 0;
    if (content_length(c, &declared) && declared > r->limit)
        return reply_error(c, r, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                           "request body of %" PRIu64 " bytes exceeds the limit of %zu bytes",
                           declared, r->limit);
    if (r->route->body == BODY_JSON && !content_type_is(c, json_types))
        return reply_error(c, r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                           "send the body as Content-Type: application/json");
    if (r->route->body == BODY_IMAGE && !content_type_is(c, image_types))
        return reply_error(c, r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                           "send the image as Content-Type: application/octet-stream");
    if (declared > 0) {
        r->body = malloc((size_t)declared);
        if (!r->body)
            return MHD_NO;
        r->cap = (size_t)declared;
    }
    return MHD_YES;
}

/* Append an upload chunk, bounded by r->limit; past it the request is marked too large. */
static bool append_body(struct req *r, const char *data, size_t n)
{
    if (r->too_large || n > r->limit - r->len) {
        r->too_large = true;
        return true;
    }
    if (r->len + n > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        uint8_t *grown;
        while (cap < r->len + n)
            cap *= 2;
        if (cap > r->limit)
            cap = r->limit;
        grown = realloc(r->body, cap);
        if (!grown)
            return false;
        r->body = grown;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct ald_http *h = cls;
    struct req *r = *con_cls;

    if (!r || !r->begun) {
        if (!r && !(r = calloc(1, sizeof *r)))
            return MHD_NO;
        bool bad_path = r->bad_path; /* net: on_uri saw an encoded slash or NUL */
        *con_cls = r;
        r->begun = true;
        r->started_ms = ald_now_ms();
        r->store = h->store;
        snprintf(r->method, sizeof r->method, "%s", method);
        snprintf(r->path, sizeof r->path, "%s", url);
        /* ---- net: refused before routing (http_guard.h) ---- */
        http_guard_headers_done(c);
        const char *ambiguous = http_guard_ambiguous(c);
        if (bad_path || ambiguous) {
            r->close_connection = true;
            if (bad_path)
                return reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_path",
                                   "the path has an encoded slash (%%2F) or NUL (%%00)");
            return reply_error(c, r, MHD_HTTP_BAD_REQUEST, "ambiguous_request",
                               "ambiguous message framing: %s", ambiguous);
        }
        /* ---- end net ---- */
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
                           "request body exceeds the limit of %zu bytes", r->limit);
    /* Events recorded while the handler runs name the token as their actor (events.h). */
    ald_event_actor_token(r->token.name);
    enum MHD_Result ret = r->route->handle(h, c, r);
    ald_event_actor_clear();
    return ret;
}

/* libmicrohttpd hands the raw request target here first; the request's state starts with
 * it: an encoded slash or NUL in the path is refused before routing (net, http_guard.h),
 * and h_static.c checks the console's paths on it (decoding hides what it must refuse). */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    struct req *r = calloc(1, sizeof *r);
    (void)cls;
    (void)c;
    if (r) {
        size_t n = strcspn(uri, "?#");
        r->bad_path = http_guard_path_refused(uri);
        r->raw_too_long = n >= sizeof r->raw_path;
        if (!r->raw_too_long) {
            memcpy(r->raw_path, uri, n);
            r->raw_path[n] = '\0';
        }
    }
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct req *r = *con_cls;
    char status[8], ms[24];
    (void)cls;
    http_guard_reply_done(c); /* net: the next request's headers have a deadline again */
    if (!r) {
        *con_cls = NULL;
        return;
    }
    if (!r->begun) { /* only on_uri saw it (e.g. a malformed request): nothing to log */
        free(r);
        *con_cls = NULL;
        return;
    }
    snprintf(status, sizeof status, "%u", r->status);
    int64_t elapsed = ald_now_ms() - r->started_ms;
    snprintf(ms, sizeof ms, "%" PRId64, elapsed);
    /* issue 15 (ops): airlift_http_request_duration_seconds */
    ald_metrics_http(r->route ? (unsigned)(r->route - routes) : ALD_METRICS_ROUTE_NONE,
                     r->status, elapsed > 0 ? (uint64_t)elapsed : 0);
    /* For a request cut short, the extra key turns "aborted=true" on; otherwise the NULL
     * ends the list there. */
    ald_log(r->status >= 500 ? ALD_LOG_WARN : ALD_LOG_INFO, "request", "method", r->method,
            "path", r->path, "status", status, "ms", ms, "token", r->token.name,
            toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? NULL : "aborted", "true", NULL);
    free(r->body);
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

int ald_http_start(struct ald_http **out, const struct ald_listen *listen, unsigned threads,
                   struct ald_store *store, struct ald_updates *updates,
                   struct ald_rollouts *rollouts, const char *data_dir,
                   const struct ald_http_tls *tls, char *err, size_t errlen)
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
    /* issue 14 (tokens): HTTPS with the checked PEM texts (tls.c), else nothing. */
    bool use_tls = tls && tls->cert_pem && tls->key_pem;
    /* TLS 1.2 and 1.3 only: GnuTLS's NORMAL alone still offers 1.0 and 1.1. */
    static const char tls_priorities[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2";
    struct MHD_OptionItem tls_opts[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, use_tls ? tls->cert_pem : NULL},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, use_tls ? tls->key_pem : NULL},
        {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)tls_priorities},
        {MHD_OPTION_END, 0, NULL},
    };

    if (use_tls)
        flags |= MHD_USE_TLS;
    *out = NULL;
    h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    h->store = store;
    h->updates = updates;
    h->rollouts = rollouts;
    h->data_dir = data_dir;
    h->guard = http_guard_start(); /* net */
    if (!h->guard || !streams_init(h)) {
        snprintf(err, errlen, "cannot start the event stream thread");
        http_guard_stop(h->guard);
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
        /* net: slow and ambiguous requests (http_guard.h) */
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)ALD_HTTP_PER_ADDRESS_CONNECTIONS,
        MHD_OPTION_NOTIFY_CONNECTION, http_guard_on_connection, h->guard,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, h,
        MHD_OPTION_ARRAY, use_tls ? tls_opts : &tls_opts[3], MHD_OPTION_END);
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
        http_guard_stop(h->guard);
        free(h);
    }
    return rc;
}

void ald_http_set_ddi(struct ald_http *h, const char *tenant, const char *gateway_token,
                      unsigned poll_s, bool https)
{
    snprintf(h->ddi.tenant, sizeof h->ddi.tenant, "%s", tenant);
    snprintf(h->ddi.gateway_token, sizeof h->ddi.gateway_token, "%s", gateway_token);
    h->ddi.poll_s = poll_s;
    h->ddi_https = https;
}

void ald_http_set_metrics_public(struct ald_http *h, bool on)
{
    __atomic_store_n(&h->metrics_public, on, __ATOMIC_RELAXED);
}

uint16_t ald_http_port(const struct ald_http *h)
{
    return h->port;
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
    http_guard_stop(h->guard);
    free(h);
}
