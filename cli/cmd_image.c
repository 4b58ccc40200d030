/*
 * cmd_image.c - airlift image create | inspect | verify.
 *
 * create wraps firmware into a signed image: a Particle Device OS module of any platform
 * (module_info supplies the metadata; its CRC is checked first), an ELF executable or an Intel
 * HEX file (flattened at their load addresses), or a raw binary with flags; inspect shows an image's structure without a key; verify runs
 * the device library's own verification (al_image_verify_buffer on the mbedTLS port).
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airlift/image.h"
#include "airlift_host/elf.h"
#include "airlift_host/ihex.h"
#include "airlift_host/image_build.h"
#include "airlift_host/keys.h"
#include "airlift_host/particle.h"
#include "al_host_crypto.h"

#define IMAGE_ERR_MAX 512
#define IMAGE_FILE_MAX ((size_t)AL_IMAGE_MAX_FILE)
#define INPUT_FILE_MAX (4 * (size_t)AL_IMAGE_MAX_PAYLOAD) /* ELF with debug info, HEX text */
#define LABEL_MAX 96
/* "bootloader 15 >= 1006.0.0 [bootloader 1006 (Device OS 2.2.0)]" */
#define DEP_STR_MAX (16 + 4 + 4 + AL_VERSION_STR_MAX + 3 + 96)
#define KEY_ID_HEX_SIZE (2 * AL_KEY_ID_SIZE + 1)
#define MAX_VERIFY_KEYS 8

/* ---- shared helpers ---- */

static void sha256(const uint8_t *data, size_t len, uint8_t out[AL_SHA256_SIZE])
{
    const struct al_crypto *crypto = al_host_crypto();
    union al_sha256_state state;

    crypto->sha256_init(&state);
    crypto->sha256_update(&state, data, len);
    crypto->sha256_final(&state, out);
}

/* "system 1 >= 0.7.0" */
/* "system 1 >= 0.7.0", with the minimum's label on a Particle platform (issue 16):
 * "bootloader 0 >= 1005.0.0 [bootloader 1005 (Device OS 2.0.1)]". */
static const char *dep_str(const struct al_dependency *d, uint16_t platform,
                           char buf[DEP_STR_MAX])
{
    char version[AL_VERSION_STR_MAX], label[96];
    const char *l = alh_particle_module_label(d->function, d->index, platform, &d->min_version,
                                              label, sizeof label);

    snprintf(buf, DEP_STR_MAX, "%s %u >= %s%s%s%s", al_function_name(d->function), d->index,
             cli_version_str(&d->min_version, version), l ? " [" : "", l ? l : "",
             l ? "]" : "");
    return buf;
}

json_t *cli_image_header_json(const struct al_image_header *h)
{
    char version[AL_VERSION_STR_MAX];
    char sha_hex[2 * AL_SHA256_SIZE + 1];
    char key_hex[KEY_ID_HEX_SIZE];
    char sig_hex[2 * AL_IMAGE_SIG_SIZE + 1];
    json_t *obj = json_object();
    json_t *deps = json_array();

    alc_hex_encode(h->payload_sha256, sizeof(h->payload_sha256), sha_hex);
    alc_hex_encode(h->key_id, sizeof(h->key_id), key_hex);
    alc_hex_encode(h->signature, sizeof(h->signature), sig_hex);
    for (uint8_t i = 0; i < h->dep_count && i < AL_IMAGE_MAX_DEPS; i++) {
        const struct al_dependency *d = &h->deps[i];
        char label[96];
        json_t *o = json_pack("{s:s, s:i, s:i, s:s}", "function", al_function_name(d->function),
                              "function_code", d->function, "index", d->index, "min_version",
                              cli_version_str(&d->min_version, version));
        if (o && alh_particle_module_label(d->function, d->index, h->platform, &d->min_version,
                                           label, sizeof label))
            json_object_set_new(o, "min_version_label", json_string(label));
        json_array_append_new(deps, o);
    }
    cli_json_set(obj, "format_version", json_integer(h->format_version));
    cli_json_set(obj, "header_size", json_integer(h->header_size));
    cli_json_set(obj, "function", json_string(al_function_name(h->function)));
    cli_json_set(obj, "function_code", json_integer(h->function));
    cli_json_set(obj, "index", json_integer(h->index));
    cli_json_set(obj, "platform", json_integer(h->platform));
    cli_json_set(obj, "flags", json_integer(h->flags));
    cli_json_set(obj, "version", json_string(cli_version_str(&h->version, version)));
    { /* issue 16: what the server calls version_label too */
        char label[96];
        if (alh_particle_module_label(h->function, h->index, h->platform, &h->version, label,
                                      sizeof label))
            cli_json_set(obj, "version_label", json_string(label));
    }
    cli_json_set(obj, "security_counter", json_integer(h->security_counter));
    cli_json_set(obj, "link_address", json_integer(h->link_address));
    cli_json_set(obj, "payload_size", json_integer(h->payload_size));
    cli_json_set(obj, "payload_sha256", json_string(sha_hex));
    cli_json_set(obj, "key_id", json_string(key_hex));
    cli_json_set(obj, "signature", json_string(sig_hex));
    cli_json_set(obj, "dependencies", deps);
    return obj;
}

