/*
 * events.c - see events.h.
 */
#include "events.h"

struct ald_result ald_event_list(struct ald_store *st, const struct ald_event_filter *f,
                                 ald_event_cb each, void *ctx)
{
    enum ald_store_rc rc = st->ops->event_list(st, f, each, ctx);
    return rc == ALD_STORE_OK ? ald_ok() : ald_store_failed(rc);
}

struct ald_result ald_event_last_id(struct ald_store *st, int64_t *out)
{
    enum ald_store_rc rc;
    *out = 0;
    rc = st->ops->event_last_id(st, out);
    return rc == ALD_STORE_OK ? ald_ok() : ald_store_failed(rc);
}

struct ald_result ald_health(struct ald_store *st, int *schema_version, const char **backend)
{
    *schema_version = 0;
    *backend = st->ops->backend;
    if (st->ops->schema_version(st, schema_version) != ALD_STORE_OK)
        return ald_fail(ALD_ERR_UNAVAILABLE, "unavailable", "the database does not answer");
    return ald_ok();
}
