/*
 * fleet_provision.c - airlift-fleet provision: register N devices with airliftd's management
 * API, in their product, groups and channel, BATCH devices per request (POST /v1/devices
 * with a "devices" array: one transaction each), and append NAME, IDENTITY, PSK to
 * DIR/devices.tsv as each batch is registered, so an interrupted run keeps what it made.
 */
#include "fleet.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <jansson.h>

#include "devconf.h"

#define MAX_GROUPS 8
#define REPLY_MAX (1024 * 1024) /* a batch's answer: about 400 bytes a device */
#define BATCH 200

static const char *prog = "airlift-fleet";

struct reply {
    char buf[REPLY_MAX];
    size_t len;
    bool overflow;
};

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
    struct reply *r = ctx;
    size_t len = size * n;
    if (len > sizeof r->buf - 1 - r->len) {
        r->overflow = true;
        return len; /* keep reading; the reply is refused below */
    }
    memcpy(r->buf + r->len, data, len);
    r->len += len;
    r->buf[r->len] = '\0';
    return len;
}

/* One request with a JSON body; returns the HTTP status (0: no answer) and the reply. */
static long call(CURL *curl, const char *base, const char *token, const char *method,
                 const char *path, json_t *body, struct reply *rep)
{
    char url[1024], auth[600];
    struct curl_slist *h = NULL;
    long status = 0;
    char *text = json_dumps(body, JSON_COMPACT);
    if (!text)
        return 0;
    snprintf(url, sizeof url, "%s%s", base, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    h = curl_slist_append(h, auth);
    h = curl_slist_append(h, "Content-Type: application/json");
    rep->len = 0;
    rep->buf[0] = '\0';
    rep->overflow = false;
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, text);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, rep);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    CURLcode cc = curl_easy_perform(curl);
    if (cc == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    else
        fprintf(stderr, "%s: %s %s: %s\n", prog, method, url, curl_easy_strerror(cc));
    curl_slist_free_all(h);
    free(text);
    return rep->overflow ? 0 : status;
}

static void api_error(const char *what, long status, const struct reply *rep)
{
    fprintf(stderr, "%s: %s: HTTP %ld: %.300s\n", prog, what, status, rep->len ? rep->buf : "(no body)");
}

int fleet_cmd_provision(int argc, char **argv)
{
    const char *dir = NULL, *api = getenv("AIRLIFT_SERVER"), *token = getenv("AIRLIFT_TOKEN");
    const char *prefix = NULL, *product = NULL, *channel = NULL, *groups[MAX_GROUPS];
    size_t ngroups = 0;
    unsigned long count = 0, start = 1, platform = 10;
    bool dev_flag = false;
    int rc = FLEET_EXIT_USAGE;
    CURL *curl = NULL;
    FILE *tsv = NULL;
    json_t *groups_json = NULL;
    struct reply *rep = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (strcmp(a, "--api") == 0 && v) { api = v; i++; }
        else if (strcmp(a, "--token") == 0 && v) { token = v; i++; }
        else if (strcmp(a, "--prefix") == 0 && v) { prefix = v; i++; }
        else if (strcmp(a, "--product") == 0 && v) { product = v; i++; }
        else if (strcmp(a, "--channel") == 0 && v) { channel = v; i++; }
        else if (strcmp(a, "--dev") == 0) dev_flag = true;
        else if (strcmp(a, "--group") == 0 && v) {
            if (ngroups == MAX_GROUPS) {
                fprintf(stderr, "%s: provision: at most %d --group\n", prog, MAX_GROUPS);
                return FLEET_EXIT_USAGE;
            }
            groups[ngroups++] = v;
            i++;
        } else if ((strcmp(a, "--count") == 0 || strcmp(a, "--start") == 0 ||
                    strcmp(a, "--platform") == 0) && v) {
            unsigned long n = strtoul(v, &end, 0);
            if (!*v || *end || n > 1000000) {
                fprintf(stderr, "%s: provision: %s takes a number up to 1000000, not '%s'\n", prog, a, v);
                return FLEET_EXIT_USAGE;
            }
            if (strcmp(a, "--count") == 0)
                count = n;
            else if (strcmp(a, "--start") == 0)
                start = n;
            else
                platform = n;
            i++;
        } else if (a[0] != '-' && !dir) dir = a;
        else {
            fprintf(stderr, "%s: provision: unexpected argument '%s'\n", prog, a);
            return FLEET_EXIT_USAGE;
        }
    }
    if (!dir || !api || !token || !prefix || count == 0) {
        fprintf(stderr, "%s: provision needs DIR, --api URL (or AIRLIFT_SERVER), --token TOKEN "
                        "(or AIRLIFT_TOKEN), --prefix NAME- and --count N >= 1\n", prog);
        return FLEET_EXIT_USAGE;
    }
    if (strlen(prefix) > 50 || strlen(api) > 900 || strlen(token) > 500) {
        fprintf(stderr, "%s: provision: --prefix (50), --api (900) or --token (500) too long\n", prog);
        return FLEET_EXIT_USAGE;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "%s: cannot create %s: %s\n", prog, dir, strerror(errno));
        return FLEET_EXIT_FILE;
    }
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/devices.tsv", dir) >= sizeof path) {
        fprintf(stderr, "%s: %s: path too long\n", prog, dir);
        return FLEET_EXIT_USAGE;
    }
    struct stat st;
    bool fresh = stat(path, &st) != 0;
    if (!(tsv = fopen(path, "a"))) {
        fprintf(stderr, "%s: cannot open %s: %s\n", prog, path, strerror(errno));
        return FLEET_EXIT_FILE;
    }
    if (fresh)
        fprintf(tsv, "# name\tidentity\tpsk\n");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rep = malloc(sizeof *rep);
    curl = curl_easy_init();
    groups_json = json_array();
    if (!rep || !curl || !groups_json) {
        rc = FLEET_EXIT_INTERNAL;
        goto out;
    }
    for (size_t g = 0; g < ngroups; g++)
        json_array_append_new(groups_json, json_string(groups[g]));
    rc = FLEET_EXIT_API;
    unsigned width = count + start - 1 >= 10000 ? 6 : 5;
    for (unsigned long first = start; first < start + count; first += BATCH) {
        unsigned long n = start + count - first < BATCH ? start + count - first : BATCH;
        char p[400];
        json_t *list = json_array(), *body, *reg = NULL, *made;
        for (unsigned long i = first; i < first + n; i++) {
            char name[80];
            json_t *o;
            snprintf(name, sizeof name, "%s%0*lu", prefix, (int)width, i);
            o = json_pack("{s:s, s:i, s:b}", "name", name, "platform", (json_int_t)platform,
                          "dev", dev_flag);
            if (product)
                json_object_set_new(o, "product", json_string(product));
            if (ngroups)
                json_object_set(o, "groups", groups_json);
            if (channel)
                json_object_set_new(o, "channel", json_string(channel));
            json_array_append_new(list, o);
        }
        body = json_pack("{s:o}", "devices", list);
        long status = call(curl, api, token, "POST", "/v1/devices", body, rep);
        json_decref(body);
        snprintf(p, sizeof p, "registering %s%0*lu..%s%0*lu", prefix, (int)width, first, prefix,
                 (int)width, first + n - 1);
        if (status != 201) {
            api_error(p, status, rep);
            goto out;
        }
        json_error_t jerr;
        reg = json_loads(rep->buf, 0, &jerr);
        made = json_object_get(reg, "devices");
        if (json_array_size(made) != n) {
            fprintf(stderr, "%s: %s: the answer does not list %lu devices: %.200s\n", prog, p, n,
                    rep->buf);
            json_decref(reg);
            goto out;
        }
        for (size_t k = 0; k < n; k++) {
            json_t *d = json_array_get(made, k);
            const char *name = json_string_value(json_object_get(d, "name"));
            const char *identity = json_string_value(json_object_get(d, "identity"));
            const char *psk = json_string_value(json_object_get(d, "psk"));
            uint8_t key[64];
            if (!name || !identity || !psk ||
                strlen(identity) >= sizeof ((struct fleet_row *)0)->identity || strlen(psk) % 2 ||
                strlen(psk) / 2 > sizeof key || sim_unhex(psk, key, strlen(psk) / 2) != 0) {
                fprintf(stderr, "%s: %s: device %zu has no usable name, identity and psk\n", prog,
                        p, k);
                json_decref(reg);
                goto out;
            }
            fprintf(tsv, "%s\t%s\t%s\n", name, identity, psk);
        }
        json_decref(reg);
    }
    if (fflush(tsv) != 0) {
        fprintf(stderr, "%s: writing %s: %s\n", prog, path, strerror(errno));
        rc = FLEET_EXIT_FILE;
        goto out;
    }
    printf("provisioned %lu devices %s%0*lu..%s%0*lu into %s\n", count, prefix, (int)width, start,
           prefix, (int)width, start + count - 1, path);
    rc = FLEET_EXIT_OK;
