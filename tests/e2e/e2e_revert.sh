#!/usr/bin/env bash
# Bad firmware: one build never confirms (the watchdog resets it), one crashes at boot. Both
# devices go back to the old firmware by themselves and the server reports the revert and why.
# A rollout whose first wave cannot reach its success threshold (the one device of wave 1
# never confirms) pauses itself and says why; the devices of wave 2 never download a byte;
# resuming pauses it again; a newer rollout with a lower threshold supersedes it and updates
# them (and tries the reverted device once more).
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

# ---- a wave that cannot reach its threshold ----
api_json POST /v1/products '{"name":"brick","platform":10}' >/dev/null
for d in w1 w2 w3; do
    device "$d"
    api_json PATCH "/v1/devices/$d" '{"product":"brick","groups":["field"]}' >/dev/null
done
APP2=$(app app2 2.0.0 20000)
api_json POST /v1/products/brick/releases "{\"version\":\"2.0.0\",\"images\":[\"$APP2\"]}" >/dev/null
run_device w1 --never-confirm
run_device w2
run_device w3
R=$(api_json POST /v1/rollouts '{"product":"brick","release":"2.0.0","waves":[{"count":1},{"percent":100}]}' | jq -r .id)
wait_rollout_state() { # ID STATE
    for _ in $(seq 600); do
        [ "$(api GET "/v1/rollouts/$1" | jq -r .state)" = "$2" ] && return 0
        sleep 0.2
    done
    api GET "/v1/rollouts/$1" | jq -c '{state, why, counts}' >&2
    return 1
}
check "a rollout whose wave 1 reverted pauses itself" wait_rollout_state "$R" paused
why=$(api GET "/v1/rollouts/$R" | jq -r .why)
check "and says why: $why" \
    test "$why" = "wave 1 cannot reach 100% succeeded (0 of 1 did); wave 2 was not started"
check "the devices of wave 2 never started" \
    test "$(api GET "/v1/devices/w2/updates" | jq '.updates | length')$(api GET "/v1/devices/w3/updates" | jq '.updates | length')" = 00
api_json POST "/v1/rollouts/$R/resume" '{}' >/dev/null
sleep 1
check "resumed, it pauses again with the same why" \
    test "$(api GET "/v1/rollouts/$R" | jq -r '.state + ": " + .why')" = "paused: $why"
R2=$(api_json POST /v1/rollouts '{"product":"brick","release":"2.0.0","success_percent":1}' | jq -r .id)
check "a newer rollout with a lower threshold completes" wait_rollout_state "$R2" completed
check "it updated the devices the paused one had not started, and tried the reverted one again" \
    test "$(api GET "/v1/rollouts/$R2" | jq -c '[.counts.succeeded, .counts.reverted]')" = "[2,1]"
check "the paused rollout is superseded" test "$(api GET "/v1/rollouts/$R" | jq -r .state)" = superseded
finish
