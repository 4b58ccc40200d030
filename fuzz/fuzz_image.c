/*
 * fuzz_image.c - libFuzzer harness for the image parser and verifier: any bytes must give
 * a defined error, never a crash, an out-of-bounds read or a hang. Also round-trips every
 * header that parses through the encoder.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "airlift/image.h"
#include "al_host_crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct al_key key; /* no key matches: verification stops at the key lookup */
    struct al_keyring ring = {&key, 1};
    struct al_verify_params p = {al_host_crypto(), &ring, 10};
    struct al_image_header h;
    if (al_image_parse_header(data, size, &h) == AL_OK) {
        uint8_t again[AL_IMAGE_MAX_HEADER];
        size_t n = 0;
        if (al_image_encode_header(&h, again, sizeof again, &n) != AL_OK || n != h.header_size ||
            memcmp(again, data, n) != 0)
            abort(); /* a header that parses must encode back to the same bytes */
        char text[AL_VERSION_STR_MAX];
        al_version_format(&h.version, text, sizeof text);
        struct al_version back;
        if (al_version_parse(text, strlen(text), &back) != AL_OK || al_version_compare(&back, &h.version))
            abort();
    }
    (void)al_image_verify_buffer(&p, data, size, &h);
    return 0;
}
