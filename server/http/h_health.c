/*
 * h_health.c - GET /v1/health (docs/api.md, "Health").
 */
#include "events.h"
#include "http_priv.h"
#include "reply.h"

HANDLER(h_health)
{
    const char *backend;
    int version;
    struct ald_result res = ald_health(h->store, &version, &backend);
    if (!ald_is_ok(&res))
        return reply_result(c, r, &res);
    return reply_json(c, r, MHD_HTTP_OK,
                      json_pack("{s:s, s:s, s:s, s:i}", "status", "ok", "version",
                                AIRLIFTD_VERSION, "store", backend, "schema_version", version));
}
