/*
 * cmd_usage.c - airlift usage: bytes on the air per device and calendar month (UTC), as the
 * server counted them at its DTLS socket (GET /v1/usage, docs/api.md "Fleet questions").
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#include "airlift_common/timeparse.h"

enum { OPT_DEVICE, OPT_MONTH };


static int usage_run(struct cli *cli, const struct cli_command *self, int argc, char **argv)
{
    static const struct cli_option options[] = {{"device", 'd', true, OPT_DEVICE},
                                                {"month", 'm', true, OPT_MONTH},
                                                {NULL, 0, false, 0}};
    struct cli_parser p;
    struct cli_server srv;
    const char *value, *device = NULL, *month = NULL;
    char path[200] = "/v1/usage", a[32], b[32], c[32];
    json_t *reply = NULL, *row;
    size_t i;
    int opt, rc;
    cli_parser_init(&p, cli, options, argc, argv);
    while ((opt = cli_parser_next(&p, &value)) != CLI_ARG_DONE) {
        switch (opt) {
        case OPT_DEVICE:
            if (!alc_name_valid(value))
                return cli_usage_error(cli, "--device '%s': expected a device name", value);
            device = value;
            break;
        case OPT_MONTH:
            if (!alc_month_valid(value))
                return cli_usage_error(cli, "--month '%s': expected a calendar month YYYY-MM, "
                                       "e.g. 2026-11", value);
            month = value;
            break;
        case CLI_ARG_HELP: cli_print_help(self, cli->path); return 0;
        case CLI_ARG_POSITIONAL: return cli_usage_error(cli, "unexpected argument '%s'", value);
        default: return CLI_EXIT_USAGE;
        }
    }
    if (device)
        cli_query_add(path, sizeof path, "device", device);
    if (month)
        cli_query_add(path, sizeof path, "month", month);
    if ((rc = cli_server_load(cli, &srv)) != 0 ||
        (rc = cli_api_ok(cli, &srv, "GET", path, NULL, &reply)) != 0)
        return rc;
    if (cli->json)
        return cli_json_print(cli, reply);
    json_t *rows = json_object_get(reply, "usage");
    if (!json_array_size(rows)) {
        printf("no bytes on the air%s%s%s%s\n", device ? " for " : "", device ? device : "",
               month ? " in " : "", month ? month : "");
        json_decref(reply);
        return 0;
    }
    printf("%-8s %-20s %10s %10s %10s %12s\n", "MONTH", "DEVICE", "TOTAL", "SENT", "RECEIVED",
           "BYTES");
    json_array_foreach(rows, i, row)
        printf("%-8s %-20s %10s %10s %10s %12lld\n", cli_jstr(row, "month"),
               cli_jstr(row, "device"), cli_size_str((uint64_t)cli_jint(row, "bytes"), a, sizeof a),
               cli_size_str((uint64_t)cli_jint(row, "bytes_sent"), b, sizeof b),
               cli_size_str((uint64_t)cli_jint(row, "bytes_received"), c, sizeof c),
               cli_jint(row, "bytes"));
    if (json_array_size(rows) > 1)
        printf("%-8s %-20s %10s %10s %10s %12lld\n", "", "all",
               cli_size_str((uint64_t)cli_jint(reply, "bytes"), a, sizeof a), "", "",
               cli_jint(reply, "bytes"));
    json_decref(reply);
    return 0;
}

const struct cli_command cli_usage_command = {
    "usage", NULL, "bytes on the air per device and month",
    "Usage: airlift usage [--device NAME] [--month YYYY-MM] [--json]\n"
    "\n"
    "The bytes airliftd exchanged with each device over the air (both directions, DTLS,\n"
    "CoAP and UDP/IP headers included), per calendar month in UTC: one line per device and\n"
    "month. Sizes in decimal units (1 kB = 1000 bytes), as carriers bill, and in bytes.\n"
    "  -d, --device NAME  one device (an unknown name is an error)\n"
    "  -m, --month M      one month, YYYY-MM (default: every month)\n"
    "  --json             the API's {\"usage\": [{\"device\", \"month\", \"bytes\",\n"
    "                     \"bytes_sent\", \"bytes_received\"}], \"bytes\"}\n"
    "\n"
    "Exit codes: 0 ok, 2 usage, 6 server error or an unknown device.\n",
    usage_run, NULL};
