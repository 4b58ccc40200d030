/*
 * test_pace.c - the device's windowed-transfer logic (ports/posix/pace.c) against a fake
 * link on a fake clock: one-way latency, a bottleneck of a given rate with a drop-tail
 * queue, and losses chosen by the test. Behaviour only (what is asked for, what is
 * recovered), never wall-clock speed: time here is the fake clock's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pace.h"

#define MAXQ 4096
#define CHUNK 1424u

struct flying {
    uint64_t due_us;
    bool request;
    struct al_pace_ask ask; /* a request going up */
    uint32_t id, index;     /* a chunk coming down */
};

struct fake_link {
    uint64_t now_us, latency_us;
    uint32_t rate;          /* bytes a second down; 0: unlimited */
    uint32_t buffer;        /* drop-tail queue down, bytes; 0: unlimited */
    uint64_t busy_until_us; /* the bottleneck is sending until then */
    struct flying q[MAXQ];
    size_t n;
    uint32_t chunks_sent;   /* by the server, in order: the k-th is chunk k */
    uint32_t drop[16];      /* drop the chunks the server sends as its drop[i]-th (1-based) */
    uint32_t drop_after;    /* drop every chunk from this send number on (0: none) */
    uint32_t overflowed, requests, max_outstanding_requests;
    struct al_pace_ask asks[512];
    uint64_t ask_us[512];
};

static struct al_pace pace;
static uint8_t image[300 * 1024];

static void push(struct fake_link *l, struct flying f)
{
    assert_true(l->n < MAXQ);
    l->q[l->n++] = f;
}

/* The server: every chunk of the window not in the mask, back to back, into the queue. */
static void serve(struct fake_link *l, const struct al_pace_ask *a, uint32_t size)
{
    for (uint32_t i = 0; i < a->count && a->offset + (uint64_t)i * a->chunk < size; i++) {
        if (i < 32 && (a->skip >> i & 1u))
            continue;
        uint32_t k = ++l->chunks_sent;
        bool lost = l->drop_after && k >= l->drop_after;
        for (int d = 0; d < 16; d++)
            lost |= l->drop[d] == k;
        uint64_t at = l->now_us;
        if (l->rate) {
            uint64_t wait = l->busy_until_us > at ? l->busy_until_us - at : 0;
            if (l->buffer && wait * l->rate / 1000000u + CHUNK > l->buffer) {
                l->overflowed++;
                continue;
            }
            uint64_t start = l->busy_until_us > at ? l->busy_until_us : at;
            l->busy_until_us = start + (uint64_t)CHUNK * 1000000u / l->rate;
            at = l->busy_until_us;
        }
        if (lost)
            continue;
        push(l, (struct flying){at + l->latency_us, false, {0}, a->id, i});
    }
}

/* Run the transfer of `size` bytes until the agent has all of it or the pacer gives up, at
 * most `limit_us` of fake time. Returns the bytes the agent got, in order and exact. */
static uint32_t run_primed(struct fake_link *l, uint32_t size, uint64_t limit_us, uint32_t prime)
{
    uint8_t buf[AL_WIRE_CHUNK_MAX];
    uint32_t got = 0;
    al_pace_start(&pace, 0, size, CHUNK, 2 * l->latency_us);
    if (prime) {
        /* The server sends the first `prime` chunks with the plan: as if a request for them
         * reached it now (the inventory's), not one the device sends. */
        struct al_pace_ask a = {al_pace_prime(&pace, prime, l->now_us, false), 0, prime, CHUNK, 0};
        l->asks[l->requests] = a;
        l->ask_us[l->requests++] = l->now_us;
        serve(l, &a, size);
    }
    al_pace_want(&pace, 0, size, 0);
    while (got < size && l->now_us < limit_us && !al_pace_failed(&pace)) {
        struct al_pace_ask ask;
        while (al_pace_next(&pace, l->now_us, &ask)) {
            if (l->requests < 512) {
                l->asks[l->requests] = ask;
                l->ask_us[l->requests] = l->now_us;
            }
            l->requests++;
            push(l, (struct flying){l->now_us + l->latency_us, true, ask, 0, 0});
        }
        size_t len = 0;
        while (al_pace_take(&pace, buf, sizeof buf, &len)) {
            assert_memory_equal(buf, image + got, len);
            got += (uint32_t)len;
            if (got < size)
                al_pace_want(&pace, got, size, 0);
        }
        /* Deliver what is due, in the order it was queued. */
        for (size_t i = 0; i < l->n;) {
            struct flying f = l->q[i];
            if (f.due_us > l->now_us) {
                i++;
                continue;
            }
            memmove(&l->q[i], &l->q[i + 1], (l->n - i - 1) * sizeof l->q[0]);
            l->n--;
            if (f.request) {
                serve(l, &f.ask, size);
            } else {
                uint32_t a = 0;
                for (uint32_t r = 0; r < l->requests && r < 512; r++)
                    if (l->asks[r].id == f.id)
                        a = l->asks[r].offset / CHUNK + f.index;
                uint32_t off = a * CHUNK, n = size - off < CHUNK ? size - off : CHUNK;
                al_pace_chunk(&pace, f.id, f.index, image + off, n, l->now_us);
            }
        }
        l->now_us += 1000;
    }
    return got;
}

