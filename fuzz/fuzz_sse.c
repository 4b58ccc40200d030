/*
 * fuzz_sse.c - libFuzzer harness for the CLI's event-stream reader (cli/sse.h), fed the
 * bytes in two pieces (where the first byte says), as a connection may cut them: every
 * event it hands over has an id, a type and NUL-terminated data within the bound, and it
 * never crashes, reads out of bounds or grows past the bound.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BOUND 512 /* small, so the fuzzer reaches the limit */

static int on_event(void *ctx, const struct cli_sse_event *ev)
{
    size_t *events = ctx;
    if (!ev || !ev->id || !ev->type || !ev->data || strlen(ev->id) > BOUND ||
        strlen(ev->type) > BOUND || strlen(ev->data) >= BOUND || !ev->type[0])
        abort();
    (*events)++;
    return ev->data[0] == 'q'; /* the caller may end the stream at any event */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cli_sse_reader r;
    size_t events = 0;
    if (size < 1)
        return 0;
    size_t cut = data[0] % size; /* within data + 1 .. data + size */
    const char *text = (const char *)data + 1;
    cli_sse_reader_init(&r, BOUND, on_event, &events);
    if (cli_sse_reader_feed(&r, text, cut))
        (void)cli_sse_reader_feed(&r, text + cut, size - 1 - cut);
    if (r.line.len > BOUND || r.data.len > BOUND || (r.stopped + r.too_long + r.nul) > 1)
        abort();
    cli_sse_reader_free(&r);
    return 0;
}
