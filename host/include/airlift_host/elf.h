/*
 * airlift_host/elf.h - a small, strict reader of linked ELF32 executables (any vendor's
 * toolchain, either byte order): the loadable segments flattened into one binary at their
 * load (physical) addresses. Format notes in docs/image-format.md, "Inputs: ELF".
 */
#ifndef AIRLIFT_HOST_ELF_H
#define AIRLIFT_HOST_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "airlift_host/flat.h"

#define ALH_ELF_MAX_PHDRS 256 /* more program headers than this is refused */

/* Does buf start with the ELF magic (0x7f 'E' 'L' 'F')? */
bool alh_elf_is(const uint8_t *buf, size_t len);

/*
 * Flatten the ELF file buf (len bytes): every PT_LOAD segment with file bytes, at p_paddr,
 * gaps filled with 0xff, entry from e_entry. Refuses, with a message in err naming what is
 * wrong: not ELF32, not an executable (ET_EXEC), a dynamic or interpreted program, headers or
 * segments outside the file, filesz > memsz, overlapping segments, or a span over max_size.
 * *machine gets e_machine (may be NULL). Returns 0 and fills *out, or -1.
 */
int alh_elf_flatten(const uint8_t *buf, size_t len, size_t max_size, struct alh_flat_image *out,
                    uint16_t *machine, char *err, size_t errlen);

#endif
