/*
 * products.h - the products and releases services (docs/fleets.md): a product is a kind of
 * device on one platform; a release is a version of a product's firmware, a set of images.
 */
#ifndef AIRLIFTD_PRODUCTS_H
#define AIRLIFTD_PRODUCTS_H

#include <stddef.h>
#include <stdint.h>

#include "result.h"
#include "store.h"

/* Is name a valid product name (alc_name_valid)? Errors: BAD_REQUEST, naming the rule. */
struct ald_result ald_product_name_check(const char *name);

/*
 * Create product `name` (alc_name_valid) for `platform`; *out is the new product and a
 * product.created event is recorded. Errors: BAD_REQUEST (name), EXISTS, INTERNAL.
 */
struct ald_result ald_product_create(struct ald_store *st, const char *name, uint16_t platform,
                                     struct ald_product_rec *out);

/* Call each(ctx, product) for every product. Errors: INTERNAL. */
struct ald_result ald_product_list(struct ald_store *st, ald_product_cb each, void *ctx);

/* Product `name` into *out. Errors: NOT_FOUND, INTERNAL. */
struct ald_result ald_product_get(struct ald_store *st, const char *name,
                                  struct ald_product_rec *out);

/* What a new release is made of. */
struct ald_release_spec {
    const char *version;        /* a semantic version */
    const char *channel;        /* a name; NULL: "stable" */
    const char *notes;          /* NULL: "" */
    const char *const *images;  /* nimages image ids (or payload hashes one held image has,
                                 * images.h); a NULL entry is not a hash. The release keeps
                                 * the ids. */
    size_t nimages;
};

/*
 * Create a release of product p from spec: the version must be a semantic version, the
 * channel a name, and each image (1..ALD_PLAN_MAX_STEPS of them) held by the server and
 * built for the product's platform. *out is the new release, and a release.created event
 * is recorded. Errors: BAD_REQUEST, UNPROCESSABLE "unknown_image" or "wrong_platform"
 * (naming the image by its index), EXISTS (the product has that version), INTERNAL.
 */
struct ald_result ald_release_create(struct ald_store *st, const struct ald_product_rec *p,
                                     const struct ald_release_spec *spec,
                                     struct ald_release_rec *out);

/* Call each(ctx, release) for every release of product p. Errors: INTERNAL. */
struct ald_result ald_release_list(struct ald_store *st, const struct ald_product_rec *p,
                                   ald_release_cb each, void *ctx);

/* The NOT_FOUND for a release `version` product p does not have: "product 'P' has no
 * release V", with "; did you mean W?" when one of its releases is close (alc_suggest). */
struct ald_result ald_release_missing(struct ald_store *st, const struct ald_product_rec *p,
                                      const char *version);

/* Release `version` of product p into *out. Errors: NOT_FOUND (ald_release_missing),
 * INTERNAL. */
struct ald_result ald_release_get(struct ald_store *st, const struct ald_product_rec *p,
                                  const char *version, struct ald_release_rec *out);

#endif
