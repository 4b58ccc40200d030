/*
 * config.c - see config.h.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef AIRLIFT_HAVE_PG
#include <libpq-fe.h>
#endif

#include "workers.h"
#include "airlift_common/name.h" /* issue 14 (ddi) */

const char ald_usage_text[] =
    "Usage: airliftd [OPTIONS]\n"
    "\n"
    "The airlift server: device endpoint (CoAP/DTLS) and management API (HTTP/JSON).\n"
    "\n"
    "Options (each also accepted as `name = value` in the --config file):\n"
    "  --data-dir DIR           database and images (default ./airlift-data)\n"
    "  --store URL              the database: sqlite:PATH, or postgresql://USER@HOST/DB\n"
    "                           for several nodes on one PostgreSQL database (default\n"
    "                           sqlite:DATA_DIR/airlift.db)\n"
    "  --http-listen ADDR:PORT  management API (default 127.0.0.1:7780; port 0 picks one)\n"
    "  --coap-listen ADDR:PORT  device endpoint (default 127.0.0.1:5684)\n"
    "  --coap-idle-timeout S    end a silent device's session after S seconds (default 30)\n"
    "  --coap-security MODE     dtls (default: DTLS 1.2, a PSK per device) or none (plain\n"
    "                           CoAP, devices named by an id= query: development only)\n"
    "  --config FILE            read settings from FILE; flags override it\n"
    "  --log-level LEVEL        debug, info, warn or error (default info)\n"
    "  --log-format FORMAT      text (logfmt) or json (default text)\n"
    "  --admin-token-file PATH  at first start, write the admin token there (0600)\n"
    "                           instead of printing it\n"
    "  --log-file PATH          append logs to PATH (reopened on SIGHUP), not stderr\n"
    "  --check-config           check settings and files, print 'configuration OK'\n"
    "                           or the error (exit 2), start nothing\n"
    "  --port-file PATH         after binding, write the HTTP port there\n"
    "  --http-threads N         HTTP worker threads, 1..64 (default 4)\n"
    "  --workers N              threads that make patches and compressed images, 1..64\n"
    "                           (default: 2, or 1 on a single core)\n"
    "  --tls-cert FILE          serve the API over HTTPS with this PEM certificate (chain)\n"
    "  --tls-key FILE           ... and this PEM private key (both or neither)\n"
    "  --device-ca FILE         devices may also authenticate with a certificate from this CA\n"
    "                           (PEM; repeatable; needs --coap-cert and --coap-key)\n"
    "  --coap-cert FILE         the device endpoint's own certificate (chain), PEM\n"
    "  --coap-key FILE          ... and its private key, PEM\n"
    "  --metrics-public         serve GET /metrics without a token (default: a read token;\n"
    "                           in the file: metrics-public = true)\n"
    "  --web-root DIR           serve the web console from DIR (default: the copy built\n"
    "                           into airliftd)\n"
    "  -h, --help               print this help and exit\n"
    "  --version                print the version and exit\n"
    "\n"
    "Exit codes: 0 ok, 1 internal error, 2 usage error, 3 data directory or database\n"
    "error, 4 cannot bind, 7 TLS certificate or key unusable. Signals: SIGTERM/SIGINT shut\n"
    "down cleanly; SIGHUP reopens the log file and rereads log-level and log-format.\n"
    "See docs/airliftd.md.\n";

/* Copy s into out[cap]; false if it does not fit. */
static bool copy_str(char *out, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (n >= cap)
        return false;
    memcpy(out, s, n + 1);
    return true;
}

/* Append n bytes of s to out[cap] at *o, cut to fit (out stays NUL-terminated). */
static void put(char *out, size_t cap, size_t *o, const char *s, size_t n)
{
    if (*o + 1 >= cap)
        return;
    if (n > cap - 1 - *o)
        n = cap - 1 - *o;
    memcpy(out + *o, s, n);
    *o += n;
    out[*o] = '\0';
}

