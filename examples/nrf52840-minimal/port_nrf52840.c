/*
 * port_nrf52840.c - libairlift's port hooks on the nRF52840 (include/airlift/port.h,
 * docs/porting.md): the internal flash through the NVMC, a millisecond clock on SysTick,
 * reset through the Cortex-M AIRCR. Crypto and transport are stubs that fail safe (every
 * signature refused, the link down): a product wires in the chip's CryptoCell-310 or a
 * software SHA-256 and P-256, and its modem's CoAP/DTLS stack.
 *
 * Register addresses: nRF52840 Product Specification v1.7, NVMC (4.3) and the Cortex-M4
 * System Control Block. While the SoftDevice is enabled it owns the NVMC: flash operations
 * must then go through sd_flash_write / sd_flash_page_erase instead.
 */
#include <stddef.h>
#include <stdint.h>

#include "port.h"

#define KiB 1024u

/* ---- flash: NVMC ------------------------------------------------------------------- */

#define NVMC_READY (*(volatile uint32_t *)0x4001E400u)
#define NVMC_CONFIG (*(volatile uint32_t *)0x4001E504u)
#define NVMC_ERASEPAGE (*(volatile uint32_t *)0x4001E508u)
#define NVMC_CONFIG_REN 0u /* read only */
#define NVMC_CONFIG_WEN 1u /* write enabled */
#define NVMC_CONFIG_EEN 2u /* erase enabled */
#define FLASH_SIZE (1024u * KiB)

static void nvmc_wait(void)
{
    while ((NVMC_READY & 1u) == 0)
        ;
}

/* The flash is memory mapped from address 0: read it byte by byte through a volatile
 * pointer (address 0 is a valid flash address here, not a null pointer to the compiler). */
static al_err nrf_flash_read(void *ctx, uint32_t addr, void *buf, size_t len)
{
    (void)ctx;
    uint8_t *out = buf;
    if (addr > FLASH_SIZE || len > FLASH_SIZE - addr)
        return AL_ERR_OUT_OF_RANGE;
    for (size_t i = 0; i < len; i++)
        out[i] = *(const volatile uint8_t *)(uintptr_t)(addr + i);
    return AL_OK;
}

/* Program 32-bit words (the NVMC's unit): addr and len are multiples of 4 (write_size). */
static al_err nrf_flash_program(void *ctx, uint32_t addr, const void *buf, size_t len)
{
    (void)ctx;
    const uint8_t *in = buf;
    if ((addr | len) & 3u)
        return AL_ERR_ALIGNMENT;
    if (addr > FLASH_SIZE || len > FLASH_SIZE - addr)
        return AL_ERR_OUT_OF_RANGE;
    NVMC_CONFIG = NVMC_CONFIG_WEN;
    nvmc_wait();
    for (size_t i = 0; i < len; i += 4) {
        /* buf may be unaligned: assemble the word from bytes (little endian). */
        uint32_t w = (uint32_t)in[i] | (uint32_t)in[i + 1] << 8 | (uint32_t)in[i + 2] << 16 |
                     (uint32_t)in[i + 3] << 24;
        *(volatile uint32_t *)(uintptr_t)(addr + i) = w;
        nvmc_wait();
    }
    NVMC_CONFIG = NVMC_CONFIG_REN;
    nvmc_wait();
    return AL_OK;
}

/* Erase the 4 KiB page at addr (to 0xFF). */
static al_err nrf_flash_erase(void *ctx, uint32_t addr)
{
    (void)ctx;
    if (addr % (4 * KiB) != 0 || addr >= FLASH_SIZE)
        return AL_ERR_ALIGNMENT;
    NVMC_CONFIG = NVMC_CONFIG_EEN;
    nvmc_wait();
    NVMC_ERASEPAGE = addr;
    nvmc_wait();
    NVMC_CONFIG = NVMC_CONFIG_REN;
    nvmc_wait();
    return AL_OK;
}

static const struct al_sector_run nrf_pages[] = {{256, 4 * KiB}};
static const struct al_flash nrf_flash = {
    .ctx = NULL,
    .read = nrf_flash_read,
    .program = nrf_flash_program,
    .erase = nrf_flash_erase,
    .base = 0,
    .write_size = 4,
    .erased_value = 0xFF,
    .sectors = nrf_pages,
    .sector_run_count = 1,
};

/* ---- the layout: sim/board.c's nrf52840 board, region for region ----------------------- */

