/*
 * flat.c - lay address-tagged runs of bytes into one contiguous binary (see flat.h).
 */
#include "airlift_host/flat.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int run_cmp(const void *a, const void *b)
{
    const struct alh_flat_run *x = a, *y = b;

    return x->addr < y->addr ? -1 : x->addr > y->addr ? 1 : 0;
}

int alh_flat_build(struct alh_flat_run *runs, size_t n, size_t max_size, const char *what,
                   struct alh_flat_image *out, char *err, size_t errlen)
{
    uint64_t lo, hi = 0;
    size_t loaded = 0;
    uint8_t *data;

    if (errlen > 0)
        err[0] = '\0';
    if (n == 0) {
        snprintf(err, errlen, "no %s with any bytes to load", what);
        return -1;
    }
    qsort(runs, n, sizeof(runs[0]), run_cmp);
    lo = runs[0].addr;
    for (size_t i = 0; i < n; i++) {
        uint64_t end = runs[i].addr + runs[i].len;
        if (end > UINT64_C(0x100000000)) {
            snprintf(err, errlen, "a %s at 0x%08" PRIx64 " (%zu bytes) ends above the 32-bit "
                     "address space", what, runs[i].addr, runs[i].len);
            return -1;
        }
        if (i > 0 && runs[i].addr < hi) {
            snprintf(err, errlen, "%ss overlap: 0x%08" PRIx64 "..0x%08" PRIx64 " and 0x%08" PRIx64
                     "..0x%08" PRIx64, what, runs[i - 1].addr,
                     runs[i - 1].addr + runs[i - 1].len, runs[i].addr, end);
            return -1;
        }
        if (end > hi)
            hi = end;
        loaded += runs[i].len;
    }
    if (hi - lo > max_size) {
        snprintf(err, errlen, "cannot flatten: its bytes span 0x%08" PRIx64 "..0x%08" PRIx64
                 " (%" PRIu64 " bytes with the gaps between %ss), over the %zu-byte limit of an "
                 "image; give each region its own image", lo, hi, hi - lo, what, max_size);
        return -1;
    }
    data = malloc((size_t)(hi - lo));
    if (data == NULL) {
        snprintf(err, errlen, "out of memory for %" PRIu64 " bytes", hi - lo);
        return -1;
    }
    memset(data, ALH_FLAT_FILL, (size_t)(hi - lo));
    for (size_t i = 0; i < n; i++)
        memcpy(data + (runs[i].addr - lo), runs[i].data, runs[i].len);
    out->data = data;
    out->size = (size_t)(hi - lo);
    out->base = (uint32_t)lo;
    out->runs = n;
    out->loaded = loaded;
    return 0;
}

void alh_flat_free(struct alh_flat_image *out)
{
    if (out == NULL)
        return;
    free(out->data);
    memset(out, 0, sizeof(*out));
}
