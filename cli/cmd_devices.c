/*
 * cmd_devices.c - airlift devices add | list | show | set | remove: the fleet as airliftd knows
 * it, what each device actually runs, as it last reported, and where it belongs in the fleet
 * (product, groups, channel, pinned release, development device).
 */
#define _DEFAULT_SOURCE /* timegm */
#define _XOPEN_SOURCE 700 /* strptime */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum {
    OPT_PLATFORM, OPT_DEV, OPT_COAP, OPT_OUT, OPT_PRODUCT, OPT_NO_PRODUCT, OPT_GROUP,
    OPT_NO_GROUPS, OPT_CHANNEL, OPT_PIN, OPT_NO_PIN, OPT_NO_DEV,
    OPT_CERT, OPT_PUBKEY, OPT_PSK, OPT_DISABLE, OPT_ENABLE /* issue 14 (creds) */
};

#define CREDENTIAL_PEM_MAX 16384 /* a device certificate or public key file */

/* issue 14 (creds): the credential object of `devices add` for --cert FILE / --pubkey FILE
 * into *out (NULL and 0 for a PSK device); else the exit code, the error printed. */
static int credential_json(struct cli *cli, const char *cert, const char *pubkey, json_t **out)
{
    const char *path = cert ? cert : pubkey, *flag = cert ? "--cert" : "--pubkey";
    const char *begin = cert ? "-----BEGIN CERTIFICATE-----" : "-----BEGIN PUBLIC KEY-----";
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[256];
    *out = NULL;
    if (!path)
        return 0;
    if (cli_read_file(path, CREDENTIAL_PEM_MAX, &buf, &len, err, sizeof err) != CLI_READ_OK)
        return cli_error(cli, CLI_EXIT_IO, "%s %s: %s", flag, path, err);
    char *text = malloc(len + 1);
    if (!text) {
        free(buf);
        return cli_error(cli, CLI_EXIT_INTERNAL, "out of memory");
    }
    memcpy(text, buf, len);
    text[len] = '\0';
    free(buf);
    if (strlen(text) != len || !strstr(text, begin)) {
        free(text);
        return cli_error(cli, CLI_EXIT_CREDENTIAL, "%s %s: not a PEM %s (%s)", flag, path,
                         cert ? "certificate" : "public key", begin);
    }
    *out = cert ? json_pack("{s:s, s:s}", "kind", "x509", "certificate", text)
                : json_pack("{s:s, s:s}", "kind", "rpk", "public_key", text);
    free(text);
    return *out ? 0 : cli_error(cli, CLI_EXIT_INTERNAL, "out of memory");
}

/* Parse the leaf's options: only positionals and --help; returns the one NAME or NULL. */
static int one_name(struct cli *cli, const struct cli_command *self, int argc, char **argv,
                    const char **name)
{
    static const struct cli_option none[] = {{NULL, 0, false, 0}};
    struct cli_parser p;
    const char *value;
    int opt;
    *name = NULL;
    cli_parser_init(&p, cli, none, argc, argv);
    while ((opt = cli_parser_next(&p, &value)) != CLI_ARG_DONE) {
        if (opt == CLI_ARG_HELP) {
            cli_print_help(self, cli->path);
            return -1;
        }
        if (opt != CLI_ARG_POSITIONAL || *name)
            return opt == CLI_ARG_POSITIONAL ? cli_usage_error(cli, "one device name, please")
                                             : CLI_EXIT_USAGE;
        *name = value;
    }
    return *name ? 0 : cli_usage_error(cli, "which device? (airlift %s NAME)", cli->path);
}

/* "12 s ago", "3 min ago", "never" from an RFC 3339 time or null. */
static const char *ago(json_t *t, char *buf, size_t cap)
{
    struct tm tm;
    const char *s = json_string_value(t);
    memset(&tm, 0, sizeof tm);
    if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
        return "never";
    long d = (long)(time(NULL) - timegm(&tm));
    if (d < 120)
        snprintf(buf, cap, "%ld s ago", d < 0 ? 0 : d);
    else if (d < 7200)
        snprintf(buf, cap, "%ld min ago", d / 60);
    else
        snprintf(buf, cap, "%ld h ago", d / 3600);
    return buf;
}

static const char *liveness(json_t *d)
{
    if (json_is_true(json_object_get(d, "online")))
        return "online";
    return json_is_string(json_object_get(d, "next_checkin_at")) ? "asleep" : "offline";
}

/* "field, lab", or "-" for none. */
static void names_line(json_t *arr, char *buf, size_t cap)
{
    json_t *v;
    size_t i, used = 0;
    snprintf(buf, cap, "-");
    json_array_foreach(arr, i, v) {
        int w = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", json_string_value(v));
        if (w < 0 || (size_t)w >= cap - used)
            break;
        used += (size_t)w;
    }
}

/* Where a device stands in the fleet, one line after prefix. */
static void print_fleet_line(const char *prefix, json_t *d)
{
    char groups[512];
    const char *product = json_string_value(json_object_get(d, "product"));
    const char *pinned = json_string_value(json_object_get(d, "pinned"));
    names_line(json_object_get(d, "groups"), groups, sizeof groups);
    printf("%sproduct %s, groups %s, channel %s, pinned %s%s\n", prefix,
           product ? product : "-", groups,
           json_string_value(json_object_get(d, "channel")), pinned ? pinned : "-",
           json_is_true(json_object_get(d, "dev")) ? ", development device" : "");
}

