/*
 * atomic_file.c - see airlift_common/atomic_file.h.
 */
#include "airlift_common/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TMP_SUFFIX ".tmp.XXXXXX"

/* fsync the directory holding path. */
static int fsync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = NULL;
    int fd = -1, rc = -1, saved;

    if (!slash) {
        dir = strdup(".");
    } else {
        size_t n = slash == path ? 1 : (size_t)(slash - path); /* "/file": the root */
        if ((dir = malloc(n + 1))) {
            memcpy(dir, path, n);
            dir[n] = '\0';
        }
    }
    if (!dir) {
        errno = ENOMEM;
        return -1;
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0)
        rc = fsync(fd);
    /* Some file systems cannot fsync a directory (EINVAL); there is nothing more to do. */
    if (rc != 0 && fd >= 0 && errno == EINVAL)
        rc = 0;
    saved = errno;
    if (fd >= 0)
        close(fd);
    free(dir);
    errno = saved;
    return rc;
}

int alc_write_file_atomic_mode(const char *path, const void *data, size_t len, unsigned mode)
{
    const uint8_t *p = data;
    size_t plen = strlen(path);
    char *tmp = NULL;
    bool renamed = false;
    int fd = -1, rc = -1, saved;

    if (plen == 0 || path[plen - 1] == '/' || (mode & ~07777u)) {
        errno = EINVAL;
        return -1;
    }
    if (!(tmp = malloc(plen + sizeof TMP_SUFFIX))) {
        errno = ENOMEM;
        return -1;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, TMP_SUFFIX, sizeof TMP_SUFFIX);
    fd = mkstemp(tmp); /* 0600, O_EXCL: nobody else opens it */
    if (fd < 0) {
        tmp[0] = '\0';
        goto out;
    }
    /* Not inherited by a program another thread starts meanwhile. */
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 || fchmod(fd, (mode_t)mode) != 0)
        goto out;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto out;
        if (n == 0) {
            errno = EIO;
            goto out;
        }
        p += n;
        len -= (size_t)n;
    }
    if (fsync(fd) != 0)
        goto out;
    rc = close(fd);
    fd = -1;
    if (rc != 0)
        goto out;
    rc = -1;
    if (rename(tmp, path) != 0)
        goto out;
    renamed = true;
    rc = fsync_parent(path);
out:
    saved = errno;
    if (fd >= 0)
        close(fd);
    if (!renamed && tmp[0])
        unlink(tmp);
    free(tmp);
    errno = saved;
    return rc;
}

int alc_write_file_atomic(const char *path, const void *data, size_t len)
{
    return alc_write_file_atomic_mode(path, data, len, ALC_FILE_MODE);
}
