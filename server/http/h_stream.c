/*
 * h_stream.c - GET /v1/events/stream: the live event stream, as server-sent events
 * (docs/api.md, "Events").
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "auth.h"
#include "events.h"
#include "http_priv.h"
#include "reply.h"

#define STREAM_POLL_MS 200        /* how often the ticker looks for new events */
#define STREAM_KEEPALIVE_MS 15000 /* a comment after this much silence; token re-checked */
#define STREAM_BATCH 64           /* events read from the store at once */
#define STREAM_BLOCK 16384        /* libmicrohttpd's buffer for a stream */
#define STREAM_END_WAIT_MS 1000   /* at shutdown, for the streams to end */

/*
 * The live event stream (GET /v1/events/stream, server-sent events).
 *
 * A stream must not hold a worker thread: each worker serves many connections. So a stream
 * with nothing to send suspends its connection (MHD_suspend_connection, from inside its
 * content reader), and the ticker thread resumes it when the store has a newer event than
 * the stream has looked at, or a keepalive or a token check is due. On resume libmicrohttpd
 * calls the reader again, which reads the store and writes, or suspends again.
 *
 * h->streams_lock guards the list of streams, each stream's `suspended` and h->stopping.
 * The reader sets its stream's other fields before taking the lock to suspend, and the
 * ticker reads them only while the stream is suspended, under the lock. Shutdown sets
 * stopping and resumes every stream, whose reader then ends it: libmicrohttpd must never be
 * stopped with a connection suspended.
 */
struct event_stream {
    struct event_stream *next;
    struct ald_http *h;
    struct MHD_Connection *c;
    struct ald_event_filter f;     /* f.after_id: every event up to it has been looked at */
    char device[ALD_NAME_MAX + 1];
    char type_prefix[EVENT_PREFIX_MAX + 1];
    int64_t token_id;
    bool suspended;
    bool failed;                   /* out of memory while formatting */
    size_t batch;                  /* events in the current batch */
    int64_t last_write_ms, auth_checked_ms; /* monotonic */
    char *out;                     /* wire text not yet given to libmicrohttpd */
    size_t len, off, cap;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Append n bytes to the stream's pending text; false on out of memory. */
static bool stream_put(struct event_stream *s, const char *text, size_t n)
{
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        char *grown;
        while (cap < s->len + n)
            cap *= 2;
        if (!(grown = realloc(s->out, cap)))
            return false;
        s->out = grown;
        s->cap = cap;
    }
    memcpy(s->out + s->len, text, n);
    s->len += n;
    return true;
}

/* One event on the wire: "id: N\nevent: TYPE\ndata: {...}\n\n" (compact JSON: one line). */
static int stream_collect(void *ctx, const struct ald_event_rec *e)
{
    struct event_stream *s = ctx;
    json_t *o = event_json(e);
    char *json = o ? json_dumps(o, JSON_COMPACT) : NULL;
    char head[ALD_EVENT_TYPE_MAX + 48];
    int n = snprintf(head, sizeof head, "id: %" PRId64 "\nevent: %s\ndata: ", e->id, e->type);
    json_decref(o);
    if (!json || !stream_put(s, head, (size_t)n) || !stream_put(s, json, strlen(json)) ||
        !stream_put(s, "\n\n", 2)) {
        free(json);
        s->failed = true;
        return 1;
    }
    free(json);
    s->f.after_id = e->id;
    s->batch++;
    return 0;
}

/* The next batch of matching events into s->out; false if the store failed. */
static bool stream_fill(struct event_stream *s)
{
    struct ald_store *st = s->h->store;
    struct ald_result res;
    int64_t last = 0;
    s->batch = 0;
    s->f.limit = STREAM_BATCH;
    /* `last` first: every event up to it is visible to the listing that follows. */
    res = ald_event_last_id(st, &last);
    if (ald_is_ok(&res))
        res = ald_event_list(st, &s->f, stream_collect, s);
    if (!ald_is_ok(&res) || s->failed)
        return false;
    /* A short batch: nothing else up to `last` matches; never look there again. */
    if (s->batch < STREAM_BATCH && last > s->f.after_id)
        s->f.after_id = last;
    return true;
}

/* Is the stream's token still good? (checked every STREAM_KEEPALIVE_MS) */
static bool stream_token_live(struct event_stream *s, int64_t now)
{
    if (now - s->auth_checked_ms < STREAM_KEEPALIVE_MS)
        return true;
    s->auth_checked_ms = now;
    return ald_token_live(s->h->store, s->token_id);
}

static bool streams_stopping(struct ald_http *h)
{
    pthread_mutex_lock(&h->streams_lock);
    bool stopping = h->stopping;
    pthread_mutex_unlock(&h->streams_lock);
    return stopping;
}

/* libmicrohttpd's content reader of a stream: hand out pending text, or suspend. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct event_stream *s = cls;
    struct ald_http *h = s->h;
    int64_t now = mono_ms();
    (void)pos;
    if (streams_stopping(h) || !stream_token_live(s, now))
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (s->off == s->len) {
        s->off = s->len = 0;
        if (!stream_fill(s))
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (s->len == 0 && now - s->last_write_ms >= STREAM_KEEPALIVE_MS &&
            !stream_put(s, ": keepalive\n\n", 13))
            return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (s->off < s->len) {
        size_t n = s->len - s->off < max ? s->len - s->off : max;
        memcpy(buf, s->out + s->off, n);
        s->off += n;
        s->last_write_ms = now;
        return (ssize_t)n;
    }
    pthread_mutex_lock(&h->streams_lock);
    if (h->stopping) {
        pthread_mutex_unlock(&h->streams_lock);
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    s->suspended = true;
    MHD_suspend_connection(s->c);
    pthread_mutex_unlock(&h->streams_lock);
    return 0;
}

/* The response is gone (the connection closed): forget the stream. */
static void stream_free(void *cls)
{
    struct event_stream *s = cls;
    struct ald_http *h = s->h;
    pthread_mutex_lock(&h->streams_lock);
    for (struct event_stream **p = &h->streams; *p; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            break;
        }
    }
    pthread_cond_broadcast(&h->streams_wake); /* streams_stop waits for the last one */
    pthread_mutex_unlock(&h->streams_lock);
    free(s->out);
    free(s);
}

