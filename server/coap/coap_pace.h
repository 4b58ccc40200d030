/*
 * coap_pace.h - the device endpoint's bound on what it sends one session in window chunks
 * (docs/protocol.md, "Windowed transfer", server side): a token bucket of bytes per
 * session, ALD_COAP_PACE_BURST deep, refilled at ALD_COAP_PACE_RATE bytes a second. A
 * window's chunks leave while the bucket holds any (the first chunk of a request always
 * does); the rest of the window is not sent, as if the link had lost it, and the device
 * asks for it again. So a device, or a thousand of them on slow links, never makes the
 * server send faster than that per session, whatever they ask for. Logic only: the caller
 * passes the time.
 */
#ifndef ALD_COAP_PACE_H
#define ALD_COAP_PACE_H

#include <stdbool.h>
#include <stdint.h>

#include "airlift/wire.h"

#define ALD_COAP_PACE_BURST (2u * AL_WIRE_WINDOW_MAX * AL_WIRE_CHUNK_MAX) /* 182,272 bytes */
#define ALD_COAP_PACE_RATE 262144u /* bytes a second: 2 Mbit/s, above any cellular IoT link */

struct ald_coap_pace {
    bool started;
    uint64_t at_us;  /* when tokens was last brought up to date */
    int64_t tokens;  /* bytes that may leave now; below 0 after a request's first chunk */
};

/* Whether a chunk of `bytes` may leave now (first: the first chunk of a request, which
 * always may); if so, takes them from the bucket. */
bool ald_coap_pace_take(struct ald_coap_pace *p, uint32_t bytes, bool first, uint64_t now_us);

#endif
