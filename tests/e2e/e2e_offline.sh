#!/usr/bin/env bash
# A device that is offline when the update is queued (it never reported at all): the update
# waits, planned as an estimate; when the device comes online it completes. The same for
# modules that depend on each other and on what the device runs (Device OS 0.7.0's three
# system parts, in the order given backwards): the estimate lists them, and the real plan
# orders them from the first inventory.
BUILD=$1
. "$(dirname "$0")/lib.sh"
start_server
sign_device_os
device e1
APP=$(app app1 1.0.0 30000)
r=$(api_json POST /v1/devices/e1/updates "{\"images\":[\"$APP\"]}")
U=$(jq -r .id <<<"$r")
check "queued for a device never seen" test "$(jq -r .state <<<"$r")" = queued
check "planned as an estimate until it reports" test "$(jq -r .estimate_only <<<"$r")" = true
check "the device is offline" test "$(jq -r .device_online <<<"$r")" = false
sleep 1
check "still queued a second later" test "$(update_state "$U")" = queued
run_device e1
check "the update completes once the device is online" wait_state "$U" succeeded
check "the estimate is replaced by the real plan" test "$(api GET "/v1/updates/$U" | jq -r .estimate_only)" = null

device e2
sys=$(for p in 3 2 1; do upload "$WORK/system-part$p-0.7.0.alim"; done | jq -R . | jq -s -c .)
r=$(api_json POST /v1/devices/e2/updates "{\"images\":$sys}")
U=$(jq -r .id <<<"$r")
check "dependent modules for a device never seen: queued as an estimate" \
    test "$(jq -c '[.state, .estimate_only, (.steps | length)]' <<<"$r")" = '["queued",true,3]'
run_device e2
check "they install once the device is online" wait_state "$U" succeeded
check "in the order the real plan chose (system 3, 1, 2: Particle's part 1, 2, 3)" \
    test "$(api GET "/v1/updates/$U" | jq -c '[.steps[] | .index]')" = '[3,1,2]'
finish
