/*
 * airlift/port.h - what a platform provides to libairlift.
 *
 * The device library touches hardware only through these tables of function pointers, like
 * MCUboot's flash_area_* contract. A port fills them in; the library never looks behind ctx.
 * The comment above each member states its contract; docs/porting.md walks through a port
 * hook by hook. Filled in for the host: the simulated NOR flash (sim/simflash.c) and mbedTLS
 * crypto (ports/host/); for the nRF52840: examples/nrf52840-minimal/port_nrf52840.c.
 */
#ifndef AIRLIFT_PORT_H
#define AIRLIFT_PORT_H

#include <stddef.h>
#include <stdint.h>

#include "airlift/error.h"

/* A run of equally sized erase sectors; a flash's geometry is a list of runs, so irregular
 * parts like the STM32F205 (4 x 16 KiB, 1 x 64 KiB, 7 x 128 KiB) are described exactly. */
struct al_sector_run {
    uint32_t count;
    uint32_t size;
};

/*
 * One flash device (internal flash, an external SPI NOR, ...). Addresses are absolute:
 * the device spans [base, base + sum of sector sizes).
 *
 * read:    any address and length inside the device.
 * program: addr and len are multiples of write_size; NOR semantics: programming can only
 *          clear bits (1 -> 0), so the target must be erased or already hold the same bits.
 * erase:   addr is the start of a sector; sets the whole sector to erased_value.
 * Each returns AL_OK or an error (AL_ERR_FLASH, or AL_ERR_POWER_LOSS in the simulator).
 * A power cut may leave a program or erase partly done; the library is written for that.
 */
struct al_flash {
    void *ctx;
    al_err (*read)(void *ctx, uint32_t addr, void *buf, size_t len);
    al_err (*program)(void *ctx, uint32_t addr, const void *buf, size_t len);
    al_err (*erase)(void *ctx, uint32_t addr);
    uint32_t base;
    uint32_t write_size; /* program granularity in bytes, a power of two */
    uint8_t erased_value;
    const struct al_sector_run *sectors;
    size_t sector_run_count;
};

/* Size of a sector that starts at addr, or 0 if addr is not a sector start of this flash. */
uint32_t al_flash_sector_size(const struct al_flash *flash, uint32_t addr);
/* Total size of the device in bytes. */
uint32_t al_flash_size(const struct al_flash *flash);

/*
 * Crypto. SHA-256 is streamed through caller-owned state of sha256_ctx_size bytes (at most
 * AL_SHA256_CTX_MAX, aligned for any type), so the library needs no heap.
 * ecdsa_p256_verify: pub is the 65-byte uncompressed SEC1 point (0x04 || X || Y), sig is
 * r || s (32 bytes each, big-endian). Returns AL_OK or AL_ERR_BAD_SIGNATURE.
 */
#define AL_SHA256_CTX_MAX 256
#define AL_SHA256_SIZE 32
#define AL_P256_PUBKEY_SIZE 65
#define AL_P256_SIG_SIZE 64

struct al_crypto {
    size_t sha256_ctx_size;
    void (*sha256_init)(void *state);
    void (*sha256_update)(void *state, const void *data, size_t len);
    void (*sha256_final)(void *state, uint8_t out[AL_SHA256_SIZE]);
    al_err (*ecdsa_p256_verify)(const uint8_t pub[AL_P256_PUBKEY_SIZE],
                                const uint8_t hash[AL_SHA256_SIZE],
                                const uint8_t sig[AL_P256_SIG_SIZE]);
};

/* Caller-owned SHA-256 state storage, aligned for any crypto library's context. */
union al_sha256_state {
    uint8_t bytes[AL_SHA256_CTX_MAX];
    uint64_t align_u64;
    void *align_ptr;
    long double align_ld;
};

/* Why the device (re)started; passed to the boot logic so a revert can say why. */
enum al_reset_reason {
    AL_RESET_POWER_ON = 0,
    AL_RESET_SOFTWARE = 1, /* the firmware asked for it (e.g. to install) */
    AL_RESET_WATCHDOG = 2, /* the firmware hung */
    AL_RESET_FAULT = 3,    /* the firmware crashed (hard fault) */
};

/* Clock and reset. now_ms is monotonic milliseconds; reset does not return on hardware
 * (the simulator may return and unwind). */
struct al_system {
    void *ctx;
    uint64_t (*now_ms)(void *ctx);
    void (*reset)(void *ctx);
};

#endif
