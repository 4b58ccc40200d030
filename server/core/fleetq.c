/*
 * fleetq.c - see fleetq.h.
 */
#include "fleetq.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "airlift_common/name.h"
#include "airlift_common/timeparse.h"

struct ald_result ald_fleet_versions(struct ald_store *st, const char *product,
                                     ald_module_version_cb each, void *ctx)
{
    struct ald_product_rec p;
    enum ald_store_rc rc;
    int64_t product_id = 0;
    if (product) {
        if (!alc_name_valid(product))
            return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request", "'product' must be a name");
        rc = st->ops->product_get(st, product, &p);
        if (rc == ALD_STORE_NOT_FOUND)
            return ald_fail(ALD_ERR_NOT_FOUND, "not_found", "product '%s' does not exist",
                            product);
        if (rc != ALD_STORE_OK)
            return ald_store_failed(rc);
        product_id = p.id;
    }
    rc = st->ops->module_versions(st, product_id, each, ctx);
    return rc == ALD_STORE_OK ? ald_ok() : ald_store_failed(rc);
}


struct counting {
    ald_usage_cb each;
    void *ctx;
    size_t n;
};

static int count_row(void *ctx, const struct ald_usage_rec *u)
{
    struct counting *c = ctx;
    c->n++;
    return c->each(c->ctx, u);
}

struct ald_result ald_usage_list(struct ald_store *st, const char *device, const char *month,
                                 ald_usage_cb each, void *ctx)
{
    struct counting c = {each, ctx, 0};
    struct ald_result res;
    enum ald_store_rc rc;
    bool known = true;
    if (device && !alc_name_valid(device))
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request", "'device' must be a device name");
    if (month && !alc_month_valid(month))
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                        "'month' must be a calendar month YYYY-MM, e.g. 2026-11");
    if (device) {
        res = ald_event_device_known(st, device, &known);
        if (!ald_is_ok(&res))
            return res;
    }
    rc = st->ops->usage_list(st, device, month, count_row, &c);
    if (rc != ALD_STORE_OK)
        return ald_store_failed(rc);
    if (!known && c.n == 0)
        return ald_fail(ALD_ERR_NOT_FOUND, "not_found", "device '%s' does not exist", device);
    return ald_ok();
}

static int collect_module(void *ctx, const struct ald_module_rec *m)
{
    return json_array_append_new(ctx, json_pack("{s:s, s:i, s:s}", "function", m->function,
                                                "index", m->index, "version", m->version));
}

json_t *ald_device_modules_json(struct ald_store *st, int64_t device_id)
{
    json_t *arr = json_array();
    if (arr && st->ops->device_modules(st, device_id, collect_module, arr) != ALD_STORE_OK) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

/* ---- issue 11 (checkin): the modules of a page of devices, in one query per 1000 ---- */

struct page_slot {
    int64_t id;
    size_t at; /* its index in the caller's ids */
};

struct page_fill {
    const struct page_slot *slots; /* by id */
    size_t n;
    json_t **out;
};

static int slot_cmp(const void *a, const void *b)
{
    int64_t x = ((const struct page_slot *)a)->id, y = ((const struct page_slot *)b)->id;
    return x < y ? -1 : x > y;
}

static int fill_module(void *ctx, const struct ald_module_rec *m)
{
    const struct page_fill *f = ctx;
    struct page_slot key = {m->device_id, 0};
    const struct page_slot *s = bsearch(&key, f->slots, f->n, sizeof key, slot_cmp);
    /* Every slot of that id (a page names a device once; a caller may repeat it). */
    while (s && s > f->slots && s[-1].id == m->device_id)
        s--;
    for (; s && s < f->slots + f->n && s->id == m->device_id; s++)
        if (collect_module(f->out[s->at], m) != 0)
            return 1;
    return 0;
}

bool ald_device_modules_page(struct ald_store *st, const int64_t *ids, size_t n, json_t **out)
{
    struct page_slot *slots = malloc((n ? n : 1) * sizeof *slots);
    bool ok = slots != NULL;
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    for (size_t i = 0; ok && i < n; i++) {
        slots[i].id = ids[i];
        slots[i].at = i;
        ok = (out[i] = json_array()) != NULL;
    }
    for (size_t from = 0; ok && from < n; from += ALD_MODULES_MANY_MAX) {
        size_t k = n - from < ALD_MODULES_MANY_MAX ? n - from : ALD_MODULES_MANY_MAX;
        struct page_fill f = {slots + from, k, out};
        qsort(slots + from, k, sizeof *slots, slot_cmp);
        ok = st->ops->device_modules_many(st, ids + from, k, fill_module, &f) == ALD_STORE_OK;
    }
    for (size_t i = 0; !ok && i < n; i++) {
        json_decref(out[i]);
        out[i] = NULL;
    }
    free(slots);
    return ok;
}
