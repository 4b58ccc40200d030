/*
 * workers.h - a bounded pool of worker threads for slow jobs (making a patch or a compressed
 * image), so that no request thread (the CoAP endpoint's, an HTTP worker) ever runs one.
 *
 * Jobs are named by a key (for transfers: the transfer key, transfers.h). A job asked for
 * while the same key is queued or running is not queued twice: it is made once. The queue
 * has a fixed capacity; when it is full, ald_workers_submit says so at once (ALD_WORK_BUSY)
 * and the caller falls back, it never blocks. A job that failed is remembered for a while
 * (ALD_WORK_FAIL_MS), so a job that cannot succeed is not run again for every request.
 *
 * Jobs whose keys share the text before the first '.' form a group (for transfers: the
 * image they make a stream of) and run one at a time, oldest first: the patch and the
 * compressed copy of one large image never take every thread, so other images' jobs go on.
 */
#ifndef AIRLIFTD_WORKERS_H
#define AIRLIFTD_WORKERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ALD_WORK_KEY_MAX 240      /* bytes of a job key, terminator excluded (a transfer key fits) */
#define ALD_WORKERS_MAX 64        /* threads at most */
#define ALD_WORK_QUEUE_DEFAULT 64 /* queued jobs at most, by default */
#define ALD_WORK_FAIL_MS 600000   /* a failed job is not tried again for this long */

struct ald_workers;

/* A job: returns true if it did what it was asked. Runs on a worker thread. */
typedef bool (*ald_work_fn)(void *ctx, const char *key);

enum ald_work_rc {
    ALD_WORK_QUEUED = 0,  /* queued now */
    ALD_WORK_RUNNING = 1, /* the same key is already queued or running: nothing added */
    ALD_WORK_BUSY = 2,    /* the queue is full: nothing added, ask again later */
    ALD_WORK_FAILED = 3,  /* this key failed less than ALD_WORK_FAIL_MS ago: not queued */
};

/* The default number of threads: min(2, online cores), at least 1. */
unsigned ald_workers_default_count(void);

/*
 * Start `threads` (1..ALD_WORKERS_MAX) threads sharing one queue of `queue_cap` (>= 1) jobs,
 * each job calling fn(ctx, key). Returns 0, or -1 (bad count, out of memory, no thread).
 */
int ald_workers_open(struct ald_workers **out, unsigned threads, size_t queue_cap,
                     ald_work_fn fn, void *ctx);

/* Stop: queued jobs are dropped, running ones finish, then the threads are joined. NULL ok. */
void ald_workers_close(struct ald_workers *w);

/* Queue job `key` (at most ALD_WORK_KEY_MAX bytes; longer: ALD_WORK_FAILED). Never blocks
 * beyond the pool's own short lock. */
enum ald_work_rc ald_workers_submit(struct ald_workers *w, const char *key);

/* Is job `key` queued or running? */
bool ald_workers_pending(struct ald_workers *w, const char *key);

/* Wait until any job finishes or `timeout_ms` pass. true if a job finished. */
bool ald_workers_wait(struct ald_workers *w, unsigned timeout_ms);

/* Jobs queued (not yet started) and running now. */
void ald_workers_load(struct ald_workers *w, size_t *queued, size_t *running);

#endif
