/*
 * test_layout.c - the reference boards' layouts, al_layout_check on them and on broken
 * layouts (each rule, with the reason it gives), the lookups, and that every real Electron
 * module fits its slot and the staging area on both boards.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "airlift/image.h"
#include "board.h"

#define KiB 1024u

static struct sim_board *open_board(const char *kind)
{
    struct sim_board *b = calloc(1, sizeof *b);
    assert_non_null(b);
    if (sim_board_open(b, kind, NULL) != 0)
        fail_msg("sim_board_open(%s): %s", kind, b->error);
    return b;
}

static void close_board(struct sim_board *b)
{
    sim_board_close(b);
    free(b);
}

static const struct al_region *named(const struct al_layout *l, const char *name)
{
    for (size_t i = 0; i < l->count; i++)
        if (strcmp(l->regions[i].name, name) == 0)
            return &l->regions[i];
    fail_msg("no region %s", name);
    return NULL;
}

static void expect_ok(const struct al_layout *l)
{
    const char *why = NULL;
    size_t at = 0;
    al_err err = al_layout_check_reason(l, &why, &at);
    if (err != AL_OK)
        fail_msg("layout %s refused: %s (region %zu)", l->name, why, at);
    assert_null(why);
    assert_int_equal(at, AL_LAYOUT_NO_REGION);
    assert_int_equal(al_layout_check(l), AL_OK);
}

static void test_electron_layout(void **state)
{
    (void)state;
    struct sim_board *b = open_board("electron");
    const struct al_layout *l = &b->layout;
    static const struct {
        const char *name;
        uint8_t role;
        uint32_t addr, size, link;
    } want[] = {
        {"boot0", AL_REGION_BOOT0, 0x08000000, 16 * KiB, 0},
        {"bootloader-a", AL_REGION_BOOTLOADER_A, 0x08004000, 16 * KiB, 0x08000000},
        {"bootloader-b", AL_REGION_BOOTLOADER_B, 0x08008000, 16 * KiB, 0x08000000},
        {"journal-a", AL_REGION_JOURNAL_A, 0x0800C000, 16 * KiB, 0},
        {"journal-b", AL_REGION_JOURNAL_B, 0x08010000, 64 * KiB, 0},
        {"system-1", AL_REGION_SLOT, 0x08020000, 128 * KiB, 0x08020000},
        {"system-2", AL_REGION_SLOT, 0x08040000, 128 * KiB, 0x08040000},
        {"system-3", AL_REGION_SLOT, 0x08060000, 128 * KiB, 0x08060000},
        {"application-1", AL_REGION_SLOT, 0x08080000, 128 * KiB, 0x08080000},
        {"backup", AL_REGION_BACKUP, 0x080A0000, 128 * KiB, 0},
        {"staging", AL_REGION_STAGING, 0x080C0000, 128 * KiB, 0},
    };
    expect_ok(l);
    assert_int_equal(l->count, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const struct al_region *r = named(l, want[i].name);
        assert_int_equal(r->role, want[i].role);
        assert_int_equal(r->addr, want[i].addr);
        assert_int_equal(r->size, want[i].size);
        assert_int_equal(r->link_address, want[i].link);
        assert_ptr_equal(r->flash, simflash_port(&b->flash[0]));
    }
    assert_int_equal(b->flash_count, 1);
    assert_int_equal(b->flash[0].port.base, 0x08000000);
    assert_int_equal(b->flash[0].port.write_size, 4);
    assert_int_equal(al_flash_size(&b->flash[0].port), 1024 * KiB);
    /* Lookups. */
    assert_ptr_equal(al_layout_slot(l, AL_FN_SYSTEM, 2), named(l, "system-2"));
    assert_ptr_equal(al_layout_slot(l, AL_FN_APPLICATION, 1), named(l, "application-1"));
    assert_ptr_equal(al_layout_slot(l, AL_FN_BOOTLOADER, 0), named(l, "bootloader-a"));
    assert_null(al_layout_slot(l, AL_FN_SYSTEM, 4));
    assert_null(al_layout_slot(l, AL_FN_RADIO, 1));
    assert_ptr_equal(al_layout_find(l, AL_REGION_STAGING), named(l, "staging"));
    assert_int_equal(al_layout_region_index(l, named(l, "system-3")), 7);
    close_board(b);
}

