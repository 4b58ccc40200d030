/*
 * cmd_releases.c - airlift releases create | list | show: a product's versions, each a set
 * of images (one per module) for a channel, which rollouts then bring to the fleet.
 *
 * `releases create` takes image files, checked and uploaded exactly as `airlift flash` does
 * them (cli/upload.c), or the payload hashes of images the server already holds.
 */
#include "cli.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define MAX_IMAGES 8 /* the API's bound on a release, as on an update */

enum { OPT_CHANNEL, OPT_NOTES, OPT_KEY };

/* What an image is, from the API's image object (or one built from a local header). */
static void print_image(json_t *img, const char *sha, const char *from)
{
    printf("  %-11s %2lld  %-12s %.12s%s%s\n", img ? cli_jstr(img, "function") : "?",
           img ? cli_jint(img, "index") : 0, img ? cli_jstr(img, "version") : "?", sha,
           from[0] ? "  " : "", from);
}

/* GET /v1/images/{sha}; *img NULL if the server holds none (404), else an exit code. */
static int image_get(struct cli *cli, const struct cli_server *srv, const char *sha,
                     json_t **img)
{
    char path[128];
    long status = 0;
    snprintf(path, sizeof path, "/v1/images/%s", sha);
    int rc = cli_api(cli, srv, "GET", path, NULL, NULL, 0, NULL, &status, img);
    if (rc == 0 && status == 404) {
        json_decref(*img);
        *img = NULL;
    } else if (rc == 0 && status != 200) {
        rc = cli_api_error(cli, srv, status, *img);
        json_decref(*img);
        *img = NULL;
    }
    return rc;
}

