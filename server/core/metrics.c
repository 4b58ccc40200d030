/*
 * metrics.c - see metrics.h. Every counter is a uint64_t touched only by __atomic builtins.
 */
#include "metrics.h"

#include <string.h>

#define ADD(var, n) __atomic_fetch_add(&(var), (n), __ATOMIC_RELAXED)
#define GET(var) __atomic_load_n(&(var), __ATOMIC_RELAXED)

const uint32_t ald_metrics_bucket_ms[ALD_METRICS_BUCKETS] = {1,   5,    10,   25,   50,    100,
                                                             250, 500, 1000, 2500, 5000, 10000};

static struct {
    uint64_t checkins;
    uint64_t dtls_handshakes;
    uint64_t dtls_failures[ALD_DTLS_FAIL_COUNT];
    uint64_t wire_sent, wire_received;
    uint64_t store_errors;
    int64_t started_ms;
    int ready;
    /* Per bucket (not cumulative) counts; made cumulative when read. */
    struct {
        uint64_t count, sum_ms;
        uint64_t buckets[ALD_METRICS_BUCKETS];
    } http[ALD_METRICS_ROUTES][ALD_METRICS_CLASSES];
} m;

const char *ald_metrics_dtls_failure_name(enum ald_metrics_dtls_failure reason)
{
    switch (reason) {
    case ALD_DTLS_FAIL_BAD_IDENTITY:
        return "bad_identity";
    case ALD_DTLS_FAIL_UNKNOWN_IDENTITY:
        return "unknown_identity";
    case ALD_DTLS_FAIL_CERT_EXPIRED: /* issue 14 (creds) */
        return "cert_expired";
    case ALD_DTLS_FAIL_CERT_UNKNOWN_CA:
        return "cert_unknown_ca";
    case ALD_DTLS_FAIL_CERT_UNKNOWN:
        return "cert_unknown";
    case ALD_DTLS_FAIL_REVOKED:
        return "revoked";
    default:
        return "error";
    }
}

void ald_metrics_start(int64_t now_ms)
{
    __atomic_store_n(&m.started_ms, now_ms, __ATOMIC_RELAXED);
}

void ald_metrics_checkin(void)
{
    ADD(m.checkins, 1);
}

void ald_metrics_dtls_handshake(void)
{
    ADD(m.dtls_handshakes, 1);
}

void ald_metrics_dtls_failure(enum ald_metrics_dtls_failure reason)
{
    unsigned i = (unsigned)reason < ALD_DTLS_FAIL_COUNT ? (unsigned)reason : ALD_DTLS_FAIL_ERROR;
    ADD(m.dtls_failures[i], 1);
}

void ald_metrics_wire(uint64_t sent, uint64_t received)
{
    ADD(m.wire_sent, sent);
    ADD(m.wire_received, received);
}

void ald_metrics_store_error(void)
{
    ADD(m.store_errors, 1);
}

void ald_metrics_http(unsigned route, unsigned status, uint64_t ms)
{
    unsigned cls = status >= 100 && status < 600 ? status / 100 - 1 : ALD_METRICS_CLASSES - 1;
    unsigned b = 0;
    if (route >= ALD_METRICS_ROUTES)
        route = ALD_METRICS_ROUTE_NONE;
    while (b < ALD_METRICS_BUCKETS && ms > ald_metrics_bucket_ms[b])
        b++;
    if (b < ALD_METRICS_BUCKETS)
        ADD(m.http[route][cls].buckets[b], 1);
    ADD(m.http[route][cls].sum_ms, ms);
    ADD(m.http[route][cls].count, 1);
}

void ald_metrics_read(struct ald_metrics_snapshot *out)
{
    memset(out, 0, sizeof *out);
    out->checkins = GET(m.checkins);
    out->dtls_handshakes = GET(m.dtls_handshakes);
    for (unsigned i = 0; i < ALD_DTLS_FAIL_COUNT; i++)
        out->dtls_failures[i] = GET(m.dtls_failures[i]);
    out->wire_sent = GET(m.wire_sent);
    out->wire_received = GET(m.wire_received);
    out->store_errors = GET(m.store_errors);
    out->started_ms = GET(m.started_ms);
}

bool ald_metrics_read_http(unsigned route, unsigned cls, struct ald_metrics_histogram *out)
{
    uint64_t below = 0;
    memset(out, 0, sizeof *out);
    if (route >= ALD_METRICS_ROUTES || cls >= ALD_METRICS_CLASSES)
        return false;
    /* A request may land between these reads: each cumulative bucket is clamped to the
     * count read first, so the exposition stays consistent (bucket <= count). */
    out->count = GET(m.http[route][cls].count);
    if (out->count == 0)
        return false;
    out->sum_ms = GET(m.http[route][cls].sum_ms);
    for (unsigned b = 0; b < ALD_METRICS_BUCKETS; b++) {
        below += GET(m.http[route][cls].buckets[b]);
        out->buckets[b] = below < out->count ? below : out->count;
    }
    return true;
}

void ald_metrics_set_ready(bool ready)
{
    __atomic_store_n(&m.ready, ready ? 1 : 0, __ATOMIC_RELEASE);
}

bool ald_metrics_ready(void)
{
    return __atomic_load_n(&m.ready, __ATOMIC_ACQUIRE) != 0;
}
