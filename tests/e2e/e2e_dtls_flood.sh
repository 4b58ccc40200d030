#!/usr/bin/env bash
# 10,000 DTLS ClientHellos from random source ports on 127.0.0.1, none returning its cookie,
# while a good device updates: the server answers them without keeping any state (a
# HelloVerifyRequest, or nothing once the address's rate is used up), so the device's
# handshake goes through and its update completes. On the old code libcoap kept a session
# per source before the cookie exchange, capped at 100 and freed after 30 s: the device was
# locked out for that long, past WAIT_S below. The figures against a run without the flood
# are bench/attacks.sh's (bench/results/attacks.txt).
BUILD=$1
. "$(dirname "$0")/lib.sh"
start_server
sign_device_os
device e1
FLOOD=$(dirname "$0")/../attack/dtls_flood.py
APP=$(app app1 1.0.0 65536)
U=$(api_json POST /v1/devices/e1/updates "{\"images\":[\"$APP\"]}" | jq -r .id)
python3 "$FLOOD" 127.0.0.1 "$COAP" 10000 >"$WORK/flood1.txt" &
FLOOD_PID=$!
PIDS+=("$FLOOD_PID")
sleep 0.2   # the flood is under way
run_device e1
python3 "$FLOOD" 127.0.0.1 "$COAP" 10000 >"$WORK/flood2.txt"   # and a second one during the update
wait "$FLOOD_PID"
cat "$WORK/flood1.txt" "$WORK/flood2.txt"
WAIT_S=25 check "the update completes during the floods (within 25 s: less than libcoap's 30 s lockout)" \
    wait_state "$U" succeeded
check "the flood got HelloVerifyRequests back (stateless answers)" \
    test "$(sed -n 's/.*verify_requests_seen=\([0-9]*\).*/\1/p' "$WORK/flood1.txt")" -gt 0
for _ in $(seq 60); do grep -q "ClientHellos refused" "$WORK/airliftd.log" && break; sleep 0.5; done
check "airliftd logged the refused ClientHellos (one line per 10 s at most)" \
    grep -q "ClientHellos refused.*cookies_sent=[1-9]" "$WORK/airliftd.log"
lines=$(grep -c "ClientHellos refused" "$WORK/airliftd.log")
check "the log lines are rate-limited ($lines for 20,000 ClientHellos)" test "$lines" -le 3
finish