static json_t *particle_module_json(const struct alh_particle_module *m)
{
    json_t *deps = json_array();

    for (size_t i = 0; i < ALH_PARTICLE_DEP_COUNT; i++) {
        const struct alh_particle_dep *d = &m->deps[i];
        if (d->function == ALH_PARTICLE_FN_NONE)
            continue;
        json_array_append_new(deps, json_pack("{s:i, s:s, s:i, s:i}", "function", d->function,
                                              "function_name",
                                              alh_particle_function_name(d->function), "index",
                                              d->index, "version", d->version));
    }
    const struct alc_platform *pl = alh_particle_platform(m->platform_id);
    const char *release = m->function == ALH_PARTICLE_FN_SYSTEM_PART
                              ? alh_particle_system_release(m->version)
                          : m->function == ALH_PARTICLE_FN_BOOTLOADER
                              ? alh_particle_bootloader_release(m->version, m->platform_id)
                              : NULL;
    char label[LABEL_MAX];
    json_t *obj = json_pack("{s:i, s:i, s:s, s:i, s:i, s:i, s:I, s:I, s:i, s:b, s:o}",
                            "info_offset", (int)m->info_offset, "function", m->function,
                            "function_name", alh_particle_function_name(m->function), "index",
                            m->index, "version", m->version, "platform_id", m->platform_id,
                            "start_address", (json_int_t)m->start_address, "end_address",
                            (json_int_t)m->end_address, "flags", m->flags, "has_crc",
                            m->has_crc, "dependencies", deps);

    cli_json_set(obj, "platform_name", pl != NULL ? json_string(pl->label) : json_null());
    cli_json_set(obj, "generation", pl != NULL ? json_integer(pl->generation) : json_null());
    cli_json_set(obj, "release", release != NULL ? json_string(release) : json_null());
    cli_json_set(obj, "version_label",
                 json_string(alh_particle_version_label(m->function, m->version,
                                                        m->platform_id, label, sizeof(label))));
    cli_json_set(obj, "crc_ok", json_boolean(m->crc_ok));
    cli_json_set(obj, "sha256_ok", m->has_suffix ? json_boolean(m->sha_ok) : json_null());
    return obj;
}

static void print_particle_module(const char *prefix, const struct alh_particle_module *m)
{
    const struct alc_platform *pl = alh_particle_platform(m->platform_id);
    char label[LABEL_MAX];

    printf("%sParticle %s %u, %s, platform %u (%s) (module_info at 0x%x, 0x%08x..0x%08x, "
           "CRC %s)\n", prefix, alh_particle_function_name(m->function), m->index,
           alh_particle_version_label(m->function, m->version, m->platform_id, label,
                                      sizeof(label)),
           m->platform_id, pl != NULL ? pl->label : "unknown platform", m->info_offset,
           m->start_address, m->end_address, m->crc_ok ? "ok" : "BAD or missing");
}

/* Human listing of a parsed header (inspect, create). */
static void print_header(const struct al_image_header *h)
{
    char version[AL_VERSION_STR_MAX];
    char dep[DEP_STR_MAX];
    char sha_hex[2 * AL_SHA256_SIZE + 1];
    char key_hex[KEY_ID_HEX_SIZE];

    alc_hex_encode(h->payload_sha256, sizeof(h->payload_sha256), sha_hex);
    alc_hex_encode(h->key_id, sizeof(h->key_id), key_hex);
    printf("module:           %s %u (function %u)\n", al_function_name(h->function), h->index,
           h->function);
    {
        char label[96];
        const char *l = alh_particle_module_label(h->function, h->index, h->platform,
                                                  &h->version, label, sizeof label);
        printf("version:          %s%s%s%s\n", cli_version_str(&h->version, version),
               l ? " [" : "", l ? l : "", l ? "]" : "");
    }
    printf("platform:         %u\n", h->platform);
    printf("security counter: %u\n", h->security_counter);
    printf("link address:     0x%08x\n", h->link_address);
    if (h->dep_count == 0)
        printf("dependencies:     none\n");
    for (uint8_t i = 0; i < h->dep_count && i < AL_IMAGE_MAX_DEPS; i++)
        printf("%s%s\n", i == 0 ? "dependencies:     " : "                  ",
               dep_str(&h->deps[i], h->platform, dep));
    printf("header size:      %u bytes (format %u, flags 0x%x)\n", h->header_size,
           h->format_version, h->flags);
    printf("payload size:     %u bytes\n", h->payload_size);
    printf("payload sha256:   %s\n", sha_hex);
    printf("key id:           %s\n", key_hex);
}

/* Load one key file; prints the error and returns CLI_EXIT_KEY on failure. */
static int load_key(struct cli *cli, const char *path, alh_key **key)
{
    char err[IMAGE_ERR_MAX];

    if (alh_key_load(path, key, err, sizeof(err)) != 0)
        return cli_error(cli, CLI_EXIT_KEY, "%s", err);
    return CLI_EXIT_OK;
}

/* Read an input file; prints the error (exit 3) naming the file. */
static int read_input(struct cli *cli, const char *path, size_t max, uint8_t **buf, size_t *len)
{
    char err[IMAGE_ERR_MAX];

    if (cli_read_file(path, max, buf, len, err, sizeof(err)) != CLI_READ_OK)
        return cli_error(cli, CLI_EXIT_IO, "%s: %s", path, err);
    return CLI_EXIT_OK;
}

/* ---- image create ---- */

enum {
    OPT_KEY,
    OPT_OUT,
    OPT_FUNCTION,
    OPT_INDEX,
    OPT_PLATFORM,
    OPT_VERSION,
    OPT_SECURITY_COUNTER,
    OPT_LINK_ADDRESS,
    OPT_DEP,
    OPT_NO_MODULE_DEPS,
    OPT_INPUT,
};

/* What the input file is (--input; auto: by its first bytes). */
enum input_kind { INPUT_AUTO, INPUT_PARTICLE, INPUT_ELF, INPUT_IHEX, INPUT_RAW };