static int devices_add(struct cli *cli, const struct cli_command *self, int argc, char **argv)
{
    static const struct cli_option options[] = {
        {"platform", 0, true, OPT_PLATFORM}, {"dev", 0, false, OPT_DEV},
        {"coap", 0, true, OPT_COAP}, {"out", 'o', true, OPT_OUT},
        {"cert", 0, true, OPT_CERT}, {"pubkey", 0, true, OPT_PUBKEY}, {"psk", 0, false, OPT_PSK},
        {NULL, 0, false, 0}};
    struct cli_parser p;
    struct cli_server srv;
    const char *value, *name = NULL, *coap = "127.0.0.1:5684", *out = NULL;
    const char *cert = NULL, *pubkey = NULL; /* issue 14 (creds) */
    json_t *platform = json_integer(ALC_PLATFORM_ELECTRON), *reply = NULL, *req;
    json_t *credential = NULL; /* issue 14 (creds) */
    bool dev = false, psk_flag = false;
    long status = 0;
    uint16_t id16;
    char pbuf[32];
    int opt, rc;
    cli_parser_init(&p, cli, options, argc, argv);
    while ((opt = cli_parser_next(&p, &value)) != CLI_ARG_DONE) {
        switch (opt) {
        case OPT_PLATFORM:
            json_decref(platform);
            /* One the table does not know goes as given: the server names what is wrong. */
            platform = alc_platform_parse(value, &id16) ? json_integer(id16) : json_string(value);
            break;
        case OPT_DEV: dev = true; break;
        case OPT_COAP: coap = value; break;
        case OPT_OUT: out = value; break;
        case OPT_CERT: cert = value; break;
        case OPT_PUBKEY: pubkey = value; break;
        case OPT_PSK: psk_flag = true; break;
        case CLI_ARG_HELP: json_decref(platform); cli_print_help(self, cli->path); return 0;
        case CLI_ARG_POSITIONAL:
            if (name) {
                json_decref(platform);
                return cli_usage_error(cli, "one device name, please");
            }
            name = value;
            break;
        default: json_decref(platform); return CLI_EXIT_USAGE;
        }
    }
    if (!name) {
        json_decref(platform);
        return cli_usage_error(cli, "which name? (airlift devices add NAME)");
    }
    bool several = (cert != NULL) + (pubkey != NULL) + psk_flag > 1; /* issue 14 (creds) */
    if (several || (out && (cert || pubkey))) {
        json_decref(platform);
        return cli_usage_error(cli, several ? "one credential: --cert FILE, --pubkey FILE or --psk"
                                            : "--out writes a PSK device's secrets: not with "
                                              "--cert or --pubkey (there is none to write)");
    }
    if ((rc = cli_server_load(cli, &srv)) != 0 ||
        (rc = credential_json(cli, cert, pubkey, &credential)) != 0) {
        json_decref(platform);
        return rc;
    }
    req = json_pack("{s:s, s:o, s:b}", "name", name, "platform", platform, "dev", dev);
    if (credential)
        json_object_set_new(req, "credential", credential);
    rc = cli_api(cli, &srv, "POST", "/v1/devices", req, NULL, 0, NULL, &status, &reply);
    json_decref(req);
    if (rc == 0 && status >= 300) {
        /* issue 14 (creds): the server refused the credential: its own exit code */
        const char *msg = json_string_value(
            json_object_get(json_object_get(reply, "error"), "message"));
        rc = (status == 400 || status == 409) && msg && strstr(msg, "credential")
                 ? cli_error(cli, CLI_EXIT_CREDENTIAL, "%s", msg)
                 : cli_api_error(cli, &srv, status, reply);
        json_decref(reply);
    }
    if (rc)
        return rc;
    if (pubkey) { /* issue 14 (rpk): no secret to show */
        if (cli->json)
            return cli_json_print(cli, reply);
        printf("device %s added (platform %s)\n"
               "  credential  rpk (raw public key)\n"
               "  fingerprint %s\n"
               "give the device its key pair and the server's public key, e.g. a simulated one:\n"
               "  airlift-device provision DIR --server %s --pubkey %s --key KEY.pem "
               "--server-pubkey SERVER.pub\n",
               name, cli_platform_str(cli_jint(reply, "platform"), pbuf, sizeof pbuf),
               json_string_value(json_object_get(json_object_get(reply, "credential"),
                                                 "fingerprint")),
               coap, pubkey);
        json_decref(reply);
        return 0;
    }
    if (cert) { /* issue 14 (creds): no secret to show */
        json_t *c = json_object_get(reply, "credential");
        if (cli->json)
            return cli_json_print(cli, reply);
        printf("device %s added (platform %s)\n"
               "  credential  x509 (subject %s)\n"
               "  fingerprint %s\n"
               "give the device its certificate and private key, e.g. a simulated one:\n"
               "  airlift-device provision DIR --server %s --cert %s --key KEY.pem\n",
               name, cli_platform_str(cli_jint(reply, "platform"), pbuf, sizeof pbuf),
               json_string_value(json_object_get(c, "subject")),
               json_string_value(json_object_get(c, "fingerprint")), coap, cert);
        json_decref(reply);
        return 0;
    }
    const char *id = json_string_value(json_object_get(reply, "identity"));
    const char *psk = json_string_value(json_object_get(reply, "psk"));
    if (out) {
        json_t *cred = json_pack("{s:s, s:s, s:s, s:s}", "name", name, "identity", id ? id : "",
                                 "psk", psk ? psk : "", "server", coap);
        char *text = json_dumps(cred, JSON_INDENT(2));
        int w = text ? alc_write_file_atomic_mode(out, text, strlen(text), 0600) : -1;
        int why = text ? errno : ENOMEM;
        free(text);
        json_decref(cred);
        if (w != 0) {
            json_decref(reply);
            return cli_error(cli, CLI_EXIT_IO, "%s: cannot write the credentials: %s (the "
                             "device exists; remove it and add it again)", out, strerror(why));
        }
    }
    if (cli->json)
        return cli_json_print(cli, reply);
    printf("device %s added (platform %s)\n"
           "  identity  %s\n"
           "  psk       %s   (shown once)\n"
           "give them to the device, e.g. a simulated one:\n"
           "  airlift-device provision DIR --server %s --identity %s --psk %s\n",
           name, cli_platform_str(cli_jint(reply, "platform"), pbuf, sizeof pbuf), id, psk,
           coap, id, psk);
    json_decref(reply);
    return 0;
}

