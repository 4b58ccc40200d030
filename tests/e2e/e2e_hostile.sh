#!/usr/bin/env bash
# Bad actors and bad input: a wrong PSK, an unknown identity, garbage datagrams, malformed
# CoAP and HTTP payloads, a bad token. Each gets a clear refusal and the server keeps serving
# the good device, whose update completes meanwhile.
BUILD=$1
. "$(dirname "$0")/lib.sh"
start_server
sign_device_os
device good
device badpsk
device stranger
APP=$(app app1 1.0.0 40000)
U=$(api_json POST /v1/devices/good/updates "{\"images\":[\"$APP\"]}" | jq -r .id)

# A wrong key and an identity the server never issued: the DTLS handshake fails.
"$DEVICE" provision "$WORK/badpsk" --server "127.0.0.1:$COAP" --identity \
    "$(api GET /v1/devices/badpsk | jq -r .identity)" --psk "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >/dev/null
"$DEVICE" provision "$WORK/stranger" --server "127.0.0.1:$COAP" --identity airlift-0000000000000000 \
    --psk 00112233445566778899aabbccddeeff >/dev/null
run_device badpsk --sessions 1
BAD_PID=$DEVICE_PID
run_device stranger --sessions 1
STRANGER_PID=$DEVICE_PID
# Garbage at the DTLS port: random datagrams and a truncated DTLS record.
for i in $(seq 20); do head -c $((i * 37)) /dev/urandom >/dev/udp/127.0.0.1/"$COAP"; done
printf '\x16\xfe\xfd\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff' >/dev/udp/127.0.0.1/"$COAP"
run_device good
check "the good device's update completes meanwhile" wait_state "$U" succeeded
wait "$BAD_PID" "$STRANGER_PID"
check "the wrong PSK never got in" grep -Eq "link failed|timed out" "$WORK/badpsk.log"
check "nor did the stranger" grep -Eq "link failed|timed out" "$WORK/stranger.log"
check "the wrong-PSK device was never seen" test "$(api GET /v1/devices/badpsk | jq -r .last_seen_at)" = null
check "the server logged the unknown identity" grep -q "unknown identity" "$WORK/airliftd.log"

# HTTP: bad token, malformed JSON, unknown fields, bad hashes, unknown images and devices.
code() { curl -s -o "$WORK/body" -w '%{http_code}' "$@"; }
H="http://127.0.0.1:$HTTP"
check "a bad token is 401" test "$(code -H 'Authorization: Bearer nope' "$H/v1/devices")" = 401
check "no token is 401" test "$(code "$H/v1/devices")" = 401
j=(-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json')
check "malformed JSON is 400 bad_json" test "$(code "${j[@]}" --data '{"images":' "$H/v1/devices/good/updates")" = 400 -a "$(jq -r .error.code "$WORK/body")" = bad_json
check "an unknown field is 400" test "$(code "${j[@]}" --data '{"imagez":[]}' "$H/v1/devices/good/updates")" = 400
check "images must be a list of hashes" test "$(code "${j[@]}" --data '{"images":"x"}' "$H/v1/devices/good/updates")" = 400
check "a malformed hash is 400" test "$(code "${j[@]}" --data '{"images":["XYZ"]}' "$H/v1/devices/good/updates")" = 400
check "an image not held is 422 unknown_image" test "$(code "${j[@]}" --data "{\"images\":[\"$(printf 'a%.0s' $(seq 64))\"]}" "$H/v1/devices/good/updates")" = 422 -a "$(jq -r .error.code "$WORK/body")" = unknown_image
check "an unknown device is 404" test "$(code "${j[@]}" --data "{\"images\":[\"$APP\"]}" "$H/v1/devices/nobody/updates")" = 404
check "an unknown update is 404" test "$(code -H "Authorization: Bearer $TOKEN" "$H/v1/updates/999")" = 404
check "cancelling a finished update is 409" test "$(code -X POST -H "Authorization: Bearer $TOKEN" "$H/v1/updates/$U/cancel")" = 409

# Plain CoAP (the development mode) lets a test send malformed messages straight to the
# handlers, which are the same as under DTLS.
WORK_MAIN=$WORK; WORK=$WORK/plain; mkdir -p "$WORK"
# A second server of its own (its own store, also when the tests run on PostgreSQL).
start_server --coap-security none --store "sqlite:$WORK/airlift.db"
ID=$(api_json POST /v1/devices '{"name":"p1","platform":10}' | jq -r .identity)
cc() { coap-client-notls -B 3 "$@" 2>&1; }
check "plain CoAP: garbage inventory is 4.00" grep -q "4.00" <<<"$(cc -m post -e garbage "coap://127.0.0.1:$COAP/i?id=$ID")"
check "plain CoAP: garbage status is 4.00" grep -q "4.00" <<<"$(cc -m post -e xx "coap://127.0.0.1:$COAP/s?id=$ID")"
check "plain CoAP: an unknown device is 4.01" grep -q "4.01" <<<"$(cc -m post -e garbage "coap://127.0.0.1:$COAP/i?id=nobody")"
check "plain CoAP: a transfer not planned is 4.04" grep -q "4.04" <<<"$(cc -m get "coap://127.0.0.1:$COAP/f/123/0?id=$ID")"
check "plain CoAP: a bad path is 4.04" grep -q "4.04" <<<"$(cc -m get "coap://127.0.0.1:$COAP/f/x/../../etc?id=$ID")"
check "the plain server still answers health" test "$(curl -s "http://127.0.0.1:$HTTP/v1/health" | jq -r .status)" = ok
WORK=$WORK_MAIN
finish
