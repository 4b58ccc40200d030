/*
 * test_atomic_file.c - alc_write_file_atomic(): the content is complete or the old file is
 * untouched. rename(), fsync() and write() are wrapped (-Wl,--wrap, tests/common/
 * CMakeLists.txt) so that a test can make one of them fail, or look at the disk at the
 * moment between the write and the rename.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "airlift_common/atomic_file.h"

int __real_rename(const char *from, const char *to);
int __real_fsync(int fd);
ssize_t __real_write(int fd, const void *buf, size_t n);
int __wrap_rename(const char *from, const char *to);
int __wrap_fsync(int fd);
ssize_t __wrap_write(int fd, const void *buf, size_t n);

static struct {
    int fail_rename;      /* errno to fail rename() with, 0: do not */
    int fail_fsync_call;  /* fail the Nth fsync() (1 = the file's, 2 = the directory's) */
    int fsync_calls;
    int fail_write_after; /* >= 0: write() accepts this many bytes in all, then ENOSPC */
    size_t written;
    char seen_tmp[4096];  /* what rename() was asked to move */
    char target[4096];    /* the path the test writes */
    char old_at_rename[64]; /* the target's content at the moment of the rename */
    char tmp_at_rename[64]; /* the temporary file's content then */
} hook;

/* The whole of a small file as text; "" if it cannot be read. */
static void slurp(const char *path, char *out, size_t cap)
{
    int fd = open(path, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, out, cap - 1) : -1;
    out[n > 0 ? n : 0] = '\0';
    if (fd >= 0)
        close(fd);
}

int __wrap_rename(const char *from, const char *to)
{
    snprintf(hook.seen_tmp, sizeof hook.seen_tmp, "%s", from);
    slurp(to, hook.old_at_rename, sizeof hook.old_at_rename);
    slurp(from, hook.tmp_at_rename, sizeof hook.tmp_at_rename);
    if (hook.fail_rename) {
        errno = hook.fail_rename;
        return -1;
    }
    return __real_rename(from, to);
}

int __wrap_fsync(int fd)
{
    if (++hook.fsync_calls == hook.fail_fsync_call) {
        errno = EIO;
        return -1;
    }
    return __real_fsync(fd);
}

ssize_t __wrap_write(int fd, const void *buf, size_t n)
{
    if (hook.fail_write_after >= 0) {
        size_t left = (size_t)hook.fail_write_after - hook.written;
        if (left == 0) {
            errno = ENOSPC;
            return -1;
        }
        if (n > left)
            n = left; /* a short write first, as a filling disk does */
    }
    ssize_t got = __real_write(fd, buf, n);
    if (got > 0)
        hook.written += (size_t)got;
    return got;
}

static char dir[] = "/tmp/airlift-atomic-XXXXXX";

