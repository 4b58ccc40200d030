/*
 * cmd_keys.c - airlift keys generate | show: the signing keys of firmware authors.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "airlift_host/keys.h"

#define KEY_ERR_MAX 512
#define KEY_PATH_MAX 4096
#define DEFAULT_KEY_PATH "airlift-key.pem"

enum { OPT_OUT, OPT_FORCE };

/* KEY.pem -> KEY.pub.pem; any other name gets ".pub.pem" appended. */
static bool public_path_for(const char *private_path, char *out, size_t cap)
{
    size_t len = strlen(private_path);
    int n;

    if (len > 4 && strcmp(private_path + len - 4, ".pem") == 0)
        n = snprintf(out, cap, "%.*s.pub.pem", (int)(len - 4), private_path);
    else
        n = snprintf(out, cap, "%s.pub.pem", private_path);
    return n > 0 && (size_t)n < cap;
}

/* Key id of a loaded key as 16 hex chars. */
static bool key_id_hex(const alh_key *key, char hex[2 * AL_KEY_ID_SIZE + 1])
{
    uint8_t pub[AL_P256_PUBKEY_SIZE];
    uint8_t id[AL_KEY_ID_SIZE];

    if (alh_key_public_point(key, pub) != 0)
        return false;
    alh_key_id(pub, id);
    alc_hex_encode(id, sizeof(id), hex);
    return true;
}

static int keys_generate(struct cli *cli, const struct cli_command *self, int argc, char **argv)
{
    static const struct cli_option options[] = {
        {"out", 'o', true, OPT_OUT},
        {"force", 'f', false, OPT_FORCE},
        {NULL, 0, false, 0},
    };
    struct cli_parser parser;
    const char *out_path = DEFAULT_KEY_PATH;
    char pub_path[KEY_PATH_MAX];
    char err[KEY_ERR_MAX];
    char id_hex[2 * AL_KEY_ID_SIZE + 1];
    alh_key *key = NULL;
    bool force = false;
    const char *value;
    int result = CLI_EXIT_INTERNAL;
    int opt;

    cli_parser_init(&parser, cli, options, argc, argv);
    while ((opt = cli_parser_next(&parser, &value)) != CLI_ARG_DONE) {
        switch (opt) {
        case OPT_OUT: out_path = value; break;
        case OPT_FORCE: force = true; break;
        case CLI_ARG_HELP: cli_print_help(self, cli->path); result = CLI_EXIT_OK; goto out;
        case CLI_ARG_POSITIONAL:
            result = cli_usage_error(cli, "unexpected argument '%s' (use --out FILE)", value);
            goto out;
        default: result = CLI_EXIT_USAGE; goto out;
        }
    }
    if (out_path[0] == '\0' || !public_path_for(out_path, pub_path, sizeof(pub_path))) {
        result = cli_usage_error(cli, "invalid --out path");
        goto out;
    }
    if (!force) {
        const char *paths[] = {out_path, pub_path};
        for (size_t i = 0; i < 2; i++) {
            int exists = cli_path_exists(paths[i]);
            if (exists != 0) {
                result = cli_error(cli, CLI_EXIT_IO, "%s: %s; refusing to overwrite a key "
                                   "(use --force to replace it)", paths[i],
                                   exists > 0 ? "already exists" : "cannot check if it exists");
                goto out;
            }
        }
    }

    if (alh_key_generate(&key, err, sizeof(err)) != 0) {
        result = cli_error(cli, CLI_EXIT_KEY, "cannot generate a key: %s", err);
        goto out;
    }
    if (alh_key_save_private(key, out_path, err, sizeof(err)) != 0) {
        result = cli_error(cli, CLI_EXIT_IO, "%s", err);
        goto out;
    }
    if (alh_key_save_public(key, pub_path, err, sizeof(err)) != 0) {
        unlink(out_path); /* no private key without its public half */
        result = cli_error(cli, CLI_EXIT_IO, "%s", err);
        goto out;
    }
    if (!key_id_hex(key, id_hex)) {
        result = cli_error(cli, CLI_EXIT_KEY, "cannot compute the key id");
        goto out;
    }

    if (cli->json) {
        result = cli_json_print(cli, json_pack("{s:s, s:s, s:s}", "key_id", id_hex,
                                               "private_key", out_path, "public_key", pub_path));
        goto out;
    }
    printf("key id:      %s\n", id_hex);
    printf("private key: %s (mode 0600: keep it with the firmware author, never on a server)\n",
           out_path);
    printf("public key:  %s (give this one to devices and to 'airlift image verify')\n",
           pub_path);
    result = CLI_EXIT_OK;
out:
    alh_key_free(key);
    return result;
}

