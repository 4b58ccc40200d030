/*
 * api.c - the CLI's side of airliftd's management API (docs/api.md): where the server is,
 * the token, and JSON calls over libcurl.
 *
 * Settings, lowest priority first: defaults (http://127.0.0.1:7780), the config file
 * ($AIRLIFT_CONFIG, else $XDG_CONFIG_HOME/airlift/config, else ~/.config/airlift/config;
 * `key = value` lines: server, token, token-file, cacert; '#' comments), the environment
 * (AIRLIFT_SERVER, AIRLIFT_TOKEN, AIRLIFT_CACERT), the flags (--server, --token,
 * --token-file, --cacert). An https:// server's certificate is verified against the CA file
 * (cacert) if one is given, else the system's store.
 */
#include "cli.h"
#include "sse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#define DEFAULT_SERVER "http://127.0.0.1:7780"
#define REPLY_MAX (8u * 1024u * 1024u)
#define CONFIG_LINE_MAX 1024

static bool set_str(char *dst, size_t cap, const char *value)
{
    size_t n = strlen(value);
    if (n >= cap)
        return false;
    memcpy(dst, value, n + 1);
    return true;
}

/* The token stored in a file (first line, trimmed). */
static int token_from_file(struct cli *cli, struct cli_server *srv, const char *path)
{
    char err[256];
    uint8_t *buf = NULL;
    size_t len = 0, n = 0;
    if (cli_read_file(path, CLI_TOKEN_MAX, &buf, &len, err, sizeof err) != CLI_READ_OK)
        return cli_error(cli, CLI_EXIT_IO, "token file %s: %s", path, err);
    while (n < len && buf[n] != '\n' && buf[n] != '\r')
        n++;
    memcpy(srv->token, buf, n);
    srv->token[n] = '\0';
    free(buf);
    snprintf(srv->source, sizeof srv->source, "token file %s", path);
    return 0;
}

static char *trim(char *s)
{
    char *end;
    while (*s == ' ' || *s == '\t')
        s++;
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
        *--end = '\0';
    return s;
}

/* The config file's path into path[CLI_URL_MAX]: $AIRLIFT_CONFIG, else
 * $XDG_CONFIG_HOME/airlift/config, else ~/.config/airlift/config; false if none can be
 * named (no HOME). */
static bool config_path(char *path)
{
    const char *explicit_path = getenv("AIRLIFT_CONFIG"), *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    if (explicit_path && *explicit_path)
        snprintf(path, CLI_URL_MAX, "%s", explicit_path);
    else if (xdg && *xdg)
        snprintf(path, CLI_URL_MAX, "%s/airlift/config", xdg);
    else if (home && *home)
        snprintf(path, CLI_URL_MAX, "%s/.config/airlift/config", home);
    else
        return false;
    return true;
}

static int read_config(struct cli *cli, struct cli_server *srv)
{
    char path[CLI_URL_MAX], line[CONFIG_LINE_MAX];
    const char *explicit_path = getenv("AIRLIFT_CONFIG");
    int lineno = 0, rc = 0;
    if (!config_path(path))
        return 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return explicit_path && *explicit_path
                   ? cli_error(cli, CLI_EXIT_IO, "config file %s cannot be read", path)
                   : 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        char *key = trim(line), *eq, *value;
        lineno++;
        if (!*key || *key == '#')
            continue;
        if (!(eq = strchr(key, '='))) {
            rc = cli_error(cli, CLI_EXIT_USAGE, "%s:%d: expected 'key = value'", path, lineno);
            break;
        }
        *eq = '\0';
        key = trim(key);
        value = trim(eq + 1);
        if (!strcmp(key, "server")) {
            if (!set_str(srv->url, sizeof srv->url, value))
                rc = cli_error(cli, CLI_EXIT_USAGE, "%s:%d: server URL too long", path, lineno);
        } else if (!strcmp(key, "token")) {
            if (!set_str(srv->token, sizeof srv->token, value))
                rc = cli_error(cli, CLI_EXIT_USAGE, "%s:%d: token too long", path, lineno);
            snprintf(srv->source, sizeof srv->source, "config file %s", path);
        } else if (!strcmp(key, "token-file")) {
            rc = token_from_file(cli, srv, value);
        } else if (!strcmp(key, "cacert")) {
            if (!set_str(srv->cacert, sizeof srv->cacert, value))
                rc = cli_error(cli, CLI_EXIT_USAGE, "%s:%d: cacert path too long", path, lineno);
        } else {
            rc = cli_error(cli, CLI_EXIT_USAGE, "%s:%d: unknown key '%s' (server, token, "
                           "token-file, cacert)", path, lineno, key);
        }
    }
    fclose(f);
    return rc;
}

