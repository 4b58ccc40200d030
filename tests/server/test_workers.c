/*
 * test_workers.c - airliftd's worker pool (server/core/workers.h) and the blob directory
 * (server/core/blobs.h): a job asked for twice while it is made runs once, a full queue says
 * so at once, a failed job is remembered, jobs of one group run one at a time while other
 * groups go on; blobs are put, read, listed and removed by key, and bad keys are refused.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "blobs.h"
#include "workers.h"

/* Jobs block until released, and record what they ran. */
struct jobs {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool released;
    char ran[16][ALD_WORK_KEY_MAX + 1];
    unsigned count;
    unsigned running;
};

static bool job(void *ctx, const char *key)
{
    struct jobs *j = ctx;
    pthread_mutex_lock(&j->lock);
    if (j->count < 16)
        snprintf(j->ran[j->count], sizeof j->ran[0], "%s", key);
    j->count++;
    j->running++;
    pthread_cond_broadcast(&j->cond);
    while (!j->released)
        pthread_cond_wait(&j->cond, &j->lock);
    j->running--;
    pthread_mutex_unlock(&j->lock);
    return strncmp(key, "bad", 3) != 0;
}

static void jobs_init(struct jobs *j)
{
    memset(j, 0, sizeof *j);
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->cond, NULL);
}

/* Wait (at most 10 s) until `count` jobs have started. */
static void wait_started(struct jobs *j, unsigned count)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    pthread_mutex_lock(&j->lock);
    while (j->count < count && pthread_cond_timedwait(&j->cond, &j->lock, &ts) == 0)
        ;
    unsigned got = j->count;
    pthread_mutex_unlock(&j->lock);
    assert_true(got >= count);
}

static void release(struct jobs *j)
{
    pthread_mutex_lock(&j->lock);
    j->released = true;
    pthread_cond_broadcast(&j->cond);
    pthread_mutex_unlock(&j->lock);
}

/* Until no job is queued or running (at most 10 s). */
static void wait_idle(struct ald_workers *w)
{
    for (int i = 0; i < 1000; i++) {
        size_t q, r;
        ald_workers_load(w, &q, &r);
        if (!q && !r)
            return;
        (void)ald_workers_wait(w, 10);
    }
    fail_msg("the pool never went idle");
}

static void test_once_and_bounded(void **state)
{
    (void)state;
    struct jobs j;
    struct ald_workers *w;
    jobs_init(&j);
    assert_int_equal(ald_workers_open(&w, 1, 2, job, &j), 0);
    assert_int_equal(ald_workers_submit(w, "a"), ALD_WORK_QUEUED);
    wait_started(&j, 1);
    assert_true(ald_workers_pending(w, "a"));
    assert_int_equal(ald_workers_submit(w, "a"), ALD_WORK_RUNNING); /* running: not again */
    assert_int_equal(ald_workers_submit(w, "b"), ALD_WORK_QUEUED);
    assert_int_equal(ald_workers_submit(w, "b"), ALD_WORK_RUNNING); /* queued: not again */
    assert_int_equal(ald_workers_submit(w, "c"), ALD_WORK_QUEUED);
    assert_int_equal(ald_workers_submit(w, "d"), ALD_WORK_BUSY);    /* the queue holds 2 */
    size_t q, r;
    ald_workers_load(w, &q, &r);
    assert_int_equal(q, 2);
    assert_int_equal(r, 1);
    release(&j);
    wait_idle(w);
    assert_int_equal(j.count, 3);
    assert_string_equal(j.ran[0], "a");
    assert_string_equal(j.ran[1], "b");
    assert_string_equal(j.ran[2], "c");
    assert_false(ald_workers_pending(w, "a"));
    assert_int_equal(ald_workers_submit(w, "a"), ALD_WORK_QUEUED); /* done: may run again */
    wait_idle(w);
    ald_workers_close(w);
}

static void test_failure_remembered(void **state)
{
    (void)state;
    struct jobs j;
    struct ald_workers *w;
    char longkey[ALD_WORK_KEY_MAX + 2];
    jobs_init(&j);
    release(&j);
    assert_int_equal(ald_workers_open(&w, 2, 4, job, &j), 0);
    assert_int_equal(ald_workers_submit(w, "bad.1"), ALD_WORK_QUEUED);
    wait_started(&j, 1);
    wait_idle(w);
    assert_int_equal(ald_workers_submit(w, "bad.1"), ALD_WORK_FAILED);
    assert_int_equal(ald_workers_submit(w, "good"), ALD_WORK_QUEUED);
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    assert_int_equal(ald_workers_submit(w, longkey), ALD_WORK_FAILED);
    assert_int_equal(ald_workers_submit(w, ""), ALD_WORK_FAILED);
    wait_idle(w);
    ald_workers_close(w);
    assert_int_equal(ald_workers_open(&w, 0, 4, job, &j), -1);
    assert_int_equal(ald_workers_open(&w, ALD_WORKERS_MAX + 1, 4, job, &j), -1);
    assert_int_equal(ald_workers_open(&w, 1, 0, job, &j), -1);
    assert_true(ald_workers_default_count() >= 1 && ald_workers_default_count() <= 2);
}

