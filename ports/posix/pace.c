/* pace.c - see pace.h and docs/protocol.md, "Windowed transfer". */
#include "pace.h"

#include <string.h>

enum { NONE, ASKED, HELD, LOST }; /* a chunk: not asked for, in flight, held, lost */

static uint32_t slot(uint32_t a)
{
    return a % AL_PACE_SPAN;
}

static uint64_t clamp_rto(uint64_t us)
{
    return us < AL_PACE_RTO_MIN_US ? AL_PACE_RTO_MIN_US : us > AL_PACE_RTO_MAX_US ? AL_PACE_RTO_MAX_US : us;
}

void al_pace_start(struct al_pace *p, uint32_t origin, uint32_t size, uint32_t chunk,
                   uint64_t rtt_hint_us)
{
    memset(p, 0, sizeof *p);
    p->origin = origin;
    p->size = size;
    p->chunk = chunk;
    p->nchunks = (size - origin + chunk - 1) / chunk;
    p->until = p->nchunks;
    p->next_id = 1;
    p->rto_us = AL_PACE_RTO_FIRST_US;
    if (rtt_hint_us) { /* RFC 6298 2.2, from the session's exchanges */
        p->srtt_us = rtt_hint_us;
        p->rttvar_us = rtt_hint_us / 2;
        p->min_rtt_us = rtt_hint_us;
        p->rto_us = clamp_rto(p->srtt_us + 4 * p->rttvar_us);
        /* A small exchange's round trip says nothing of a chunk's time on a slow link:
         * until a chunk has come, wait at least CoAP's ACK_TIMEOUT. */
        if (p->rto_us < AL_PACE_RTO_FIRST_US)
            p->rto_us = AL_PACE_RTO_FIRST_US;
    }
}

bool al_pace_covers(const struct al_pace *p, uint32_t offset)
{
    if (!p->chunk || offset < p->origin || (offset - p->origin) % p->chunk)
        return false;
    uint32_t a = (offset - p->origin) / p->chunk;
    return a >= p->base && a < p->base + AL_PACE_SPAN && a < p->nchunks;
}

void al_pace_want(struct al_pace *p, uint32_t offset, uint32_t until, uint32_t budget)
{
    uint32_t a = (offset - p->origin) / p->chunk;
    for (; p->base < a; p->base++) /* the agent skipped these: forget them */
        p->state[slot(p->base)] = NONE;
    uint64_t u = until > p->origin ? ((uint64_t)until - p->origin + p->chunk - 1) / p->chunk : 0;
    p->until = u > p->nchunks ? p->nchunks : u <= a ? a + 1 : (uint32_t)u;
    p->budget = budget;
}

/* RFC 6298 2.3: a round-trip sample (a request to its first chunk). */
static void rtt_sample(struct al_pace *p, uint64_t r)
{
    if (!p->srtt_us) {
        p->srtt_us = r;
        p->rttvar_us = r / 2;
    } else {
        uint64_t d = p->srtt_us > r ? p->srtt_us - r : r - p->srtt_us;
        p->rttvar_us = (3 * p->rttvar_us + d) / 4;
        p->srtt_us = (7 * p->srtt_us + r) / 8;
    }
    p->rto_us = clamp_rto(p->srtt_us + (4 * p->rttvar_us > 1000 ? 4 * p->rttvar_us : 1000));
    if (!p->min_rtt_us || r < p->min_rtt_us)
        p->min_rtt_us = r;
}