/* How a module's version reads after its function's name: the server's version_label
 * without that name ("1006 (Device OS 2.2.0)" after "bootloader", "stack 202 (...)" after
 * "radio"), the label itself if it does not start with it, else the version (issue 16). */
static const char *version_token(json_t *m)
{
    const char *label = json_string_value(json_object_get(m, "version_label"));
    const char *fn = cli_jstr(m, "function");
    size_t n = strlen(fn);
    if (!label)
        return cli_jstr(m, "version");
    return !strncmp(label, fn, n) && label[n] == ' ' ? label + n + 1 : label;
}

/* "system 0.7.0" for a function whose modules share a version, else "system 1:0.7.0
 * 2:0.6.4"; functions in the order the server lists them, ", " between. A bootloader or
 * radio module with a version label shows it: "bootloader 1006 (Device OS 2.2.0)". */
static void modules_line(json_t *mods, char *buf, size_t cap)
{
    size_t used = 0, i = 0, n = json_array_size(mods);
    buf[0] = '\0';
    if (!n) {
        snprintf(buf, cap, "-");
        return;
    }
    while (i < n) {
        const char *fn = cli_jstr(json_array_get(mods, i), "function");
        size_t k = i;
        bool same = true;
        while (k < n && !strcmp(cli_jstr(json_array_get(mods, k), "function"), fn)) {
            same &= !strcmp(cli_jstr(json_array_get(mods, k), "version"),
                            cli_jstr(json_array_get(mods, i), "version"));
            k++;
        }
        int w = snprintf(buf + used, cap - used, "%s%s", used ? ", " : "",
                         !strcmp(fn, "application") ? "app" : fn);
        for (size_t j = i; w >= 0 && (size_t)w < cap - used && j < (same ? i + 1 : k); j++) {
            json_t *m = json_array_get(mods, j);
            used += (size_t)w;
            if (same)
                w = snprintf(buf + used, cap - used, " %s", version_token(m));
            else
                w = snprintf(buf + used, cap - used, " %lld:%s", cli_jint(m, "index"),
                             version_token(m));
        }
        if (w < 0 || (size_t)w >= cap - used) {
            buf[used] = '\0';
            return;
        }
        used += (size_t)w;
        i = k;
    }
}

/* --filter KEY=VALUE into the listing's query; a usage error names what is wrong. */
static int list_filter(struct cli *cli, char *query, size_t cap, const char *f)
{
    static const char *const keys[] = {"product", "group", "channel", "online", "state",
                                       "prefix"};
    const char *eq = strchr(f, '=');
    char key[40];
    struct al_version ver;
    if (!eq || eq == f || (size_t)(eq - f) >= sizeof key)
        return cli_usage_error(cli, "--filter '%s': expected KEY=VALUE (product, group, "
                               "channel, online, state, prefix, or FUNCTION:INDEX=VERSION)", f);
    snprintf(key, sizeof key, "%.*s", (int)(eq - f), f);
    const char *value = eq + 1;
    if (strchr(key, ':')) { /* system:1=0.7.0 */
        uint8_t fn;
        char fname[24];
        const char *colon = strchr(key, ':');
        int64_t index;
        snprintf(fname, sizeof fname, "%.*s", (int)(colon - key), key);
        if (!cli_parse_function(fname, &fn) || !alc_parse_i64(colon + 1, 0, 255, &index) ||
            !cli_parse_version(value, &ver))
            return cli_usage_error(cli, "--filter '%s': expected FUNCTION:INDEX=VERSION, e.g. "
                                   "system:1=0.7.0", f);
        char module[48];
        snprintf(module, sizeof module, "%s:%lld", al_function_name(fn), (long long)index);
        if (!cli_query_add(query, cap, "module", module) ||
            !cli_query_add(query, cap, "version", value))
            return cli_usage_error(cli, "the filters are too long");
        return 0;
    }
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (strcmp(key, keys[i]))
            continue;
        if (!strcmp(key, "online") && strcmp(value, "true") && strcmp(value, "false"))
            return cli_usage_error(cli, "--filter '%s': online=true or online=false", f);
        if (!cli_query_add(query, cap, key, value))
            return cli_usage_error(cli, "the filters are too long");
        return 0;
    }
    const char *close = alc_suggest(key, keys, sizeof keys / sizeof keys[0]);
    return cli_usage_error(cli, "--filter '%s': unknown key '%s'%s%s%s (product, group, "
                           "channel, online, state, prefix, or FUNCTION:INDEX=VERSION)", f, key,
                           close ? "; did you mean '" : "", close ? close : "",
                           close ? "'?" : "");
}

