/*
 * upload.c - image files checked here and sent to airliftd, shared by `airlift flash` and
 * `airlift releases create`: structure, size, payload hash, platform, one image per module,
 * the signature with --key, then POST /v1/images. An image is then named by its id, the
 * SHA-256 of the file (cli_local_image.id), as the server names it.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "al_host_crypto.h"
#include "airlift_host/keys.h"

#define IMAGE_FILE_MAX ((size_t)AL_IMAGE_MAX_FILE)

int cli_load_keys(struct cli *cli, const char *const *paths, size_t n, struct al_key *keys)
{
    char err[256];
    for (size_t i = 0; i < n; i++) {
        alh_key *k = NULL;
        if (alh_key_load(paths[i], &k, err, sizeof err) != 0)
            return cli_error(cli, CLI_EXIT_KEY, "%s", err);
        int bad = alh_key_public_point(k, keys[i].pub);
        alh_key_free(k);
        if (bad)
            return cli_error(cli, CLI_EXIT_KEY, "%s: cannot read its public point", paths[i]);
        alh_key_id(keys[i].pub, keys[i].id);
    }
    return 0;
}

int cli_image_check(struct cli *cli, struct cli_local_image *img, uint16_t platform,
                    const char *owner, const struct al_keyring *ring)
{
    char err[256];
    uint8_t digest[AL_SHA256_SIZE];
    union al_sha256_state st;
    const struct al_crypto *crypto = al_host_crypto();
    enum cli_read_status rs = cli_read_file(img->path, IMAGE_FILE_MAX, &img->file, &img->len,
                                            err, sizeof err);
    if (rs == CLI_READ_TOO_LARGE)
        return cli_error(cli, CLI_EXIT_INVALID, "%s: larger than the most an image file may "
                         "be, %zu bytes (header included): airliftd would refuse it",
                         img->path, IMAGE_FILE_MAX);
    if (rs != CLI_READ_OK)
        return cli_error(cli, CLI_EXIT_IO, "%s: %s", img->path, err);
    al_err e = al_image_parse_header(img->file, img->len, &img->h);
    if (e != AL_OK)
        return cli_error(cli, CLI_EXIT_INVALID, "%s: not a valid airlift image: %s", img->path,
                         al_strerror(e));
    if (img->len != (size_t)img->h.header_size + img->h.payload_size)
        return cli_error(cli, CLI_EXIT_INVALID, "%s: %zu bytes, the header says %u: truncated "
                         "or padded", img->path, img->len, img->h.header_size + img->h.payload_size);
    crypto->sha256_init(&st);
    crypto->sha256_update(&st, img->file + img->h.header_size, img->h.payload_size);
    crypto->sha256_final(&st, digest);
    if (memcmp(digest, img->h.payload_sha256, sizeof digest))
        return cli_error(cli, CLI_EXIT_INVALID, "%s: payload SHA-256 does not match its header: "
                         "the file is corrupt", img->path);
    if (img->h.platform != platform)
        return cli_error(cli, CLI_EXIT_INVALID, "%s: built for platform %u; %s is "
                         "platform %u", img->path, img->h.platform, owner, platform);
    if (ring && ring->count) {
        struct al_verify_params vp = {crypto, ring, platform};
        struct al_image_header h;
        if ((e = al_image_verify_buffer(&vp, img->file, img->len, &h)) != AL_OK)
            return cli_error(cli, CLI_EXIT_INVALID, "%s: signature check failed: %s", img->path,
                             al_strerror(e));
    }
    alc_hex_encode(img->h.payload_sha256, AL_SHA256_SIZE, img->sha256);
    crypto->sha256_init(&st);
    crypto->sha256_update(&st, img->file, img->len);
    crypto->sha256_final(&st, digest);
    alc_hex_encode(digest, AL_SHA256_SIZE, img->id); /* what the server names it by */
    return 0;
}

int cli_images_send(struct cli *cli, const struct cli_server *srv, struct cli_local_image *imgs,
                    size_t n, uint16_t platform, const char *owner, const struct al_keyring *ring)
{
    json_t *reply = NULL;
    long status = 0;
    int rc;
    for (size_t i = 0; i < n; i++) {
        if ((rc = cli_image_check(cli, &imgs[i], platform, owner, ring)) != 0)
            return rc;
        for (size_t k = 0; k < i; k++)
            if (imgs[k].h.function == imgs[i].h.function &&
                (imgs[k].h.function == AL_FN_BOOTLOADER || imgs[k].h.index == imgs[i].h.index))
                return cli_usage_error(cli, "%s and %s are both %s %u: one image per module",
                                       imgs[k].path, imgs[i].path,
                                       al_function_name(imgs[i].h.function), imgs[i].h.index);
        if ((rc = cli_api(cli, srv, "POST", "/v1/images", NULL, imgs[i].file, imgs[i].len,
                          "application/octet-stream", &status, &reply)) != 0)
            return rc;
        if (status != 200 && status != 201) {
            rc = cli_api_error(cli, srv, status, reply);
            json_decref(reply);
            return rc;
        }
        json_decref(reply);
        reply = NULL;
    }
    return 0;
}

void cli_images_free(struct cli_local_image *imgs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(imgs[i].file);
        imgs[i].file = NULL;
    }
}
