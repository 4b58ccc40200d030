/*
 * h_metrics.c - GET /metrics (Prometheus text exposition format 0.0.4) and GET /v1/ready
 * (issue 15; docs/operations.md lists every metric and what readiness means).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "airlift_common/buf.h"
#include "events.h"
#include "gauges.h"
#include "http_priv.h"
#include "metrics.h"
#include "reply.h"
#include "util.h"

#define METRICS_TEXT_MAX (1024u * 1024u) /* far above what 64 routes x 5 classes render */

/* "# HELP name help\n# TYPE name type\n" */
static void header(struct alc_buf *b, const char *name, const char *type, const char *help)
{
    alc_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value with \, " and newline escaped as the format asks; cut to fit out. */
static void label_escape(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; *s && o + 3 < cap; s++) {
        if (*s == '\\' || *s == '"') {
            out[o++] = '\\';
            out[o++] = *s;
        } else if (*s == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *s;
        }
    }
    out[o] = '\0';
}

static void states(struct alc_buf *b, const char *name, const struct ald_state_count *rows,
                   size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char v[2 * ALD_UPDATE_STATE_MAX + 3];
        label_escape(rows[i].state, v, sizeof v);
        alc_buf_printf(b, "%s{state=\"%s\"} %" PRIu64 "\n", name, v, rows[i].n);
    }
}

/* Milliseconds as seconds with three decimals ("0.250"). */
static void seconds(char *out, size_t cap, uint64_t ms)
{
    snprintf(out, cap, "%" PRIu64 ".%03u", ms / 1000, (unsigned)(ms % 1000));
}

static void latency(struct alc_buf *b)
{
    static const char name[] = "airlift_http_request_duration_seconds";
    size_t nroutes = 0;
    const struct route *table = http_route_table(&nroutes);
    header(b, name, "histogram",
           "HTTP API requests by route pattern, method and status class, by duration");
    for (unsigned slot = 0; slot < ALD_METRICS_ROUTES; slot++) {
        char pattern[160], labels[sizeof pattern + 64];
        const char *method = "", *pat = "unmatched";
        if (slot < nroutes) {
            method = table[slot].method;
            pat = table[slot].pattern;
        } else if (slot != ALD_METRICS_ROUTE_NONE) {
            continue;
        }
        label_escape(pat, pattern, sizeof pattern);
        for (unsigned cls = 0; cls < ALD_METRICS_CLASSES; cls++) {
            struct ald_metrics_histogram hist;
            char le[24];
            if (!ald_metrics_read_http(slot, cls, &hist))
                continue;
            snprintf(labels, sizeof labels, "route=\"%s\",method=\"%s\",code=\"%uxx\"", pattern,
                     method, cls + 1);
            for (unsigned i = 0; i < ALD_METRICS_BUCKETS; i++) {
                seconds(le, sizeof le, ald_metrics_bucket_ms[i]);
                alc_buf_printf(b, "%s_bucket{%s,le=\"%s\"} %" PRIu64 "\n", name, labels, le,
                               hist.buckets[i]);
            }
            alc_buf_printf(b, "%s_bucket{%s,le=\"+Inf\"} %" PRIu64 "\n", name, labels,
                           hist.count);
            seconds(le, sizeof le, hist.sum_ms);
            alc_buf_printf(b, "%s_sum{%s} %s\n%s_count{%s} %" PRIu64 "\n", name, labels, le,
                           name, labels, hist.count);
        }
    }
}