void ald_url_redact(const char *url, char *out, size_t cap)
{
    const char *auth, *auth_end, *at = NULL, *colon = NULL, *q, *p;
    size_t o = 0;
    if (cap == 0)
        return;
    out[0] = '\0';
    if (strncmp(url, "postgresql://", 13) && strncmp(url, "postgres://", 11)) {
        put(out, cap, &o, url, strlen(url));
        return;
    }
    /* Like libpq, look for user:password@ up to the first '/'; take the last '@', so a
     * password with an unencoded '@' or '?' is hidden whole. */
    auth = strstr(url, "://") + 3;
    auth_end = auth + strcspn(auth, "/");
    for (p = auth; p < auth_end; p++)
        if (*p == '@')
            at = p;
    if (at)
        colon = memchr(auth, ':', (size_t)(at - auth));
    if (colon) {
        put(out, cap, &o, url, (size_t)(colon + 1 - url));
        put(out, cap, &o, "***", 3);
        p = at;
    } else {
        p = url;
    }
    q = strchr(at ? at : auth, '?');
    if (!q) {
        put(out, cap, &o, p, strlen(p));
        return;
    }
    put(out, cap, &o, p, (size_t)(q + 1 - p));
    for (p = q + 1; *p;) {
        size_t n = strcspn(p, "&#");
        if (n >= 9 && !strncmp(p, "password=", 9)) {
            put(out, cap, &o, "password=***", 12);
        } else {
            put(out, cap, &o, p, n);
        }
        p += n;
        if (*p == '#') {
            put(out, cap, &o, p, strlen(p));
            break;
        }
        if (*p == '&')
            put(out, cap, &o, p++, 1);
    }
}

int ald_config_store_url(const struct ald_config *cfg, char *out, size_t cap)
{
    int n;
    if (cfg->store_url[0])
        n = snprintf(out, cap, "%s", cfg->store_url);
    else
        n = snprintf(out, cap, "sqlite:%s/airlift.db", cfg->data_dir);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* A --store value: sqlite:PATH (PATH not empty) or a postgresql:// / postgres:// URL. */
static bool store_url_ok(const char *v)
{
    if (!strncmp(v, "sqlite:", 7))
        return v[7] != '\0';
    return (!strncmp(v, "postgresql://", 13) || !strncmp(v, "postgres://", 11)) &&
           !strpbrk(v, " \t\r\n");
}

bool ald_listen_parse(const char *s, struct ald_listen *out)
{
    const char *colon, *host = s;
    size_t host_len;
    char *end;
    unsigned long port;
    unsigned char addr[16];

    memset(out, 0, sizeof *out);
    if (!copy_str(out->text, sizeof out->text, s))
        return false;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return false;
        host = s + 1;
        host_len = (size_t)(close - host);
        colon = close + 1;
        out->ipv6 = true;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return false;
        host_len = (size_t)(colon - s);
    }
    if (host_len == 0 || host_len >= sizeof out->host)
        return false;
    memcpy(out->host, host, host_len);
    out->host[host_len] = '\0';
    if (inet_pton(out->ipv6 ? AF_INET6 : AF_INET, out->host, addr) != 1)
        return false;
    if (colon[1] < '0' || colon[1] > '9')
        return false;
    errno = 0;
    port = strtoul(colon + 1, &end, 10);
    if (errno || *end != '\0' || port > 65535)
        return false;
    out->port = (uint16_t)port;
    return true;
}

