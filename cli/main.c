/*
 * main.c - airlift: the command-line tool. Global options and dispatch to command groups.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#ifndef AIRLIFT_VERSION
#define AIRLIFT_VERSION "unknown"
#endif

/* Every top-level command, in the order `airlift --help` lists them. The server-backed
 * commands (devices, flash, status, products, releases, rollouts, events) go here. */
static const struct cli_command *const top_commands[] = {
    &cli_keys_group,
    &cli_image_group,
    &cli_devices_group,
    &cli_flash_command,
    &cli_status_command,
    &cli_updates_group,
    &cli_products_group,
    &cli_releases_group,
    &cli_release_command,
    &cli_rollouts_group,
    &cli_events_command,
    &cli_fleet_group,   /* issue 12 (cli) */
    &cli_usage_command, /* issue 12 (cli) */
    &cli_tokens_group,  /* issue 14 (tokens) */
    NULL,
};

static const struct cli_command root = {
    .name = "airlift",
    .summary = "over-the-air firmware updates for cellular microcontroller fleets",
    .help = "Usage: airlift [--json] COMMAND [ARGS...]\n"
            "       airlift --version | --help | help COMMAND...\n"
            "\n"
            "Signed firmware images for fleets of cellular devices, and the updates that\n"
            "bring them there, followed to the device's confirmed new version.\n"
            "\n"
            "Global options:\n"
            "  --json              machine-readable output on stdout (also after a command)\n"
            "  --server URL        airliftd's API (else AIRLIFT_SERVER, the config file,\n"
            "                      http://127.0.0.1:7780)\n"
            "  --token T           API token (else AIRLIFT_TOKEN or the config file)\n"
            "  --token-file PATH   read the API token from PATH\n"
            "  --cacert FILE       CA certificates (PEM) that an https:// server's certificate\n"
            "                      must chain to (else AIRLIFT_CACERT, the config file, the\n"
            "                      system's store)\n"
            "  --version           print the version and exit\n"
            "  -h, --help          print help; 'COMMAND --help' for a command\n"
            "\n"
            "Config file: $AIRLIFT_CONFIG, else ~/.config/airlift/config: 'server = URL',\n"
            "'token = T', 'token-file = PATH' or 'cacert = FILE' lines.\n"
            "\n"
            "Exit codes: 0 ok, 1 internal error, 2 usage error, 3 file error, 4 invalid image,\n"
            "5 key error, 6 server error, 7 update failed, 8 reverted, 9 timeout,\n"
            "10 device offline, 11 not confirmed, 12 rollout paused, 13 rollout cancelled,\n"
            "14 the device has an active update, 15 image in use, 16 API token refused,\n"
            "17 the server's TLS certificate does not verify (docs/cli.md).\n",
    .subcommands = top_commands,
};

static const struct cli_command *find_command(const struct cli_command *group, const char *name)
{
    for (const struct cli_command *const *c = group->subcommands; *c != NULL; c++) {
        bool alias_match = (*c)->alias != NULL && strcmp((*c)->alias, name) == 0;
        if (strcmp((*c)->name, name) == 0 || alias_match)
            return *c;
    }
    return NULL;
}

/* Append a command word to cli->path ("image" + "create" -> "image create"). */
static void path_push(struct cli *cli, const char *word)
{
    size_t used = strlen(cli->path);

    snprintf(cli->path + used, sizeof(cli->path) - used, "%s%s", used > 0 ? " " : "", word);
}

/* argv[0] is the first word after the group's name. */
static int dispatch(struct cli *cli, const struct cli_command *group, int argc, char **argv)
{
    const struct cli_command *cmd;

    if (argc == 0) {
        cli_print_help(group, cli->path);
        return cli_usage_error(cli, "a command is needed");
    }
    if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
        cli_print_help(group, cli->path);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[0], "--json") == 0) {
        cli->json = true;
        return dispatch(cli, group, argc - 1, argv + 1);
    }
    cmd = find_command(group, argv[0]);
    if (cmd == NULL) {
        struct alc_suggest s;
        alc_suggest_init(&s, argv[0]);
        for (const struct cli_command *const *c = group->subcommands; *c != NULL; c++)
            alc_suggest_offer(&s, (*c)->name);
        if (s.best)
            return cli_usage_error(cli, "unknown command '%s'; did you mean '%s'?", argv[0],
                                   s.best);
        return cli_usage_error(cli, "unknown command '%s'", argv[0]);
    }
    path_push(cli, cmd->name);
    if (cmd->run != NULL)
        return cmd->run(cli, cmd, argc - 1, argv + 1);
    return dispatch(cli, cmd, argc - 1, argv + 1);
}

/* airlift help [COMMAND...] */
static int help(struct cli *cli, int argc, char **argv)
{
    const struct cli_command *cmd = &root;

    for (int i = 0; i < argc; i++) {
        const struct cli_command *sub =
            cmd->subcommands != NULL ? find_command(cmd, argv[i]) : NULL;
        if (sub == NULL)
            return cli_usage_error(cli, "no help for '%s': unknown command", argv[i]);
        path_push(cli, sub->name);
        cmd = sub;
    }
    cli_print_help(cmd, cli->path);
    return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
    struct cli cli;
    int i = 1;

    memset(&cli, 0, sizeof(cli));
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
            printf("airlift %s (image format %d)\n", AIRLIFT_VERSION, AL_IMAGE_FORMAT_VERSION);
            return CLI_EXIT_OK;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            cli_print_help(&root, "");
            return CLI_EXIT_OK;
        }
        if (strcmp(argv[i], "--json") == 0) {
            cli.json = true;
            continue;
        }
        const char **dst = !strcmp(argv[i], "--server") ? &cli.server_flag
                           : !strcmp(argv[i], "--token") ? &cli.token_flag
                           : !strcmp(argv[i], "--token-file") ? &cli.token_file
                           : !strcmp(argv[i], "--cacert") ? &cli.cacert_flag : NULL;
        if (dst && i + 1 < argc) {
            *dst = argv[++i];
            continue;
        }
        return cli_usage_error(&cli, "unknown option '%s'", argv[i]);
    }
    if (i < argc && strcmp(argv[i], "help") == 0)
        return help(&cli, argc - i - 1, argv + i + 1);
    return dispatch(&cli, &root, argc - i, argv + i);
}
