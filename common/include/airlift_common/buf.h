/*
 * airlift_common/buf.h - a growable byte buffer with a hard cap, for anything whose size
 * the other side decides (HTTP bodies and replies, event streams, files).
 *
 *     struct alc_buf b;
 *     alc_buf_init(&b, 64 * 1024);
 *     if (alc_buf_append(&b, data, n) != ALC_BUF_OK) ...   // too large, or out of memory
 *     use(b.data, b.len);                                  // b.data[b.len] is '\0'
 *     alc_buf_free(&b);
 */
#ifndef AIRLIFT_COMMON_BUF_H
#define AIRLIFT_COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct alc_buf {
    uint8_t *data; /* NULL until the first append or reserve; then NUL-terminated at data[len] */
    size_t len;    /* bytes held, without that NUL */
    size_t cap;    /* bytes allocated, with room for the NUL */
    size_t max;    /* len never exceeds this */
};

enum alc_buf_rc {
    ALC_BUF_OK = 0,
    ALC_BUF_FULL = -1,  /* the append would pass max; nothing was appended */
    ALC_BUF_NOMEM = -2, /* out of memory; nothing was appended */
};

/* An empty buffer that holds at most max bytes. Allocates nothing. */
void alc_buf_init(struct alc_buf *b, size_t max);

/*
 * Room for len + n bytes (and the NUL) without another allocation, within max: grows the
 * allocation by doubling, never past max + 1. ALC_BUF_OK, ALC_BUF_FULL or ALC_BUF_NOMEM.
 */
enum alc_buf_rc alc_buf_reserve(struct alc_buf *b, size_t n);

/* Append n bytes of p (p may be NULL if n is 0): all of them, or none and an error. */
enum alc_buf_rc alc_buf_append(struct alc_buf *b, const void *p, size_t n);

/* Append the text printf(fmt, ...) makes, without its NUL: all of it, or none. */
enum alc_buf_rc alc_buf_printf(struct alc_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
enum alc_buf_rc alc_buf_vprintf(struct alc_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Drop the first n bytes (at most len), keeping the rest and the allocation. */
void alc_buf_consume(struct alc_buf *b, size_t n);

/* Empty it, keeping the allocation and max. */
void alc_buf_clear(struct alc_buf *b);

/*
 * Hand over the bytes: returns data (malloc'ed, NUL-terminated; NULL if nothing was ever
 * appended or reserved) and *len if len is not NULL; the buffer is left empty, as after
 * alc_buf_init().
 */
uint8_t *alc_buf_take(struct alc_buf *b, size_t *len);

/* Release the allocation; the buffer is left empty and may be used again. */
void alc_buf_free(struct alc_buf *b);

#endif
