/*
 * cmd_rollouts.c - airlift release PRODUCT VERSION (= airlift rollouts start) and
 * airlift rollouts list | status | pause | resume | cancel: a release going out to the
 * devices of its product, wave by wave, and what became of each wave so far.
 *
 * `status --watch` (and `release --watch`) polls the rollout once a second until it is
 * completed (exit 0), paused (CLI_EXIT_ROLLOUT_PAUSED) or cancelled
 * (CLI_EXIT_ROLLOUT_CANCELLED): on a terminal it redraws the status in place, otherwise it
 * prints one line per change; with --json, NDJSON: the rollout object each time it changes.
 */
#define _DEFAULT_SOURCE /* open_memstream, nanosleep, sigaction, TIOCGWINSZ */
#include "cli.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define POLL_MS 1000
#define BAR_WIDTH 10
#define BUDGET_MAX 1000000000000000ULL /* 1 PB a day: far past any cellular device */

enum { OPT_TO, OPT_WAVES, OPT_SUCCESS, OPT_MAX_FAILURES, OPT_RATE, OPT_BUDGET, OPT_WATCH,
       OPT_ALLOW_EMPTY, OPT_DRY_RUN, OPT_LIMIT, OPT_OFFSET };

/* The states of a rollout's devices, in the order the status shows them. */
static const struct {
    const char *state, *column;
} STATES[] = {
    {"pending", "PEND"},   {"updating", "UPDT"}, {"succeeded", "SUCC"}, {"failed", "FAIL"},
    {"reverted", "REVT"},  {"deferred", "DEFR"}, {"cancelled", "CANC"},
    {"superseded", "SUPS"}, {"pinned", "PIN"},   {"hand_flashed", "HAND"},
};

#define NSTATES (sizeof STATES / sizeof STATES[0])

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* ---- parsing the options of a new rollout ---- */

/* Digits only, at most 9 of them (so the value fits an int with room to spare). */
static bool small_uint(const char *s, size_t n, long *out)
{
    long v = 0;
    if (n == 0 || n > 9)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* "1,10%,100%" -> [{"count":1},{"percent":10},{"percent":100}]; NULL if malformed. */
static json_t *parse_waves(const char *s)
{
    json_t *waves = json_array();
    while (waves) {
        size_t n = strcspn(s, ",");
        bool percent = n > 0 && s[n - 1] == '%';
        long v;
        if (!small_uint(s, percent ? n - 1 : n, &v) || v < 1 || (percent && v > 100)) {
            json_decref(waves);
            return NULL;
        }
        json_array_append_new(waves, json_pack("{s:i}", percent ? "percent" : "count", (int)v));
        if (!s[n])
            break;
        s += n + 1;
    }
    return waves;
}

/* "95" or "95%", min..100. */
static bool parse_percent(const char *s, long min, long *out)
{
    size_t n = strlen(s);
    if (n && s[n - 1] == '%')
        n--;
    return small_uint(s, n, out) && *out >= min && *out <= 100;
}

/* "N/min" or "N". */
static bool parse_rate(const char *s, long *out)
{
    size_t n = strlen(s);
    if (n > 4 && !strcmp(s + n - 4, "/min"))
        n -= 4;
    return small_uint(s, n, out) && *out <= 1000000;
}

/* "500000", "500k", "1.5M", with an optional "B" and "/day": bytes a day (k = 1000). */
static bool parse_budget(const char *s, unsigned long long *out)
{
    unsigned long long whole = 0, frac = 0, scale = 1, mult = 1;
    const char *p = s;
    int digits = 0, frac_digits = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        if (whole > BUDGET_MAX)
            return false;
        whole = whole * 10 + (unsigned long long)(*p - '0');
    }
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++, frac_digits++) {
            if (frac_digits == 6)
                return false;
            frac = frac * 10 + (unsigned long long)(*p - '0');
            scale *= 10;
        }
    if (!digits)
        return false;
    if (*p == 'k' || *p == 'K')
        mult = 1000, p++;
    else if (*p == 'M')
        mult = 1000000, p++;
    if (*p == 'B')
        p++;
    if (*p && strcmp(p, "/day") != 0)
        return false;
    if (whole > BUDGET_MAX / mult || (frac * mult) % scale != 0)
        return false; /* too large, or not a whole number of bytes */
    *out = whole * mult + frac * mult / scale;
    return *out <= BUDGET_MAX;
}

/* ---- showing a rollout ---- */

/* "a, b" from an array of strings, into buf. */
static void join(json_t *arr, char *buf, size_t cap)
{
    json_t *v;
    size_t i, used = 0;
    buf[0] = '\0';
    json_array_foreach(arr, i, v) {
        int w = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", json_string_value(v));
        if (w < 0 || (size_t)w >= cap - used)
            break;
        used += (size_t)w;
    }
}

