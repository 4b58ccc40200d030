/*
 * h_static.c - the web console's files (see h_static.h; docs/console.md, "Serving").
 *
 * A request for a console path is answered here, without a token (the files are the same
 * for everyone; the data behind them is the API's, which asks for one):
 *  1. only GET and HEAD (405 otherwise);
 *  2. the raw request target (before libmicrohttpd decoded it) must be a clean path: no
 *     "." or ".." segment, no empty segment inside it, no encoded '/' or '\', no NUL or
 *     other control byte, no malformed %-escape (400), at most STATIC_PATH_MAX bytes
 *     decoded (414);
 *  3. "/" is index.html; a file that exists is served; a path whose last segment has no '.'
 *     and names no file is a route of the console's own (/devices/NAME), answered with
 *     index.html so deep links work; anything else is 404;
 *  4. the gzip variant is sent when the client accepts gzip and one exists (built in: made
 *     at build time; --web-root: FILE.gz beside FILE); the ETag names the variant, and an
 *     If-None-Match that matches it is answered 304.
 * Every answer carries the console's security headers (console_headers below).
 */
#include "h_static.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "airlift_common/hex.h"
#include "http_priv.h"

#define STATIC_PATH_MAX 200          /* longest decoded path served */
#define STATIC_FILE_MAX (16u << 20)  /* largest file read from --web-root */

static const char *web_root; /* NULL: the built-in files */

void ald_http_web_root(const char *dir)
{
    web_root = dir && dir[0] ? dir : NULL;
}

bool ald_static_path(const char *path)
{
    return strcmp(path, "/v1") != 0 && strncmp(path, "/v1/", 4) != 0;
}

/* What the console's answers carry: a strict CSP (no inline script or style attribute
 * runs, nothing loads from elsewhere), no MIME sniffing, no referrer. */
static void console_headers(struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'self'; script-src 'self'; object-src 'none'; "
                            "base-uri 'none'; frame-ancestors 'none'");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
}

/* Queue resp (destroyed here; NULL: MHD_NO) with the console's headers. */
static enum MHD_Result send_static(struct MHD_Connection *c, struct req *r, unsigned status,
                                   struct MHD_Response *resp)
{
    enum MHD_Result ret;
    if (!resp)
        return MHD_NO;
    console_headers(resp);
    r->replied = true;
    r->status = status;
    ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* A short text/plain error: the console's errors are for people, not programs. */
static enum MHD_Result static_error(struct MHD_Connection *c, struct req *r, unsigned status,
                                    const char *text)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, "Allow", "GET, HEAD");
    return send_static(c, r, status, resp);
}

/*
 * Decode the path of the raw request target raw (up to '?' or '#') into out[cap] without
 * its leading '/'. Returns 0, 400 for a path that is not clean (see the top of this file)
 * or 414 when it is longer than cap - 1.
 */
static unsigned clean_path(const char *raw, char *out, size_t cap)
{
    size_t o = 0, seg = 0;
    if (raw[0] != '/')
        return MHD_HTTP_BAD_REQUEST;
    for (const char *p = raw + 1;; p++) {
        unsigned char ch = (unsigned char)*p;
        bool end = ch == '\0' || ch == '?' || ch == '#';
        if (end || ch == '/') {
            size_t n = o - seg;
            if ((n == 1 && out[seg] == '.') || (n == 2 && out[seg] == '.' && out[seg + 1] == '.'))
                return MHD_HTTP_BAD_REQUEST;
            if (n == 0 && !end && o > 0)
                return MHD_HTTP_BAD_REQUEST; /* "a//b" */
            if (n == 0 && !end && o == 0)
                return MHD_HTTP_BAD_REQUEST; /* "//a" */
            if (end)
                break;
        }
        if (ch == '%') {
            char two[3] = {p[1], p[1] ? p[2] : '\0', '\0'};
            uint8_t byte;
            if (!alc_hex_decode(two, &byte, 1))
                return MHD_HTTP_BAD_REQUEST;
            ch = byte;
            p += 2;
            if (ch == '/' || ch == '\0')
                return MHD_HTTP_BAD_REQUEST;
        }
        if (ch < 0x20 || ch == 0x7f || ch == '\\')
            return MHD_HTTP_BAD_REQUEST;
        if (o + 1 >= cap)
            return MHD_HTTP_URI_TOO_LONG;
        out[o++] = (char)ch;
        if (ch == '/')
            seg = o;
    }
    out[o] = '\0';
    return 0;
}

/* The Content-Type of a file, by its extension. */
static const char *content_type(const char *path)
{
    static const char *const types[][2] = {
        {".html", "text/html; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"}, {".svg", "image/svg+xml"},
        {".png", "image/png"}, {".ico", "image/x-icon"}, {".json", "application/json"},
        {".txt", "text/plain; charset=utf-8"}, {".woff2", "font/woff2"},
    };
    const char *dot = strrchr(path, '.');
    if (dot && !strchr(dot, '/'))
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (!strcmp(dot, types[i][0]))
                return types[i][1];
    return "application/octet-stream";
}

