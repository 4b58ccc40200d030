/*
 * log.c - see log.h.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define LINE_MAX_BYTES 4096

static enum ald_log_level log_min = ALD_LOG_INFO;
static bool log_json;
static bool log_journal; /* stderr is the journal: each line starts with its "<N>" priority */

/*
 * true if stderr is the systemd journal's stream: $JOURNAL_STREAM ("DEV:INODE", set by
 * systemd for a service whose stderr goes to the journal) names stderr's device and inode.
 */
static bool stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat sb;
    char tail;
    if (!js || sscanf(js, "%llu:%llu%c", &dev, &ino, &tail) != 2)
        return false;
    return fstat(STDERR_FILENO, &sb) == 0 && (unsigned long long)sb.st_dev == dev &&
           (unsigned long long)sb.st_ino == ino;
}

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void ald_log_setup(enum ald_log_level min, bool json)
{
    /* Atomic: SIGHUP changes them (main.c) while other threads log. */
    __atomic_store_n(&log_min, min, __ATOMIC_RELAXED);
    __atomic_store_n(&log_json, json, __ATOMIC_RELAXED);
    __atomic_store_n(&log_journal, stderr_is_journal(), __ATOMIC_RELAXED);
}

int ald_log_level_parse(const char *s)
{
    if (!strcmp(s, "debug"))
        return ALD_LOG_DEBUG;
    if (!strcmp(s, "info"))
        return ALD_LOG_INFO;
    if (!strcmp(s, "warn") || !strcmp(s, "warning"))
        return ALD_LOG_WARN;
    if (!strcmp(s, "error"))
        return ALD_LOG_ERROR;
    return -1;
}

/* A line under construction; once full, further appends are ignored (truncation). */
struct line {
    char buf[LINE_MAX_BYTES];
    size_t len;
};

static void put_raw(struct line *l, const char *s, size_t n)
{
    size_t room = sizeof l->buf - 2 - l->len; /* keep room for "\n" and NUL */
    if (n > room)
        n = room;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void put_str(struct line *l, const char *s)
{
    put_raw(l, s, strlen(s));
}

/* JSON string body escaping (without the quotes). */
static void put_json_escaped(struct line *l, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put_raw(l, esc, 2);
        } else if (c < 0x20) {
            int n = snprintf(esc, sizeof esc, "\\u%04x", c);
            put_raw(l, esc, (size_t)n);
        } else {
            put_raw(l, s, 1);
        }
    }
}

/* logfmt value: bare if it has no space, quote, '=' or control byte; else quoted and escaped. */
static void put_logfmt_value(struct line *l, const char *s)
{
    bool bare = *s != '\0';
    for (const char *p = s; *p && bare; p++)
        if ((unsigned char)*p <= 0x20 || *p == '"' || *p == '=' || *p == '\\')
            bare = false;
    if (bare) {
        put_str(l, s);
        return;
    }
    put_raw(l, "\"", 1);
    put_json_escaped(l, s);
    put_raw(l, "\"", 1);
}

static void put_field(struct line *l, const char *key, const char *value, bool first)
{
    if (__atomic_load_n(&log_json, __ATOMIC_RELAXED)) {
        put_str(l, first ? "\"" : ",\"");
        put_json_escaped(l, key);
        put_str(l, "\":\"");
        put_json_escaped(l, value);
        put_raw(l, "\"", 1);
    } else {
        if (!first)
            put_raw(l, " ", 1);
        put_str(l, key);
        put_raw(l, "=", 1);
        put_logfmt_value(l, value);
    }
}

/* The token of the request this thread handles, "" for none (ald_log_token). */
static _Thread_local char log_token[80];

void ald_log_token(const char *name)
{
    size_t n = name ? strnlen(name, sizeof log_token) : 0;
    if (n >= sizeof log_token)
        n = 0;
    memcpy(log_token, name ? name : "", n);
    log_token[n] = '\0';
}

void ald_log(enum ald_log_level level, const char *msg, ...)
{
    struct line l;
    char ts[64];
    va_list ap;
    bool has_token = false;
    bool json = __atomic_load_n(&log_json, __ATOMIC_RELAXED);

    if (level < __atomic_load_n(&log_min, __ATOMIC_RELAXED) || level > ALD_LOG_ERROR)
        return;
    l.len = 0;
    /* sd-daemon(3) priorities: debug 7, info 6, warning 4, err 3 */
    if (__atomic_load_n(&log_journal, __ATOMIC_RELAXED))
        put_str(&l, (const char *const[]){"<7>", "<6>", "<4>", "<3>"}[level]);
    ald_format_time(ald_now_ms(), ts, sizeof ts);
    if (json)
        put_raw(&l, "{", 1);
    put_field(&l, "ts", ts, true);
    put_field(&l, "level", level_names[level], false);
    put_field(&l, "msg", msg, false);
    va_start(ap, msg);
    for (;;) {
        const char *key = va_arg(ap, const char *);
        const char *value;
        if (!key)
            break;
        value = va_arg(ap, const char *);
        put_field(&l, key, value ? value : "", false);
        has_token = has_token || !strcmp(key, "token");
    }
    va_end(ap);
    if (log_token[0] && !has_token)
        put_field(&l, "token", log_token, false);
    if (json)
        put_raw(&l, "}", 1);
    l.buf[l.len++] = '\n';
    /* One write per line: atomic enough for a pipe or a terminal, and never interleaved. */
    if (write(STDERR_FILENO, l.buf, l.len) < 0) {
        /* Nowhere left to report a failing stderr. */
    }
}