static uint32_t run(struct fake_link *l, uint32_t size, uint64_t limit_us)
{
    return run_primed(l, size, limit_us, 0);
}

static int setup(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof image; i++)
        image[i] = (uint8_t)(i * 2654435761u >> 13);
    return 0;
}

/* A clean link: everything arrives, windows overlap (the next asked for before the one
 * before has arrived), and the link never idles after the first window: the transfer
 * takes the bandwidth's time plus a couple of round trips. */
static void clean_link_keeps_the_pipe_full(void **state)
{
    (void)state;
    static struct fake_link l;
    memset(&l, 0, sizeof l);
    l.latency_us = 300000;
    l.rate = 12500;
    uint32_t size = 130752;
    assert_int_equal(run(&l, size, 60000000), size);
    assert_int_equal(pace.retransmits, 0);
    assert_int_equal(pace.lost, 0);
    uint64_t bound = (uint64_t)((size + CHUNK - 1) / CHUNK) * CHUNK * 1000000u / l.rate;
    assert_true(l.now_us < bound + 3 * 2 * l.latency_us);
    /* Some request went out while the one before still had chunks on the way. */
    bool overlapped = false;
    for (uint32_t r = 1; r < l.requests; r++)
        overlapped |= l.ask_us[r] < l.ask_us[r - 1] + 2 * l.latency_us +
                                     (uint64_t)l.asks[r - 1].count * CHUNK * 1000000u / l.rate;
    assert_true(overlapped);
    assert_true(pace.rate > 11000 && pace.rate < 14000); /* the estimate finds the link */
    assert_true(pace.min_rtt_us >= 2 * l.latency_us);
}

/* One chunk lost in the middle: asked for again alone, as soon as the chunks after it
 * show it lost, long before any timeout, and without asking for the rest again. */
static void a_lost_chunk_is_asked_for_again_at_once(void **state)
{
    (void)state;
    static struct fake_link l;
    memset(&l, 0, sizeof l);
    l.latency_us = 300000;
    l.rate = 12500;
    l.drop[0] = 30;
    uint32_t size = 100 * CHUNK;
    assert_int_equal(run(&l, size, 60000000), size);
    assert_int_equal(pace.retransmits, 1);
    assert_int_equal(pace.lost, 1);
    uint32_t r = 0;
    while (r < l.requests && !(l.asks[r].offset == 29 * CHUNK && l.asks[r].count == 1))
        r++;
    assert_true(r < l.requests); /* the 30th chunk sent is chunk 29 */
    /* Asked again within a round trip and a few chunks of its loss, not after an RTO. */
    uint64_t sent_at = 29ull * CHUNK * 1000000u / l.rate; /* when it left, about */
    print_message("lost chunk asked again at %llu us, sent about %llu\n",
                  (unsigned long long)l.ask_us[r], (unsigned long long)sent_at);
    assert_true(l.ask_us[r] < sent_at + 2 * l.latency_us + 2 * l.latency_us + 1000000u);
}

/* Two lost chunks with a held one between: each is asked for again, and the held one
 * never is (a request that spans it names it in the skip mask). */
static void two_losses_only_the_lost_are_asked_again(void **state)
{
    (void)state;
    static struct fake_link l;
    memset(&l, 0, sizeof l);
    l.latency_us = 50000;
    l.rate = 125000;
    l.drop[0] = 5;
    l.drop[1] = 7;
    uint32_t size = 40 * CHUNK;
    assert_int_equal(run(&l, size, 60000000), size);
    assert_int_equal(pace.lost, 2);
    assert_int_equal(pace.retransmits, 2);
    bool again4 = false, again6 = false;
    for (uint32_t r = 1; r < l.requests; r++) {
        uint32_t first = l.asks[r].offset / CHUNK;
        again4 |= first == 4;
        again6 |= first == 6 || (first == 4 && l.asks[r].count == 3);
        if (first <= 5 && first + l.asks[r].count > 5)
            assert_true(l.asks[r].skip >> (5 - first) & 1u);
    }
    assert_true(again4);
    assert_true(again6);
}

/* The last chunk lost: nothing comes after it to show it; the stopped train does, well
 * before the retransmission timeout. */
static void a_lost_last_chunk_is_recovered(void **state)
{
    (void)state;
    static struct fake_link l;
    memset(&l, 0, sizeof l);
    l.latency_us = 300000;
    l.rate = 12500;
    uint32_t size = 20 * CHUNK;
    l.drop[0] = 20;
    assert_int_equal(run(&l, size, 60000000), size);
    assert_int_equal(pace.retransmits, 1);
    assert_int_equal(pace.backoff, 0);
}

