/*
 * test_simflash.c - the simulated NOR flash: erase and program semantics, alignment and range
 * errors, irregular sectors, wear counters, files that survive a reopen, power cuts (clean and
 * torn, program and erase), deterministic tears, saved states, and the boards' shared power.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "board.h"
#include "simflash.h"

#define KiB 1024u
#define BASE 0x08000000u

static const struct al_sector_run f205[] = {{4, 16 * KiB}, {1, 64 * KiB}, {7, 128 * KiB}};

/* A memory-backed STM32F205-like flash (write size 4) and its power supply. */
struct fixture {
    struct sim_power power;
    struct simflash flash;
    const struct al_flash *port;
};

static void open_f205(struct fixture *fx, const char *path)
{
    struct simflash_config cfg = {BASE, 4, f205, 3, path};
    sim_power_init(&fx->power);
    if (simflash_open(&fx->flash, &cfg, &fx->power) != 0)
        fail_msg("simflash_open: %s", fx->flash.error);
    fx->port = simflash_port(&fx->flash);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    if (!fx)
        return -1;
    open_f205(fx, NULL);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    simflash_close(&fx->flash);
    free(fx);
    return 0;
}

static al_err prog(struct fixture *fx, uint32_t addr, const void *buf, size_t len)
{
    return fx->port->program(fx->port->ctx, addr, buf, len);
}

static al_err erase(struct fixture *fx, uint32_t addr)
{
    return fx->port->erase(fx->port->ctx, addr);
}

static bool all_equal(const uint8_t *p, size_t len, uint8_t v)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != v)
            return false;
    return true;
}

/* Program len bytes of value v at addr (len a multiple of 4, at most 4 KiB). */
static void fill(struct fixture *fx, uint32_t addr, uint8_t v, size_t len)
{
    uint8_t buf[4096];
    assert_true(len <= sizeof buf);
    memset(buf, v, len);
    assert_int_equal(prog(fx, addr, buf, len), AL_OK);
}

static void test_geometry_irregular_sectors(void **state)
{
    struct fixture *fx = *state;
    static const uint32_t starts[12] = {0x0000, 0x4000, 0x8000, 0xC000, 0x10000, 0x20000,
                                        0x40000, 0x60000, 0x80000, 0xA0000, 0xC0000, 0xE0000};
    static const uint32_t sizes[12] = {16 * KiB, 16 * KiB, 16 * KiB, 16 * KiB, 64 * KiB,
                                       128 * KiB, 128 * KiB, 128 * KiB, 128 * KiB, 128 * KiB,
                                       128 * KiB, 128 * KiB};
    assert_int_equal(al_flash_size(fx->port), 1024 * KiB);
    assert_int_equal(fx->flash.sector_count, 12);
    for (size_t i = 0; i < 12; i++) {
        assert_int_equal(al_flash_sector_size(fx->port, BASE + starts[i]), sizes[i]);
        assert_int_equal(simflash_sector_index(&fx->flash, BASE + starts[i]), i);
        assert_int_equal(simflash_sector_index(&fx->flash, BASE + starts[i] + sizes[i] - 1), i);
        assert_int_equal(al_flash_sector_size(fx->port, BASE + starts[i] + 4), 0);
    }
    assert_int_equal(al_flash_sector_size(fx->port, BASE - 0x4000), 0);
    assert_int_equal(al_flash_sector_size(fx->port, BASE + 1024 * KiB), 0);
    assert_int_equal(simflash_sector_index(&fx->flash, BASE + 1024 * KiB), SIZE_MAX);
    assert_int_equal(fx->port->erased_value, 0xff);
    assert_int_equal(fx->port->write_size, 4);
}

static void test_starts_erased_and_erase_sets_ff(void **state)
{
    struct fixture *fx = *state;
    uint8_t *mem = simflash_mem(&fx->flash, BASE, 1024 * KiB);
    assert_non_null(mem);
    assert_true(all_equal(mem, 1024 * KiB, 0xff));
    /* Dirty the 64 KiB sector and both neighbours, erase only the 64 KiB one. */
    fill(fx, BASE + 0x10000 - 4096, 0x00, 4096);
    for (uint32_t off = 0; off < 64 * KiB; off += 4096)
        fill(fx, BASE + 0x10000 + off, 0x5a, 4096);
    fill(fx, BASE + 0x20000, 0x00, 4096);
    assert_int_equal(erase(fx, BASE + 0x10000), AL_OK);
    assert_true(all_equal(mem + 0x10000, 64 * KiB, 0xff));
    assert_true(all_equal(mem + 0x10000 - 4096, 4096, 0x00));
    assert_true(all_equal(mem + 0x20000, 4096, 0x00));
    uint8_t back[16];
    assert_int_equal(fx->port->read(fx->port->ctx, BASE + 0x10000, back, sizeof back), AL_OK);
    assert_true(all_equal(back, sizeof back, 0xff));
}

