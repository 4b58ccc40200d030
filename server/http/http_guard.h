/*
 * http_guard.h - the management API's defences against slow and ambiguous requests
 * (docs/security.md "HTTP API"):
 *   - a deadline for a request's headers: a connection whose request line and headers have
 *     not all arrived HEADER_DEADLINE_S seconds after it opened (or after its last reply, on
 *     a kept-alive connection) is shut down, however slowly it keeps sending (slowloris);
 *   - at most PER_ADDRESS_CONNECTIONS connections per client address (libmicrohttpd's
 *     MHD_OPTION_PER_IP_CONNECTION_LIMIT), and CONNECTIONS_MAX in all;
 *   - ambiguous framing refused with 400 and the connection closed: more than one
 *     Content-Length, or Content-Length with Transfer-Encoding (request smuggling);
 *   - a path with an encoded slash (%2f, %2F) or NUL (%00) refused with 400, never decoded
 *     into a route.
 */
#ifndef AIRLIFTD_HTTP_GUARD_H
#define AIRLIFTD_HTTP_GUARD_H

#include <stdbool.h>
#include <stdint.h>

#include <microhttpd.h>

#define ALD_HTTP_HEADER_DEADLINE_S 10
#define ALD_HTTP_PER_ADDRESS_CONNECTIONS 32
#define ALD_HTTP_CONNECTIONS_MAX 1024

struct http_guard;

/* Start the deadline thread. NULL if out of memory or threads. */
struct http_guard *http_guard_start(void);
/* Stop it (after the daemon stopped: no connection is left). */
void http_guard_stop(struct http_guard *g);

/* libmicrohttpd's MHD_OPTION_NOTIFY_CONNECTION callback, with the guard as its argument. */
void http_guard_on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                              enum MHD_ConnectionNotificationCode toe);

/* Whether a raw request target (as MHD_OPTION_URI_LOG_CALLBACK sees it, before decoding)
 * has an encoded slash (%2f, %2F) or NUL (%00) in its path: the router answers 400 and
 * never routes it. */
bool http_guard_path_refused(const char *uri);

/* The request's headers are all in: its connection's deadline is off until the reply. */
void http_guard_headers_done(struct MHD_Connection *c);
/* The reply is done: a kept-alive connection's next request has a deadline again. */
void http_guard_reply_done(struct MHD_Connection *c);

/* The message (a static string) why the request's framing is ambiguous, or NULL if it is
 * not: the router refuses such a request with 400 and closes the connection. */
const char *http_guard_ambiguous(struct MHD_Connection *c);

#endif