static const struct al_region nrf_regions[] = {
    {"mbr", AL_REGION_BOOT0, 0, 0, &nrf_flash, 0x00000000, 4 * KiB, 0},
    {"softdevice", AL_REGION_SLOT, AL_FN_RADIO, 1, &nrf_flash, 0x00001000, 152 * KiB, 0x00001000},
    {"system-1", AL_REGION_SLOT, AL_FN_SYSTEM, 1, &nrf_flash, 0x00027000, 200 * KiB, 0x00027000},
    {"application-1", AL_REGION_SLOT, AL_FN_APPLICATION, 1, &nrf_flash, 0x00059000, 200 * KiB,
     0x00059000},
    {"staging", AL_REGION_STAGING, 0, 0, &nrf_flash, 0x0008B000, 200 * KiB, 0},
    {"backup", AL_REGION_BACKUP, 0, 0, &nrf_flash, 0x000BD000, 200 * KiB, 0},
    {"journal-a", AL_REGION_JOURNAL_A, 0, 0, &nrf_flash, 0x000F0000, 4 * KiB, 0},
    {"journal-b", AL_REGION_JOURNAL_B, 0, 0, &nrf_flash, 0x000F1000, 4 * KiB, 0},
    {"bootloader-b", AL_REGION_BOOTLOADER_B, AL_FN_BOOTLOADER, 0, &nrf_flash, 0x000F2000,
     24 * KiB, 0x000F8000},
    {"bootloader-a", AL_REGION_BOOTLOADER_A, AL_FN_BOOTLOADER, 0, &nrf_flash, 0x000F8000,
     24 * KiB, 0x000F8000},
};
const struct al_layout nrf_layout = {"nrf52840", nrf_regions,
                                     sizeof nrf_regions / sizeof nrf_regions[0]};

/* ---- crypto: stubs ------------------------------------------------------------------- */

/* A stand-in hash (all zeros) and a verifier that refuses everything: with these the
 * device installs nothing, which is the safe failure. Replace both before shipping. */
static void stub_sha256_init(void *state) { *(uint8_t *)state = 0; }
static void stub_sha256_update(void *state, const void *data, size_t len)
{
    (void)state, (void)data, (void)len;
}
static void stub_sha256_final(void *state, uint8_t out[AL_SHA256_SIZE])
{
    (void)state;
    for (size_t i = 0; i < AL_SHA256_SIZE; i++)
        out[i] = 0;
}
static al_err stub_verify(const uint8_t pub[AL_P256_PUBKEY_SIZE], const uint8_t hash[AL_SHA256_SIZE],
                          const uint8_t sig[AL_P256_SIG_SIZE])
{
    (void)pub, (void)hash, (void)sig;
    return AL_ERR_BAD_SIGNATURE;
}
const struct al_crypto nrf_crypto = {1, stub_sha256_init, stub_sha256_update, stub_sha256_final,
                                     stub_verify};

/* Put the fleet's signing key here: key id (first 8 bytes of the SHA-256 of the point) and
 * the 65-byte uncompressed point (docs/image-format.md). */
static const struct al_key nrf_key_list[] = {{{0}, {0x04}}};
const struct al_keyring nrf_keys = {nrf_key_list, 1};

/* ---- transport: stub ------------------------------------------------------------------ */

static al_err stub_exchange(void *ctx, uint8_t method, const char *path, const uint8_t *req,
                            size_t req_len, uint8_t *resp, size_t resp_cap, size_t *resp_len,
                            uint8_t *code)
{
    (void)ctx, (void)method, (void)path, (void)req, (void)req_len, (void)resp, (void)resp_cap;
    *resp_len = 0;
    *code = 0;
    return AL_ERR_TRANSPORT;
}
static al_err stub_fetch(void *ctx, const char *name, uint32_t offset, uint32_t size,
                         uint32_t until, uint8_t *buf, size_t cap, size_t *got)
{
    (void)ctx, (void)name, (void)offset, (void)size, (void)until, (void)buf, (void)cap;
    *got = 0;
    return AL_ERR_TRANSPORT;
}
const struct al_transport nrf_transport = {NULL, stub_exchange, stub_fetch, NULL};

/* ---- clock and reset ------------------------------------------------------------------ */

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SCB_AIRCR (*(volatile uint32_t *)0xE000ED0Cu)
#define CPU_HZ 64000000u

static volatile uint32_t ms_low, ms_high;

void SysTick_Handler(void);
/* SysTick, every millisecond: count. */
void SysTick_Handler(void)
{
    if (++ms_low == 0)
        ms_high++;
}

void nrf_clock_start(void)
{
    SYST_RVR = CPU_HZ / 1000u - 1u;
    SYST_CVR = 0;
    SYST_CSR = 7u; /* processor clock, interrupt, enable */
}

/* Monotonic milliseconds: read high, low, high again so a carry between them is seen. */
static uint64_t nrf_now_ms(void *ctx)
{
    (void)ctx;
    uint32_t hi, lo;
    do {
        hi = ms_high;
        lo = ms_low;
    } while (hi != ms_high);
    return (uint64_t)hi << 32 | lo;
}

/* System reset request (AIRCR: VECTKEY 0x05FA, SYSRESETREQ); does not return. */
static void nrf_reset(void *ctx)
{
    (void)ctx;
    __asm volatile("dsb" ::: "memory");
    SCB_AIRCR = 0x05FA0004u;
    __asm volatile("dsb" ::: "memory");
    for (;;)
        ;
}
const struct al_system nrf_system = {NULL, nrf_now_ms, nrf_reset};

/* ---- the engine's configuration, and stopping ------------------------------------------ */

static uint8_t nrf_scratch[1024];
const struct al_device_config nrf_device_config = {
    .layout = &nrf_layout,
    .crypto = &nrf_crypto,
    .keys = &nrf_keys,
    .platform = NRF_PLATFORM_ID,
    .max_trial_boots = 0, /* the default */
    .scratch = nrf_scratch,
    .scratch_len = sizeof nrf_scratch,
};

void nrf_halt(void)
{
    for (;;)
        __asm volatile("wfi");
}
