/*
 * sse.h - the reader of an event stream (text/event-stream, as airliftd's GET
 * /v1/events/stream sends it; docs/api.md): bytes in as they arrive, whole events out.
 * Without libcurl, so fuzz/fuzz_sse.c feeds it any bytes.
 */
#ifndef AIRLIFT_CLI_SSE_H
#define AIRLIFT_CLI_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "cli.h"

struct cli_sse_reader {
    cli_sse_fn fn;
    void *ctx;
    bool stopped;  /* fn returned non-zero */
    bool too_long; /* a line, or the data of one event, past the bound */
    bool nul;      /* a NUL byte: airliftd's stream is JSON text and never holds one */
    struct alc_buf line, id, type, data; /* NUL-terminated texts */
};

/* An empty reader calling fn(ctx, event) for each event, each line and field bounded by max
 * bytes. Allocates nothing yet. */
void cli_sse_reader_init(struct cli_sse_reader *r, size_t max, cli_sse_fn fn, void *ctx);

/*
 * Feed the next n bytes of the stream. Lines end with "\n" or "\r\n"; an empty line ends an
 * event (dispatched if it has data), ':' starts a comment, and the fields data, event and
 * id are kept (one space after the colon dropped); others are ignored. Returns true to go
 * on; false once the stream must end: r->stopped (fn asked), r->nul (a NUL byte, which
 * would cut a field short), or else r->too_long (a line or field past the bound, or out of
 * memory). Not to be fed again after false.
 */
bool cli_sse_reader_feed(struct cli_sse_reader *r, const char *bytes, size_t n);

/* Free what the reader holds. */
void cli_sse_reader_free(struct cli_sse_reader *r);

#endif
