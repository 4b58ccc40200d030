/*
 * fuzz_elf.c - libFuzzer harness for the ELF reader (host/elf.c): any bytes give a flat image
 * or an error message, never a crash, an out-of-bounds read or a hang; a flat image is
 * consistent (size within the limit, loaded bytes within size).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "airlift_host/elf.h"

#define FUZZ_FLAT_MAX (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct alh_flat_image out;
    char err[256];
    uint16_t machine;

    if (alh_elf_flatten(data, size, FUZZ_FLAT_MAX, &out, &machine, err, sizeof(err)) == 0) {
        if (out.size == 0 || out.size > FUZZ_FLAT_MAX || out.loaded > out.size ||
            out.data == NULL || !alh_elf_is(data, size))
            abort();
        alh_flat_free(&out);
    } else if (err[0] == '\0' || memchr(err, '\0', sizeof(err)) == NULL) {
        abort(); /* every refusal says why */
    }
    return 0;
}
