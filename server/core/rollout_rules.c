/*
 * rollout_rules.c - which rollout a device belongs to (docs/fleets.md, "One desired release
 * per device"): coverage of a target, pins, live rollouts, wave sizes. Shared by the
 * rollout service (rollouts.c) and the engine (rollout_engine.c); see rollouts_priv.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rollouts_priv.h"

void ald_member_of_summary(const struct ald_device_summary *d, struct ald_member *m)
{
    memset(m, 0, sizeof *m);
    m->id = d->id;
    memcpy(m->name, d->name, sizeof m->name);
    m->product_id = d->product_id;
    m->dev = d->dev;
    memcpy(m->groups_json, d->groups_json, sizeof m->groups_json);
    memcpy(m->channel, d->channel, sizeof m->channel);
    memcpy(m->pinned, d->pinned, sizeof m->pinned);
}

void ald_member_of_device(const struct ald_device_rec *d, struct ald_member *m)
{
    memset(m, 0, sizeof *m);
    m->id = d->id;
    memcpy(m->name, d->name, sizeof m->name);
    m->product_id = d->product_id;
    m->dev = d->dev;
    memcpy(m->groups_json, d->groups_json, sizeof m->groups_json);
    memcpy(m->channel, d->channel, sizeof m->channel);
    memcpy(m->pinned, d->pinned, sizeof m->pinned);
}

/* Channels a rollout reaches: the target's "channels", else the release's channel. */
static bool channel_in(const json_t *target, const struct ald_release_rec *rel, const char *ch)
{
    json_t *chs = json_object_get(target, "channels"), *v;
    size_t i;
    if (!json_array_size(chs))
        return !strcmp(ch, rel->channel);
    json_array_foreach(chs, i, v)
        if (json_is_string(v) && !strcmp(json_string_value(v), ch))
            return true;
    return false;
}

bool ald_rollout_covers(const json_t *target, const struct ald_release_rec *rel,
                        const struct ald_member *m)
{
    json_t *groups = json_object_get(target, "groups"), *mine, *g, *h;
    size_t i, k;
    bool hit = false;
    if (m->product_id != rel->product_id || m->dev || !channel_in(target, rel, m->channel))
        return false;
    if (!json_array_size(groups))
        return true;
    mine = json_loads(m->groups_json, 0, NULL);
    json_array_foreach(groups, i, g)
        json_array_foreach(mine, k, h)
            hit |= json_equal(g, h) != 0;
    json_decref(mine);
    return hit;
}

bool ald_member_pinned_away(const struct ald_member *m, const struct ald_release_rec *rel)
{
    return m->pinned[0] && strcmp(m->pinned, rel->version) != 0;
}

bool ald_rollout_state_live(const char *state)
{
    return !strcmp(state, "running") || !strcmp(state, "paused") || !strcmp(state, "completed");
}

struct collect_live {
    struct ald_rlist l;
    int64_t after_id;
};

static int collect_live(void *ctx, const struct ald_rollout_rec *ro)
{
    struct collect_live *c = ctx;
    if (ro->id <= c->after_id)
        return 1; /* newest first: the rest are older */
    return ald_rollout_state_live(ro->state) ? ald_rlist_append(&c->l, ro) : 0;
}

bool ald_lives_load(struct ald_store *st, int64_t product_id, int64_t after_id,
                    struct ald_lives *out)
{
    struct collect_live c = {{NULL, 0, 0, sizeof(struct ald_rollout_rec)}, after_id};
    out->items = NULL;
    out->n = 0;
    if (st->ops->rollout_list_product(st, product_id, collect_live, &c) != ALD_STORE_OK) {
        free(c.l.items);
        return false;
    }
    if (c.l.n && !(out->items = calloc(c.l.n, sizeof *out->items))) {
        free(c.l.items);
        return false;
    }
    for (size_t i = 0; i < c.l.n; i++) {
        struct ald_live *v = &out->items[out->n];
        v->ro = ((struct ald_rollout_rec *)c.l.items)[i];
        if (st->ops->release_get_id(st, v->ro.release_id, &v->rel) != ALD_STORE_OK)
            continue; /* its release is gone: it covers nobody */
        if (!(v->target = json_loads(v->ro.target_json, 0, NULL)))
            v->target = json_object();
        out->n++;
    }
    free(c.l.items);
    return true;
}

void ald_lives_free(struct ald_lives *l)
{
    for (size_t i = 0; i < l->n; i++)
        json_decref(l->items[i].target);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

const struct ald_live *ald_lives_covering(const struct ald_lives *l, const struct ald_member *m)
{
    for (size_t i = 0; i < l->n; i++)
        if (ald_rollout_covers(l->items[i].target, &l->items[i].rel, m))
            return &l->items[i];
    return NULL;
}

size_t ald_wave_sizes(const char *waves_json, size_t n, size_t *sizes)
{
    json_t *waves = json_loads(waves_json, 0, NULL), *w;
    size_t i, count = 0, left = n;
    json_array_foreach(waves, i, w) {
        json_int_t c = json_integer_value(json_object_get(w, "count"));
        json_int_t p = json_integer_value(json_object_get(w, "percent"));
        size_t want = c > 0 ? (size_t)c : (size_t)((n * (size_t)p + 99) / 100);
        if (want == 0)
            want = 1;
        sizes[count++] = want < left ? want : left;
        left -= sizes[count - 1];
        if (count == ALD_ROLLOUT_MAX_WAVES)
            break;
    }
    if (count)
        sizes[count - 1] += left;
    json_decref(waves);
    return count;
}