static void test_program_only_clears_bits(void **state)
{
    struct fixture *fx = *state;
    const uint8_t a[4] = {0xf0, 0x0f, 0xff, 0x00}, b[4] = {0x3c, 0x3c, 0x00, 0xff};
    const uint8_t and_ab[4] = {0x30, 0x0c, 0x00, 0x00};
    uint8_t back[4];
    assert_int_equal(prog(fx, BASE + 0x100, a, 4), AL_OK);
    assert_int_equal(fx->flash.stats.set_bit_attempts, 0);
    /* Programming over programmed bits is allowed and ANDs (as on the STM32F2). */
    assert_int_equal(prog(fx, BASE + 0x100, b, 4), AL_OK);
    assert_int_equal(fx->port->read(fx->port->ctx, BASE + 0x100, back, 4), AL_OK);
    assert_memory_equal(back, and_ab, 4);
    assert_int_equal(fx->flash.stats.set_bit_attempts, 1); /* b had 1s over stored 0s */
    /* Writing the same data again changes nothing and is no conflict. */
    assert_int_equal(prog(fx, BASE + 0x100, and_ab, 4), AL_OK);
    assert_int_equal(fx->flash.stats.set_bit_attempts, 1);
    assert_int_equal(fx->flash.stats.programs, 3);
    assert_int_equal(fx->flash.stats.bytes_programmed, 12);
    /* Only erase brings bits back. */
    assert_int_equal(erase(fx, BASE), AL_OK);
    assert_int_equal(prog(fx, BASE + 0x100, a, 4), AL_OK);
    assert_int_equal(fx->port->read(fx->port->ctx, BASE + 0x100, back, 4), AL_OK);
    assert_memory_equal(back, a, 4);
}

static void test_alignment_and_range_errors(void **state)
{
    struct fixture *fx = *state;
    uint8_t buf[8] = {0};
    uint32_t end = BASE + 1024 * KiB;
    assert_int_equal(prog(fx, BASE + 2, buf, 4), AL_ERR_ALIGNMENT);
    assert_int_equal(prog(fx, BASE + 4, buf, 6), AL_ERR_ALIGNMENT);
    assert_int_equal(prog(fx, BASE - 4, buf, 4), AL_ERR_OUT_OF_RANGE);
    assert_int_equal(prog(fx, end, buf, 4), AL_ERR_OUT_OF_RANGE);
    assert_int_equal(prog(fx, end - 4, buf, 8), AL_ERR_OUT_OF_RANGE);
    assert_int_equal(prog(fx, 0xfffffffcu, buf, 8), AL_ERR_OUT_OF_RANGE);
    assert_int_equal(prog(fx, end - 4, buf, 4), AL_OK);
    assert_int_equal(erase(fx, BASE + 0x4004), AL_ERR_ALIGNMENT);
    assert_int_equal(erase(fx, BASE + 0x14000), AL_ERR_ALIGNMENT); /* inside the 64 KiB one */
    assert_int_equal(erase(fx, end), AL_ERR_OUT_OF_RANGE);
    assert_int_equal(erase(fx, BASE - 0x4000), AL_ERR_OUT_OF_RANGE);
    assert_int_equal(fx->port->read(fx->port->ctx, end - 4, buf, 8), AL_ERR_OUT_OF_RANGE);
    assert_int_equal(fx->port->read(fx->port->ctx, BASE - 1, buf, 1), AL_ERR_OUT_OF_RANGE);
    assert_null(simflash_mem(&fx->flash, end - 4, 8));
    /* Refused calls never reach the flash: they are not operations. */
    assert_int_equal(sim_power_ops(&fx->power), 1);
}