/* Apply one setting (a flag without its dashes, or a config file key). */
static int apply(struct ald_config *cfg, const char *key, const char *value, char *err,
                 size_t errlen)
{
    int rc = -1;
    if (!strcmp(key, "data-dir")) {
        if (!value[0] || !copy_str(cfg->data_dir, sizeof cfg->data_dir, value)) {
            snprintf(err, errlen, "--data-dir: empty or too long");
            goto out;
        }
    } else if (!strcmp(key, "store")) {
        char shown[160];
        ald_url_redact(value, shown, sizeof shown);
        if (!store_url_ok(value)) {
            snprintf(err, errlen,
                     "--store: expected sqlite:PATH, postgresql://... or postgres://..., got '%s'",
                     shown);
            goto out;
        }
        if (!copy_str(cfg->store_url, sizeof cfg->store_url, value)) {
            snprintf(err, errlen, "--store: URL too long (at most %d bytes)",
                     ALD_STORE_URL_MAX - 1);
            goto out;
        }
    } else if (!strcmp(key, "http-listen") || !strcmp(key, "coap-listen")) {
        struct ald_listen *l = key[0] == 'h' ? &cfg->http : &cfg->coap;
        if (!ald_listen_parse(value, l)) {
            snprintf(err, errlen, "--%s: expected ADDR:PORT with a numeric address, got '%.80s'",
                     key, value);
            goto out;
        }
    } else if (!strcmp(key, "admin-token-file") || !strcmp(key, "port-file") ||
               !strcmp(key, "log-file")) {
        char *dst = key[0] == 'a' ? cfg->admin_token_file
                    : key[0] == 'p' ? cfg->port_file : cfg->log_file;
        if (!copy_str(dst, ALD_PATH_MAX, value)) {
            snprintf(err, errlen, "--%s: path too long", key);
            goto out;
        }
    } else if (!strcmp(key, "tls-cert") || !strcmp(key, "tls-key")) {
        /* issue 14 (tokens): read and checked at start (ald_http_tls_load, exit 7) */
        char *dst = key[4] == 'c' ? cfg->tls_cert : cfg->tls_key;
        if (!value[0] || !copy_str(dst, ALD_PATH_MAX, value)) {
            snprintf(err, errlen, "--%s: empty or too long", key);
            goto out;
        }
    } else if (!strcmp(key, "log-level")) {
        int level = ald_log_level_parse(value);
        if (level < 0) {
            snprintf(err, errlen, "--log-level: expected debug, info, warn or error");
            goto out;
        }
        cfg->log_level = (enum ald_log_level)level;
    } else if (!strcmp(key, "log-format")) {
        if (strcmp(value, "text") && strcmp(value, "json")) {
            snprintf(err, errlen, "--log-format: expected text or json");
            goto out;
        }
        cfg->log_json = value[0] == 'j';
    } else if (!strcmp(key, "coap-security")) {
        if (strcmp(value, "dtls") && strcmp(value, "none")) {
            snprintf(err, errlen, "--coap-security: expected dtls or none");
            goto out;
        }
        cfg->coap_insecure = value[0] == 'n';
    } else if (!strcmp(key, "http-threads") || !strcmp(key, "coap-idle-timeout")) {
        bool threads = key[0] == 'h';
        unsigned long max = threads ? 64 : 3600;
        char *end;
        unsigned long n;
        errno = 0;
        n = strtoul(value, &end, 10);
        if (errno || end == value || *end || n < 1 || n > max) {
            snprintf(err, errlen, "--%s: expected 1..%lu", key, max);
            goto out;
        }
        *(threads ? &cfg->http_threads : &cfg->coap_idle_s) = (unsigned)n;
    } else if (!strcmp(key, "device-ca")) { /* issue 14 (creds) */
        if (!value[0] || cfg->ndevice_ca == ALD_CONFIG_DEVICE_CA_MAX ||
            !copy_str(cfg->device_ca[cfg->ndevice_ca], ALD_PATH_MAX, value)) {
            snprintf(err, errlen, "--device-ca: empty, too long, or more than %d of them",
                     ALD_CONFIG_DEVICE_CA_MAX);
            goto out;
        }
        cfg->ndevice_ca++;
    } else if (!strcmp(key, "coap-cert") || !strcmp(key, "coap-key")) { /* issue 14 (creds) */
        char *dst = key[5] == 'c' ? cfg->coap_cert : cfg->coap_key;
        if (!value[0] || !copy_str(dst, ALD_PATH_MAX, value)) {
            snprintf(err, errlen, "--%s: empty or too long", key);
            goto out;
        }
    } else if (!strcmp(key, "metrics-public")) { /* issue 15 (ops) */
        if (strcmp(value, "true") && strcmp(value, "false")) {
            snprintf(err, errlen, "--metrics-public: expected true or false");
            goto out;
        }
        cfg->metrics_public = value[0] == 't';
    } else if (!strcmp(key, "ddi-tenant") || !strcmp(key, "ddi-gateway-token")) {
        /* issue 14 (ddi): docs/ddi.md */
        bool tenant = key[4] == 't';
        char *dst = tenant ? cfg->ddi_tenant : cfg->ddi_gateway_token;
        size_t cap = tenant ? sizeof cfg->ddi_tenant : sizeof cfg->ddi_gateway_token;
        bool ok = value[0] && strlen(value) < cap && (!tenant || alc_name_valid(value));
        for (const char *p = value; ok && *p; p++)
            ok = *p > ' ' && *p < 0x7f;
        if (!ok || !copy_str(dst, cap, value)) {
            snprintf(err, errlen, tenant ? "--ddi-tenant: expected a name (letters, digits, "
                     "'-', '_', '.', at most 64)" : "--ddi-gateway-token: expected 1..128 "
                     "printable characters without spaces");
            goto out;
        }
    } else if (!strcmp(key, "ddi-poll-interval")) { /* issue 14 (ddi) */
        char *end;
        unsigned long n;
        errno = 0;
        n = strtoul(value, &end, 10);
        if (errno || end == value || *end || n < 1 || n > 86399) {
            snprintf(err, errlen, "--ddi-poll-interval: expected 1..86399 seconds");
            goto out;
        }
        cfg->ddi_poll_s = (unsigned)n;
    } else if (!strcmp(key, "web-root")) { /* issue 13 (console) */
        if (!value[0] || !copy_str(cfg->web_root, sizeof cfg->web_root, value)) {
            snprintf(err, errlen, "--web-root: empty or too long");
            goto out;
        }
    } else if (!strcmp(key, "workers")) {
        char *end;
        unsigned long n;
        errno = 0;
        n = strtoul(value, &end, 10);
        if (errno || end == value || *end || n < 1 || n > ALD_WORKERS_MAX) {
            snprintf(err, errlen, "--workers: expected 1..%d", ALD_WORKERS_MAX);
            goto out;
        }
        cfg->workers = (unsigned)n;
    } else {
        snprintf(err, errlen, "unknown option '%.64s'", key);
        goto out;
    }
    rc = 0;
out:
    return rc;
}

