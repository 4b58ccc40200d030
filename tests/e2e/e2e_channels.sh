#!/usr/bin/env bash
# One desired release per device (docs/fleets.md), with real devices and the real CLI:
#   1. Two rollouts (2.1.0, then 2.2.0) to the "field" group complete; a device that joins
#      the group afterwards gets exactly one update, to 2.2.0 (the defect: both queued one,
#      or, later, neither); the completed rollout's counts and why match its device list; a
#      pinned device says so ("pinned") and is left alone.
#   2. A newer rollout supersedes an older one: its devices that had not started move to
#      the newer release with an event each, the one already updating finishes first.
#   3. A target group or channel no device has is refused (text and exit code) unless
#      --allow-empty; --dry-run shows the waves, what each device needs and the bytes, and
#      starts nothing. A device flashed by hand while a rollout runs is left alone and the
#      rollout says so ("flashed by hand").
#   4. Events: rollout.wave for wave 1; a rollout's update.queued carries its rollout_id.
#      A release listing one image twice is refused, naming it.
BUILD=$1
. "$(dirname "$0")/lib.sh"
start_server
sign_device_os
api_json POST /v1/products '{"name":"tracker","platform":10}' >/dev/null

# member NAME GROUP: a device (see lib.sh: device) of the product, in GROUP.
member() {
    device "$1"
    api_json PATCH "/v1/devices/$1" "{\"product\":\"tracker\",\"groups\":[\"$2\"]}" >/dev/null
}
release() { # release VERSION HASH...: a release of the product with those images
    local v=$1; shift
    api_json POST /v1/products/tracker/releases \
        "{\"version\":\"$v\",\"images\":$(printf '%s\n' "$@" | jq -R . | jq -s -c .)}" >/dev/null
}
rollout() { api GET "/v1/rollouts/$1"; }
wait_rollout() { # wait_rollout ID JQ-CONDITION
    local deadline=$((SECONDS + ${WAIT_S:-180}))
    while [ $SECONDS -lt $deadline ]; do
        [ "$(rollout "$1" | jq "$2")" = true ] && return 0
        sleep 0.3
    done
    echo "rollout $1: $(rollout "$1" | jq -c '{state, why, counts}')" >&2
    return 1
}
# counts_match ID: the rollout's device count and per-state counts are its device list's.
counts_match() {
    local ro list
    ro=$(rollout "$1")
    list=$(api GET "/v1/rollouts/$1/devices")
    [ "$(jq .devices <<<"$ro")" = "$(jq '.devices | length' <<<"$list")" ] &&
        [ "$(jq '[.counts[]] | add' <<<"$ro")" = "$(jq .devices <<<"$ro")" ] &&
        [ "$(jq -S -c '.counts | with_entries(select(.value > 0))' <<<"$ro")" = \
          "$(jq -S -c '.devices | group_by(.state) | map({key: .[0].state, value: length}) | from_entries' <<<"$list")" ]
}
updates_of() { api GET "/v1/devices/$1/updates" | jq '.updates | length'; }
app_version() {
    api GET "/v1/devices/$1" | jq -r '[.inventory.modules[]? | select(.function=="application") | .version][0]'
}

member a1 field
member a2 field
member p1 field
api_json PATCH /v1/devices/p1 '{"pinned":"1.0.0"}' >/dev/null
run_device a1
run_device a2
wait_device_reported a1
wait_device_reported a2

# ---- 1. two rollouts complete; a device joins later ----
APP21=$(app app21 2.1.0 6000)
APP22=$(app app22 2.2.0 6000)
release 2.1.0 "$APP21"
release 2.2.0 "$APP22"
"$AIRLIFT" release tracker 2.1.0 --to group:field >"$WORK/out" 2>&1
R1=$(sed -n 's/^rollout #\([0-9]*\) started.*/\1/p' "$WORK/out")
check "rollout $R1 of 2.1.0 started" test -n "$R1"
check "rollout $R1 completes" wait_rollout "$R1" '.state == "completed"'
R2=$(api_json POST /v1/rollouts '{"product":"tracker","release":"2.2.0","target":{"groups":["field"]}}' | jq -r .id)
check "rollout $R2 of 2.2.0 completes" wait_rollout "$R2" '.state == "completed"'
check "a1 and a2 run 2.2.0" test "$(app_version a1) $(app_version a2)" = "2.2.0 2.2.0"
check "each got one update per rollout" test "$(updates_of a1) $(updates_of a2)" = "2 2"
check "the pinned device says so in rollout $R1" \
    test "$(api GET "/v1/rollouts/$R1/devices" | jq -r '.devices[] | select(.device=="p1") | .state')" = pinned