struct create_args {
    const char *key_path;
    const char *out_path;
    const char *in_path;
    bool has_function, has_index, has_platform, has_version, has_counter, has_link;
    uint8_t function;
    uint8_t index;
    uint16_t platform;
    struct al_version version;
    uint32_t security_counter;
    uint32_t link_address;
    struct al_dependency deps[AL_IMAGE_MAX_DEPS];
    size_t dep_count;
    bool no_module_deps;
    enum input_kind input;
};

/* Returns CLI_EXIT_OK with *help_shown set when --help ran, or a usage error. */
static int parse_create_args(struct cli *cli, const struct cli_command *self, int argc,
                             char **argv, struct create_args *a, bool *help_shown)
{
    static const struct cli_option options[] = {
        {"key", 'k', true, OPT_KEY},
        {"out", 'o', true, OPT_OUT},
        {"function", 0, true, OPT_FUNCTION},
        {"index", 0, true, OPT_INDEX},
        {"platform", 0, true, OPT_PLATFORM},
        {"version", 0, true, OPT_VERSION},
        {"security-counter", 0, true, OPT_SECURITY_COUNTER},
        {"link-address", 0, true, OPT_LINK_ADDRESS},
        {"dep", 0, true, OPT_DEP},
        {"no-module-deps", 0, false, OPT_NO_MODULE_DEPS},
        {"input", 0, true, OPT_INPUT},
        {NULL, 0, false, 0},
    };
    struct cli_parser parser;
    const char *value;
    uint32_t n;
    int opt;

    memset(a, 0, sizeof(*a));
    *help_shown = false;
    cli_parser_init(&parser, cli, options, argc, argv);
    while ((opt = cli_parser_next(&parser, &value)) != CLI_ARG_DONE) {
        switch (opt) {
        case OPT_KEY: a->key_path = value; break;
        case OPT_OUT: a->out_path = value; break;
        case OPT_FUNCTION:
            if (!cli_parse_function(value, &a->function))
                return cli_usage_error(cli, "--function '%s': expected bootloader, system, "
                                       "application, radio or 1..4", value);
            a->has_function = true;
            break;
        case OPT_INDEX:
            if (!alc_parse_u32(value, AL_INDEX_MAX, &n))
                return cli_usage_error(cli, "--index '%s': expected 0..%d", value, AL_INDEX_MAX);
            a->index = (uint8_t)n;
            a->has_index = true;
            break;
        case OPT_PLATFORM:
            if (!alc_parse_u32(value, UINT16_MAX, &n))
                return cli_usage_error(cli, "--platform '%s': expected 0..65535", value);
            a->platform = (uint16_t)n;
            a->has_platform = true;
            break;
        case OPT_VERSION:
            if (!cli_parse_version(value, &a->version))
                return cli_usage_error(cli, "--version '%s': expected MAJOR.MINOR.PATCH[-PRE] "
                                       "(e.g. 0.7.0-rc.6)", value);
            a->has_version = true;
            break;
        case OPT_SECURITY_COUNTER:
            if (!alc_parse_u32(value, UINT32_MAX, &a->security_counter))
                return cli_usage_error(cli, "--security-counter '%s': expected 0..4294967295",
                                       value);
            a->has_counter = true;
            break;
        case OPT_LINK_ADDRESS:
            if (!alc_parse_u32(value, UINT32_MAX, &a->link_address))
                return cli_usage_error(cli, "--link-address '%s': expected a 32-bit address "
                                       "(e.g. 0x08080000)", value);
            a->has_link = true;
            break;
        case OPT_DEP:
            if (a->dep_count >= AL_IMAGE_MAX_DEPS)
                return cli_usage_error(cli, "too many --dep (an image holds at most %d)",
                                       AL_IMAGE_MAX_DEPS);
            if (!cli_parse_dependency(value, &a->deps[a->dep_count]))
                return cli_usage_error(cli, "--dep '%s': expected FUNCTION:INDEX:MINVERSION "
                                       "(e.g. system:1:0.7.0)", value);
            a->dep_count++;
            break;
        case OPT_NO_MODULE_DEPS: a->no_module_deps = true; break;
        case OPT_INPUT:
            if (strcmp(value, "auto") == 0)
                a->input = INPUT_AUTO;
            else if (strcmp(value, "particle") == 0)
                a->input = INPUT_PARTICLE;
            else if (strcmp(value, "elf") == 0)
                a->input = INPUT_ELF;
            else if (strcmp(value, "ihex") == 0 || strcmp(value, "hex") == 0)
                a->input = INPUT_IHEX;
            else if (strcmp(value, "raw") == 0)
                a->input = INPUT_RAW;
            else
                return cli_usage_error(cli, "--input '%s': expected auto, particle, elf, ihex "
                                       "or raw", value);
            break;
        case CLI_ARG_HELP:
            cli_print_help(self, cli->path);
            *help_shown = true;
            return CLI_EXIT_OK;
        case CLI_ARG_POSITIONAL:
            if (a->in_path != NULL)
                return cli_usage_error(cli, "one input binary at a time ('%s' and '%s')",
                                       a->in_path, value);
            a->in_path = value;
            break;
        default: return CLI_EXIT_USAGE;
        }
    }
    if (a->in_path == NULL)
        return cli_usage_error(cli, "no input binary given");
    if (a->key_path == NULL)
        return cli_usage_error(cli, "--key KEY.pem is required to sign the image");
    if (a->out_path == NULL)
        return cli_usage_error(cli, "-o OUT is required");
    return CLI_EXIT_OK;
}

/*
 * Fill tmpl from the Particle module header, if any (and if look_for_module), then from the
 * flags. A module whose CRC, SHA-256 or size is wrong is refused: never signed.
 */
