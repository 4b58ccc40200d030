/*
 * pace.h - the device's side of airlift's windowed transfer, as logic only: which window
 * requests to send and when, from estimates of the round-trip time (RFC 6298) and of the
 * link's delivery rate (from the spacing of chunk arrivals, as BBR and RFC 9177 do), which
 * chunks are lost (RACK-style: a chunk the server sent after it has arrived, or a
 * retransmission timeout), and the chunks held ahead of the one the agent wants.
 *
 * No I/O and no clock: every call takes the time in microseconds, so the unit tests drive it
 * with a fake clock and a fake link (tests/coap/test_pace.c). The CoAP transport
 * (coap_transport.c) sends what al_pace_next() asks for and feeds what arrives to
 * al_pace_chunk(). The algorithm is specified in docs/protocol.md, "Windowed transfer".
 */
#ifndef AIRLIFT_PACE_H
#define AIRLIFT_PACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "airlift/wire.h"

#define AL_PACE_SPAN 192u       /* chunks tracked from the one the agent wants (the ring) */
#define AL_PACE_REQS 8u         /* window requests whose chunks are still taken */
#define AL_PACE_RETRIES 4u      /* retransmission timeouts in a row before giving up */
#define AL_PACE_RTO_MIN_US 200000u  /* RFC 6298's RTO, but at least this (not 1 s: Linux's) */
#define AL_PACE_RTO_MAX_US 16000000u
#define AL_PACE_RTO_FIRST_US 2000000u /* before any RTT sample: CoAP's ACK_TIMEOUT */
#define AL_PACE_BURST_US 250000u /* a request asks for about this much of the link's time */
#define AL_PACE_BACKLOG_US 200u /* primed chunks closer than this were read from a backlog */

/* A window request to send: GET /w/...?o=offset&n=count&c=chunk[&m=skip] (skip 0: no m=). */
struct al_pace_ask {
    uint32_t id; /* the request's number: its chunks are fed back with it */
    uint32_t offset, count, chunk, skip;
};

struct al_pace_req {
    bool used;
    uint32_t id;
    uint32_t first, count; /* chunk numbers first .. first + count - 1 */
    uint64_t seq0;         /* send order of its chunk 0 */
    uint64_t sent_us, first_rx_us;
    uint32_t rx_chunks, rx_bytes, first_len;
    uint32_t rate;         /* its delivery-rate sample, bytes/s (0: none yet) */
    bool no_rtt;           /* its first chunk is no round-trip sample (al_pace_prime) */
    bool primed;           /* sent by the server unasked (al_pace_prime) */
    uint32_t train;        /* chunks after the first of its current train */
    uint64_t last_rx_us;
};

struct al_pace {
    uint32_t origin, size, chunk, nchunks; /* chunk a is bytes origin + a * chunk, ... */
    uint32_t base;    /* the chunk the agent wants next */
    uint32_t until;   /* chunks below this may be asked for */
    uint32_t budget;  /* bytes that may be in flight at once (0: no limit) */
    uint8_t state[AL_PACE_SPAN];  /* of chunk a at a % AL_PACE_SPAN: enum in pace.c */
    uint64_t seq[AL_PACE_SPAN];   /* send order of its last request */
    uint64_t overtaken_us[AL_PACE_SPAN]; /* when a chunk sent after it arrived (0: not yet) */
    uint16_t len[AL_PACE_SPAN];
    uint8_t data[AL_PACE_SPAN][AL_WIRE_CHUNK_MAX];
    struct al_pace_req req[AL_PACE_REQS];
    uint32_t next_id;
    uint64_t next_seq;
    uint64_t rack_seq, rack_us; /* the latest-sent chunk that arrived (seq + 1), and when */
    uint64_t srtt_us, rttvar_us, rto_us, min_rtt_us;
    uint32_t rate;      /* delivery rate, payload bytes/s: the largest recent sample */
    uint64_t timer_us;  /* last arrival or request sent: the RTO runs from here */
    unsigned backoff;   /* RTO expiries since the last arrival */
    uint64_t sent_us;   /* when the newest request went out */
    uint32_t last_k;    /* chunks the last request for new chunks could ask for */
    uint64_t next_new_us; /* no request for new chunks before this: the link's time for the last */
    unsigned probes;    /* stopped trains declared lost since the last arrival */
    uint32_t requests, retransmits, lost; /* counters, for tests and logs */
};

/* Start a transfer of `size` bytes whose chunk 0 is at `origin`, `chunk` bytes a chunk (a
 * multiple of AL_WIRE_CHUNK_ALIGN, <= AL_WIRE_CHUNK_MAX). rtt_hint_us: a round trip seen on
 * this session (an exchange's), 0 if none. */
void al_pace_start(struct al_pace *p, uint32_t origin, uint32_t size, uint32_t chunk,
                   uint64_t rtt_hint_us);
/* issue 16 (speed): the server sends chunks 0 .. count - 1 unasked, with the plan (docs/
 * protocol.md, "Plan with its first window"): record them as a request sent at sent_us (the
 * inventory's) and return its id, under which they are fed to al_pace_chunk(). sample: its
 * first chunk is a round-trip sample (false for a plan the server sent unasked). Call right
 * after al_pace_start(). */
uint32_t al_pace_prime(struct al_pace *p, uint32_t count, uint64_t sent_us, bool sample);
/* Whether `offset` is a chunk of this transfer the pacer can still hand out (on its grid,
 * not behind the chunk the agent wants, within the ring). */
bool al_pace_covers(const struct al_pace *p, uint32_t offset);
/* The agent wants the chunk at `offset` (al_pace_covers() true) and nothing at or past
 * `until` bytes; budget: bytes it may have asked for and not received (0: no limit). */
void al_pace_want(struct al_pace *p, uint32_t offset, uint32_t until, uint32_t budget);
/* The next request to send now, if any (true: fill *ask and send it); declares losses
 * first. Call until it returns false, after every arrival and at least every few ms. */
bool al_pace_next(struct al_pace *p, uint64_t now_us, struct al_pace_ask *ask);
/* A chunk arrived: index `index` of request `id`, len bytes. Returns false if it is not
 * one this transfer asked for (wrong index or length, a request long forgotten). */
bool al_pace_chunk(struct al_pace *p, uint32_t id, uint32_t index, const uint8_t *data,
                   size_t len, uint64_t now_us);
/* Hand over the wanted chunk if it is held: copy it (<= cap bytes) and forget it. */
bool al_pace_take(struct al_pace *p, uint8_t *buf, size_t cap, size_t *got);
/* The retransmission timer expired AL_PACE_RETRIES + 1 times in a row: the link is gone. */
bool al_pace_failed(const struct al_pace *p);
/* Whether request `id` is one whose chunks are still taken. */
bool al_pace_knows(const struct al_pace *p, uint32_t id);

#endif
