/*
 * cmd_updates.c - airlift updates list DEVICE | show ID | cancel ID: a device's update
 * history, one update in full, and cancelling one (docs/cli.md, "airlift updates"; the API's
 * "Updates" in docs/api.md).
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

/* "application 1 2.0.0 (delta), system 2 0.7.0 (full)" from an update's steps. */
static void steps_text(json_t *u, char *buf, size_t cap)
{
    json_t *s;
    size_t i;
    int used = 0;
    buf[0] = '\0';
    json_array_foreach(json_object_get(u, "steps"), i, s) {
        int w = snprintf(buf + used, cap - (size_t)used, "%s%s %lld %s (%s)", used ? ", " : "",
                         cli_jstr(s, "function"), cli_jint(s, "index"), cli_jstr(s, "version"),
                         cli_jstr(s, "encoding"));
        if (w < 0 || (size_t)w >= cap - (size_t)used)
            break;
        used += w;
    }
    if (!buf[0])
        snprintf(buf, cap, "-");
}

/* The one positional argument of a leaf with no options but --help and --json. */
static int one_arg(struct cli *cli, const struct cli_command *self, int argc, char **argv,
                   const char *usage, const char **out)
{
    int rc = cli_positionals(cli, self, argc, argv, out, 1, usage);
    return rc < 0 ? -1 : rc;
}

/* An update id from the command line; a usage error names it otherwise. */
static int update_id(struct cli *cli, const char *s, int64_t *id)
{
    if (!alc_parse_id(s, false, id))
        return cli_usage_error(cli, "'%s' is not an update id (a positive integer, as "
                               "'airlift updates list DEVICE' shows)", s);
    return 0;
}

static int updates_list(struct cli *cli, const struct cli_command *self, int argc, char **argv)
{
    struct cli_server srv;
    const char *name = NULL;
    char path[160], steps[512];
    json_t *reply = NULL, *u;
    size_t i;
    int rc = one_arg(cli, self, argc, argv, "DEVICE", &name);
    if (rc)
        return rc < 0 ? 0 : rc;
    snprintf(path, sizeof path, "/v1/devices");
    if ((rc = cli_path_add(cli, path, sizeof path, "device", name)) != 0)
        return rc;
    snprintf(path + strlen(path), sizeof path - strlen(path), "/updates");
    if ((rc = cli_server_load(cli, &srv)) != 0 ||
        (rc = cli_api_ok(cli, &srv, "GET", path, NULL, &reply)) != 0)
        return rc;
    if (cli->json)
        return cli_json_print(cli, reply);
    json_t *list = json_object_get(reply, "updates");
    if (!json_array_size(list)) {
        printf("%s has no updates\n", name);
        json_decref(reply);
        return 0;
    }
    printf("%-6s %-11s %-16s %-24s %s\n", "ID", "STATE", "ORIGIN", "CREATED", "STEPS / WHY");
    json_array_foreach(list, i, u) {
        steps_text(u, steps, sizeof steps);
        printf("%-6lld %-11s %-16s %-24s %s%s%s\n", cli_jint(u, "id"), cli_jstr(u, "state"),
               cli_jstr(u, "origin"), cli_jstr(u, "created_at"), steps,
               cli_jstr(u, "why")[0] ? " - " : "", cli_jstr(u, "why"));
    }
    json_decref(reply);
    return 0;
}

/* One update for people. */
static void print_update(json_t *u)
{
    json_t *p = json_object_get(u, "progress"), *s;
    size_t i;
    printf("update #%lld of %s: %s\n", cli_jint(u, "id"), cli_jstr(u, "device"),
           cli_jstr(u, "state"));
    printf("  origin       %s\n", cli_jstr(u, "origin"));
    if (cli_jstr(u, "result")[0] || cli_jstr(u, "why")[0])
        printf("  outcome      %s%s%s\n", cli_jstr(u, "result"),
               cli_jstr(u, "why")[0] ? ": " : "", cli_jstr(u, "why"));
    printf("  progress     step %lld of %lld, %lld of %lld bytes\n",
           cli_jint(p, "step") + 1 > cli_jint(p, "steps") ? cli_jint(p, "steps")
                                                          : cli_jint(p, "step") + 1,
           cli_jint(p, "steps"), cli_jint(p, "bytes"), cli_jint(p, "total"));
    printf("  wire         %lld bytes sent, %lld received (estimate %lld)\n",
           cli_jint(u, "bytes_sent"), cli_jint(u, "bytes_received"),
           cli_jint(u, "wire_estimate"));
    printf("  created      %s\n", cli_jstr(u, "created_at"));
    if (json_is_string(json_object_get(u, "finished_at")))
        printf("  finished     %s\n", cli_jstr(u, "finished_at"));
    json_array_foreach(json_object_get(u, "steps"), i, s)
        printf("  step %zu       %s %lld %s, %s, %lld bytes, %s\n", i + 1,
               cli_jstr(s, "function"), cli_jint(s, "index"), cli_jstr(s, "version"),
               cli_jstr(s, "encoding"), cli_jint(s, "size"), cli_jstr(s, "state"));
}