/* The config file the settings would be read from, for messages. */
static const char *config_path_hint(void)
{
    static char path[CLI_URL_MAX];
    if (!config_path(path))
        snprintf(path, sizeof path, "the config file ($AIRLIFT_CONFIG)");
    return path;
}

int cli_server_load(struct cli *cli, struct cli_server *srv)
{
    const char *env;
    int rc;
    memset(srv, 0, sizeof *srv);
    snprintf(srv->url, sizeof srv->url, "%s", DEFAULT_SERVER);
    if ((rc = read_config(cli, srv)) != 0)
        return rc;
    if ((env = getenv("AIRLIFT_SERVER")) && *env && !set_str(srv->url, sizeof srv->url, env))
        return cli_error(cli, CLI_EXIT_USAGE, "AIRLIFT_SERVER is too long");
    if ((env = getenv("AIRLIFT_TOKEN")) && *env) {
        if (!set_str(srv->token, sizeof srv->token, env))
            return cli_error(cli, CLI_EXIT_USAGE, "AIRLIFT_TOKEN is too long");
        snprintf(srv->source, sizeof srv->source, "AIRLIFT_TOKEN");
    }
    if (cli->server_flag && !set_str(srv->url, sizeof srv->url, cli->server_flag))
        return cli_usage_error(cli, "--server: URL too long");
    if (cli->token_file && (rc = token_from_file(cli, srv, cli->token_file)) != 0)
        return rc;
    if (cli->token_flag) {
        if (!set_str(srv->token, sizeof srv->token, cli->token_flag))
            return cli_usage_error(cli, "--token: too long");
        snprintf(srv->source, sizeof srv->source, "--token");
    }
    /* issue 14 (tokens): the CA file, checked here so that its absence is not taken for a
     * certificate that does not verify. */
    env = getenv("AIRLIFT_CACERT");
    if (env && *env && !set_str(srv->cacert, sizeof srv->cacert, env))
        return cli_error(cli, CLI_EXIT_USAGE, "AIRLIFT_CACERT is too long");
    if (cli->cacert_flag && !set_str(srv->cacert, sizeof srv->cacert, cli->cacert_flag))
        return cli_usage_error(cli, "--cacert: path too long");
    if (srv->cacert[0] && cli_path_exists(srv->cacert) != 1)
        return cli_error(cli, CLI_EXIT_IO, "CA file %s (--cacert, AIRLIFT_CACERT or 'cacert' in "
                         "%s) does not exist", srv->cacert, config_path_hint());
    size_t n = strlen(srv->url);
    while (n && srv->url[n - 1] == '/')
        srv->url[--n] = '\0';
    if (strncmp(srv->url, "http://", 7) && strncmp(srv->url, "https://", 8))
        return cli_usage_error(cli, "server '%s': expected an http:// or https:// URL", srv->url);
    if (!srv->token[0])
        return cli_error(cli, CLI_EXIT_USAGE, "no API token configured for %s: give --token "
                         "TOKEN or --token-file PATH, set AIRLIFT_TOKEN, or put 'token = TOKEN' "
                         "in %s (airliftd prints the admin token at its first start)", srv->url,
                         config_path_hint());
    return 0;
}

/* issue 14 (tokens): what every request to the server sets for TLS: the CA file if one is
 * given (else curl's default, the system's store); the peer and its name are verified. */
static void tls_setup(CURL *curl, const struct cli_server *srv)
{
    if (srv->cacert[0])
        curl_easy_setopt(curl, CURLOPT_CAINFO, srv->cacert);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
}

