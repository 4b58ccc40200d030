#!/usr/bin/env bash
# Operations (issue 15 item 3): GET /v1/ready, and GET /metrics whose counters and gauges move
# with a real update: a rollout updates a simulated device over DTLS; check-ins, handshakes,
# wire bytes, updates and rollouts by state and the request latency histogram follow it. An
# unknown identity and a wrong key are counted as handshake failures, each by its reason. /metrics needs a read token
# unless airliftd runs with --metrics-public.
BUILD=$1
. "$(dirname "$0")/lib.sh"
start_server
H="http://127.0.0.1:$HTTP"
code() { curl -s -o "$WORK/body" -w '%{http_code}' "$@"; }
metrics() { api GET /metrics; }
# metric NAME{LABELS}: the value of one series of the last scrape in $WORK/m (0 if absent).
metric() { awk -v k="$1" '$1 == k { v = $2 } END { print v == "" ? 0 : v }' "$WORK/m"; }

check "/v1/ready answers 200 once every listener is up" test "$(code "$H/v1/ready")" = 200
check "and says so" test "$(jq -c . "$WORK/body")" = '{"status":"ready","store":"'"$(api GET /v1/health | jq -r .store)"'"}'
check "/metrics without a token is 401" test "$(code "$H/metrics")" = 401
check "with the error shape of the API" test "$(jq -r .error.code "$WORK/body")" = unauthorized
api_json POST /v1/tokens '{"name":"scraper","scope":"read"}' >"$WORK/read-token"
READ=$(jq -r .token "$WORK/read-token")
check "a read token may scrape" test "$(code -H "Authorization: Bearer $READ" "$H/metrics")" = 200
ctype=$(curl -s -o /dev/null -w '%{content_type}' -H "Authorization: Bearer $READ" "$H/metrics")
check "in the Prometheus text format 0.0.4 ($ctype)" \
    test "$ctype" = "text/plain; version=0.0.4; charset=utf-8"
metrics >"$WORK/m"
check "every sample line is NAME[{LABELS}] VALUE" \
    test "$(grep -v '^#' "$WORK/m" | grep -cvE '^[a-z_:][a-z0-9_:]*(\{[^}]*\})? [0-9.e+-]+$')" = 0
check "every metric has its HELP and TYPE" test "$(grep -c '^# TYPE' "$WORK/m")" = "$(grep -c '^# HELP' "$WORK/m")"
checkins0=$(metric airlift_checkins_total)
hs0=$(metric airlift_dtls_handshakes_total)
check "no device yet" test "$(metric airlift_devices)" = 0

# A product, a release and a rollout that updates e1 over DTLS.
sign_device_os
api_json POST /v1/products '{"name":"tracker","platform":10}' >/dev/null
device e1
api_json PATCH /v1/devices/e1 '{"product":"tracker","groups":["field"]}' >/dev/null
APP=$(app app1 1.0.0 30000)
api_json POST /v1/products/tracker/releases "{\"version\":\"1.0.0\",\"images\":[\"$APP\"]}" >/dev/null
run_device e1
wait_device_reported e1
R=$(api_json POST /v1/rollouts '{"product":"tracker","release":"1.0.0","target":{"groups":["field"]}}' | jq -r .id)
check "rollout $R started" test "$R" -gt 0
U=""
for _ in $(seq 300); do
    U=$(api GET /v1/devices/e1/updates | jq -r '.updates[0].id // empty')
    [ -n "$U" ] && break
    sleep 0.1
done
check "the rollout queued update $U" test -n "$U"
check "update $U succeeds" wait_state "$U" succeeded
for _ in $(seq 100); do
    [ "$(api GET "/v1/rollouts/$R" | jq -r .state)" = completed ] && break
    sleep 0.2
done
sent=$(api GET /v1/devices/e1 | jq .bytes_sent)
metrics >"$WORK/m"
check "one device" test "$(metric airlift_devices)" = 1
check "online" test "$(metric airlift_devices_online)" = 1
check "check-ins went up ($checkins0 -> $(metric airlift_checkins_total))" \
    test "$(metric airlift_checkins_total)" -gt "$checkins0"
check "DTLS handshakes went up ($hs0 -> $(metric airlift_dtls_handshakes_total))" \
    test "$(metric airlift_dtls_handshakes_total)" -gt "$hs0"
wire=$(metric airlift_wire_sent_bytes_total)
check "wire bytes sent ($wire) cover the device's ($sent) and the image" \
    test "$wire" -ge "$sent" -a "$wire" -gt 30000
check "wire bytes received counted" test "$(metric airlift_wire_received_bytes_total)" -gt 0
check "updates by state: one succeeded" test "$(metric 'airlift_updates{state="succeeded"}')" = 1
check "rollouts by state: one completed" test "$(metric 'airlift_rollouts{state="completed"}')" = 1
L='route="/v1/rollouts",method="POST",code="2xx"'
check "the rollout's POST is in the latency histogram" \
    test "$(metric "airlift_http_request_duration_seconds_count{$L}")" = 1
check "in its +Inf bucket" \
    test "$(metric "airlift_http_request_duration_seconds_bucket{$L,le=\"+Inf\"}")" = 1