"$AIRLIFT" rollouts devices "$R1" >"$WORK/out" 2>&1
check "rollouts devices shows p1 pinned" grep -Eq '^p1 +[0-9]+ +pinned' "$WORK/out"
"$AIRLIFT" devices show p1 >"$WORK/out" 2>&1
check "devices show says p1 is pinned in its newest rollout" grep -Eq "^rollout: #[0-9]+ \(release [^)]+\), wave [0-9]+: pinned$" "$WORK/out"
check "the pinned device got no update" test "$(updates_of p1)" -eq 0
check "rollout $R1's why counts its devices: $(rollout "$R1" | jq -r .why)" \
    test "$(rollout "$R1" | jq -r .why)" = "3 devices: 2 succeeded, 0 failed, 1 pinned"

member late field
run_device late
check "the late joiner runs 2.2.0" bash -c "for _ in \$(seq 600); do
    [ \"\$(curl -s -H 'Authorization: Bearer $TOKEN' http://127.0.0.1:$HTTP/v1/devices/late |
          jq -r '[.inventory.modules[]? | select(.function==\"application\") | .version][0]')\" = 2.2.0 ] && exit 0
    sleep 0.2; done; exit 1"
check "rollout $R2 completes again, with the late joiner" \
    wait_rollout "$R2" '.state == "completed" and .counts.succeeded == 3'
sleep 2 # a second update, were one queued, would be there by now
check "the late joiner got exactly one update ($(updates_of late))" test "$(updates_of late)" -eq 1
check "... to 2.2.0" test "$(api GET "/v1/images/$(api GET /v1/devices/late/updates | jq -r '.updates[0].images[0]')" | jq -r .sha256)" = "$APP22"
check "rollout $R1 (2.1.0) did not take it" \
    test "$(api GET "/v1/rollouts/$R1/devices" | jq '[.devices[] | select(.device=="late")] | length')" -eq 0
for R in "$R1" "$R2"; do
    check "rollout $R's counts match its device list" counts_match "$R"
done
check "rollout $R2's why counts the late joiner: $(rollout "$R2" | jq -r .why)" \
    test "$(rollout "$R2" | jq -r .why)" = "4 devices: 3 succeeded, 0 failed, 1 pinned"

# ---- 2. a newer rollout supersedes an older one ----
member b0 lab # never runs (yet): its update stays queued, wave 1 stays open
member b1 lab
member b2 lab
run_device b1
run_device b2
wait_device_reported b1
APP23=$(app app23 2.3.0 6000)
APP24=$(app app24 2.4.0 6000)
release 2.3.0 "$APP23"
release 2.4.0 "$APP24"
R3=$(api_json POST /v1/rollouts '{"product":"tracker","release":"2.3.0","target":{"groups":["lab"]},
     "waves":[{"count":1},{"percent":100}]}' | jq -r .id)
check "rollout $R3: b0 updating, b1 and b2 waiting" \
    wait_rollout "$R3" '.counts.updating == 1 and .counts.pending == 2'
"$AIRLIFT" release tracker 2.4.0 --to group:lab >"$WORK/out" 2>&1
R4=$(sed -n 's/^rollout #\([0-9]*\) started.*/\1/p' "$WORK/out")
check "rollout $R4 of 2.4.0 started" test -n "$R4"
check "rollout $R3 is superseded" test "$(rollout "$R3" | jq -r .state)" = superseded
check "... and says by which: $(rollout "$R3" | jq -r .why)" \
    test "$(rollout "$R3" | jq -r .why)" = "superseded by rollout $R4 (release 2.4.0)"
