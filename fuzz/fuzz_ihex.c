/*
 * fuzz_ihex.c - libFuzzer harness for the Intel HEX reader (host/ihex.c): any bytes give a
 * flat image or an error message, never a crash, an out-of-bounds read or a hang.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "airlift_host/ihex.h"

#define FUZZ_FLAT_MAX (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct alh_flat_image out;
    char err[256];

    if (alh_ihex_flatten(data, size, FUZZ_FLAT_MAX, &out, err, sizeof(err)) == 0) {
        if (out.size > FUZZ_FLAT_MAX || out.loaded > out.size || (out.size > 0 && !out.data))
            abort();
        alh_flat_free(&out);
    } else if (err[0] == '\0' || memchr(err, '\0', sizeof(err)) == NULL) {
        abort();
    }
    return 0;
}