enum { OPT_FILTER = 100, OPT_LIMIT, OPT_AFTER, OPT_PAGE_SIZE, OPT_NAMES, OPT_SORT };

/* issue 13 (sort): true if s is a sort the API takes: [-]name|last_seen|...|state. */
static bool sort_valid(const char *s)
{
    static const char *const keys[] = {"name", "last_seen", "reported", "next_checkin",
                                       "bytes", "state"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!strcmp(s + (s[0] == '-'), keys[i]))
            return true;
    return false;
}

/* issue 13 (sort): a name, or a cursor VALUE~NAME of a sorted listing's `next`. */
static bool after_valid(const char *s)
{
    const char *tilde = strchr(s, '~');
    if (!tilde)
        return alc_name_valid(s);
    for (const char *c = s; c < tilde; c++)
        if (*c < '0' || *c > '9')
            return false;
    return tilde - s <= 18 && alc_name_valid(tilde + 1);
}

static int devices_list(struct cli *cli, const struct cli_command *self, int argc, char **argv)
{
    static const struct cli_option options[] = {
        {"filter", 0, true, OPT_FILTER}, {"limit", 0, true, OPT_LIMIT},
        {"after", 0, true, OPT_AFTER}, {"page-size", 0, true, OPT_PAGE_SIZE},
        {"names", 0, false, OPT_NAMES}, /* issue 15 (ops): for shell completion */
        {"sort", 0, true, OPT_SORT},    /* issue 13 (sort) */
        {NULL, 0, false, 0}};
    struct cli_parser p;
    struct cli_server srv;
    const char *value, *after = NULL, *sort = NULL;
    char query[1024] = "", after_buf[20 + ALC_NAME_MAX + 1] = ""; /* a name or VALUE~NAME */
    json_t *all = json_array(), *reply = NULL, *d;
    long long limit = 0, page_size = 500, shown = 0;
    int64_t n;
    size_t i;
    int opt, rc = CLI_EXIT_USAGE;
    bool more = false, names_only = false;
    cli_parser_init(&p, cli, options, argc, argv);
    while ((opt = cli_parser_next(&p, &value)) != CLI_ARG_DONE) {
        switch (opt) {
        case OPT_FILTER:
            if ((rc = list_filter(cli, query, sizeof query, value)) != 0)
                goto out;
            break;
        case OPT_LIMIT:
        case OPT_PAGE_SIZE:
            if (!alc_parse_id(value, false, &n) || n > 1000) {
                rc = cli_usage_error(cli, "--%s '%s': expected a number 1..1000",
                                     opt == OPT_LIMIT ? "limit" : "page-size", value);
                goto out;
            }
            *(opt == OPT_LIMIT ? &limit : &page_size) = n;
            break;
        case OPT_AFTER:
            if (!after_valid(value)) {
                rc = cli_usage_error(cli, "--after '%s': expected a device name (or, with "
                                     "--sort, the VALUE~NAME the page before ended on)", value);
                goto out;
            }
            after = value;
            break;
        case OPT_NAMES:
            names_only = true;
            break;
        case OPT_SORT:
            if (!sort_valid(value)) {
                rc = cli_usage_error(cli, "--sort '%s': expected name, last_seen, reported, "
                                     "next_checkin, bytes or state, with a '-' in front for "
                                     "descending", value);
                goto out;
            }
            sort = value;
            break;
        case CLI_ARG_HELP: cli_print_help(self, cli->path); rc = 0; goto out;
        case CLI_ARG_POSITIONAL: rc = cli_usage_error(cli, "unexpected argument '%s'", value); goto out;
        default: goto out;
        }
    }
    if ((rc = cli_server_load(cli, &srv)) != 0)
        goto out;
    if (after)
        snprintf(after_buf, sizeof after_buf, "%s", after);
    /* One page of --limit, or every page, following `next`. */
    for (;;) {
        char path[1200], num[24];
        long long want = limit ? limit : page_size;
        snprintf(path, sizeof path, "/v1/devices%s", query);
        snprintf(num, sizeof num, "%lld", want);
        cli_query_add(path, sizeof path, "limit", num);
        if (sort)
            cli_query_add(path, sizeof path, "sort", sort);
        if (after_buf[0])
            cli_query_add(path, sizeof path, "after", after_buf);
        if ((rc = cli_api_ok(cli, &srv, "GET", path, NULL, &reply)) != 0)
            goto out;
        json_array_extend(all, json_object_get(reply, "devices"));
        const char *next = json_string_value(json_object_get(reply, "next"));
        more = next != NULL;
        if (next)
            snprintf(after_buf, sizeof after_buf, "%s", next);
        json_decref(reply);
        reply = NULL;
        if (!more || limit)
            break;
    }
    if (cli->json) {
        json_t *doc = json_pack("{s:O, s:o, s:I}", "devices", all, "next",
                                limit && more ? json_string(after_buf) : json_null(), "count",
                                (json_int_t)json_array_size(all));
        rc = cli_json_print(cli, doc);
        goto out;
    }
    if (names_only) { /* issue 15 (ops): one name per line, nothing else */
        json_array_foreach(all, i, d)
            printf("%s\n", cli_jstr(d, "name"));
        rc = 0;
        goto out;
    }
    if (!json_array_size(all)) {
        printf(query[0] ? "no devices match\n" : "no devices\n");
        rc = 0;
        goto out;
    }
    printf("%-20s %-12s %-8s %-8s %-12s %-20s %s\n", "NAME", "PRODUCT", "CHANNEL", "STATE",
           "LAST SEEN", "UPDATE", "MODULES");
    json_array_foreach(all, i, d) {
        char seen[32], upd[48] = "-", mods[512];
        json_t *u = json_object_get(d, "update");
        const char *product = json_string_value(json_object_get(d, "product"));
        if (json_is_object(u))
            snprintf(upd, sizeof upd, "#%lld %s", cli_jint(u, "id"), cli_jstr(u, "state"));
        modules_line(json_object_get(d, "modules"), mods, sizeof mods);
        printf("%-20s %-12s %-8s %-8s %-12s %-20s %s\n", cli_jstr(d, "name"),
               product ? product : "-", cli_jstr(d, "channel"), liveness(d),
               ago(json_object_get(d, "last_seen_at"), seen, sizeof seen), upd, mods);
        shown++;
    }
    if (limit && more)
        fprintf(stderr, "airlift: %lld shown; more: airlift devices list --after %s%s%s%s\n",
                shown, after_buf, sort ? " --sort " : "", sort ? sort : "",
                " --limit N (same filters)");
    rc = 0;
out:
    json_decref(all);
    json_decref(reply);
    return rc;
}

