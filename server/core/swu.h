/*
 * swu.h - issue 14 item 6 (ddi): SWUpdate's .swu files, the second kind of image airliftd
 * holds (docs/ddi.md). A .swu is a cpio archive in the "new ASCII with CRC" format (magic
 * "070702", `cpio -H crc`) whose first entry is `sw-description`. The server checks the
 * archive's structure and reads the version from sw-description; it does not verify the
 * CMS signature (SWUpdate does, on the device, against the certificate it trusts).
 *
 * A .swu image is held like any other (images.h: id = SHA-256 of the file, blob, row) with
 * platform ALC_PLATFORM_LINUX, payload hash = id, function 0 (the API says "unknown") and
 * kind "swu"; it is only ever sent to devices of platform linux, over DDI (ddi.h), never
 * over CoAP.
 */
#ifndef AIRLIFTD_SWU_H
#define AIRLIFTD_SWU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define ALD_SWU_DESC_MAX 65536 /* the most sw-description may hold */

/* Does (file, len) start like a .swu: the cpio magic "070702" and, as first entry's name,
 * "sw-description"? (A cheap test; ald_swu_describe checks the whole archive.) */
bool ald_swu_is(const uint8_t *file, size_t len);

/* Is rec a .swu image? (platform linux) */
bool ald_swu_image(const struct ald_image_rec *rec);

/*
 * Check a .swu archive and describe it in *rec (id, sha256, platform, version, version_key,
 * sizes; created_at 0). Every entry must have a valid header, fit in the file and the
 * archive must end with its "TRAILER!!!" entry; sw-description must hold a version that is
 * a semantic version ("1.2.0"). false with code (a machine word: "bad_swu",
 * "bad_swu_version") and msg (a sentence) set otherwise.
 */
bool ald_swu_describe(const uint8_t *file, size_t len, struct ald_image_rec *rec, char *code,
                      size_t codelen, char *msg, size_t msglen);

#endif
