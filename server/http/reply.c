/*
 * reply.c - see reply.h.
 */
#include "reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_priv.h"
#include "suggest.h"

enum MHD_Result send_reply(struct MHD_Connection *c, struct req *r, unsigned status,
                           struct MHD_Response *resp)
{
    enum MHD_Result ret;
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (r->location[0])
        MHD_add_response_header(resp, "Location", r->location);
    if (r->close_connection)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    r->replied = true;
    r->status = status;
    ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* The response carrying body as compact JSON text (steals body); NULL if out of memory. */
static struct MHD_Response *json_response(json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct MHD_Response *resp = NULL;
    json_decref(body);
    if (!text)
        return NULL;
    resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return NULL;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    return resp;
}

enum MHD_Result reply_json(struct MHD_Connection *c, struct req *r, unsigned status,
                           json_t *body)
{
    return send_reply(c, r, status, json_response(body)); /* NULL: drop the connection */
}

enum MHD_Result reply_empty(struct MHD_Connection *c, struct req *r, unsigned status)
{
    return send_reply(c, r, status,
                      MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT));
}

/* {"error":{"code":..., "message":..., ["reason":...]}}; NULL if out of memory. */
static json_t *error_body(const char *code, const char *reason, const char *message)
{
    json_t *err = json_pack("{s:s, s:s}", "code", code, "message", message);
    if (err && reason)
        json_object_set_new(err, "reason", json_string(reason));
    return err ? json_pack("{s:o}", "error", err) : NULL;
}

enum MHD_Result reply_error_reason(struct MHD_Connection *c, struct req *r, unsigned status,
                                   const char *code, const char *reason, const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    return reply_json(c, r, status, error_body(code, reason, message));
}

unsigned http_status_of(enum ald_code code)
{
    switch (code) {
    case ALD_OK:
        return MHD_HTTP_OK;
    case ALD_ERR_BAD_REQUEST:
        return MHD_HTTP_BAD_REQUEST;
    case ALD_ERR_UNAUTHORIZED:
        return MHD_HTTP_UNAUTHORIZED;
    case ALD_ERR_FORBIDDEN:
        return MHD_HTTP_FORBIDDEN;
    case ALD_ERR_NOT_FOUND:
        return MHD_HTTP_NOT_FOUND;
    case ALD_ERR_EXISTS:
    case ALD_ERR_CONFLICT:
        return MHD_HTTP_CONFLICT;
    case ALD_ERR_TOO_LARGE:
        return MHD_HTTP_CONTENT_TOO_LARGE;
    case ALD_ERR_UNPROCESSABLE:
        return 422; /* MHD_HTTP_UNPROCESSABLE_ENTITY, renamed across libmicrohttpd versions */
    case ALD_ERR_UNAVAILABLE:
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    case ALD_ERR_INTERNAL:
        break;
    }
    return MHD_HTTP_INTERNAL_SERVER_ERROR;
}

enum MHD_Result reply_result(struct MHD_Connection *c, struct req *r,
                             const struct ald_result *res)
{
    unsigned status = http_status_of(res->code);
    char closest[ALD_NAME_MAX + 1], msg[ALD_RESULT_MSG_MAX + 96];
    json_t *body;
    /* "product 'trakcer' does not exist; did you mean 'tracker'?" (suggest.h) */
    bool suggest = res->code == ALD_ERR_NOT_FOUND && ald_suggest_missing(r->store, res->msg,
                                                                         closest);
    if (suggest)
        snprintf(msg, sizeof msg, "%s; did you mean '%s'?", res->msg, closest);
    body = error_body(res->reason[0] ? res->reason : "internal",
                      res->detail[0] ? res->detail : NULL, suggest ? msg : res->msg);
    if (suggest && body)
        json_object_set_new(json_object_get(body, "error"), "suggestion", json_string(closest));
    struct MHD_Response *resp = json_response(body);
    if (resp && status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"airlift\"");
    return send_reply(c, r, status, resp);
}