static int devices_show(struct cli *cli, const struct cli_command *self, int argc, char **argv)
{
    struct cli_server srv;
    const char *name;
    char path[128], seen[32];
    json_t *d = NULL, *m;
    size_t i;
    int rc = one_name(cli, self, argc, argv, &name);
    if (rc)
        return rc < 0 ? 0 : rc;
    snprintf(path, sizeof path, "/v1/devices/%s", name);
    if ((rc = cli_server_load(cli, &srv)) != 0 || (rc = cli_api_ok(cli, &srv, "GET", path, NULL, &d)))
        return rc;
    if (cli->json)
        return cli_json_print(cli, d);
    json_t *inv = json_object_get(d, "inventory");
    char tx[32], rx[32];
    printf("%s: %s, last seen %s, %s sent to it, %s received\n", name, liveness(d),
           ago(json_object_get(d, "last_seen_at"), seen, sizeof seen),
           cli_size_str((uint64_t)cli_jint(d, "bytes_sent"), tx, sizeof tx),
           cli_size_str((uint64_t)cli_jint(d, "bytes_received"), rx, sizeof rx));
    print_fleet_line("fleet: ", d);
    json_t *cred = json_object_get(d, "credential"); /* issue 14 (creds) */
    const char *kind = json_string_value(json_object_get(cred, "kind"));
    if (kind && !strcmp(kind, "x509")) {
        json_t *subject = json_deep_copy(json_object_get(cred, "subject"));
        cli_json_escape_strings(subject); /* the subject is the device maker's text */
        printf("credential: x509, subject %s, key fingerprint %s\n", json_string_value(subject),
               json_string_value(json_object_get(cred, "fingerprint")));
        json_decref(subject);
    } else if (kind && !strcmp(kind, "rpk")) { /* issue 14 (rpk) */
        printf("credential: rpk, key fingerprint %s\n",
               json_string_value(json_object_get(cred, "fingerprint")));
    } else if (kind) {
        printf("credential: %s\n", kind);
    }
    if (json_is_true(json_object_get(d, "disabled")))
        printf("disabled: its DTLS handshakes are refused (airlift devices set %s --enable)\n",
               name);
    json_t *ro = json_object_get(d, "rollout");
    if (json_is_object(ro))
        printf("rollout: #%lld (release %s), wave %lld: %s\n", (long long)cli_jint(ro, "id"),
               cli_jstr(ro, "release"), (long long)cli_jint(ro, "wave"),
               cli_rollout_state_words(cli_jstr(ro, "state")));
    if (!json_is_object(inv)) {
        printf("it has not reported what it runs yet\n");
    } else {
        printf("runs (reported %s):\n", ago(json_object_get(d, "reported_at"), seen, sizeof seen));
        json_array_foreach(json_object_get(inv, "modules"), i, m)
            printf("  %-11s %2lld  %-10s %.12s%s%s%s\n",
                   json_string_value(json_object_get(m, "function")),
                   (long long)json_integer_value(json_object_get(m, "index")),
                   json_string_value(json_object_get(m, "version")),
                   json_string_value(json_object_get(m, "sha256")),
                   json_is_true(json_object_get(m, "on_trial")) ? "  on trial" : "",
                   json_is_string(json_object_get(m, "version_label")) ? "  " : "",
                   json_is_string(json_object_get(m, "version_label"))
                       ? json_string_value(json_object_get(m, "version_label")) : "");
        const char *reason = json_string_value(json_object_get(inv, "reason"));
        const char *boot = json_string_value(json_object_get(inv, "boot_state"));
        bool why = reason && *reason && boot && strcmp(boot, "confirmed") != 0;
        printf("boot state: %s%s%s\n", boot ? boot : "?", why ? ": " : "", why ? reason : "");
        json_t *dl = json_object_get(inv, "download");
        if (json_is_object(dl))
            printf("download in progress: step %lld, %s held\n",
                   (long long)json_integer_value(json_object_get(dl, "step")),
                   cli_size_str((uint64_t)cli_jint(dl, "offset"), tx, sizeof tx));
    }
    json_t *u = json_object_get(d, "update");
    if (json_is_object(u))
        printf("update #%lld: %s (airlift status %s follows it)\n",
               (long long)json_integer_value(json_object_get(u, "id")),
               json_string_value(json_object_get(u, "state")), name);
    json_decref(d);
    return 0;
}

