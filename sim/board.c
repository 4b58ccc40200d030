/* board.c - see board.h; the maps are documented in docs/flash-layout.md. */
#include "board.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airlift/image.h"

#define KiB 1024u

/* STM32F205 (Particle Electron): 4 x 16 KiB, 1 x 64 KiB, 7 x 128 KiB at 0x08000000. */
static const struct al_sector_run stm32f205[] = {{4, 16 * KiB}, {1, 64 * KiB}, {7, 128 * KiB}};
/* A part with uniform 4 KiB pages, and an external SPI NOR with 4 KiB sectors. */
static const struct al_sector_run pages_1m[] = {{256, 4 * KiB}};
static const struct al_sector_run spi_4m[] = {{1024, 4 * KiB}};
/* nRF52840: 256 pages of 4 KiB at 0 (1 MiB), programmed in 32-bit words. */
static const struct al_sector_run nrf52840_pages[] = {{256, 4 * KiB}};

struct region_spec {
    const char *name;
    uint8_t role, function, index, flash;
    uint32_t addr, size, link;
};

static const struct region_spec electron_map[] = {
    {"boot0", AL_REGION_BOOT0, 0, 0, 0, 0x08000000, 16 * KiB, 0},
    {"bootloader-a", AL_REGION_BOOTLOADER_A, AL_FN_BOOTLOADER, 0, 0, 0x08004000, 16 * KiB, 0x08000000},
    {"bootloader-b", AL_REGION_BOOTLOADER_B, AL_FN_BOOTLOADER, 0, 0, 0x08008000, 16 * KiB, 0x08000000},
    {"journal-a", AL_REGION_JOURNAL_A, 0, 0, 0, 0x0800C000, 16 * KiB, 0},
    {"journal-b", AL_REGION_JOURNAL_B, 0, 0, 0, 0x08010000, 64 * KiB, 0},
    {"system-1", AL_REGION_SLOT, AL_FN_SYSTEM, 1, 0, 0x08020000, 128 * KiB, 0x08020000},
    {"system-2", AL_REGION_SLOT, AL_FN_SYSTEM, 2, 0, 0x08040000, 128 * KiB, 0x08040000},
    {"system-3", AL_REGION_SLOT, AL_FN_SYSTEM, 3, 0, 0x08060000, 128 * KiB, 0x08060000},
    {"application-1", AL_REGION_SLOT, AL_FN_APPLICATION, 1, 0, 0x08080000, 128 * KiB, 0x08080000},
    {"backup", AL_REGION_BACKUP, 0, 0, 0, 0x080A0000, 128 * KiB, 0},
    {"staging", AL_REGION_STAGING, 0, 0, 0, 0x080C0000, 128 * KiB, 0},
};

static const struct region_spec pages4k_map[] = {
    {"boot0", AL_REGION_BOOT0, 0, 0, 0, 0x08000000, 16 * KiB, 0},
    {"bootloader-a", AL_REGION_BOOTLOADER_A, AL_FN_BOOTLOADER, 0, 0, 0x08004000, 16 * KiB, 0x08000000},
    {"bootloader-b", AL_REGION_BOOTLOADER_B, AL_FN_BOOTLOADER, 0, 0, 0x08008000, 16 * KiB, 0x08000000},
    {"journal-a", AL_REGION_JOURNAL_A, 0, 0, 0, 0x0800C000, 4 * KiB, 0},
    {"journal-b", AL_REGION_JOURNAL_B, 0, 0, 0, 0x0800D000, 4 * KiB, 0},
    {"system-1", AL_REGION_SLOT, AL_FN_SYSTEM, 1, 0, 0x08010000, 384 * KiB, 0x08010000},
    {"application-1", AL_REGION_SLOT, AL_FN_APPLICATION, 1, 0, 0x08070000, 576 * KiB, 0x08070000},
    {"staging", AL_REGION_STAGING, 0, 0, 1, 0x90000000, 576 * KiB, 0},
    {"backup", AL_REGION_BACKUP, 0, 0, 1, 0x90090000, 576 * KiB, 0},
};

/* nRF52840 (docs/flash-layout.md): Nordic's MBR at 0, the S140 SoftDevice at 0x1000 as the
 * radio slot, the bootloader where Nordic's secure bootloader goes (0xF8000, 24 KiB), below
 * Nordic's MBR parameter page (0xFE000) and bootloader settings page (0xFF000), left free. */