/* Does the request's Accept-Encoding accept gzip (named or "*", without q=0)? */
static bool accepts_gzip(struct MHD_Connection *c)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_ACCEPT_ENCODING);
    while (v && *v) {
        size_t n = strcspn(v, ",");
        const char *item = v, *semi;
        size_t name;
        while (n > 0 && (*item == ' ' || *item == '\t')) {
            item++;
            n--;
        }
        semi = memchr(item, ';', n);
        name = semi ? (size_t)(semi - item) : n;
        while (name > 0 && (item[name - 1] == ' ' || item[name - 1] == '\t'))
            name--;
        if ((name == 4 && !strncasecmp(item, "gzip", 4)) || (name == 1 && item[0] == '*')) {
            const char *q = semi ? strstr(semi, "q=") : NULL;
            bool zero = false;
            if (q && q < item + n) {
                zero = q[2] == '0';
                for (const char *d = q + 3; zero && d < item + n && *d != ' '; d++)
                    zero = *d == '.' || *d == '0';
            }
            return !zero;
        }
        v += n;
        if (*v == ',')
            v++;
    }
    return false;
}

/* Does If-None-Match name etag (or "*")? Weak and strong forms compare alike. */
static bool etag_matches(struct MHD_Connection *c, const char *etag)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_IF_NONE_MATCH);
    size_t elen;
    if (!strncmp(etag, "W/", 2))
        etag += 2;
    elen = strlen(etag);
    while (v && *v) {
        size_t n;
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        if (*v == '*')
            return true;
        if (!strncmp(v, "W/", 2))
            v += 2;
        n = strcspn(v, ", \t");
        if (n == elen && !memcmp(v, etag, n))
            return true;
        v += n;
    }
    return false;
}

/* A file to send: its bytes (owned when `owned`), and its ETag. */
struct sfile {
    const unsigned char *data;
    size_t len;
    bool owned;
    bool gzip;
    char etag[80];
};

static const struct ald_web_file *builtin(const char *name)
{
    for (size_t i = 0; i < ald_web_file_count; i++)
        if (!strcmp(ald_web_files[i].path, name))
            return &ald_web_files[i];
    return NULL;
}

/* Read the regular file path (at most STATIC_FILE_MAX bytes) into f; false if it is not
 * there (or not a regular file, or unreadable). */
static bool read_file(const char *path, struct sfile *f, bool gzip)
{
    struct stat st;
    unsigned char *buf;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > STATIC_FILE_MAX ||
        !(buf = malloc(st.st_size ? (size_t)st.st_size : 1))) {
        close(fd);
        return false;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    f->data = buf;
    f->len = got;
    f->owned = true;
    f->gzip = gzip;
    snprintf(f->etag, sizeof f->etag, "W/\"%llx-%llx.%lx%s\"", (unsigned long long)got,
             (unsigned long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec, gzip ? "-gz" : "");
    return true;
}

/* Find name (a clean path, "" for the root) in the console's files; false if absent. */
static bool find_file(const char *name, bool gzip, struct sfile *f)
{
    memset(f, 0, sizeof *f);
    if (!web_root) {
        const struct ald_web_file *w = builtin(name);
        if (!w)
            return false;
        f->gzip = gzip && w->gz;
        f->data = f->gzip ? w->gz : w->data;
        f->len = f->gzip ? w->gz_len : w->len;
        snprintf(f->etag, sizeof f->etag, "%.*s%s\"", (int)strlen(w->etag) - 1, w->etag,
                 f->gzip ? "-gz" : "");
        return true;
    }
    char path[ALD_PATH_MAX + STATIC_PATH_MAX + 8];
    int n = snprintf(path, sizeof path, "%s/%s%s", web_root, name, gzip ? ".gz" : "");
    if (n < 0 || (size_t)n >= sizeof path)
        return false;
    if (read_file(path, f, gzip))
        return true;
    return gzip && find_file(name, false, f);
}

HANDLER(h_static)
{
    char name[STATIC_PATH_MAX + 1];
    const char *file, *last;
    struct sfile f;
    struct MHD_Response *resp;
    unsigned status;
    bool gzip;
    (void)h;

    if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD"))
        return static_error(c, r, MHD_HTTP_METHOD_NOT_ALLOWED,
                            "the console's files take GET and HEAD only\n");
    if (r->raw_too_long)
        return static_error(c, r, MHD_HTTP_URI_TOO_LONG, "path too long\n");
    status = clean_path(r->raw_path, name, sizeof name);
    if (status)
        return static_error(c, r, status,
                            status == MHD_HTTP_URI_TOO_LONG
                                ? "path too long\n"
                                : "bad path: no '.' or '..' segment, empty segment, encoded "
                                  "slash, backslash or control character\n");
    gzip = accepts_gzip(c);
    file = name[0] && name[strlen(name) - 1] != '/' ? name : "index.html";
    if (!find_file(file, gzip, &f)) {
        last = strrchr(name, '/');
        last = last ? last + 1 : name;
        if (strchr(last, '.') || !find_file("index.html", gzip, &f))
            return static_error(c, r, MHD_HTTP_NOT_FOUND, "no such file\n");
        file = "index.html"; /* a route of the console's own: the app reads the URL */
    }
    if (etag_matches(c, f.etag)) {
        if (f.owned)
            free((void *)f.data);
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        status = MHD_HTTP_NOT_MODIFIED;
    } else {
        resp = MHD_create_response_from_buffer(f.len, (void *)f.data,
                                               f.owned ? MHD_RESPMEM_MUST_FREE
                                                       : MHD_RESPMEM_PERSISTENT);
        if (!resp && f.owned)
            free((void *)f.data);
        status = MHD_HTTP_OK;
    }
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", content_type(file));
    MHD_add_response_header(resp, "ETag", f.etag);
    MHD_add_response_header(resp, "Vary", "Accept-Encoding");
    /* Revalidate each time: cheap with the ETag, and a new airliftd's console shows at once. */
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    if (f.gzip)
        MHD_add_response_header(resp, "Content-Encoding", "gzip");
    return send_static(c, r, status, resp);
}