/* Two flags that say opposite things: a usage error if both were given. */
static bool opposed(struct cli *cli, bool a, bool b, const char *fa, const char *fb, int *rc)
{
    if (a && b)
        *rc = cli_usage_error(cli, "%s and %s contradict each other: give one", fa, fb);
    return a && b;
}

static int devices_set(struct cli *cli, const struct cli_command *self, int argc, char **argv)
{
    static const struct cli_option options[] = {
        {"product", 0, true, OPT_PRODUCT}, {"no-product", 0, false, OPT_NO_PRODUCT},
        {"group", 'g', true, OPT_GROUP}, {"no-groups", 0, false, OPT_NO_GROUPS},
        {"channel", 0, true, OPT_CHANNEL}, {"pin", 0, true, OPT_PIN},
        {"no-pin", 0, false, OPT_NO_PIN}, {"dev", 0, false, OPT_DEV},
        {"no-dev", 0, false, OPT_NO_DEV}, {"disable", 0, false, OPT_DISABLE},
        {"enable", 0, false, OPT_ENABLE}, {NULL, 0, false, 0}};
    struct cli_parser p;
    struct cli_server srv;
    struct al_version ver;
    const char *value, *name = NULL, *product = NULL, *channel = NULL, *pin = NULL;
    bool no_product = false, no_groups = false, no_pin = false, dev = false, no_dev = false;
    bool disable = false, enable = false; /* issue 14 (creds) */
    json_t *groups = json_array(), *req = json_object(), *reply = NULL;
    char path[160] = "/v1/devices";
    int opt, rc = CLI_EXIT_USAGE;
    cli_parser_init(&p, cli, options, argc, argv);
    while ((opt = cli_parser_next(&p, &value)) != CLI_ARG_DONE) {
        switch (opt) {
        case OPT_PRODUCT: product = value; break;
        case OPT_NO_PRODUCT: no_product = true; break;
        case OPT_GROUP: json_array_append_new(groups, json_string(value)); break;
        case OPT_NO_GROUPS: no_groups = true; break;
        case OPT_CHANNEL: channel = value; break;
        case OPT_PIN:
            if (!cli_parse_version(value, &ver)) {
                rc = cli_usage_error(cli, "--pin '%s': expected a release version such as "
                                     "1.2.0", value);
                goto out;
            }
            pin = value;
            break;
        case OPT_NO_PIN: no_pin = true; break;
        case OPT_DEV: dev = true; break;
        case OPT_NO_DEV: no_dev = true; break;
        case OPT_DISABLE: disable = true; break;
        case OPT_ENABLE: enable = true; break;
        case CLI_ARG_HELP: cli_print_help(self, cli->path); rc = 0; goto out;
        case CLI_ARG_POSITIONAL:
            if (name) {
                rc = cli_usage_error(cli, "one device name, please");
                goto out;
            }
            name = value;
            break;
        default: goto out;
        }
    }
    if (!name) {
        rc = cli_usage_error(cli, "which device? (airlift devices set NAME [options])");
        goto out;
    }
    if (opposed(cli, product, no_product, "--product", "--no-product", &rc) ||
        opposed(cli, json_array_size(groups), no_groups, "--group", "--no-groups", &rc) ||
        opposed(cli, pin, no_pin, "--pin", "--no-pin", &rc) ||
        opposed(cli, dev, no_dev, "--dev", "--no-dev", &rc) ||
        opposed(cli, disable, enable, "--disable", "--enable", &rc))
        goto out;
    if (product || no_product)
        cli_json_set(req, "product", product ? json_string(product) : json_null());
    if (json_array_size(groups) || no_groups)
        json_object_set(req, "groups", groups);
    if (channel)
        cli_json_set(req, "channel", json_string(channel));
    if (pin || no_pin)
        cli_json_set(req, "pinned", pin ? json_string(pin) : json_null());
    if (dev || no_dev)
        cli_json_set(req, "dev", json_boolean(dev));
    if (disable || enable)
        cli_json_set(req, "disabled", json_boolean(disable));
    if (!json_object_size(req)) {
        rc = cli_usage_error(cli, "nothing to set: give --product, --group, --channel, --pin, "
                             "--dev or their --no- forms, --disable or --enable");
        goto out;
    }
    if ((rc = cli_path_add(cli, path, sizeof path, "device", name)) != 0 ||
        (rc = cli_server_load(cli, &srv)) != 0)
        goto out;
    if (product) { /* the server's word for an unknown product names no product */
        char ppath[160] = "/v1/products";
        if ((rc = cli_path_add(cli, ppath, sizeof ppath, "product", product)) != 0 ||
            (rc = cli_api_ok(cli, &srv, "GET", ppath, NULL, &reply)) != 0)
            goto out;
        json_decref(reply);
        reply = NULL;
    }
    if ((rc = cli_api_ok(cli, &srv, "PATCH", path, req, &reply)) != 0)
        goto out;
    if (cli->json) {
        rc = cli_json_print(cli, reply);
        reply = NULL;
        goto out;
    }
    printf("%s: ", name);
    print_fleet_line("", reply);
    if (disable || enable) /* issue 14 (creds) */
        printf("%s: %s\n", name, disable ? "disabled: its next DTLS handshakes are refused"
                                          : "enabled: it may connect again");
out:
    json_decref(groups);
    json_decref(req);
    json_decref(reply);
    return rc;
}

