/*
 * devices.h - the devices service: creating, listing, reading, changing and deleting the
 * devices of the management API (docs/api.md, "Devices"; fleet fields: docs/fleets.md).
 */
#ifndef AIRLIFTD_DEVICES_H
#define AIRLIFTD_DEVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "result.h"
#include "store.h"

#define ALD_DEVICE_PSK_BYTES 32
#define ALD_GROUPS_MAX 16 /* groups one device may be in */

/* The platform id of a known platform name ("electron"); false if the name is unknown. */
bool ald_platform_by_name(const char *name, uint16_t *out);

/* Is name a valid device name (alc_name_valid)? Errors: BAD_REQUEST, naming the rule. */
struct ald_result ald_device_name_check(const char *name);

#define ALD_DEVICE_BATCH_MAX 1000 /* devices one batch creates at most */

/* A device to create: name (alc_name_valid), platform, dev flag, and optionally its product
 * (by name, for the same platform), groups and channel (NULL: "stable"). */
struct ald_device_new {
    const char *name;
    uint16_t platform;
    bool dev;
    const char *product;
    const char *const *groups;
    size_t ngroups;
    const char *channel;
    /* issue 14 (creds): NULL or "psk": a fresh PSK; "x509": a certificate checked by
     * ald_device_cert_check, whose fingerprint (the device's identity) and subject these are. */
    const char *credential;
    const char *fingerprint;
    const char *subject;
};

/*
 * Create items[0..n) (1..ALD_DEVICE_BATCH_MAX) on behalf of the token named `by`, each with
 * a fresh random identity and PSK and a device.created event, all in one transaction: every
 * device or none. On success out[i] is device i, PSK included (the caller shows it once and
 * wipes it). Errors: BAD_REQUEST naming the first wrong entry ("devices[3]: ...") or a
 * name given twice, EXISTS naming the device whose name is taken (or, issue 14, which holds
 * the certificate's key already, a removed one too), INTERNAL, UNAVAILABLE.
 */
struct ald_result ald_device_create_batch(struct ald_store *st,
                                          const struct ald_device_new *items, size_t n,
                                          const char *by, struct ald_device_rec *out);

/* One device without fleet fields: ald_device_create_batch of one. */
struct ald_result ald_device_create(struct ald_store *st, const char *name, uint16_t platform,
                                    bool dev, const char *by, struct ald_device_rec *out);

/* groups[0..n) as a compact JSON array into out[cap]: false unless they are at most
 * ALD_GROUPS_MAX distinct valid names and fit. */
bool ald_groups_json(const char *const *groups, size_t n, char *out, size_t cap);

/* Call each(ctx, device) for every device in name order (the store is locked meanwhile:
 * each must not call the store). Errors: INTERNAL. */
struct ald_result ald_device_list(struct ald_store *st, ald_device_cb each, void *ctx);

/*
 * The devices of the management API's listing (docs/api.md, "GET /v1/devices"): the filter
 * as the request named it, in name order, without PSKs and inventories. Checks every field
 * (names, the product, a module "FUNCTION:INDEX") and fills f. query: each(ctx, summary);
 * with `count`, *total is how many match in all. Errors: BAD_REQUEST and NOT_FOUND (an
 * unknown product) naming the field, INTERNAL, UNAVAILABLE.
 */
struct ald_device_query {
    const char *product, *group, *channel, *module, *version, *online, *state, *prefix, *after;
    const char *sleeping; /* issue 13: "true" / "false", NULL: any */
    const char *sort;     /* issue 13 (sort): "name" (NULL), "last_seen", ..., "-" prefixed
                           * for descending (ald_device_sort_parse); with another sort
                           * than name, `after` is a cursor (ald_device_cursor) */
    size_t limit; /* 0: all */
    bool count;
};
struct ald_result ald_device_query(struct ald_store *st, const struct ald_device_query *q,
                                   ald_device_summary_cb each, void *ctx, uint64_t *total);

/* issue 13 (sort): parse a `sort=` value: [-]name|last_seen|reported|next_checkin|bytes|state
 * into *sort (enum ald_device_sort) and *desc. False for anything else. */
bool ald_device_sort_parse(const char *s, int *sort, bool *desc);

/* issue 13 (sort): the keyset cursor after device d in `sort` order, as the listing's
 * `next`: the name for ALD_SORT_NAME, else "VALUE~NAME" (VALUE decimal, empty for a device
 * without the value; docs/api.md). Truncated to cap (ALD_DEVICE_CURSOR_MAX is enough). */
#define ALD_DEVICE_CURSOR_MAX (20 + 1 + ALD_NAME_MAX + 1)
void ald_device_cursor(int sort, const struct ald_device_summary *d, char *out, size_t cap);

/* Device `name` into *out. Errors: NOT_FOUND (also for a name that is not valid), INTERNAL. */
struct ald_result ald_device_get(struct ald_store *st, const char *name,
                                 struct ald_device_rec *out);

/* Remove device `name` on behalf of `by`: a tombstone stays (store.h, device_delete), its
 * history too, and a device.deleted event names it by id. It does not look at updates:
 * the API removes through ald_updates_remove_device. Errors: NOT_FOUND, INTERNAL. */
struct ald_result ald_device_delete(struct ald_store *st, const char *name, const char *by);

/*
 * A change of a device's fleet fields (PATCH /v1/devices/{name}). A set_* flag false
 * leaves the field as it is.
 */
struct ald_device_change {
    bool set_product;
    const char *product;         /* a product name; NULL: no product */
    bool set_groups;
    const char *const *groups;   /* ngroups group names */
    size_t ngroups;
    const char *channel;         /* NULL: unchanged */
    bool set_pinned;
    const char *pinned;          /* a release version; NULL: not pinned */
    bool set_dev;
    bool dev;
    bool set_disabled; /* issue 14 (creds): disabled devices' new handshakes are refused */
    bool disabled;
};

/*
 * Apply ch to device `name`: the product must exist and be for the device's platform, the
 * groups at most ALD_GROUPS_MAX distinct names, the channel a name, the pin a version.
 * On success *out is the changed device and a device.changed event is recorded.
 * Errors: NOT_FOUND (device), BAD_REQUEST (names the first wrong field), INTERNAL.
 */
struct ald_result ald_device_change(struct ald_store *st, const char *name,
                                    const struct ald_device_change *ch,
                                    struct ald_device_rec *out);

/* The name of product `id` into out; false (out "") if it does not exist. */
bool ald_product_name(struct ald_store *st, int64_t id, char out[ALD_NAME_MAX + 1]);

#endif