static int releases_create(struct cli *cli, const struct cli_command *self, int argc,
                           char **argv)
{
    static const struct cli_option options[] = {
        {"channel", 0, true, OPT_CHANNEL}, {"notes", 0, true, OPT_NOTES},
        {"key", 'k', true, OPT_KEY}, {NULL, 0, false, 0}};
    struct cli_local_image files[MAX_IMAGES];
    const char *args[MAX_IMAGES], *key_paths[MAX_IMAGES], *value, *product = NULL,
               *version = NULL, *channel = NULL, *notes = NULL;
    char hashes[MAX_IMAGES][2 * AL_SHA256_SIZE + 1], path[200] = "/v1/products", owner[96];
    json_t *info[MAX_IMAGES] = {NULL}, *pr = NULL, *req = NULL, *reply = NULL;
    struct al_key keys[MAX_IMAGES];
    struct al_keyring ring = {keys, 0};
    struct al_version ver;
    struct cli_server srv;
    struct cli_parser p;
    size_t n = 0, nfiles = 0, nkeys = 0, file_of[MAX_IMAGES];
    long status = 0;
    int opt, rc = CLI_EXIT_USAGE;
    memset(files, 0, sizeof files);
    cli_parser_init(&p, cli, options, argc, argv);
    while ((opt = cli_parser_next(&p, &value)) != CLI_ARG_DONE) {
        switch (opt) {
        case OPT_CHANNEL: channel = value; break;
        case OPT_NOTES: notes = value; break;
        case OPT_KEY:
            if (nkeys == MAX_IMAGES) {
                rc = cli_usage_error(cli, "at most %d --key", MAX_IMAGES);
                goto out;
            }
            key_paths[nkeys++] = value;
            break;
        case CLI_ARG_HELP: cli_print_help(self, cli->path); rc = 0; goto out;
        case CLI_ARG_POSITIONAL:
            if (!product) {
                product = value;
            } else if (!version) {
                version = value;
            } else if (n == MAX_IMAGES) {
                rc = cli_usage_error(cli, "at most %d images in one release", MAX_IMAGES);
                goto out;
            } else {
                args[n++] = value;
            }
            break;
        default: goto out;
        }
    }
    if (!n) {
        rc = cli_usage_error(cli, "usage: airlift releases create PRODUCT VERSION IMAGE... "
                             "(see --help)");
        goto out;
    }
    if (!cli_parse_version(version, &ver)) {
        rc = cli_usage_error(cli, "version '%s': expected a semantic version such as 1.2.0 or "
                             "2.0.0-rc.1", version);
        goto out;
    }
    if ((rc = cli_path_add(cli, path, sizeof path, "product", product)) != 0 ||
        (rc = cli_load_keys(cli, key_paths, nkeys, keys)) != 0 ||
        (rc = cli_server_load(cli, &srv)) != 0 ||
        (rc = cli_api_ok(cli, &srv, "GET", path, NULL, &pr)) != 0)
        goto out;
    ring.count = nkeys;
    uint16_t platform = (uint16_t)cli_jint(pr, "platform");
    snprintf(owner, sizeof owner, "product %s", cli_jstr(pr, "name"));

    /* A payload hash of an image the server holds, unless a file has that name. */
    for (size_t i = 0; i < n; i++) {
        file_of[i] = MAX_IMAGES;
        if (!alc_is_hex(args[i], ALC_SHA256_HEX) || cli_path_exists(args[i]) == 1) {
            file_of[i] = nfiles;
            files[nfiles++].path = args[i];
            continue;
        }
        for (size_t k = 0; k < sizeof hashes[i]; k++)
            hashes[i][k] = (char)tolower((unsigned char)args[i][k]);
        if ((rc = image_get(cli, &srv, hashes[i], &info[i])) != 0)
            goto out;
        if (!info[i]) {
            rc = cli_error(cli, CLI_EXIT_SERVER, "%s: no such file, and airliftd holds no image "
                           "with this payload hash: give the image file instead", args[i]);
            goto out;
        }
        if (cli_jint(info[i], "platform") != platform) {
            rc = cli_error(cli, CLI_EXIT_INVALID, "image %.12s is built for platform %lld; %s "
                           "is platform %u", hashes[i], cli_jint(info[i], "platform"), owner,
                           platform);
            goto out;
        }
    }
    if ((rc = cli_images_send(cli, &srv, files, nfiles, platform, owner, &ring)) != 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        char vbuf[AL_VERSION_STR_MAX];
        if (file_of[i] == MAX_IMAGES)
            continue;
        const struct cli_local_image *f = &files[file_of[i]];
        memcpy(hashes[i], f->id, sizeof hashes[i]); /* the image id: exactly this file */
        info[i] = json_pack("{s:s, s:i, s:s}", "function", al_function_name(f->h.function),
                            "index", f->h.index, "version", cli_version_str(&f->h.version, vbuf));
    }
    /* One image per module, files and hashes together. */
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < i; k++)
            if (!strcmp(cli_jstr(info[i], "function"), cli_jstr(info[k], "function")) &&
                (!strcmp(cli_jstr(info[i], "function"), "bootloader") ||
                 cli_jint(info[i], "index") == cli_jint(info[k], "index"))) {
                rc = cli_usage_error(cli, "%s and %s are both %s %lld: one image per module",
                                     args[k], args[i], cli_jstr(info[i], "function"),
                                     cli_jint(info[i], "index"));
                goto out;
            }

    req = json_pack("{s:s, s:[]}", "version", version, "images");
    for (size_t i = 0; i < n; i++)
        json_array_append_new(json_object_get(req, "images"), json_string(hashes[i]));
    if (channel)
        cli_json_set(req, "channel", json_string(channel));
    if (notes)
        cli_json_set(req, "notes", json_string(notes));
    strcat(path, "/releases");
    if ((rc = cli_api(cli, &srv, "POST", path, req, NULL, 0, NULL, &status, &reply)) != 0)
        goto out;
    if (status == 422) {
        rc = cli_error(cli, CLI_EXIT_INVALID, "%s", cli_jstr(json_object_get(reply, "error"),
                                                             "message"));
        goto out;
    }
    if (status != 201 && status != 200) {
        rc = cli_api_error(cli, &srv, status, reply);
        goto out;
    }
    if (cli->json) {
        rc = cli_json_print(cli, reply);
        reply = NULL;
        goto out;
    }
    printf("release %s %s created (channel %s), %zu image%s:\n", cli_jstr(pr, "name"),
           cli_jstr(reply, "version"), cli_jstr(reply, "channel"), n, n == 1 ? "" : "s");
    for (size_t i = 0; i < n; i++)
        print_image(info[i], hashes[i], file_of[i] == MAX_IMAGES ? "(held by the server)"
                                                                 : args[i]);
    printf("roll it out with: airlift release %s %s --waves 1,10%%,100%%\n", cli_jstr(pr, "name"),
           cli_jstr(reply, "version"));
    rc = 0;
out:
    cli_images_free(files, nfiles);
    for (size_t i = 0; i < n; i++)
        json_decref(info[i]);
    json_decref(pr);
    json_decref(req);
    json_decref(reply);
    return rc;
}