ev=$(api GET "/v1/events?rollout=$R3&limit=1000")
check "a rollout.superseded event" test "$(jq '[.events[] | select(.type=="rollout.superseded")] | length' <<<"$ev")" -eq 1
for d in b1 b2; do
    check "$d moved to rollout $R4, with an event" test "$(jq -r "[.events[] | select(.type==\"rollout.device\" and .device==\"$d\" and .data.state==\"superseded\")][0].data.why" <<<"$ev")" = "moved to rollout $R4 (release 2.4.0)"
done
check "b1 and b2 get 2.4.0" wait_rollout "$R4" '.counts.succeeded == 2'
check "... with one update each, none of 2.3.0" test "$(updates_of b1) $(updates_of b2)" = "1 1"
check "b0's update of rollout $R3 was not cancelled" \
    test "$(api GET "/v1/rollouts/$R3/devices" | jq -r '.devices[] | select(.device=="b0") | .state')" = updating
run_device b0
check "b0 finishes rollout $R3's update" wait_rollout "$R3" '.counts.succeeded == 1 and .counts.updating == 0'
check "then rollout $R4 brings it 2.4.0 and completes" wait_rollout "$R4" '.state == "completed" and .counts.succeeded == 3'
check "b0 runs 2.4.0" test "$(app_version b0)" = 2.4.0
for R in "$R3" "$R4"; do
    check "rollout $R's counts match its device list" counts_match "$R"
done

# ---- 3. targets and previews ----
n_rollouts=$(api GET /v1/rollouts | jq '.rollouts | length')
"$AIRLIFT" release tracker 2.4.0 --to group:feild >"$WORK/out" 2>"$WORK/err"; rc=$?
check "a typo'd group is refused: exit 6 ($rc)" test "$rc" -eq 6
check "naming the group and the groups in use: $(cat "$WORK/err")" \
    grep -q "target group 'feild': no device of product 'tracker' is in it (its groups: field, lab)" "$WORK/err"
"$AIRLIFT" release tracker 2.4.0 --to channel:beat >"$WORK/out" 2>"$WORK/err"; rc=$?
check "a typo'd channel is refused: exit 6 ($rc)" test "$rc" -eq 6
check "naming the channel: $(cat "$WORK/err")" \
    grep -q "target channel 'beat': no device of product 'tracker' is in it (its channels: stable)" "$WORK/err"
r=$(api POST /v1/rollouts -H 'Content-Type: application/json' -w '\n%{http_code}' \
    --data '{"product":"tracker","release":"2.4.0","target":{"groups":["feild"]}}')
check "the API answers 422 empty_target" test "$(tail -1 <<<"$r") $(head -1 <<<"$r" | jq -r .error.code)" = "422 empty_target"
check "and nothing was started" test "$(api GET /v1/rollouts | jq '.rollouts | length')" -eq "$n_rollouts"

APP25=$(app app25 2.5.0 6000)
release 2.5.0 "$APP25"
before=$(for d in a1 a2 late; do updates_of $d; done | tr '\n' ' ')
"$AIRLIFT" release tracker 2.5.0 --to group:field --waves 1,100% --dry-run >"$WORK/out" 2>&1; rc=$?
cat "$WORK/out"
check "--dry-run exits 0 ($rc)" test "$rc" -eq 0
check "it says nothing started, 4 devices in 2 waves" \
    grep -q "^dry run: nothing started. Release tracker 2.5.0 to group field on channel stable (the release's): 4 devices in 2 waves (1 pinned to another release: left alone)" "$WORK/out"
check "wave 1: 1 device, wave 2: 2" bash -c "grep -q '^  wave 1: 1 device$' '$WORK/out' && grep -q '^  wave 2: 2 devices$' '$WORK/out'"
check "each device's need and bytes" grep -Eq '^a1 +1 +update +[0-9]+  application 2.5.0 \(' "$WORK/out"
check "the pinned one is left alone" grep -Eq '^p1 +2 +pinned +- +pinned to 1.0.0' "$WORK/out"
pv=$("$AIRLIFT" --json release tracker 2.5.0 --to group:field --waves 1,100% --dry-run --limit 2)
check "--json: the preview (waves, bytes, a page of devices)" \
    test "$(jq -c '[.dry_run, [.waves[].devices], .devices, (.list | length), .next_offset, (.wire_estimate > 0)]' <<<"$pv")" = '[true,[1,2],4,2,2,true]'
check "the bytes are the listed devices' estimates" \
    test "$(jq '[.list[].wire_estimate // 0] | add' <<<"$pv")" -eq "$(jq .wire_estimate <<<"$pv")"
check "--dry-run started nothing" test "$(api GET /v1/rollouts | jq '.rollouts | length')" -eq "$n_rollouts"
check "and queued no update" test "$(for d in a1 a2 late; do updates_of $d; done | tr '\n' ' ')" = "$before"

"$AIRLIFT" release tracker 2.4.0 --to group:feild --allow-empty >"$WORK/out" 2>&1; rc=$?
check "--allow-empty starts it anyway (exit $rc): $(cat "$WORK/out" | head -1)" \
    grep -q "^rollout #[0-9]* started: tracker 2.4.0 to group feild" "$WORK/out"

# ---- a device flashed by hand while a rollout runs is left alone, and says so ----
member c0 bench # offline: wave 1 stays open
member c1 bench
run_device c1
wait_device_reported c1
R6=$(api_json POST /v1/rollouts '{"product":"tracker","release":"2.5.0","target":{"groups":["bench"]},
     "waves":[{"count":1},{"percent":100}]}' | jq -r .id)
check "rollout $R6: c0 updating, c1 waiting" wait_rollout "$R6" '.counts.updating == 1 and .counts.pending == 1'
U=$(api_json POST /v1/devices/c1/updates "{\"images\":[\"$APP21\"]}" | jq -r .id)
check "c1 flashed by hand to 2.1.0" wait_state "$U" succeeded
run_device c0
check "rollout $R6 completes" wait_rollout "$R6" '.state == "completed"'
check "c1 is 'hand_flashed' in it, not moved" \
    test "$(api GET "/v1/rollouts/$R6/devices" | jq -r '.devices[] | select(.device=="c1") | .state') $(app_version c1)" = "hand_flashed 2.1.0"
"$AIRLIFT" rollouts devices "$R6" >"$WORK/out" 2>&1
check "rollouts devices says 'flashed by hand'" grep -Eq '^c1 +2 +flashed by hand' "$WORK/out"
"$AIRLIFT" devices show c1 >"$WORK/out" 2>&1
check "devices show says c1 was flashed by hand" grep -Eq "^rollout: #$R6 \(release [^)]+\), wave [0-9]+: flashed by hand$" "$WORK/out"
check "GET /v1/devices/c1 says so too" \
    test "$(api GET /v1/devices/c1 | jq -r '"\(.rollout.id) \(.rollout.state)"')" = "$R6 hand_flashed"
check "the summary counts it: $(rollout "$R6" | jq -r .why)" \
    test "$(rollout "$R6" | jq -r .why)" = "2 devices: 1 succeeded, 0 failed, 1 flashed by hand"
check "rollout $R6's counts match its device list" counts_match "$R6"

# ---- 4. events and releases ----
ev=$(api GET "/v1/events?rollout=$R1&limit=1000")
check "rollout $R1 has a rollout.wave event for wave 1" \
    test "$(jq '[.events[] | select(.type=="rollout.wave" and .data.wave==1)] | length' <<<"$ev")" -eq 1
check "its update.queued events carry its rollout_id" \
    test "$(api GET '/v1/events?device=a1&type=update.queued&limit=100' | jq -c '[.events[].rollout_id]')" = "[$R1,$R2]"
r=$(api POST /v1/products/tracker/releases -H 'Content-Type: application/json' -w '\n%{http_code}' \
    --data "{\"version\":\"9.0.0\",\"images\":[\"$APP25\",\"$APP25\"]}")
check "a release listing one image twice: 400 ($(tail -1 <<<"$r"))" test "$(tail -1 <<<"$r")" = 400
check "naming it: $(head -1 <<<"$r" | jq -r .error.message)" \
    test "$(head -1 <<<"$r" | jq -r .error.message)" = "images[1]: image $(api GET "/v1/images/$APP25" | jq -r .id) is listed twice (also images[0]): list each image once"
finish
