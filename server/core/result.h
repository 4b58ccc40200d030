/*
 * result.h - the one outcome type of every core operation the management API calls.
 *
 * A core service answers struct ald_result: a code saying what kind of outcome it is (the
 * HTTP layer maps each code to one status, in http/reply.c), a machine word `reason` naming
 * the error precisely (it is the API's error "code", e.g. "unknown_image"), an optional finer
 * machine word `detail` (the API's error "reason", e.g. "hash_mismatch"), and a sentence for
 * people in `msg` that names what is wrong. docs/architecture.md, "Results", is the
 * reference.
 */
#ifndef AIRLIFTD_RESULT_H
#define AIRLIFTD_RESULT_H

#include <stdbool.h>

#include "store.h"

enum ald_code {
    ALD_OK = 0,
    ALD_ERR_BAD_REQUEST,   /* the request itself is wrong: a name, a value, a shape */
    ALD_ERR_UNAUTHORIZED,  /* no usable credentials */
    ALD_ERR_FORBIDDEN,     /* credentials that may not do this */
    ALD_ERR_NOT_FOUND,     /* what it names does not exist */
    ALD_ERR_EXISTS,        /* what it would create already exists */
    ALD_ERR_CONFLICT,      /* the thing's state does not allow it */
    ALD_ERR_TOO_LARGE,     /* more than the server takes */
    ALD_ERR_UNPROCESSABLE, /* well formed, but it cannot be done (unknown image, no plan) */
    ALD_ERR_UNAVAILABLE,   /* the database is unreachable, or a service is switched off */
    ALD_ERR_INTERNAL,      /* the server failed (logged) */
};

#define ALD_REASON_MAX 47
#define ALD_DETAIL_MAX 79   /* room for a SHA-256 in hex */
#define ALD_RESULT_MSG_MAX 511 /* room for any `why` the store keeps (ALD_WHY_MAX) */

struct ald_result {
    enum ald_code code;
    char reason[ALD_REASON_MAX + 1]; /* machine word, e.g. "unknown_image"; "" when ALD_OK */
    char detail[ALD_DETAIL_MAX + 1]; /* finer machine word, e.g. "hash_mismatch"; "" if none */
    char msg[ALD_RESULT_MSG_MAX + 1]; /* for people: names what is wrong; "" when ALD_OK */
};

/* Success: code ALD_OK, every text empty. */
struct ald_result ald_ok(void);

/*
 * A failure of kind code, machine word reason (at most ALD_REASON_MAX bytes) and the
 * printf-formatted message (cut at ALD_RESULT_MSG_MAX bytes). No detail.
 */
struct ald_result ald_fail(enum ald_code code, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Put "PREFIX: " (printf-formatted) before res's message, e.g. "images[2]: ", and return
 * res (its message cut at ALD_RESULT_MSG_MAX bytes). */
struct ald_result ald_with_prefix(struct ald_result res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Set res's detail (cut at ALD_DETAIL_MAX bytes) and return res. */
struct ald_result ald_with_detail(struct ald_result res, const char *detail);

/*
 * The result of a store call that failed in a way the caller does not expect (anything but
 * the NOT_FOUND or EXISTS it handles itself): ALD_ERR_INTERNAL "internal" with a message that
 * points at the server's log. This is the one place a store failure becomes a result; when
 * the store reports an unreachable database it becomes ALD_ERR_UNAVAILABLE here.
 */
struct ald_result ald_store_failed(enum ald_store_rc rc);

/* Is res a success? */
static inline bool ald_is_ok(const struct ald_result *res)
{
    return res->code == ALD_OK;
}

#endif
