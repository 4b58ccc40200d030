#!/usr/bin/env bash
# A device that is offline when the update is queued (it never reported at all): the update
# waits, planned as an estimate; when the device comes online it completes.
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
finish