static int create_metadata(struct cli *cli, const struct create_args *a, const uint8_t *payload,
                           size_t payload_len, bool look_for_module, struct al_image_header *tmpl,
                           struct alh_particle_module *module, bool *is_module)
{
    char err[IMAGE_ERR_MAX];

    memset(tmpl, 0, sizeof(*tmpl));
    *is_module = look_for_module && alh_particle_find(payload, payload_len, module);
    if (*is_module && alh_particle_check(payload, payload_len, module, err, sizeof(err)) !=
                          ALH_PARTICLE_OK) {
        const struct alc_platform *pl = alh_particle_platform(module->platform_id);
        return cli_error(cli, CLI_EXIT_INVALID, "%s: Particle %s module for platform %u (%s): "
                         "%s; not signed%s", a->in_path,
                         alh_particle_function_name(module->function), module->platform_id,
                         pl != NULL ? pl->label : "unknown", err,
                         a->input == INPUT_PARTICLE ? ""
                                                    : " (if it is not a Particle module, give "
                                                      "--input raw)");
    }
    if (!*is_module && a->input == INPUT_PARTICLE)
        return cli_error(cli, CLI_EXIT_INVALID, "%s: --input particle, but no Particle "
                         "module_info header at offset 0, 0x184, 0x200 or any 4-aligned offset "
                         "below 8 KB", a->in_path);
    if (*is_module) {
        struct alh_particle_import imp = {
            .version = a->has_version ? &a->version : NULL,
            .no_module_deps = a->no_module_deps,
            .explicit_deps = a->deps,
            .explicit_dep_count = a->dep_count,
        };
        switch (alh_particle_to_header(module, &imp, tmpl, err, sizeof(err))) {
        case ALH_PARTICLE_OK: break;
        case ALH_PARTICLE_UNKNOWN_VERSION:
            return cli_error(cli, CLI_EXIT_USAGE, "%s: %s; give it with --version X.Y.Z",
                             a->in_path, err);
        case ALH_PARTICLE_UNKNOWN_DEP_VERSION:
            return cli_error(cli, CLI_EXIT_USAGE, "%s: %s; give it with --dep FUNCTION:INDEX:"
                             "MINVERSION, or drop the module's dependencies with "
                             "--no-module-deps", a->in_path, err);
        case ALH_PARTICLE_TOO_MANY_DEPS:
            return cli_error(cli, CLI_EXIT_USAGE, "%s: %s", a->in_path, err);
        default:
            return cli_error(cli, CLI_EXIT_INVALID, "%s: cannot import its Particle module "
                             "header: %s", a->in_path, err);
        }
    } else {
        if (!a->has_function || !a->has_platform || !a->has_version)
            return cli_error(cli, CLI_EXIT_USAGE, "%s: %s; give the metadata with --function, "
                             "--platform and --version (and --index, --link-address, --dep as "
                             "needed)", a->in_path,
                             look_for_module ? "no Particle module header found"
                                             : "a raw binary carries no metadata");
        tmpl->dep_count = (uint8_t)a->dep_count;
        memcpy(tmpl->deps, a->deps, a->dep_count * sizeof(a->deps[0]));
    }

    /* Explicit flags override what the module says. */
    if (a->has_function)
        tmpl->function = a->function;
    if (a->has_index)
        tmpl->index = a->index;
    if (a->has_platform)
        tmpl->platform = a->platform;
    if (a->has_version)
        tmpl->version = a->version;
    if (a->has_counter)
        tmpl->security_counter = a->security_counter;
    if (a->has_link)
        tmpl->link_address = a->link_address;
    return CLI_EXIT_OK;
}

/* Verify what we just built exactly as a device would: a bug must not ship an image. */
static al_err self_check(const alh_key *key, const uint8_t *img, size_t len, uint16_t platform)
{
    struct al_key trusted;
    struct al_keyring ring = {.keys = &trusted, .count = 1};
    struct al_verify_params params = {.crypto = al_host_crypto(), .keys = &ring,
                                      .platform = platform};
    struct al_image_header h;

    if (alh_key_public_point(key, trusted.pub) != 0)
        return AL_ERR_INTERNAL;
    alh_key_id(trusted.pub, trusted.id);
    return al_image_verify_buffer(&params, img, len, &h);
}

