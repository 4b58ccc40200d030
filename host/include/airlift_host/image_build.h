/*
 * airlift_host/image_build.h - build and sign image files on the host.
 */
#ifndef AIRLIFT_HOST_IMAGE_BUILD_H
#define AIRLIFT_HOST_IMAGE_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "airlift/image.h"
#include "airlift_host/keys.h"

/*
 * Build a signed image file from a header template and a payload. The template's function,
 * index, platform, version, security_counter, link_address, dep_count and deps are used;
 * format_version, header_size, payload_size, payload_sha256, key_id and signature are filled
 * in. *out is malloc'ed (caller frees), *out_len its size. Returns 0, or -1 with err set.
 */
int alh_image_build(const struct al_image_header *tmpl, const uint8_t *payload, size_t payload_len,
                    const alh_key *key, uint8_t **out, size_t *out_len, char *err, size_t errlen);

#endif
