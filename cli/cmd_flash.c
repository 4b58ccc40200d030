/*
 * cmd_flash.c - airlift flash NAME IMAGE... and airlift status NAME: check the images here,
 * show the plan and its cost on the wire, ask for the MB figure, queue the update, then follow
 * the device until it reports the new version running and confirmed (or why not).
 */
#include "cli.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_IMAGES 8
#define POLL_MS 200
#define BAR_WIDTH 24

enum { OPT_YES, OPT_NO_WAIT, OPT_TIMEOUT, OPT_KEY, OPT_REPLACE };

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The CLI's one size style (cli_size_str: decimal kB and MB, as carriers bill). */
static void human_bytes(double b, char *out, size_t cap)
{
    cli_size_str(b > 0 ? (uint64_t)b : 0, out, cap);
}

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static long long num(json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

/* "application 1 2.0.0, system 2 0.7.0" from an update's steps. */
static void steps_line(json_t *u, char *buf, size_t cap)
{
    json_t *s;
    size_t i, used = 0;
    buf[0] = '\0';
    json_array_foreach(json_object_get(u, "steps"), i, s) {
        int w = snprintf(buf + used, cap - used, "%s%s %lld %s", used ? ", " : "",
                         str(s, "function"), num(s, "index"), str(s, "version"));
        if (w < 0 || (size_t)w >= cap - used)
            break;
        used += (size_t)w;
    }
}

/* The final word on an update: message and exit code. */
static int outcome(struct cli *cli, const char *name, json_t *u)
{
    const char *state = str(u, "state");
    char steps[512];
    int code = !strcmp(state, "succeeded") ? CLI_EXIT_OK
               : !strcmp(state, "reverted") ? CLI_EXIT_REVERTED
                                            : CLI_EXIT_UPDATE_FAILED;
    steps_line(u, steps, sizeof steps);
    if (cli->json) {
        json_object_set_new(u, "outcome", json_string(state));
        cli_json_print(cli, json_incref(u));
        return code;
    }
    if (code == CLI_EXIT_OK)
        printf("%s now runs %s (confirmed). %lld bytes of images and patches, %lld bytes on the wire "
               "(%lld sent, %lld received).\n", name, steps, num(json_object_get(u, "progress"), "total"),
               num(u, "bytes_sent") + num(u, "bytes_received"), num(u, "bytes_sent"),
               num(u, "bytes_received"));
    else if (code == CLI_EXIT_REVERTED)
        printf("%s went back to its previous firmware: %s\n", name, str(u, "why"));
    else
        printf("update #%lld of %s %s: %s%s%s\n", num(u, "id"), name, state, str(u, "result"),
               str(u, "why")[0] ? ": " : "", str(u, "why"));
    return code;
}

/* One progress line: state, bar, bytes, rate, ETA. */
static void draw(json_t *u, double rate, bool tty)
{
    json_t *p = json_object_get(u, "progress");
    double done = (double)num(p, "bytes"), total = (double)num(p, "total");
    char d[32], t[32], r[32], eta[32] = "--:--", bar[BAR_WIDTH + 1];
    int fill = total > 0 ? (int)(BAR_WIDTH * done / total) : 0;
    for (int i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[BAR_WIDTH] = '\0';
    human_bytes(done, d, sizeof d);
    human_bytes(total, t, sizeof t);
    human_bytes(rate, r, sizeof r);
    if (rate > 1 && total > done)
        snprintf(eta, sizeof eta, "%d:%02d", (int)((total - done) / rate) / 60,
                 (int)((total - done) / rate) % 60);
    fprintf(stderr, "%s%-11s [%s] %s / %s  %s/s  ETA %s  step %lld/%lld%s", tty ? "\r" : "",
            json_string_value(json_object_get(u, "state")), bar, d, t, r, eta,
            num(p, "step") + 1 > num(p, "steps") ? num(p, "steps") : num(p, "step") + 1,
            num(p, "steps"), tty ? "\033[K" : "\n");
    fflush(stderr);
}

/* Follow update id until it ends, the timeout passes or the user interrupts. */
static int follow(struct cli *cli, const struct cli_server *srv, const char *name, long long id,
                  double timeout_s)
{
    char path[64], last_state[32] = "";
    bool tty = isatty(STDERR_FILENO) && !cli->json;
    double start = now_s(), last_t = start, last_bytes = -1, rate = 0, started_at = 0;
    json_t *u = NULL;
    int rc;
    snprintf(path, sizeof path, "/v1/updates/%lld", id);
    signal(SIGINT, on_sigint);
    for (;;) {
        json_decref(u);
        u = NULL;
        if ((rc = cli_api_ok(cli, srv, "GET", path, NULL, &u)) != 0)
            return rc;
        const char *state = str(u, "state");
        double t = now_s(), bytes = (double)num(json_object_get(u, "progress"), "bytes");
        if (last_bytes >= 0 && t > last_t && bytes >= last_bytes)
            rate = 0.7 * rate + 0.3 * (bytes - last_bytes) / (t - last_t);
        last_t = t;
        last_bytes = bytes;
        if (strcmp(state, "queued") && !started_at)
            started_at = t;
        if (!cli->json && (tty || strcmp(state, last_state)))
            draw(u, rate, tty);
        snprintf(last_state, sizeof last_state, "%s", state);
        if (json_is_true(json_object_get(u, "final"))) {
            if (tty)
                fputc('\n', stderr);
            rc = outcome(cli, name, u);
            json_decref(u);
            return rc;
        }
        if (interrupted || t - start > timeout_s) {
            bool queued = !strcmp(state, "queued");
            if (tty)
                fputc('\n', stderr);
            if (interrupted)
                rc = cli_error(cli, CLI_EXIT_TIMEOUT, "stopped following; update #%lld goes on "
                               "(airlift status %s)", id, name);
            else if (queued)
                rc = cli_error(cli, CLI_EXIT_OFFLINE, "%s has not checked in (last seen %s%s%s); "
                               "update #%lld stays queued and runs when it does: airlift "
                               "status %s follows it", name,
                               json_is_string(json_object_get(u, "device_last_seen_at"))
                                   ? str(u, "device_last_seen_at") : "never",
                               json_is_string(json_object_get(u, "device_next_checkin_at"))
                                   ? "; it said it would be back at " : "",
                               str(u, "device_next_checkin_at"), id, name);
            else
                rc = cli_error(cli, CLI_EXIT_TIMEOUT, "no final answer from %s within %.0f s; "
                               "update #%lld is %s and goes on (airlift status %s)", name,
                               timeout_s, id, state, name);
            json_decref(u);
            return rc;
        }
        struct timespec ts = {0, POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/*
 * The server's 409 "active_update": the device is busy with another update. Says which, and
 * the two ways on; CLI_EXIT_BUSY.
 */
static int busy(struct cli *cli, const char *name, json_t *reply,
                const struct cli_local_image *imgs, size_t n)
{
    json_t *err = json_object_get(reply, "error"), *u = json_object_get(err, "update");
    char cmd[512];
    int w = snprintf(cmd, sizeof cmd, "airlift flash %s", name);
    for (size_t i = 0; i < n && w > 0 && (size_t)w < sizeof cmd; i++)
        w += snprintf(cmd + w, sizeof cmd - (size_t)w, " %s", imgs[i].path);
    return cli_error(cli, CLI_EXIT_BUSY, "%s has an active update: #%lld (%s, queued by %s); "
                     "nothing queued. '%s --replace' cancels it and queues this one; 'airlift "
                     "updates cancel %lld' cancels it", name, num(u, "id"), str(u, "state"),
                     str(u, "origin"), cmd, num(u, "id"));
}

/* Ask for the MB figure; 0 if typed exactly, else an exit code. */
static int confirm(struct cli *cli, const char *figure)
{
    char line[64];
    if (!isatty(STDIN_FILENO) && !getenv("AIRLIFT_ASSUME_TTY"))
        return cli_usage_error(cli, "confirmation needs a terminal: pass --yes to flash "
                               "without asking");
    fprintf(stderr, "Type %s to confirm: ", figure);
    fflush(stderr);
    if (!fgets(line, sizeof line, stdin))
        line[0] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    if (strcmp(line, figure) != 0)
        return cli_error(cli, CLI_EXIT_CANCELLED, "not confirmed ('%s' is not %s): nothing "
                         "queued", line, figure);
    return 0;
}

static int flash_run(struct cli *cli, const struct cli_command *self, int argc, char **argv)
{
    static const struct cli_option options[] = {
        {"yes", 'y', false, OPT_YES}, {"no-wait", 0, false, OPT_NO_WAIT},
        {"timeout", 0, true, OPT_TIMEOUT}, {"key", 'k', true, OPT_KEY},
        {"replace", 0, false, OPT_REPLACE}, {NULL, 0, false, 0}};
    struct cli_local_image imgs[MAX_IMAGES];
    const char *name = NULL, *value, *key_paths[MAX_IMAGES];
    struct al_key keys[MAX_IMAGES];
    struct al_keyring ring = {keys, 0};
    struct cli_server srv;
    struct cli_parser p;
    size_t n = 0, nkeys = 0;
    bool yes = false, no_wait = false, replace = false;
    uint32_t timeout = 600;
    json_t *dev = NULL, *plan = NULL, *req = NULL, *hashes = json_array(), *was;
    char path[160], figure[32], steps[512];
    long status = 0;
    int opt, rc = CLI_EXIT_USAGE;
    memset(imgs, 0, sizeof imgs);
    cli_parser_init(&p, cli, options, argc, argv);
    while ((opt = cli_parser_next(&p, &value)) != CLI_ARG_DONE) {
        switch (opt) {
        case OPT_YES: yes = true; break;
        case OPT_NO_WAIT: no_wait = true; break;
        case OPT_REPLACE: replace = true; break;
        case OPT_TIMEOUT:
            if (!alc_parse_u32(value, 86400 * 7, &timeout) || !timeout) {
                rc = cli_usage_error(cli, "--timeout '%s': expected seconds, 1..604800", value);
                goto out;
            }
            break;
        case OPT_KEY:
            if (nkeys == MAX_IMAGES) {
                rc = cli_usage_error(cli, "at most %d --key", MAX_IMAGES);
                goto out;
            }
            key_paths[nkeys++] = value;
            break;
        case CLI_ARG_HELP: cli_print_help(self, cli->path); rc = 0; goto out;
        case CLI_ARG_POSITIONAL:
            if (!name) {
                name = value;
            } else if (n == MAX_IMAGES) {
                rc = cli_usage_error(cli, "at most %d images in one update", MAX_IMAGES);
                goto out;
            } else {
                imgs[n++].path = value;
            }
            break;
        default: goto out;
        }
    }
    if (!name || !n) {
        rc = cli_usage_error(cli, "usage: airlift flash NAME IMAGE... (see --help)");
        goto out;
    }
    if ((rc = cli_load_keys(cli, key_paths, nkeys, keys)) != 0 ||
        (rc = cli_server_load(cli, &srv)) != 0)
        goto out;
    ring.count = nkeys;
    snprintf(path, sizeof path, "/v1/devices/%s", name);
    if ((rc = cli_api_ok(cli, &srv, "GET", path, NULL, &dev)) != 0)
        goto out;
    if ((rc = cli_images_send(cli, &srv, imgs, n, (uint16_t)num(dev, "platform"), "the device",
                              &ring)) != 0)
        goto out;
    for (size_t i = 0; i < n; i++)
        json_array_append_new(hashes, json_string(imgs[i].id));
    snprintf(path, sizeof path, "/v1/devices/%s/updates", name);
    req = json_pack("{s:O, s:b, s:b}", "images", hashes, "dry_run", 1, "replace", replace);
    if ((rc = cli_api(cli, &srv, "POST", path, req, NULL, 0, NULL, &status, &plan)) != 0)
        goto out;
    if (status == 409 && !strcmp(str(json_object_get(plan, "error"), "code"), "active_update")) {
        rc = busy(cli, name, plan, imgs, n);
        goto out;
    }
    was = json_object_get(dev, "update"); /* the update --replace cancels, if any */
    if (status == 422) {
        rc = cli_error(cli, CLI_EXIT_INVALID, "%s cannot run this: %s", name,
                       str(json_object_get(plan, "error"), "message"));
        goto out;
    }
    if (status != 200) {
        rc = cli_api_error(cli, &srv, status, plan);
        goto out;
    }
    if (!strcmp(str(plan, "state"), "up_to_date")) {
        if (replace && json_is_object(was)) {
            /* Nothing to send, but what was under way goes: the device stays where asked. */
            json_object_set_new(req, "dry_run", json_false());
            json_decref(plan);
            plan = NULL;
            if ((rc = cli_api_ok(cli, &srv, "POST", path, req, &plan)) != 0)
                goto out;
            if (!cli->json)
                printf("update #%lld of %s cancelled (replaced).\n", num(was, "id"), name);
        }
        if (cli->json) {
            json_object_set_new(plan, "outcome", json_string("up_to_date"));
            rc = cli_json_print(cli, json_incref(plan));
        } else {
            printf("%s already runs %s: nothing to send.\n", name, n == 1 ? "this image" : "these images");
        }
        goto out;
    }
    double mb = (double)num(plan, "wire_estimate") / 1e6;
    snprintf(figure, sizeof figure, "%.2f", mb < 0.01 ? 0.01 : mb);
    if (!cli->json) {
        json_t *s;
        size_t i;
        printf("Plan for %s%s:\n", name,
               json_is_true(json_object_get(plan, "estimate_only"))
                   ? " (it has not reported yet: dependencies are checked when it does)" : "");
        json_array_foreach(json_object_get(plan, "steps"), i, s) {
            const char *enc = str(s, "encoding");
            printf("  %zu. %-11s %2lld  %-10s %9lld bytes", i + 1, str(s, "function"),
                   num(s, "index"), str(s, "version"), num(s, "size"));
            size_t also = json_array_size(json_object_get(s, "base_also"));
            if (!strcmp(enc, "delta") && also)
                printf("  patch from %s and %zu other part%s (image %lld bytes)",
                       str(s, "base_version"), also, also == 1 ? "" : "s", num(s, "image_size"));
            else if (!strcmp(enc, "delta"))
                printf("  patch from %s (image %lld bytes)", str(s, "base_version"),
                       num(s, "image_size"));
            else if (!strcmp(enc, "compressed"))
                printf("  compressed (image %lld bytes)", num(s, "image_size"));
            else if (!strcmp(enc, "pending"))
                printf("  patch or compressed image being made: at most this");
            printf("\n");
        }
        printf("This update sends about %s MB over the air (%lld bytes incl. protocol overhead).\n",
               figure, num(plan, "wire_estimate"));
    }
    fflush(stdout);
    if (!yes && (rc = confirm(cli, figure)) != 0)
        goto out;
    json_object_set_new(req, "dry_run", json_false());
    json_decref(plan);
    plan = NULL;
    if ((rc = cli_api_ok(cli, &srv, "POST", path, req, &plan)) != 0)
        goto out;
    steps_line(plan, steps, sizeof steps);
    if (no_wait) {
        if (cli->json)
            rc = cli_json_print(cli, json_incref(plan));
        else
            printf("queued update #%lld for %s (%s); follow it with: airlift status %s\n",
                   num(plan, "id"), name, steps, name);
        goto out;
    }
    if (!cli->json && replace && json_is_object(was))
        fprintf(stderr, "update #%lld cancelled: replaced by update #%lld\n", num(was, "id"),
                num(plan, "id"));
    if (!cli->json)
        fprintf(stderr, "queued update #%lld: %s\n", num(plan, "id"), steps);
    fflush(stdout);
    rc = follow(cli, &srv, name, num(plan, "id"), timeout);
out:
    cli_images_free(imgs, n);
    json_decref(dev);
    json_decref(plan);
    json_decref(req);
    json_decref(hashes);
    return rc;
}

static int status_run(struct cli *cli, const struct cli_command *self, int argc, char **argv)
{
    static const struct cli_option options[] = {
        {"no-wait", 0, false, OPT_NO_WAIT}, {"timeout", 0, true, OPT_TIMEOUT},
        {NULL, 0, false, 0}};
    struct cli_server srv;
    struct cli_parser p;
    const char *name = NULL, *value;
    bool no_wait = false;
    uint32_t timeout = 600;
    json_t *list = NULL;
    char path[160];
    int opt, rc;
    cli_parser_init(&p, cli, options, argc, argv);
    while ((opt = cli_parser_next(&p, &value)) != CLI_ARG_DONE) {
        switch (opt) {
        case OPT_NO_WAIT: no_wait = true; break;
        case OPT_TIMEOUT:
            if (!alc_parse_u32(value, 86400 * 7, &timeout) || !timeout)
                return cli_usage_error(cli, "--timeout '%s': expected seconds", value);
            break;
        case CLI_ARG_HELP: cli_print_help(self, cli->path); return 0;
        case CLI_ARG_POSITIONAL:
            if (name)
                return cli_usage_error(cli, "one device name, please");
            name = value;
            break;
        default: return CLI_EXIT_USAGE;
        }
    }
    if (!name)
        return cli_usage_error(cli, "which device? (airlift status NAME)");
    snprintf(path, sizeof path, "/v1/devices/%s/updates", name);
    if ((rc = cli_server_load(cli, &srv)) != 0 ||
        (rc = cli_api_ok(cli, &srv, "GET", path, NULL, &list)) != 0)
        return rc;
    json_t *u = json_array_get(json_object_get(list, "updates"), 0);
    if (!u) {
        json_decref(list);
        if (!cli->json)
            printf("%s has no updates; airlift devices show %s says what it runs\n", name, name);
        return cli->json ? cli_json_print(cli, json_pack("{s:s, s:n}", "device", name, "update"))
                         : 0;
    }
    long long id = num(u, "id");
    if (json_is_true(json_object_get(u, "final")))
        rc = outcome(cli, name, u);
    else if (no_wait) {
        rc = 0;
        if (cli->json)
            cli_json_print(cli, json_incref(u));
        else
            printf("update #%lld of %s: %s\n", id, name, str(u, "state"));
    } else {
        rc = follow(cli, &srv, name, id, timeout);
    }
    json_decref(list);
    return rc;
}

const struct cli_command cli_flash_command = {
    "flash", NULL, "update a device and follow it to its confirmed new version",
    "Usage: airlift flash NAME IMAGE... [--yes] [--no-wait] [--timeout S] [--key KEY.pem]\n"
    "                                   [--replace]\n"
    "\n"
    "Checks each image here (structure, payload hash, platform; signature with --key),\n"
    "uploads them, shows the plan the server makes (dependencies included) and its cost in\n"
    "bytes on the wire, asks you to type the MB figure, queues the update and follows the\n"
    "device through queued, downloading, verifying, installing, rebooting, confirming, until\n"
    "it reports the new version running and confirmed.\n"
    "\n"
    "  -y, --yes      do not ask for confirmation\n"
    "  --no-wait      queue the update and return (airlift status NAME follows it)\n"
    "  --timeout S    stop following after S seconds (default 600)\n"
    "  -k, --key K    also verify signatures against this key (repeatable)\n"
    "  --replace      if the device has an active update (a rollout's or a user's), cancel\n"
    "                 it and queue this one; without it, flash refuses (exit 14)\n"
    "\n"
    "Exit codes: 0 confirmed (or already up to date), 2 usage, 3 file, 4 invalid image or\n"
    "impossible plan, 5 key, 6 server error, 7 failed, 8 reverted, 9 timeout,\n"
    "10 device offline (update stays queued), 11 not confirmed at the prompt,\n"
    "14 the device has an active update (nothing queued; --replace).\n",
    flash_run, NULL};

const struct cli_command cli_status_command = {
    "status", NULL, "follow a device's latest update to its end",
    "Usage: airlift status NAME [--no-wait] [--timeout S]\n"
    "\n"
    "Follows the newest update of NAME like flash does (same display, same exit codes);\n"
    "with --no-wait prints its state and returns.\n",
    status_run, NULL};