/* How many entries the test directory holds, besides . and .. */
static int entries(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    assert_non_null(d);
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static int setup(void **state)
{
    (void)state;
    memset(&hook, 0, sizeof hook);
    hook.fail_write_after = -1;
    snprintf(dir, sizeof dir, "/tmp/airlift-atomic-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(hook.target, sizeof hook.target, "%s/file", dir);
    return 0;
}

static int teardown(void **state)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[4200];
    (void)state;
    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    if (d)
        closedir(d);
    return rmdir(dir);
}

static void write_old(void)
{
    assert_int_equal(alc_write_file_atomic(hook.target, "old content", 11), 0);
    hook.fsync_calls = 0;
    hook.seen_tmp[0] = '\0';
}

static void assert_content(const char *want)
{
    char got[64];
    slurp(hook.target, got, sizeof got);
    assert_string_equal(got, want);
}

static void test_new_file(void **state)
{
    struct stat st;
    mode_t mask = umask(077); /* the umask does not change the mode */
    (void)state;
    assert_int_equal(alc_write_file_atomic(hook.target, "hello", 5), 0);
    umask(mask);
    assert_content("hello");
    assert_int_equal(stat(hook.target, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    assert_int_equal(hook.fsync_calls, 2); /* the file, then its directory */
    assert_int_equal(entries(), 1);
}

static void test_mode_and_replace(void **state)
{
    struct stat st;
    (void)state;
    write_old();
    assert_int_equal(alc_write_file_atomic_mode(hook.target, "secret", 6, 0600), 0);
    assert_content("secret");
    assert_int_equal(stat(hook.target, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(entries(), 1);
    assert_int_equal(alc_write_file_atomic(hook.target, NULL, 0), 0); /* empty is content */
    assert_content("");
}

/* The moment between the write and the rename: the new bytes are complete in a temporary
 * file beside the target, which still holds the old ones. A crash here loses nothing. */
static void test_crash_before_rename(void **state)
{
    (void)state;
    write_old();
    hook.fail_rename = EIO;
    assert_int_equal(alc_write_file_atomic(hook.target, "new content", 11), -1);
    assert_int_equal(errno, EIO);
    assert_string_equal(hook.old_at_rename, "old content");
    assert_string_equal(hook.tmp_at_rename, "new content"); /* written in full, fsynced */
    assert_int_equal(hook.fsync_calls, 1);
    assert_int_equal(strncmp(hook.seen_tmp, hook.target, strlen(hook.target)), 0);
    assert_non_null(strstr(hook.seen_tmp + strlen(hook.target), ".tmp."));
    assert_content("old content");
    assert_int_equal(entries(), 1); /* the temporary file is gone */
}

/* Replace "old content" with "new content" while the Nth fsync fails; want: what is left.
 * Either way the call fails with the fsync's EIO and no temporary file stays. */
static void write_failing_fsync(int call, const char *want)
{
    write_old();
    hook.fail_fsync_call = call;
    assert_int_equal(alc_write_file_atomic(hook.target, "new content", 11), -1);
    assert_int_equal(errno, EIO);
    assert_content(want);
    assert_int_equal(entries(), 1);
}

/* The file's fsync fails: it is never renamed, the old content stays. */
static void test_fsync_fails(void **state)
{
    (void)state;
    write_failing_fsync(1, "old content");
    assert_string_equal(hook.seen_tmp, "");
}

static void test_disk_full(void **state)
{
    (void)state;
    write_old();
    hook.written = 0;
    hook.fail_write_after = 4; /* 4 of 11 bytes, then ENOSPC */
    assert_int_equal(alc_write_file_atomic(hook.target, "new content", 11), -1);
    assert_int_equal(errno, ENOSPC);
    assert_int_equal(hook.written, 4);
    assert_content("old content");
    assert_int_equal(entries(), 1);
}

/* Only the directory's fsync fails: the rename happened, the caller hears of the risk. */
static void test_directory_fsync_fails(void **state)
{
    (void)state;
    write_failing_fsync(2, "new content");
}

static void test_bad_paths(void **state)
{
    char path[4200];
    (void)state;
    snprintf(path, sizeof path, "%s/missing/file", dir);
    assert_int_equal(alc_write_file_atomic(path, "x", 1), -1);
    assert_int_equal(errno, ENOENT);
    snprintf(path, sizeof path, "%s/", dir);
    assert_int_equal(alc_write_file_atomic(path, "x", 1), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(alc_write_file_atomic("", "x", 1), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(alc_write_file_atomic_mode(hook.target, "x", 1, 010000), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(entries(), 0);
}

/* A path without a directory part: the temporary file and the fsync are in ".". */
static void test_relative_path(void **state)
{
    char cwd[4096];
    (void)state;
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir), 0);
    assert_int_equal(alc_write_file_atomic("file", "here", 4), 0);
    assert_int_equal(chdir(cwd), 0);
    assert_content("here");
    assert_int_equal(hook.fsync_calls, 2);
}

int main(void)
{
#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown) /* a fresh directory */
    const struct CMUnitTest tests[] = {
        TEST(test_new_file),    TEST(test_mode_and_replace),      TEST(test_crash_before_rename),
        TEST(test_fsync_fails), TEST(test_directory_fsync_fails), TEST(test_disk_full),
        TEST(test_bad_paths),   TEST(test_relative_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