static void test_pages4k_layout(void **state)
{
    (void)state;
    struct sim_board *b = open_board("pages4k");
    const struct al_layout *l = &b->layout;
    expect_ok(l);
    assert_int_equal(b->flash_count, 2);
    assert_int_equal(b->flash[0].port.write_size, 8);
    assert_int_equal(b->flash[1].port.write_size, 1);
    assert_int_equal(al_flash_size(&b->flash[0].port), 1024 * KiB);
    assert_int_equal(al_flash_size(&b->flash[1].port), 4096 * KiB);
    assert_int_equal(b->flash[1].port.base, 0x90000000);
    assert_ptr_equal(al_layout_find(l, AL_REGION_STAGING)->flash, &b->flash[1].port);
    assert_ptr_equal(al_layout_find(l, AL_REGION_BACKUP)->flash, &b->flash[1].port);
    assert_ptr_equal(al_layout_slot(l, AL_FN_SYSTEM, 1)->flash, &b->flash[0].port);
    assert_int_equal(al_layout_find(l, AL_REGION_JOURNAL_A)->size, 4 * KiB);
    assert_int_equal(al_layout_find(l, AL_REGION_JOURNAL_B)->size, 4 * KiB);
    assert_null(al_layout_slot(l, AL_FN_SYSTEM, 2));
    close_board(b);
}

/* The nRF52840 board: one internal flash of 4 KiB pages at 0, Nordic's places for the MBR,
 * the SoftDevice and the bootloader (docs/flash-layout.md). */
static void test_nrf52840_layout(void **state)
{
    (void)state;
    struct sim_board *b = open_board("nrf52840");
    const struct al_layout *l = &b->layout;
    expect_ok(l);
    assert_int_equal(b->flash_count, 1);
    assert_int_equal(b->flash[0].port.base, 0);
    assert_int_equal(b->flash[0].port.write_size, 4);
    assert_int_equal(al_flash_size(&b->flash[0].port), 1024 * KiB);
    assert_int_equal(al_flash_sector_size(&b->flash[0].port, 0x000F8000), 4 * KiB);
    assert_int_equal(al_layout_find(l, AL_REGION_BOOT0)->addr, 0);
    assert_int_equal(al_layout_find(l, AL_REGION_BOOT0)->size, 4 * KiB);
    const struct al_region *sd = al_layout_slot(l, AL_FN_RADIO, 1);
    assert_ptr_equal(sd, named(l, "softdevice"));
    assert_int_equal(sd->addr, 0x1000);
    assert_int_equal(sd->addr + sd->size, 0x27000);
    assert_int_equal(al_layout_slot(l, AL_FN_SYSTEM, 1)->link_address, 0x27000);
    const struct al_region *bl = al_layout_slot(l, AL_FN_BOOTLOADER, 0);
    assert_ptr_equal(bl, named(l, "bootloader-a"));
    assert_int_equal(bl->addr, 0xF8000);
    assert_int_equal(bl->addr + bl->size, 0xFE000); /* Nordic's MBR parameter page stays free */
    assert_int_equal(named(l, "bootloader-b")->link_address, 0xF8000);
    for (size_t i = 0; i < l->count; i++)
        assert_true(l->regions[i].addr + l->regions[i].size <= 0xFE000);
    assert_null(al_layout_slot(l, AL_FN_SYSTEM, 2));
    close_board(b);
}

/* Largest file in the firmware folder whose name starts with prefix. */
static long largest_module(const char *prefix)
{
    const char *dir = AIRLIFT_FIRMWARE_DIR "/electron";
    DIR *d = opendir(dir);
    struct dirent *e;
    long largest = 0;
    if (!d)
        fail_msg("cannot open %s", dir);
    while ((e = readdir(d)) != NULL) {
        char path[1024];
        struct stat st;
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) == 0 && st.st_size > largest)
            largest = (long)st.st_size;
    }
    closedir(d);
    assert_true(largest > 0);
    return largest;
}

static void test_every_electron_module_fits(void **state)
{
    (void)state;
    long system = largest_module("system-part"), boot = largest_module("bootloader");
    assert_int_equal(system, 130192); /* system-part3-2.0.1, the largest module */
    const char *kinds[] = {"electron", "pages4k", "nrf52840"};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        struct sim_board *b = open_board(kinds[k]);
        const struct al_layout *l = &b->layout;
        const struct al_region *staging = al_layout_find(l, AL_REGION_STAGING);
        for (size_t i = 0; i < l->count; i++) {
            const struct al_region *r = &l->regions[i];
            if (r->role == AL_REGION_SLOT)
                assert_true(al_slot_payload_max(r) >= (uint32_t)system);
            if (r->role == AL_REGION_BOOTLOADER_A || r->role == AL_REGION_BOOTLOADER_B)
                assert_true(al_slot_payload_max(r) >= (uint32_t)boot);
        }
        /* Staging holds the largest image file: header + payload. */
        assert_true(staging->size >= (uint32_t)system + AL_IMAGE_MAX_HEADER);
        close_board(b);
    }
}