static int updates_show(struct cli *cli, const struct cli_command *self, int argc, char **argv)
{
    struct cli_server srv;
    const char *arg = NULL;
    char path[64];
    json_t *reply = NULL;
    int64_t id;
    int rc = one_arg(cli, self, argc, argv, "ID", &arg);
    if (rc)
        return rc < 0 ? 0 : rc;
    if ((rc = update_id(cli, arg, &id)) != 0)
        return rc;
    snprintf(path, sizeof path, "/v1/updates/%lld", (long long)id);
    if ((rc = cli_server_load(cli, &srv)) != 0 ||
        (rc = cli_api_ok(cli, &srv, "GET", path, NULL, &reply)) != 0)
        return rc;
    if (cli->json)
        return cli_json_print(cli, reply);
    print_update(reply);
    json_decref(reply);
    return 0;
}

static int updates_cancel(struct cli *cli, const struct cli_command *self, int argc, char **argv)
{
    struct cli_server srv;
    const char *arg = NULL;
    char path[64];
    json_t *reply = NULL;
    long status = 0;
    int64_t id;
    int rc = one_arg(cli, self, argc, argv, "ID", &arg);
    if (rc)
        return rc < 0 ? 0 : rc;
    if ((rc = update_id(cli, arg, &id)) != 0)
        return rc;
    snprintf(path, sizeof path, "/v1/updates/%lld/cancel", (long long)id);
    if ((rc = cli_server_load(cli, &srv)) != 0 ||
        (rc = cli_api(cli, &srv, "POST", path, NULL, NULL, 0, NULL, &status, &reply)) != 0)
        return rc;
    if (status == 409) { /* already ended: say how */
        json_decref(reply);
        reply = NULL;
        snprintf(path, sizeof path, "/v1/updates/%lld", (long long)id);
        if ((rc = cli_api_ok(cli, &srv, "GET", path, NULL, &reply)) != 0)
            return rc;
        rc = cli_error(cli, CLI_EXIT_SERVER, "update #%lld of %s already ended (%s%s%s): "
                       "nothing to cancel", (long long)id, cli_jstr(reply, "device"),
                       cli_jstr(reply, "state"), cli_jstr(reply, "why")[0] ? ": " : "",
                       cli_jstr(reply, "why"));
        json_decref(reply);
        return rc;
    }
    if (status >= 300) {
        rc = cli_api_error(cli, &srv, status, reply);
        json_decref(reply);
        return rc;
    }
    if (cli->json)
        return cli_json_print(cli, reply);
    printf("update #%lld of %s cancelled (a download under way stops at the device's next "
           "check-in; an install already requested runs to its end)\n", (long long)id,
           cli_jstr(reply, "device"));
    json_decref(reply);
    return 0;
}

static const struct cli_command list_cmd = {
    "list", "ls", "a device's updates, newest first (at most 100)",
    "Usage: airlift updates list DEVICE [--json]\n"
    "\n"
    "One line per update: id, state, origin (the token name that queued it, or 'rollout N'),\n"
    "when it was created, its steps (function, index, version, encoding) and why it ended.\n"
    "--json: the API's {\"updates\": [...]}.\n",
    updates_list, NULL};
static const struct cli_command show_cmd = {
    "show", NULL, "one update: state, origin, outcome, progress, bytes, steps",
    "Usage: airlift updates show ID [--json]\n"
    "\n"
    "--json: the API's update object (docs/api.md, \"The update object\").\n",
    updates_show, NULL};
static const struct cli_command cancel_cmd = {
    "cancel", NULL, "cancel an update that has not ended",
    "Usage: airlift updates cancel ID [--json]\n"
    "\n"
    "Cancels update ID (event update.cancelled). An update that already ended is an error\n"
    "(exit 6) that says how it ended. --json: the update object, now cancelled.\n",
    updates_cancel, NULL};

static const struct cli_command *const updates_cmds[] = {&list_cmd, &show_cmd, &cancel_cmd,
                                                          NULL};
const struct cli_command cli_updates_group = {
    "updates", "update", "updates: list a device's, show one, cancel one", NULL, NULL,
    updates_cmds};
