/*
 * airlift/image.h - signed module images (format: docs/image-format.md).
 *
 * An image file is: fixed header (128 bytes), dependencies (32 bytes each, at most 8),
 * ECDSA P-256 signature (64 bytes) over everything before it, then the payload. The header
 * carries the payload's SHA-256, so the signature covers the whole image.
 *
 * Parsing is strict and bounded: every field is checked and each way an image can be wrong
 * has its own al_err. Nothing here allocates; the caller owns every buffer.
 */
#ifndef AIRLIFT_IMAGE_H
#define AIRLIFT_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "airlift/error.h"
#include "airlift/port.h"
#include "airlift/version.h"

#define AL_IMAGE_MAGIC_0 'A'
#define AL_IMAGE_MAGIC_1 'L'
#define AL_IMAGE_MAGIC_2 'I'
#define AL_IMAGE_MAGIC_3 'M'
#define AL_IMAGE_FORMAT_VERSION 1
#define AL_IMAGE_FIXED_SIZE 128
#define AL_IMAGE_DEP_SIZE 32
#define AL_IMAGE_MAX_DEPS 8
#define AL_IMAGE_SIG_SIZE AL_P256_SIG_SIZE
#define AL_IMAGE_MAX_HEADER (AL_IMAGE_FIXED_SIZE + AL_IMAGE_MAX_DEPS * AL_IMAGE_DEP_SIZE + AL_IMAGE_SIG_SIZE)
#define AL_IMAGE_MAX_PAYLOAD (16u * 1024u * 1024u) /* bound for any single module */
/* The one maximum size of an image file, header included (16,777,664 bytes): what
 * `airlift image create` makes at most and what airliftd takes as an upload
 * (docs/image-format.md, "Sizes"). */
#define AL_IMAGE_MAX_FILE ((uint32_t)AL_IMAGE_MAX_HEADER + AL_IMAGE_MAX_PAYLOAD)
#define AL_KEY_ID_SIZE 8

/* Module functions (byte 8 of the header). */
enum al_function {
    AL_FN_BOOTLOADER = 1,
    AL_FN_SYSTEM = 2,
    AL_FN_APPLICATION = 3,
    AL_FN_RADIO = 4,
};
#define AL_FN_MAX AL_FN_RADIO
#define AL_INDEX_MAX 15 /* module index 0..15 */

struct al_dependency {
    uint8_t function;
    uint8_t index;
    struct al_version min_version; /* the dependency is met by any version >= this */
};

struct al_image_header {
    uint16_t format_version;
    uint16_t header_size; /* = AL_IMAGE_FIXED_SIZE + dep_count * AL_IMAGE_DEP_SIZE + AL_IMAGE_SIG_SIZE */
    uint8_t function;
    uint8_t index;
    uint16_t platform;
    uint32_t flags; /* none defined in format 1: must be 0 */
    struct al_version version;
    uint32_t security_counter;
    uint32_t link_address;
    uint32_t payload_size;
    uint8_t payload_sha256[AL_SHA256_SIZE];
    uint8_t key_id[AL_KEY_ID_SIZE];
    uint8_t dep_count;
    struct al_dependency deps[AL_IMAGE_MAX_DEPS];
    uint8_t signature[AL_IMAGE_SIG_SIZE];
};

/* A public key the device trusts; id = first 8 bytes of SHA-256 of the 65-byte point. */
struct al_key {
    uint8_t id[AL_KEY_ID_SIZE];
    uint8_t pub[AL_P256_PUBKEY_SIZE];
};

struct al_keyring {
    const struct al_key *keys;
    size_t count;
};

/* What verification needs to know about the device. */
struct al_verify_params {
    const struct al_crypto *crypto;
    const struct al_keyring *keys;
    uint16_t platform; /* the device's platform id */
};

/* Header size implied by a dependency count. */
static inline uint32_t al_image_header_size(uint8_t dep_count)
{
    return AL_IMAGE_FIXED_SIZE + (uint32_t)dep_count * AL_IMAGE_DEP_SIZE + AL_IMAGE_SIG_SIZE;
}

/*
 * Structural parse of a header from buf (len bytes available, which may include payload).
 * Checks magic, format version, header size, function/index, versions, reserved bytes and
 * payload bound; no crypto. Errors: TRUNCATED, BAD_MAGIC, FORMAT_VERSION, HEADER_SIZE,
 * TOO_MANY_DEPS, BAD_FUNCTION, BAD_VERSION, BAD_DEPENDENCY, RESERVED, TOO_LARGE.
 */
al_err al_image_parse_header(const uint8_t *buf, size_t len, struct al_image_header *out);

/*
 * Serialize h (header_size is recomputed from dep_count) into buf. Writes the signature
 * field from h->signature. Returns the size in *written. Used by the host tools and tests.
 */
al_err al_image_encode_header(const struct al_image_header *h, uint8_t *buf, size_t cap,
                              size_t *written);

/* Number of leading header bytes the signature covers (header_size - 64). */
static inline uint32_t al_image_signed_size(const struct al_image_header *h)
{
    return (uint32_t)h->header_size - AL_IMAGE_SIG_SIZE;
}

/*
 * Authenticate a parsed header: find the key (UNKNOWN_KEY), check the ECDSA signature over
 * the first al_image_signed_size() bytes of hdr_bytes (BAD_SIGNATURE), then the platform
 * (WRONG_PLATFORM). hdr_bytes are the raw bytes h was parsed from.
 */
al_err al_image_authenticate(const struct al_verify_params *p, const uint8_t *hdr_bytes,
                             const struct al_image_header *h);

/* Reads len bytes at off of some storage (a file, a flash slot). */
typedef al_err (*al_read_fn)(void *ctx, uint32_t off, void *buf, size_t len);

/*
 * Hash payload_size bytes starting at payload_off through read, in chunks of scratch_len
 * bytes of caller-provided scratch, and compare with h->payload_sha256 (HASH_MISMATCH).
 */
al_err al_image_check_payload(const struct al_crypto *crypto, const struct al_image_header *h,
                              al_read_fn read, void *ctx, uint32_t payload_off,
                              uint8_t *scratch, size_t scratch_len);

/*
 * Verify a whole image file held in memory: parse, exact size (SIZE_MISMATCH), authenticate,
 * payload hash. On success *out holds the header.
 */
al_err al_image_verify_buffer(const struct al_verify_params *p, const uint8_t *img, size_t len,
                              struct al_image_header *out);

/* Does the installed version v of (function, index) satisfy dependency d? */
bool al_dependency_met(const struct al_dependency *d, uint8_t function, uint8_t index,
                       const struct al_version *v);

/* Human name of a module function ("bootloader", "system", ...), or "unknown". */
const char *al_function_name(uint8_t function);

#endif
