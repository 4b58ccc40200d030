#!/usr/bin/env bash
# issue 11 (checkin): a page of devices takes its modules from one store query
# (device_modules_many), each device's rows its own, in any sort order; and a device removed
# while its session is open is told so at its next inventory of that session (the session's
# device row, core/devcache.c, is invalidated by the removal), then backs off.
BUILD=$1
. "$(dirname "$0")/lib.sh"
start_server
sign_device_os
APP=$(app app1 1.2.0 20000)
device e1
device e2
device e3
# e2 runs an application besides Device OS: its modules differ from the others'.
"$DEVICE" install "$WORK/e2" "$WORK/app1.alim" >>"$WORK/e2.log" 2>&1
for d in e1 e2 e3; do
    "$DEVICE" run "$WORK/$d" --until-idle --retry-ms 200 >>"$WORK/$d.log" 2>&1
    check "$d reported" wait_device_reported "$d"
done
mods() { jq -c '[.devices[] | {name, modules}]'; }
one_by_one=$(for d in e3 e2 e1; do api GET "/v1/devices?prefix=$d&limit=1" | mods; done | jq -sc add)
check "e2's listing has its application" \
    test "$(api GET '/v1/devices?prefix=e2' | jq -r '.devices[0].modules[] | select(.function == "application") | .version')" = 1.2.0
check "e1's has none" \
    test "$(api GET '/v1/devices?prefix=e1' | jq '[.devices[0].modules[] | select(.function == "application")] | length')" -eq 0
check "e1 has its Device OS modules" \
    test "$(api GET '/v1/devices?prefix=e1' | jq '.devices[0].modules | length')" -ge 4
check "a page in reverse name order: each device its own modules" \
    test "$(api GET '/v1/devices?sort=-name' | mods)" = "$one_by_one"
check "a page of 2 in reverse order: the same rows" \
    test "$(api GET '/v1/devices?sort=-name&limit=2' | mods)" = "$(jq -c '.[:2]' <<<"$one_by_one")"

# e1 stays on line: one DTLS session, an inventory every half second; removed meanwhile.
run_device e1
sleep 2
api DELETE /v1/devices/e1 >"$WORK/out"
check "e1 removed" test "$(api GET /v1/devices/e1 | jq -r .error.code)" = not_found
for _ in $(seq 100); do
    grep -q "the server removed this device" "$WORK/e1.log" && break
    sleep 0.1
done
check "the device is told it was removed, and backs off" \
    grep -q "session: the server removed this device; backing off" "$WORK/e1.log"
check "the server logged the removed device's check-in" \
    grep -q "a removed device checked in" "$WORK/airliftd.log"
kill "$DEVICE_PID" 2>/dev/null
finish
