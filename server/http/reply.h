/*
 * reply.h - queueing the management API's replies: JSON bodies, empty ones, errors, and the
 * one mapping from a core struct ald_result to an HTTP status and error body.
 *
 * Every error body has one shape (docs/api.md, "Errors"):
 *   {"error":{"code":"not_found","message":"device 'x' does not exist"}}
 * with an extra "reason" for a finer machine word (e.g. an image format error name).
 */
#ifndef AIRLIFTD_HTTP_REPLY_H
#define AIRLIFTD_HTTP_REPLY_H

#include <jansson.h>
#include <microhttpd.h>

#include "result.h"

struct req;

/* Queue resp with status (recorded for the access log, with Location if r has one).
 * Destroys resp; NULL resp: MHD_NO. */
enum MHD_Result send_reply(struct MHD_Connection *c, struct req *r, unsigned status,
                           struct MHD_Response *resp);

/* Reply with body as JSON, stealing the reference; NULL body (out of memory): MHD_NO. */
enum MHD_Result reply_json(struct MHD_Connection *c, struct req *r, unsigned status,
                           json_t *body);

/* An empty reply (e.g. 204). */
enum MHD_Result reply_empty(struct MHD_Connection *c, struct req *r, unsigned status);

/* An error reply: {"error":{"code":code,"message":...}}, with "reason" unless it is NULL. */
enum MHD_Result reply_error_reason(struct MHD_Connection *c, struct req *r, unsigned status,
                                   const char *code, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
#define reply_error(c, r, status, code, ...) \
    reply_error_reason(c, r, status, code, NULL, __VA_ARGS__)

/* The HTTP status of a result's code (200 for ALD_OK). */
unsigned http_status_of(enum ald_code code);

/*
 * The error reply of a failed result: http_status_of(res->code), with code = res->reason,
 * message = res->msg and reason = res->detail when it is not empty. A 401 also carries the
 * Bearer challenge (WWW-Authenticate). A 404 whose message names a missing device, product,
 * group or channel (suggest.h) gets "; did you mean 'NAME'?" and "suggestion": "NAME" when an
 * existing name is close.
 */
enum MHD_Result reply_result(struct MHD_Connection *c, struct req *r,
                             const struct ald_result *res);

#endif
