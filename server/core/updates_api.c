/*
 * updates_api.c - the queries of the update service (see updates.h); queueing, cancelling
 * and the device side are in updates.c.
 */
#include "updates.h"

#include <stdlib.h>

#include "devices.h"

struct ald_result ald_update_get(struct ald_store *st, int64_t id, struct ald_update_rec *out)
{
    enum ald_store_rc rc = st->ops->update_get(st, id, out);
    if (rc == ALD_STORE_NOT_FOUND)
        return ald_fail(ALD_ERR_NOT_FOUND, "not_found", "update '%lld' does not exist",
                        (long long)id);
    return rc == ALD_STORE_OK ? ald_ok() : ald_store_failed(rc);
}

struct ald_result ald_update_list(struct ald_store *st, const char *name, size_t limit,
                                  ald_update_cb each, void *ctx)
{
    struct ald_device_rec *d = malloc(sizeof *d);
    struct ald_result res = d ? ald_device_get(st, name, d) : ald_store_failed(ALD_STORE_ERROR);
    enum ald_store_rc rc;
    if (ald_is_ok(&res) && (rc = st->ops->update_list(st, d->id, limit, each, ctx)) != ALD_STORE_OK)
        res = ald_store_failed(rc);
    free(d);
    return res;
}

json_t *ald_update_json_live(struct ald_store *st, const struct ald_update_rec *rec)
{
    struct ald_device_rec *d = malloc(sizeof *d);
    /* The device of that name now, if it is the update's (not a new one of a removed
     * device's name). */
    bool have = d && st->ops->device_get(st, rec->device, d) == ALD_STORE_OK &&
                d->id == rec->device_id;
    json_t *o = ald_update_json(rec, have ? d : NULL);
    free(d);
    return o;
}
