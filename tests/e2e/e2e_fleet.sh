#!/usr/bin/env bash
# A fleet of simulated Electrons in one product, each a process of its own (FLEET_GOOD +
# FLEET_BAD devices, 25 + 25 by default, plus a development device, a pinned one and one that
# joins late; 200 devices in one process: e2e_fleetsim.sh).
#   1. A release that needs a new bootloader and Device OS 0.7.0 goes out in three waves to
#      the "field" group, which left the factory on bootloader 2.2.0 and Device OS 0.6.4: a
#      wave starts only after the one before met its threshold; airliftd is killed with
#      SIGKILL mid-rollout and restarted; a device added mid-rollout gets the release too;
#      every device ends up fully up to date with exactly one update; the development and
#      the pinned devices are left alone.
#   2. A bad release (firmware that never confirms) to the "lab" group pauses itself at the
#      error threshold: its devices went back to the old firmware, and the devices of the
#      later wave never downloaded a byte of it.
#   3. The data budget defers, the rate limit holds back; the rate-limited rollout of the
#      lab group supersedes the paused bad one (docs/fleets.md, rule 5: a newer rollout on
#      the same target takes over its devices that had not started).
#   4. The event history tells the story of one device's update, in order.
# Since issue 12 a pinned device of the target is listed by the rollout as "pinned" (and
# still not updated), and a rollout's counts include it: checked below.
BUILD=$1
. "$(dirname "$0")/lib.sh"
GOOD=${FLEET_GOOD:-25}
BAD=${FLEET_BAD:-25}
start_server
sign_device_os
sign bootloader-2.2.0 "$FW/bootloader-2.2.0.bin" >/dev/null
api_json POST /v1/products '{"name":"tracker","platform":10}' >/dev/null

# fleet_device NAME GROUP [patch...]: a device of the product, made from the given factory
# images (Device OS 0.6.4 on bootloader 2.2.0), provisioned, in GROUP.
fleet_device() {
    local name=$1 group=$2 reg
    reg=$(api_json POST /v1/devices "{\"name\":\"$name\",\"platform\":10}")
    "$DEVICE" create "$WORK/$name" --trust "$WORK/author.pub.pem" >/dev/null
    "$DEVICE" factory "$WORK/$name" "$WORK/bootloader-2.2.0.alim" "$WORK/system-part1-0.6.4.alim" \
        "$WORK/system-part2-0.6.4.alim" "$WORK/system-part3-0.6.4.alim" >/dev/null
    "$DEVICE" provision "$WORK/$name" --server "127.0.0.1:$COAP" \
        --identity "$(jq -r .identity <<<"$reg")" --psk "$(jq -r .psk <<<"$reg")" >/dev/null
    api_json PATCH "/v1/devices/$name" "{\"product\":\"tracker\",\"groups\":[\"$group\"]}" >/dev/null
}
echo "making $GOOD + $BAD + 3 devices"
for i in $(seq 1 "$GOOD"); do fleet_device "$(printf f%03d "$i")" field; done
for i in $(seq 1 "$BAD"); do fleet_device "$(printf l%03d "$i")" lab; done
fleet_device devbox field
api_json PATCH /v1/devices/devbox '{"dev":true}' >/dev/null
fleet_device pinned field
api_json PATCH /v1/devices/pinned '{"pinned":"1.0.0"}' >/dev/null
check "the product has $((GOOD + BAD + 2)) devices" \
    test "$(api GET /v1/devices | jq '[.devices[] | select(.product == "tracker")] | length')" -eq $((GOOD + BAD + 2))

run_fleet() { # run_fleet PREFIX [flags]: every device whose name starts with PREFIX
    local p=$1; shift
    for d in "$WORK"/"$p"*; do [ -d "$d" ] && run_device "$(basename "$d")" "$@"; done
}
run_fleet f
run_fleet devbox
run_fleet pinned
run_fleet l --never-confirm
for d in f001 l001 devbox; do wait_device_reported "$d"; done

# ---- 1. a good release in three waves ----
head -c 20000 /dev/urandom >"$WORK/app2.bin"
APP=$(sign app2 "$WORK/app2.bin" --function application --index 1 --platform 10 --version 2.0.0 \
      --link-address 0x08080000 --dep system:1:0.7.0)
images=$(for f in bootloader-2.3.0 system-part1-0.7.0 system-part2-0.7.0 system-part3-0.7.0; do
             upload "$WORK/$f.alim"; done; echo "$APP")
