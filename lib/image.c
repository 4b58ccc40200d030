/*
 * image.c - parse, encode and verify airlift images (docs/image-format.md).
 * Strict and bounded: every byte of the header is checked; nothing is trusted before the
 * signature verifies, and the signature is checked before the platform, so a tampered field
 * reads as a bad signature while a genuine image for another board says so.
 */
#include <stdbool.h>
#include <string.h>

#include "airlift/image.h"
#include "bytes.h"

/* Offsets of the fixed header. */
enum {
    OFF_MAGIC = 0,
    OFF_FORMAT = 4,
    OFF_HEADER_SIZE = 6,
    OFF_FUNCTION = 8,
    OFF_INDEX = 9,
    OFF_PLATFORM = 10,
    OFF_FLAGS = 12,
    OFF_VERSION = 16,
    OFF_COUNTER = 44,
    OFF_LINK = 48,
    OFF_PAYLOAD_SIZE = 52,
    OFF_SHA = 56,
    OFF_KEY_ID = 88,
    OFF_DEP_COUNT = 96,
    OFF_RESERVED = 97,
};
/* Offsets inside a dependency entry. */
enum { DEP_FUNCTION = 0, DEP_INDEX = 1, DEP_RESERVED = 2, DEP_VERSION = 4 };

_Static_assert(OFF_VERSION + AL_VERSION_WIRE_SIZE == OFF_COUNTER, "version field size");
_Static_assert(DEP_VERSION + AL_VERSION_WIRE_SIZE == AL_IMAGE_DEP_SIZE, "dependency size");

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static bool valid_module(uint8_t function, uint8_t index)
{
    return function >= AL_FN_BOOTLOADER && function <= AL_FN_MAX && index <= AL_INDEX_MAX;
}

al_err al_image_parse_header(const uint8_t *buf, size_t len, struct al_image_header *out)
{
    struct al_image_header h;
    if (buf == NULL || out == NULL)
        return AL_ERR_INVALID_ARG;
    if (len < 8)
        return AL_ERR_TRUNCATED;
    if (buf[0] != AL_IMAGE_MAGIC_0 || buf[1] != AL_IMAGE_MAGIC_1 || buf[2] != AL_IMAGE_MAGIC_2 ||
        buf[3] != AL_IMAGE_MAGIC_3)
        return AL_ERR_BAD_MAGIC;
    memset(&h, 0, sizeof h);
    h.format_version = al_get16(buf + OFF_FORMAT);
    if (h.format_version != AL_IMAGE_FORMAT_VERSION)
        return AL_ERR_FORMAT_VERSION;
    if (len < AL_IMAGE_FIXED_SIZE)
        return AL_ERR_TRUNCATED;
    h.dep_count = buf[OFF_DEP_COUNT];
    if (h.dep_count > AL_IMAGE_MAX_DEPS)
        return AL_ERR_TOO_MANY_DEPS;
    h.header_size = al_get16(buf + OFF_HEADER_SIZE);
    if (h.header_size != al_image_header_size(h.dep_count))
        return AL_ERR_HEADER_SIZE;
    if (len < h.header_size)
        return AL_ERR_TRUNCATED;
    h.flags = al_get32(buf + OFF_FLAGS);
    if (h.flags != 0 || !all_zero(buf + OFF_RESERVED, AL_IMAGE_FIXED_SIZE - OFF_RESERVED))
        return AL_ERR_RESERVED;
    h.function = buf[OFF_FUNCTION];
    h.index = buf[OFF_INDEX];
    if (!valid_module(h.function, h.index))
        return AL_ERR_BAD_FUNCTION;
    h.platform = al_get16(buf + OFF_PLATFORM);
    if (al_version_decode(buf + OFF_VERSION, &h.version) != AL_OK)
        return AL_ERR_BAD_VERSION;
    for (uint8_t i = 0; i < h.dep_count; i++) {
        const uint8_t *d = buf + AL_IMAGE_FIXED_SIZE + (size_t)i * AL_IMAGE_DEP_SIZE;
        struct al_dependency *dep = &h.deps[i];
        dep->function = d[DEP_FUNCTION];
        dep->index = d[DEP_INDEX];
        if (!valid_module(dep->function, dep->index) || al_get16(d + DEP_RESERVED) != 0 ||
            al_version_decode(d + DEP_VERSION, &dep->min_version) != AL_OK)
            return AL_ERR_BAD_DEPENDENCY;
    }
    h.security_counter = al_get32(buf + OFF_COUNTER);
    h.link_address = al_get32(buf + OFF_LINK);
    h.payload_size = al_get32(buf + OFF_PAYLOAD_SIZE);
    if (h.payload_size == 0)
        return AL_ERR_SIZE_MISMATCH;
    if (h.payload_size > AL_IMAGE_MAX_PAYLOAD)
        return AL_ERR_TOO_LARGE;
    memcpy(h.payload_sha256, buf + OFF_SHA, AL_SHA256_SIZE);
    memcpy(h.key_id, buf + OFF_KEY_ID, AL_KEY_ID_SIZE);
    memcpy(h.signature, buf + al_image_signed_size(&h), AL_IMAGE_SIG_SIZE);
    *out = h;
    return AL_OK;
}

