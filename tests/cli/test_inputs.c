/*
 * test_inputs.c - host/elf.c and host/ihex.c: real firmware built by arm-none-eabi-gcc at
 * several link addresses (tests/data/elf/README.md) flattened exactly like objcopy -O binary
 * --gap-fill 0xff, and broken files refused with messages that say what is wrong.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airlift_host/elf.h"
#include "airlift_host/ihex.h"
#include "airlift_host/particle.h"

#define MAX_FILE (4 * 1024 * 1024)
#define LIMIT (16u * 1024u * 1024u)

static uint8_t *load(const char *name, size_t *len)
{
    char path[1024];
    uint8_t *buf = malloc(MAX_FILE);
    FILE *f;

    assert_non_null(buf);
    snprintf(path, sizeof(path), "%s/%s", AL_FW_DIR, name);
    f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    *len = fread(buf, 1, MAX_FILE, f);
    fclose(f);
    assert_true(*len > 0 && *len < MAX_FILE);
    return buf;
}

/* ELF and HEX of one variant both flatten to objcopy's binary, at the link address. */
static void check_variant(const char *name, uint32_t base)
{
    char file[64];
    struct alh_flat_image e, h;
    char err[256];
    size_t elf_len, hex_len, bin_len;
    uint16_t machine = 0;
    uint8_t *elf, *hex, *bin;

    snprintf(file, sizeof(file), "fw-%s.elf", name);
    elf = load(file, &elf_len);
    snprintf(file, sizeof(file), "fw-%s.hex", name);
    hex = load(file, &hex_len);
    snprintf(file, sizeof(file), "fw-%s.bin", name);
    bin = load(file, &bin_len);

    assert_true(alh_elf_is(elf, elf_len));
    assert_false(alh_ihex_is(elf, elf_len));
    assert_true(alh_ihex_is(hex, hex_len));
    if (alh_elf_flatten(elf, elf_len, LIMIT, &e, &machine, err, sizeof(err)) != 0)
        fail_msg("%s.elf: %s", name, err);
    if (alh_ihex_flatten(hex, hex_len, LIMIT, &h, err, sizeof(err)) != 0)
        fail_msg("%s.hex: %s", name, err);
    assert_int_equal(machine, 40); /* EM_ARM */
    assert_int_equal(e.base, base);
    assert_int_equal(h.base, base);
    assert_int_equal(e.size, bin_len);
    assert_int_equal(h.size, bin_len);
    assert_memory_equal(e.data, bin, bin_len);
    assert_memory_equal(h.data, bin, bin_len);
    assert_true(e.runs >= 2); /* .isr_vector + .text, and .data loaded after them */
    /* The entry (reset_handler, Thumb bit set) is inside the image, the same in both. */
    assert_true(e.has_entry && h.has_entry);
    assert_int_equal(e.entry, h.entry);
    assert_true((e.entry & 1u) == 1u && e.entry > base && e.entry < base + e.size);
    /* Vector 0 is the initial stack pointer: the top of RAM. */
    assert_int_equal(e.data[0] | e.data[1] << 8 | e.data[2] << 16 | (uint32_t)e.data[3] << 24,
                     0x20008000u);
    alh_flat_free(&e);
    alh_flat_free(&h);
    free(elf);
    free(hex);
    free(bin);
}

static void test_stm32(void **state)
{
    (void)state;
    check_variant("stm32", 0x08020000u);
}

static void test_nrf(void **state)
{
    (void)state;
    check_variant("nrf", 0x00030000u);
}

/* A section 32 KB above the code: the gap is 0xff, the marker at its address. */
static void test_gap(void **state)
{
    struct alh_flat_image e;
    char err[256];
    size_t len;
    uint8_t *elf;

    (void)state;
    check_variant("gap", 0x10000000u);
    elf = load("fw-gap.elf", &len);
    assert_int_equal(alh_elf_flatten(elf, len, LIMIT, &e, NULL, err, sizeof(err)), 0);
    assert_int_equal(e.size, 0x8000 + 16);
    assert_int_equal(e.data[0x8000], 0xa1);
    assert_int_equal(e.data[0x7fff], 0xff);
    assert_true(e.loaded < e.size);
    alh_flat_free(&e);
    free(elf);
}

