/*
 * rollouts_api.c - the queries of the rollouts service (see rollouts.h); the rollout engine
 * and the operations that change rollouts are in rollouts.c.
 */
#include "rollouts.h"

struct ald_result ald_rollout_get(struct ald_store *st, int64_t id, struct ald_rollout_rec *out)
{
    enum ald_store_rc rc = st->ops->rollout_get(st, id, out);
    if (rc == ALD_STORE_NOT_FOUND)
        return ald_fail(ALD_ERR_NOT_FOUND, "not_found", "rollout '%lld' does not exist",
                        (long long)id);
    return rc == ALD_STORE_OK ? ald_ok() : ald_store_failed(rc);
}

struct rollout_ids {
    int64_t *ids;
    size_t n;
};

static int collect_rollout_id(void *ctx, const struct ald_rollout_rec *ro)
{
    struct rollout_ids *l = ctx;
    if (l->n < ALD_ROLLOUT_LIST_MAX)
        l->ids[l->n++] = ro->id;
    return 0;
}

struct ald_result ald_rollout_ids(struct ald_store *st, int64_t ids[ALD_ROLLOUT_LIST_MAX],
                                  size_t *n)
{
    struct rollout_ids l = {ids, 0};
    enum ald_store_rc rc = st->ops->rollout_list(st, collect_rollout_id, &l);
    *n = l.n;
    return rc == ALD_STORE_OK ? ald_ok() : ald_store_failed(rc);
}

struct ald_result ald_rollout_devices(struct ald_store *st, int64_t id,
                                      ald_rollout_device_cb each, void *ctx)
{
    struct ald_rollout_rec ro;
    enum ald_store_rc rc = st->ops->rollout_get(st, id, &ro);
    if (rc == ALD_STORE_NOT_FOUND)
        return ald_fail(ALD_ERR_NOT_FOUND, "not_found", "no rollout '%lld'", (long long)id);
    if (rc != ALD_STORE_OK)
        return ald_store_failed(rc);
    rc = st->ops->rollout_device_list(st, id, each, ctx);
    return rc == ALD_STORE_OK ? ald_ok() : ald_store_failed(rc);
}
