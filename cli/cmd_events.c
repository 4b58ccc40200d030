/*
 * cmd_events.c - airlift events: the history of devices, updates and rollouts as airliftd
 * recorded it, filtered, and with --follow the live stream of new events.
 *
 * --json prints NDJSON: the API's event objects (docs/api.md), one per line, the same in
 * both modes, so a script can read a listing and a stream alike.
 */
#include "cli.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_MAX 1000 /* the API's largest page */
#define TYPE_PREFIX_MAX 31

enum {
    OPT_DEVICE, OPT_UPDATE, OPT_ROLLOUT, OPT_TYPE, OPT_AFTER, OPT_LIMIT, OPT_FOLLOW, OPT_SINCE,
    OPT_UNTIL, OPT_LAST, OPT_DEVICE_ID
};

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static bool type_prefix_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > TYPE_PREFIX_MAX)
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyz.") == n;
}

struct events_run {
    struct cli *cli;
    long long last_id;   /* of the last event printed */
    long long limit;     /* 0: no limit */
    long long printed;
    int rc;              /* set by the stream callback when it stops on an error */
};

/* "#7", or "-" for null. */
static const char *ref(json_t *v, char *buf, size_t cap)
{
    if (!json_is_integer(v))
        return "-";
    snprintf(buf, cap, "#%lld", (long long)json_integer_value(v));
    return buf;
}

/* One event: an NDJSON line, or: id, time, type, device, update, rollout, actor, compact
 * data. */
static int print_event(struct events_run *run, json_t *ev)
{
    char upd[24], rollout[24], id[24];
    if (!run->cli->json) /* net: devices' and users' text, safe for the terminal */
        cli_json_escape_strings(ev);
    json_t *data = json_object_get(ev, "data");
    char *text = json_object_size(data) ? json_dumps(data, JSON_COMPACT) : NULL;
    const char *device = json_string_value(json_object_get(ev, "device"));
    const char *actor = json_string_value(json_object_get(ev, "actor"));
    int rc = 0;

    run->last_id = (long long)json_integer_value(json_object_get(ev, "id"));
    run->printed++;
    if (run->cli->json) {
        free(text);
        return cli_json_print(run->cli, json_incref(ev));
    }
    snprintf(id, sizeof id, "%lld", run->last_id);
    printf("%-6s %-24s %-20s %-16s %-7s ", id, json_string_value(json_object_get(ev, "ts")),
           json_string_value(json_object_get(ev, "type")), device ? device : "-",
           ref(json_object_get(ev, "update_id"), upd, sizeof upd));
    printf("%-7s ", ref(json_object_get(ev, "rollout_id"), rollout, sizeof rollout));
    if (text)
        printf("%-16s %s\n", actor ? actor : "-", text);
    else
        printf("%s\n", actor ? actor : "-"); /* no trailing blanks */
    if (fflush(stdout) != 0)
        rc = cli_error(run->cli, CLI_EXIT_IO, "cannot write to standard output");
    free(text);
    return rc;
}

static void print_header(struct cli *cli)
{
    if (!cli->json)
        printf("%-6s %-24s %-20s %-16s %-7s %-7s %-16s %s\n", "ID", "TIME", "TYPE", "DEVICE",
               "UPDATE", "ROLLOUT", "ACTOR", "DATA");
}

/* Without --follow: every matching event after run->last_id, page by page, up to the limit. */
static int list_events(struct events_run *run, const struct cli_server *srv, const char *query)
{
    struct cli *cli = run->cli;
    json_t *reply = NULL, *ev;
    size_t i, n;
    int rc;
    do {
        long long page = PAGE_MAX;
        char path[1024], num[24];
        if (run->limit && run->limit - run->printed < page)
            page = run->limit - run->printed;
        snprintf(path, sizeof path, "/v1/events%s", query);
        snprintf(num, sizeof num, "%lld", run->last_id);
        cli_query_add(path, sizeof path, "after", num);
        snprintf(num, sizeof num, "%lld", page);
        cli_query_add(path, sizeof path, "limit", num);
        if ((rc = cli_api_ok(cli, srv, "GET", path, NULL, &reply)) != 0)
            return rc;
        json_t *events = json_object_get(reply, "events");
        n = json_array_size(events);
        if (run->printed == 0 && n > 0)
            print_header(cli);
        json_array_foreach(events, i, ev) {
            if ((rc = print_event(run, ev)) != 0)
                break;
        }
        json_decref(reply);
        if (rc)
            return rc;
        if ((long long)n < page)
            break;
    } while (!run->limit || run->printed < run->limit);
    if (run->printed == 0 && !cli->json)
        printf("no events\n");
    return 0;
}

/* --last N: the newest N matching events, read newest page first (last= and before=),
 * printed oldest first. */
