/*
 * devconf.h - what airlift-device and airlift-fleet share about a simulated device: its
 * settings file (device.conf, docs/simulated-device.md), hex, reading an image file, and
 * programming an image file into its slot as a factory programmer would.
 */
#ifndef AIRLIFT_SIM_DEVCONF_H
#define AIRLIFT_SIM_DEVCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "airlift/image.h"
#include "airlift/layout.h"

#define SIM_CONF_MAX_KEYS 4

/* A device's settings: its board, platform and trusted keys, and (once provisioned) how it
 * reaches airliftd. */
struct sim_conf {
    char board[32];
    unsigned platform;
    struct al_key keys[SIM_CONF_MAX_KEYS];
    size_t key_count;
    /* Set by 'provision': how to reach airliftd. */
    char server[64];     /* numeric IPv4 address */
    unsigned port;
    char identity[64];
    uint8_t psk[64];
    size_t psk_len;
    bool insecure;
    /* issue 14 (creds): an X.509 device: 'provision --cert/--key' copied them into DIR as
     * device.crt and device.key (0600), and the server's CA as server-ca.pem if given. */
    bool x509;
    bool server_ca;
    /* issue 14 (rpk): a raw public key device: 'provision --pubkey/--key' copied them into
     * DIR as device.pub and device.key (0600), and the server's key it pins as server.pub
     * if given (--server-pubkey). */
    bool rpk;
    bool server_pubkey;
};

/* Write DIR/device.conf (atomically: a temporary file renamed). Returns 0 or -1. */
int sim_conf_save(const char *dir, const struct sim_conf *c);
/* Read DIR/device.conf into c (zeroed first). Returns 0, or -1 after printing to stderr,
 * prefixed by prog, what is wrong (no such file, a bad psk or key line). */
int sim_conf_load(const char *dir, struct sim_conf *c, const char *prog);

/* n bytes as 2n lowercase hex digits and a NUL into out (2n + 1 bytes). */
void sim_hex(const uint8_t *p, size_t n, char *out);
/* Exactly 2n hex digits of s (followed by NUL or a newline) into n bytes. Returns 0 or -1. */
int sim_unhex(const char *s, uint8_t *out, size_t n);

/* A whole file (at most 64 MiB) into a malloc'd buffer. Returns 0, or -1 after printing
 * why to stderr, prefixed by prog. */
int sim_read_image(const char *path, uint8_t **out, size_t *len, const char *prog);

/*
 * Verify the image file at path for a device of `platform` trusting `keys`, and program it
 * straight into its slot of layout. Prints "factory: FUNCTION INDEX VERSION -> SLOT" on
 * success, a message naming what is wrong on stderr otherwise. Returns airlift-device's
 * exit codes: 0 ok, 1 a flash operation failed, 3 the file cannot be read, 4 the image is
 * refused (bad signature, wrong platform, no slot for it on this board).
 */
int sim_factory_image(const struct al_layout *layout, const struct al_keyring *keys,
                      uint16_t platform, const char *path, const char *prog);

#endif