/* Trim ASCII whitespace at both ends, in place. */
static char *trim(char *s)
{
    char *end;
    while (*s == ' ' || *s == '\t')
        s++;
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
        *--end = '\0';
    return s;
}

/* Read `key = value` lines from path. Lines are bounded (1 KiB); errors name file:line. */
static int load_file(struct ald_config *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char line[1024], sub[256];
    int rc = -1, lineno = 0;
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    while (fgets(line, sizeof line, f)) {
        char *key, *value, *eq;
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            snprintf(err, errlen, "%s:%d: line too long", path, lineno);
            goto out;
        }
        key = trim(line);
        if (key[0] == '\0' || key[0] == '#')
            continue;
        eq = strchr(key, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected 'key = value'", path, lineno);
            goto out;
        }
        *eq = '\0';
        value = trim(eq + 1);
        key = trim(key);
        if (!strcmp(key, "config")) {
            snprintf(err, errlen, "%s:%d: 'config' cannot be set in a config file", path, lineno);
            goto out;
        }
        if (apply(cfg, key, value, sub, sizeof sub) != 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, sub);
            goto out;
        }
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        goto out;
    }
    rc = 0;
out:
    if (f)
        fclose(f);
    return rc;
}

static bool takes_value(const char *name)
{
    static const char *const with_value[] = {"data-dir",     "http-listen",      "coap-listen",
                                             "config",       "log-level",        "log-format",
                                             "admin-token-file", "port-file",    "http-threads",
                                             "coap-security", "coap-idle-timeout", "store"};
    if (!strcmp(name, "workers") || !strcmp(name, "tls-cert") || !strcmp(name, "tls-key") ||
        !strcmp(name, "log-file") || !strcmp(name, "web-root"))
        return true;
    if (!strcmp(name, "device-ca") || !strcmp(name, "coap-cert") || !strcmp(name, "coap-key"))
        return true; /* issue 14 (creds) */
    if (!strncmp(name, "ddi-", 4)) /* issue 14 (ddi) */
        return !strcmp(name, "ddi-tenant") || !strcmp(name, "ddi-gateway-token") ||
               !strcmp(name, "ddi-poll-interval");
    for (size_t i = 0; i < sizeof with_value / sizeof with_value[0]; i++)
        if (!strcmp(name, with_value[i]))
            return true;
    return false;
}

/*
 * Walk argv. pass 0 only finds --config (and rejects malformed flags); pass 1 applies the
 * rest, so flags override the file whatever their order.
 */