/* issue 12: removing a device with an active update asks first (y/N) on a terminal, and
 * needs --force otherwise; the server then cancels the update (event update.cancelled). */
static int devices_remove(struct cli *cli, const struct cli_command *self, int argc, char **argv)
{
    static const struct cli_option options[] = {{"force", 'f', false, 0}, {NULL, 0, false, 0}};
    struct cli_server srv;
    struct cli_parser p;
    const char *name = NULL, *value;
    char path[160], line[16];
    json_t *reply = NULL, *u;
    bool force = false;
    long status = 0;
    int opt, rc;
    cli_parser_init(&p, cli, options, argc, argv);
    while ((opt = cli_parser_next(&p, &value)) != CLI_ARG_DONE) {
        if (opt == 0) {
            force = true;
        } else if (opt == CLI_ARG_HELP) {
            cli_print_help(self, cli->path);
            return 0;
        } else if (opt != CLI_ARG_POSITIONAL || name) {
            return opt == CLI_ARG_POSITIONAL ? cli_usage_error(cli, "one device name, please")
                                             : CLI_EXIT_USAGE;
        } else {
            name = value;
        }
    }
    if (!name)
        return cli_usage_error(cli, "which device? (airlift %s NAME)", cli->path);
    snprintf(path, sizeof path, "/v1/devices");
    if ((rc = cli_path_add(cli, path, sizeof path, "device", name)) != 0 ||
        (rc = cli_server_load(cli, &srv)) != 0)
        return rc;
    snprintf(path + strlen(path), sizeof path - strlen(path), "%s", force ? "?force=true" : "");
    if ((rc = cli_api(cli, &srv, "DELETE", path, NULL, NULL, 0, NULL, &status, &reply)) != 0)
        return rc;
    u = json_object_get(json_object_get(reply, "error"), "update");
    if (status == 409 && json_is_object(u)) {
        bool tty = isatty(STDIN_FILENO) || getenv("AIRLIFT_ASSUME_TTY");
        if (!tty || cli->json) {
            rc = cli_error(cli, CLI_EXIT_BUSY, "%s has an active update: #%lld (%s, queued by "
                           "%s); nothing removed. 'airlift devices remove %s --force' cancels "
                           "it and removes the device", name, cli_jint(u, "id"),
                           cli_jstr(u, "state"), cli_jstr(u, "origin"), name);
            json_decref(reply);
            return rc;
        }
        fprintf(stderr, "%s has an active update: #%lld (%s, queued by %s).\n"
                "Cancel it and remove %s? [y/N] ", name, cli_jint(u, "id"), cli_jstr(u, "state"),
                cli_jstr(u, "origin"), name);
        fflush(stderr);
        if (!fgets(line, sizeof line, stdin))
            line[0] = '\0';
        line[strcspn(line, "\r\n")] = '\0';
        if (strcmp(line, "y") && strcmp(line, "Y") && strcmp(line, "yes")) {
            rc = cli_error(cli, CLI_EXIT_CANCELLED, "not confirmed: %s and update #%lld stay",
                           name, cli_jint(u, "id"));
            json_decref(reply);
            return rc;
        }
        json_decref(reply);
        reply = NULL;
        snprintf(path + strlen(path), sizeof path - strlen(path), "?force=true");
        force = true;
        if ((rc = cli_api(cli, &srv, "DELETE", path, NULL, NULL, 0, NULL, &status, &reply)) != 0)
            return rc;
    }
    if (status >= 300) {
        rc = cli_api_error(cli, &srv, status, reply);
        json_decref(reply);
        return rc;
    }
    json_decref(reply);
    if (cli->json)
        return cli_json_print(cli, json_pack("{s:s, s:b}", "name", name, "removed", 1));
    printf("device %s removed: it can no longer connect%s\n", name,
           force ? " (an active update, if any, was cancelled)" : "");
    return 0;
}

