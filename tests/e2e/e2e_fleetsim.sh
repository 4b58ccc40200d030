#!/usr/bin/env bash
# A fleet in one process: airliftd and one airlift-fleet running FLEETSIM_N devices (200 by
# default): always-on and sleepy ones, some on lossy links, a few with bad firmware (never
# confirms, crashes at boot). A release goes out to all of them in three waves; every good
# device ends up on it with exactly one update, the bad ones revert and the server shows it.
BUILD=$1
. "$(dirname "$0")/lib.sh"
FLEET=$BUILD/sim/airlift-fleet
N=${FLEETSIM_N:-200}
NC=3 CB=2 # bad firmware: never confirms, crashes at boot
GOOD=$((N - NC - CB))
start_server
sign_device_os >/dev/null
api_json POST /v1/products '{"name":"tracker","platform":10}' >/dev/null

F=$WORK/fleet
prov() { "$FLEET" provision "$F" --api "http://127.0.0.1:$HTTP" --token "$TOKEN" --product tracker \
             --group field "$@"; }
check "provision $GOOD good devices" prov --count "$GOOD" --prefix fs-
check "provision $NC that never confirm and $CB that crash at boot" \
    eval 'prov --count $NC --prefix zz-nc- && prov --count $CB --prefix zz-cb-'
check "devices.tsv lists $N devices" test "$(grep -vc '^#' "$F/devices.tsv")" -eq "$N"
check "the server knows them, in the product" \
    test "$(api GET /v1/devices | jq '[.devices[] | select(.product == "tracker")] | length')" -eq "$N"
check "bad input is refused with a message naming it" \
    eval '! "$FLEET" provision "$F" --count x --prefix a- --api u --token t 2>&1 | grep -q -- "--count takes a number"'
check "the factory flash is programmed once" \
    "$FLEET" factory "$F" --trust "$WORK/author.pub.pem" "$WORK/bootloader-2.3.0.alim" \
        "$WORK/system-part1-0.6.4.alim" "$WORK/system-part2-0.6.4.alim" "$WORK/system-part3-0.6.4.alim"

# The release: an application that needs Device OS 0.6.4 (what the factory put there).
APP=$(app app2 2.0.0 20000)
api_json POST /v1/products/tracker/releases "{\"version\":\"2.0.0\",\"images\":[\"$APP\"]}" >/dev/null

start=$SECONDS
"$FLEET" run "$F" --server "127.0.0.1:$COAP" --until-updated --duration "${FLEETSIM_TIMEOUT:-110}" \
    --period 3 --sleepy 30% --sleep 4 --lossy 10% --loss 0.05 --latency 20 --jitter 3 \
    --retry-ms 500 --never-confirm @zz-nc- --crash-at-boot @zz-cb- --status-every 5 \
    >"$WORK/summary.json" 2>"$WORK/fleet.log" &
FLEET_PID=$!
PIDS+=("$FLEET_PID")
reported() { api GET /v1/devices | jq '[.devices[] | select(.reported_at != null)] | length'; }
for _ in $(seq 300); do [ "$(reported)" -eq "$N" ] && break; sleep 0.2; done
check "every device reported its inventory ($(reported) of $N)" test "$(reported)" -eq "$N"

# Waves in name order: the bad devices (zz-) fall in the last one, so they cannot stall a wave.
W1=$((GOOD / 20 > 1 ? GOOD / 20 : 1)) W2=$((GOOD / 3 > 1 ? GOOD / 3 : 1))
ro=$(api_json POST /v1/rollouts "{\"product\":\"tracker\",\"release\":\"2.0.0\",\"target\":{\"groups\":[\"field\"]},
      \"waves\":[{\"count\":$W1},{\"count\":$W2},{\"percent\":100}],\"success_percent\":100}")
R=$(jq -r .id <<<"$ro")
check "rollout $R started" test "$(jq -r .state <<<"$ro")" = running
wait "$FLEET_PID"
frc=$?
cat "$WORK/fleet.log" | tail -n 3
echo "summary: $(cat "$WORK/summary.json")"
check "airlift-fleet met its goal in $((SECONDS - start)) s (exit $frc)" test "$frc" -eq 0
S=$(cat "$WORK/summary.json")
check "the summary is JSON with every device updated" test "$(jq .updated <<<"$S")" -eq "$N"
check "the mix: 30 % sleepy, 10 % lossy, $NC + $CB bad" \
    test "$(jq -c '[.mix.sleepy, .mix.lossy, .mix.never_confirm, .mix.crash_at_boot]' <<<"$S")" = \
         "[$(( (N * 30 + 50) / 100 )),$(( (N * 10 + 50) / 100 )),$NC,$CB]"
check "$GOOD confirmed, $((NC + CB)) reverted" \
    test "$(jq -c '[.updates.confirmed, .updates.reverted]' <<<"$S")" = "[$GOOD,$((NC + CB))]"
check "handshakes and link bytes are counted" \
    test "$(jq '.handshakes.ok > 0 and .link.bytes_down > 0 and .memory.rss_per_device_bytes > 0' <<<"$S")" = true

rollout() { api GET "/v1/rollouts/$R"; }
for _ in $(seq 50); do [ "$(rollout | jq -r .state)" = completed ] && break; sleep 0.2; done
echo "rollout: $(rollout | jq -c '{state, counts, waves: [.waves[] | {devices, succeeded}]}')"
check "the rollout completed" test "$(rollout | jq -r .state)" = completed
check "$GOOD succeeded, $((NC + CB)) reverted" \
    test "$(rollout | jq -c '[.counts.succeeded, .counts.reverted]')" = "[$GOOD,$((NC + CB))]"
devs=$(api GET /v1/devices)
on_app=0 one_update=0 bad_reverted=0
for d in $(jq -r '.devices[].name' <<<"$devs"); do
    info=$(api GET "/v1/devices/$d")
    n=$(api GET "/v1/devices/$d/updates" | jq '.updates | length')
    [ "$n" -eq 1 ] && one_update=$((one_update + 1))
    case $d in
    zz-*) [ "$(jq -r .inventory.boot_state <<<"$info")" = reverted ] && bad_reverted=$((bad_reverted + 1)) ;;
    *) jq -e '[.inventory.modules[] | select(.function == "application" and .version == "2.0.0")] | length == 1' \
           <<<"$info" >/dev/null && on_app=$((on_app + 1)) ;;
    esac
done
check "all $GOOD good devices run application 2.0.0 ($on_app)" test "$on_app" -eq "$GOOD"
check "each of the $N devices got exactly one update ($one_update)" test "$one_update" -eq "$N"
check "the server shows the $((NC + CB)) bad devices reverted ($bad_reverted)" test "$bad_reverted" -eq $((NC + CB))
finish
