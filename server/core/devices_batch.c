/*
 * devices_batch.c - creating devices, one or a batch, each batch in one transaction
 * (devices.h, ald_device_create_batch; docs/api.md, "POST /v1/devices").
 *
 * Everything that can be checked before writing is checked first (names, distinct names,
 * products and their platform, groups, channels), so a refused batch names the first wrong
 * entry. The writes (device row, fleet fields, device.created event per device) then run in
 * one transaction: a batch is created whole or not at all, and costs one commit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices.h"
#include "log.h"
#include "util.h"
#include "airlift_common/hex.h"
#include "airlift_common/name.h"

#define IDENTITY_RANDOM_BYTES 8
#define PRODUCTS_CACHED 8 /* distinct products one batch names, looked up once each */

struct batch {
    const struct ald_device_new *items;
    struct ald_device_rec *out;
    size_t n;
    size_t failed;   /* the entry that stopped the transaction */
    bool name_taken; /* ...because its name is taken */
    char key_holder[ALD_NAME_MAX + 32]; /* issue 14 (creds): ...because this device has its key */
};

/* A fresh random identity and PSK into d. */
static bool fresh_secrets(struct ald_device_rec *d)
{
    uint8_t rnd[IDENTITY_RANDOM_BYTES];
    if (!ald_random(rnd, sizeof rnd) || !ald_random(d->psk, ALD_DEVICE_PSK_BYTES))
        return false;
    memcpy(d->identity, "airlift-", 8);
    alc_hex_encode(rnd, sizeof rnd, d->identity + 8);
    return true;
}

static enum ald_store_rc create_tx(struct ald_store *tx, void *ctx)
{
    struct batch *b = ctx;
    b->name_taken = false;
    for (size_t i = 0; i < b->n; i++) {
        struct ald_device_rec *d = &b->out[i];
        const struct ald_device_new *it = &b->items[i];
        struct ald_device_rec *other = malloc(sizeof *other);
        char data[ALD_GROUPS_JSON_MAX + 3 * ALD_NAME_MAX + 96];
        enum ald_store_rc rc;
        b->failed = i;
        /* The name first (on PostgreSQL a failed insert would end the transaction). */
        rc = other ? tx->ops->device_get(tx, d->name, other) : ALD_STORE_ERROR;
        free(other);
        if (rc == ALD_STORE_OK) {
            b->name_taken = true;
            return ALD_STORE_EXISTS;
        }
        if (rc != ALD_STORE_NOT_FOUND)
            return rc;
        if (strcmp(d->credential, "psk")) { /* issue 14 (creds): one device per key, ever */
            other = malloc(sizeof *other);
            rc = other ? tx->ops->device_by_identity(tx, d->identity, other) : ALD_STORE_ERROR;
            if (rc == ALD_STORE_OK && other->removed_at) /* a tombstone: no name of its own */
                snprintf(b->key_holder, sizeof b->key_holder, "removed device #%lld",
                         (long long)other->id);
            else if (rc == ALD_STORE_OK)
                snprintf(b->key_holder, sizeof b->key_holder, "device '%s'", other->name);
            free(other);
            if (rc == ALD_STORE_OK)
                return ALD_STORE_EXISTS;
            if (rc != ALD_STORE_NOT_FOUND)
                return rc;
        } else if (!fresh_secrets(d)) {
            return ALD_STORE_ERROR;
        }
        rc = tx->ops->device_create(tx, d);
        if (rc == ALD_STORE_EXISTS) /* a random identity taken (never seen), or the name just */
            return ALD_STORE_RETRY; /* now by another request: run the batch again */
        if (rc != ALD_STORE_OK)
            return rc;
        if ((it->ngroups || it->channel) && (rc = tx->ops->device_set_fleet(tx, d)) != ALD_STORE_OK)
            return rc;
        snprintf(data, sizeof data,
                 "{\"platform\":%u,\"dev\":%s,\"product\":%s%s%s,\"groups\":%s,"
                 "\"channel\":\"%s\"}",
                 (unsigned)d->platform, d->dev ? "true" : "false", it->product ? "\"" : "",
                 it->product ? it->product : "null", it->product ? "\"" : "", d->groups_json,
                 d->channel);
        if ((rc = ald_event_emit(tx, "device.created", d->name, 0, data)) != ALD_STORE_OK)
            return rc;
    }
    return ALD_STORE_OK;
}

