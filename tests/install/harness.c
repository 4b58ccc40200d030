/* harness.c - see harness.h. Aborts loudly on setup errors: they are bugs in the test. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airlift_host/image_build.h"
#include "al_host_crypto.h"
#include "factory.h"

#define DIE(...) do { fprintf(stderr, "harness: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

void harness_open(struct harness *h, const char *board)
{
    char err[256];
    memset(h, 0, sizeof *h);
    if (sim_board_open(&h->board, board, NULL) != 0)
        DIE("cannot open board %s", board);
    if (alh_key_generate(&h->key, err, sizeof err) != 0)
        DIE("%s", err);
    if (alh_key_public_point(h->key, h->trusted.pub) != 0)
        DIE("no public point");
    alh_key_id(h->trusted.pub, h->trusted.id);
    h->keyring.keys = &h->trusted;
    h->keyring.count = 1;
    h->platform = 10;
}

void harness_close(struct harness *h)
{
    sim_board_close(&h->board);
    alh_key_free(h->key);
}

uint8_t *harness_firmware(const char *rel, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", AIRLIFT_FIRMWARE_DIR, rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        DIE("cannot open %s", path);
    if (fseek(f, 0, SEEK_END) != 0)
        DIE("cannot seek %s", path);
    long n = ftell(f);
    rewind(f);
    uint8_t *buf = malloc((size_t)n);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
        DIE("cannot read %s", path);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

const struct al_region *harness_slot(struct harness *h, uint8_t function, uint8_t index)
{
    const struct al_region *r = al_layout_slot(&h->board.layout, function, index);
    if (!r)
        DIE("board has no slot for function %u index %u", function, index);
    return r;
}

void harness_image(struct harness *h, struct test_image *img, uint8_t function, uint8_t index,
                   const char *version, uint32_t counter, const uint8_t *payload, size_t len,
                   const char *deps)
{
    struct al_image_header t;
    char err[256];
    memset(&t, 0, sizeof t);
    t.function = function;
    t.index = function == AL_FN_BOOTLOADER ? 0 : index;
    t.platform = h->platform;
    t.security_counter = counter;
    t.link_address = harness_slot(h, function, index)->link_address;
    if (al_version_parse(version, strlen(version), &t.version) != AL_OK)
        DIE("bad version %s", version);
    for (const char *p = deps; p && *p;) {
        unsigned fn, ix;
        char ver[AL_VERSION_STR_MAX];
        int used = 0;
        if (sscanf(p, " %u:%u:%49[^ ]%n", &fn, &ix, ver, &used) != 3 || t.dep_count >= AL_IMAGE_MAX_DEPS)
            DIE("bad deps '%s'", deps);
        struct al_dependency *d = &t.deps[t.dep_count++];
        d->function = (uint8_t)fn;
        d->index = (uint8_t)ix;
        if (al_version_parse(ver, strlen(ver), &d->min_version) != AL_OK)
            DIE("bad dep version %s", ver);
        p += used;
        while (*p == ' ')
            p++;
    }
    memset(img, 0, sizeof *img);
    if (alh_image_build(&t, payload, len, h->key, &img->bytes, &img->len, err, sizeof err) != 0)
        DIE("%s", err);
    if (al_image_parse_header(img->bytes, img->len, &img->hdr) != AL_OK)
        DIE("built image does not parse");
}

void harness_image_free(struct test_image *img)
{
    free(img->bytes);
    memset(img, 0, sizeof *img);
}

void harness_factory(struct harness *h, const struct test_image *img)
{
    const struct al_region *r = harness_slot(h, img->hdr.function, img->hdr.index);
    if (sim_factory_program(r, img->bytes, img->hdr.header_size, img->hdr.payload_size) != 0)
        DIE("factory programming of %s failed", r->name);
}

/*
 * The campaign boots thousands of times, verifying the same few signatures again and again.
 * ECDSA verification is a pure function of (key, digest, signature), so remembering its
 * answers changes nothing but the time; hashing still runs for real every time.
 */
#define ECDSA_MEMO_SIZE 64
struct ecdsa_memo {
    uint8_t in[AL_P256_PUBKEY_SIZE + AL_SHA256_SIZE + AL_P256_SIG_SIZE];
    al_err result;
    bool used;
};
static struct ecdsa_memo memo[ECDSA_MEMO_SIZE];
static size_t memo_next;

static al_err memo_verify(const uint8_t pub[AL_P256_PUBKEY_SIZE], const uint8_t hash[AL_SHA256_SIZE],
                          const uint8_t sig[AL_P256_SIG_SIZE])
{
    uint8_t in[sizeof memo[0].in];
    memcpy(in, pub, AL_P256_PUBKEY_SIZE);
    memcpy(in + AL_P256_PUBKEY_SIZE, hash, AL_SHA256_SIZE);
    memcpy(in + AL_P256_PUBKEY_SIZE + AL_SHA256_SIZE, sig, AL_P256_SIG_SIZE);
    for (size_t i = 0; i < ECDSA_MEMO_SIZE; i++)
        if (memo[i].used && memcmp(memo[i].in, in, sizeof in) == 0)
            return memo[i].result;
    al_err result = al_host_crypto()->ecdsa_p256_verify(pub, hash, sig);
    struct ecdsa_memo *m = &memo[memo_next++ % ECDSA_MEMO_SIZE];
    memcpy(m->in, in, sizeof in);
    m->result = result;
    m->used = true;
    return result;
}

static const struct al_crypto *memo_crypto(void)
{
    static struct al_crypto c;
    if (c.ecdsa_p256_verify == NULL) {
        c = *al_host_crypto();
        c.ecdsa_p256_verify = memo_verify;
    }
    return &c;
}

al_err harness_device_open(struct harness *h)
{
    struct al_device_config cfg = {
        .layout = &h->board.layout,
        .crypto = memo_crypto(),
        .keys = &h->keyring,
        .platform = h->platform,
        .max_trial_boots = 3,
        .scratch = h->scratch,
        .scratch_len = sizeof h->scratch,
    };
    return al_device_open(&h->dev, &cfg);
}

al_err harness_stage(struct harness *h, const struct test_image *img, size_t chunk)
{
    al_err err = al_stage_begin(&h->dev, (uint32_t)img->len);
    for (size_t off = 0; err == AL_OK && off < img->len; off += chunk) {
        size_t n = img->len - off < chunk ? img->len - off : chunk;
        err = al_stage_write(&h->dev, (uint32_t)off, img->bytes + off, n);
    }
    if (err == AL_OK)
        err = al_install_request(&h->dev);
    return err;
}
