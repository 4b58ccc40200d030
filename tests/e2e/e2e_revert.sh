#!/usr/bin/env bash
# Bad firmware: one build never confirms (the watchdog resets it), one crashes at boot. Both
# devices go back to the old firmware by themselves and the server reports the revert and why.
BUILD=$1
. "$(dirname "$0")/lib.sh"
start_server
sign_device_os
device e1
device e2
APP=$(app app1 1.0.0 20000)
U1=$(api_json POST /v1/devices/e1/updates "{\"images\":[\"$APP\"]}" | jq -r .id)
U2=$(api_json POST /v1/devices/e2/updates "{\"images\":[\"$APP\"]}" | jq -r .id)
run_device e1 --never-confirm
run_device e2 --crash-at-boot
check "never-confirming firmware is reverted" wait_state "$U1" reverted failed succeeded
check "crashing firmware is reverted" wait_state "$U2" reverted failed succeeded
for u in "$U1" "$U2"; do
    r=$(api GET "/v1/updates/$u")
    check "update $u: state reverted" test "$(jq -r .state <<<"$r")" = reverted
    check "update $u: why: $(jq -r .why <<<"$r")" grep -q "never confirmed" <<<"$(jq -r .why <<<"$r")"
done
check "e1 runs no application after the revert" \
    test "$(api GET /v1/devices/e1 | jq '[.inventory.modules[] | select(.function=="application")] | length')" -eq 0
check "e1 reports its boot state reverted" test "$(api GET /v1/devices/e1 | jq -r .inventory.boot_state)" = reverted
sleep 1
check "and is not sent the image again" test "$(api GET /v1/devices/e1 | jq -r .update)" = null
finish
