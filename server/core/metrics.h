/*
 * metrics.h - airliftd's process-wide counters for GET /metrics (docs/operations.md).
 *
 * The counters are plain 64-bit atomics updated with relaxed ordering: no lock on any hot
 * path (the device endpoint, every HTTP request, every store operation). The HTTP layer
 * renders them (server/http/h_metrics.c) together with the gauges it asks the store for
 * (devices, updates and rollouts by state), which live in the database and are not kept
 * here. Every function may be called from any thread at any time, before or after anything.
 */
#ifndef AIRLIFTD_METRICS_H
#define AIRLIFTD_METRICS_H

#include <stdbool.h>
#include <stdint.h>

/* Why a DTLS handshake failed (the "reason" label of airlift_dtls_handshake_failures_total). */
enum ald_metrics_dtls_failure {
    ALD_DTLS_FAIL_BAD_IDENTITY = 0,   /* no PSK identity, or one longer than the limit */
    ALD_DTLS_FAIL_UNKNOWN_IDENTITY,   /* an identity that names no device */
    ALD_DTLS_FAIL_ERROR,              /* the handshake broke off (wrong key, bad record, ...) */
    /* issue 14 (creds): device certificates */
    ALD_DTLS_FAIL_CERT_EXPIRED,       /* expired, or not yet valid */
    ALD_DTLS_FAIL_CERT_UNKNOWN_CA,    /* not from a configured device CA */
    ALD_DTLS_FAIL_CERT_UNKNOWN,       /* a good certificate whose key names no device */
    ALD_DTLS_FAIL_REVOKED,            /* its device was removed or is disabled */
    ALD_DTLS_FAIL_COUNT
};

/* The label value of a failure reason ("bad_identity", "unknown_identity", "error"). */
const char *ald_metrics_dtls_failure_name(enum ald_metrics_dtls_failure reason);

/* The HTTP latency histogram's buckets: upper bounds in milliseconds, ascending (the
 * rendering adds +Inf). */
#define ALD_METRICS_BUCKETS 12
extern const uint32_t ald_metrics_bucket_ms[ALD_METRICS_BUCKETS];

/* Routes the histogram tells apart: route slots 0..ALD_METRICS_ROUTES-2 are the router's
 * table index; the last slot is every request that matched no route. */
#define ALD_METRICS_ROUTES 64
#define ALD_METRICS_ROUTE_NONE (ALD_METRICS_ROUTES - 1)
/* Status classes 1xx..5xx, as index 0..4. */
#define ALD_METRICS_CLASSES 5

/* A snapshot of every counter (ald_metrics_read). */
struct ald_metrics_snapshot {
    uint64_t checkins;
    uint64_t dtls_handshakes;
    uint64_t dtls_failures[ALD_DTLS_FAIL_COUNT];
    uint64_t wire_sent, wire_received;
    uint64_t store_errors;
    int64_t started_ms; /* wall clock of ald_metrics_start(); 0 if never called */
};

/* The snapshot of one (route, status class) histogram. */
struct ald_metrics_histogram {
    uint64_t count;
    uint64_t sum_ms;
    uint64_t buckets[ALD_METRICS_BUCKETS]; /* cumulative: requests at or under each bound */
};

/* Note the process's start (for process_start_time_seconds). */
void ald_metrics_start(int64_t now_ms);

/* A device checked in (an inventory reached the device endpoint). */
void ald_metrics_checkin(void);
/* A DTLS handshake completed. */
void ald_metrics_dtls_handshake(void);
/* A DTLS handshake failed for `reason` (out-of-range reasons are counted as ERROR). */
void ald_metrics_dtls_failure(enum ald_metrics_dtls_failure reason);
/* Wire bytes to (sent) and from (received) devices, as accounted by the device endpoint. */
void ald_metrics_wire(uint64_t sent, uint64_t received);
/* A store operation failed with an error or an unavailable database (not EXISTS, NOT_FOUND,
 * CONFLICT or RETRY, which are answers). */
void ald_metrics_store_error(void);
/* An HTTP request ended: its route slot (see ALD_METRICS_ROUTES; out of range: NONE), its
 * status and how long it took. */
void ald_metrics_http(unsigned route, unsigned status, uint64_t ms);

/* Read every counter (each one atomically; the set is not one instant). */
void ald_metrics_read(struct ald_metrics_snapshot *out);
/* Read the histogram of (route, class); false if it has no request yet. */
bool ald_metrics_read_http(unsigned route, unsigned cls, struct ald_metrics_histogram *out);

/* Readiness (GET /v1/ready): set once every listener is up, cleared at shutdown. */
void ald_metrics_set_ready(bool ready);
bool ald_metrics_ready(void);

#endif
