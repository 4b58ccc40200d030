/*
 * cmd_images.c - the images airliftd holds: airlift image upload | list | show | remove
 * (also spelt `airlift images ...`; docs/cli.md, "Images on the server").
 *
 * An image is named by its id, the SHA-256 of its file (what `sha256sum FILE` prints), or
 * by its payload hash while exactly one held image has that payload. The same payload
 * signed again (a higher security counter, another key) is another image.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "al_host_crypto.h"

enum { OPT_FUNCTION, OPT_PLATFORM, OPT_VERSION };

/* "system 1", "bootloader" */
static const char *module_str(json_t *img, char *buf, size_t cap)
{
    const char *fn = cli_jstr(img, "function");
    if (!strcmp(cli_jstr(img, "kind"), "swu")) /* issue 14 (ddi): a .swu has no module */
        snprintf(buf, cap, "swu");
    else if (!strcmp(fn, "bootloader"))
        snprintf(buf, cap, "%s", fn);
    else
        snprintf(buf, cap, "%s %lld", fn, cli_jint(img, "index"));
    return buf;
}

/* An image argument: an id or payload hash, 64 hex digits (upper case taken too). */
static int image_arg(struct cli *cli, const char *arg, char out[2 * AL_SHA256_SIZE + 1])
{
    if (!alc_is_hex(arg, 2 * AL_SHA256_SIZE))
        return cli_usage_error(cli, "image '%s': expected an image id or payload SHA-256, 64 "
                               "hex digits (airlift image list shows them)", arg);
    for (size_t i = 0; i < 2 * AL_SHA256_SIZE; i++)
        out[i] = (char)(arg[i] >= 'A' && arg[i] <= 'F' ? arg[i] - 'A' + 'a' : arg[i]);
    out[2 * AL_SHA256_SIZE] = '\0';
    return 0;
}

/* ---- upload ---- */