out:
    if (tsv && fclose(tsv) != 0 && rc == FLEET_EXIT_OK) {
        fprintf(stderr, "%s: writing %s: %s\n", prog, path, strerror(errno));
        rc = FLEET_EXIT_FILE;
    }
    json_decref(groups_json);
    if (curl)
        curl_easy_cleanup(curl);
    curl_global_cleanup();
    free(rep);
    return rc;
}

int fleet_rows_load(const char *dir, struct fleet_row **rows, size_t *count)
{
    char path[4096], line[512];
    struct fleet_row *v = NULL;
    size_t n = 0, cap = 0, lineno = 0;
    int rc = -1;
    snprintf(path, sizeof path, "%s/devices.tsv", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: cannot open %s: %s (run 'provision' first)\n", prog, path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        line[strcspn(line, "\r\n")] = '\0';
        char *name = line, *id = strchr(name, '\t'), *psk = id ? strchr(id + 1, '\t') : NULL;
        if (!id || !psk) {
            fprintf(stderr, "%s: %s:%zu: expected NAME<tab>IDENTITY<tab>PSK\n", prog, path, lineno);
            goto out;
        }
        *id++ = '\0';
        *psk++ = '\0';
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 1024;
            struct fleet_row *nv = realloc(v, ncap * sizeof *nv);
            if (!nv)
                goto out;
            v = nv;
            cap = ncap;
        }
        struct fleet_row *r = &v[n];
        size_t klen = strlen(psk) / 2;
        if (strlen(name) == 0 || strlen(name) >= sizeof r->name || strlen(id) == 0 ||
            strlen(id) >= sizeof r->identity || strlen(psk) % 2 || klen == 0 ||
            klen > sizeof r->psk || sim_unhex(psk, r->psk, klen) != 0) {
            fprintf(stderr, "%s: %s:%zu: bad name, identity or psk (hex, 1..64 bytes)\n", prog, path,
                    lineno);
            goto out;
        }
        snprintf(r->name, sizeof r->name, "%s", name);
        snprintf(r->identity, sizeof r->identity, "%s", id);
        r->psk_len = klen;
        n++;
    }
    if (n == 0) {
        fprintf(stderr, "%s: %s lists no device\n", prog, path);
        goto out;
    }
    *rows = v;
    *count = n;
    v = NULL;
    rc = 0;
out:
    free(v);
    fclose(f);
    return rc;
}