/* process_*: start time, CPU seconds, resident memory, open descriptors (Linux /proc). */
static void process_basics(struct alc_buf *b, const struct ald_metrics_snapshot *s)
{
    struct rusage ru;
    long pages = 0, rss = 0, page = sysconf(_SC_PAGESIZE);
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    header(b, "process_start_time_seconds", "gauge", "Start time of the process since the epoch");
    alc_buf_printf(b, "process_start_time_seconds %" PRId64 ".%03d\n", s->started_ms / 1000,
                   (int)(s->started_ms % 1000));
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        uint64_t us = (uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec +
                      (uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec;
        header(b, "process_cpu_seconds_total", "counter", "User and system CPU time spent");
        alc_buf_printf(b, "process_cpu_seconds_total %" PRIu64 ".%06u\n", us / 1000000u,
                       (unsigned)(us % 1000000u));
    }
    if (rss > 0 && page > 0) {
        header(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes");
        alc_buf_printf(b, "process_resident_memory_bytes %ld\n", rss * page);
    }
}

HANDLER(h_metrics)
{
    struct ald_gauges g;
    struct ald_metrics_snapshot s;
    struct alc_buf b;
    /* A failing database leaves out the gauges it holds, not the counters: a scrape during
     * an outage still shows it (airlift_store_up 0, airlift_store_errors_total). */
    struct ald_result res = ald_gauges_read(h->store, ald_now_ms(), &g);
    bool store_up = ald_is_ok(&res);
    struct MHD_Response *resp;
    size_t len = 0;
    uint8_t *text;

    ald_metrics_read(&s);
    alc_buf_init(&b, METRICS_TEXT_MAX);
    header(&b, "airlift_build_info", "gauge", "airliftd's version, always 1");
    alc_buf_printf(&b, "airlift_build_info{version=\"%s\"} 1\n", AIRLIFTD_VERSION);
    header(&b, "airlift_store_up", "gauge", "1 if the database answered this scrape's queries");
    alc_buf_printf(&b, "airlift_store_up %d\n", store_up ? 1 : 0);
    if (store_up) {
        header(&b, "airlift_devices", "gauge", "Registered devices");
        alc_buf_printf(&b, "airlift_devices %" PRIu64 "\n", g.devices);
        header(&b, "airlift_devices_online", "gauge", "Devices heard from in the last 60 seconds");
        alc_buf_printf(&b, "airlift_devices_online %" PRIu64 "\n", g.devices_online);
    }
    header(&b, "airlift_checkins_total", "counter", "Inventories (check-ins) received by this node");
    alc_buf_printf(&b, "airlift_checkins_total %" PRIu64 "\n", s.checkins);
    header(&b, "airlift_dtls_handshakes_total", "counter", "DTLS handshakes completed");
    alc_buf_printf(&b, "airlift_dtls_handshakes_total %" PRIu64 "\n", s.dtls_handshakes);
    header(&b, "airlift_dtls_handshake_failures_total", "counter",
           "DTLS handshakes that failed, by reason");
    for (unsigned i = 0; i < ALD_DTLS_FAIL_COUNT; i++)
        alc_buf_printf(&b, "airlift_dtls_handshake_failures_total{reason=\"%s\"} %" PRIu64 "\n",
                       ald_metrics_dtls_failure_name((enum ald_metrics_dtls_failure)i),
                       s.dtls_failures[i]);
    if (store_up) {
        header(&b, "airlift_updates", "gauge", "Updates in the database, by state");
        states(&b, "airlift_updates", g.updates, g.update_states);
        header(&b, "airlift_rollouts", "gauge", "Rollouts in the database, by state");
        states(&b, "airlift_rollouts", g.rollouts, g.rollout_states);
    }
    header(&b, "airlift_wire_sent_bytes_total", "counter",
           "Bytes on the wire to devices (UDP/IP headers and DTLS records included)");
    alc_buf_printf(&b, "airlift_wire_sent_bytes_total %" PRIu64 "\n", s.wire_sent);
    header(&b, "airlift_wire_received_bytes_total", "counter",
           "Bytes on the wire from devices (UDP/IP headers and DTLS records included)");
    alc_buf_printf(&b, "airlift_wire_received_bytes_total %" PRIu64 "\n", s.wire_received);
    header(&b, "airlift_store_errors_total", "counter",
           "Store operations that failed with a database error or an unreachable database");
    alc_buf_printf(&b, "airlift_store_errors_total %" PRIu64 "\n", s.store_errors);
    latency(&b);
    process_basics(&b, &s);
    text = alc_buf_take(&b, &len);
    if (!text)
        return MHD_NO;
    resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    return send_reply(c, r, MHD_HTTP_OK, resp);
}

HANDLER(h_ready)
{
    const char *backend;
    int version;
    struct ald_result res;
    if (!ald_metrics_ready())
        return reply_error(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, "not_ready",
                           "airliftd is starting or stopping: not every listener is up");
    res = ald_health(h->store, &version, &backend);
    if (!ald_is_ok(&res))
        return reply_result(c, r, &res);
    return reply_json(c, r, MHD_HTTP_OK,
                      json_pack("{s:s, s:s}", "status", "ready", "store", backend));
}