static int last_events(struct events_run *run, const struct cli_server *srv, const char *query,
                       long long want)
{
    struct cli *cli = run->cli;
    json_t *pages = json_array(), *reply = NULL, *page, *ev;
    long long got = 0, before = 0;
    size_t i, k;
    int rc = 0;
    if (!pages)
        return cli_error(cli, CLI_EXIT_INTERNAL, "out of memory");
    while (got < want) {
        long long n = want - got < PAGE_MAX ? want - got : PAGE_MAX;
        char path[1024], num[24];
        snprintf(path, sizeof path, "/v1/events%s", query);
        if (run->last_id) {
            snprintf(num, sizeof num, "%lld", run->last_id);
            cli_query_add(path, sizeof path, "after", num);
        }
        snprintf(num, sizeof num, "%lld", n);
        cli_query_add(path, sizeof path, "last", num);
        if (before) {
            snprintf(num, sizeof num, "%lld", before);
            cli_query_add(path, sizeof path, "before", num);
        }
        if ((rc = cli_api_ok(cli, srv, "GET", path, NULL, &reply)) != 0)
            goto out;
        page = json_object_get(reply, "events");
        got += (long long)json_array_size(page);
        if (json_array_size(page))
            before = cli_jint(json_array_get(page, 0), "id");
        json_array_insert(pages, 0, page); /* older pages go first */
        json_decref(reply);
        if ((long long)json_array_size(page) < n)
            break;
    }
    json_array_foreach(pages, k, page) {
        if (k == 0 && json_array_size(page))
            print_header(cli);
        json_array_foreach(page, i, ev) {
            if ((rc = print_event(run, ev)) != 0)
                goto out;
        }
    }
    if (run->printed == 0 && !cli->json)
        printf("no events\n");
out:
    json_decref(pages);
    return rc;
}

static int on_stream_event(void *ctx, const struct cli_sse_event *sse)
{
    struct events_run *run = ctx;
    json_t *ev;
    if (!sse) {
        fprintf(stderr, "airlift: following events; Ctrl-C stops\n");
        print_header(run->cli);
        fflush(stdout);
        return 0;
    }
    if (!(ev = json_loads(sse->data, 0, NULL)) || !json_is_object(ev)) {
        json_decref(ev);
        run->rc = cli_error(run->cli, CLI_EXIT_SERVER, "airliftd sent event %s that is not a "
                            "JSON object", sse->id);
        return 1;
    }
    run->rc = print_event(run, ev);
    json_decref(ev);
    return run->rc != 0 || (run->limit && run->printed >= run->limit);
}