/* ---- broken layouts ------------------------------------------------------------------- */

/* A mutable copy of the Electron layout to break one rule at a time. */
struct copy {
    struct sim_board *b;
    struct al_region r[AL_LAYOUT_MAX_REGIONS + 1];
    struct al_layout l;
};

static void copy_electron(struct copy *c)
{
    c->b = open_board("electron");
    memcpy(c->r, c->b->regions, c->b->layout.count * sizeof c->r[0]);
    c->l = (struct al_layout){"broken", c->r, c->b->layout.count};
}

static struct al_region *reg(struct copy *c, const char *name)
{
    for (size_t i = 0; i < c->l.count; i++)
        if (strcmp(c->r[i].name, name) == 0)
            return &c->r[i];
    fail_msg("no region %s", name);
    return NULL;
}

/* Expect the copy to be refused with a reason containing `want`. */
static void expect_refused(struct copy *c, const char *want)
{
    const char *why = NULL;
    size_t at = 0;
    assert_int_equal(al_layout_check(&c->l), AL_ERR_BAD_LAYOUT);
    assert_int_equal(al_layout_check_reason(&c->l, &why, &at), AL_ERR_BAD_LAYOUT);
    assert_non_null(why);
    if (strstr(why, want) == NULL)
        fail_msg("refused for \"%s\", expected \"%s\"", why, want);
}

/* Remove region `name` from the copy. */
static void drop(struct copy *c, const char *name)
{
    struct al_region *r = reg(c, name);
    size_t i = (size_t)(r - c->r);
    memmove(&c->r[i], &c->r[i + 1], (c->l.count - i - 1) * sizeof c->r[0]);
    c->l.count--;
}

#define BROKEN(test_name, reason, ...)                                                         \
    static void test_name(void **state)                                                        \
    {                                                                                          \
        (void)state;                                                                           \
        struct copy c;                                                                         \
        copy_electron(&c);                                                                     \
        expect_ok(&c.l);                                                                       \
        __VA_ARGS__;                                                                           \
        expect_refused(&c, reason);                                                            \
        close_board(c.b);                                                                      \
    }

BROKEN(test_rejects_overlap, "overlap", reg(&c, "system-2")->addr = 0x08020000)
BROKEN(test_rejects_partial_overlap, "overlap",
       reg(&c, "journal-b")->size = 192 * KiB) /* runs into system-1 */
BROKEN(test_rejects_misaligned_start, "start on a sector",
       reg(&c, "staging")->addr += 0x1000; reg(&c, "staging")->size -= 0x1000)
BROKEN(test_rejects_misaligned_end, "end on a sector", reg(&c, "staging")->size -= 0x1000)
BROKEN(test_rejects_start_inside_big_sector, "start on a sector",
       reg(&c, "journal-b")->addr = 0x08014000; reg(&c, "journal-b")->size = 48 * KiB)
BROKEN(test_rejects_outside_flash, "outside its flash", reg(&c, "staging")->addr = 0x08100000)
BROKEN(test_rejects_past_flash_end, "outside its flash", reg(&c, "staging")->addr = 0x080E0000;
       reg(&c, "staging")->size = 256 * KiB)
BROKEN(test_rejects_below_flash, "outside its flash", reg(&c, "boot0")->addr = 0x07FFC000)
BROKEN(test_rejects_missing_staging, "one staging", drop(&c, "staging"))
BROKEN(test_rejects_missing_backup, "one backup", drop(&c, "backup"))
BROKEN(test_rejects_missing_journal_a, "one journal A", drop(&c, "journal-a"))
BROKEN(test_rejects_missing_journal_b, "one journal B", drop(&c, "journal-b"))
BROKEN(test_rejects_two_staging, "one staging", reg(&c, "backup")->role = AL_REGION_STAGING)
BROKEN(test_rejects_two_boot0, "boot0", c.r[c.l.count] = *reg(&c, "boot0");
       c.r[c.l.count].addr = 0x080E0000; c.r[c.l.count++].size = 128 * KiB)