static void test_groups(void **state)
{
    (void)state;
    struct jobs j;
    struct ald_workers *w;
    jobs_init(&j);
    assert_int_equal(ald_workers_open(&w, 2, 8, job, &j), 0);
    /* Two jobs of image "big" (its patch and its compressed copy), then another image's. */
    assert_int_equal(ald_workers_submit(w, "big.base"), ALD_WORK_QUEUED);
    wait_started(&j, 1);
    assert_int_equal(ald_workers_submit(w, "big.z"), ALD_WORK_QUEUED);
    assert_int_equal(ald_workers_submit(w, "small.base"), ALD_WORK_QUEUED);
    wait_started(&j, 2); /* the second thread took "small", not big's other job */
    pthread_mutex_lock(&j.lock);
    assert_string_equal(j.ran[1], "small.base");
    assert_int_equal(j.running, 2);
    pthread_mutex_unlock(&j.lock);
    assert_true(ald_workers_pending(w, "big.z"));
    release(&j);
    wait_idle(w);
    assert_int_equal(j.count, 3);
    assert_string_equal(j.ran[2], "big.z");
    ald_workers_close(w);
}

static void test_close_with_queue(void **state)
{
    (void)state;
    struct jobs j;
    struct ald_workers *w;
    jobs_init(&j);
    assert_int_equal(ald_workers_open(&w, 1, 4, job, &j), 0);
    assert_int_equal(ald_workers_submit(w, "a"), ALD_WORK_QUEUED);
    assert_int_equal(ald_workers_submit(w, "b"), ALD_WORK_QUEUED);
    wait_started(&j, 1);
    release(&j); /* "a" finishes; "b" is dropped or runs, either way close returns */
    ald_workers_close(w);
    assert_true(j.count >= 1);
    ald_workers_close(NULL);
}

static void test_blobs(void **state)
{
    (void)state;
    char dir[] = "/tmp/airlift-blobs-XXXXXX", path[512];
    const char *key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    char tkey[200];
    uint8_t buf[8];
    uint64_t size = 0;
    size_t len = 0;
    assert_non_null(mkdtemp(dir));
    assert_false(ald_blob_exists(dir, ALD_BLOB_IMAGE, key, &size));
    assert_null(ald_blob_get(dir, ALD_BLOB_IMAGE, key, 100, &len));
    assert_int_equal(ald_blob_read(dir, ALD_BLOB_IMAGE, key, 0, buf, sizeof buf), -1);
    assert_int_equal(ald_blob_put(dir, ALD_BLOB_IMAGE, key, "hello world", 11, 0644), 0);
    assert_true(ald_blob_exists(dir, ALD_BLOB_IMAGE, key, &size));
    assert_int_equal(size, 11);
    assert_false(ald_blob_exists(dir, ALD_BLOB_TRANSFER, key, NULL)); /* kinds are apart */
    uint8_t *got = ald_blob_get(dir, ALD_BLOB_IMAGE, key, 100, &len);
    assert_non_null(got);
    assert_int_equal(len, 11);
    assert_memory_equal(got, "hello world", 11);
    free(got);
    assert_null(ald_blob_get(dir, ALD_BLOB_IMAGE, key, 10, &len)); /* larger than max */
    assert_int_equal(ald_blob_read(dir, ALD_BLOB_IMAGE, key, 6, buf, sizeof buf), 5);
    assert_memory_equal(buf, "world", 5);
    assert_int_equal(ald_blob_read(dir, ALD_BLOB_IMAGE, key, 11, buf, sizeof buf), 0);
    assert_true(ald_blob_path(dir, ALD_BLOB_IMAGE, key, path, sizeof path));
    assert_true(strstr(path, "/images/") && strstr(path, ".alim"));
    snprintf(tkey, sizeof tkey, "%s.z", key);
    assert_int_equal(ald_blob_put(dir, ALD_BLOB_TRANSFER, tkey, "zz", 2, 0600), 0);
    assert_true(ald_blob_exists(dir, ALD_BLOB_TRANSFER, tkey, &size));
    assert_int_equal(size, 2);
    assert_int_equal(ald_blob_delete(dir, ALD_BLOB_TRANSFER, tkey), 0);
    assert_false(ald_blob_exists(dir, ALD_BLOB_TRANSFER, tkey, NULL));
    assert_int_equal(ald_blob_delete(dir, ALD_BLOB_TRANSFER, tkey), 0); /* absent: fine */
    /* Keys that could leave the directory or are not content names are refused. */
    const char *bad[] = {"", "../x", ".hidden", "ABC", "a/b", "xyz"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(ald_blob_key_ok(bad[i]));
        assert_int_equal(ald_blob_put(dir, ALD_BLOB_IMAGE, bad[i], "x", 1, 0644), -1);
        assert_false(ald_blob_exists(dir, ALD_BLOB_IMAGE, bad[i], NULL));
    }
    assert_int_equal(ald_blob_delete(dir, ALD_BLOB_IMAGE, key), 0);
    snprintf(path, sizeof path, "%s/images", dir);
    assert_int_equal(rmdir(path), 0); /* nothing left behind, no temporary files */
    snprintf(path, sizeof path, "%s/transfers", dir);
    assert_int_equal(rmdir(path), 0);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_once_and_bounded),
        cmocka_unit_test(test_failure_remembered),
        cmocka_unit_test(test_groups),
        cmocka_unit_test(test_close_with_queue),
        cmocka_unit_test(test_blobs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
