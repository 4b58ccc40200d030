#!/usr/bin/env bash
# The report the device sends right after confirming is lost on the link. The server does not
# guess: the update stays where it was ("rebooting": the device confirms once its DTLS
# handshake is done, so that lost report was its first inventory) until the next inventory
# tells the truth.
BUILD=$1
. "$(dirname "$0")/lib.sh"
start_server
sign_device_os
device e1
APP=$(app app1 1.0.0 20000)
U=$(api_json POST /v1/devices/e1/updates "{\"images\":[\"$APP\"]}" | jq -r .id)
run_device e1 --lose-confirm-report --retry-ms 1500
check "the update succeeds" wait_state "$U" succeeded
check "the report was really lost" grep -q "report after confirming is lost" "$WORK/e1.log"
types=$(api GET "/v1/events?device=e1&limit=1000" | jq -r '[.events[].type] | join(" ")')
check "rebooting came before succeeded, nothing between ($types)" grep -q "update.rebooting update.succeeded" <<<"$types"
check "the device tried again after the lost report" grep -q "session: timed out; retrying" "$WORK/e1.log"
check "the device confirmed" test "$(api GET /v1/devices/e1 | jq -r .inventory.boot_state)" = confirmed
finish
