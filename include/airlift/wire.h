/*
 * airlift/wire.h - the numbers of the device protocol's transfers on the wire
 * (docs/protocol.md, "CoAP/DTLS binding"), in one place for the device's transport
 * (ports/posix/coap_transport.c), the agent (lib/agent.c) and the server
 * (server/coap/coap_endpoint.c, server/core/updates.c). Freestanding C99: macros only.
 */
#ifndef AIRLIFT_WIRE_H
#define AIRLIFT_WIRE_H

/* The largest chunk of a windowed transfer: what one 1500-byte datagram carries under DTLS,
 * and the most the agent asks a transport for at once. */
#define AL_WIRE_CHUNK_MAX 1424u
/* A chunk is a multiple of this many bytes (the last of a transfer excepted), at least one. */
#define AL_WIRE_CHUNK_ALIGN 16u

/* Chunks per window request: at most AL_WIRE_WINDOW_MAX (the server refuses more); a
 * transfer's first window asks for AL_WIRE_WINDOW_FIRST, and the device never shrinks a
 * window below AL_WIRE_WINDOW_MIN. */
#define AL_WIRE_WINDOW_MAX 64u
#define AL_WIRE_WINDOW_FIRST 16u
#define AL_WIRE_WINDOW_MIN 4u

/* RFC 7959 Block2, the stop-and-wait alternative: SZX 6, 1024-byte blocks (the most the
 * server sends in one). */
#define AL_WIRE_BLOCK_SZX 6
#define AL_WIRE_BLOCK_SIZE 1024u

#endif