/* The error of a request that got no answer (printed; its exit code): a certificate that
 * does not verify is CLI_EXIT_TLS, an unusable CA file CLI_EXIT_IO, the rest
 * CLI_EXIT_SERVER. */
static int no_answer(struct cli *cli, const struct cli_server *srv, CURLcode cc,
                     const char *errbuf)
{
    const char *why = errbuf[0] ? errbuf : curl_easy_strerror(cc);
    if (cc == CURLE_PEER_FAILED_VERIFICATION)
        return cli_error(cli, CLI_EXIT_TLS, "the TLS certificate of %s does not verify: %s "
                         "(name the CA that signed it with --cacert FILE, AIRLIFT_CACERT or "
                         "'cacert = FILE' in %s)", srv->url, why, config_path_hint());
    if (cc == CURLE_SSL_CACERT_BADFILE)
        return cli_error(cli, CLI_EXIT_IO, "CA file %s holds no usable PEM certificate: %s",
                         srv->cacert, why);
    return cli_error(cli, CLI_EXIT_SERVER, "cannot reach airliftd at %s: %s", srv->url, why);
}

/* curl's write callback into a struct alc_buf: past its max (or out of memory) the
 * transfer ends. */
static size_t collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    size_t n = size * nmemb;
    return alc_buf_append(userdata, ptr, n) == ALC_BUF_OK ? n : 0;
}

int cli_api(struct cli *cli, const struct cli_server *srv, const char *method, const char *path,
            json_t *body, const uint8_t *raw, size_t raw_len, const char *raw_type, long *status,
            json_t **reply)
{
    char url[CLI_URL_MAX + 256], auth[CLI_TOKEN_MAX + 32], ctype[96], errbuf[CURL_ERROR_SIZE];
    struct curl_slist *headers = NULL;
    struct alc_buf b;
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    int rc = CLI_EXIT_INTERNAL;
    CURL *curl = curl_easy_init();
    alc_buf_init(&b, REPLY_MAX);
    *reply = NULL;
    *status = 0;
    if (!curl || (body && !text))
        goto out;
    snprintf(url, sizeof url, "%s%s", srv->url, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", srv->token);
    headers = curl_slist_append(headers, auth);
    if (text || raw) {
        snprintf(ctype, sizeof ctype, "Content-Type: %s", text ? "application/json" : raw_type);
        headers = curl_slist_append(headers, ctype);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, text ? text : (const char *)raw);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(text ? strlen(text) : raw_len));
    }
    errbuf[0] = '\0';
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    tls_setup(curl, srv);
    CURLcode cc = curl_easy_perform(curl);
    if (cc != CURLE_OK) {
        rc = no_answer(cli, srv, cc, errbuf);
        goto out;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    if (b.len)
        *reply = json_loadb((const char *)b.data, b.len, 0, NULL);
    if (*reply && !cli->json) /* net: devices' and users' text, safe for the terminal */
        cli_json_escape_strings(*reply);
    if (*status < 300 && b.len && !*reply) {
        /* A success that is not JSON: something else answers at that URL. */
        rc = cli_error(cli, CLI_EXIT_SERVER, "%s answered %s %s with something that is not "
                       "JSON: is %s airliftd's API? (--server, AIRLIFT_SERVER or the config "
                       "file)", srv->url, method, path, srv->url);
        goto out;
    }
    rc = 0;
out:
    curl_slist_free_all(headers);
    if (curl)
        curl_easy_cleanup(curl);
    alc_buf_free(&b);
    free(text);
    return rc;
}

int cli_api_error(struct cli *cli, const struct cli_server *srv, long status, json_t *reply)
{
    json_t *err = json_object_get(reply, "error");
    if (!cli->json) /* net: the message may quote devices' and users' text */
        cli_json_escape_strings(err);
    const char *msg = json_string_value(json_object_get(err, "message"));
    if (status == 401) /* revoked and expired tokens say so in msg (issue 14) */
        return cli_error(cli, CLI_EXIT_AUTH, "the server refused the API token%s%s: %s "
                         "(set it with --token, AIRLIFT_TOKEN or the config file)",
                         srv->source[0] ? " from " : "", srv->source,
                         msg ? msg : "unauthorized");
    if (msg)
        return cli_error(cli, CLI_EXIT_SERVER, "%s", msg);
    /* No error object of airliftd's: another server, or a proxy, answers there. */
    return cli_error(cli, CLI_EXIT_SERVER, "%s answered HTTP %ld without an airliftd error: is "
                     "%s airliftd's API? (--server, AIRLIFT_SERVER or the config file)",
                     srv->url, status, srv->url);
}