static void test_wear_counters(void **state)
{
    struct fixture *fx = *state;
    for (int i = 0; i < 3; i++)
        assert_int_equal(erase(fx, BASE + 0xA0000), AL_OK);
    assert_int_equal(erase(fx, BASE + 0x4000), AL_OK);
    for (size_t i = 0; i < 12; i++)
        assert_int_equal(simflash_wear(&fx->flash, i), i == 9 ? 3 : i == 1 ? 1 : 0);
    assert_int_equal(simflash_wear(&fx->flash, 12), 0);
    assert_int_equal(fx->flash.stats.erases, 4);
    assert_int_equal(sim_power_ops(&fx->power), 4);
    simflash_stats_reset(&fx->flash);
    assert_int_equal(fx->flash.stats.erases, 0);
    assert_int_equal(simflash_wear(&fx->flash, 9), 3); /* wear is not a statistic */
}

static void test_clean_cut_program(void **state)
{
    struct fixture *fx = *state;
    uint8_t *mem = simflash_mem(&fx->flash, BASE, 1024 * KiB);
    sim_power_arm(&fx->power, 2, SIM_CUT_CLEAN);
    fill(fx, BASE, 0x11, 16);             /* op 0 */
    fill(fx, BASE + 16, 0x22, 16);        /* op 1 */
    uint8_t data[16];
    memset(data, 0x33, sizeof data);
    assert_int_equal(prog(fx, BASE + 32, data, 16), AL_ERR_POWER_LOSS); /* op 2: cut */
    assert_false(sim_power_is_on(&fx->power));
    assert_true(all_equal(mem + 32, 16, 0xff));
    /* Dead until powered again; reads still show what is there. */
    assert_int_equal(prog(fx, BASE + 48, data, 16), AL_ERR_POWER_LOSS);
    assert_int_equal(erase(fx, BASE), AL_ERR_POWER_LOSS);
    assert_true(all_equal(mem + 48, 16, 0xff));
    assert_true(all_equal(mem, 16, 0x11));
    assert_int_equal(sim_power_ops(&fx->power), 3);
    assert_int_equal(fx->flash.stats.refused, 3);
    assert_int_equal(fx->power.cuts, 1);
    sim_power_on(&fx->power);
    assert_int_equal(prog(fx, BASE + 32, data, 16), AL_OK);
    assert_true(all_equal(mem + 32, 16, 0x33));
    assert_int_equal(fx->power.cut_at, SIM_NO_CUT);
}

static void test_clean_cut_erase(void **state)
{
    struct fixture *fx = *state;
    uint8_t *mem = simflash_mem(&fx->flash, BASE + 0x4000, 16 * KiB);
    for (uint32_t off = 0; off < 16 * KiB; off += 4096)
        fill(fx, BASE + 0x4000 + off, 0xa5, 4096);
    sim_power_reset_ops(&fx->power);
    sim_power_arm(&fx->power, 0, SIM_CUT_CLEAN);
    assert_int_equal(erase(fx, BASE + 0x4000), AL_ERR_POWER_LOSS);
    assert_true(all_equal(mem, 16 * KiB, 0xa5));
    assert_int_equal(simflash_wear(&fx->flash, 1), 0);
}

/* Check a torn program of src over old into got: a prefix of whole write units equals
 * old & src, then one unit holds a subset of the cleared bits, the rest is untouched.
 * Returns the number of whole units that landed. */
static size_t check_torn_program(const uint8_t *old, const uint8_t *src, const uint8_t *got,
                                 size_t len, size_t unit)
{
    size_t u = 0;
    while (u * unit < len) {
        bool whole = true;
        for (size_t i = u * unit; i < (u + 1) * unit; i++)
            whole &= got[i] == (old[i] & src[i]);
        if (!whole)
            break;
        u++;
    }
    for (size_t i = 0; i < len; i++) {
        assert_int_equal(got[i] & ~old[i], 0);          /* never sets a bit */
        assert_int_equal((old[i] & src[i]) & ~got[i], 0); /* never clears one it should keep */
        if (i >= (u + 1) * unit)
            assert_int_equal(got[i], old[i]);           /* nothing after the torn unit */
    }
    return u;
}