/* A small radio queue: the windows are sized and timed to the link, so after the first
 * window nothing overflows it. */
static void pacing_does_not_overflow_the_link_queue(void **state)
{
    (void)state;
    static struct fake_link l;
    memset(&l, 0, sizeof l);
    l.latency_us = 300000;
    l.rate = 12500;
    l.buffer = 16 * CHUNK + 1; /* the first window, 16 chunks, just fits */
    uint32_t size = 130752;
    assert_int_equal(run(&l, size, 60000000), size);
    assert_int_equal(l.overflowed, 0);
    /* A fast link with the same queue: larger windows, still no overflow. */
    memset(&l, 0, sizeof l);
    l.latency_us = 300000;
    l.rate = 125000;
    l.buffer = 65536; /* sim/link.c's default: 0.5 s of this link */
    assert_int_equal(run(&l, 300 * 1024, 60000000), 300 * 1024);
    assert_int_equal(l.overflowed, 0);
}

/* The link goes dead: the retransmission timer backs off (RFC 6298) and the pacer gives up
 * after AL_PACE_RETRIES + 1 expiries, so the session can fail and resume later. */
static void a_dead_link_fails_after_backoff(void **state)
{
    (void)state;
    static struct fake_link l;
    memset(&l, 0, sizeof l);
    l.latency_us = 300000;
    l.rate = 12500;
    l.drop_after = 30;
    uint32_t size = 100 * CHUNK;
    uint32_t got = run(&l, size, 600000000);
    assert_true(got < size);
    assert_true(al_pace_failed(&pace));
    /* 0.2 s minimum RTO doubled 4 times at least: more than 6 s of trying. */
    assert_true(l.now_us > 6000000);
}

/* issue 16 (speed): the first window comes with the plan, unasked: the device never asks
 * for those chunks, takes them, and asks for the rest in time to keep the link busy. */
static void a_primed_window_is_taken_not_asked_for(void **state)
{
    (void)state;
    static struct fake_link l;
    memset(&l, 0, sizeof l);
    l.latency_us = 300000;
    l.rate = 12500;
    uint32_t size = 130752;
    assert_int_equal(run_primed(&l, size, 60000000, AL_WIRE_WINDOW_FIRST), size);
    assert_int_equal(pace.retransmits, 0);
    assert_int_equal(pace.requests, l.requests - 1); /* the primed one is not the device's */
    for (uint32_t r = 1; r < l.requests; r++)
        assert_true(l.asks[r].offset >= AL_WIRE_WINDOW_FIRST * CHUNK);
    /* The second request leaves before the primed window has all arrived. */
    assert_true(l.ask_us[1] < l.latency_us + AL_WIRE_WINDOW_FIRST * (uint64_t)CHUNK * 1000000u / l.rate);
    uint64_t bound = (uint64_t)((size + CHUNK - 1) / CHUNK) * CHUNK * 1000000u / l.rate;
    assert_true(l.now_us < bound + 2 * 2 * l.latency_us);
}

/* Primed chunks read back to back out of the socket's backlog say nothing of the link's
 * rate; read as they arrive, they do. */
static void primed_chunks_from_a_backlog_give_no_rate(void **state)
{
    (void)state;
    uint8_t chunk[CHUNK];
    memset(chunk, 7, sizeof chunk);
    al_pace_start(&pace, 0, 64 * CHUNK, CHUNK, 600000);
    uint32_t id = al_pace_prime(&pace, 16, 0, true);
    al_pace_want(&pace, 0, 64 * CHUNK, 0);
    uint64_t t = 2000000;
    for (uint32_t i = 0; i < 8; i++)
        assert_true(al_pace_chunk(&pace, id, i, chunk, CHUNK, t + i * 10));
    assert_int_equal(pace.rate, 0);
    assert_true(pace.srtt_us > 600000); /* a round-trip sample from the inventory's send */
    for (uint32_t i = 8; i < 16; i++)
        assert_true(al_pace_chunk(&pace, id, i, chunk, CHUNK, t + 100 + (i - 7) * 113920u));
    assert_true(pace.rate > 12000 && pace.rate < 13000); /* 1424 bytes every 113.92 ms */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(clean_link_keeps_the_pipe_full),
        cmocka_unit_test(a_lost_chunk_is_asked_for_again_at_once),
        cmocka_unit_test(two_losses_only_the_lost_are_asked_again),
        cmocka_unit_test(a_lost_last_chunk_is_recovered),
        cmocka_unit_test(pacing_does_not_overflow_the_link_queue),
        cmocka_unit_test(a_dead_link_fails_after_backoff),
        cmocka_unit_test(a_primed_window_is_taken_not_asked_for),
        cmocka_unit_test(primed_chunks_from_a_backlog_give_no_rate),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