static int image_create(struct cli *cli, const struct cli_command *self, int argc, char **argv)
{
    struct create_args args;
    struct al_image_header tmpl;
    struct al_image_header built;
    struct alh_particle_module module;
    char err[IMAGE_ERR_MAX];
    char dep[DEP_STR_MAX];
    char version[AL_VERSION_STR_MAX];
    char key_hex[KEY_ID_HEX_SIZE];
    const uint8_t *payload = NULL;
    size_t dropped_off = 0, dropped_len = 0;
    bool dropped = false, found = false;
    uint8_t *image = NULL;
    uint8_t *file = NULL;
    size_t file_len = 0;
    size_t payload_len = 0;
    size_t image_len = 0;
    struct alh_flat_image flat = {0};
    enum input_kind kind;
    alh_key *key = NULL;
    bool help_shown = false;
    bool is_module = false;
    bool look_for_module = true;
    al_err rc;
    int result;

    result = parse_create_args(cli, self, argc, argv, &args, &help_shown);
    if (result != CLI_EXIT_OK || help_shown)
        goto out;
    result = load_key(cli, args.key_path, &key);
    if (result != CLI_EXIT_OK)
        goto out;
    if (!alh_key_has_private(key)) {
        result = cli_error(cli, CLI_EXIT_KEY, "%s: a public key; signing needs the private key",
                           args.key_path);
        goto out;
    }
    if (cli_read_file(args.in_path, INPUT_FILE_MAX, &file, &file_len, err, sizeof(err)) !=
        CLI_READ_OK) {
        result = cli_error(cli, CLI_EXIT_IO, "%s: %s", args.in_path, err);
        goto out;
    }
    if (file_len == 0) {
        result = cli_error(cli, CLI_EXIT_INVALID, "%s: empty file; nothing to wrap",
                           args.in_path);
        goto out;
    }
    kind = args.input;
    if (kind == INPUT_AUTO)
        kind = alh_elf_is(file, file_len) ? INPUT_ELF
               : alh_ihex_is(file, file_len) ? INPUT_IHEX
                                             : INPUT_PARTICLE;
    if (kind == INPUT_ELF || kind == INPUT_IHEX) {
        int frc = kind == INPUT_ELF
                      ? alh_elf_flatten(file, file_len, AL_IMAGE_MAX_PAYLOAD, &flat, NULL, err,
                                        sizeof(err))
                      : alh_ihex_flatten(file, file_len, AL_IMAGE_MAX_PAYLOAD, &flat, err,
                                         sizeof(err));
        if (frc != 0) {
            result = cli_error(cli, CLI_EXIT_INVALID, "%s: %s file refused: %s", args.in_path,
                               kind == INPUT_ELF ? "ELF" : "Intel HEX", err);
            goto out;
        }
        payload = flat.data;
        payload_len = flat.size;
        /* A flattened Particle module keeps its metadata only if it checks out whole. */
        found = alh_particle_find(payload, payload_len, &module);
        look_for_module = found && alh_particle_check(payload, payload_len, &module, err,
                                                      sizeof(err)) == ALH_PARTICLE_OK;
        /* issue 16: a module header without its CRC (an ELF from before Device OS's build
         * appends it) is said so, not "no metadata", unless the flags give the metadata. */
        if (found && !look_for_module &&
            !(args.has_function && args.has_platform && args.has_version)) {
            const struct alc_platform *pl = alh_particle_platform(module.platform_id);
            result = cli_error(cli, CLI_EXIT_INVALID, "%s: the flattened %s holds a Particle %s "
                               "module header for platform %u (%s) at 0x%x, but not an intact "
                               "module: %s; not signed (an ELF or HEX file is a Particle module "
                               "when it carries the module's CRC-32 and SHA-256 as the .bin of "
                               "Device OS's build does; to wrap it as it is, give --function, "
                               "--platform and --version)", args.in_path,
                               kind == INPUT_ELF ? "ELF" : "Intel HEX",
                               alh_particle_function_name(module.function), module.platform_id,
                               pl != NULL ? pl->label : "unknown", module.info_offset, err);
            goto out;
        }
    } else {
        if (file_len > AL_IMAGE_MAX_PAYLOAD) {
            result = cli_error(cli, CLI_EXIT_INVALID, "%s: %zu bytes; an image payload is at "
                               "most %u bytes (an image file at most %u bytes, header "
                               "included, what airliftd takes)", args.in_path, file_len,
                               AL_IMAGE_MAX_PAYLOAD, (unsigned)AL_IMAGE_MAX_FILE);
            goto out;
        }
        payload = file;
        payload_len = file_len;
        look_for_module = kind != INPUT_RAW;
    }
    result = create_metadata(cli, &args, payload, payload_len, look_for_module, &tmpl, &module,
                             &is_module);
    if (result != CLI_EXIT_OK)
        goto out;
    /* issue 16: a module whose header Device OS drops (the Gen 3 SoftDevice) runs at its
     * start address without it: the payload is what Device OS writes there. */
    if (is_module && alh_particle_written_span(&module, payload_len, &dropped_off, &dropped_len)) {
        payload += dropped_off;
        payload_len = dropped_len;
        dropped = true;
    }
    if (flat.data != NULL && !is_module && !args.has_link)
        tmpl.link_address = flat.base; /* ELF/HEX: where its lowest byte loads */

    if (alh_image_build(&tmpl, payload, payload_len, key, &image, &image_len, err,
                        sizeof(err)) != 0) {
        result = cli_error(cli, CLI_EXIT_INVALID, "%s: cannot build the image: %s", args.in_path,
                           err);
        goto out;
    }
    if (image_len > AL_IMAGE_MAX_FILE) { /* the one maximum airliftd applies too */
        result = cli_error(cli, CLI_EXIT_INVALID, "%s: the image would be %zu bytes; an image "
                           "file is at most %u bytes, header included (what airliftd takes); "
                           "nothing written", args.out_path, image_len,
                           (unsigned)AL_IMAGE_MAX_FILE);
        goto out;
    }
    rc = self_check(key, image, image_len, tmpl.platform);
    if (rc == AL_OK)
        rc = al_image_parse_header(image, image_len, &built);
    if (rc != AL_OK) {
        result = cli_error(cli, CLI_EXIT_INTERNAL, "%s: the image just built does not verify: "
                           "%s (%s); nothing written", args.out_path, al_strerror(rc),
                           al_err_name(rc));
        goto out;
    }
    if (alc_write_file_atomic(args.out_path, image, image_len) != 0) {
        result = cli_error(cli, CLI_EXIT_IO, "%s: cannot write it: %s", args.out_path,
                           strerror(errno));
        goto out;
    }

    if (cli->json) {
        json_t *obj = json_object();
        cli_json_set(obj, "file", json_string(args.out_path));
        cli_json_set(obj, "file_size", json_integer((json_int_t)image_len));
        cli_json_set(obj, "input", json_string(args.in_path));
        cli_json_set(obj, "input_kind", json_string(kind == INPUT_ELF    ? "elf"
                                                    : kind == INPUT_IHEX ? "ihex"
                                                    : is_module          ? "particle"
                                                                         : "raw"));
        if (flat.data != NULL) {
            json_t *f = json_pack("{s:I, s:I, s:I, s:I}", "base", (json_int_t)flat.base, "size",
                                  (json_int_t)flat.size, "loaded", (json_int_t)flat.loaded,
                                  "pieces", (json_int_t)flat.runs);
            cli_json_set(f, "entry", flat.has_entry ? json_integer(flat.entry) : json_null());
            cli_json_set(obj, "flattened", f);
        }
        cli_json_set(obj, "particle_module",
                     is_module ? particle_module_json(&module) : json_null());
        cli_json_set(obj, "payload_from",
                     dropped ? json_pack("{s:I, s:I}", "offset", (json_int_t)dropped_off, "size",
                                         (json_int_t)dropped_len)
                             : json_null());
        cli_json_set(obj, "image", cli_image_header_json(&built));
        result = cli_json_print(cli, obj);
        goto out;
    }
    alc_hex_encode(built.key_id, sizeof(built.key_id), key_hex);
    printf("wrote %s (%zu bytes): %s %u %s, platform %u, signed by key %s\n", args.out_path,
           image_len, al_function_name(built.function), built.index,
           cli_version_str(&built.version, version), built.platform, key_hex);
    if (flat.data != NULL) {
        printf("  flattened %s: %zu bytes from 0x%08x (%zu loaded in %zu piece%s, %zu filled "
               "with 0xff)", kind == INPUT_ELF ? "ELF" : "Intel HEX", flat.size, flat.base,
               flat.loaded, flat.runs, flat.runs == 1 ? "" : "s", flat.size - flat.loaded);
        if (flat.has_entry)
            printf(", entry 0x%08x", flat.entry);
        printf("\n");
    }
    if (is_module)
        print_particle_module("  metadata from ", &module);
    if (dropped)
        printf("  payload: bytes %zu..%zu of the file (%zu bytes): the module without its "
               "header and suffix (flag DROP_MODULE_INFO), what Device OS writes at 0x%08x\n",
               dropped_off, dropped_off + dropped_len, dropped_len, module.start_address);
    for (uint8_t i = 0; i < built.dep_count; i++)
        printf("  depends on %s\n", dep_str(&built.deps[i], built.platform, dep));
    result = CLI_EXIT_OK;
out:
    free(file);
    alh_flat_free(&flat);
    free(image);
    alh_key_free(key);
    return result;
}

