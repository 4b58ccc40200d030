#!/usr/bin/env bash
# Concurrent actions are explicit (issue 12, item 3): flashing a device that has an active
# update refuses with exit 14 and says which update and how to replace it, also when the
# image flashed is the one the device runs (what is under way counts, not only what runs);
# --replace cancels the active update with an event naming the update that replaces it;
# airlift updates list / show / cancel.
BUILD=$1
. "$(dirname "$0")/lib.sh"
start_server
sign_device_os
device e1
APP1=$(app app1 1.0.0 30000)
APP2=$(app app2 2.0.0 30000)
"$DEVICE" run "$WORK/e1" --until-idle --retry-ms 200 >>"$WORK/e1.log" 2>&1
check "e1 reported what it runs" wait_device_reported e1

# An update that stays active: the device is not running (queued is as active as downloading).
U1=$(api_json POST /v1/devices/e1/updates "{\"images\":[\"$APP1\"]}" | jq -r .id)
check "update $U1 queued" test "$(update_state "$U1")" = queued
check "it names its origin, the token that queued it" \
    test "$(api GET "/v1/updates/$U1" | jq -r '.origin + " " + .queued_by')" = "admin admin"

"$AIRLIFT" flash e1 "$WORK/app2.alim" --yes >"$WORK/out" 2>"$WORK/err"; rc=$?
check "flash during an active update: exit 14 ($rc)" test $rc -eq 14
check "it says which update is active and how to replace it" grep -qF \
    "airlift: e1 has an active update: #$U1 (queued, queued by admin); nothing queued. 'airlift flash e1 $WORK/app2.alim --replace' cancels it and queues this one; 'airlift updates cancel $U1' cancels it" \
    "$WORK/err"
check "update $U1 is untouched" test "$(update_state "$U1")" = queued

# The image the device runs, while another update is under way: a conflict too, not
# "already runs this image: nothing to send" (the device would end on 1.0.0).
"$AIRLIFT" flash e1 "$WORK/system-part1-0.6.4.alim" --yes >"$WORK/out" 2>"$WORK/err"; rc=$?
check "flashing the running image during an update: exit 14 ($rc)" test $rc -eq 14
check "with the same words" grep -qF "e1 has an active update: #$U1 (queued, queued by admin)" "$WORK/err"
check "not 'nothing to send'" bash -c "! grep -q 'nothing to send' '$WORK/out'"

r=$(api_json POST /v1/devices/e1/updates "{\"images\":[\"$APP2\"]}")
check "the API answers 409 active_update" test "$(jq -r .error.code <<<"$r")" = active_update
check "naming the active update" test "$(jq -r '"\(.error.update.id) \(.error.update.state) \(.error.update.origin)"' <<<"$r")" = "$U1 queued admin"
r=$(api_json POST /v1/devices/e1/updates "{\"images\":[\"$APP2\"],\"dry_run\":true}")
check "a dry run too" test "$(jq -r .error.code <<<"$r")" = active_update

# updates list and show.
"$AIRLIFT" updates list e1 >"$WORK/out" 2>&1; rc=$?
check "updates list: exit 0" test $rc -eq 0
check "it lists update $U1, queued by admin" grep -qE "^$U1 +queued +admin " "$WORK/out"
check "updates list --json" test "$("$AIRLIFT" --json updates list e1 | jq -r '.updates[0].id')" = "$U1"
"$AIRLIFT" updates list nobody >"$WORK/out" 2>&1; rc=$?
check "updates list of an unknown device: exit 6" test $rc -eq 6
check "naming it" grep -q "device 'nobody' does not exist" "$WORK/out"

# --replace: the active update is cancelled with an event naming its replacement.
"$AIRLIFT" flash e1 "$WORK/app2.alim" --yes --replace --no-wait >"$WORK/out" 2>"$WORK/err"; rc=$?
check "flash --replace: exit 0 ($rc)" test $rc -eq 0
U2=$(sed -n 's/^queued update #\([0-9]*\) for e1.*/\1/p' "$WORK/out")
check "a new update ($U2) is queued" test -n "$U2" -a "$U2" != "$U1"
check "the old one is cancelled" test "$(update_state "$U1")" = cancelled
check "why: replaced by the new one" test "$(api GET "/v1/updates/$U1" | jq -r .why)" = "replaced by update $U2 (queued by admin)"
ev=$(api GET "/v1/events?update=$U1&type=update.cancelled" | jq -c '.events[0].data')
check "event update.cancelled says replaced, by which update ($ev)" \
    test "$(jq -r '"\(.replaced) \(.replaced_by) \(.by)"' <<<"$ev")" = "true $U2 admin"

"$AIRLIFT" updates show "$U2" >"$WORK/out" 2>&1; rc=$?
check "updates show: exit 0" test $rc -eq 0
check "it shows the update, state and origin" grep -q "^update #$U2 of e1: queued" "$WORK/out"
check "and its step" grep -q "application 1 2.0.0" "$WORK/out"
check "updates show --json is the update object" test "$("$AIRLIFT" --json updates show "$U2" | jq -r .origin)" = admin
"$AIRLIFT" updates show x7 >"$WORK/out" 2>&1; rc=$?
check "updates show x7: exit 2" test $rc -eq 2
check "saying it is not an id" grep -q "'x7' is not an update id" "$WORK/out"
"$AIRLIFT" updates show 999999 >"$WORK/out" 2>&1; rc=$?
check "updates show of an unknown id: exit 6" test $rc -eq 6
check "naming it" grep -q "update '999999' does not exist" "$WORK/out"

# updates cancel.
"$AIRLIFT" updates cancel "$U2" >"$WORK/out" 2>&1; rc=$?
check "updates cancel: exit 0" test $rc -eq 0
check "it says so" grep -q "update #$U2 of e1 cancelled" "$WORK/out"
check "the update is cancelled" test "$(update_state "$U2")" = cancelled
"$AIRLIFT" updates cancel "$U2" >"$WORK/out" 2>&1; rc=$?
check "cancelling it again: exit 6" test $rc -eq 6
check "saying how it ended" grep -q "update #$U2 of e1 already ended (cancelled: cancelled by a user): nothing to cancel" "$WORK/out"

# --replace with the image the device runs: what was under way goes, nothing is sent.
U3=$(api_json POST /v1/devices/e1/updates "{\"images\":[\"$APP1\"]}" | jq -r .id)
"$AIRLIFT" flash e1 "$WORK/system-part1-0.6.4.alim" --yes --replace >"$WORK/out" 2>&1; rc=$?
check "flash --replace of the running image: exit 0" test $rc -eq 0
check "it says the active update was cancelled" grep -q "update #$U3 of e1 cancelled (replaced)" "$WORK/out"
check "and that nothing is sent" grep -q "already runs this image: nothing to send" "$WORK/out"
check "update $U3 is cancelled" test "$(update_state "$U3")" = cancelled
check "the device has no active update" test "$(api GET /v1/devices/e1 | jq -r .update)" = null

# With nothing under way, flash works as ever, to the end.
run_device e1
"$AIRLIFT" flash e1 "$WORK/app2.alim" --yes >"$WORK/out" 2>&1; rc=$?
check "flash with no active update: exit 0" test $rc -eq 0
check "the device runs 2.0.0" grep -q "e1 now runs application 1 2.0.0 (confirmed)" "$WORK/out"
"$AIRLIFT" updates list e1 >"$WORK/out" 2>&1
check "updates list shows all of them, newest first" \
    test "$(awk 'NR>1 {print $2}' "$WORK/out" | tr '\n' ' ')" = "succeeded cancelled cancelled cancelled "
finish