int cli_api_ok(struct cli *cli, const struct cli_server *srv, const char *method,
               const char *path, json_t *body, json_t **reply)
{
    long status = 0;
    int rc = cli_api(cli, srv, method, path, body, NULL, 0, NULL, &status, reply);
    if (rc == 0 && status >= 300) {
        rc = cli_api_error(cli, srv, status, *reply);
        json_decref(*reply);
        *reply = NULL;
    }
    return rc;
}

bool cli_query_add(char *path, size_t cap, const char *key, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t len = strlen(path), n = len;
    int w = snprintf(path + n, cap - n, "%c%s=", strchr(path, '?') ? '&' : '?', key);
    if (w < 0 || (size_t)w >= cap - n)
        goto too_long;
    n += (size_t)w;
    for (const unsigned char *v = (const unsigned char *)value; *v; v++) {
        bool plain = (*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') ||
                     (*v >= '0' && *v <= '9') || strchr("-._~", *v);
        if (n + (plain ? 1 : 3) >= cap)
            goto too_long;
        if (plain) {
            path[n++] = (char)*v;
        } else {
            path[n++] = '%';
            path[n++] = hex[*v >> 4];
            path[n++] = hex[*v & 15];
        }
    }
    path[n] = '\0';
    return true;
too_long:
    path[len] = '\0';
    return false;
}

int cli_path_add(struct cli *cli, char *path, size_t cap, const char *what, const char *value)
{
    size_t len = strlen(path), n = strlen(value);
    struct al_version version;
    /* Both are safe in a path segment as they are: no escaping. */
    if (!alc_name_valid(value) && al_version_parse(value, n, &version) != AL_OK)
        return cli_usage_error(cli, "%s '%s' is not valid: expected a name (1..%d of "
                               "[A-Za-z0-9._-], starting with a letter or digit) or a version",
                               what, value, ALC_NAME_MAX);
    if (len + 1 + n >= cap)
        return cli_usage_error(cli, "%s '%s' is too long", what, value);
    snprintf(path + len, cap - len, "/%s", value);
    return 0;
}

/* ---- server-sent events ---- */

#define SSE_LINE_MAX (256u * 1024u) /* one line of the stream; an event is far smaller */
#define SSE_SILENCE_S 45L           /* three missed keepalives: the connection is dead */

struct sse {
    cli_sse_fn fn;
    void *ctx;
    const volatile sig_atomic_t *stop;
    CURL *curl;
    long status;                /* of the reply, once its body starts */
    bool open;                  /* the server accepted the stream */
    bool stopped;               /* fn or *stop ended it */
    bool too_long;              /* a line past SSE_LINE_MAX */
    bool not_sse;               /* a 200 that is not text/event-stream */
    bool nul;                   /* a NUL byte in the stream */
    struct alc_buf error_body;  /* the body of an error reply */
    struct cli_sse_reader reader; /* the stream's lines and fields (sse.h) */
};

static size_t sse_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct sse *p = userdata;
    size_t n = size * nmemb;
    if (!p->status) {
        const char *ctype = NULL;
        curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, &p->status);
        curl_easy_getinfo(p->curl, CURLINFO_CONTENT_TYPE, &ctype);
        if (p->status == 200 && (!ctype || strncmp(ctype, "text/event-stream", 17))) {
            p->not_sse = true;
            return 0;
        }
        if (p->status == 200) {
            p->open = true;
            if (p->fn(p->ctx, NULL) != 0) {
                p->stopped = true;
                return 0;
            }
        }
    }
    if (p->status != 200)
        return collect(ptr, size, nmemb, &p->error_body);
    if (!cli_sse_reader_feed(&p->reader, ptr, n)) {
        p->stopped = p->stopped || p->reader.stopped;
        p->too_long = p->reader.too_long;
        p->nul = p->reader.nul;
        return 0;
    }
    return n;
}