static int releases_list(struct cli *cli, const struct cli_command *self, int argc, char **argv)
{
    struct cli_server srv;
    const char *product;
    char path[200] = "/v1/products";
    json_t *reply = NULL, *rel;
    size_t i;
    int rc = cli_positionals(cli, self, argc, argv, &product, 1, "PRODUCT");
    if (rc)
        return rc < 0 ? 0 : rc;
    if ((rc = cli_path_add(cli, path, sizeof path, "product", product)) != 0)
        return rc;
    strcat(path, "/releases");
    if ((rc = cli_server_load(cli, &srv)) != 0 ||
        (rc = cli_api_ok(cli, &srv, "GET", path, NULL, &reply)) != 0)
        return rc;
    if (cli->json)
        return cli_json_print(cli, reply);
    json_t *list = json_object_get(reply, "releases");
    if (!json_array_size(list))
        printf("%s has no releases (airlift releases create %s VERSION IMAGE...)\n", product,
               product);
    else
        printf("%-16s %-10s %-6s %-24s %s\n", "VERSION", "CHANNEL", "IMAGES", "CREATED", "NOTES");
    json_array_foreach(list, i, rel) {
        char images[16];
        snprintf(images, sizeof images, "%zu", json_array_size(json_object_get(rel, "images")));
        printf("%-16s %-10s %-6s %s%s%s\n", cli_jstr(rel, "version"), cli_jstr(rel, "channel"),
               images, cli_jstr(rel, "created_at"), cli_jstr(rel, "notes")[0] ? " " : "",
               cli_jstr(rel, "notes"));
    }
    json_decref(reply);
    return 0;
}

static int releases_show(struct cli *cli, const struct cli_command *self, int argc, char **argv)
{
    struct cli_server srv;
    const char *args[2];
    char path[200] = "/v1/products";
    json_t *rel = NULL, *v;
    size_t i;
    int rc = cli_positionals(cli, self, argc, argv, args, 2, "PRODUCT VERSION");
    if (rc)
        return rc < 0 ? 0 : rc;
    if ((rc = cli_path_add(cli, path, sizeof path, "product", args[0])) != 0)
        return rc;
    strcat(path, "/releases");
    if ((rc = cli_path_add(cli, path, sizeof path, "version", args[1])) != 0 ||
        (rc = cli_server_load(cli, &srv)) != 0 ||
        (rc = cli_api_ok(cli, &srv, "GET", path, NULL, &rel)) != 0)
        return rc;
    if (cli->json)
        return cli_json_print(cli, rel);
    printf("release %s %s: channel %s, created %s\n", cli_jstr(rel, "product"),
           cli_jstr(rel, "version"), cli_jstr(rel, "channel"), cli_jstr(rel, "created_at"));
    if (cli_jstr(rel, "notes")[0])
        printf("notes: %s\n", cli_jstr(rel, "notes"));
    printf("images:\n");
    json_array_foreach(json_object_get(rel, "images"), i, v) {
        json_t *img = NULL;
        const char *sha = json_string_value(v);
        if (!sha || (rc = image_get(cli, &srv, sha, &img)) != 0)
            break;
        print_image(img, sha, img ? "" : "(no longer held by the server)");
        json_decref(img);
    }
    json_decref(rel);
    return rc;
}

static const struct cli_command create_cmd = {
    "create", NULL, "a new release of a product: its images, for a channel",
    "Usage: airlift releases create PRODUCT VERSION IMAGE... [--channel C] [--notes TEXT]\n"
    "                               [-k KEY.pem]... [--json]\n"
    "\n"
    "Makes release VERSION (semantic versioning: 1.2.0, 2.0.0-rc.1) of PRODUCT from up to 8\n"
    "images, one per module. Each IMAGE is an image file, checked here and uploaded exactly\n"
    "as airlift flash does (structure, size, payload hash, the product's platform; with\n"
    "--key its signature too), or the 64-hex payload hash of an image the server holds.\n"
    "  --channel C     the channel it is for (default stable): devices on that channel\n"
    "                  get it when it is rolled out\n"
    "  --notes TEXT    release notes\n"
    "  -k, --key K     also verify the files' signatures against this key (repeatable)\n"
    "\n"
    "Exit codes: 0 created, 2 usage, 3 a file cannot be read, 4 an invalid image or one for\n"
    "another platform, 5 key, 6 server error (unknown product or image hash, the release\n"
    "exists).\n",
    releases_create, NULL};
static const struct cli_command list_cmd = {
    "list", "ls", "the releases of a product",
    "Usage: airlift releases list PRODUCT [--json]\n", releases_list, NULL};
static const struct cli_command show_cmd = {
    "show", NULL, "one release: channel, notes, and what each image is",
    "Usage: airlift releases show PRODUCT VERSION [--json]\n"
    "\n"
    "The release's channel and notes, and for each image its module, version and hash.\n"
    "--json: the API's release object.\n",
    releases_show, NULL};

static const struct cli_command *const releases_cmds[] = {&create_cmd, &list_cmd, &show_cmd,
                                                           NULL};
const struct cli_command cli_releases_group = {
    "releases", NULL, "releases of a product: create, list, show", NULL, NULL, releases_cmds};
