/*
 * airlift_host/flat.h - a firmware file flattened to one contiguous binary: what the ELF and
 * Intel HEX readers (elf.h, ihex.h) produce for `airlift image create`. See
 * docs/image-format.md, "Inputs".
 */
#ifndef AIRLIFT_HOST_FLAT_H
#define AIRLIFT_HOST_FLAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ALH_FLAT_FILL 0xff /* bytes between two segments: erased NOR flash */

struct alh_flat_image {
    uint8_t *data;      /* malloc'ed, size bytes; free with alh_flat_free */
    size_t size;        /* from the lowest loaded address to the end of the highest */
    uint32_t base;      /* address of data[0]: the image's link address */
    uint32_t entry;     /* entry point, if has_entry */
    bool has_entry;
    size_t runs;        /* contiguous pieces the file held (after merging adjacent ones) */
    size_t loaded;      /* bytes the file gave; size - loaded were filled with 0xff */
};

/* One piece of the file's content at an address (64-bit, so that overflow is seen). */
struct alh_flat_run {
    uint64_t addr;
    size_t len;
    const uint8_t *data;
};

/*
 * Lay runs[0..n) (sorted here, in place) into one buffer from the lowest address. Fails with
 * a message naming `what` ("segment", "record") if two runs overlap, a run ends above 4 GiB,
 * or the span from the lowest to the highest byte exceeds max_size (a gap too large to
 * flatten). Returns 0 and fills *out (entry fields untouched), or -1 with err set.
 */
int alh_flat_build(struct alh_flat_run *runs, size_t n, size_t max_size, const char *what,
                   struct alh_flat_image *out, char *err, size_t errlen);

/* Free out->data and zero *out. NULL is fine. */
void alh_flat_free(struct alh_flat_image *out);

#endif