/* Check entry i and fill out (all but the secrets). products: the batch's lookups so far. */
static struct ald_result prepare(struct ald_store *st, const struct ald_device_new *it, size_t i,
                                 size_t n, struct ald_product_rec *products, size_t *nproducts,
                                 struct ald_device_rec *out)
{
    char at[ALD_NAME_MAX + 32] = "";
    if (n > 1)
        snprintf(at, sizeof at, "devices[%zu]: ", i);
    if (!it->name || !alc_name_valid(it->name))
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                        "%sdevice name must be 1..64 of [A-Za-z0-9._-], starting with a letter "
                        "or digit", at);
    memset(out, 0, sizeof *out);
    memcpy(out->name, it->name, strlen(it->name) + 1);
    out->platform = it->platform;
    out->dev = it->dev;
    out->psk_len = ALD_DEVICE_PSK_BYTES;
    memcpy(out->credential, "psk", 4);
    if (it->credential && !strcmp(it->credential, "x509")) { /* issue 14 (creds) */
        if (!it->fingerprint || strlen(it->fingerprint) != ALD_SHA256_HEX)
            return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request", "%sno certificate", at);
        out->psk_len = 0;
        memcpy(out->credential, "x509", 5);
        snprintf(out->fingerprint, sizeof out->fingerprint, "%s", it->fingerprint);
        snprintf(out->identity, sizeof out->identity, "%s", it->fingerprint);
        snprintf(out->subject, sizeof out->subject, "%s", it->subject ? it->subject : "");
    } else if (it->credential && !strcmp(it->credential, "rpk")) { /* issue 14 (rpk) */
        if (!it->fingerprint || strlen(it->fingerprint) != ALD_SHA256_HEX)
            return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request", "%sno public key", at);
        out->psk_len = 0;
        memcpy(out->credential, "rpk", 4);
        snprintf(out->fingerprint, sizeof out->fingerprint, "%s", it->fingerprint);
        snprintf(out->identity, sizeof out->identity, "%s", it->fingerprint);
    } else if (it->credential && strcmp(it->credential, "psk")) {
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                        "%scredential kind '%.16s' is not served (psk, x509 or rpk)", at,
                        it->credential);
    }
    memcpy(out->groups_json, "[]", 3);
    memcpy(out->channel, "stable", 7);
    if (it->product) {
        struct ald_product_rec *p = NULL;
        for (size_t k = 0; k < *nproducts && !p; k++)
            if (!strcmp(products[k].name, it->product))
                p = &products[k];
        if (!p) {
            enum ald_store_rc rc;
            if (*nproducts == PRODUCTS_CACHED)
                return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                                "%sa batch may name at most %d products", at, PRODUCTS_CACHED);
            p = &products[*nproducts];
            rc = alc_name_valid(it->product) ? st->ops->product_get(st, it->product, p)
                                             : ALD_STORE_NOT_FOUND;
            if (rc == ALD_STORE_NOT_FOUND)
                return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                                "%sproduct '%.64s' does not exist", at, it->product);
            if (rc != ALD_STORE_OK)
                return ald_store_failed(rc);
            (*nproducts)++;
        }
        if (p->platform != it->platform)
            return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                            "%sproduct '%s' is for platform %u, the device is for %u", at,
                            p->name, (unsigned)p->platform, (unsigned)it->platform);
        out->product_id = p->id;
    }
    if (it->ngroups &&
        !ald_groups_json(it->groups, it->ngroups, out->groups_json, sizeof out->groups_json))
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                        "%s'groups' must be an array of at most %d distinct names", at,
                        ALD_GROUPS_MAX);
    if (it->channel) {
        if (!alc_name_valid(it->channel))
            return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                            "%s'channel' must be a name (stable, beta, rc, or your own)", at);
        snprintf(out->channel, sizeof out->channel, "%s", it->channel);
    }
    return ald_ok();
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The first name given twice in the batch, or NULL. */
static const char *repeated_name(const struct ald_device_new *items, size_t n)
{
    const char **names = malloc(n * sizeof *names), *dup = NULL;
    if (!names)
        return NULL;
    for (size_t i = 0; i < n; i++)
        names[i] = items[i].name;
    qsort(names, n, sizeof *names, by_name);
    for (size_t i = 1; i < n && !dup; i++)
        if (!strcmp(names[i - 1], names[i]))
            dup = names[i];
    free(names);
    return dup;
}

struct ald_result ald_device_create_batch(struct ald_store *st,
                                          const struct ald_device_new *items, size_t n,
                                          const char *by, struct ald_device_rec *out)
{
    struct ald_product_rec products[PRODUCTS_CACHED];
    size_t nproducts = 0;
    struct batch b = {.items = items, .out = out, .n = n};
    struct ald_result res = ald_ok();
    const char *dup;
    enum ald_store_rc rc;
    if (n < 1 || n > ALD_DEVICE_BATCH_MAX)
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                        "a batch holds 1..%d devices, not %zu", ALD_DEVICE_BATCH_MAX, n);
    for (size_t i = 0; i < n && ald_is_ok(&res); i++)
        res = prepare(st, &items[i], i, n, products, &nproducts, &out[i]);
    if (ald_is_ok(&res) && n > 1 && (dup = repeated_name(items, n)))
        res = ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                       "device '%s' is named twice in the batch", dup);
    if (!ald_is_ok(&res))
        goto out;
    rc = ald_store_txn(st, create_tx, &b);
    if (rc == ALD_STORE_EXISTS && b.name_taken)
        res = ald_fail(ALD_ERR_EXISTS, "exists", "device '%s' already exists",
                       items[b.failed].name);
    else if (rc == ALD_STORE_EXISTS && b.key_holder[0]) /* issue 14 (creds) */
        res = ald_fail(ALD_ERR_EXISTS, "exists",
                       "credential: %s has this certificate's key; a key serves one device, "
                       "ever (a removed device's key stays revoked)", b.key_holder);
    else if (rc != ALD_STORE_OK)
        res = ald_store_failed(rc);
    if (ald_is_ok(&res)) {
        char count[24];
        snprintf(count, sizeof count, "%zu", n);
        if (n == 1)
            ald_log(ALD_LOG_INFO, "device created", "device", out[0].name, "identity",
                    out[0].identity, "by", by, NULL);
        else
            ald_log(ALD_LOG_INFO, "devices created", "count", count, "first", out[0].name,
                    "by", by, NULL);
    }
out:
    if (!ald_is_ok(&res))
        for (size_t i = 0; i < n; i++)
            memset(out[i].psk, 0, sizeof out[i].psk);
    return res;
}

struct ald_result ald_device_create(struct ald_store *st, const char *name, uint16_t platform,
                                    bool dev, const char *by, struct ald_device_rec *out)
{
    struct ald_device_new it = {.name = name, .platform = platform, .dev = dev};
    return ald_device_create_batch(st, &it, 1, by, out);
}
