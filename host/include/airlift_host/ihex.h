/*
 * airlift_host/ihex.h - a small, strict Intel HEX reader (I8HEX, I16HEX, I32HEX: record types
 * 00..05) that flattens the data records into one binary. Format notes in
 * docs/image-format.md, "Inputs: Intel HEX".
 */
#ifndef AIRLIFT_HOST_IHEX_H
#define AIRLIFT_HOST_IHEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "airlift_host/flat.h"

#define ALH_IHEX_LINE_MAX 600 /* longest line accepted: ':' + 2 * (5 + 255) + spaces */

/* Does buf look like Intel HEX: ':' and 8 hex digits (a record's count, address, type)? */
bool alh_ihex_is(const uint8_t *buf, size_t len);

/*
 * Flatten the Intel HEX text buf (len bytes). Every line is ':' and hex digit pairs (count,
 * address, type, data, checksum), ended by LF or CR LF; empty lines are allowed, nothing
 * else. Checksums must be right, a record must not cross a 64 KiB boundary, an end-of-file
 * record (01) must come last. The entry comes from a start address record (05, or 03 as
 * CS * 16 + IP). Refuses with a message in err naming the line; returns 0 and fills *out.
 */
int alh_ihex_flatten(const uint8_t *buf, size_t len, size_t max_size, struct alh_flat_image *out,
                     char *err, size_t errlen);

#endif
