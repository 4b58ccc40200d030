/*
 * h_fleetq.c - the fleet questions (docs/api.md, "Fleet questions"): GET /v1/fleet/versions,
 * the distribution of the versions the devices run, and GET /v1/usage, the bytes on the air
 * per device and calendar month.
 */
#include <string.h>

#include "fleetq.h"
#include "http_priv.h"
#include "reply.h"

/* Rows of (function, index, version, count) grouped into modules as they stream. */
struct versions {
    json_t *modules;
    json_t *current;      /* the versions array of the module being filled */
    char function[ALD_FUNCTION_NAME_MAX + 1];
    int index;
    bool failed;
};

static int collect_version(void *ctx, const char *function, int index, const char *version,
                           uint64_t count)
{
    struct versions *v = ctx;
    if (!v->current || strcmp(function, v->function) || index != v->index) {
        json_t *m = json_pack("{s:s, s:i, s:I, s:[]}", "function", function, "index", index,
                              "devices", (json_int_t)0, "versions");
        if (!m || json_array_append_new(v->modules, m) != 0) {
            v->failed = true;
            return 1;
        }
        v->current = json_object_get(m, "versions");
        snprintf(v->function, sizeof v->function, "%s", function);
        v->index = index;
    }
    json_t *m = json_array_get(v->modules, json_array_size(v->modules) - 1);
    json_object_set_new(m, "devices", json_integer(json_integer_value(json_object_get(
                                          m, "devices")) + (json_int_t)count));
    if (json_array_append_new(v->current, json_pack("{s:s, s:I}", "version", version,
                                                    "devices", (json_int_t)count)) != 0) {
        v->failed = true;
        return 1;
    }
    return 0;
}

/* GET /v1/fleet/versions[?product=NAME] */
HANDLER(h_fleet_versions)
{
    const char *product = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "product");
    struct versions v = {.modules = json_array()};
    struct ald_result res;
    if (!v.modules)
        return MHD_NO;
    res = ald_fleet_versions(h->store, product, collect_version, &v);
    if (!ald_is_ok(&res)) {
        json_decref(v.modules);
        return reply_result(c, r, &res);
    }
    if (v.failed) {
        json_decref(v.modules);
        return MHD_NO;
    }
    return reply_json(c, r, MHD_HTTP_OK, json_pack("{s:o, s:o}", "product",
                                                   product ? json_string(product) : json_null(),
                                                   "modules", v.modules));
}

static int collect_usage(void *ctx, const struct ald_usage_rec *u)
{
    return json_array_append_new(
        ctx, json_pack("{s:s, s:s, s:I, s:I, s:I}", "device", u->device, "month", u->month,
                       "bytes", (json_int_t)(u->bytes_tx + u->bytes_rx), "bytes_sent",
                       (json_int_t)u->bytes_tx, "bytes_received", (json_int_t)u->bytes_rx));
}

/* GET /v1/usage[?device=NAME][&month=YYYY-MM] */
HANDLER(h_usage_list)
{
    const char *device = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "device");
    const char *month = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "month");
    json_t *rows = json_array(), *row;
    struct ald_result res;
    json_int_t total = 0;
    size_t i;
    if (!rows)
        return MHD_NO;
    res = ald_usage_list(h->store, device, month, collect_usage, rows);
    if (!ald_is_ok(&res)) {
        json_decref(rows);
        return reply_result(c, r, &res);
    }
    json_array_foreach(rows, i, row)
        total += json_integer_value(json_object_get(row, "bytes"));
    return reply_json(c, r, MHD_HTTP_OK, json_pack("{s:o, s:I}", "usage", rows, "bytes", total));
}
