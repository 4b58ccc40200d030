/*
 * util.c - see util.h.
 */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

static const char hex_digits[] = "0123456789abcdef";

void ald_hex_encode(const uint8_t *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex_digits[in[i] >> 4];
        out[2 * i + 1] = hex_digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool ald_hex_decode(const char *s, uint8_t *out, size_t n)
{
    if (strlen(s) != 2 * n)
        return false;
    for (size_t i = 0; i < n; i++) {
        int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

bool ald_is_lower_hex(const char *s, size_t len)
{
    size_t i;
    for (i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return s[i] == '\0';
}

bool ald_random(uint8_t *out, size_t n)
{
    return n <= 0x7fffffff && RAND_bytes(out, (int)n) == 1;
}

void ald_sha256(const void *data, size_t len, uint8_t out[32])
{
    unsigned int outlen = 32;
    EVP_Digest(data, len, out, &outlen, EVP_sha256(), NULL);
}

int64_t ald_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ald_format_time(int64_t ms, char *out, size_t cap)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000 + 1000) % 1000);
}

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool ald_name_valid(const char *s)
{
    size_t n = strnlen(s, ALD_NAME_MAX + 1);
    if (n == 0 || n > ALD_NAME_MAX || !is_alnum(s[0]))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
            return false;
    return true;
}

/* fsync the directory holding path, so a rename into it survives a crash. */
static int fsync_parent(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    int fd, rc;
    if (!slash) {
        dir[0] = '.';
        dir[1] = '\0';
    } else {
        size_t n = (size_t)(slash - path);
        if (n == 0)
            n = 1; /* "/file" */
        if (n >= sizeof dir) {
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -1;
    rc = fsync(fd);
    close(fd);
    return rc;
}

int ald_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
    char tmp[4096];
    const uint8_t *p = data;
    int fd = -1, rc = -1, saved;
    bool renamed = false;
    uint8_t rnd[6];
    char rnd_hex[13];

    if (!ald_random(rnd, sizeof rnd)) {
        errno = EIO;
        return -1;
    }
    ald_hex_encode(rnd, sizeof rnd, rnd_hex);
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp-%s", path, rnd_hex) >= sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode);
    if (fd < 0)
        return -1;
    if (fchmod(fd, (mode_t)mode) != 0) /* the umask must not widen or narrow it */
        goto out;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto out;
        p += n;
        len -= (size_t)n;
    }
    if (fsync(fd) != 0)
        goto out;
    if (close(fd) != 0) {
        fd = -1;
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto out;
    renamed = true;
    rc = fsync_parent(path);
out:
    saved = errno;
    if (fd >= 0)
        close(fd);
    if (!renamed)
        unlink(tmp);
    errno = saved;
    return rc;
}

uint8_t *ald_read_file(const char *path, size_t max, size_t *len)
{
    struct stat sb;
    uint8_t *buf = NULL;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &sb) != 0 || sb.st_size <= 0 || (uint64_t)sb.st_size > max)
        goto out;
    buf = malloc((size_t)sb.st_size);
    while (buf && got < (size_t)sb.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);
        if (n <= 0) {
            free(buf);
            buf = NULL;
            break;
        }
        got += (size_t)n;
    }
    *len = got;
out:
    if (fd >= 0)
        close(fd);
    return buf;
}
