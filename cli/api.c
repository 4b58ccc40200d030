/*
 * api.c - the CLI's side of airliftd's management API (docs/api.md): where the server is,
 * the token, and JSON calls over libcurl.
 *
 * Settings, lowest priority first: defaults (http://127.0.0.1:7780), the config file
 * ($AIRLIFT_CONFIG, else $XDG_CONFIG_HOME/airlift/config, else ~/.config/airlift/config;
 * `key = value` lines: server, token, token-file; '#' comments), the environment
 * (AIRLIFT_SERVER, AIRLIFT_TOKEN), the flags (--server, --token, --token-file).
 */
#include "cli.h"

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

static int read_config(struct cli *cli, struct cli_server *srv)
{
    char path[CLI_URL_MAX], line[CONFIG_LINE_MAX];
    const char *explicit_path = getenv("AIRLIFT_CONFIG"), *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    int lineno = 0, rc = 0;
    if (explicit_path && *explicit_path)
        snprintf(path, sizeof path, "%s", explicit_path);
    else if (xdg && *xdg)
        snprintf(path, sizeof path, "%s/airlift/config", xdg);
    else if (home && *home)
        snprintf(path, sizeof path, "%s/.config/airlift/config", home);
    else
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
        } else {
            rc = cli_error(cli, CLI_EXIT_USAGE, "%s:%d: unknown key '%s' (server, token, "
                           "token-file)", path, lineno, key);
        }
    }
    fclose(f);
    return rc;
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
    size_t n = strlen(srv->url);
    while (n && srv->url[n - 1] == '/')
        srv->url[--n] = '\0';
    if (strncmp(srv->url, "http://", 7) && strncmp(srv->url, "https://", 8))
        return cli_usage_error(cli, "server '%s': expected an http:// or https:// URL", srv->url);
    return 0;
}

struct buffer {
    char *data;
    size_t len;
    bool too_large;
};

static size_t collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct buffer *b = userdata;
    size_t n = size * nmemb;
    if (b->len + n > REPLY_MAX) {
        b->too_large = true;
        return 0;
    }
    char *grown = realloc(b->data, b->len + n + 1);
    if (!grown)
        return 0;
    memcpy(grown + b->len, ptr, n);
    b->data = grown;
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

int cli_api(struct cli *cli, const struct cli_server *srv, const char *method, const char *path,
            json_t *body, const uint8_t *raw, size_t raw_len, const char *raw_type, long *status,
            json_t **reply)
{
    char url[CLI_URL_MAX + 256], auth[CLI_TOKEN_MAX + 32], ctype[96], errbuf[CURL_ERROR_SIZE];
    struct curl_slist *headers = NULL;
    struct buffer b = {0};
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    int rc = CLI_EXIT_INTERNAL;
    CURL *curl = curl_easy_init();
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
    CURLcode cc = curl_easy_perform(curl);
    if (cc != CURLE_OK) {
        rc = cli_error(cli, CLI_EXIT_SERVER, "cannot reach airliftd at %s: %s", srv->url,
                       errbuf[0] ? errbuf : curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    if (b.len)
        *reply = json_loadb(b.data, b.len, 0, NULL);
    rc = 0;
out:
    curl_slist_free_all(headers);
    if (curl)
        curl_easy_cleanup(curl);
    free(b.data);
    free(text);
    return rc;
}

int cli_api_error(struct cli *cli, const struct cli_server *srv, long status, json_t *reply)
{
    json_t *err = json_object_get(reply, "error");
    const char *msg = json_string_value(json_object_get(err, "message"));
    if (status == 401)
        return cli_error(cli, CLI_EXIT_SERVER, "the server refused the API token%s%s: %s "
                         "(set it with --token, AIRLIFT_TOKEN or the config file)",
                         srv->source[0] ? " from " : "", srv->source,
                         msg ? msg : "unauthorized");
    if (msg)
        return cli_error(cli, CLI_EXIT_SERVER, "%s", msg);
    return cli_error(cli, CLI_EXIT_SERVER, "the server answered HTTP %ld", status);
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
