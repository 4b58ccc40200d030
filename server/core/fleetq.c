/*
 * fleetq.c - see fleetq.h.
 */
#include "fleetq.h"

#include <stdbool.h>
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