/* Flash at 0x08000000 and a section at 0x90000000: refused, saying why. */
static void test_split_refused(void **state)
{
    struct alh_flat_image out;
    char err[256];
    size_t len;
    uint8_t *buf;

    (void)state;
    buf = load("fw-split.elf", &len);
    assert_int_equal(alh_elf_flatten(buf, len, LIMIT, &out, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot flatten"));
    assert_non_null(strstr(err, "0x90000010"));
    free(buf);
    buf = load("fw-split.hex", &len);
    assert_int_equal(alh_ihex_flatten(buf, len, LIMIT, &out, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot flatten"));
    free(buf);
}

static void expect_elf_error(const uint8_t *buf, size_t len, const char *needle)
{
    struct alh_flat_image out;
    char err[256];

    assert_int_equal(alh_elf_flatten(buf, len, LIMIT, &out, NULL, err, sizeof(err)), -1);
    if (strstr(err, needle) == NULL)
        fail_msg("expected '%s' in: %s", needle, err);
}

/* Mutations of a real ELF: each refused with the field named. */
static void test_elf_broken(void **state)
{
    size_t len;
    uint8_t *good = load("fw-stm32.elf", &len);
    uint8_t *b = malloc(len);
    uint32_t phoff = good[28] | good[29] << 8 | good[30] << 16 | (uint32_t)good[31] << 24;

    (void)state;
    assert_non_null(b);
    expect_elf_error(good, 20, "truncated ELF header");
    expect_elf_error((const uint8_t *)"MZ\x90\x00", 4, "not an ELF");
    memcpy(b, good, len);
    b[4] = 2;
    expect_elf_error(b, len, "64-bit");
    memcpy(b, good, len);
    b[5] = 3;
    expect_elf_error(b, len, "byte order");
    memcpy(b, good, len);
    b[16] = 1; /* ET_REL */
    expect_elf_error(b, len, "relocatable");
    memcpy(b, good, len);
    b[16] = 3; /* ET_DYN */
    expect_elf_error(b, len, "ET_DYN");
    memcpy(b, good, len);
    b[44] = 0;
    b[45] = 0; /* no program headers */
    expect_elf_error(b, len, "no program headers");
    expect_elf_error(good, phoff + 8, "run past the end");
    memcpy(b, good, len);
    /* First program header: p_offset far past the end. */
    b[phoff + 4] = 0xff;
    b[phoff + 5] = 0xff;
    b[phoff + 6] = 0xff;
    b[phoff + 7] = 0x7f;
    expect_elf_error(b, len, "past the end of the file");
    memcpy(b, good, len);
    b[phoff] = 3; /* PT_INTERP */
    expect_elf_error(b, len, "PT_INTERP");
    memcpy(b, good, len);
    /* p_memsz below p_filesz */
    memset(b + phoff + 20, 0, 4);
    b[phoff + 20] = 1;
    expect_elf_error(b, len, "p_filesz");
    free(b);
    free(good);
}

static void expect_hex_error(const char *text, const char *needle)
{
    struct alh_flat_image out;
    char err[256];

    assert_int_equal(alh_ihex_flatten((const uint8_t *)text, strlen(text), LIMIT, &out, err,
                                      sizeof(err)),
                     -1);
    if (strstr(err, needle) == NULL)
        fail_msg("expected '%s' in: %s", needle, err);
}

/* Hand-made HEX: what is accepted, and each way to be refused. */
static void test_ihex(void **state)
{
    static const char good[] = ":020000040800F2\r\n"
                               ":0400000001020304F2\r\n"
                               ":0400040005060708DE\r\n"
                               ":04000005080000C12E\r\n"
                               ":00000001FF\r\n"
                               "\n";
    struct alh_flat_image out;
    char err[256];

    (void)state;
    assert_int_equal(alh_ihex_flatten((const uint8_t *)good, strlen(good), LIMIT, &out, err,
                                      sizeof(err)),
                     0);
    assert_int_equal(out.base, 0x08000000u);
    assert_int_equal(out.size, 8);
    assert_int_equal(out.runs, 1); /* two records, one run */
    assert_int_equal(out.data[7], 8);
    assert_true(out.has_entry);
    assert_int_equal(out.entry, 0x080000c1u);
    alh_flat_free(&out);

    expect_hex_error(":0400000001020304F3\n:00000001FF\n", "line 1: bad checksum");
    expect_hex_error(":0400000001020304F2\n", "no end-of-file record");
    expect_hex_error(":00000001FF\n:0400000001020304F2\n", "after the end-of-file");
    expect_hex_error(":0400000001020304F\n:00000001FF\n", "odd number");
    expect_hex_error(":04000000010203G4F2\n:00000001FF\n", "not a hex digit");
    expect_hex_error(":0500000001020304F2\n:00000001FF\n", "byte count");
    expect_hex_error(":0400000601020304EC\n:00000001FF\n", "unknown record type 0x06");
    expect_hex_error("x0400000001020304F2\n", "does not start with ':'");
    expect_hex_error(":04FFFE0001020304F5\n:00000001FF\n", "64 KiB boundary");
    expect_hex_error(":0400000001020304F2\n:0400020001020304F0\n:00000001FF\n", "overlap");
    expect_hex_error(":0100000401FA\n:00000001FF\n", "needs 2 data bytes");

    /* Told apart by ':' and 8 hex digits, not by ':' alone (1 in 256 binaries start so). */
    assert_true(alh_ihex_is((const uint8_t *)good, strlen(good)));
    assert_true(alh_ihex_is((const uint8_t *)":0400000001020304F\n", 19)); /* broken, but HEX */
    assert_false(alh_ihex_is((const uint8_t *)":\x01\xfe\x80\x00\x11\x22\x33\x44\x55", 10));
    assert_false(alh_ihex_is((const uint8_t *)":0400", 5));
    assert_false(alh_ihex_is((const uint8_t *)"x0400000001", 11));
}
/* issue 16: a Particle module of each generation built here (tests/data/module/): the .bin,
 * and the flattened .elf and .hex, are the same intact module (CRC-32 and SHA-256 right),
 * with its header where the generation puts it, and import to the same metadata. */
static void check_module(const char *name, uint32_t info_offset, uint16_t platform,
                         uint8_t al_function, uint8_t index, const char *version)
{
    static const char *const ext[] = {"bin", "elf", "hex"};
    struct alh_particle_module m;
    struct al_image_header h;
    char file[64], err[256], got[AL_VERSION_STR_MAX];

    for (size_t i = 0; i < 3; i++) {
        struct alh_flat_image flat = {0};
        const uint8_t *data;
        size_t len, n;
        uint8_t *buf;

        snprintf(file, sizeof(file), "mod-%s.%s", name, ext[i]);
        buf = load(file, &len);
        data = buf;
        n = len;
        if (i > 0) {
            int rc = i == 1 ? alh_elf_flatten(buf, len, LIMIT, &flat, NULL, err, sizeof(err))
                            : alh_ihex_flatten(buf, len, LIMIT, &flat, err, sizeof(err));
            if (rc != 0)
                fail_msg("%s: %s", file, err);
            data = flat.data;
            n = flat.size;
        }
        if (!alh_particle_find(data, n, &m))
            fail_msg("%s: no module_info", file);
        if (alh_particle_check(data, n, &m, err, sizeof(err)) != ALH_PARTICLE_OK)
            fail_msg("%s: %s", file, err);
        assert_true(m.crc_ok && m.has_suffix && m.sha_ok);
        assert_int_equal(m.info_offset, info_offset);
        assert_int_equal(m.platform_id, platform);
        assert_int_equal(m.end_address - m.start_address + ALH_PARTICLE_CRC_SIZE, n);
        memset(&h, 0, sizeof(h));
        if (alh_particle_to_header(&m, NULL, &h, err, sizeof(err)) != ALH_PARTICLE_OK)
            fail_msg("%s: %s", file, err);
        assert_int_equal(h.function, al_function);
        assert_int_equal(h.index, index);
        assert_int_equal(h.link_address, m.start_address);
        al_version_format(&h.version, got, sizeof(got));
        assert_string_equal(got, version);
        if (i > 0)
            assert_int_equal(flat.base, m.start_address);
        alh_flat_free(&flat);
        free(buf);
    }
}

static void test_modules_every_generation(void **state)
{
    (void)state;
    check_module("gen2", ALH_PARTICLE_INFO_OFFSET_VT, 10, AL_FN_SYSTEM, 1, "2.3.1");
    check_module("gen3", ALH_PARTICLE_INFO_OFFSET_GEN3, 13, AL_FN_BOOTLOADER, 0, "1006.0.0");
    check_module("gen4", 0, 32, AL_FN_APPLICATION, 1, "6.0.0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stm32),          cmocka_unit_test(test_nrf),
        cmocka_unit_test(test_gap),            cmocka_unit_test(test_split_refused),
        cmocka_unit_test(test_elf_broken),     cmocka_unit_test(test_ihex),
        cmocka_unit_test(test_modules_every_generation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