static int images_upload(struct cli *cli, const struct cli_command *self, int argc, char **argv)
{
    static const struct cli_option options[] = {{NULL, 0, false, 0}};
    const char *paths[16], *value;
    struct cli_parser p;
    struct cli_server srv;
    json_t *out = json_array();
    size_t n = 0;
    int opt, rc = 0;
    cli_parser_init(&p, cli, options, argc, argv);
    while ((opt = cli_parser_next(&p, &value)) != CLI_ARG_DONE) {
        switch (opt) {
        case CLI_ARG_HELP: cli_print_help(self, cli->path); json_decref(out); return 0;
        case CLI_ARG_POSITIONAL:
            if (n == sizeof paths / sizeof paths[0]) {
                json_decref(out);
                return cli_usage_error(cli, "at most %zu files at once",
                                       sizeof paths / sizeof paths[0]);
            }
            paths[n++] = value;
            break;
        default: json_decref(out); return CLI_EXIT_USAGE;
        }
    }
    if (!n) {
        json_decref(out);
        return cli_usage_error(cli, "which image files? (airlift image upload FILE...)");
    }
    if ((rc = cli_server_load(cli, &srv)) != 0) {
        json_decref(out);
        return rc;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        struct al_image_header h;
        uint8_t *file = NULL;
        size_t len = 0;
        char err[256], mod[48], id[2 * AL_SHA256_SIZE + 1];
        uint8_t digest[AL_SHA256_SIZE];
        union al_sha256_state st;
        json_t *reply = NULL;
        long status = 0;
        al_err e;
        enum cli_read_status rs = cli_read_file(paths[i], AL_IMAGE_MAX_FILE, &file, &len, err,
                                                sizeof err);
        if (rs == CLI_READ_TOO_LARGE) {
            rc = cli_error(cli, CLI_EXIT_INVALID, "%s: larger than the most an image file may "
                           "be, %u bytes (header included): airliftd would refuse it",
                           paths[i], (unsigned)AL_IMAGE_MAX_FILE);
            break;
        }
        if (rs != CLI_READ_OK) {
            rc = cli_error(cli, CLI_EXIT_IO, "%s: %s", paths[i], err);
            break;
        }
        /* issue 14 (ddi): a .swu file (a cpio archive, "070702") is checked by the server */
        bool swu = len >= 6 && memcmp(file, "070702", 6) == 0;
        if (!swu && (e = al_image_parse_header(file, len, &h)) != AL_OK) {
            rc = cli_error(cli, CLI_EXIT_INVALID, "%s: not a valid airlift image: %s", paths[i],
                           al_strerror(e));
            free(file);
            break;
        }
        al_host_crypto()->sha256_init(&st);
        al_host_crypto()->sha256_update(&st, file, len);
        al_host_crypto()->sha256_final(&st, digest);
        alc_hex_encode(digest, AL_SHA256_SIZE, id);
        rc = cli_api(cli, &srv, "POST", "/v1/images", NULL, file, len,
                     "application/octet-stream", &status, &reply);
        free(file);
        if (rc)
            break;
        if (status == 400) {
            rc = cli_error(cli, CLI_EXIT_INVALID, "%s: airliftd refused it: %s", paths[i],
                           cli_jstr(json_object_get(reply, "error"), "message"));
        } else if (status != 200 && status != 201) {
            rc = cli_api_error(cli, &srv, status, reply);
        } else {
            if (strcmp(cli_jstr(reply, "id"), id) != 0)
                fprintf(stderr, "airlift: %s: the server names it %s, not the SHA-256 of the "
                        "file (an image it held before image ids)\n", paths[i],
                        cli_jstr(reply, "id"));
            if (cli->json) {
                json_object_set_new(reply, "file", json_string(paths[i]));
                json_object_set_new(reply, "created", json_boolean(status == 201));
                json_array_append(out, reply);
            } else if (swu) {
                printf("%s %s  swu %s  (%s)\n", status == 201 ? "uploaded" : "already held",
                       cli_jstr(reply, "id"), cli_jstr(reply, "version"), paths[i]);
            } else {
                const char *label = json_string_value(json_object_get(reply, "version_label"));
                printf("%s %s  %s %s%s%s%s, security counter %lld, key %s  (%s)\n",
                       status == 201 ? "uploaded" : "already held", cli_jstr(reply, "id"),
                       module_str(reply, mod, sizeof mod), cli_jstr(reply, "version"),
                       label ? " [" : "", label ? label : "", label ? "]" : "",
                       cli_jint(reply, "security_counter"), cli_jstr(reply, "key_id"),
                       paths[i]);
            }
        }
        json_decref(reply);
    }
    if (!rc && cli->json)
        return cli_json_print(cli, json_pack("{s:o}", "images", out));
    json_decref(out);
    return rc;
}

/* ---- list ---- */

