/*
 * gauges.c - see gauges.h.
 */
#include "gauges.h"

#include <stdio.h>
#include <string.h>

#include "updates.h"

struct state_list {
    struct ald_state_count *rows;
    size_t *n;
};

static int add_state(void *ctx, const char *state, uint64_t n)
{
    struct state_list *l = ctx;
    if (*l->n >= ALD_GAUGE_STATES)
        return 1; /* more states than any table has: keep the first ones */
    snprintf(l->rows[*l->n].state, sizeof l->rows[*l->n].state, "%s", state);
    l->rows[(*l->n)++].n = n;
    return 0;
}

struct ald_result ald_gauges_read(struct ald_store *st, int64_t now_ms, struct ald_gauges *out)
{
    struct ald_device_filter f;
    struct state_list updates, rollouts;
    memset(out, 0, sizeof *out);
    memset(&f, 0, sizeof f);
    f.online = -1;
    f.index = -1;
    updates.rows = out->updates;
    updates.n = &out->update_states;
    rollouts.rows = out->rollouts;
    rollouts.n = &out->rollout_states;
    if (st->ops->device_count(st, &f, &out->devices) != ALD_STORE_OK)
        goto fail;
    f.online = 1;
    f.online_since = now_ms - ALD_ONLINE_WINDOW_MS;
    if (st->ops->device_count(st, &f, &out->devices_online) != ALD_STORE_OK ||
        st->ops->state_counts(st, false, add_state, &updates) != ALD_STORE_OK ||
        st->ops->state_counts(st, true, add_state, &rollouts) != ALD_STORE_OK)
        goto fail;
    return ald_ok();
fail:
    memset(out, 0, sizeof *out);
    return ald_fail(ALD_ERR_UNAVAILABLE, "unavailable", "the database does not answer");
}