bool al_pace_chunk(struct al_pace *p, uint32_t id, uint32_t index, const uint8_t *data,
                   size_t len, uint64_t now_us)
{
    struct al_pace_req *r = &p->req[id % AL_PACE_REQS];
    if (!r->used || r->id != id || index >= r->count)
        return false;
    uint32_t a = r->first + index;
    if (a >= p->nchunks)
        return false;
    uint64_t off = (uint64_t)p->origin + (uint64_t)a * p->chunk;
    uint64_t want = p->size - off < p->chunk ? p->size - off : p->chunk;
    if (len != want)
        return false;
    p->timer_us = now_us;
    p->backoff = 0;
    p->probes = 0;
    uint64_t seq = r->seq0 + index;
    if (seq + 1 > p->rack_seq) {
        p->rack_seq = seq + 1;
        p->rack_us = now_us;
    }
    /* RACK: the chunks sent before this one and still awaited are overtaken now. */
    uint32_t end = p->base + AL_PACE_SPAN < p->nchunks ? p->base + AL_PACE_SPAN : p->nchunks;
    for (uint32_t b = p->base; b < end; b++) {
        uint32_t s = slot(b);
        if (p->state[s] == ASKED && p->seq[s] < seq && !p->overtaken_us[s])
            p->overtaken_us[s] = now_us;
    }
    bool fresh = a >= p->base && a < p->base + AL_PACE_SPAN && p->state[slot(a)] != HELD;
    if (r->rx_chunks == 0) {
        r->first_rx_us = now_us;
        r->first_len = (uint32_t)len;
        if (!r->no_rtt)
            rtt_sample(p, now_us > r->sent_us ? now_us - r->sent_us : 1);
    } else if (fresh && now_us > r->first_rx_us && r->primed &&
               now_us - r->last_rx_us < AL_PACE_BACKLOG_US) {
        /* issue 16 (speed): chunks that came unasked may wait in the socket while the
         * device gets ready (erases staging): read back to back, their spacing says
         * nothing of the link. The train starts again here. */
        r->first_rx_us = now_us;
        r->rx_bytes = 0;
        r->train = 0;
    } else if (fresh && now_us > r->first_rx_us) {
        /* The server sends a window back to back: the spacing of its chunks is the rate of
         * the link's narrowest hop (a packet train). */
        r->rx_bytes += (uint32_t)len;
        if (++r->train >= 2) {
            r->rate = (uint32_t)((uint64_t)r->rx_bytes * 1000000u / (now_us - r->first_rx_us));
            uint32_t best = 0;
            for (unsigned i = 0; i < AL_PACE_REQS; i++)
                if (p->req[i].used && p->req[i].rate > best)
                    best = p->req[i].rate;
            p->rate = best;
        }
    }
    r->rx_chunks++;
    r->last_rx_us = now_us;
    if (!fresh)
        return true; /* a duplicate, or one the agent no longer wants */
    uint32_t s = slot(a);
    p->state[s] = HELD;
    p->len[s] = (uint16_t)len;
    memcpy(p->data[s], data, len);
    return true;
}

/* Chunks a later-sent one overtook by a quarter of the least round trip are lost; so is
 * everything in flight once the train of chunks stopped (nothing for three chunks' time at
 * the link's rate, and the newest request older than RTO: at most twice in a row) or the
 * retransmission timer expired (RFC 6298, doubling each time). */
static void detect_losses(struct al_pace *p, uint64_t now_us)
{
    /* At least 25 ms: a loaded host (or a radio stack) can hold a chunk back that long, and
     * a wrong "lost" costs the chunks again on the air. */
    uint64_t reo = p->min_rtt_us / 4 > 25000 ? p->min_rtt_us / 4 : 25000;
    uint32_t end = p->base + AL_PACE_SPAN < p->nchunks ? p->base + AL_PACE_SPAN : p->nchunks;
    unsigned asked = 0;
    for (uint32_t a = p->base; a < end; a++) {
        uint32_t s = slot(a);
        if (p->state[s] != ASKED)
            continue;
        if (p->overtaken_us[s] && now_us >= p->overtaken_us[s] + reo) {
            p->state[s] = LOST;
            p->lost++;
        } else {
            asked++;
        }
    }
    bool stopped = false;
    if (asked && p->rate && p->probes < 2 && !p->backoff) {
        /* issue 16 (speed): once chunks of the newest request arrive, the server has sent
         * everything asked before it: the train runs back to back, so two chunks' time
         * without one is its end (a tail loss), whatever RTO says. */
        const struct al_pace_req *nr = &p->req[(p->next_id - 1) % AL_PACE_REQS];
        bool started = nr->used && nr->id == p->next_id - 1 && nr->rx_chunks > 0;
        uint64_t gap = (started ? 2ull : 3ull) * p->chunk * 1000000u / p->rate + reo;
        stopped = now_us >= p->timer_us + gap && (started || now_us >= p->sent_us + p->rto_us);
    }
    bool expired = !stopped && asked && now_us >= p->timer_us + (p->rto_us << p->backoff);
    if (stopped || expired) { /* every chunk still asked is lost */
        for (uint32_t a = p->base; a < end; a++)
            if (p->state[slot(a)] == ASKED) {
                p->state[slot(a)] = LOST;
                p->lost++;
            }
        p->probes += stopped;
        p->backoff += expired;
        p->timer_us = now_us;
    }
}

/* Record request `ask` (chunks first + i for i < count not in skip) as sent now. */
static void sent(struct al_pace *p, struct al_pace_ask *ask, uint32_t first, uint64_t now_us,
                 bool was_idle)
{
    struct al_pace_req *r = &p->req[p->next_id % AL_PACE_REQS];
    memset(r, 0, sizeof *r);
    r->used = true;
    r->id = ask->id = p->next_id++;
    r->first = first;
    r->count = ask->count;
    r->seq0 = p->next_seq;
    r->sent_us = now_us;
    for (uint32_t i = 0; i < ask->count; i++)
        if (i >= 32 || !(ask->skip >> i & 1u)) {
            p->state[slot(first + i)] = ASKED;
            p->seq[slot(first + i)] = p->next_seq + i;
            p->overtaken_us[slot(first + i)] = 0;
        }
    p->next_seq += ask->count;
    ask->offset = p->origin + first * p->chunk;
    ask->chunk = p->chunk;
    p->requests++;
    p->sent_us = now_us;
    if (was_idle)
        p->timer_us = now_us;
}