BROKEN(test_rejects_backup_too_small, "backup region is smaller", drop(&c, "boot0");
       reg(&c, "backup")->addr = 0x08000000; reg(&c, "backup")->size = 16 * KiB)
BROKEN(test_rejects_staging_too_small, "staging region is smaller", drop(&c, "boot0");
       reg(&c, "staging")->addr = 0x08000000; reg(&c, "staging")->size = 16 * KiB)
BROKEN(test_rejects_duplicate_slot, "same module", reg(&c, "system-3")->index = 2)
BROKEN(test_rejects_bootloader_a_alone, "one pair", drop(&c, "bootloader-b"))
BROKEN(test_rejects_bootloader_b_alone, "one pair", drop(&c, "bootloader-a"))
BROKEN(test_rejects_two_bootloader_a, "one pair",
       reg(&c, "bootloader-b")->role = AL_REGION_BOOTLOADER_A)
BROKEN(test_rejects_bootloader_sizes_differ, "differ in size",
       reg(&c, "bootloader-b")->addr = 0x080E0000; reg(&c, "bootloader-b")->size = 128 * KiB)
BROKEN(test_rejects_bootloader_links_differ, "link address",
       reg(&c, "bootloader-b")->link_address = 0x08008000)
BROKEN(test_rejects_bootloader_function, "bootloader function",
       reg(&c, "bootloader-b")->function = AL_FN_SYSTEM)
BROKEN(test_rejects_bootloader_slot, "slot function",
       reg(&c, "system-3")->function = AL_FN_BOOTLOADER)
BROKEN(test_rejects_unknown_function, "slot function", reg(&c, "system-3")->function = 9)
BROKEN(test_rejects_unknown_role, "role", reg(&c, "system-3")->role = 42)
BROKEN(test_rejects_empty_region, "empty", reg(&c, "system-3")->size = 0)
BROKEN(test_rejects_no_flash, "no flash", reg(&c, "system-3")->flash = NULL)
BROKEN(test_rejects_no_regions, "no regions", c.l.count = 0)
BROKEN(test_rejects_too_many_regions, "more than",
       for (size_t i = c.l.count; i <= AL_LAYOUT_MAX_REGIONS; i++) c.r[i] = c.r[0];
       c.l.count = AL_LAYOUT_MAX_REGIONS + 1)

/* A small flash with tiny sectors, to reach the size rules the Electron cannot break. */
static al_err no_read(void *ctx, uint32_t addr, void *buf, size_t len) { return AL_ERR_FLASH; }
static al_err no_program(void *ctx, uint32_t addr, const void *buf, size_t len) { return AL_ERR_FLASH; }
static al_err no_erase(void *ctx, uint32_t addr) { return AL_ERR_FLASH; }

static const struct al_sector_run tiny_sectors[] = {{64, 256}};

static struct al_flash tiny_flash(uint32_t write_size)
{
    return (struct al_flash){NULL, no_read, no_program, no_erase, 0, write_size, 0xff,
                             tiny_sectors, 1};
}

/* journal A, journal B, slot, staging, backup on the tiny flash (16 KiB of 256 B sectors). */
static void tiny_layout(struct al_region *r, const struct al_flash *f, uint32_t journal_size,
                        uint32_t slot_size)
{
    uint32_t at = 0;
    const uint32_t sizes[5] = {journal_size, journal_size, slot_size, slot_size, slot_size};
    const uint8_t roles[5] = {AL_REGION_JOURNAL_A, AL_REGION_JOURNAL_B, AL_REGION_SLOT,
                              AL_REGION_STAGING, AL_REGION_BACKUP};
    for (size_t i = 0; i < 5; i++) {
        r[i] = (struct al_region){"r", roles[i], roles[i] == AL_REGION_SLOT ? AL_FN_SYSTEM : 0,
                                  1, f, at, sizes[i], at};
        at += sizes[i];
    }
}