static int parse_args(struct ald_config *cfg, int argc, char **argv, int pass, char *err,
                      size_t errlen)
{
    int rc = -1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value = NULL;
        char name[32];
        const char *eq;
        size_t n;
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            cfg->help = true;
            continue;
        }
        if (!strcmp(arg, "--version")) {
            cfg->version = true;
            continue;
        }
        if (!strcmp(arg, "--check-config")) {
            cfg->check_config = true;
            continue;
        }
        if (!strcmp(arg, "--metrics-public")) { /* issue 15 (ops): a flag without a value */
            if (pass == 1)
                cfg->metrics_public = true;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument '%.64s'", arg);
            goto out;
        }
        arg += 2;
        eq = strchr(arg, '=');
        n = eq ? (size_t)(eq - arg) : strlen(arg);
        if (n >= sizeof name) {
            snprintf(err, errlen, "unknown option '--%.40s'", arg);
            goto out;
        }
        memcpy(name, arg, n);
        name[n] = '\0';
        if (!takes_value(name)) {
            snprintf(err, errlen, "unknown option '--%s'", name);
            goto out;
        }
        if (eq) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            snprintf(err, errlen, "--%s needs a value", name);
            goto out;
        }
        if (pass == 0) {
            if (!strcmp(name, "config") &&
                !copy_str(cfg->config_file, sizeof cfg->config_file, value)) {
                snprintf(err, errlen, "--config: path too long");
                goto out;
            }
        } else {
            if (!strcmp(name, "device-ca") && !cfg->device_ca_args) { /* issue 14 (creds) */
                cfg->device_ca_args = true; /* flags win: the file's CAs are replaced */
                cfg->ndevice_ca = 0;
            }
            if (strcmp(name, "config") != 0 && apply(cfg, name, value, err, errlen) != 0)
                goto out;
        }
    }
    rc = 0;
out:
    return rc;
}

int ald_config_load(struct ald_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    int rc = -1;
    memset(cfg, 0, sizeof *cfg);
    copy_str(cfg->data_dir, sizeof cfg->data_dir, "./airlift-data");
    ald_listen_parse("127.0.0.1:7780", &cfg->http);
    ald_listen_parse("127.0.0.1:5684", &cfg->coap);
    cfg->log_level = ALD_LOG_INFO;
    cfg->http_threads = 4;
    cfg->workers = ald_workers_default_count();
    cfg->coap_idle_s = 30;
    copy_str(cfg->ddi_tenant, sizeof cfg->ddi_tenant, "default"); /* issue 14 (ddi) */
    cfg->ddi_poll_s = 60;
    if (parse_args(cfg, argc, argv, 0, err, errlen) != 0)
        goto out;
    if (cfg->help || cfg->version) {
        rc = 0;
        goto out;
    }
    if (cfg->config_file[0] && load_file(cfg, cfg->config_file, err, errlen) != 0)
        goto out;
    if (parse_args(cfg, argc, argv, 1, err, errlen) != 0)
        goto out;
    if (!cfg->tls_cert[0] != !cfg->tls_key[0]) {
        snprintf(err, errlen, "%s without %s: HTTPS needs both the certificate and its key",
                 cfg->tls_cert[0] ? "--tls-cert" : "--tls-key",
                 cfg->tls_cert[0] ? "--tls-key" : "--tls-cert");
        goto out;
    }
    if ((cfg->ndevice_ca || cfg->coap_cert[0] || cfg->coap_key[0]) && /* issue 14 (creds) */
        (!cfg->ndevice_ca || !cfg->coap_cert[0] || !cfg->coap_key[0])) {
        snprintf(err, errlen, "certificate devices need all of --device-ca, --coap-cert and "
                              "--coap-key (missing: %s)",
                 !cfg->ndevice_ca ? "--device-ca" : !cfg->coap_cert[0] ? "--coap-cert"
                                                                       : "--coap-key");
        goto out;
    }
    rc = 0;
out:
    return rc;
}

/* ---- --check-config and SIGHUP (service settings, docs/airliftd.md) ---------------------- */

/*
 * true if path's parent directory (or path itself, when want_dir and it exists) can be
 * written by this process; else false with the reason in why[cap]. Touches nothing.
 */
/* true if dir is a directory this process can write in; else false with why[cap] set. */
static bool writable_dir(const char *dir, char *why, size_t cap)
{
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        snprintf(why, cap, "%s is not a directory", dir);
        return false;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        snprintf(why, cap, "cannot write in %s: %s", dir, strerror(errno));
        return false;
    }
    return true;
}

static bool writable_place(const char *path, bool want_dir, char *why, size_t cap)
{
    char parent[ALD_PATH_MAX];
    const char *slash;

    if (want_dir && access(path, F_OK) == 0)
        return writable_dir(path, why, cap);
    slash = strrchr(path, '/');
    if (!slash)
        copy_str(parent, sizeof parent, ".");
    else if (slash == path)
        copy_str(parent, sizeof parent, "/");
    else
        snprintf(parent, sizeof parent, "%.*s", (int)(slash - path), path);
    return writable_dir(parent, why, cap);
}