check "the 401 scrape is a 4xx of /metrics" \
    test "$(metric 'airlift_http_request_duration_seconds_count{route="/metrics",method="GET",code="4xx"}')" = 1
check "an unknown path is counted as unmatched" \
    test "$(code "$H/v1/nope")" = 404 -a "$(metrics | grep -c 'route="unmatched",method="",code="4xx"')" -ge 1
check "no store errors" test "$(metric airlift_store_errors_total)" = 0
check "the store is up" test "$(metric airlift_store_up)" = 1
check "process basics" test "$(metric process_resident_memory_bytes)" -gt 0

# A device the server never issued: a handshake failure by reason.
"$DEVICE" create "$WORK/stranger" --trust "$WORK/author.pub.pem" >/dev/null
"$DEVICE" provision "$WORK/stranger" --server "127.0.0.1:$COAP" --identity airlift-0000000000000000 \
    --psk 00112233445566778899aabbccddeeff >/dev/null
"$DEVICE" run "$WORK/stranger" --sessions 1 --retry-ms 200 >"$WORK/stranger.log" 2>&1
metrics >"$WORK/m"
grep "^airlift_dtls_handshake_failures_total" "$WORK/m"
check "the stranger is an unknown_identity failure" \
    test "$(metric 'airlift_dtls_handshake_failures_total{reason="unknown_identity"}')" = 1
check "counted once: not also as an error" \
    test "$(metric 'airlift_dtls_handshake_failures_total{reason="error"}')" = 0
# --metrics-public: scrapes need no token; the rest of the API still does. A short
# --coap-idle-timeout, for the wrong key below.
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
"$AIRLIFTD" --data-dir "$WORK/data" --http-listen 127.0.0.1:0 --coap-listen 127.0.0.1:0 \
    --port-file "$WORK/port2" --metrics-public --coap-idle-timeout 1 >>"$WORK/airliftd.log" 2>&1 &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
for _ in $(seq 100); do [ -s "$WORK/port2" ] && break; sleep 0.05; done
HTTP=$(sed -n 1p "$WORK/port2")
COAP=$(sed -n 2p "$WORK/port2")
H="http://127.0.0.1:$HTTP"
check "--metrics-public: /metrics without a token is 200" test "$(code "$H/metrics")" = 200
check "and the gauges come from the store (one succeeded update after a restart)" \
    grep -qx 'airlift_updates{state="succeeded"} 1' "$WORK/body"
check "the devices still need a token" test "$(code "$H/v1/devices")" = 401
# A registered identity with the wrong key. DTLS drops the records it cannot decrypt, so
# the server learns of the failure only when the session ends (after the device gives up,
# and the idle timeout): an "error", counted then.
"$DEVICE" provision "$WORK/e1" --server "127.0.0.1:$COAP" --identity \
    "$(api GET /v1/devices/e1 | jq -r .identity)" --psk "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >/dev/null
"$DEVICE" run "$WORK/e1" --sessions 1 --retry-ms 200 >"$WORK/badpsk.log" 2>&1
for _ in $(seq 100); do
    metrics >"$WORK/m"
    [ "$(metric 'airlift_dtls_handshake_failures_total{reason="error"}')" = 0 ] || break
    sleep 0.1
done
check "a wrong key is an error failure" \
    test "$(metric 'airlift_dtls_handshake_failures_total{reason="error"}')" = 1
check "and neither an unknown identity nor a handshake" \
    test "$(metric 'airlift_dtls_handshake_failures_total{reason="unknown_identity"}')" = 0 -a \
         "$(metric airlift_dtls_handshakes_total)" = 0
# The database fails (on PostgreSQL: its database dropped; SQLite keeps answering from its
# page cache whatever happens to the file, so the SQLite run has no such step): not ready,
# not healthy; /metrics still answers, without the database's gauges.
if [ -n "$E2E_PG_DB" ]; then
    "$PG_CLUSTER" dropdb "$AIRLIFT_TEST_PG_DIR" "$E2E_PG_DB"
    E2E_PG_DB=
    check "the database fails: /v1/ready is 503" test "$(code "$H/v1/ready")" = 503
    check "unavailable" test "$(jq -r .error.code "$WORK/body")" = unavailable
    check "so is /v1/health" test "$(code "$H/v1/health")" = 503
    check "/metrics still answers" test "$(code "$H/metrics")" = 200
    cp "$WORK/body" "$WORK/m"
    check "airlift_store_up is 0" test "$(metric airlift_store_up)" = 0
    check "the store errors are counted" test "$(metric airlift_store_errors_total)" -gt 0
    check "the database's gauges are left out" test "$(grep -c '^airlift_devices\|^airlift_updates' "$WORK/m")" = 0
fi
check "--metrics-public takes no value" "$AIRLIFTD" --metrics-public --help
out=$(printf 'metrics-public = yes\n' >"$WORK/bad.conf"; "$AIRLIFTD" --config "$WORK/bad.conf" 2>&1); rc=$?
check "a bad metrics-public in the file is exit 2 ($rc)" test "$rc" = 2
check "naming it ($out)" grep -q "metrics-public: expected true or false" <<<"$out"
finish