static const struct cli_command add_cmd = {
    "add", NULL, "register a device and issue its DTLS identity and key",
    "Usage: airlift devices add NAME [--platform P] [--dev] [--coap ADDR:PORT]\n"
    "                           [--out FILE] [--psk | --cert FILE | --pubkey FILE]\n"
    "\n"
    "Registers NAME with airliftd and prints its DTLS PSK identity and key (shown once).\n"
    "  --psk           authenticate with a pre-shared key the server makes (the default)\n"
    "  --cert FILE     authenticate with this X.509 certificate (PEM) from a CA airliftd\n"
    "                  trusts (--device-ca); the device keeps its private key\n"
    "  --pubkey FILE   authenticate with this raw public key (RFC 7250; PEM\n"
    "                  SubjectPublicKeyInfo, EC P-256/P-384 or RSA); the device keeps\n"
    "                  its private key\n"
    "  --platform P    platform of the device: a name (electron, boron, ...) or an id\n"
    "                  0..65535 (default electron = 10)\n"
    "  --dev           a development device: fleet releases leave it alone\n"
    "  --coap A:P      the device endpoint to print in the provisioning line\n"
    "                  (default 127.0.0.1:5684)\n"
    "  -o, --out FILE  also write name, identity, psk and server as JSON (mode 0600)\n",
    devices_add, NULL};
static const struct cli_command list_cmd = {
    "list", "ls", "the devices: product, channel, state, last seen, update, versions",
    "Usage: airlift devices list [--filter KEY=VALUE]... [--sort [-]FIELD] [--limit N]\n"
    "                            [--after NAME] [--page-size N] [--names] [--json]\n"
    "\n"
    "One line per device in name order (or --sort's): name, product, channel, online / asleep / offline,\n"
    "last seen, active update, and the version of each module it last reported.\n"
    "  --filter KEY=VALUE  only devices that match (repeatable; all must match):\n"
    "                      product=P, group=G, channel=C, online=true|false,\n"
    "                      state=none|active|queued|downloading|..., prefix=NAME-START,\n"
    "                      FUNCTION:INDEX=VERSION (system:1=0.7.0, application:1=2.0.0)\n"
    "  --sort [-]FIELD     order by name, last_seen, reported, next_checkin, bytes or\n"
    "                      state ('-' in front: descending; without a value: last)\n"
    "  --limit N           one page of at most N devices (1..1000); prints how to go on\n"
    "  --after NAME        start after this name (the page before ended there; with\n"
    "                      --sort, the VALUE~NAME it printed)\n"
    "  --page-size N       without --limit: ask for N devices at a time (default 500)\n"
    "  --names             only the names, one per line (shell completion uses it)\n"
    "  --json              {\"devices\": [...], \"next\": NAME|null, \"count\": N}\n",
    devices_list, NULL};
static const struct cli_command show_cmd = {
    "show", NULL, "what a device actually runs, as it last reported, and when",
    "Usage: airlift devices show NAME [--json]\n"
    "\n"
    "Every module (function, index, version, hash, trial), boot state and reason, download in\n"
    "progress, wire bytes and the active update, from the device's last inventory; and its\n"
    "place in the fleet: product, groups, channel, pinned release (airlift devices set), and\n"
    "where it stands in its newest rollout (pending, updating, succeeded, pinned, flashed by\n"
    "hand, superseded, ...).\n",
    devices_show, NULL};
static const struct cli_command set_cmd = {
    "set", NULL, "put a device in a product, groups, a channel; pin it; mark it dev",
    "Usage: airlift devices set NAME [--product P | --no-product] [--group G]... [--no-groups]\n"
    "                           [--channel C] [--pin VERSION | --no-pin] [--dev | --no-dev]\n"
    "                           [--disable | --enable]\n"
    "\n"
    "Changes where NAME stands in the fleet; what is not given stays as it is.\n"
    "  --product P      the device belongs to product P (same platform as the device)\n"
    "  --no-product     it belongs to no product: no rollout reaches it\n"
    "  -g, --group G    its groups are these (repeatable; replaces the list; at most 16)\n"
    "  --no-groups      it is in no group\n"
    "  --channel C      its release channel (stable, beta, rc, or your own; default stable)\n"
    "  --pin VERSION    only a rollout of this release version updates it\n"
    "  --no-pin         any release may update it again\n"
    "  --dev            a development device: rollouts leave it alone\n"
    "  --no-dev         a fleet device again\n"
    "  --disable        refuse its DTLS handshakes from now on (revocation; its session\n"
    "                   already open runs until it ends)\n"
    "  --enable         let a disabled device connect again\n"
    "\n"
    "Prints the device's product, groups, channel and pin; --json: the API's device object.\n",
    devices_set, NULL};
static const struct cli_command remove_cmd = {
    "remove", "rm", "forget a device (it can no longer connect)",
    "Usage: airlift devices remove NAME [--force]\n"
    "\n"
    "Removes NAME: it can no longer connect (it is told so and backs off), its history stays\n"
    "(GET /v1/events?device_id=ID), and a new device may take the name. If it has an\n"
    "active update, asks first on a terminal (y/N); elsewhere refuses (exit 14).\n"
    "  -f, --force   cancel the active update (event update.cancelled) and remove it\n",
    devices_remove, NULL};

static const struct cli_command *const devices_cmds[] = {&add_cmd, &list_cmd, &show_cmd,
                                                          &set_cmd, &remove_cmd, NULL};
const struct cli_command cli_devices_group = {
    "devices", "device", "devices: add, list, show, set, remove", NULL, NULL, devices_cmds};