static int images_list(struct cli *cli, const struct cli_command *self, int argc, char **argv)
{
    static const struct cli_option options[] = {{"function", 0, true, OPT_FUNCTION},
                                                {"platform", 0, true, OPT_PLATFORM},
                                                {"version", 0, true, OPT_VERSION},
                                                {NULL, 0, false, 0}};
    struct cli_parser p;
    struct cli_server srv;
    const char *value;
    char path[256] = "/v1/images", num[16], mod[48], ver[AL_VERSION_STR_MAX], plat[32];
    json_t *reply = NULL, *img;
    size_t i;
    int opt, rc;
    cli_parser_init(&p, cli, options, argc, argv);
    while ((opt = cli_parser_next(&p, &value)) != CLI_ARG_DONE) {
        switch (opt) {
        case OPT_FUNCTION: {
            uint8_t fn;
            if (!cli_parse_function(value, &fn))
                return cli_usage_error(cli, "--function '%s': expected bootloader, system, "
                                       "application or radio", value);
            if (!cli_query_add(path, sizeof path, "function", al_function_name(fn)))
                return cli_usage_error(cli, "too many filters");
            break;
        }
        case OPT_PLATFORM: {
            uint16_t id;
            if (!alc_platform_parse(value, &id))
                return cli_usage_error(cli, "--platform '%s': expected a platform name "
                                       "(electron, boron, ...) or a platform id 0..65535", value);
            snprintf(num, sizeof num, "%u", (unsigned)id);
            if (!cli_query_add(path, sizeof path, "platform", num))
                return cli_usage_error(cli, "too many filters");
            break;
        }
        case OPT_VERSION: {
            struct al_version v;
            if (!cli_parse_version(value, &v))
                return cli_usage_error(cli, "--version '%s': expected a semantic version such "
                                       "as 1.2.0", value);
            if (!cli_query_add(path, sizeof path, "version", cli_version_str(&v, ver)))
                return cli_usage_error(cli, "too many filters");
            break;
        }
        case CLI_ARG_HELP: cli_print_help(self, cli->path); return 0;
        case CLI_ARG_POSITIONAL:
            return cli_usage_error(cli, "unexpected argument '%s' (filters are --function, "
                                   "--platform and --version)", value);
        default: return CLI_EXIT_USAGE;
        }
    }
    if ((rc = cli_server_load(cli, &srv)) != 0 ||
        (rc = cli_api_ok(cli, &srv, "GET", path, NULL, &reply)) != 0)
        return rc;
    if (cli->json)
        return cli_json_print(cli, reply);
    json_t *images = json_object_get(reply, "images");
    bool labels = false; /* issue 16: a KNOWN AS column when an image has a version label */
    json_array_foreach(images, i, img)
        labels |= json_is_string(json_object_get(img, "version_label"));
    if (!json_array_size(images))
        printf("no images%s (airlift image upload FILE...)\n",
               strchr(path, '?') ? " match" : "");
    else
        printf("%-64s  %-14s %-12s %-14s %7s %-16s %10s%s\n", "ID", "MODULE", "VERSION",
               "PLATFORM", "COUNTER", "KEY", "BYTES", labels ? "  KNOWN AS" : "");
    json_array_foreach(images, i, img) {
        const char *label = json_string_value(json_object_get(img, "version_label"));
        printf("%-64s  %-14s %-12s %-14s %7lld %-16s %10lld%s%s\n", cli_jstr(img, "id"),
               module_str(img, mod, sizeof mod), cli_jstr(img, "version"),
               cli_platform_str(cli_jint(img, "platform"), plat, sizeof plat),
               cli_jint(img, "security_counter"), cli_jstr(img, "key_id"),
               cli_jint(img, "file_size"), label ? "  " : "", label ? label : "");
    }
    json_decref(reply);
    return 0;
}

/* ---- show ---- */

static int images_show(struct cli *cli, const struct cli_command *self, int argc, char **argv)
{
    struct cli_server srv;
    const char *arg;
    char key[2 * AL_SHA256_SIZE + 1], path[128], mod[48], plat[32];
    json_t *img = NULL, *d;
    size_t i;
    int rc = cli_positionals(cli, self, argc, argv, &arg, 1, "ID");
    if (rc)
        return rc < 0 ? 0 : rc;
    if ((rc = image_arg(cli, arg, key)) != 0 || (rc = cli_server_load(cli, &srv)) != 0)
        return rc;
    snprintf(path, sizeof path, "/v1/images/%s", key);
    if ((rc = cli_api_ok(cli, &srv, "GET", path, NULL, &img)) != 0)
        return rc;
    if (cli->json)
        return cli_json_print(cli, img);
    printf("image %s\n", cli_jstr(img, "id"));
    printf("  module            %s\n", module_str(img, mod, sizeof mod));
    printf("  version           %s\n", cli_jstr(img, "version"));
    if (json_is_string(json_object_get(img, "version_label"))) /* issue 16 */
        printf("  known as          %s\n", cli_jstr(img, "version_label"));
    printf("  platform          %s\n", cli_platform_str(cli_jint(img, "platform"), plat, sizeof plat));
    printf("  security counter  %lld\n", cli_jint(img, "security_counter"));
    printf("  signing key       %s\n", cli_jstr(img, "key_id"));
    printf("  payload SHA-256   %s\n", cli_jstr(img, "sha256"));
    printf("  payload size      %lld bytes\n", cli_jint(img, "payload_size"));
    printf("  file size         %lld bytes\n", cli_jint(img, "file_size"));
    printf("  link address      %s\n", cli_jstr(img, "link_address"));
    json_t *deps = json_object_get(img, "dependencies");
    if (!json_array_size(deps))
        printf("  dependencies      none\n");
    json_array_foreach(deps, i, d) {
        char dm[48];
        const char *label = json_string_value(json_object_get(d, "min_version_label"));
        printf("  %s %s >= %s%s%s%s\n", i == 0 ? "dependencies     " : "                 ",
               module_str(d, dm, sizeof dm), cli_jstr(d, "min_version"), label ? " [" : "",
               label ? label : "", label ? "]" : "");
    }
    printf("  uploaded          %s\n", cli_jstr(img, "created_at"));
    json_decref(img);
    return 0;
}

