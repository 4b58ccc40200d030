/*
 * sse.c - see sse.h.
 */
#include "sse.h"

#include <string.h>

/* Append to a line or field of the stream, each bounded. */
static bool text_add(struct alc_buf *t, const char *s, size_t n)
{
    return alc_buf_append(t, s, n) == ALC_BUF_OK;
}

void cli_sse_reader_init(struct cli_sse_reader *r, size_t max, cli_sse_fn fn, void *ctx)
{
    memset(r, 0, sizeof *r);
    r->fn = fn;
    r->ctx = ctx;
    alc_buf_init(&r->line, max);
    alc_buf_init(&r->id, max);
    alc_buf_init(&r->type, max);
    alc_buf_init(&r->data, max);
}

void cli_sse_reader_free(struct cli_sse_reader *r)
{
    alc_buf_free(&r->line);
    alc_buf_free(&r->id);
    alc_buf_free(&r->type);
    alc_buf_free(&r->data);
}

/* One complete line (without its end) of the event stream format. */
static bool sse_line(struct cli_sse_reader *p, const char *line, size_t n)
{
    if (n == 0) { /* dispatch */
        if (p->data.len) {
            struct cli_sse_event ev = {p->id.data ? (const char *)p->id.data : "",
                                       p->type.len ? (const char *)p->type.data : "message",
                                       (const char *)p->data.data};
            p->data.data[--p->data.len] = '\0'; /* the last line's '\n' */
            if (p->fn(p->ctx, &ev) != 0) {
                p->stopped = true;
                return false;
            }
        }
        alc_buf_clear(&p->data);
        alc_buf_clear(&p->type);
        return true;
    }
    if (line[0] == ':') /* a comment: keepalives and such */
        return true;
    const char *colon = memchr(line, ':', n), *value = colon ? colon + 1 : line + n;
    size_t field = colon ? (size_t)(colon - line) : n;
    if (value < line + n && *value == ' ')
        value++;
    size_t vlen = (size_t)(line + n - value);
    if (field == 4 && !memcmp(line, "data", 4))
        return text_add(&p->data, value, vlen) && text_add(&p->data, "\n", 1);
    if (field == 5 && !memcmp(line, "event", 5)) {
        alc_buf_clear(&p->type);
        return text_add(&p->type, value, vlen);
    }
    if (field == 2 && !memcmp(line, "id", 2)) {
        alc_buf_clear(&p->id);
        return text_add(&p->id, value, vlen);
    }
    return true; /* retry and unknown fields: ignored */
}

bool cli_sse_reader_feed(struct cli_sse_reader *r, const char *bytes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (bytes[i] == '\0') {
            r->nul = true;
            return false;
        }
        if (bytes[i] != '\n') {
            if (!text_add(&r->line, bytes + i, 1)) {
                r->too_long = true;
                return false;
            }
            continue;
        }
        size_t len = r->line.len;
        if (len && r->line.data[len - 1] == '\r')
            len--;
        if (!sse_line(r, len ? (const char *)r->line.data : "", len)) {
            r->too_long = !r->stopped;
            return false;
        }
        alc_buf_clear(&r->line);
    }
    return true;
}
