/*
 * result.c - see result.h.
 */
#include "result.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct ald_result ald_ok(void)
{
    struct ald_result res;
    memset(&res, 0, sizeof res);
    res.code = ALD_OK;
    return res;
}

struct ald_result ald_fail(enum ald_code code, const char *reason, const char *fmt, ...)
{
    struct ald_result res = ald_ok();
    va_list ap;
    res.code = code;
    snprintf(res.reason, sizeof res.reason, "%s", reason);
    va_start(ap, fmt);
    vsnprintf(res.msg, sizeof res.msg, fmt, ap);
    va_end(ap);
    return res;
}

struct ald_result ald_with_prefix(struct ald_result res, const char *fmt, ...)
{
    char prefix[64], msg[sizeof res.msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    snprintf(msg, sizeof msg, "%s", res.msg);
    if (snprintf(res.msg, sizeof res.msg, "%s: %s", prefix, msg) < 0)
        res.msg[0] = '\0';
    return res;
}

struct ald_result ald_with_detail(struct ald_result res, const char *detail)
{
    snprintf(res.detail, sizeof res.detail, "%s", detail ? detail : "");
    return res;
}

struct ald_result ald_store_failed(enum ald_store_rc rc)
{
    if (rc == ALD_STORE_UNAVAILABLE)
        return ald_fail(ALD_ERR_UNAVAILABLE, "unavailable",
                        "the database is unreachable; try again shortly");
    if (rc == ALD_STORE_RETRY || rc == ALD_STORE_CONFLICT)
        return ald_fail(ALD_ERR_CONFLICT, "conflict",
                        "the request raced another change; try again");
    return ald_fail(ALD_ERR_INTERNAL, "internal",
                    "the server could not complete the request (see its log)");
}
