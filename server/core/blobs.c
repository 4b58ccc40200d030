/*
 * blobs.c - see blobs.h: blobs as files in the data directory.
 */
#include "blobs.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

static const char *const kind_dir[] = {"images", "transfers"};
static const char *const kind_ext[] = {".alim", ".ald"};

bool ald_blob_key_ok(const char *key)
{
    size_t n = 0;
    if (!key || key[0] == '.' || !key[0])
        return false;
    for (; key[n]; n++)
        if (n >= ALD_BLOB_KEY_MAX ||
            !((key[n] >= '0' && key[n] <= '9') || (key[n] >= 'a' && key[n] <= 'f') ||
              key[n] == '.' || key[n] == 'z'))
            return false;
    return true;
}

bool ald_blob_path(const char *data_dir, enum ald_blob_kind kind, const char *key, char *out,
                   size_t cap)
{
    if ((kind != ALD_BLOB_IMAGE && kind != ALD_BLOB_TRANSFER) || !ald_blob_key_ok(key))
        return false;
    int n = snprintf(out, cap, "%s/%s/%s%s", data_dir, kind_dir[kind], key, kind_ext[kind]);
    return n > 0 && (size_t)n < cap;
}

int ald_blob_put(const char *data_dir, enum ald_blob_kind kind, const char *key,
                 const void *data, size_t len, unsigned mode)
{
    char path[ALD_PATH_MAX], dir[ALD_PATH_MAX];
    if (!ald_blob_path(data_dir, kind, key, path, sizeof path)) {
        errno = EINVAL;
        return -1;
    }
    snprintf(dir, sizeof dir, "%s/%s", data_dir, kind_dir[kind]); /* fits: path does */
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return -1;
    return alc_write_file_atomic_mode(path, data, len, mode);
}

uint8_t *ald_blob_get(const char *data_dir, enum ald_blob_kind kind, const char *key, size_t max,
                      size_t *len)
{
    char path[ALD_PATH_MAX];
    *len = 0;
    if (!ald_blob_path(data_dir, kind, key, path, sizeof path))
        return NULL;
    return ald_read_file(path, max, len);
}

ssize_t ald_blob_read(const char *data_dir, enum ald_blob_kind kind, const char *key,
                      uint64_t offset, void *buf, size_t cap)
{
    char path[ALD_PATH_MAX];
    ssize_t n = -1;
    if (!ald_blob_path(data_dir, kind, key, path, sizeof path))
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        n = pread(fd, buf, cap, (off_t)offset);
        close(fd);
    }
    return n;
}

bool ald_blob_exists(const char *data_dir, enum ald_blob_kind kind, const char *key,
                     uint64_t *size)
{
    char path[ALD_PATH_MAX];
    struct stat sb;
    if (!ald_blob_path(data_dir, kind, key, path, sizeof path) || stat(path, &sb) != 0 ||
        !S_ISREG(sb.st_mode))
        return false;
    if (size)
        *size = (uint64_t)sb.st_size;
    return true;
}

int ald_blob_delete(const char *data_dir, enum ald_blob_kind kind, const char *key)
{
    char path[ALD_PATH_MAX];
    if (!ald_blob_path(data_dir, kind, key, path, sizeof path)) {
        errno = EINVAL;
        return -1;
    }
    return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

int ald_blob_each(const char *data_dir, enum ald_blob_kind kind,
                  int (*each)(void *ctx, const char *key), void *ctx)
{
    char dir[ALD_PATH_MAX], key[ALD_BLOB_KEY_MAX + 1];
    struct dirent *e;
    DIR *d;
    int n;
    if (kind != ALD_BLOB_IMAGE && kind != ALD_BLOB_TRANSFER)
        return -1;
    n = snprintf(dir, sizeof dir, "%s/%s", data_dir, kind_dir[kind]);
    if (n < 0 || (size_t)n >= sizeof dir)
        return -1;
    if (!(d = opendir(dir)))
        return errno == ENOENT ? 0 : -1;
    size_t ext = strlen(kind_ext[kind]);
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= ext || len - ext > ALD_BLOB_KEY_MAX ||
            strcmp(e->d_name + len - ext, kind_ext[kind]) != 0)
            continue;
        memcpy(key, e->d_name, len - ext);
        key[len - ext] = '\0';
        if (ald_blob_key_ok(key) && each(ctx, key) != 0)
            break;
    }
    closedir(d);
    return 0;
}