/* ---- image inspect ---- */

static int image_inspect(struct cli *cli, const struct cli_command *self, int argc, char **argv)
{
    struct cli_parser parser;
    struct al_image_header h;
    struct alh_particle_module module;
    const char *path = NULL;
    const char *value;
    uint8_t *buf = NULL;
    size_t len = 0;
    uint8_t digest[AL_SHA256_SIZE];
    bool is_module = false;
    bool size_ok = false;
    bool hash_ok = false;
    size_t expected = 0;
    al_err rc;
    int result = CLI_EXIT_INTERNAL;
    int opt;

    cli_parser_init(&parser, cli, NULL, argc, argv);
    while ((opt = cli_parser_next(&parser, &value)) != CLI_ARG_DONE) {
        switch (opt) {
        case CLI_ARG_HELP: cli_print_help(self, cli->path); result = CLI_EXIT_OK; goto out;
        case CLI_ARG_POSITIONAL:
            if (path != NULL) {
                result = cli_usage_error(cli, "one image at a time");
                goto out;
            }
            path = value;
            break;
        default: result = CLI_EXIT_USAGE; goto out;
        }
    }
    if (path == NULL) {
        result = cli_usage_error(cli, "which image? (airlift image inspect FILE)");
        goto out;
    }
    result = read_input(cli, path, IMAGE_FILE_MAX, &buf, &len);
    if (result != CLI_EXIT_OK)
        goto out;

    rc = al_image_parse_header(buf, len, &h);
    if (rc != AL_OK) {
        /* A raw Particle module is worth naming: it is what `image create` takes. */
        is_module = rc == AL_ERR_BAD_MAGIC && alh_particle_find(buf, len, &module);
        if (is_module)
            (void)alh_particle_check(buf, len, &module, NULL, 0);
        if (cli->json) {
            json_t *obj = json_object();
            cli_json_set(obj, "file", json_string(path));
            cli_json_set(obj, "file_size", json_integer((json_int_t)len));
            cli_json_set(obj, "parsed", json_false());
            cli_json_set(obj, "error", cli_json_al_err(rc));
            cli_json_set(obj, "particle_module",
                         is_module ? particle_module_json(&module) : json_null());
            result = cli_json_print(cli, obj);
        }
        result = cli_error(cli, CLI_EXIT_INVALID, "%s: not a valid airlift image: %s (%s)", path,
                           al_strerror(rc), al_err_name(rc));
        if (is_module && !cli->json)
            print_particle_module("  it is a raw ", &module);
        goto out;
    }

    expected = (size_t)h.header_size + h.payload_size;
    size_ok = expected == len;
    if (size_ok) {
        sha256(buf + h.header_size, h.payload_size, digest);
        hash_ok = memcmp(digest, h.payload_sha256, sizeof(digest)) == 0;
    }
    is_module = size_ok && alh_particle_find(buf + h.header_size, h.payload_size, &module);
    if (is_module)
        (void)alh_particle_check(buf + h.header_size, h.payload_size, &module, NULL, 0);

    if (cli->json) {
        json_t *obj = json_object();
        cli_json_set(obj, "file", json_string(path));
        cli_json_set(obj, "file_size", json_integer((json_int_t)len));
        cli_json_set(obj, "parsed", json_true());
        cli_json_set(obj, "size_ok", json_boolean(size_ok));
        cli_json_set(obj, "payload_sha256_ok", size_ok ? json_boolean(hash_ok) : json_null());
        cli_json_set(obj, "signature_checked", json_false());
        cli_json_set(obj, "image", cli_image_header_json(&h));
        cli_json_set(obj, "particle_module",
                     is_module ? particle_module_json(&module) : json_null());
        result = cli_json_print(cli, obj);
        if (result == CLI_EXIT_OK && !(size_ok && hash_ok))
            result = CLI_EXIT_INVALID;
        goto out;
    }
    printf("file:             %s\n", path);
    printf("parsed:           yes, airlift image format %u\n", h.format_version);
    print_header(&h);
    if (size_ok)
        printf("file size:        %zu bytes = header + payload\n", len);
    else
        printf("file size:        %zu bytes, but header + payload = %zu: SIZE MISMATCH\n", len,
               expected);
    if (size_ok)
        printf("payload hash:     %s\n", hash_ok ? "matches the header" : "HASH MISMATCH");
    if (is_module)
        print_particle_module("payload:          ", &module);
    printf("signature:        not checked (airlift image verify %s --key KEY.pub.pem)\n", path);
    result = size_ok && hash_ok ? CLI_EXIT_OK : CLI_EXIT_INVALID;
out:
    free(buf);
    return result;
}

