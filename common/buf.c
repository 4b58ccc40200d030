/*
 * buf.c - see airlift_common/buf.h.
 */
#include "airlift_common/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_CAP 256

void alc_buf_init(struct alc_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max < SIZE_MAX ? max : SIZE_MAX - 1; /* room for the NUL */
}

enum alc_buf_rc alc_buf_reserve(struct alc_buf *b, size_t n)
{
    size_t need, cap;
    uint8_t *grown;

    if (n > b->max - b->len)
        return ALC_BUF_FULL;
    need = b->len + n + 1;
    if (need <= b->cap)
        return ALC_BUF_OK;
    cap = b->cap ? b->cap : FIRST_CAP;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    if (!(grown = realloc(b->data, cap)))
        return ALC_BUF_NOMEM;
    b->data = grown;
    b->cap = cap;
    b->data[b->len] = '\0';
    return ALC_BUF_OK;
}

enum alc_buf_rc alc_buf_append(struct alc_buf *b, const void *p, size_t n)
{
    enum alc_buf_rc rc = alc_buf_reserve(b, n);
    if (rc != ALC_BUF_OK || n == 0)
        return rc;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return ALC_BUF_OK;
}

enum alc_buf_rc alc_buf_vprintf(struct alc_buf *b, const char *fmt, va_list ap)
{
    va_list again;
    enum alc_buf_rc rc;
    int n;

    va_copy(again, ap);
    n = vsnprintf(NULL, 0, fmt, again);
    va_end(again);
    if (n < 0)
        return ALC_BUF_NOMEM; /* vsnprintf fails only for want of memory or a bad format */
    if ((rc = alc_buf_reserve(b, (size_t)n)) != ALC_BUF_OK)
        return rc;
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return ALC_BUF_OK;
}

enum alc_buf_rc alc_buf_printf(struct alc_buf *b, const char *fmt, ...)
{
    va_list ap;
    enum alc_buf_rc rc;
    va_start(ap, fmt);
    rc = alc_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void alc_buf_consume(struct alc_buf *b, size_t n)
{
    if (n > b->len)
        n = b->len;
    if (n == 0)
        return;
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

void alc_buf_clear(struct alc_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

uint8_t *alc_buf_take(struct alc_buf *b, size_t *len)
{
    uint8_t *data = b->data;
    if (len)
        *len = b->len;
    alc_buf_init(b, b->max);
    return data;
}

void alc_buf_free(struct alc_buf *b)
{
    free(b->data);
    alc_buf_init(b, b->max);
}
