/*
 * rollouts_api.c - the queries of the rollouts service (see rollouts.h); the rollout engine
 * and the operations that change rollouts are in rollouts.c.
 */
#include "rollouts.h"

#include <stdlib.h>
#include <string.h>

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

static int newest_membership(void *ctx, const struct ald_rollout_device_rec *rd)
{
    struct ald_rollout_device_rec *best = ctx;
    if (rd->rollout_id > best->rollout_id)
        *best = *rd;
    return 0;
}

json_t *ald_device_rollout_json(struct ald_store *st, int64_t device_id)
{
    struct ald_rollout_device_filter f = {0, device_id, NULL, -1, 0};
    struct ald_rollout_device_rec rd;
    struct ald_rollout_rec *ro = malloc(sizeof *ro);
    struct ald_release_rec *rel = malloc(sizeof *rel);
    json_t *o = json_null();
    memset(&rd, 0, sizeof rd);
    if (ro && rel && st->ops->rollout_device_query(st, &f, newest_membership, &rd) == ALD_STORE_OK &&
        rd.rollout_id && st->ops->rollout_get(st, rd.rollout_id, ro) == ALD_STORE_OK &&
        st->ops->release_get_id(st, ro->release_id, rel) == ALD_STORE_OK)
        o = json_pack("{s:I, s:s, s:s, s:i, s:o}", "id", (json_int_t)rd.rollout_id, "release",
                      rel->version, "state", rd.state, "wave", rd.wave + 1, "update_id",
                      rd.update_id ? json_integer(rd.update_id) : json_null());
    free(ro);
    free(rel);
    return o ? o : json_null();
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