/* The ticker: every STREAM_POLL_MS, resume the suspended streams that have work. */
static void *streams_tick(void *arg)
{
    struct ald_http *h = arg;
    struct timespec until;
    pthread_mutex_lock(&h->streams_lock);
    while (!h->stopping) {
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += STREAM_POLL_MS * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&h->streams_wake, &h->streams_lock, &until);
        if (h->stopping || !h->streams)
            continue;
        int64_t last = 0, now;
        pthread_mutex_unlock(&h->streams_lock);
        /* A failing store wakes every stream: its reader reports the failure. */
        struct ald_result res = ald_event_last_id(h->store, &last);
        bool known = ald_is_ok(&res);
        now = mono_ms();
        pthread_mutex_lock(&h->streams_lock);
        for (struct event_stream *s = h->streams; s; s = s->next) {
            if (!s->suspended)
                continue;
            if (known && last <= s->f.after_id &&
                now - s->last_write_ms < STREAM_KEEPALIVE_MS &&
                now - s->auth_checked_ms < STREAM_KEEPALIVE_MS)
                continue;
            s->suspended = false;
            MHD_resume_connection(s->c);
        }
    }
    pthread_mutex_unlock(&h->streams_lock);
    return NULL;
}

HANDLER(h_events_stream)
{
    const char *last_id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
    struct ald_event_filter f = {0};
    struct event_stream *s;
    struct MHD_Response *resp;
    enum MHD_Result ret = MHD_NO;
    char opening[48];
    int n;

    if (!event_filter_params(c, r, &f, &ret))
        return ret;
    /* A reconnecting EventSource repeats the URL: its Last-Event-ID is the newer news. */
    if (last_id && !parse_after(last_id, &f.after_id))
        return reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request",
                           "Last-Event-ID must be an event id");
    if (!last_id && !MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after")) {
        struct ald_result res = ald_event_last_id(h->store, &f.after_id);
        if (!ald_is_ok(&res))
            return reply_result(c, r, &res);
    }
    if (!(s = calloc(1, sizeof *s)))
        return MHD_NO;
    s->h = h;
    s->c = c;
    s->f = f;
    if (f.device) {
        snprintf(s->device, sizeof s->device, "%s", f.device);
        s->f.device = s->device;
    }
    if (f.type_prefix) {
        snprintf(s->type_prefix, sizeof s->type_prefix, "%s", f.type_prefix);
        s->f.type_prefix = s->type_prefix;
    }
    s->token_id = r->token.id;
    s->last_write_ms = s->auth_checked_ms = mono_ms();
    /* A comment first: the client knows the stream is open, and from where. */
    n = snprintf(opening, sizeof opening, ": after %" PRId64 "\n\n", f.after_id);
    if (!stream_put(s, opening, (size_t)n)) {
        free(s);
        return MHD_NO;
    }
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_read, s,
                                             stream_free);
    if (!resp) {
        free(s->out);
        free(s);
        return MHD_NO;
    }
    pthread_mutex_lock(&h->streams_lock);
    s->next = h->streams;
    h->streams = s;
    pthread_mutex_unlock(&h->streams_lock);
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no"); /* proxies: do not buffer */
    return send_reply(c, r, MHD_HTTP_OK, resp);
}

/* The lock, the condition (on the monotonic clock) and the ticker of the streams. */
bool streams_init(struct ald_http *h)
{
    pthread_condattr_t attr;
    bool cond_ok;
    if (pthread_condattr_init(&attr) != 0)
        return false;
    cond_ok = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
              pthread_cond_init(&h->streams_wake, &attr) == 0;
    pthread_condattr_destroy(&attr);
    if (!cond_ok)
        return false;
    if (pthread_mutex_init(&h->streams_lock, NULL) != 0) {
        pthread_cond_destroy(&h->streams_wake);
        return false;
    }
    if (pthread_create(&h->ticker, NULL, streams_tick, h) != 0) {
        pthread_mutex_destroy(&h->streams_lock);
        pthread_cond_destroy(&h->streams_wake);
        return false;
    }
    h->ticker_running = true;
    return true;
}

/*
 * End every stream: no connection may stay suspended once libmicrohttpd stops. Each reader
 * then ends its stream properly (the client sees an end, not a broken transfer); what is
 * still open after STREAM_END_WAIT_MS is cut by MHD_stop_daemon.
 */
void streams_stop(struct ald_http *h)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += STREAM_END_WAIT_MS / 1000;
    pthread_mutex_lock(&h->streams_lock);
    h->stopping = true;
    for (struct event_stream *s = h->streams; s; s = s->next) {
        if (s->suspended) {
            s->suspended = false;
            MHD_resume_connection(s->c);
        }
    }
    pthread_cond_broadcast(&h->streams_wake);
    while (h->streams && pthread_cond_timedwait(&h->streams_wake, &h->streams_lock, &until) == 0)
        ;
    pthread_mutex_unlock(&h->streams_lock);
    if (h->ticker_running)
        pthread_join(h->ticker, NULL);
    h->ticker_running = false;
}

void streams_destroy(struct ald_http *h)
{
    pthread_mutex_destroy(&h->streams_lock);
    pthread_cond_destroy(&h->streams_wake);
}