/* ---- image verify ---- */

enum { OPT_VERIFY_KEY, OPT_VERIFY_PLATFORM };

static int image_verify(struct cli *cli, const struct cli_command *self, int argc, char **argv)
{
    static const struct cli_option options[] = {
        {"key", 'k', true, OPT_VERIFY_KEY},
        {"platform", 0, true, OPT_VERIFY_PLATFORM},
        {NULL, 0, false, 0},
    };
    struct cli_parser parser;
    const char *key_paths[MAX_VERIFY_KEYS];
    size_t key_count = 0;
    struct al_key trusted[MAX_VERIFY_KEYS];
    struct al_keyring ring = {.keys = trusted, .count = 0};
    struct al_verify_params params = {.crypto = al_host_crypto(), .keys = &ring};
    struct al_image_header h;
    struct al_image_header parsed;
    bool has_platform = false;
    bool header_parsed;
    const char *path = NULL;
    const char *value;
    char detail[IMAGE_ERR_MAX];
    char key_hex[KEY_ID_HEX_SIZE];
    char version[AL_VERSION_STR_MAX];
    uint8_t *buf = NULL;
    size_t len = 0;
    alh_key *key = NULL;
    uint32_t n;
    al_err rc;
    int result = CLI_EXIT_INTERNAL;
    int opt;

    cli_parser_init(&parser, cli, options, argc, argv);
    while ((opt = cli_parser_next(&parser, &value)) != CLI_ARG_DONE) {
        switch (opt) {
        case OPT_VERIFY_KEY:
            if (key_count >= MAX_VERIFY_KEYS) {
                result = cli_usage_error(cli, "at most %d --key", MAX_VERIFY_KEYS);
                goto out;
            }
            key_paths[key_count++] = value;
            break;
        case OPT_VERIFY_PLATFORM:
            if (!alc_parse_u32(value, UINT16_MAX, &n)) {
                result = cli_usage_error(cli, "--platform '%s': expected 0..65535", value);
                goto out;
            }
            params.platform = (uint16_t)n;
            has_platform = true;
            break;
        case CLI_ARG_HELP: cli_print_help(self, cli->path); result = CLI_EXIT_OK; goto out;
        case CLI_ARG_POSITIONAL:
            if (path != NULL) {
                result = cli_usage_error(cli, "one image at a time");
                goto out;
            }
            path = value;
            break;
        default: result = CLI_EXIT_USAGE; goto out;
        }
    }
    if (path == NULL) {
        result = cli_usage_error(cli, "which image? (airlift image verify FILE --key KEY.pub.pem)");
        goto out;
    }
    if (key_count == 0) {
        result = cli_usage_error(cli, "--key KEY.pem or KEY.pub.pem is required");
        goto out;
    }
    for (size_t i = 0; i < key_count; i++) {
        result = load_key(cli, key_paths[i], &key);
        if (result != CLI_EXIT_OK)
            goto out;
        if (alh_key_public_point(key, trusted[i].pub) != 0) {
            result = cli_error(cli, CLI_EXIT_KEY, "%s: cannot read its public point",
                               key_paths[i]);
            goto out;
        }
        alh_key_id(trusted[i].pub, trusted[i].id);
        ring.count++;
        alh_key_free(key);
        key = NULL;
    }
    result = read_input(cli, path, IMAGE_FILE_MAX, &buf, &len);
    if (result != CLI_EXIT_OK)
        goto out;

    /* Without --platform the image is checked against its own platform. */
    header_parsed = al_image_parse_header(buf, len, &parsed) == AL_OK;
    if (!has_platform && header_parsed)
        params.platform = parsed.platform;
    rc = al_image_verify_buffer(&params, buf, len, &h);

    detail[0] = '\0';
    if (rc == AL_ERR_UNKNOWN_KEY && header_parsed) {
        alc_hex_encode(parsed.key_id, sizeof(parsed.key_id), key_hex);
        snprintf(detail, sizeof(detail), "; signed by key %s, which is not among the %zu "
                 "given", key_hex, key_count);
    } else if (rc == AL_ERR_WRONG_PLATFORM && header_parsed) {
        snprintf(detail, sizeof(detail), "; built for platform %u, not %u", parsed.platform,
                 params.platform);
    } else if (rc == AL_ERR_SIZE_MISMATCH && header_parsed) {
        snprintf(detail, sizeof(detail), "; file is %zu bytes, header + payload %zu", len,
                 (size_t)parsed.header_size + parsed.payload_size);
    }

    if (cli->json) {
        json_t *obj = json_object();
        cli_json_set(obj, "file", json_string(path));
        cli_json_set(obj, "ok", json_boolean(rc == AL_OK));
        cli_json_set(obj, "error", rc == AL_OK ? json_null() : cli_json_al_err(rc));
        cli_json_set(obj, "platform", json_integer(params.platform));
        cli_json_set(obj, "image", rc == AL_OK ? cli_image_header_json(&h) : json_null());
        result = cli_json_print(cli, obj);
        if (rc != AL_OK)
            cli_error(cli, CLI_EXIT_INVALID, "%s: verification failed: %s (%s)%s", path,
                      al_strerror(rc), al_err_name(rc), detail);
        if (result == CLI_EXIT_OK && rc != AL_OK)
            result = CLI_EXIT_INVALID;
        goto out;
    }
    if (rc != AL_OK) {
        result = cli_error(cli, CLI_EXIT_INVALID, "%s: verification failed: %s (%s)%s", path,
                           al_strerror(rc), al_err_name(rc), detail);
        goto out;
    }
    alc_hex_encode(h.key_id, sizeof(h.key_id), key_hex);
    printf("%s: OK: %s %u %s for platform %u, signed by key %s\n", path,
           al_function_name(h.function), h.index, cli_version_str(&h.version, version),
           h.platform, key_hex);
    result = CLI_EXIT_OK;
out:
    free(buf);
    alh_key_free(key);
    return result;
}