static int keys_show(struct cli *cli, const struct cli_command *self, int argc, char **argv)
{
    struct cli_parser parser;
    const char *path = NULL;
    char err[KEY_ERR_MAX];
    char id_hex[2 * AL_KEY_ID_SIZE + 1];
    char pub_hex[2 * AL_P256_PUBKEY_SIZE + 1];
    uint8_t pub[AL_P256_PUBKEY_SIZE];
    uint8_t id[AL_KEY_ID_SIZE];
    alh_key *key = NULL;
    const char *value;
    const char *kind;
    int result = CLI_EXIT_INTERNAL;
    int opt;

    cli_parser_init(&parser, cli, NULL, argc, argv);
    while ((opt = cli_parser_next(&parser, &value)) != CLI_ARG_DONE) {
        switch (opt) {
        case CLI_ARG_HELP: cli_print_help(self, cli->path); result = CLI_EXIT_OK; goto out;
        case CLI_ARG_POSITIONAL:
            if (path != NULL) {
                result = cli_usage_error(cli, "one key file at a time");
                goto out;
            }
            path = value;
            break;
        default: result = CLI_EXIT_USAGE; goto out;
        }
    }
    if (path == NULL) {
        result = cli_usage_error(cli, "which key? (airlift keys show KEY.pem)");
        goto out;
    }
    if (alh_key_load(path, &key, err, sizeof(err)) != 0) {
        result = cli_error(cli, CLI_EXIT_KEY, "%s", err);
        goto out;
    }
    if (alh_key_public_point(key, pub) != 0) {
        result = cli_error(cli, CLI_EXIT_KEY, "%s: cannot read the public point", path);
        goto out;
    }
    alh_key_id(pub, id);
    alc_hex_encode(id, sizeof(id), id_hex);
    alc_hex_encode(pub, sizeof(pub), pub_hex);
    kind = alh_key_has_private(key) ? "private" : "public";

    if (cli->json) {
        result = cli_json_print(cli, json_pack("{s:s, s:s, s:s, s:s}", "file", path, "key_id",
                                               id_hex, "kind", kind, "public_point", pub_hex));
        goto out;
    }
    printf("file:         %s\n", path);
    printf("key id:       %s\n", id_hex);
    printf("kind:         %s key (ECDSA P-256)\n", kind);
    printf("public point: %s\n", pub_hex);
    result = CLI_EXIT_OK;
out:
    alh_key_free(key);
    return result;
}

static const struct cli_command keys_generate_cmd = {
    .name = "generate",
    .summary = "create a P-256 signing key pair",
    .help = "Usage: airlift keys generate [--out KEY.pem] [--force] [--json]\n"
            "\n"
            "Create an ECDSA P-256 key pair for signing images: the private key in KEY.pem\n"
            "(mode 0600) and the public key in KEY.pub.pem. Prints the key id (16 hex\n"
            "characters), which every image signed with the key carries.\n"
            "\n"
            "Options:\n"
            "  -o, --out KEY.pem  private key file (default: " DEFAULT_KEY_PATH ")\n"
            "  -f, --force        replace existing key files\n"
            "  --json             print {\"key_id\", \"private_key\", \"public_key\"}\n",
    .run = keys_generate,
};

static const struct cli_command keys_show_cmd = {
    .name = "show",
    .summary = "print the id and public point of a key file",
    .help = "Usage: airlift keys show KEY.pem|KEY.pub.pem [--json]\n"
            "\n"
            "Print a key's id, whether the file holds the private key, and its public point.\n",
    .run = keys_show,
};

static const struct cli_command *const keys_commands[] = {&keys_generate_cmd, &keys_show_cmd, NULL};

const struct cli_command cli_keys_group = {
    .name = "keys",
    .alias = "key",
    .summary = "create and show signing keys",
    .help = "Usage: airlift keys COMMAND [OPTIONS]\n"
            "\n"
            "Signing keys stay with the firmware author; devices trust their public keys.\n",
    .subcommands = keys_commands,
};