al_err al_image_encode_header(const struct al_image_header *h, uint8_t *buf, size_t cap,
                              size_t *written)
{
    if (h == NULL || buf == NULL || written == NULL)
        return AL_ERR_INVALID_ARG;
    if (h->dep_count > AL_IMAGE_MAX_DEPS)
        return AL_ERR_TOO_MANY_DEPS;
    if (!valid_module(h->function, h->index))
        return AL_ERR_BAD_FUNCTION;
    uint32_t size = al_image_header_size(h->dep_count);
    if (cap < size)
        return AL_ERR_BUFFER_TOO_SMALL;
    memset(buf, 0, size);
    buf[0] = AL_IMAGE_MAGIC_0;
    buf[1] = AL_IMAGE_MAGIC_1;
    buf[2] = AL_IMAGE_MAGIC_2;
    buf[3] = AL_IMAGE_MAGIC_3;
    al_put16(buf + OFF_FORMAT, AL_IMAGE_FORMAT_VERSION);
    al_put16(buf + OFF_HEADER_SIZE, (uint16_t)size);
    buf[OFF_FUNCTION] = h->function;
    buf[OFF_INDEX] = h->index;
    al_put16(buf + OFF_PLATFORM, h->platform);
    al_put32(buf + OFF_FLAGS, h->flags);
    al_version_encode(&h->version, buf + OFF_VERSION);
    al_put32(buf + OFF_COUNTER, h->security_counter);
    al_put32(buf + OFF_LINK, h->link_address);
    al_put32(buf + OFF_PAYLOAD_SIZE, h->payload_size);
    memcpy(buf + OFF_SHA, h->payload_sha256, AL_SHA256_SIZE);
    memcpy(buf + OFF_KEY_ID, h->key_id, AL_KEY_ID_SIZE);
    buf[OFF_DEP_COUNT] = h->dep_count;
    for (uint8_t i = 0; i < h->dep_count; i++) {
        uint8_t *d = buf + AL_IMAGE_FIXED_SIZE + (size_t)i * AL_IMAGE_DEP_SIZE;
        d[DEP_FUNCTION] = h->deps[i].function;
        d[DEP_INDEX] = h->deps[i].index;
        al_version_encode(&h->deps[i].min_version, d + DEP_VERSION);
    }
    memcpy(buf + size - AL_IMAGE_SIG_SIZE, h->signature, AL_IMAGE_SIG_SIZE);
    *written = size;
    return AL_OK;
}

static const struct al_key *find_key(const struct al_keyring *ring, const uint8_t id[AL_KEY_ID_SIZE])
{
    for (size_t i = 0; ring && i < ring->count; i++)
        if (memcmp(ring->keys[i].id, id, AL_KEY_ID_SIZE) == 0)
            return &ring->keys[i];
    return NULL;
}

