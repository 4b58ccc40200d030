/*
 * airlift_common/atomic_file.h - replace a file so that a crash, a power cut or an error
 * leaves either the complete new content or the old file untouched, never a mix.
 */
#ifndef AIRLIFT_COMMON_ATOMIC_FILE_H
#define AIRLIFT_COMMON_ATOMIC_FILE_H

#include <stddef.h>

/* The mode alc_write_file_atomic() gives a file: rw-r--r--. */
#define ALC_FILE_MODE 0644u

/*
 * Write len bytes of data to path atomically and durably, with mode ALC_FILE_MODE:
 *   1. create a temporary file "<path>.tmp.XXXXXX" in the same directory (mkstemp),
 *   2. write all of data, then fsync it,
 *   3. rename it over path (atomic within one file system),
 *   4. fsync the directory, so the rename itself survives a crash.
 * Returns 0, or -1 with errno set. If any step before the rename fails, path is untouched
 * and the temporary file removed. If only step 4 fails (-1 too), path already holds the new
 * content, which a crash could still undo. path must not end in '/'; data may be NULL when
 * len is 0. Thread-safe; two writers racing on one path leave one of their contents.
 */
int alc_write_file_atomic(const char *path, const void *data, size_t len);

/*
 * The same with the file's permission bits: exactly `mode` (e.g. 0600 for private keys and
 * credentials), whatever the process umask. The temporary file is created 0600 and gets
 * `mode` before any byte is written, so a secret is never readable by others. A mode with
 * bits beyond 07777 is EINVAL.
 */
int alc_write_file_atomic_mode(const char *path, const void *data, size_t len, unsigned mode);

#endif
