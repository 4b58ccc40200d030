#!/usr/bin/env bash
# A device that sleeps between short sessions (its modem has a data budget per wake) says
# when it is back; the update waits for it and completes over several sessions.
BUILD=$1
. "$(dirname "$0")/lib.sh"
start_server
sign_device_os
device e1
APP=$(app app1 1.0.0 60000)
size=$(stat -c %s "$WORK/app1.alim")
U=$(api_json POST /v1/devices/e1/updates "{\"images\":[\"$APP\"]}" | jq -r .id)
run_device e1 --sleep 1 --session-bytes 16384
saw_checkin=0
for _ in $(seq 600); do
    [ "$(api GET /v1/devices/e1 | jq -r .next_checkin_at)" != null ] && saw_checkin=1
    s=$(update_state "$U"); [ "$s" = succeeded ] && break
    sleep 0.1
done
check "the update completes" test "$(update_state "$U")" = succeeded
check "the device said when it would be back" test $saw_checkin -eq 1
wakes=$(grep -c '^sleep:' "$WORK/e1.log")
check "over several sessions ($wakes sleeps)" test "$wakes" -ge 3
sent=$(api GET "/v1/updates/$U" | jq .bytes_sent)
check "each wake resumed: $sent bytes sent for $size" test $((sent * 10)) -lt $((size * 13))
finish