static const struct region_spec nrf52840_map[] = {
    {"mbr", AL_REGION_BOOT0, 0, 0, 0, 0x00000000, 4 * KiB, 0},
    {"softdevice", AL_REGION_SLOT, AL_FN_RADIO, 1, 0, 0x00001000, 152 * KiB, 0x00001000},
    {"system-1", AL_REGION_SLOT, AL_FN_SYSTEM, 1, 0, 0x00027000, 200 * KiB, 0x00027000},
    {"application-1", AL_REGION_SLOT, AL_FN_APPLICATION, 1, 0, 0x00059000, 200 * KiB, 0x00059000},
    {"staging", AL_REGION_STAGING, 0, 0, 0, 0x0008B000, 200 * KiB, 0},
    {"backup", AL_REGION_BACKUP, 0, 0, 0, 0x000BD000, 200 * KiB, 0},
    {"journal-a", AL_REGION_JOURNAL_A, 0, 0, 0, 0x000F0000, 4 * KiB, 0},
    {"journal-b", AL_REGION_JOURNAL_B, 0, 0, 0, 0x000F1000, 4 * KiB, 0},
    {"bootloader-b", AL_REGION_BOOTLOADER_B, AL_FN_BOOTLOADER, 0, 0, 0x000F2000, 24 * KiB, 0x000F8000},
    {"bootloader-a", AL_REGION_BOOTLOADER_A, AL_FN_BOOTLOADER, 0, 0, 0x000F8000, 24 * KiB, 0x000F8000},
};

struct board_spec {
    const char *kind;
    struct simflash_config flash[SIM_BOARD_MAX_FLASH];
    const char *file[SIM_BOARD_MAX_FLASH];
    size_t flash_count;
    const struct region_spec *map;
    size_t map_count;
};

static const struct board_spec boards[] = {
    {"electron", {{0x08000000, 4, stm32f205, 3, NULL}}, {"internal.flash"}, 1, electron_map,
     sizeof electron_map / sizeof electron_map[0]},
    {"pages4k", {{0x08000000, 8, pages_1m, 1, NULL}, {0x90000000, 1, spi_4m, 1, NULL}},
     {"internal.flash", "external.flash"}, 2, pages4k_map, sizeof pages4k_map / sizeof pages4k_map[0]},
    {"nrf52840", {{0x00000000, 4, nrf52840_pages, 1, NULL}}, {"internal.flash"}, 1, nrf52840_map,
     sizeof nrf52840_map / sizeof nrf52840_map[0]},
};

int sim_board_open(struct sim_board *b, const char *kind, const char *dir)
{
    const struct board_spec *spec = NULL;
    memset(b, 0, sizeof *b);
    for (size_t i = 0; i < sizeof boards / sizeof boards[0]; i++)
        if (kind && strcmp(boards[i].kind, kind) == 0)
            spec = &boards[i];
    if (!spec) {
        snprintf(b->error, sizeof b->error, "unknown board '%s' (electron, pages4k, nrf52840)",
                 kind ? kind : "(null)");
        return -1;
    }
    b->kind = spec->kind;
    sim_power_init(&b->power);
    for (size_t i = 0; i < spec->flash_count; i++) {
        struct simflash_config cfg = spec->flash[i];
        char path[4096];
        if (dir) {
            if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, spec->file[i]) >= sizeof path) {
                snprintf(b->error, sizeof b->error, "flash folder path too long");
                sim_board_close(b);
                return -1;
            }
            cfg.path = path;
        }
        if (simflash_open(&b->flash[i], &cfg, &b->power) != 0) {
            snprintf(b->error, sizeof b->error, "%s flash: %s", spec->file[i], b->flash[i].error);
            sim_board_close(b);
            return -1;
        }
        b->flash_count++;
    }
    for (size_t i = 0; i < spec->map_count; i++) {
        const struct region_spec *r = &spec->map[i];
        b->regions[i] = (struct al_region){r->name, r->role, r->function, r->index,
                                           simflash_port(&b->flash[r->flash]), r->addr, r->size,
                                           r->link};
    }
    b->layout = (struct al_layout){spec->kind, b->regions, spec->map_count};
    return 0;
}

int sim_board_close(struct sim_board *b)
{
    int rc = 0;
    for (size_t i = 0; i < b->flash_count; i++)
        rc |= simflash_close(&b->flash[i]);
    b->flash_count = 0;
    return rc ? -1 : 0;
}

struct simflash *sim_board_flash_of(struct sim_board *b, const struct al_region *r)
{
    for (size_t i = 0; i < b->flash_count; i++)
        if (r->flash == simflash_port(&b->flash[i]))
            return &b->flash[i];
    return NULL;
}

int sim_snapshot_take(const struct sim_board *b, struct sim_snapshot *s)
{
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < b->flash_count; i++)
        if (simflash_state_save(&b->flash[i], &s->flash[i]) != 0)
            return -1;
    return 0;
}

int sim_snapshot_restore(struct sim_board *b, const struct sim_snapshot *s)
{
    for (size_t i = 0; i < b->flash_count; i++)
        if (simflash_state_restore(&b->flash[i], &s->flash[i]) != 0)
            return -1;
    return 0;
}

void sim_snapshot_free(struct sim_snapshot *s)
{
    for (size_t i = 0; i < SIM_BOARD_MAX_FLASH; i++)
        simflash_state_free(&s->flash[i]);
}