int ald_config_check(const struct ald_config *cfg, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        size_t offset;
    } files[] = {
        {"admin-token-file", offsetof(struct ald_config, admin_token_file)},
        {"port-file", offsetof(struct ald_config, port_file)},
        {"log-file", offsetof(struct ald_config, log_file)},
    };
    char why[ALD_PATH_MAX + 64], url[ALD_STORE_URL_MAX + 16];

    if (cfg->coap.ipv6) {
        snprintf(err, errlen, "--coap-listen: the device endpoint takes IPv4 addresses only");
        return -1;
    }
    if (ald_config_store_url(cfg, url, sizeof url) != 0) {
        snprintf(err, errlen, "--data-dir: too long for a store URL");
        return -1;
    }
    if (strncmp(url, "sqlite:", 7) != 0) {
#ifdef AIRLIFT_HAVE_PG
        char *perr = NULL;
        PQconninfoOption *opts = PQconninfoParse(url, &perr);
        char shown[160];
        if (!opts) {
            /* libpq's message may quote the URL, password included: name the URL redacted. */
            ald_url_redact(url, shown, sizeof shown);
            snprintf(err, errlen, "--store: libpq cannot parse '%s'", shown);
            PQfreemem(perr);
            return -1;
        }
        PQconninfoFree(opts);
#else
        snprintf(err, errlen, "--store: this airliftd is built without PostgreSQL");
        return -1;
#endif
    }
    if (!writable_place(cfg->data_dir, true, why, sizeof why)) {
        snprintf(err, errlen, "--data-dir: %s", why);
        return -1;
    }
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        const char *path = (const char *)cfg + files[i].offset;
        struct stat sb;
        if (!path[0])
            continue;
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            snprintf(err, errlen, "--%s: %s is a directory", files[i].name, path);
            return -1;
        }
        /* The data directory is made at start: a file right in it is fine when it is missing. */
        size_t dl = strlen(cfg->data_dir);
        if (access(cfg->data_dir, F_OK) != 0 && !strncmp(path, cfg->data_dir, dl) &&
            path[dl] == '/' && !strchr(path + dl + 1, '/'))
            continue;
        if (!writable_place(path, false, why, sizeof why)) {
            snprintf(err, errlen, "--%s: %s", files[i].name, why);
            return -1;
        }
    }
    return 0;
}

int ald_config_restart_needed(const struct ald_config *a, const struct ald_config *b, char *out,
                              size_t cap)
{
    const struct {
        const char *name;
        bool differs;
    } keys[] = {
        {"data-dir", strcmp(a->data_dir, b->data_dir) != 0},
        {"store", strcmp(a->store_url, b->store_url) != 0},
        {"http-listen", strcmp(a->http.text, b->http.text) != 0},
        {"coap-listen", strcmp(a->coap.text, b->coap.text) != 0},
        {"coap-security", a->coap_insecure != b->coap_insecure},
        {"coap-idle-timeout", a->coap_idle_s != b->coap_idle_s},
        {"admin-token-file", strcmp(a->admin_token_file, b->admin_token_file) != 0},
        {"port-file", strcmp(a->port_file, b->port_file) != 0},
        {"http-threads", a->http_threads != b->http_threads},
        {"workers", a->workers != b->workers},
        {"tls-cert", strcmp(a->tls_cert, b->tls_cert) != 0},
        {"tls-key", strcmp(a->tls_key, b->tls_key) != 0},
        {"metrics-public", a->metrics_public != b->metrics_public},
        {"device-ca", a->ndevice_ca != b->ndevice_ca ||
                          memcmp(a->device_ca, b->device_ca, sizeof a->device_ca) != 0},
        {"coap-cert", strcmp(a->coap_cert, b->coap_cert) != 0},
        {"coap-key", strcmp(a->coap_key, b->coap_key) != 0},
        {"web-root", strcmp(a->web_root, b->web_root) != 0},
        {"ddi-tenant", strcmp(a->ddi_tenant, b->ddi_tenant) != 0},
        {"ddi-gateway-token", strcmp(a->ddi_gateway_token, b->ddi_gateway_token) != 0},
        {"ddi-poll-interval", a->ddi_poll_s != b->ddi_poll_s},
    };
    size_t o = 0;
    int n = 0;
    if (cap)
        out[0] = '\0';
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (!keys[i].differs)
            continue;
        if (n++)
            put(out, cap, &o, ",", 1);
        put(out, cap, &o, keys[i].name, strlen(keys[i].name));
    }
    return n;
}