static void test_torn_program(void **state)
{
    struct fixture *fx = *state;
    uint8_t pattern[256], old[256], src[256], got[256];
    bool saw_partial_unit = false, saw_short_prefix = false, saw_long_prefix = false;
    for (uint32_t i = 0; i < sizeof src; i++) {
        pattern[i] = (uint8_t)(0xf0 | i);
        src[i] = (uint8_t)(i * 37 + 11);
    }
    for (uint32_t seed = 1; seed <= 200; seed++) {
        uint32_t addr = BASE + 0x20000 + (seed % 100) * 512;
        if (seed % 100 == 0) /* fresh cells for the second hundred */
            assert_int_equal(erase(fx, BASE + 0x20000), AL_OK);
        sim_power_reset_ops(&fx->power);
        sim_power_seed(&fx->power, seed);
        assert_int_equal(prog(fx, addr, pattern, sizeof pattern), AL_OK);
        memcpy(old, simflash_mem(&fx->flash, addr, sizeof old), sizeof old);
        sim_power_arm(&fx->power, 1, SIM_CUT_TORN);
        assert_int_equal(prog(fx, addr, src, sizeof src), AL_ERR_POWER_LOSS);
        memcpy(got, simflash_mem(&fx->flash, addr, sizeof got), sizeof got);
        size_t units = check_torn_program(old, src, got, sizeof got, 4);
        size_t unit_off = units * 4;
        saw_short_prefix |= units < 4;
        saw_long_prefix |= units > 32;
        if (unit_off < sizeof got)
            for (size_t i = unit_off; i < unit_off + 4; i++)
                saw_partial_unit |= got[i] != old[i] && got[i] != (old[i] & src[i]);
        assert_int_equal(fx->flash.stats.torn, seed);
        sim_power_on(&fx->power);
    }
    assert_true(saw_partial_unit);
    assert_true(saw_short_prefix);
    assert_true(saw_long_prefix);
}

static void test_torn_erase(void **state)
{
    struct fixture *fx = *state;
    const uint32_t sector = BASE + 0x8000, size = 16 * KiB;
    uint8_t *mem = simflash_mem(&fx->flash, sector, size);
    bool saw_full = false, saw_prefix = false, saw_suffix = false, saw_garbage = false;
    for (uint32_t seed = 1; seed <= 300; seed++) {
        sim_power_on(&fx->power);
        assert_int_equal(erase(fx, sector), AL_OK);
        for (uint32_t off = 0; off < size; off += 4096)
            fill(fx, sector + off, 0x00, 4096);
        sim_power_seed(&fx->power, seed);
        sim_power_arm(&fx->power, sim_power_ops(&fx->power), SIM_CUT_TORN);
        assert_int_equal(erase(fx, sector), AL_ERR_POWER_LOSS);
        size_t erased = 0, kept = 0, garbage = 0;
        for (uint32_t i = 0; i < size; i++) {
            erased += mem[i] == 0xff;
            kept += mem[i] == 0x00;
        }
        garbage = size - erased - kept;
        assert_true(garbage <= 32);
        saw_full |= erased == size;
        saw_prefix |= mem[0] == 0xff && mem[size - 1] == 0x00 && erased < size / 2;
        saw_suffix |= mem[0] == 0x00 && mem[size - 1] == 0xff && erased < size / 2;
        saw_garbage |= garbage > 0;
        /* Each tear counts as an erase cycle of the sector's cells. */
        assert_int_equal(simflash_wear(&fx->flash, 2), 2 * seed);
    }
    assert_true(saw_full && saw_prefix && saw_suffix && saw_garbage);
    assert_int_equal(fx->flash.stats.erases, 300);
}

/* Run: erase sector 5, program 2 KiB, cut torn at op `cut` with `seed`; copy sector 5 out. */
static void torn_run(uint32_t seed, uint64_t cut, uint8_t *out)
{
    struct fixture fx;
    uint8_t data[2048];
    memset(&fx, 0, sizeof fx);
    open_f205(&fx, NULL);
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7);
    sim_power_seed(&fx.power, seed);
    sim_power_arm(&fx.power, cut, SIM_CUT_TORN);
    fx.port->program(fx.port->ctx, BASE + 0x20000, data, sizeof data);
    fx.port->erase(fx.port->ctx, BASE + 0x20000);
    fx.port->program(fx.port->ctx, BASE + 0x20000, data, sizeof data);
    memcpy(out, simflash_mem(&fx.flash, BASE + 0x20000, 128 * KiB), 128 * KiB);
    simflash_close(&fx.flash);
}

