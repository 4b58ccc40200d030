/*
 * workers.c - see workers.h.
 */
#include "workers.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FAILED_KEPT 32 /* failed keys remembered */

struct failed {
    char key[ALD_WORK_KEY_MAX + 1];
    int64_t at_ms; /* monotonic; 0: empty */
};

struct ald_workers {
    pthread_mutex_t lock;
    pthread_cond_t work;  /* a job was queued, or the pool stops */
    pthread_cond_t done;  /* a job finished */
    ald_work_fn fn;
    void *ctx;
    bool stopping;
    size_t cap, count;               /* the queue: count keys, oldest first */
    char (*queue)[ALD_WORK_KEY_MAX + 1];
    unsigned threads, started;
    pthread_t *tids;
    char (*running)[ALD_WORK_KEY_MAX + 1]; /* per thread: its job's key, "" when idle */
    struct failed failed[FAILED_KEPT];
    size_t failed_next;
    const char *hold; /* AIRLIFTD_TEST_HOLD, or NULL */
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

unsigned ald_workers_default_count(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores >= 2 ? 2u : 1u;
}

/* Do keys a and b name jobs of one group (the same text before the first '.')? */
static bool same_group(const char *a, const char *b)
{
    size_t na = strcspn(a, "."), nb = strcspn(b, ".");
    return na == nb && !memcmp(a, b, na);
}

/* The oldest queued job whose group no thread runs now, or -1. Called with w->lock held. */
static long runnable(const struct ald_workers *w)
{
    for (size_t i = 0; i < w->count; i++) {
        bool busy = false;
        for (unsigned t = 0; t < w->threads && !busy; t++)
            busy = w->running[t][0] && same_group(w->running[t], w->queue[i]);
        if (!busy)
            return (long)i;
    }
    return -1;
}

/*
 * Tests only (docs/airliftd.md, "Test hooks"): while the file AIRLIFTD_TEST_HOLD names
 * exists, a job whose key starts with the file's first line (every job, the line empty)
 * waits to run, counting as running. A test can so hold a slow encoding for as long as it
 * needs, whatever the machine's speed. Called without w->lock.
 */
static void hold_job(struct ald_workers *w, const char *key)
{
    for (;;) {
        char prefix[ALD_WORK_KEY_MAX + 2] = "";
        FILE *f = fopen(w->hold, "r");
        if (!f)
            return;
        if (!fgets(prefix, sizeof prefix, f))
            prefix[0] = '\0';
        fclose(f);
        prefix[strcspn(prefix, "\r\n")] = '\0';
        pthread_mutex_lock(&w->lock);
        bool stopping = w->stopping;
        pthread_mutex_unlock(&w->lock);
        if (stopping || strncmp(key, prefix, strlen(prefix)))
            return;
        nanosleep(&(struct timespec){.tv_nsec = 20000000L}, NULL);
    }
}

struct thread_arg {
    struct ald_workers *w;
    unsigned slot;
};

static void *worker_main(void *p)
{
    struct thread_arg a = *(struct thread_arg *)p;
    struct ald_workers *w = a.w;
    char key[ALD_WORK_KEY_MAX + 1];
    free(p);
    pthread_mutex_lock(&w->lock);
    for (;;) {
        long i;
        while (!w->stopping && (i = runnable(w)) < 0)
            pthread_cond_wait(&w->work, &w->lock);
        if (w->stopping)
            break;
        memcpy(key, w->queue[i], sizeof key);
        memmove(w->queue[i], w->queue[i + 1], (w->count - (size_t)i - 1) * sizeof w->queue[0]);
        w->count--;
        memcpy(w->running[a.slot], key, sizeof key);
        pthread_mutex_unlock(&w->lock);
        if (w->hold)
            hold_job(w, key);
        bool ok = w->fn(w->ctx, key);
        pthread_mutex_lock(&w->lock);
        w->running[a.slot][0] = '\0';
        if (!ok) {
            struct failed *f = &w->failed[w->failed_next];
            w->failed_next = (w->failed_next + 1) % FAILED_KEPT;
            memcpy(f->key, key, sizeof f->key);
            f->at_ms = mono_ms();
        }
        pthread_cond_broadcast(&w->done);
        pthread_cond_broadcast(&w->work); /* a job of its group may run now */
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int ald_workers_open(struct ald_workers **out, unsigned threads, size_t queue_cap,
                     ald_work_fn fn, void *ctx)
{
    struct ald_workers *w = NULL;
    pthread_condattr_t ca;
    *out = NULL;
    if (threads < 1 || threads > ALD_WORKERS_MAX || queue_cap < 1 || !fn ||
        !(w = calloc(1, sizeof *w)))
        return -1;
    w->fn = fn;
    w->ctx = ctx;
    w->cap = queue_cap;
    w->threads = threads;
    w->hold = getenv("AIRLIFTD_TEST_HOLD");
    if (w->hold && !*w->hold)
        w->hold = NULL;
    w->queue = calloc(queue_cap, sizeof *w->queue);
    w->running = calloc(threads, sizeof *w->running);
    w->tids = calloc(threads, sizeof *w->tids);
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->work, NULL);
    pthread_cond_init(&w->done, &ca);
    pthread_condattr_destroy(&ca);
    if (!w->queue || !w->running || !w->tids)
        goto fail;
    for (unsigned i = 0; i < threads; i++) {
        struct thread_arg *a = malloc(sizeof *a);
        if (!a)
            goto fail;
        a->w = w;
        a->slot = i;
        if (pthread_create(&w->tids[i], NULL, worker_main, a) != 0) {
            free(a);
            goto fail;
        }
        w->started++;
    }
    *out = w;
    return 0;
fail:
    ald_workers_close(w);
    return -1;
}

void ald_workers_close(struct ald_workers *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    w->count = 0;
    pthread_cond_broadcast(&w->work);
    pthread_mutex_unlock(&w->lock);
    for (unsigned i = 0; i < w->started; i++)
        pthread_join(w->tids[i], NULL);
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->done);
    pthread_mutex_destroy(&w->lock);
    free(w->queue);
    free(w->running);
    free(w->tids);
    free(w);
}

/* Called with w->lock held. */
static bool pending_locked(const struct ald_workers *w, const char *key)
{
    for (unsigned i = 0; i < w->threads; i++)
        if (!strcmp(w->running[i], key))
            return true;
    for (size_t i = 0; i < w->count; i++)
        if (!strcmp(w->queue[i], key))
            return true;
    return false;
}

enum ald_work_rc ald_workers_submit(struct ald_workers *w, const char *key)
{
    enum ald_work_rc rc;
    size_t n = strlen(key);
    if (!n || n > ALD_WORK_KEY_MAX)
        return ALD_WORK_FAILED;
    pthread_mutex_lock(&w->lock);
    int64_t now = mono_ms();
    rc = ALD_WORK_QUEUED;
    for (size_t i = 0; i < FAILED_KEPT; i++)
        if (w->failed[i].at_ms && now - w->failed[i].at_ms < ALD_WORK_FAIL_MS &&
            !strcmp(w->failed[i].key, key))
            rc = ALD_WORK_FAILED;
    if (rc != ALD_WORK_QUEUED) {
        /* remembered failure */
    } else if (pending_locked(w, key)) {
        rc = ALD_WORK_RUNNING;
    } else if (w->stopping || w->count == w->cap) {
        rc = ALD_WORK_BUSY;
    } else {
        memcpy(w->queue[w->count], key, n + 1);
        w->count++;
        pthread_cond_broadcast(&w->work); /* the thread woken must be free to run it */
    }
    pthread_mutex_unlock(&w->lock);
    return rc;
}

bool ald_workers_pending(struct ald_workers *w, const char *key)
{
    pthread_mutex_lock(&w->lock);
    bool p = pending_locked(w, key);
    pthread_mutex_unlock(&w->lock);
    return p;
}

bool ald_workers_wait(struct ald_workers *w, unsigned timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->lock);
    int rc = pthread_cond_timedwait(&w->done, &w->lock, &ts);
    pthread_mutex_unlock(&w->lock);
    return rc == 0;
}

void ald_workers_load(struct ald_workers *w, size_t *queued, size_t *running)
{
    size_t r = 0;
    pthread_mutex_lock(&w->lock);
    for (unsigned i = 0; i < w->threads; i++)
        r += w->running[i][0] != '\0';
    *queued = w->count;
    *running = r;
    pthread_mutex_unlock(&w->lock);
}