/* ---- the group ---- */

static const struct cli_command image_create_cmd = {
    .name = "create",
    .summary = "wrap a raw binary into a signed image",
    .help =
        "Usage: airlift image create --key KEY.pem -o OUT [OPTIONS] IN\n"
        "\n"
        "Wrap IN into a signed airlift image. IN is a Particle Device OS module of any\n"
        "platform (Gen 2, Gen 3, P2/M SoM): its function, index, platform, version, link\n"
        "address and dependencies are taken from its module_info (docs/particle-modules.md),\n"
        "and its CRC-32 (and SHA-256 suffix) must be right. Or an ELF executable or an Intel\n"
        "HEX file: flattened at their load addresses, the link address is the lowest one\n"
        "(docs/image-format.md, \"Inputs\"). Or a raw binary. The options below override\n"
        "what the file says; without a Particle header, --function, --platform and\n"
        "--version are required. OUT is written atomically: complete, or not at all.\n"
        "\n"
        "Options:\n"
        "  -k, --key KEY.pem           private signing key (airlift keys generate)\n"
        "  -o, --out OUT               image file to write\n"
        "  --function F                bootloader, system, application, radio (or 1..4)\n"
        "  --index N                   module index 0..15 (default 0)\n"
        "  --platform P                platform id (Electron: 10)\n"
        "  --version V                 MAJOR.MINOR.PATCH[-PRE], e.g. 0.7.0-rc.6\n"
        "  --security-counter N        anti-rollback counter (default 0)\n"
        "  --link-address A            address the payload runs at, e.g. 0x08080000\n"
        "  --dep FUNC:INDEX:MINVERSION needs this module at this version or newer, e.g.\n"
        "                              system:1:0.7.0; repeatable; replaces a module\n"
        "                              dependency on the same function and index\n"
        "  --no-module-deps            drop the dependencies the Particle header declares\n"
        "  --input KIND                auto (default: by the first bytes), particle, elf,\n"
        "                              ihex or raw (no Particle header is looked for)\n"
        "  --json                      print the new image's header as JSON\n",
    .run = image_create,
};

static const struct cli_command image_inspect_cmd = {
    .name = "inspect",
    .summary = "show an image's fields (no key needed)",
    .help = "Usage: airlift image inspect FILE [--json]\n"
            "\n"
            "Show every field of an image and check its structure, size and payload hash.\n"
            "The signature is not checked: that is 'airlift image verify'. Exits 4 if the\n"
            "file does not parse or its size or payload hash is wrong.\n",
    .run = image_inspect,
};

static const struct cli_command image_verify_cmd = {
    .name = "verify",
    .summary = "verify an image as a device would",
    .help = "Usage: airlift image verify FILE --key KEY.pem|KEY.pub.pem [--platform N] [--json]\n"
            "\n"
            "Run the device library's full verification: structure, size, signature by one\n"
            "of the given keys, platform, payload hash. Prints OK, or the exact error.\n"
            "\n"
            "Options:\n"
            "  -k, --key FILE   a trusted key (private or public PEM); repeatable, up to 8\n"
            "  --platform N     the device's platform id (default: the image's own)\n"
            "  --json           print {\"file\", \"ok\", \"error\", \"platform\", \"image\"}\n",
    .run = image_verify,
};

static const struct cli_command *const image_commands[] = {
    &image_create_cmd,
    &image_inspect_cmd,
    &image_verify_cmd,
    &cli_image_upload_cmd,
    &cli_image_list_cmd,
    &cli_image_show_cmd,
    &cli_image_remove_cmd,
    NULL,
};

const struct cli_command cli_image_group = {
    .name = "image",
    .alias = "images",
    .summary = "signed firmware images: create, inspect, verify; upload, list, show, remove",
    .help = "Usage: airlift image COMMAND [OPTIONS]   (also: airlift images COMMAND)\n"
            "\n"
            "Signed module images (docs/image-format.md): create, inspect and verify work on\n"
            "files; upload, list, show and remove on the images airliftd holds, each named\n"
            "by its id, the SHA-256 of its file (docs/cli.md, \"Images on the server\").\n",
    .subcommands = image_commands,
};