rel=$(api_json POST /v1/products/tracker/releases \
      "{\"version\":\"2.0.0\",\"images\":$(jq -R . <<<"$images" | jq -s -c .)}")
check "release 2.0.0 created" test "$(jq -r .version <<<"$rel")" = 2.0.0
"$AIRLIFT" events --follow --json --device f001 >"$WORK/f001.events" 2>"$WORK/f001.events.err" &
PIDS+=($!)
ro=$(api_json POST /v1/rollouts '{"product":"tracker","release":"2.0.0","target":{"groups":["field"]},
      "waves":[{"count":3},{"percent":30},{"percent":100}],"success_percent":100,"error_percent":20}')
R=$(jq -r .id <<<"$ro")
check "rollout $R started" test "$(jq -r .state <<<"$ro")" = running

rollout() { api GET "/v1/rollouts/$R"; }
wait_rollout() { # wait_rollout JQ-CONDITION: until it holds on the rollout object
    local deadline=$((SECONDS + ${WAIT_S:-400}))
    while [ $SECONDS -lt $deadline ]; do
        [ "$(rollout | jq "$1")" = true ] && return 0
        sleep 0.5
    done
    echo "rollout: $(rollout | jq -c '{state, why, counts}')" >&2
    return 1
}
check "the first wave is 3 devices (a canary)" wait_rollout '.waves[0].devices == 3'
check "the second wave starts" wait_rollout '.waves[1].updating + .waves[1].succeeded > 0'

# airliftd dies mid-rollout and comes back on the same ports.
kill -9 "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
"$AIRLIFTD" --data-dir "$WORK/data" --http-listen "127.0.0.1:$HTTP" --coap-listen "127.0.0.1:$COAP" \
    >>"$WORK/airliftd.log" 2>&1 &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
for _ in $(seq 100); do api GET /v1/health >/dev/null 2>&1 && break; sleep 0.05; done
echo "restarted airliftd mid-rollout: $(rollout | jq -c '{state, counts}')"

# A device joins the product while the rollout runs.
fleet_device late field
run_device late
check "the rollout completes" wait_rollout '.state == "completed"'
check "every device of the field group succeeded, the late one too" \
    wait_rollout ".counts.succeeded == $((GOOD + 1))"
echo "rollout: $(rollout | jq -c '{state, why, counts, waves: [.waves[] | {devices, succeeded}]}')"

# Wave order: each wave's first start came after the wave before it was all done.
ev=$(api GET "/v1/events?rollout=$R&type=rollout.&limit=1000")
order_ok=true
for w in 2 3; do
    first_start=$(jq "[.events[] | select(.type==\"rollout.wave\" and .data.wave==$w)][0].id" <<<"$ev")
    prev_done=$(jq "[.events[] | select(.type==\"rollout.device\" and .data.wave==$((w - 1)) and .data.state==\"succeeded\")] | max_by(.id) | .id" <<<"$ev")
    echo "wave $w: first start at event $first_start; wave $((w - 1)) all succeeded by event $prev_done"
    [ "$first_start" != null ] && [ "$prev_done" != null ] && [ "$first_start" -gt "$prev_done" ] || order_ok=false
done
check "no wave started before the one before it met its threshold" $order_ok

up_to_date=0 one_update=0
for d in $(api GET /v1/devices | jq -r '.devices[] | select(.name | test("^f|^late")) | .name'); do
    mods=$(api GET "/v1/devices/$d" | jq -r '[.inventory.modules[] | .function + "-" + .version] | sort | join(" ")')
    [ "$mods" = "application-2.0.0 bootloader-1006.0.0 system-0.7.0 system-0.7.0 system-0.7.0" ] &&
        up_to_date=$((up_to_date + 1))
    [ "$(api GET "/v1/devices/$d/updates" | jq '.updates | length')" -eq 1 ] && one_update=$((one_update + 1))
done
check "all $((GOOD + 1)) run bootloader 2.3.0, Device OS 0.7.0 and the application ($up_to_date)" \
    test "$up_to_date" -eq $((GOOD + 1))
check "each got exactly one update, the restart lost or repeated nothing ($one_update)" \
    test "$one_update" -eq $((GOOD + 1))
for d in devbox pinned; do
    check "$d is untouched" test "$(api GET "/v1/devices/$d/updates" | jq '.updates | length')" -eq 0
