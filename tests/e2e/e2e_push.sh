#!/usr/bin/env bash
# issue 16 (speed): an update reaches a connected device without waiting for its next
# check-in, and the install's reset keeps the device's DTLS session. The device checks in
# once and then only every 10 minutes (--poll-ms 600000), listening on its session
# (inventory flag 0x08): airliftd sends it the plan unasked, with the first window of the
# download after it; the device downloads the rest, installs, resets keeping its DTLS
# session in retained RAM, proves the session by an answer of the server and confirms in its
# first inventory. One handshake and two check-ins in all. On the old code the update waited
# for the next check-in, 10 minutes away, and the reset shook hands anew. (A device whose
# pushed plan is lost sees the first window's chunks come without it and checks in at once:
# one check-in more.)
BUILD=$1
. "$(dirname "$0")/lib.sh"
start_server
sign_device_os
device e1
APP=$(app app1 1.0.0 60000)
run_device e1 --poll-ms 600000 --latency 20 # a clean link: the plan is not lost (see below)
check "the device checked in" wait_device_reported e1
sleep 1 # its session is idle now: the next check-in is 10 minutes away
U=$(api_json POST /v1/devices/e1/updates "{\"images\":[\"$APP\"]}" | jq -r .id)
WAIT_S=90 check "the update succeeds without waiting for the next check-in" wait_state "$U" succeeded
types=$(api GET "/v1/events?device=e1&limit=1000" | jq -r '[.events[].type] | join(" ")')
check "downloading, installing, rebooting, succeeded ($types)" \
    grep -q "update.downloading.*update.installing update.rebooting update.succeeded" <<<"$types"
metrics=$(curl -s -H "Authorization: Bearer $TOKEN" "$AIRLIFT_SERVER/metrics")
check "one DTLS handshake in all: the session outlived the reset" \
    grep -qx "airlift_dtls_handshakes_total 1" <<<"$metrics"
check "two check-ins: the first, and the new firmware's confirmed one" \
    grep -qx "airlift_checkins_total 2" <<<"$metrics"
check "the new firmware confirmed once it reached the server" \
    grep -q "firmware: reached the server; confirmed the new image" "$WORK/e1.log"
check "the device runs the new application, confirmed" \
    test "$(api GET /v1/devices/e1 | jq -r '.inventory | .boot_state + " " + (.modules[] | select(.function=="application") | .version)')" = "confirmed 1.0.0"
finish
