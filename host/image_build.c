/* image_build.c - build and sign image files on the host. See image_build.h. */
#include "airlift_host/image_build.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

int alh_image_build(const struct al_image_header *tmpl, const uint8_t *payload, size_t payload_len,
                    const alh_key *key, uint8_t **out, size_t *out_len, char *err, size_t errlen)
{
    struct al_image_header h = *tmpl;
    uint8_t pub[AL_P256_PUBKEY_SIZE], digest[AL_SHA256_SIZE];
    size_t header_len;
    uint8_t *buf;
    if (payload_len == 0 || payload_len > AL_IMAGE_MAX_PAYLOAD) {
        snprintf(err, errlen, "payload of %zu bytes: must be 1..%u bytes", payload_len,
                 AL_IMAGE_MAX_PAYLOAD);
        return -1;
    }
    if (alh_key_public_point(key, pub) != 0) {
        snprintf(err, errlen, "cannot read the signing key's public point");
        return -1;
    }
    h.format_version = AL_IMAGE_FORMAT_VERSION;
    h.header_size = (uint16_t)al_image_header_size(h.dep_count);
    h.payload_size = (uint32_t)payload_len;
    SHA256(payload, payload_len, h.payload_sha256);
    alh_key_id(pub, h.key_id);
    memset(h.signature, 0, sizeof h.signature);
    buf = malloc(AL_IMAGE_MAX_HEADER + payload_len);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    al_err e = al_image_encode_header(&h, buf, AL_IMAGE_MAX_HEADER, &header_len);
    if (e != AL_OK) {
        snprintf(err, errlen, "invalid image metadata: %s", al_strerror(e));
        free(buf);
        return -1;
    }
    SHA256(buf, header_len - AL_IMAGE_SIG_SIZE, digest);
    if (alh_sign_digest(key, digest, buf + header_len - AL_IMAGE_SIG_SIZE, err, errlen) != 0) {
        free(buf);
        return -1;
    }
    memcpy(buf + header_len, payload, payload_len);
    *out = buf;
    *out_len = header_len + payload_len;
    return 0;
}