static int sse_progress(void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                        curl_off_t ulnow)
{
    struct sse *p = clientp;
    if (*p->stop)
        p->stopped = true;
    return p->stopped;
}

int cli_api_stream(struct cli *cli, const struct cli_server *srv, const char *path,
                   cli_sse_fn fn, void *ctx, const volatile sig_atomic_t *stop)
{
    char url[CLI_URL_MAX + 256], auth[CLI_TOKEN_MAX + 32], errbuf[CURL_ERROR_SIZE];
    struct curl_slist *headers = NULL;
    struct sse p = {.fn = fn, .ctx = ctx, .stop = stop};
    int rc = CLI_EXIT_INTERNAL;
    CURLcode cc;

    alc_buf_init(&p.error_body, REPLY_MAX);
    cli_sse_reader_init(&p.reader, SSE_LINE_MAX, fn, ctx);
    if (!(p.curl = curl_easy_init()))
        goto out;
    snprintf(url, sizeof url, "%s%s", srv->url, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", srv->token);
    headers = curl_slist_append(headers, auth);
    headers = curl_slist_append(headers, "Accept: text/event-stream");
    errbuf[0] = '\0';
    curl_easy_setopt(p.curl, CURLOPT_URL, url);
    curl_easy_setopt(p.curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(p.curl, CURLOPT_WRITEFUNCTION, sse_write);
    curl_easy_setopt(p.curl, CURLOPT_WRITEDATA, &p);
    curl_easy_setopt(p.curl, CURLOPT_XFERINFOFUNCTION, sse_progress);
    curl_easy_setopt(p.curl, CURLOPT_XFERINFODATA, &p);
    curl_easy_setopt(p.curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(p.curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(p.curl, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(p.curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(p.curl, CURLOPT_LOW_SPEED_TIME, SSE_SILENCE_S);
    curl_easy_setopt(p.curl, CURLOPT_NOSIGNAL, 1L);
    tls_setup(p.curl, srv);
    cc = curl_easy_perform(p.curl);
    if (p.stopped) {
        rc = 0;
    } else if (p.status && p.status != 200) {
        json_t *reply = p.error_body.len ? json_loadb((const char *)p.error_body.data,
                                                      p.error_body.len, 0, NULL)
                                         : NULL;
        rc = cli_api_error(cli, srv, p.status, reply);
        json_decref(reply);
    } else if (p.not_sse) {
        rc = cli_error(cli, CLI_EXIT_SERVER, "%s%s is not an event stream (an older airliftd?)",
                       srv->url, path);
    } else if (p.nul) {
        rc = cli_error(cli, CLI_EXIT_SERVER, "the event stream from %s holds a NUL byte: it is "
                       "not airliftd's", srv->url);
    } else if (p.too_long) {
        rc = cli_error(cli, CLI_EXIT_SERVER, "the event stream from %s has a line over %u bytes",
                       srv->url, SSE_LINE_MAX);
    } else if (!p.open) {
        rc = no_answer(cli, srv, cc, errbuf);
    } else if (cc == CURLE_OPERATION_TIMEDOUT) {
        rc = cli_error(cli, CLI_EXIT_SERVER, "no word from airliftd at %s for %ld s, not even "
                       "a keepalive: the connection is lost", srv->url, SSE_SILENCE_S);
    } else if (cc == CURLE_OK) {
        rc = cli_error(cli, CLI_EXIT_SERVER, "airliftd at %s ended the event stream (shutting "
                       "down?)", srv->url);
    } else {
        rc = cli_error(cli, CLI_EXIT_SERVER, "the event stream from %s broke: %s", srv->url,
                       errbuf[0] ? errbuf : curl_easy_strerror(cc));
    }
out:
    curl_slist_free_all(headers);
    if (p.curl)
        curl_easy_cleanup(p.curl);
    alc_buf_free(&p.error_body);
    cli_sse_reader_free(&p.reader);
    return rc;
}