bool al_pace_next(struct al_pace *p, uint64_t now_us, struct al_pace_ask *ask)
{
    detect_losses(p, now_us);
    if (al_pace_failed(p))
        return false;
    uint32_t end = p->base + AL_PACE_SPAN < p->until ? p->base + AL_PACE_SPAN : p->until;
    uint32_t asked = 0, frontier = end, lost = end;
    for (uint32_t a = p->base; a < end; a++) {
        uint8_t st = p->state[slot(a)];
        if (st == ASKED)
            asked++;
        else if (st == LOST && lost == end)
            lost = a;
        else if (st == NONE && frontier == end)
            frontier = a;
    }
    memset(ask, 0, sizeof *ask);
    if (lost < end) {
        /* Ask again at once for what is lost, up to 32 chunks on: the others in the skip mask. */
        for (uint32_t i = 0; i < 32 && lost + i < end; i++)
            if (p->state[slot(lost + i)] == LOST)
                ask->count = i + 1;
        for (uint32_t i = 0; i < ask->count; i++)
            if (p->state[slot(lost + i)] != LOST)
                ask->skip |= 1u << i;
        p->retransmits++;
        sent(p, ask, lost, now_us, asked == 0);
        return true;
    }
    if (frontier >= end || now_us < p->next_new_us)
        return false;
    /* New chunks: once the link's pipe (rate x least round trip) is nearly drained, so
     * the request's chunks arrive as the last ones leave the link, never idling it and
     * never queueing more than a burst in its buffer. */
    uint32_t k = AL_WIRE_WINDOW_FIRST;
    if (!p->rate) {
        if (asked)
            return false; /* the first window: wait for its rate */
    } else {
        uint64_t bdp = (uint64_t)p->rate * p->min_rtt_us / 1000000u;
        if ((uint64_t)asked * p->chunk > bdp + 2u * p->chunk)
            return false;
        uint64_t burst = (uint64_t)p->rate * AL_PACE_BURST_US / 1000000u / p->chunk;
        k = burst < AL_WIRE_WINDOW_MIN ? AL_WIRE_WINDOW_MIN
            : burst > AL_WIRE_WINDOW_MAX ? AL_WIRE_WINDOW_MAX : (uint32_t)burst;
        if (p->last_k && k > 2 * p->last_k)
            k = 2 * p->last_k; /* grows at most twice from one request to the next */
    }
    /* In flight at once: no more than the pipe needs, and at least a full window. Past
     * that, wait for room for a whole request rather than ask for scraps: a fast link
     * with a short round trip goes window by window, as the server's bursts arrive. */
    uint64_t cap = (uint64_t)p->rate * p->min_rtt_us / 1000000u / p->chunk + 2;
    cap = cap > AL_WIRE_WINDOW_MAX ? cap : AL_WIRE_WINDOW_MAX;
    uint32_t want = end - frontier < k ? end - frontier : k;
    if (asked + want > cap)
        return false;
    if (p->budget) {
        uint32_t room = p->budget / p->chunk > asked ? p->budget / p->chunk - asked : 0;
        if (!room && asked)
            return false;
        room = room ? room : 1;
        k = k < room ? k : room;
    }
    ask->count = end - frontier < k ? end - frontier : k;
    /* Pacing: the next request for new chunks no sooner than the link carries these. */
    if (p->rate)
        p->next_new_us = now_us + (uint64_t)ask->count * p->chunk * 1000000u / p->rate;
    p->last_k = k;
    sent(p, ask, frontier, now_us, asked == 0);
    return true;
}

uint32_t al_pace_prime(struct al_pace *p, uint32_t count, uint64_t sent_us, bool sample)
{
    struct al_pace_ask ask;
    memset(&ask, 0, sizeof ask);
    ask.count = count < p->until ? count : p->until;
    sent(p, &ask, 0, sent_us, true);
    p->req[ask.id % AL_PACE_REQS].no_rtt = !sample;
    p->req[ask.id % AL_PACE_REQS].primed = true;
    p->last_k = ask.count;
    p->requests--; /* the device sent no request for it */
    return ask.id;
}

bool al_pace_take(struct al_pace *p, uint8_t *buf, size_t cap, size_t *got)
{
    uint32_t s = slot(p->base);
    if (p->base >= p->nchunks || p->state[s] != HELD || p->len[s] > cap)
        return false;
    memcpy(buf, p->data[s], p->len[s]);
    *got = p->len[s];
    p->state[s] = NONE;
    p->base++;
    return true;
}

bool al_pace_failed(const struct al_pace *p)
{
    return p->backoff > AL_PACE_RETRIES;
}

bool al_pace_knows(const struct al_pace *p, uint32_t id)
{
    const struct al_pace_req *r = &p->req[id % AL_PACE_REQS];
    return r->used && r->id == id;
}
