/* devconf.c - see devconf.h. */
#include "devconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airlift/version.h"
#include "airlift_common/atomic_file.h"
#include "airlift_common/hex.h"
#include "airlift_host/keys.h"
#include "al_host_crypto.h"
#include "factory.h"

int sim_read_image(const char *path, uint8_t **out, size_t *len, const char *prog)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n;
    int rc = -1;
    if (!f) {
        fprintf(stderr, "%s: cannot open %s: %s\n", prog, path, strerror(errno));
        return -1;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        goto out;
    if (n > 64L * 1024 * 1024) {
        fprintf(stderr, "%s: %s is too large to be an image\n", prog, path);
        goto out;
    }
    buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "%s: cannot read %s\n", prog, path);
        goto out;
    }
    *out = buf;
    *len = (size_t)n;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    fclose(f);
    return rc;
}

void sim_hex(const uint8_t *p, size_t n, char *out)
{
    alc_hex_encode(p, n, out);
}

int sim_unhex(const char *s, uint8_t *out, size_t n)
{
    char digits[2 * 128 + 1]; /* a line may end in '\n': decode the digits before it */
    size_t len = strcspn(s, "\n");
    if (len != 2 * n || len >= sizeof digits)
        return -1;
    memcpy(digits, s, len);
    digits[len] = '\0';
    return alc_hex_decode(digits, out, n) ? 0 : -1;
}

/* device.conf: "board NAME", "platform N", "key HEX65" lines. */
int sim_conf_save(const char *dir, const struct sim_conf *c)
{
    char path[600], h[2 * AL_P256_PUBKEY_SIZE + 1], *text = NULL;
    size_t len = 0;
    int rc;
    snprintf(path, sizeof path, "%s/device.conf", dir);
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return -1;
    fprintf(f, "board %s\nplatform %u\n", c->board, c->platform);
    for (size_t i = 0; i < c->key_count; i++) {
        sim_hex(c->keys[i].pub, AL_P256_PUBKEY_SIZE, h);
        fprintf(f, "key %s\n", h);
    }
    if (c->x509) /* issue 14 (creds) */
        fprintf(f, "server %s\nport %u\ncredential x509\nserver-ca %d\n", c->server, c->port,
                c->server_ca);
    if (c->rpk) /* issue 14 (rpk) */
        fprintf(f, "server %s\nport %u\ncredential rpk\nserver-pubkey %d\n", c->server, c->port,
                c->server_pubkey);
    if (c->identity[0] && !c->x509 && !c->rpk) {
        char p[129];
        sim_hex(c->psk, c->psk_len, p);
        fprintf(f, "server %s\nport %u\nidentity %s\npsk %s\ninsecure %d\n", c->server, c->port,
                c->identity, p, c->insecure);
    }
    rc = fclose(f) != 0 ? -1 : alc_write_file_atomic_mode(path, text, len, 0600);
    free(text);
    return rc;
}

int sim_conf_load(const char *dir, struct sim_conf *c, const char *prog)
{
    char path[600], line[256];
    snprintf(path, sizeof path, "%s/device.conf", dir);
    FILE *f = fopen(path, "r");
    memset(c, 0, sizeof *c);
    if (!f) {
        fprintf(stderr, "%s: %s is not a device (no device.conf; run 'create' first)\n", prog, dir);
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        char *v = strchr(line, ' ');
        if (!v)
            continue;
        *v++ = '\0';
        v[strcspn(v, "\n")] = '\0';
        if (strcmp(line, "board") == 0) {
            snprintf(c->board, sizeof c->board, "%s", v);
        } else if (strcmp(line, "platform") == 0) {
            c->platform = (unsigned)strtoul(v, NULL, 10);
        } else if (strcmp(line, "server") == 0) {
            snprintf(c->server, sizeof c->server, "%s", v);
        } else if (strcmp(line, "port") == 0) {
            c->port = (unsigned)strtoul(v, NULL, 10);
        } else if (strcmp(line, "identity") == 0) {
            snprintf(c->identity, sizeof c->identity, "%s", v);
        } else if (strcmp(line, "credential") == 0) { /* issue 14 (creds) */
            c->x509 = strcmp(v, "x509") == 0;
            c->rpk = strcmp(v, "rpk") == 0; /* issue 14 (rpk) */
        } else if (strcmp(line, "server-pubkey") == 0) {
            c->server_pubkey = strcmp(v, "1") == 0;
        } else if (strcmp(line, "server-ca") == 0) {
            c->server_ca = strcmp(v, "1") == 0;
        } else if (strcmp(line, "insecure") == 0) {
            c->insecure = strcmp(v, "1") == 0;
        } else if (strcmp(line, "psk") == 0) {
            size_t n = strlen(v) / 2;
            if (n == 0 || n > sizeof c->psk || sim_unhex(v, c->psk, n) != 0) {
                fclose(f);
                fprintf(stderr, "%s: %s: bad psk line\n", prog, path);
                return -1;
            }
            c->psk_len = n;
        } else if (strcmp(line, "key") == 0 && c->key_count < SIM_CONF_MAX_KEYS) {
            struct al_key *k = &c->keys[c->key_count];
            if (sim_unhex(v, k->pub, AL_P256_PUBKEY_SIZE) != 0) {
                fclose(f);
                fprintf(stderr, "%s: %s: bad key line\n", prog, path);
                return -1;
            }
            alh_key_id(k->pub, k->id);
            c->key_count++;
        }
    }
    fclose(f);
    return 0;
}

/* Program an image file straight into its slot, as a factory programmer would. */
int sim_factory_image(const struct al_layout *layout, const struct al_keyring *keys,
                      uint16_t platform, const char *path, const char *prog)
{
    uint8_t *img = NULL;
    size_t len;
    struct al_image_header h;
    struct al_verify_params p = {al_host_crypto(), keys, platform};
    int rc = 3;
    if (sim_read_image(path, &img, &len, prog) != 0)
        return 3;
    al_err err = al_image_verify_buffer(&p, img, len, &h);
    if (err != AL_OK) {
        fprintf(stderr, "%s: %s: %s\n", prog, path, al_strerror(err));
        rc = 4;
        goto out;
    }
    const struct al_region *r = al_layout_slot(layout, h.function, h.index);
    if (!r || h.payload_size > al_slot_payload_max(r)) {
        fprintf(stderr, "%s: %s: no slot for %s %u on this board\n", prog, path,
                al_function_name(h.function), h.index);
        rc = 4;
        goto out;
    }
    if (sim_factory_program(r, img, h.header_size, h.payload_size) != 0) {
        fprintf(stderr, "%s: programming %s failed\n", prog, r->name);
        rc = 1;
        goto out;
    }
    char v[AL_VERSION_STR_MAX];
    al_version_format(&h.version, v, sizeof v);
    printf("factory: %s %u %s -> %s\n", al_function_name(h.function), h.index, v, r->name);
    rc = 0;
out:
    free(img);
    return rc;
}
