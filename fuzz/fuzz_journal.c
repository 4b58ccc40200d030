/*
 * fuzz_journal.c - the install engine must survive any journal contents. The input becomes
 * up to four 252-byte record bodies, each given a valid magic and CRC (so the fuzzer reaches
 * the engine's state handling, not just the CRC check), written into journal A of a
 * simulated Electron with no firmware; then the device opens, boots twice, reports its
 * modules and confirms. Any crash, out-of-bounds access or hang is a bug.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "airlift/install.h"
#include "al_host_crypto.h"
#include "board.h"
#include "install_priv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct sim_board board;
    static bool opened;
    static struct sim_snapshot blank;
    static const struct al_keyring ring = {NULL, 0};
    static uint8_t scratch[1024];
    if (!opened) {
        if (sim_board_open(&board, "electron", NULL) != 0)
            abort();
        sim_snapshot_take(&board, &blank);
        opened = true;
    }
    sim_snapshot_restore(&board, &blank);
    sim_power_on(&board.power);

    const struct al_region *ja = al_layout_find(&board.layout, AL_REGION_JOURNAL_A);
    for (size_t rec = 0; rec < 4 && size > 0; rec++) {
        uint8_t r[AL_JOURNAL_RECORD_SIZE];
        size_t n = size < AL_JOURNAL_RECORD_SIZE - 4 ? size : AL_JOURNAL_RECORD_SIZE - 4;
        memset(r, 0, sizeof r);
        memcpy(r, data, n);
        data += n;
        size -= n;
        memcpy(r, "ALJ1", 4);
        uint32_t crc = al_crc32(0, r, AL_JOURNAL_RECORD_SIZE - 4);
        for (int i = 0; i < 4; i++)
            r[AL_JOURNAL_RECORD_SIZE - 4 + i] = (uint8_t)(crc >> (8 * i));
        if (ja->flash->program(ja->flash->ctx, ja->addr + (uint32_t)rec * AL_JOURNAL_RECORD_SIZE, r,
                               sizeof r) != AL_OK)
            abort();
    }

    struct al_device dev;
    struct al_device_config cfg = {&board.layout, al_host_crypto(), &ring, 10, 3, scratch, sizeof scratch};
    struct al_boot_info info;
    struct al_module_status mods[AL_MAX_MODULES];
    size_t count;
    if (al_device_open(&dev, &cfg) != AL_OK)
        return 0;
    for (int boot = 0; boot < 2; boot++)
        (void)al_boot(&dev, AL_RESET_POWER_ON, &info);
    (void)al_modules(&dev, mods, AL_MAX_MODULES, &count);
    (void)al_confirm(&dev);
    (void)al_boot_state(&dev);
    return 0;
}