static void test_tears_are_deterministic(void **state)
{
    (void)state;
    uint8_t *a = malloc(128 * KiB), *b = malloc(128 * KiB);
    assert_non_null(a);
    assert_non_null(b);
    for (uint64_t cut = 0; cut < 3; cut++) {
        torn_run(42, cut, a);
        torn_run(42, cut, b);
        assert_memory_equal(a, b, 128 * KiB);
    }
    /* Another seed tears differently (the erase at op 1 in particular). */
    torn_run(42, 1, a);
    torn_run(43, 1, b);
    assert_true(memcmp(a, b, 128 * KiB) != 0);
    free(a);
    free(b);
}

static void test_cut_between_operations(void **state)
{
    struct fixture *fx = *state;
    sim_power_cut(&fx->power);
    assert_int_equal(erase(fx, BASE), AL_ERR_POWER_LOSS);
    assert_int_equal(sim_power_ops(&fx->power), 0);
    sim_power_on(&fx->power);
    assert_int_equal(erase(fx, BASE), AL_OK);
    /* A disarmed cut never fires. */
    sim_power_arm(&fx->power, 2, SIM_CUT_CLEAN);
    sim_power_disarm(&fx->power);
    for (int i = 0; i < 4; i++)
        assert_int_equal(erase(fx, BASE), AL_OK);
}

static void test_state_save_restore(void **state)
{
    struct fixture *fx = *state;
    struct simflash_state s;
    memset(&s, 0, sizeof s);
    fill(fx, BASE + 0x40000, 0x12, 64);
    assert_int_equal(erase(fx, BASE + 0x4000), AL_OK);
    assert_int_equal(simflash_state_save(&fx->flash, &s), 0);
    uint8_t *saved_buf = s.mem;
    for (int round = 0; round < 3; round++) {
        fill(fx, BASE + 0x40000, 0x00, 64);
        assert_int_equal(erase(fx, BASE + 0x4000), AL_OK);
        assert_int_equal(simflash_state_restore(&fx->flash, &s), 0);
        assert_true(all_equal(simflash_mem(&fx->flash, BASE + 0x40000, 64), 64, 0x12));
        assert_int_equal(simflash_wear(&fx->flash, 1), 1);
    }
    assert_int_equal(simflash_state_save(&fx->flash, &s), 0);
    assert_ptr_equal(s.mem, saved_buf); /* buffers reused for the same geometry */
    /* A state of another geometry is refused. */
    struct simflash other;
    struct sim_power p;
    static const struct al_sector_run small[] = {{4, 4 * KiB}};
    struct simflash_config cfg = {0, 1, small, 1, NULL};
    sim_power_init(&p);
    assert_int_equal(simflash_open(&other, &cfg, &p), 0);
    assert_int_equal(simflash_state_restore(&other, &s), -1);
    simflash_close(&other);
    simflash_state_free(&s);
    assert_null(s.mem);
}

static void test_bad_geometry_is_refused(void **state)
{
    (void)state;
    struct sim_power p;
    struct simflash f;
    static const struct al_sector_run odd[] = {{4, 1000}};
    static const struct al_sector_run none[] = {{0, 4096}};
    static const struct al_sector_run big[] = {{2, 0x80000000u}};
    struct simflash_config cfg = {0, 3, f205, 3, NULL};
    sim_power_init(&p);
    assert_int_equal(simflash_open(&f, &cfg, &p), -1);
    assert_non_null(strstr(f.error, "power of two"));
    cfg = (struct simflash_config){0, 16, odd, 1, NULL};
    assert_int_equal(simflash_open(&f, &cfg, &p), -1);
    assert_non_null(strstr(f.error, "multiple of the write size"));
    cfg = (struct simflash_config){0, 4, none, 1, NULL};
    assert_int_equal(simflash_open(&f, &cfg, &p), -1);
    cfg = (struct simflash_config){0, 4, big, 1, NULL};
    assert_int_equal(simflash_open(&f, &cfg, &p), -1);
    assert_non_null(strstr(f.error, "larger than"));
    cfg = (struct simflash_config){0xfff80000u, 4, f205, 3, NULL};
    assert_int_equal(simflash_open(&f, &cfg, &p), -1);
    assert_non_null(strstr(f.error, "address space"));
}

/* ---- files ---------------------------------------------------------------------------- */

struct tmpdir {
    char path[64];
};

static void tmpdir_make(struct tmpdir *t)
{
    snprintf(t->path, sizeof t->path, "/tmp/airlift-flash-XXXXXX");
    assert_non_null(mkdtemp(t->path));
}