done
check "the rollout lists the pinned device as pinned, and not the development one" \
    test "$(api GET "/v1/rollouts/$R/devices" | jq -c '[.devices[] | select(.device=="pinned" or .device=="devbox") | .state]')" = '["pinned"]'

# ---- 2. a bad release stops itself ----
head -c 20000 /dev/urandom >"$WORK/app3.bin"
BADAPP=$(sign app3 "$WORK/app3.bin" --function application --index 1 --platform 10 --version 3.0.0 \
         --link-address 0x08080000)
api_json POST /v1/products/tracker/releases "{\"version\":\"3.0.0\",\"images\":[\"$BADAPP\"]}" >/dev/null
ro=$(api_json POST /v1/rollouts '{"product":"tracker","release":"3.0.0","target":{"groups":["lab"]},
      "waves":[{"count":5},{"percent":100}],"success_percent":100,"error_count":3}')
R=$(jq -r .id <<<"$ro")
BAD_R=$R
check "the bad rollout pauses itself" wait_rollout '.state == "paused"'
echo "bad rollout: $(rollout | jq -c '{state, why, counts}')"
devs=$(api GET "/v1/rollouts/$R/devices")
check "its failures reverted" test "$(jq '[.devices[] | select(.state=="reverted")] | length' <<<"$devs")" -ge 3
check "the second wave never got an update" \
    test "$(jq '[.devices[] | select(.wave==2 and (.update_id != null or .state != "pending"))] | length' <<<"$devs")" -eq 0
sleep 2
reverted=$(jq -r '[.devices[] | select(.state=="reverted") | .device][0]' <<<"$devs")
check "$reverted runs its old firmware, confirmed" \
    test "$(api GET "/v1/devices/$reverted" | jq -r '.inventory.boot_state')" = reverted
bytes_later=0
for d in $(jq -r '.devices[] | select(.wave==2) | .device' <<<"$devs"); do
    n=$(api GET "/v1/devices/$d/updates" | jq '[.updates[] | .bytes_sent] | add // 0')
    bytes_later=$((bytes_later + n))
done
check "the later wave downloaded no byte of it ($bytes_later)" test "$bytes_later" -eq 0

# ---- 3. the rate limit and the data budget ----
head -c 20000 /dev/urandom >"$WORK/app4.bin"
APP4=$(sign app4 "$WORK/app4.bin" --function application --index 1 --platform 10 --version 3.1.0 \
       --link-address 0x08080000)
api_json POST /v1/products/tracker/releases "{\"version\":\"3.1.0\",\"images\":[\"$APP4\"]}" >/dev/null
R=$(api_json POST /v1/rollouts '{"product":"tracker","release":"3.1.0","target":{"groups":["field"]},
      "budget_bytes_per_day":20000}' | jq -r .id)
check "over the data budget, the field group is deferred" wait_rollout ".counts.deferred == $((GOOD + 1))"
check "and nothing started" test "$(rollout | jq '.counts.updating + .counts.succeeded')" -eq 0
api POST "/v1/rollouts/$R/cancel" >/dev/null
R=$(api_json POST /v1/rollouts '{"product":"tracker","release":"3.1.0","target":{"groups":["lab"]},
      "rate_per_min":2}' | jq -r .id)
sleep 5
started=$(rollout | jq '.devices - .counts.pending')
check "a rate of 2 per minute starts 2 updates in the first minute ($started)" test "$started" -eq 2
check "it superseded the paused bad rollout of the same group" \
    test "$(api GET "/v1/rollouts/$BAD_R" | jq -r .state)" = superseded
api POST "/v1/rollouts/$R/cancel" >/dev/null
check "a cancelled rollout is cancelled" test "$(rollout | jq -r .state)" = cancelled

# ---- 4. one device's story ----
story=$(api GET "/v1/events?device=f001&type=update.&limit=1000" | jq -r '[.events[].type] | join(" ")')
echo "f001: $story"
check "f001's update went queued ... succeeded, in order" \
    grep -Eq "update.queued( update.[a-z]+)* update.downloading( update.[a-z]+)* update.installing( update.[a-z]+)* update.succeeded" <<<"$story"
live=$(jq -r 'select((.type // "") | startswith("update.")) | .type' "$WORK/f001.events" | sed '/update.succeeded/q' | tr '\n' ' ')
echo "f001, live: $live"
check "the live event stream told the same story" test "${live% }" = "$story"
finish