al_err al_image_authenticate(const struct al_verify_params *p, const uint8_t *hdr_bytes,
                             const struct al_image_header *h)
{
    union al_sha256_state st;
    uint8_t digest[AL_SHA256_SIZE];
    const struct al_key *key = find_key(p->keys, h->key_id);
    if (key == NULL)
        return AL_ERR_UNKNOWN_KEY;
    if (p->crypto->sha256_ctx_size > sizeof st)
        return AL_ERR_INVALID_ARG;
    p->crypto->sha256_init(&st);
    p->crypto->sha256_update(&st, hdr_bytes, al_image_signed_size(h));
    p->crypto->sha256_final(&st, digest);
    if (p->crypto->ecdsa_p256_verify(key->pub, digest, h->signature) != AL_OK)
        return AL_ERR_BAD_SIGNATURE;
    if (h->platform != p->platform)
        return AL_ERR_WRONG_PLATFORM;
    return AL_OK;
}

al_err al_image_check_payload(const struct al_crypto *crypto, const struct al_image_header *h,
                              al_read_fn read, void *ctx, uint32_t payload_off,
                              uint8_t *scratch, size_t scratch_len)
{
    union al_sha256_state st;
    uint8_t digest[AL_SHA256_SIZE];
    if (scratch == NULL || scratch_len == 0 || crypto->sha256_ctx_size > sizeof st)
        return AL_ERR_INVALID_ARG;
    crypto->sha256_init(&st);
    for (uint32_t done = 0; done < h->payload_size;) {
        size_t n = h->payload_size - done < scratch_len ? h->payload_size - done : scratch_len;
        al_err err = read(ctx, payload_off + done, scratch, n);
        if (err != AL_OK)
            return err;
        crypto->sha256_update(&st, scratch, n);
        done += (uint32_t)n;
    }
    crypto->sha256_final(&st, digest);
    return memcmp(digest, h->payload_sha256, AL_SHA256_SIZE) == 0 ? AL_OK : AL_ERR_HASH_MISMATCH;
}

al_err al_image_verify_buffer(const struct al_verify_params *p, const uint8_t *img, size_t len,
                              struct al_image_header *out)
{
    struct al_image_header h;
    al_err err = al_image_parse_header(img, len, &h);
    if (err != AL_OK)
        return err;
    if ((uint64_t)h.header_size + h.payload_size != len)
        return AL_ERR_SIZE_MISMATCH;
    err = al_image_authenticate(p, img, &h);
    if (err != AL_OK)
        return err;
    /* The payload is in memory: hash it in one pass, no scratch copy needed. */
    union al_sha256_state st;
    uint8_t digest[AL_SHA256_SIZE];
    if (p->crypto->sha256_ctx_size > sizeof st)
        return AL_ERR_INVALID_ARG;
    p->crypto->sha256_init(&st);
    p->crypto->sha256_update(&st, img + h.header_size, h.payload_size);
    p->crypto->sha256_final(&st, digest);
    if (memcmp(digest, h.payload_sha256, AL_SHA256_SIZE) != 0)
        return AL_ERR_HASH_MISMATCH;
    if (out)
        *out = h;
    return AL_OK;
}

bool al_dependency_met(const struct al_dependency *d, uint8_t function, uint8_t index,
                       const struct al_version *v)
{
    if (d->function != function)
        return false;
    if (function != AL_FN_BOOTLOADER && d->index != index)
        return false;
    return al_version_compare(v, &d->min_version) >= 0;
}

const char *al_function_name(uint8_t function)
{
    switch (function) {
    case AL_FN_BOOTLOADER: return "bootloader";
    case AL_FN_SYSTEM: return "system";
    case AL_FN_APPLICATION: return "application";
    case AL_FN_RADIO: return "radio";
    default: return "unknown";
    }
}
