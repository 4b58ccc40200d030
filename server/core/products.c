/*
 * products.c - see products.h (products; releases are in releases.c).
 */
#include "products.h"

#include <stdio.h>
#include <string.h>

#include "util.h"

struct ald_result ald_product_name_check(const char *name)
{
    if (!alc_name_valid(name))
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                        "product name must be 1..64 of [A-Za-z0-9._-], starting with a letter "
                        "or digit");
    return ald_ok();
}

static enum ald_store_rc create_row(struct ald_store *tx, void *ctx)
{
    return tx->ops->product_create(tx, ctx);
}

struct ald_result ald_product_create(struct ald_store *st, const char *name, uint16_t platform,
                                     struct ald_product_rec *out)
{
    struct ald_result res = ald_product_name_check(name);
    enum ald_store_rc rc;
    memset(out, 0, sizeof *out);
    if (!ald_is_ok(&res))
        return res;
    memcpy(out->name, name, strlen(name) + 1);
    out->platform = platform;
    char data[ALD_NAME_MAX + 48];
    snprintf(data, sizeof data, "{\"name\":\"%s\",\"platform\":%u}", out->name,
             (unsigned)out->platform);
    struct ald_event_write w = {create_row, out, "product.created", NULL, 0, 0, data};
    rc = ald_store_write_with_event(st, &w);
    if (rc == ALD_STORE_EXISTS)
        return ald_fail(ALD_ERR_EXISTS, "exists", "product '%s' already exists", name);
    if (rc != ALD_STORE_OK)
        return ald_store_failed(rc);
    return ald_ok();
}

struct ald_result ald_product_list(struct ald_store *st, ald_product_cb each, void *ctx)
{
    enum ald_store_rc rc = st->ops->product_list(st, each, ctx);
    return rc == ALD_STORE_OK ? ald_ok() : ald_store_failed(rc);
}

struct ald_result ald_product_get(struct ald_store *st, const char *name,
                                  struct ald_product_rec *out)
{
    enum ald_store_rc rc = st->ops->product_get(st, name, out);
    if (rc == ALD_STORE_NOT_FOUND)
        return ald_fail(ALD_ERR_NOT_FOUND, "not_found", "product '%s' does not exist", name);
    return rc == ALD_STORE_OK ? ald_ok() : ald_store_failed(rc);
}
