/*
 * delta_decode.c - run the device's delta decoder (lib/delta.c) between memory buffers, for
 * tests and the bench tool, with the same checks a flash port makes: reads of the old image
 * stay inside it, reads of the output stay inside what was written, writes come in order,
 * start on AL_DELTA_WRITE_ALIGN and never touch a byte twice.
 */
#include "airlift_host/delta.h"

#include <stdlib.h>
#include <string.h>

#include "airlift/delta.h"

struct mem_io {
    const uint8_t *old;
    size_t old_len;
    uint8_t *out;
    size_t cap, written;
};

/* len bytes at off of src (have bytes). */
static al_err mem_copy(const uint8_t *src, size_t have, uint32_t off, uint8_t *buf, size_t len)
{
    if (off > have || len > have - off)
        return AL_ERR_OUT_OF_RANGE;
    memcpy(buf, src + off, len);
    return AL_OK;
}

static al_err mem_read_old(void *ctx, uint32_t off, uint8_t *buf, size_t len)
{
    struct mem_io *m = ctx;
    return mem_copy(m->old, m->old_len, off, buf, len);
}

static al_err mem_read_new(void *ctx, uint32_t off, uint8_t *buf, size_t len)
{
    struct mem_io *m = ctx;
    return mem_copy(m->out, m->written, off, buf, len);
}

static al_err mem_write_new(void *ctx, uint32_t off, const uint8_t *buf, size_t len)
{
    struct mem_io *m = ctx;
    if (off != m->written || off % AL_DELTA_WRITE_ALIGN)
        return AL_ERR_ALIGNMENT;
    if (len > m->cap - off)
        return AL_ERR_OUT_OF_RANGE;
    memcpy(m->out + off, buf, len);
    m->written += len;
    return AL_OK;
}

int alh_delta_decode(const uint8_t *old, size_t old_len, const uint8_t *stream, size_t stream_len,
                     size_t feed_piece, uint8_t **out, size_t *out_len)
{
    struct al_delta_header h;
    struct mem_io m = {old, old_len, NULL, 0, 0};
    struct al_delta_io io = {&m, mem_read_old, mem_read_new, mem_write_new, (uint32_t)old_len};
    struct al_delta *st = malloc(sizeof *st);
    al_err err = al_delta_parse_header(stream, stream_len, &h);
    *out = NULL;
    *out_len = 0;
    if (!st)
        return AL_ERR_INTERNAL;
    if (err == AL_OK) {
        m.cap = h.new_size;
        m.out = malloc(m.cap ? m.cap : 1);
        if (!m.out)
            err = AL_ERR_INTERNAL;
    }
    if (err == AL_OK)
        err = al_delta_init(st, &io);
    for (size_t pos = 0; err == AL_OK && pos < stream_len;) {
        size_t n = feed_piece && feed_piece < stream_len - pos ? feed_piece : stream_len - pos;
        err = al_delta_feed(st, stream + pos, n);
        pos += n;
    }
    if (err == AL_OK)
        err = al_delta_finish(st);
    if (err == AL_OK && m.written != m.cap)
        err = AL_ERR_INTERNAL;
    free(st);
    if (err != AL_OK) {
        free(m.out);
        return (int)err;
    }
    *out = m.out;
    *out_len = m.written;
    return 0;
}
