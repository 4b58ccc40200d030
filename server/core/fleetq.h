/*
 * fleetq.h - what a fleet owner asks first (docs/api.md, "Fleet questions"): which versions
 * the fleet runs (GET /v1/fleet/versions) and how many bytes each device used on the air,
 * per calendar month (GET /v1/usage).
 */
#ifndef AIRLIFTD_FLEETQ_H
#define AIRLIFTD_FLEETQ_H

#include <jansson.h>

#include "result.h"
#include "store.h"

/*
 * each(ctx, function, index, version, devices) for every module version the devices run
 * (their last inventories), of product `product` (a name; NULL: every device), by function,
 * index and version precedence. The store is locked meanwhile: each must not call it.
 * Errors: BAD_REQUEST (not a name), NOT_FOUND "product 'x' does not exist", INTERNAL.
 */
struct ald_result ald_fleet_versions(struct ald_store *st, const char *product,
                                     ald_module_version_cb each, void *ctx);

/*
 * each(ctx, row) for the usage rows of device `device` (a name; NULL: all devices, deleted
 * ones too) in month `month` ("YYYY-MM"; NULL: every month), by month and device name.
 * Errors: BAD_REQUEST (a device that is not a name, a month not "YYYY-MM" of 1970..9999),
 * NOT_FOUND "device 'x' does not exist" (never existed: no device, no events, no usage),
 * INTERNAL.
 */
struct ald_result ald_usage_list(struct ald_store *st, const char *device, const char *month,
                                 ald_usage_cb each, void *ctx);

/*
 * The modules of a device's last inventory (device id), compact, for the device listing:
 * [{"function": "system", "index": 1, "version": "0.7.0"}, ...] by function and index ([]
 * before its first report). NULL if the store fails or out of memory.
 */
json_t *ald_device_modules_json(struct ald_store *st, int64_t device_id);

/*
 * issue 11 (checkin): ald_device_modules_json for each device of a page at once: out[i] (a
 * new reference) for ids[i], in one store query per ALD_MODULES_MANY_MAX devices. False
 * (every out[i] NULL) if the store fails or out of memory.
 */
bool ald_device_modules_page(struct ald_store *st, const int64_t *ids, size_t n, json_t **out);

#endif