/* Who the rollout is for. */
static void target_str(json_t *ro, char *buf, size_t cap)
{
    json_t *t = json_object_get(ro, "target");
    json_t *groups = json_object_get(t, "groups"), *channels = json_object_get(t, "channels");
    char g[256], c[256];
    join(groups, g, sizeof g);
    join(channels, c, sizeof c);
    if (json_array_size(channels))
        snprintf(buf, cap, "%s%s%s on channel%s %s", json_array_size(groups) ? "group" : "",
                 json_array_size(groups) > 1 ? "s " : json_array_size(groups) ? " " : "",
                 json_array_size(groups) ? g : "the product's devices",
                 json_array_size(channels) > 1 ? "s" : "", c);
    else
        snprintf(buf, cap, "%s%s%s on channel %s (the release's)",
                 json_array_size(groups) ? "group" : "",
                 json_array_size(groups) > 1 ? "s " : json_array_size(groups) ? " " : "",
                 json_array_size(groups) ? g : "the product's devices",
                 cli_jstr(json_object_get(ro, "release"), "channel"));
}

/* "1, 10%, 100%" from the waves as given. */
static void waves_str(json_t *spec, char *buf, size_t cap)
{
    json_t *w;
    size_t i, used = 0;
    buf[0] = '\0';
    json_array_foreach(spec, i, w) {
        bool pct = json_object_get(w, "percent") != NULL;
        int n = snprintf(buf + used, cap - used, "%s%lld%s", i ? ", " : "",
                         cli_jint(w, pct ? "percent" : "count"), pct ? "%" : "");
        if (n < 0 || (size_t)n >= cap - used)
            break;
        used += (size_t)n;
    }
}

/* The thresholds and limits, in words. */
static void rules_str(json_t *ro, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "next wave once %lld%% of the one before succeeded",
                     cli_jint(ro, "success_percent"));
    if (n >= 0 && (size_t)n < cap && cli_jint(ro, "error_count"))
        n += snprintf(buf + n, cap - (size_t)n, "; pause at %lld failures",
                      cli_jint(ro, "error_count"));
    if (n >= 0 && (size_t)n < cap && cli_jint(ro, "error_percent"))
        n += snprintf(buf + n, cap - (size_t)n, "; pause at %lld%% failures",
                      cli_jint(ro, "error_percent"));
    if (n >= 0 && (size_t)n < cap && cli_jint(ro, "rate_per_min"))
        n += snprintf(buf + n, cap - (size_t)n, "; at most %lld updates/min",
                      cli_jint(ro, "rate_per_min"));
    if (n >= 0 && (size_t)n < cap && cli_jint(ro, "budget_bytes_per_day"))
        snprintf(buf + n, cap - (size_t)n, "; at most %lld bytes/day per device",
                 cli_jint(ro, "budget_bytes_per_day"));
}

/* "12 devices: 3 pending, 2 updating, 7 succeeded" (the states with devices only). */
static void totals_str(json_t *ro, char *buf, size_t cap)
{
    json_t *counts = json_object_get(ro, "counts");
    long long devices = cli_jint(ro, "devices");
    int n = snprintf(buf, cap, "%lld device%s", devices, devices == 1 ? "" : "s");
    const char *sep = ": ";
    for (size_t i = 0; i < NSTATES && n >= 0 && (size_t)n < cap; i++) {
        long long c = cli_jint(counts, STATES[i].state);
        if (!c)
            continue;
        n += snprintf(buf + n, cap - (size_t)n, "%s%lld %s", sep, c, cli_rollout_state_words(STATES[i].state));
        sep = ", ";
    }
}

/* A wave's bar: # succeeded, ! failed or reverted, > updating, x cancelled, . waiting. */
static void bar_str(json_t *w, char bar[BAR_WIDTH + 1])
{
    long long total = cli_jint(w, "devices"), cum = 0;
    const struct {
        long long n;
        char c;
    } parts[] = {
        {cli_jint(w, "succeeded"), '#'},
        {cli_jint(w, "failed") + cli_jint(w, "reverted"), '!'},
        {cli_jint(w, "updating"), '>'},
        {cli_jint(w, "cancelled"), 'x'},
    };
    int filled = 0;
    memset(bar, total ? '.' : ' ', BAR_WIDTH);
    bar[BAR_WIDTH] = '\0';
    for (size_t i = 0; total && i < sizeof parts / sizeof parts[0]; i++) {
        cum += parts[i].n;
        int upto = (int)((cum * BAR_WIDTH + total / 2) / total);
        if (parts[i].n && upto == filled && filled < BAR_WIDTH)
            upto = filled + 1; /* a state with devices shows at least one mark */
        for (; filled < upto && filled < BAR_WIDTH; filled++)
            bar[filled] = parts[i].c;
    }
}