static void tmpdir_file(const struct tmpdir *t, const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", t->path, name);
}

static void tmpdir_remove(struct tmpdir *t, const char *const *names, size_t count)
{
    char p[128];
    for (size_t i = 0; i < count; i++) {
        tmpdir_file(t, names[i], p, sizeof p);
        unlink(p);
    }
    rmdir(t->path);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void test_file_persists_across_reopen(void **state)
{
    (void)state;
    struct tmpdir t;
    char path[128], wear_path[140];
    struct fixture fx;
    memset(&fx, 0, sizeof fx);
    tmpdir_make(&t);
    tmpdir_file(&t, "int.flash", path, sizeof path);
    snprintf(wear_path, sizeof wear_path, "%s.wear", path);

    open_f205(&fx, path);
    assert_int_equal(file_size(path), 1024 * KiB);
    assert_int_equal(file_size(wear_path), 12 * 4);
    assert_int_equal(erase(&fx, BASE + 0x60000), AL_OK);
    assert_int_equal(erase(&fx, BASE + 0x60000), AL_OK);
    fill(&fx, BASE + 0x60010, 0x42, 8);
    assert_int_equal(simflash_close(&fx.flash), 0);

    /* The contents file is the raw flash, byte for byte from the base address. */
    uint8_t raw[8], wear[12 * 4];
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0x60010 - 4, SEEK_SET), 0);
    assert_int_equal(fread(raw, 1, 8, fp), 8);
    fclose(fp);
    const uint8_t expect_raw[8] = {0xff, 0xff, 0xff, 0xff, 0x42, 0x42, 0x42, 0x42};
    assert_memory_equal(raw, expect_raw, 8);
    /* The wear file: u32 little-endian per sector; sector 7 (0x08060000) was erased twice. */
    fp = fopen(wear_path, "rb");
    assert_non_null(fp);
    assert_int_equal(fread(wear, 1, sizeof wear, fp), sizeof wear);
    fclose(fp);
    for (size_t i = 0; i < 12; i++) {
        uint32_t v = wear[4 * i] | wear[4 * i + 1] << 8 | wear[4 * i + 2] << 16 |
                     (uint32_t)wear[4 * i + 3] << 24;
        assert_int_equal(v, i == 7 ? 2 : 0);
    }

    open_f205(&fx, path);
    assert_int_equal(simflash_wear(&fx.flash, 7), 2);
    assert_true(all_equal(simflash_mem(&fx.flash, BASE + 0x60010, 8), 8, 0x42));
    assert_true(all_equal(simflash_mem(&fx.flash, BASE, 0x60000), 0x60000, 0xff));
    simflash_close(&fx.flash);

    /* A contents file of another size is refused, and the error says so. */
    assert_int_equal(truncate(path, 1000), 0);
    struct simflash_config cfg = {BASE, 4, f205, 3, path};
    assert_int_equal(simflash_open(&fx.flash, &cfg, &fx.power), -1);
    assert_non_null(strstr(fx.flash.error, "another geometry"));
    assert_non_null(strstr(fx.flash.error, "int.flash"));
    /* A folder that does not exist is refused with the path. */
    cfg.path = "/nonexistent-airlift-dir/x.flash";
    assert_int_equal(simflash_open(&fx.flash, &cfg, &fx.power), -1);
    assert_non_null(strstr(fx.flash.error, "cannot open"));

    const char *const names[] = {"int.flash", "int.flash.wear"};
    tmpdir_remove(&t, names, 2);
}

/* ---- boards --------------------------------------------------------------------------- */

