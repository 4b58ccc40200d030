/*
 * http_guard.c - see http_guard.h. The header deadline: every connection is tracked from its
 * start (MHD_CONNECTION_NOTIFY_STARTED) to its end (..._CLOSED) in a list; a thread looks at
 * it twice a second and shuts down (shutdown(2): libmicrohttpd then reads end-of-file and
 * closes it itself) each connection whose headers are late. The list's lock is held while
 * shutting down, and the closed-notification takes it before libmicrohttpd closes the socket,
 * so a socket shut down is always still the connection's.
 */
#include "http_guard.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"

#define SWEEP_MS 500
#define LOG_EVERY_S 10

struct tracked {
    struct tracked *next, **prev;
    int fd;
    int64_t deadline_ms; /* 0: none (headers in, request being served) */
};

struct http_guard {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    bool stop;
    struct tracked *conns;
    uint64_t cut, cut_logged; /* connections shut down for late headers */
    time_t logged_at;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sweep(struct http_guard *g)
{
    int64_t now = mono_ms();
    for (struct tracked *t = g->conns; t; t = t->next) {
        int64_t d = __atomic_load_n(&t->deadline_ms, __ATOMIC_RELAXED);
        if (d && now > d) {
            shutdown(t->fd, SHUT_RDWR);
            __atomic_store_n(&t->deadline_ms, 0, __ATOMIC_RELAXED);
            g->cut++;
        }
    }
    time_t wall = time(NULL);
    if (g->cut != g->cut_logged && wall - g->logged_at >= LOG_EVERY_S) {
        char n[24], s[24];
        snprintf(n, sizeof n, "%llu", (unsigned long long)(g->cut - g->cut_logged));
        snprintf(s, sizeof s, "%d", ALD_HTTP_HEADER_DEADLINE_S);
        ald_log(ALD_LOG_WARN, "HTTP connections closed: headers not in within the deadline",
                "count", n, "deadline_s", s, NULL);
        g->cut_logged = g->cut;
        g->logged_at = wall;
    }
}

static void *run(void *arg)
{
    struct http_guard *g = arg;
    pthread_mutex_lock(&g->lock);
    while (!g->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += SWEEP_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g->wake, &g->lock, &ts);
        sweep(g);
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

struct http_guard *http_guard_start(void)
{
    struct http_guard *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->wake, NULL);
    if (pthread_create(&g->thread, NULL, run, g) != 0) {
        pthread_mutex_destroy(&g->lock);
        pthread_cond_destroy(&g->wake);
        free(g);
        return NULL;
    }
    return g;
}

void http_guard_stop(struct http_guard *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->lock);
    g->stop = true;
    pthread_cond_signal(&g->wake);
    pthread_mutex_unlock(&g->lock);
    pthread_join(g->thread, NULL);
    while (g->conns) { /* none after the daemon stopped; freed anyway */
        struct tracked *t = g->conns;
        g->conns = t->next;
        free(t);
    }
    pthread_mutex_destroy(&g->lock);
    pthread_cond_destroy(&g->wake);
    free(g);
}

void http_guard_on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                              enum MHD_ConnectionNotificationCode toe)
{
    struct http_guard *g = cls;
    struct tracked *t = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *fd = MHD_get_connection_info(c,
                                                  MHD_CONNECTION_INFO_CONNECTION_FD);
        t = fd ? calloc(1, sizeof *t) : NULL;
        if (!t)
            return; /* untracked: only the inactivity timeout applies */
        t->fd = fd->connect_fd;
        t->deadline_ms = mono_ms() + ALD_HTTP_HEADER_DEADLINE_S * 1000;
        pthread_mutex_lock(&g->lock);
        t->next = g->conns;
        t->prev = &g->conns;
        if (g->conns)
            g->conns->prev = &t->next;
        g->conns = t;
        pthread_mutex_unlock(&g->lock);
        *socket_context = t;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && t) {
        pthread_mutex_lock(&g->lock);
        *t->prev = t->next;
        if (t->next)
            t->next->prev = t->prev;
        pthread_mutex_unlock(&g->lock);
        free(t);
        *socket_context = NULL;
    }
}

/* Set connection c's header deadline (0: none), if it is tracked. */
static void set_deadline(struct MHD_Connection *c, int64_t deadline_ms)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c,
                                              MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct tracked *t = ci ? ci->socket_context : NULL;
    /* One word, written by the connection's thread, read by the sweep: atomic. */
    if (t)
        __atomic_store_n(&t->deadline_ms, deadline_ms, __ATOMIC_RELAXED);
}

void http_guard_headers_done(struct MHD_Connection *c)
{
    set_deadline(c, 0);
}

void http_guard_reply_done(struct MHD_Connection *c)
{
    set_deadline(c, mono_ms() + ALD_HTTP_HEADER_DEADLINE_S * 1000);
}

bool http_guard_path_refused(const char *uri)
{
    size_t path = strcspn(uri, "?");
    for (size_t i = 0; i + 2 < path; i++) {
        bool slash = uri[i + 1] == '2' && (uri[i + 2] == 'f' || uri[i + 2] == 'F');
        bool nul = uri[i + 1] == '0' && uri[i + 2] == '0';
        if (uri[i] == '%' && (slash || nul))
            return true;
    }
    return false;
}

struct header_count {
    unsigned content_length, transfer_encoding;
};

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    struct header_count *n = cls;
    (void)kind;
    (void)value;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
        n->content_length++;
    else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0)
        n->transfer_encoding++;
    return MHD_YES;
}

const char *http_guard_ambiguous(struct MHD_Connection *c)
{
    struct header_count n = {0, 0};
    MHD_get_connection_values(c, MHD_HEADER_KIND, count_header, &n);
    if (n.content_length > 1)
        return "more than one Content-Length header";
    if (n.content_length && n.transfer_encoding)
        return "both Content-Length and Transfer-Encoding";
    return NULL;
}
