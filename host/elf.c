/*
 * elf.c - flatten a linked ELF32 executable's loadable segments (see elf.h). Every field is
 * range-checked against the file before it is used; nothing is trusted.
 */
#include "airlift_host/elf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EHDR_SIZE 52
#define PHDR_SIZE 32
#define ET_REL 1
#define ET_EXEC 2
#define ET_DYN 3
#define PT_LOAD 1
#define PT_DYNAMIC 2
#define PT_INTERP 3

struct reader {
    const uint8_t *buf;
    bool big_endian;
};

static uint16_t rd16(const struct reader *r, size_t off)
{
    const uint8_t *p = r->buf + off;
    return r->big_endian ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const struct reader *r, size_t off)
{
    const uint8_t *p = r->buf + off;
    if (r->big_endian)
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

bool alh_elf_is(const uint8_t *buf, size_t len)
{
    return buf != NULL && len >= 4 && buf[0] == 0x7f && buf[1] == 'E' && buf[2] == 'L' &&
           buf[3] == 'F';
}

int alh_elf_flatten(const uint8_t *buf, size_t len, size_t max_size, struct alh_flat_image *out,
                    uint16_t *machine, char *err, size_t errlen)
{
    struct alh_flat_run runs[ALH_ELF_MAX_PHDRS];
    struct reader r = {buf, false};
    size_t nruns = 0;
    uint32_t phoff, entry;
    uint16_t type, phentsize, phnum;
    int result = -1;

    if (errlen > 0)
        err[0] = '\0';
    if (out == NULL || !alh_elf_is(buf, len)) {
        snprintf(err, errlen, "not an ELF file (no 0x7f 'ELF' magic)");
        goto out;
    }
    memset(out, 0, sizeof(*out));
    if (len < EHDR_SIZE) {
        snprintf(err, errlen, "truncated ELF header: %zu bytes, an ELF32 header is %d", len,
                 EHDR_SIZE);
        goto out;
    }
    if (buf[4] == 2) {
        snprintf(err, errlen, "a 64-bit ELF (ELFCLASS64); only 32-bit executables are read");
        goto out;
    }
    if (buf[4] != 1) {
        snprintf(err, errlen, "unknown ELF class %u (EI_CLASS must be 1, ELFCLASS32)", buf[4]);
        goto out;
    }
    if (buf[5] != 1 && buf[5] != 2) {
        snprintf(err, errlen, "unknown ELF byte order %u (EI_DATA must be 1 or 2)", buf[5]);
        goto out;
    }
    r.big_endian = buf[5] == 2;
    if (buf[6] != 1 || rd32(&r, 20) != 1) {
        snprintf(err, errlen, "unknown ELF version (EI_VERSION and e_version must be 1)");
        goto out;
    }
    type = rd16(&r, 16);
    if (type == ET_REL) {
        snprintf(err, errlen, "a relocatable object (ET_REL), not a linked executable: link it "
                 "first");
        goto out;
    }
    if (type == ET_DYN) {
        snprintf(err, errlen, "a position-independent executable or shared object (ET_DYN); "
                 "firmware must be linked at fixed addresses (ET_EXEC)");
        goto out;
    }
    if (type != ET_EXEC) {
        snprintf(err, errlen, "ELF type %u is not an executable (ET_EXEC = 2)", type);
        goto out;
    }
    if (machine != NULL)
        *machine = rd16(&r, 18);
    entry = rd32(&r, 24);
    phoff = rd32(&r, 28);
    if (rd16(&r, 40) < EHDR_SIZE) {
        snprintf(err, errlen, "e_ehsize %u is below the ELF32 header size %d", rd16(&r, 40),
                 EHDR_SIZE);
        goto out;
    }
    phentsize = rd16(&r, 42);
    phnum = rd16(&r, 44);
    if (phnum == 0) {
        snprintf(err, errlen, "no program headers: nothing says what to load where");
        goto out;
    }
    if (phnum > ALH_ELF_MAX_PHDRS) {
        snprintf(err, errlen, "%u program headers; at most %d are read", phnum,
                 ALH_ELF_MAX_PHDRS);
        goto out;
    }
    if (phentsize < PHDR_SIZE) {
        snprintf(err, errlen, "e_phentsize %u is below the ELF32 program header size %d",
                 phentsize, PHDR_SIZE);
        goto out;
    }
    if (phoff > len || (size_t)phnum * phentsize > len - phoff) {
        snprintf(err, errlen, "program headers (%u of %u bytes at offset %u) run past the end "
                 "of the file (%zu bytes)", phnum, phentsize, phoff, len);
        goto out;
    }
    for (uint16_t i = 0; i < phnum; i++) {
        size_t ph = (size_t)phoff + (size_t)i * phentsize;
        uint32_t p_type = rd32(&r, ph), p_offset = rd32(&r, ph + 4);
        uint32_t p_paddr = rd32(&r, ph + 12), p_filesz = rd32(&r, ph + 16);
        uint32_t p_memsz = rd32(&r, ph + 20);

        if (p_type == PT_INTERP || p_type == PT_DYNAMIC) {
            snprintf(err, errlen, "program header %u is %s: a dynamically linked program, not "
                     "firmware", i, p_type == PT_INTERP ? "PT_INTERP" : "PT_DYNAMIC");
            goto out;
        }
        if (p_type != PT_LOAD || p_filesz == 0)
            continue; /* notes, attributes, .bss-only segments: nothing in flash */
        if (p_filesz > p_memsz) {
            snprintf(err, errlen, "segment %u: p_filesz %u exceeds p_memsz %u", i, p_filesz,
                     p_memsz);
            goto out;
        }
        if (p_offset > len || p_filesz > len - p_offset) {
            snprintf(err, errlen, "segment %u: its %u bytes at file offset %u run past the end "
                     "of the file (%zu bytes)", i, p_filesz, p_offset, len);
            goto out;
        }
        runs[nruns].addr = p_paddr;
        runs[nruns].len = p_filesz;
        runs[nruns].data = buf + p_offset;
        nruns++;
    }
    if (nruns == 0) {
        snprintf(err, errlen, "no loadable segment (PT_LOAD) with file bytes");
        goto out;
    }
    if (alh_flat_build(runs, nruns, max_size, "segment", out, err, errlen) != 0)
        goto out;
    out->entry = entry;
    out->has_entry = true;
    result = 0;
out:
    return result;
}