/* The whole status of a rollout, as text. */
static void print_status(FILE *f, json_t *ro)
{
    json_t *spec = json_object_get(ro, "waves_spec"), *waves = json_object_get(ro, "waves");
    json_t *rel = json_object_get(ro, "release");
    char buf[768];
    size_t nwaves = json_array_size(spec) > json_array_size(waves) ? json_array_size(spec)
                                                                    : json_array_size(waves);
    fprintf(f, "rollout #%lld of release %s (channel %s): %s%s%s\n", cli_jint(ro, "id"),
            json_is_object(rel) ? cli_jstr(rel, "version") : "?", cli_jstr(rel, "channel"),
            cli_jstr(ro, "state"), cli_jstr(ro, "why")[0] ? ": " : "", cli_jstr(ro, "why"));
    target_str(ro, buf, sizeof buf);
    fprintf(f, "  for:    %s\n", buf);
    waves_str(spec, buf, sizeof buf);
    fprintf(f, "  waves:  %s\n", buf);
    rules_str(ro, buf, sizeof buf);
    fprintf(f, "  rules:  %s\n", buf);
    totals_str(ro, buf, sizeof buf);
    fprintf(f, "  now:    %s\n", buf);
    fprintf(f, "WAVE SPEC  DEVICES PROGRESS    ");
    for (size_t s = 0; s < NSTATES; s++)
        fprintf(f, " %4s", STATES[s].column);
    fputc('\n', f);
    for (size_t i = 0; i < nwaves; i++) {
        json_t *w = json_array_get(waves, i), *sw = json_array_get(spec, i);
        char bar[BAR_WIDTH + 1], label[16] = "";
        if (sw)
            snprintf(label, sizeof label, "%lld%s",
                     cli_jint(sw, json_object_get(sw, "percent") ? "percent" : "count"),
                     json_object_get(sw, "percent") ? "%" : "");
        bar_str(w, bar);
        fprintf(f, "%-4zu %-5s %7lld [%s]", i + 1, label, cli_jint(w, "devices"), bar);
        for (size_t s = 0; s < NSTATES; s++)
            fprintf(f, " %4lld", cli_jint(w, STATES[s].state));
        fputc('\n', f);
    }
    fprintf(f, "(# succeeded, ! failed or reverted, > updating, x cancelled, . waiting)\n");
}

/* Lines a text takes on a terminal `cols` wide. */
static int screen_rows(const char *text, int cols)
{
    int rows = 0, len = 0;
    for (const char *p = text; *p; p++) {
        if (*p != '\n') {
            len++;
            continue;
        }
        rows += len ? (len + cols - 1) / cols : 1;
        len = 0;
    }
    return rows + (len ? (len + cols - 1) / cols : 0);
}

/* ---- the API ---- */

/* "#3" or "3" -> "/v1/rollouts/3" (+ suffix); a usage error if not an id. */
static int rollout_path(struct cli *cli, const char *arg, const char *suffix, char *path,
                        size_t cap, long long *id)
{
    int64_t v;
    if (!alc_parse_id(arg[0] == '#' ? arg + 1 : arg, false, &v))
        return cli_usage_error(cli, "rollout id '%s': expected a positive number (airlift "
                               "rollouts list shows them)", arg);
    *id = v;
    snprintf(path, cap, "/v1/rollouts/%lld%s", *id, suffix);
    return 0;
}

/* What the exit code is for a rollout that stopped moving; -1 while it runs. */
static int final_code(json_t *ro)
{
    const char *state = cli_jstr(ro, "state");
    return !strcmp(state, "completed")   ? CLI_EXIT_OK
           : !strcmp(state, "paused")    ? CLI_EXIT_ROLLOUT_PAUSED
           : !strcmp(state, "cancelled") ? CLI_EXIT_ROLLOUT_CANCELLED
           : !strcmp(state, "superseded") ? CLI_EXIT_ROLLOUT_CANCELLED /* ended early too */
                                          : -1;
}

/* The parts of a rollout that change while it runs. */
static json_t *moving_parts(json_t *ro)
{
    return json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?}", "state", json_object_get(ro, "state"),
                     "why", json_object_get(ro, "why"), "devices",
                     json_object_get(ro, "devices"), "counts", json_object_get(ro, "counts"),
                     "waves", json_object_get(ro, "waves"));
}

/*
 * Follow rollout id until it completes, pauses or is cancelled; ro is its first state (not
 * stolen). Returns the exit code.
 */