/* With --follow: the live stream, until Ctrl-C, the limit, or a failure. */
static int follow_events(struct events_run *run, const struct cli_server *srv, const char *query,
                         bool after_given)
{
    struct sigaction sa;
    char path[1024], num[24];
    int rc;
    snprintf(path, sizeof path, "/v1/events/stream%s", query);
    if (after_given) {
        snprintf(num, sizeof num, "%lld", run->last_id);
        cli_query_add(path, sizeof path, "after", num);
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    rc = cli_api_stream(run->cli, srv, path, on_stream_event, run, &interrupted);
    if (rc == 0)
        rc = run->rc;
    if (rc == CLI_EXIT_SERVER && run->printed)
        fprintf(stderr, "airlift: to go on from the last event: airlift events --follow "
                        "--after %lld\n", run->last_id);
    return rc;
}

static int events_run(struct cli *cli, const struct cli_command *self, int argc, char **argv)
{
    static const struct cli_option options[] = {
        {"device", 0, true, OPT_DEVICE}, {"update", 0, true, OPT_UPDATE},
        {"rollout", 0, true, OPT_ROLLOUT}, {"type", 0, true, OPT_TYPE},
        {"after", 0, true, OPT_AFTER}, {"limit", 0, true, OPT_LIMIT},
        {"follow", 'f', false, OPT_FOLLOW}, {"since", 0, true, OPT_SINCE},
        {"until", 0, true, OPT_UNTIL}, {"last", 'n', true, OPT_LAST},
        {"device-id", 0, true, OPT_DEVICE_ID}, {NULL, 0, false, 0}};
    struct events_run run = {.cli = cli};
    struct cli_server srv;
    struct cli_parser p;
    const char *value;
    char query[512] = "";
    bool follow = false, after_given = false, fits = true;
    long long last = 0;
    int64_t id, t;
    int opt, rc;

    cli->ndjson = true;
    cli_parser_init(&p, cli, options, argc, argv);
    while ((opt = cli_parser_next(&p, &value)) != CLI_ARG_DONE) {
        switch (opt) {
        case OPT_DEVICE: fits = cli_query_add(query, sizeof query, "device", value); break;
        case OPT_UPDATE:
        case OPT_ROLLOUT:
        case OPT_DEVICE_ID: {
            const char *what = opt == OPT_UPDATE    ? "update"
                               : opt == OPT_ROLLOUT ? "rollout"
                                                    : "device_id";
            if (!alc_parse_id(value, false, &id))
                return cli_usage_error(cli, "--%s '%s': expected an id (a positive integer)",
                                       opt == OPT_DEVICE_ID ? "device-id" : what, value);
            fits = cli_query_add(query, sizeof query, what, value);
            break;
        }
        case OPT_TYPE:
            if (!type_prefix_valid(value))
                return cli_usage_error(cli, "--type '%s': expected the start of event types, "
                                       "1..%d of [a-z.] (e.g. update. or rollout.)", value,
                                       TYPE_PREFIX_MAX);
            fits = cli_query_add(query, sizeof query, "type", value);
            break;
        case OPT_AFTER:
            if (!alc_parse_id(value, true, &id))
                return cli_usage_error(cli, "--after '%s': expected an event id", value);
            run.last_id = id;
            after_given = true;
            break;
        case OPT_LIMIT:
            if (!alc_parse_id(value, false, &id))
                return cli_usage_error(cli, "--limit '%s': expected a positive number", value);
            run.limit = id;
            break;
        case OPT_FOLLOW: follow = true; break;
        case OPT_SINCE:
        case OPT_UNTIL:
            /* Checked here with the server's own rule; a relative time goes as typed, so the
             * server's clock measures it. */
            if (!alc_parse_time(value, 0, &t))
                return cli_usage_error(cli, "--%s '%s': expected an RFC 3339 time "
                                       "(2026-11-24T21:00:00Z), a date (2026-11-24) or a time "
                                       "ago (90s, 15m, 2h, 7d, 1w)",
                                       opt == OPT_SINCE ? "since" : "until", value);
            fits = cli_query_add(query, sizeof query, opt == OPT_SINCE ? "since" : "until", value);
            break;
        case OPT_LAST:
            if (!alc_parse_id(value, false, &id))
                return cli_usage_error(cli, "--last '%s': expected a positive number", value);
            last = id;
            break;
        case CLI_ARG_HELP: cli_print_help(self, cli->path); return 0;
        case CLI_ARG_POSITIONAL: return cli_usage_error(cli, "unexpected argument '%s'", value);
        default: return CLI_EXIT_USAGE;
        }
        if (!fits)
            return cli_usage_error(cli, "the filters are too long");
    }
    if (last && (follow || run.limit))
        return cli_usage_error(cli, "--last N (the newest N) goes with neither --limit nor "
                               "--follow");
    if ((rc = cli_server_load(cli, &srv)) != 0)
        return rc;
    if (last)
        return last_events(&run, &srv, query, last);
    return follow ? follow_events(&run, &srv, query, after_given)
                  : list_events(&run, &srv, query);
}

const struct cli_command cli_events_command = {
    "events", NULL, "what happened to devices, updates and rollouts; --follow: live",
    "Usage: airlift events [--device NAME | --device-id ID] [--update ID] [--rollout ID]\n"
    "                      [--type PREFIX]\n"
    "                      [--since T] [--until T] [--after ID]\n"
    "                      [-n|--last N | --limit N] [--follow] [--json]\n"
    "\n"
    "Prints the events airliftd recorded, oldest first, one line each: id, time, type,\n"
    "device, update, rollout, actor (who did it: a token's name, rollout N, device) and\n"
    "data. Filters combine.\n"
    "  --device NAME   events of one device (an unknown name is an error)\n"
    "  --device-id ID  events of the device with this id, a removed one too, whose name may\n"
    "                  be a newer device's now (the id: device_id in its events, --json)\n"
    "  --update ID     events of one update\n"
    "  --rollout ID    events of one rollout\n"
    "  --type PREFIX   types starting with PREFIX (update., rollout., device.created)\n"
    "  --since T       events at or after T: an RFC 3339 time (2026-11-24T21:00:00Z),\n"
    "                  a date (2026-11-24, midnight UTC) or a time ago (90s, 15m, 2h, 7d, 1w)\n"
    "  --until T       events before T (same forms)\n"
    "  --after ID      only events after this id\n"
    "  -n, --last N    the newest N events (printed oldest first)\n"
    "  --limit N       the oldest N events; with --follow: stop after N\n"
    "  -f, --follow    go on printing new events as they happen, until Ctrl-C (exit 0);\n"
    "                  without --after, only the events from now on\n"
    "  --json          one API event object per line (NDJSON)\n"
    "\n"
    "Exit codes: 0 ok (also Ctrl-C), 2 usage, 6 server unreachable, API error, or the\n"
    "stream broke (the last line says how to go on without losing an event).\n",
    events_run, NULL};