static void test_size_rules_on_a_tiny_flash(void **state)
{
    (void)state;
    struct al_region r[5];
    struct al_layout l = {"tiny", r, 5};
    struct al_flash f = tiny_flash(4);
    const char *why;
    size_t at;

    tiny_layout(r, &f, 512, 1024);
    assert_int_equal(al_layout_check(&l), AL_OK);

    tiny_layout(r, &f, 256, 1024); /* room for one journal record only */
    assert_int_equal(al_layout_check_reason(&l, &why, &at), AL_ERR_BAD_LAYOUT);
    assert_non_null(strstr(why, "fewer than two records"));
    assert_int_equal(at, 0);

    tiny_layout(r, &f, 512, 512); /* a slot no larger than its header area */
    assert_int_equal(al_layout_check_reason(&l, &why, &at), AL_ERR_BAD_LAYOUT);
    assert_non_null(strstr(why, "header area"));
    assert_int_equal(at, 2);

    f = tiny_flash(512); /* a write size that does not divide the journal record size */
    tiny_layout(r, &f, 512, 1024);
    assert_int_equal(al_layout_check_reason(&l, &why, &at), AL_ERR_BAD_LAYOUT);
    assert_non_null(strstr(why, "write size"));

    f = tiny_flash(3);
    assert_int_equal(al_layout_check_reason(&l, &why, &at), AL_ERR_BAD_LAYOUT);
    assert_non_null(strstr(why, "power of two"));

    f = tiny_flash(4);
    f.program = NULL;
    assert_int_equal(al_layout_check_reason(&l, &why, &at), AL_ERR_BAD_LAYOUT);
    assert_non_null(strstr(why, "lacks"));

    /* A flash that runs past the 32-bit address space. */
    f = tiny_flash(4);
    f.base = 0xffffe000u;
    tiny_layout(r, &f, 512, 1024);
    for (size_t i = 0; i < 5; i++)
        r[i].addr += f.base;
    assert_int_equal(al_layout_check_reason(&l, &why, &at), AL_ERR_BAD_LAYOUT);
    assert_non_null(strstr(why, "address space"));

    /* One ending exactly at 4 GiB is fine, with a region that ends there too. */
    f.base = 0xffffc000u;
    static const struct al_sector_run top[] = {{64, 256}};
    f.sectors = top;
    tiny_layout(r, &f, 512, 1024);
    for (size_t i = 0; i < 5; i++)
        r[i].addr += f.base + 16 * KiB - 4096;
    assert_int_equal(al_flash_size(&f), 16 * KiB);
    if (al_layout_check_reason(&l, &why, &at) != AL_OK)
        fail_msg("refused: %s at %zu", why, at);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_electron_layout),
        cmocka_unit_test(test_pages4k_layout),
        cmocka_unit_test(test_nrf52840_layout),
        cmocka_unit_test(test_every_electron_module_fits),
        cmocka_unit_test(test_rejects_overlap),
        cmocka_unit_test(test_rejects_partial_overlap),
        cmocka_unit_test(test_rejects_misaligned_start),
        cmocka_unit_test(test_rejects_misaligned_end),
        cmocka_unit_test(test_rejects_start_inside_big_sector),
        cmocka_unit_test(test_rejects_outside_flash),
        cmocka_unit_test(test_rejects_past_flash_end),
        cmocka_unit_test(test_rejects_below_flash),
        cmocka_unit_test(test_rejects_missing_staging),
        cmocka_unit_test(test_rejects_missing_backup),
        cmocka_unit_test(test_rejects_missing_journal_a),
        cmocka_unit_test(test_rejects_missing_journal_b),
        cmocka_unit_test(test_rejects_two_staging),
        cmocka_unit_test(test_rejects_two_boot0),
        cmocka_unit_test(test_rejects_backup_too_small),
        cmocka_unit_test(test_rejects_staging_too_small),
        cmocka_unit_test(test_rejects_duplicate_slot),
        cmocka_unit_test(test_rejects_bootloader_a_alone),
        cmocka_unit_test(test_rejects_bootloader_b_alone),
        cmocka_unit_test(test_rejects_two_bootloader_a),
        cmocka_unit_test(test_rejects_bootloader_sizes_differ),
        cmocka_unit_test(test_rejects_bootloader_links_differ),
        cmocka_unit_test(test_rejects_bootloader_function),
        cmocka_unit_test(test_rejects_bootloader_slot),
        cmocka_unit_test(test_rejects_unknown_function),
        cmocka_unit_test(test_rejects_unknown_role),
        cmocka_unit_test(test_rejects_empty_region),
        cmocka_unit_test(test_rejects_no_flash),
        cmocka_unit_test(test_rejects_no_regions),
        cmocka_unit_test(test_rejects_too_many_regions),
        cmocka_unit_test(test_size_rules_on_a_tiny_flash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
