#!/usr/bin/env bash
# Removal and identity (issue 12, item 4): removing a device with an active update is
# refused without --force (exit 14, naming the update); with --force the update is cancelled
# with an event and stays readable; the removed device is told so and backs off (and says
# so) instead of retrying every second; no device, update or event id is reused after
# removals and a restart; a new device of an old name has none of the old history, which
# stays reachable by the old device's id.
BUILD=$1
. "$(dirname "$0")/lib.sh"
start_server
sign_device_os
device e1
APP=$(app app1 1.0.0 30000)
"$DEVICE" run "$WORK/e1" --until-idle --retry-ms 200 >>"$WORK/e1.log" 2>&1
check "e1 reported" wait_device_reported e1
OLD_IDENTITY=$(api GET /v1/devices/e1 | jq -r .identity)
OLD_ID=$(api GET "/v1/events?device=e1&type=device.created" | jq -r '.events[0].device_id')
check "events carry the device's id ($OLD_ID)" test "$OLD_ID" -gt 0

U1=$(api_json POST /v1/devices/e1/updates "{\"images\":[\"$APP\"]}" | jq -r .id)
check "update $U1 queued" test "$(update_state "$U1")" = queued

# Without --force, and without a terminal: refused, naming the update.
"$AIRLIFT" devices remove e1 </dev/null >"$WORK/out" 2>"$WORK/err"; rc=$?
check "remove during an update: exit 14 ($rc)" test $rc -eq 14
check "it names the update and --force" grep -qF \
    "airlift: e1 has an active update: #$U1 (queued, queued by admin); nothing removed. 'airlift devices remove e1 --force' cancels it and removes the device" \
    "$WORK/err"
check "the device is still there" test "$(api GET /v1/devices/e1 | jq -r .name)" = e1
r=$(api DELETE /v1/devices/e1)
check "the API answers 409 active_update naming it" \
    test "$(jq -r '"\(.error.code) \(.error.update.id)"' <<<"$r")" = "active_update $U1"
# On a terminal it asks; anything but y keeps both.
echo n | AIRLIFT_ASSUME_TTY=1 "$AIRLIFT" devices remove e1 >"$WORK/out" 2>&1; rc=$?
check "answering n: exit 11" test $rc -eq 11
check "it asked" grep -qF "Cancel it and remove e1? [y/N]" "$WORK/out"
check "and says nothing changed" grep -qF "not confirmed: e1 and update #$U1 stay" "$WORK/out"
check "update $U1 still queued" test "$(update_state "$U1")" = queued

"$AIRLIFT" devices remove e1 --force >"$WORK/out" 2>&1; rc=$?
check "remove --force: exit 0" test $rc -eq 0
check "it says removed" grep -q "device e1 removed" "$WORK/out"
check "the update is cancelled, and still exists" test "$(update_state "$U1")" = cancelled
check "why: the device was removed" test "$(api GET "/v1/updates/$U1" | jq -r .why)" = "the device was removed (by admin)"
ev=$(api GET "/v1/events?device_id=$OLD_ID&limit=1000")
check "event update.cancelled says removed" \
    test "$(jq -r '.events[] | select(.type=="update.cancelled") | "\(.update_id) \(.data.removed) \(.data.by)"' <<<"$ev")" = "$U1 true admin"
check "then device.deleted, with the device's id" \
    test "$(jq -r '.events[-1] | "\(.type) \(.device) \(.device_id)"' <<<"$ev")" = "device.deleted e1 $OLD_ID"
check "the device is gone from the API" test "$(api GET /v1/devices/e1 | jq -r .error.code)" = not_found
check "and from the listing" test "$(api GET /v1/devices | jq '.devices | length')" -eq 0

# The removed device is told so: it backs off, and says so, instead of retrying every second.
run_device e1
sleep 4
check "the removed device says it was removed and backs off" \
    grep -q "session: the server removed this device; backing off, next try in 60 s" "$WORK/e1.log"
check "once in 4 s, not every second" test "$(grep -c 'the server removed this device' "$WORK/e1.log")" -eq 1
check "no protocol violation retried" bash -c "! grep -q 'protocol violation' '$WORK/e1.log'"
check "the server logs the removed device's check-in" grep -q "a removed device checked in" "$WORK/airliftd.log"
kill "$DEVICE_PID" 2>/dev/null

# A new device of the old name: a new identity, none of the old history.
LAST_EVENT=$(api GET "/v1/events?limit=1000" | jq '.events[-1].id')
device e1
NEW_ID=$(api GET "/v1/events?device=e1" | jq -r '.events[0].device_id')
check "the new e1 has a new identity" test "$(api GET /v1/devices/e1 | jq -r .identity)" != "$OLD_IDENTITY"
check "and a new device id ($NEW_ID > $OLD_ID)" test "$NEW_ID" -gt "$OLD_ID"
ev=$(api GET "/v1/events?device=e1&limit=1000")
check "events?device=e1 has only the new device's events" \
    test "$(jq -r '[.events[] | .type] | join(",")' <<<"$ev")" = device.created
check "all of them newer than the old history" test "$(jq '.events[0].id' <<<"$ev")" -gt "$LAST_EVENT"
check "the old history stays reachable by the old id" \
    test "$(api GET "/v1/events?device_id=$OLD_ID&limit=1000" | jq -r '[.events[] | .type] | join(",")')" = \
    "device.created,update.queued,update.cancelled,device.deleted"
check "airlift events --device-id shows the old history" \
    test "$("$AIRLIFT" --json events --device-id "$OLD_ID" | jq -rs '[.[].type] | join(",")')" = \
    "device.created,update.queued,update.cancelled,device.deleted"
check "updates of the new e1: none of the old" test "$(api GET /v1/devices/e1/updates | jq '.updates | length')" -eq 0
U2=$(api_json POST /v1/devices/e1/updates "{\"images\":[\"$APP\"]}" | jq -r .id)
check "a new update gets a new id ($U2 > $U1)" test "$U2" -gt "$U1"

# Remove the device that holds the newest update, restart: still no id comes back.
echo y | AIRLIFT_ASSUME_TTY=1 "$AIRLIFT" devices remove e1 >"$WORK/out" 2>&1; rc=$?
check "answering y on a terminal removes it: exit 0" test $rc -eq 0
check "and cancels update $U2" test "$(update_state "$U2")" = cancelled
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
start_server
LAST_EVENT2=$(api GET "/v1/events?limit=1000&after=$LAST_EVENT" | jq '.events[-1].id')
device e1
NEW_ID2=$(api GET "/v1/events?device=e1" | jq -r '.events[0].device_id')
check "after a restart, a device id not seen before ($NEW_ID2 > $NEW_ID)" test "$NEW_ID2" -gt "$NEW_ID"
"$DEVICE" run "$WORK/e1" --until-idle --retry-ms 200 >>"$WORK/e1.log" 2>&1
U3=$(api_json POST /v1/devices/e1/updates "{\"images\":[\"$APP\"]}" | jq -r .id)
check "an update id not seen before ($U3 > $U2)" test "$U3" -gt "$U2"
check "an event id not seen before" test "$(api GET "/v1/events?device=e1" | jq '.events[0].id')" -gt "$LAST_EVENT2"
check "update $U2 of the removed device is still readable, cancelled" test "$(update_state "$U2")" = cancelled
finish