static int watch(struct cli *cli, const struct cli_server *srv, long long id, json_t *first)
{
    struct sigaction sa;
    struct winsize ws;
    char path[64];
    bool tty = !cli->json && isatty(STDOUT_FILENO);
    int drawn_rows = 0, rc = 0;
    json_t *ro = json_incref(first), *last = NULL;
    char *last_text = NULL;
    snprintf(path, sizeof path, "/v1/rollouts/%lld", id);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    if (cli->json)
        cli->ndjson = true;
    for (;;) {
        json_t *now = moving_parts(ro);
        bool changed = !last || !json_equal(now, last);
        if (cli->json && changed) {
            if ((rc = cli_json_print(cli, json_incref(ro))) != 0)
                break;
        } else if (tty) {
            char *text = NULL;
            size_t len = 0;
            FILE *mem = open_memstream(&text, &len);
            if (mem) {
                print_status(mem, ro);
                fclose(mem);
            }
            if (text && (!last_text || strcmp(text, last_text))) {
                int cols = ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col ? ws.ws_col : 80;
                if (drawn_rows)
                    printf("\033[%dA\r\033[J", drawn_rows);
                fputs(text, stdout);
                drawn_rows = screen_rows(text, cols);
                free(last_text);
                last_text = text;
                text = NULL;
            }
            free(text);
        } else if (!cli->json && changed) {
            char totals[512];
            totals_str(ro, totals, sizeof totals);
            if (!last)
                print_status(stdout, ro);
            else
                printf("%s%s%s%s; %s\n", cli_jstr(ro, "state"), cli_jstr(ro, "why")[0] ? " (" : "",
                       cli_jstr(ro, "why"), cli_jstr(ro, "why")[0] ? ")" : "", totals);
        }
        fflush(stdout);
        json_decref(last);
        last = now;
        if ((rc = final_code(ro)) >= 0)
            break;
        if (interrupted) {
            rc = cli_error(cli, CLI_EXIT_TIMEOUT, "stopped watching; rollout #%lld goes on "
                           "(airlift rollouts status %lld --watch)", id, id);
            break;
        }
        struct timespec ts = {POLL_MS / 1000, (POLL_MS % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        if (interrupted)
            continue; /* report it without another call */
        json_decref(ro);
        ro = NULL;
        if ((rc = cli_api_ok(cli, srv, "GET", path, NULL, &ro)) != 0)
            break;
    }
    if (!cli->json && rc == CLI_EXIT_OK)
        printf("rollout #%lld completed\n", id);
    else if (!cli->json && rc == CLI_EXIT_ROLLOUT_PAUSED)
        printf("rollout #%lld is paused%s%s; airlift rollouts resume %lld goes on, cancel "
               "%lld stops it\n", id, cli_jstr(ro, "why")[0] ? ": " : "", cli_jstr(ro, "why"), id,
               id);
    else if (!cli->json && rc == CLI_EXIT_ROLLOUT_CANCELLED)
        printf("rollout #%lld was cancelled%s%s\n", id, cli_jstr(ro, "why")[0] ? ": " : "",
               cli_jstr(ro, "why"));
    free(last_text);
    json_decref(last);
    json_decref(ro);
    return rc;
}

/* What a dry run shows: the waves, then each listed device, what it needs and the bytes. */
static void print_preview(json_t *pv, const char *product, const char *version)
{
    json_t *waves = json_object_get(pv, "waves"), *list = json_object_get(pv, "list"), *w, *d;
    char target[512];
    size_t i;
    json_t *fake = json_pack("{s:O?, s:{s:O?}}", "target", json_object_get(pv, "target"),
                             "release", "channel", json_object_get(pv, "channel"));
    target_str(fake, target, sizeof target);
    json_decref(fake);
    printf("dry run: nothing started. Release %s %s to %s: %lld device%s in %zu wave%s",
           product, version, target, cli_jint(pv, "devices"),
           cli_jint(pv, "devices") == 1 ? "" : "s", json_array_size(waves),
           json_array_size(waves) == 1 ? "" : "s");
    if (cli_jint(pv, "pinned"))
        printf(" (%lld pinned to another release: left alone)", cli_jint(pv, "pinned"));
    printf("\n");
    json_array_foreach(waves, i, w)
        printf("  wave %lld: %lld device%s\n", cli_jint(w, "wave"), cli_jint(w, "devices"),
               cli_jint(w, "devices") == 1 ? "" : "s");
    if (json_array_size(list))
        printf("%-20s %4s %-8s %10s  %s\n", "DEVICE", "WAVE", "NEEDS", "BYTES", "STEPS");
    json_array_foreach(list, i, d) {
        const char *needs = cli_jstr(d, "needs");
        char steps[512] = "", bytes[24] = "-";
        size_t used = 0, k;
        json_t *s;
        json_array_foreach(json_object_get(d, "steps"), k, s) {
            int n = snprintf(steps + used, sizeof steps - used, "%s%s %s (%s)", k ? ", " : "",
                             cli_jstr(s, "function"), cli_jstr(s, "version"),
                             cli_jstr(s, "encoding"));
            if (n < 0 || (size_t)n >= sizeof steps - used)
                break;
            used += (size_t)n;
        }
        if (!strcmp(needs, "update"))
            snprintf(bytes, sizeof bytes, "%lld", cli_jint(d, "wire_estimate"));
        else if (!strcmp(needs, "pinned"))
            snprintf(steps, sizeof steps, "pinned to %s", cli_jstr(d, "why"));
        else if (!strcmp(needs, "error"))
            snprintf(steps, sizeof steps, "%s", cli_jstr(d, "why"));
        else
            snprintf(steps, sizeof steps, "runs the release already");
        printf("%-20s %4lld %-8s %10s  %s\n", cli_jstr(d, "device"), cli_jint(d, "wave"), needs,
               bytes, steps);
    }
    printf("estimated bytes on the air: %lld for the %zu device%s listed", cli_jint(pv, "wire_estimate"),
           json_array_size(list), json_array_size(list) == 1 ? "" : "s");
    if (json_is_integer(json_object_get(pv, "next_offset")))
        printf("; more with --offset %lld", cli_jint(pv, "next_offset"));
    printf("\n");
}

/* ---- commands ---- */

static int rollout_start(struct cli *cli, const struct cli_command *self, int argc, char **argv)
{
    static const struct cli_option options[] = {
        {"to", 0, true, OPT_TO}, {"waves", 0, true, OPT_WAVES},
        {"success", 0, true, OPT_SUCCESS}, {"max-failures", 0, true, OPT_MAX_FAILURES},
        {"rate", 0, true, OPT_RATE}, {"budget", 0, true, OPT_BUDGET},
        {"watch", 'w', false, OPT_WATCH}, {"allow-empty", 0, false, OPT_ALLOW_EMPTY},
        {"dry-run", 'n', false, OPT_DRY_RUN}, {"limit", 0, true, OPT_LIMIT},
        {"offset", 0, true, OPT_OFFSET}, {NULL, 0, false, 0}};
    struct cli_server srv;
    struct cli_parser p;
    struct al_version ver;
    bool dry_run = false;
    long page_limit = -1, page_offset = -1;
    const char *value, *product = NULL, *version = NULL;
    json_t *req = json_object(), *groups = json_array(), *channels = json_array(), *reply = NULL;
    json_t *waves = NULL;
    bool watching = false;
    unsigned long long budget;
    long v;
    int opt, rc = CLI_EXIT_USAGE;
    cli_parser_init(&p, cli, options, argc, argv);
    while ((opt = cli_parser_next(&p, &value)) != CLI_ARG_DONE) {
        switch (opt) {
        case OPT_TO:
            if (!strncmp(value, "group:", 6) && value[6]) {
                json_array_append_new(groups, json_string(value + 6));
            } else if (!strncmp(value, "channel:", 8) && value[8]) {
                json_array_append_new(channels, json_string(value + 8));
            } else {
                rc = cli_usage_error(cli, "--to '%s': expected group:NAME or channel:NAME", value);
                goto out;
            }
            break;
        case OPT_WAVES:
            json_decref(waves);
            if (!(waves = parse_waves(value))) {
                rc = cli_usage_error(cli, "--waves '%s': expected sizes separated by commas, "
                                     "each a number of devices (>= 1) or a percent N%% "
                                     "(1..100), e.g. 1,10%%,100%%", value);
                goto out;
            }
            break;
        case OPT_SUCCESS:
            if (!parse_percent(value, 1, &v)) {
                rc = cli_usage_error(cli, "--success '%s': expected a percent 1..100", value);
                goto out;
            }
            cli_json_set(req, "success_percent", json_integer(v));
            break;
        case OPT_MAX_FAILURES:
            json_object_del(req, "error_count");
            json_object_del(req, "error_percent");
            if (value[0] && value[strlen(value) - 1] == '%' && parse_percent(value, 0, &v)) {
                cli_json_set(req, "error_percent", json_integer(v));
            } else if (small_uint(value, strlen(value), &v) && v <= 1000000) {
                cli_json_set(req, "error_count", json_integer(v));
            } else {
                rc = cli_usage_error(cli, "--max-failures '%s': expected a number of devices "
                                     "or a percent (5%%) of the updates started", value);
                goto out;
            }
            break;
        case OPT_RATE:
            if (!parse_rate(value, &v)) {
                rc = cli_usage_error(cli, "--rate '%s': expected updates started per minute, "
                                     "N/min (0..1000000; 0: no limit)", value);
                goto out;
            }
            cli_json_set(req, "rate_per_min", json_integer(v));
            break;
        case OPT_BUDGET:
            if (!parse_budget(value, &budget)) {
                rc = cli_usage_error(cli, "--budget '%s': expected bytes per day per device, "
                                     "e.g. 500000, 500k/day or 1.5M/day (k = 1000, "
                                     "M = 1000000; 0: no budget)", value);
                goto out;
            }
            cli_json_set(req, "budget_bytes_per_day", json_integer((json_int_t)budget));
            break;
        case OPT_WATCH: watching = true; break;
        case OPT_ALLOW_EMPTY: cli_json_set(req, "allow_empty", json_true()); break;
        case OPT_DRY_RUN: dry_run = true; break;
        case OPT_LIMIT:
        case OPT_OFFSET:
            if (!small_uint(value, strlen(value), &v) || (opt == OPT_LIMIT && (v < 1 || v > 1000))) {
                rc = cli_usage_error(cli, "--%s '%s': expected %s", opt == OPT_LIMIT ? "limit" : "offset",
                                     value, opt == OPT_LIMIT ? "a number of devices 1..1000"
                                                             : "a number of devices >= 0");
                goto out;
            }
            *(opt == OPT_LIMIT ? &page_limit : &page_offset) = v;
            break;
        case CLI_ARG_HELP: cli_print_help(self, cli->path); rc = 0; goto out;
        case CLI_ARG_POSITIONAL:
            if (!product) {
                product = value;
            } else if (!version) {
                version = value;
            } else {
                rc = cli_usage_error(cli, "unexpected argument '%s'", value);
                goto out;
            }
            break;
        default: goto out;
        }
    }
    if (!version) {
        rc = cli_usage_error(cli, "usage: airlift %s PRODUCT VERSION [options] (see --help)",
                             cli->path);
        goto out;
    }
    if (!cli_parse_version(version, &ver)) {
        rc = cli_usage_error(cli, "version '%s': expected a semantic version such as 1.2.0",
                             version);
        goto out;
    }
    cli_json_set(req, "product", json_string(product));
    cli_json_set(req, "release", json_string(version));
    if (json_array_size(groups) || json_array_size(channels)) {
        json_t *target = json_object();
        if (json_array_size(groups))
            json_object_set(target, "groups", groups);
        if (json_array_size(channels))
            json_object_set(target, "channels", channels);
        cli_json_set(req, "target", target);
    }
    if (waves)
        json_object_set(req, "waves", waves);
    if ((page_limit >= 0 || page_offset >= 0) && !dry_run) {
        rc = cli_usage_error(cli, "--limit and --offset page the devices of --dry-run");
        goto out;
    }
    if (dry_run) {
        if (watching) {
            rc = cli_usage_error(cli, "--dry-run starts nothing to --watch");
            goto out;
        }
        cli_json_set(req, "dry_run", json_true());
        if (page_limit >= 0)
            cli_json_set(req, "limit", json_integer(page_limit));
        if (page_offset >= 0)
            cli_json_set(req, "offset", json_integer(page_offset));
        if ((rc = cli_server_load(cli, &srv)) != 0 ||
            (rc = cli_api_ok(cli, &srv, "POST", "/v1/rollouts", req, &reply)) != 0)
            goto out;
        if (cli->json) {
            rc = cli_json_print(cli, reply);
            reply = NULL;
        } else {
            print_preview(reply, product, version);
        }
        goto out;
    }
    if ((rc = cli_server_load(cli, &srv)) != 0 ||
        (rc = cli_api_ok(cli, &srv, "POST", "/v1/rollouts", req, &reply)) != 0)
        goto out;
    long long id = cli_jint(reply, "id");
    if (watching) {
        if (!cli->json) {
            char target[512], spec[256];
            target_str(reply, target, sizeof target);
            waves_str(json_object_get(reply, "waves_spec"), spec, sizeof spec);
            printf("rollout #%lld started: %s %s to %s, in waves %s\n", id, product, version,
                   target, spec);
        }
        rc = watch(cli, &srv, id, reply);
    } else if (cli->json) {
        rc = cli_json_print(cli, reply);
        reply = NULL;
    } else {
        char target[512], spec[256];
        target_str(reply, target, sizeof target);
        waves_str(json_object_get(reply, "waves_spec"), spec, sizeof spec);
        printf("rollout #%lld started: %s %s to %s, in waves %s\n"
               "follow it with: airlift rollouts status %lld --watch\n",
               id, product, version, target, spec, id);
    }
out:
    json_decref(req);
    json_decref(groups);
    json_decref(channels);
    json_decref(waves);
    json_decref(reply);
    return rc;
}

static int rollouts_list(struct cli *cli, const struct cli_command *self, int argc, char **argv)
{
    struct cli_server srv;
    json_t *reply = NULL, *ro;
    size_t i;
    int rc = cli_positionals(cli, self, argc, argv, NULL, 0, "");
    if (rc)
        return rc < 0 ? 0 : rc;
    if ((rc = cli_server_load(cli, &srv)) != 0 ||
        (rc = cli_api_ok(cli, &srv, "GET", "/v1/rollouts", NULL, &reply)) != 0)
        return rc;
    if (cli->json)
        return cli_json_print(cli, reply);
    json_t *list = json_object_get(reply, "rollouts");
    if (!json_array_size(list))
        printf("no rollouts (airlift release PRODUCT VERSION starts one)\n");
    else
        printf("%-6s %-10s %-16s %7s %9s %6s  %s\n", "ID", "STATE", "RELEASE", "DEVICES",
               "SUCCEEDED", "FAILED", "CREATED");
    json_array_foreach(list, i, ro) {
        json_t *counts = json_object_get(ro, "counts");
        char id[24];
        snprintf(id, sizeof id, "%lld", cli_jint(ro, "id"));
        printf("%-6s %-10s %-16s %7lld %9lld %6lld  %s\n", id, cli_jstr(ro, "state"),
               cli_jstr(json_object_get(ro, "release"), "version"), cli_jint(ro, "devices"),
               cli_jint(counts, "succeeded"),
               cli_jint(counts, "failed") + cli_jint(counts, "reverted"),
               cli_jstr(ro, "created_at"));
    }
    json_decref(reply);
    return 0;
}

static int rollouts_status(struct cli *cli, const struct cli_command *self, int argc,
                           char **argv)
{
    static const struct cli_option options[] = {{"watch", 'w', false, OPT_WATCH},
                                                {NULL, 0, false, 0}};
    struct cli_server srv;
    struct cli_parser p;
    const char *value, *arg = NULL;
    char path[64];
    bool watching = false;
    json_t *ro = NULL;
    long long id;
    int opt, rc;
    cli_parser_init(&p, cli, options, argc, argv);
    while ((opt = cli_parser_next(&p, &value)) != CLI_ARG_DONE) {
        switch (opt) {
        case OPT_WATCH: watching = true; break;
        case CLI_ARG_HELP: cli_print_help(self, cli->path); return 0;
        case CLI_ARG_POSITIONAL:
            if (arg)
                return cli_usage_error(cli, "one rollout id, please");
            arg = value;
            break;
        default: return CLI_EXIT_USAGE;
        }
    }
    if (!arg)
        return cli_usage_error(cli, "which rollout? (airlift rollouts status ID)");
    if ((rc = rollout_path(cli, arg, "", path, sizeof path, &id)) != 0 ||
        (rc = cli_server_load(cli, &srv)) != 0 ||
        (rc = cli_api_ok(cli, &srv, "GET", path, NULL, &ro)) != 0)
        return rc;
    if (watching) {
        rc = watch(cli, &srv, id, ro);
        json_decref(ro);
        return rc;
    }
    if (cli->json)
        return cli_json_print(cli, ro);
    print_status(stdout, ro);
    json_decref(ro);
    return 0;
}

static int rollouts_devices(struct cli *cli, const struct cli_command *self, int argc,
                            char **argv)
{
    struct cli_server srv;
    const char *arg;
    char path[64];
    json_t *reply = NULL, *d;
    long long id;
    size_t i;
    int rc = cli_positionals(cli, self, argc, argv, &arg, 1, "ID");
    if (rc)
        return rc < 0 ? 0 : rc;
    if ((rc = rollout_path(cli, arg, "/devices", path, sizeof path, &id)) != 0 ||
        (rc = cli_server_load(cli, &srv)) != 0 ||
        (rc = cli_api_ok(cli, &srv, "GET", path, NULL, &reply)) != 0)
        return rc;
    if (cli->json)
        return cli_json_print(cli, reply);
    json_t *list = json_object_get(reply, "devices");
    if (!json_array_size(list))
        printf("rollout #%lld holds no devices (yet: it enrolls its target's devices within "
               "a second)\n", id);
    else
        printf("%-20s %4s %-15s %-7s %-24s %s\n", "DEVICE", "WAVE", "STATE", "UPDATE",
               "STARTED", "FINISHED");
    json_array_foreach(list, i, d) {
        char upd[24] = "-";
        if (json_is_integer(json_object_get(d, "update_id")))
            snprintf(upd, sizeof upd, "#%lld", cli_jint(d, "update_id"));
        printf("%-20s %4lld %-15s %-7s %-24s %s\n", cli_jstr(d, "device"), cli_jint(d, "wave"),
               cli_rollout_state_words(cli_jstr(d, "state")), upd,
               json_is_string(json_object_get(d, "started_at")) ? cli_jstr(d, "started_at") : "-",
               json_is_string(json_object_get(d, "finished_at")) ? cli_jstr(d, "finished_at")
                                                                   : "-");
    }
    json_decref(reply);
    return 0;
}

/* pause, resume, cancel: the command's own name is the action. */
static int rollouts_act(struct cli *cli, const struct cli_command *self, int argc, char **argv)
{
    struct cli_server srv;
    const char *arg;
    char path[64], suffix[16];
    json_t *ro = NULL;
    long long id;
    int rc = cli_positionals(cli, self, argc, argv, &arg, 1, "ID");
    if (rc)
        return rc < 0 ? 0 : rc;
    snprintf(suffix, sizeof suffix, "/%s", self->name);
    if ((rc = rollout_path(cli, arg, suffix, path, sizeof path, &id)) != 0 ||
        (rc = cli_server_load(cli, &srv)) != 0 ||
        (rc = cli_api_ok(cli, &srv, "POST", path, NULL, &ro)) != 0)
        return rc;
    if (cli->json)
        return cli_json_print(cli, ro);
    printf("rollout #%lld is %s%s%s\n", id, cli_jstr(ro, "state"),
           cli_jstr(ro, "why")[0] ? ": " : "", cli_jstr(ro, "why"));
    if (!strcmp(self->name, "cancel") && cli_jint(json_object_get(ro, "counts"), "cancelled"))
        printf("%lld device%s will not get the release (updates under way were cancelled)\n",
               cli_jint(json_object_get(ro, "counts"), "cancelled"),
               cli_jint(json_object_get(ro, "counts"), "cancelled") == 1 ? "" : "s");
    json_decref(ro);
    return 0;
}

#define START_HELP(usage, alias_line)                                                          \
    "Usage: airlift " usage " PRODUCT VERSION [--to group:NAME]... [--to channel:NAME]...\n"  \
    "         [--waves 1,10%,100%] [--success P] [--max-failures N|N%] [--rate N/min]\n"       \
    "         [--budget BYTES/day] [--allow-empty] [--watch] [--json]\n"                       \
    "       airlift " usage " PRODUCT VERSION [options] --dry-run [--limit N] [--offset N]\n"  \
    "\n"                                                                                       \
    "Starts a rollout of release VERSION of PRODUCT to the product's devices (development\n"  \
    "devices never; pinned ones only if pinned to VERSION), wave by wave. VERSION becomes\n"  \
    "the desired release of the devices it covers: it supersedes the older running or\n"      \
    "paused rollouts' devices that have not started (docs/fleets.md), and a device that\n"    \
    "joins the target later gets it, once.\n"                                                \
    alias_line "\n"                                                                            \
    "  --to group:NAME     devices in this group (repeatable; default: every group)\n"        \
    "  --to channel:NAME   devices on this channel (repeatable; default: the release's)\n"    \
    "  --waves LIST        wave sizes: a number of devices, or N% of the target; the last\n"  \
    "                      wave takes the rest (default: 100%, one wave)\n"                   \
    "  --success P         a wave opens once P% of the one before succeeded (default 100)\n"  \
    "  --max-failures N    pause the rollout at N failed or reverted updates, or\n"           \
    "  --max-failures N%   at N% of the updates started (default: never)\n"                   \
    "  --rate N/min        start at most N updates a minute (default: no limit)\n"            \
    "  --budget B/day      skip (defer) a device whose updates would pass B bytes on the\n"   \
    "                      air in a day; k = 1000, M = 1000000: 500k/day, 1.5M/day\n"         \
    "  -w, --watch         follow it like airlift rollouts status ID --watch\n"               \
    "  --allow-empty       start it even if a --to group or channel has no device yet\n"     \
    "                      (without it, that is refused, naming the groups in use)\n"        \
    "  -n, --dry-run       start nothing: show the devices per wave, what each needs\n"      \
    "                      (steps, encoding) and the estimated bytes on the air\n"           \
    "  --limit N           devices a dry run lists (default 100, at most 1000)\n"           \
    "  --offset N          from the Nth device on (paging a dry run)\n"                      \
    "\n"                                                                                       \
    "Prints the rollout's id; --json: the API's rollout object. With --watch, the exit codes\n"\
    "of rollouts status --watch: 0 completed, 12 paused, 13 cancelled or superseded.\n"      \
    "Exit 6 if the server refuses (a target group or channel with no device: 'target group\n"\
    "'NAME': no device of product 'P' is in it (its groups: ...)').\n"

const struct cli_command cli_release_command = {
    "release", NULL, "roll a release out to the fleet, in waves (= rollouts start)",
    START_HELP("release", "Same as airlift rollouts start."), rollout_start, NULL};

static const struct cli_command start_cmd = {
    "start", NULL, "roll a release out to the fleet, in waves (= airlift release)",
    START_HELP("rollouts start", "Same as airlift release."), rollout_start, NULL};
static const struct cli_command list_cmd = {
    "list", "ls", "every rollout: state, release, devices, successes, failures",
    "Usage: airlift rollouts list [--json]\n", rollouts_list, NULL};
static const struct cli_command status_cmd = {
    "status", "show", "a rollout wave by wave; --watch follows it to its end",
    "Usage: airlift rollouts status ID [--watch] [--json]\n"
    "\n"
    "The rollout's release, state (and why: what paused it), target, waves and thresholds,\n"
    "then one line per wave: its size as given, its devices, a bar (# succeeded, ! failed\n"
    "or reverted, > updating, x cancelled, . waiting) and its devices per state: pending,\n"
    "updating, succeeded, failed, reverted, deferred (over the data budget), cancelled.\n"
    "  -w, --watch   follow it until it is completed, paused or cancelled: redrawn in\n"
    "                place on a terminal, else one line per change; --json: NDJSON, the\n"
    "                rollout object at each change\n"
    "\n"
    "Exit codes: 0 (with --watch: completed), 2 usage, 6 server error or no such rollout;\n"
    "with --watch: 12 paused, 13 cancelled or superseded, 9 interrupted (the rollout goes on).\n",
    rollouts_status, NULL};
static const struct cli_command devices_cmd = {
    "devices", NULL, "each device of a rollout: its wave, state and update",
    "Usage: airlift rollouts devices ID [--json]\n"
    "\n"
    "One line per device the rollout holds: its wave, its state there (pending, updating,\n"
    "succeeded, failed, reverted, deferred, cancelled; superseded: a newer rollout took it\n"
    "before it started; pinned: pinned to another release; flashed by hand: a user flashed\n"
    "it while the rollout ran), its update (airlift events --update\n"
    "ID tells its story), when that started and ended. --json: the API's {\"devices\": [...]}.\n",
    rollouts_devices, NULL};
static const struct cli_command pause_cmd = {
    "pause", NULL, "stop starting updates (those under way go on)",
    "Usage: airlift rollouts pause ID [--json]\n"
    "\n"
    "A running rollout starts no more updates until resumed; updates under way finish.\n"
    "Exit 6 if it is not running.\n",
    rollouts_act, NULL};
static const struct cli_command resume_cmd = {
    "resume", NULL, "go on with a paused rollout",
    "Usage: airlift rollouts resume ID [--json]\n"
    "\n"
    "A paused rollout (by a user or by its failure threshold) runs again. Exit 6 if it is\n"
    "not paused.\n",
    rollouts_act, NULL};
static const struct cli_command cancel_cmd = {
    "cancel", NULL, "end a rollout for good, and cancel its updates under way",
    "Usage: airlift rollouts cancel ID [--json]\n"
    "\n"
    "Ends a running or paused rollout: its devices still waiting will not get the release,\n"
    "its updates under way are cancelled. Exit 6 if it already ended.\n",
    rollouts_act, NULL};

static const struct cli_command *const rollouts_cmds[] = {
    &start_cmd, &list_cmd, &status_cmd, &devices_cmd, &pause_cmd, &resume_cmd, &cancel_cmd,
    NULL};
const struct cli_command cli_rollouts_group = {
    "rollouts", "rollout", "rollouts: start, list, status, devices, pause, resume, cancel",
    NULL, NULL, rollouts_cmds};