/* ---- remove ---- */

static int images_remove(struct cli *cli, const struct cli_command *self, int argc, char **argv)
{
    struct cli_server srv;
    const char *arg;
    char key[2 * AL_SHA256_SIZE + 1], path[128], mod[48];
    json_t *reply = NULL;
    long status = 0;
    int rc = cli_positionals(cli, self, argc, argv, &arg, 1, "ID");
    if (rc)
        return rc < 0 ? 0 : rc;
    if ((rc = image_arg(cli, arg, key)) != 0 || (rc = cli_server_load(cli, &srv)) != 0)
        return rc;
    snprintf(path, sizeof path, "/v1/images/%s", key);
    if ((rc = cli_api(cli, &srv, "DELETE", path, NULL, NULL, 0, NULL, &status, &reply)) != 0)
        return rc;
    if (status == 409 &&
        !strcmp(cli_jstr(json_object_get(reply, "error"), "code"), "image_in_use")) {
        rc = cli_error(cli, CLI_EXIT_IMAGE_IN_USE, "%s",
                       cli_jstr(json_object_get(reply, "error"), "message"));
    } else if (status != 200) {
        rc = cli_api_error(cli, &srv, status, reply);
    } else if (cli->json) {
        return cli_json_print(cli, json_pack("{s:o}", "removed", reply));
    } else {
        printf("removed image %s (%s %s, security counter %lld)\n", cli_jstr(reply, "id"),
               module_str(reply, mod, sizeof mod), cli_jstr(reply, "version"),
               cli_jint(reply, "security_counter"));
    }
    json_decref(reply);
    return rc;
}

const struct cli_command cli_image_upload_cmd = {
    "upload", NULL, "send image files to airliftd",
    "Usage: airlift image upload FILE... [--json]\n"
    "\n"
    "Uploads each signed image file (POST /v1/images) and prints its id, the SHA-256 of the\n"
    "file. A file the server holds already is fine (\"already held\"). The same payload\n"
    "signed again (another security counter or key) is a new image. Files larger than an\n"
    "image may be (16,777,664 bytes, header included) are refused here. Exits 4 for a file\n"
    "that is not a valid image, 6 for a server error. --json: {\"images\": [image objects\n"
    "with \"file\" and \"created\"]}.\n",
    images_upload, NULL};
const struct cli_command cli_image_list_cmd = {
    "list", "ls", "the images airliftd holds",
    "Usage: airlift image list [--function F] [--platform P] [--version V] [--json]\n"
    "\n"
    "Every image the server holds, by platform, module and version: its id, module,\n"
    "version, platform, security counter, signing key id and file size.\n"
    "  --function F   bootloader, system, application (app) or radio\n"
    "  --platform P   a platform name (electron, ...) or id\n"
    "  --version V    one version\n"
    "--json: the API's {\"images\": [...]}.\n",
    images_list, NULL};
const struct cli_command cli_image_show_cmd = {
    "show", NULL, "one image airliftd holds",
    "Usage: airlift image show ID [--json]\n"
    "\n"
    "Every field of one held image. ID is its id (the SHA-256 of its file), or its payload\n"
    "SHA-256 when exactly one held image has that payload (else the server names the\n"
    "candidates). --json: the API's image object.\n",
    images_show, NULL};
const struct cli_command cli_image_remove_cmd = {
    "remove", "rm", "remove an image nothing needs",
    "Usage: airlift image remove ID [--json]\n"
    "\n"
    "Removes a held image: its record, its file and the transfers made from or to it.\n"
    "Refused, exit 15, while a release lists it or an active update needs it (the message\n"
    "names them). ID as for 'airlift image show'. --json: {\"removed\": image object}.\n",
    images_remove, NULL};