static void test_board_files_and_shared_power(void **state)
{
    (void)state;
    struct tmpdir t;
    struct sim_board *b = calloc(1, sizeof *b);
    char p[128];
    assert_non_null(b);
    tmpdir_make(&t);
    assert_int_equal(sim_board_open(b, "pages4k", t.path), 0);
    assert_int_equal(b->flash_count, 2);
    const struct al_region *staging = al_layout_find(&b->layout, AL_REGION_STAGING);
    const struct al_region *app = al_layout_slot(&b->layout, 3, 1);
    assert_non_null(staging);
    assert_non_null(app);
    struct simflash *ext = sim_board_flash_of(b, staging), *in = sim_board_flash_of(b, app);
    assert_ptr_equal(ext, &b->flash[1]);
    assert_ptr_equal(in, &b->flash[0]);
    /* One power supply: op 0 on the internal flash, op 1 on the external one is cut. */
    uint8_t data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    sim_power_arm(&b->power, 1, SIM_CUT_CLEAN);
    assert_int_equal(app->flash->program(app->flash->ctx, app->addr, data, 8), AL_OK);
    assert_int_equal(staging->flash->program(staging->flash->ctx, staging->addr, data, 8),
                     AL_ERR_POWER_LOSS);
    assert_int_equal(app->flash->program(app->flash->ctx, app->addr + 8, data, 8),
                     AL_ERR_POWER_LOSS);
    sim_power_on(&b->power);
    assert_int_equal(staging->flash->program(staging->flash->ctx, staging->addr, data, 8), AL_OK);
    assert_int_equal(staging->flash->erase(staging->flash->ctx, staging->addr + 4096), AL_OK);
    assert_int_equal(sim_board_close(b), 0);

    tmpdir_file(&t, "internal.flash", p, sizeof p);
    assert_int_equal(file_size(p), 1024 * KiB);
    tmpdir_file(&t, "external.flash", p, sizeof p);
    assert_int_equal(file_size(p), 4096 * KiB);

    assert_int_equal(sim_board_open(b, "pages4k", t.path), 0);
    staging = al_layout_find(&b->layout, AL_REGION_STAGING);
    app = al_layout_slot(&b->layout, 3, 1);
    assert_memory_equal(simflash_mem(&b->flash[1], staging->addr, 8), data, 8);
    assert_memory_equal(simflash_mem(&b->flash[0], app->addr, 8), data, 8);
    assert_true(all_equal(simflash_mem(&b->flash[0], app->addr + 8, 8), 8, 0xff));
    assert_int_equal(simflash_wear(&b->flash[1], 1), 1);
    sim_board_close(b);

    assert_int_equal(sim_board_open(b, "nosuchboard", NULL), -1);
    assert_non_null(strstr(b->error, "nosuchboard"));
    free(b);
    const char *const names[] = {"internal.flash", "internal.flash.wear", "external.flash",
                                 "external.flash.wear"};
    tmpdir_remove(&t, names, 4);
}

static void test_board_snapshot(void **state)
{
    (void)state;
    struct sim_board *b = calloc(1, sizeof *b);
    struct sim_snapshot snap;
    assert_non_null(b);
    assert_int_equal(sim_board_open(b, "pages4k", NULL), 0);
    const struct al_region *backup = al_layout_find(&b->layout, AL_REGION_BACKUP);
    const struct al_region *sys = al_layout_slot(&b->layout, 2, 1);
    uint8_t zero[8] = {0};
    assert_int_equal(sim_snapshot_take(b, &snap), 0);
    for (int round = 0; round < 2; round++) {
        assert_int_equal(backup->flash->program(backup->flash->ctx, backup->addr, zero, 8), AL_OK);
        assert_int_equal(sys->flash->program(sys->flash->ctx, sys->addr, zero, 8), AL_OK);
        assert_int_equal(sys->flash->erase(sys->flash->ctx, sys->addr + 4096), AL_OK);
        assert_int_equal(sim_snapshot_restore(b, &snap), 0);
        assert_true(all_equal(simflash_mem(&b->flash[1], backup->addr, 8), 8, 0xff));
        assert_true(all_equal(simflash_mem(&b->flash[0], sys->addr, 8), 8, 0xff));
        assert_int_equal(simflash_wear(&b->flash[0], simflash_sector_index(&b->flash[0], sys->addr + 4096)), 0);
    }
    sim_snapshot_free(&snap);
    sim_board_close(b);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_geometry_irregular_sectors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_starts_erased_and_erase_sets_ff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_program_only_clears_bits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alignment_and_range_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wear_counters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clean_cut_program, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clean_cut_erase, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_program, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_erase, setup, teardown),
        cmocka_unit_test(test_tears_are_deterministic),
        cmocka_unit_test_setup_teardown(test_cut_between_operations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_save_restore, setup, teardown),
        cmocka_unit_test(test_bad_geometry_is_refused),
        cmocka_unit_test(test_file_persists_across_reopen),
        cmocka_unit_test(test_board_files_and_shared_power),
        cmocka_unit_test(test_board_snapshot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
