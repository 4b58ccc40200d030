/*
 * cmd_fleet.c - airlift fleet versions: which versions the fleet runs, module by module, as
 * the devices last reported them (GET /v1/fleet/versions, docs/api.md "Fleet questions").
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

enum { OPT_PRODUCT };

static int fleet_versions(struct cli *cli, const struct cli_command *self, int argc,
                          char **argv)
{
    static const struct cli_option options[] = {{"product", 'p', true, OPT_PRODUCT},
                                                {NULL, 0, false, 0}};
    struct cli_parser p;
    struct cli_server srv;
    const char *value, *product = NULL;
    char path[160] = "/v1/fleet/versions";
    json_t *reply = NULL, *m, *v;
    size_t i, k;
    int opt, rc;
    cli_parser_init(&p, cli, options, argc, argv);
    while ((opt = cli_parser_next(&p, &value)) != CLI_ARG_DONE) {
        switch (opt) {
        case OPT_PRODUCT:
            if (!alc_name_valid(value))
                return cli_usage_error(cli, "--product '%s': expected a product name", value);
            product = value;
            break;
        case CLI_ARG_HELP: cli_print_help(self, cli->path); return 0;
        case CLI_ARG_POSITIONAL: return cli_usage_error(cli, "unexpected argument '%s'", value);
        default: return CLI_EXIT_USAGE;
        }
    }
    if (product)
        cli_query_add(path, sizeof path, "product", product);
    if ((rc = cli_server_load(cli, &srv)) != 0 ||
        (rc = cli_api_ok(cli, &srv, "GET", path, NULL, &reply)) != 0)
        return rc;
    if (cli->json)
        return cli_json_print(cli, reply);
    json_t *modules = json_object_get(reply, "modules");
    if (!json_array_size(modules)) {
        printf("no device%s%s has reported what it runs yet\n", product ? " of product " : "",
               product ? product : "");
        json_decref(reply);
        return 0;
    }
    printf("%-11s %5s  %-16s %7s  %s\n", "MODULE", "INDEX", "VERSION", "DEVICES", "SHARE");
    json_array_foreach(modules, i, m) {
        long long all = cli_jint(m, "devices");
        json_array_foreach(json_object_get(m, "versions"), k, v) {
            long long n = cli_jint(v, "devices");
            printf("%-11s %5lld  %-16s %7lld  %3lld%%\n", k ? "" : cli_jstr(m, "function"),
                   cli_jint(m, "index"), cli_jstr(v, "version"), n, all ? n * 100 / all : 0);
        }
    }
    json_decref(reply);
    return 0;
}

static const struct cli_command versions_cmd = {
    "versions", NULL, "how many devices run each version of each module",
    "Usage: airlift fleet versions [--product P] [--json]\n"
    "\n"
    "The distribution of the versions the devices run, as each last reported: per module\n"
    "(function and index), each version with its number of devices and share.\n"
    "  -p, --product P  only the devices of product P (default: every device)\n"
    "  --json           the API's {\"product\", \"modules\": [{\"function\", \"index\",\n"
    "                   \"devices\", \"versions\": [{\"version\", \"devices\"}]}]}\n"
    "\n"
    "Exit codes: 0 ok, 2 usage, 6 server error or an unknown product.\n",
    fleet_versions, NULL};

static const struct cli_command *const fleet_cmds[] = {&versions_cmd, NULL};
const struct cli_command cli_fleet_group = {"fleet", NULL, "fleet questions: versions",
                                            NULL, NULL, fleet_cmds};
