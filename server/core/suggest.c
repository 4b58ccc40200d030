/*
 * suggest.c - see suggest.h.
 */
#include "suggest.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "airlift_common/name.h"
#include "airlift_common/suggest.h"

bool ald_missing_parse(const char *msg, char kind[ALD_SUGGEST_KIND_MAX + 1],
                       char name[ALD_NAME_MAX + 1])
{
    static const char *const kinds[] = {"device", "product", "group", "channel"};
    static const char tail[] = "' does not exist";
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        size_t k = strlen(kinds[i]);
        const char *start, *end;
        if (strncmp(msg, kinds[i], k) || strncmp(msg + k, " '", 2))
            continue;
        start = msg + k + 2;
        end = strchr(start, '\'');
        if (!end || (size_t)(end - start) > ALD_NAME_MAX || strncmp(end, tail, sizeof tail - 1))
            return false;
        memcpy(name, start, (size_t)(end - start));
        name[end - start] = '\0';
        snprintf(kind, ALD_SUGGEST_KIND_MAX + 1, "%s", kinds[i]);
        return alc_name_valid(name);
    }
    return false;
}

struct search {
    struct alc_suggest s;
    const char *kind;
    char best[ALD_NAME_MAX + 1];
};

/* Offer one candidate, keeping a copy of the best (the store's rows do not outlive the
 * callback). */
static void offer(struct search *x, const char *candidate)
{
    const char *before = x->s.best;
    alc_suggest_offer(&x->s, candidate);
    if (x->s.best != before && x->s.best == candidate) {
        snprintf(x->best, sizeof x->best, "%s", candidate);
        x->s.best = x->best;
    }
}

static int offer_device(void *ctx, const struct ald_device_summary *d)
{
    struct search *x = ctx;
    if (!strcmp(x->kind, "device")) {
        offer(x, d->name);
    } else if (!strcmp(x->kind, "channel")) {
        offer(x, d->channel[0] ? d->channel : "stable");
    } else {
        json_t *groups = json_loads(d->groups_json, 0, NULL), *g;
        size_t i;
        json_array_foreach(groups, i, g)
            offer(x, json_string_value(g));
        json_decref(groups);
    }
    return 0;
}

static int offer_product(void *ctx, const struct ald_product_rec *p)
{
    offer(ctx, p->name);
    return 0;
}

bool ald_suggest_name(struct ald_store *st, const char *kind, const char *name,
                      char out[ALD_NAME_MAX + 1])
{
    struct search x;
    enum ald_store_rc rc;
    memset(&x, 0, sizeof x);
    x.kind = kind;
    alc_suggest_init(&x.s, name);
    if (!strcmp(kind, "product")) {
        rc = st->ops->product_list(st, offer_product, &x);
    } else {
        struct ald_device_filter f;
        memset(&f, 0, sizeof f);
        f.online = -1;
        f.index = -1;
        rc = st->ops->device_query(st, &f, offer_device, &x);
    }
    if (rc != ALD_STORE_OK || !x.s.best)
        return false;
    snprintf(out, ALD_NAME_MAX + 1, "%s", x.s.best);
    return true;
}

bool ald_suggest_missing(struct ald_store *st, const char *msg, char out[ALD_NAME_MAX + 1])
{
    char kind[ALD_SUGGEST_KIND_MAX + 1], name[ALD_NAME_MAX + 1];
    return st && ald_missing_parse(msg, kind, name) && ald_suggest_name(st, kind, name, out);
}
