/*
 * harness.h - test support for the install engine: a simulated board, a signing key, images
 * built from the real Electron firmware, and a device that can be "power cycled".
 */
#ifndef AIRLIFT_TEST_HARNESS_H
#define AIRLIFT_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "airlift/install.h"
#include "airlift_host/keys.h"
#include "board.h"

struct test_image {
    uint8_t *bytes; /* image file */
    size_t len;
    struct al_image_header hdr;
};

struct harness {
    struct sim_board board;
    alh_key *key;
    struct al_key trusted;
    struct al_keyring keyring;
    uint8_t scratch[1024];
    struct al_device dev;
    uint16_t platform;
};

/* Open a board ("electron" or "pages4k") in memory with a fresh signing key. */
void harness_open(struct harness *h, const char *board);
void harness_close(struct harness *h);

/* Read a file of the real firmware set (relative to AIRLIFT_FIRMWARE_DIR); aborts on error. */
uint8_t *harness_firmware(const char *rel, size_t *len);

/*
 * Build a signed image for the slot of (function, index) of the board: version string,
 * security counter, payload (copied), optional deps "F:I:VER" separated by spaces.
 */
void harness_image(struct harness *h, struct test_image *img, uint8_t function, uint8_t index,
                   const char *version, uint32_t counter, const uint8_t *payload, size_t len,
                   const char *deps);
void harness_image_free(struct test_image *img);

/* Factory-program an image straight into its slot (or bootloader copy A). */
void harness_factory(struct harness *h, const struct test_image *img);

/* (Re)open the device on the board: what a reset does to RAM. */
al_err harness_device_open(struct harness *h);

/* Download an image into staging in chunks of `chunk` bytes and request its install. */
al_err harness_stage(struct harness *h, const struct test_image *img, size_t chunk);

/* Region of a module on the board. */
const struct al_region *harness_slot(struct harness *h, uint8_t function, uint8_t index);

#endif
