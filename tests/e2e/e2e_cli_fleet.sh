#!/usr/bin/env bash
# Issue 12, items 6, 7 and 9: the fleet questions (devices list with its columns, filters and
# paging; fleet versions against what the devices report; usage per device and month), the
# messages (what is missing is named, "did you mean", no token, a URL that is not airliftd,
# duplicate token names, an empty body, one size style) and complete events (actor, data,
# --since/--until/--last/--type). Every CLI error is checked by its text and exit code.
BUILD=$1
. "$(dirname "$0")/lib.sh"
start_server
sign_device_os
A=$AIRLIFT

# Five devices of product tracker; three run, on different application versions.
api_json POST /v1/products '{"name":"tracker","platform":"electron"}' >/dev/null
for i in 1 2 3 4 5; do
    device "truck-$i"
    api_json PATCH "/v1/devices/truck-$i" '{"product":"tracker","groups":["g'$i'"]}' >/dev/null
done
api_json PATCH /v1/devices/truck-5 '{"channel":"beta"}' >/dev/null
APP1=$(app app1 1.0.0 20000)
APP2=$(app app2 2.0.0 20000)
for i in 1 2 3; do run_device "truck-$i"; done
for i in 1 2 3; do wait_device_reported "truck-$i"; done
"$A" flash truck-1 "$WORK/app1.alim" --yes >"$WORK/flash1.out" 2>"$WORK/flash1.err"; rc=$?
check "truck-1 flashed to 1.0.0" test $rc -eq 0
"$A" flash truck-2 "$WORK/app2.alim" --yes >/dev/null 2>"$WORK/flash2.err"; rc=$?
check "truck-2 flashed to 2.0.0" test $rc -eq 0

# ---- one size style: decimal kB / MB, never KiB / MiB ----
check "flash progress in decimal units" grep -q " kB" "$WORK/flash1.err"
check "no binary units anywhere in flash's output" test "$(cat "$WORK"/flash*.out "$WORK"/flash*.err | grep -c 'KiB\|MiB')" -eq 0
"$A" devices show truck-1 >"$WORK/show" 2>&1
check "devices show: bytes on the air in kB" grep -q "kB sent to it, .* received" "$WORK/show"

# ---- devices list: columns, filters, paging ----
"$A" devices list >"$WORK/list" 2>&1; rc=$?
check "devices list: exit 0" test $rc -eq 0
check "devices list: the columns" grep -q "^NAME  *PRODUCT  *CHANNEL  *STATE  *LAST SEEN  *UPDATE  *MODULES$" "$WORK/list"
check "devices list: truck-1's product, channel and versions" \
    grep -q "^truck-1  *tracker  *stable  *online .*app 1.0.0, bootloader 1006 (Device OS 2.2.0), system 0.6.4$" "$WORK/list"
check "devices list: truck-5 on beta, never reported" grep -q "^truck-5  *tracker  *beta  *offline  *never  *-  *-$" "$WORK/list"
names() { "$A" --json devices list "$@" | jq -r '[.devices[].name] | join(" ")'; }
check "--filter application:1=2.0.0" test "$(names --filter application:1=2.0.0)" = truck-2
check "--filter system:1=0.6.4" test "$(names --filter system:1=0.6.4)" = "truck-1 truck-2 truck-3"
check "--filter channel=beta" test "$(names --filter channel=beta)" = truck-5
check "--filter group=g3" test "$(names --filter group=g3)" = truck-3
check "--filter online=true --filter product=tracker" test "$(names --filter online=true --filter product=tracker)" = "truck-1 truck-2 truck-3"
check "--filter state=none" test "$(names --filter state=none | wc -w)" -eq 5
"$A" devices list --filter colour=red >"$WORK/out" 2>&1; rc=$?
check "an unknown filter key: exit 2, named" test $rc -eq 2 -a "$(grep -c "unknown key 'colour'" "$WORK/out")" -eq 1
"$A" devices list --filter chanel=beta >"$WORK/out" 2>&1; rc=$?
check "a typo'd filter key: exit 2, did you mean" test $rc -eq 2 -a "$(grep -c "did you mean 'channel'" "$WORK/out")" -eq 1
"$A" devices list --filter system:1=zero >"$WORK/out" 2>&1; rc=$?
check "a bad module filter: exit 2" test $rc -eq 2 -a "$(grep -c "expected FUNCTION:INDEX=VERSION" "$WORK/out")" -eq 1
"$A" devices list --filter product=trakcer >"$WORK/out" 2>&1; rc=$?
check "an unknown product filter: exit 6, did you mean" test $rc -eq 6 -a "$(grep -c "product 'trakcer' does not exist; did you mean 'tracker'?" "$WORK/out")" -eq 1
"$A" devices list --limit 2 >"$WORK/page1" 2>"$WORK/page1.err"; rc=$?
check "--limit 2: two devices" test $rc -eq 0 -a "$(grep -c '^truck-' "$WORK/page1")" -eq 2
check "--limit 2: says how to go on" grep -q "more: airlift devices list --after truck-2" "$WORK/page1.err"
check "--after truck-2 --limit 2: the next page" test "$(names --after truck-2 --limit 2)" = "truck-3 truck-4"
check "--json --limit 2: next" test "$("$A" --json devices list --limit 2 | jq -r .next)" = truck-2
check "pages of 2 followed to the end: all 5" test "$(names --page-size 2)" = "truck-1 truck-2 truck-3 truck-4 truck-5"
check "--json count" test "$("$A" --json devices list --page-size 2 | jq .count)" -eq 5
# issue 13 (sort): --sort through the API; devices never seen (truck-4, truck-5) last in both
# directions; the cursor of a sorted page; the errors by their text and exit code.
check "--sort -name" test "$(names --sort -name)" = "truck-5 truck-4 truck-3 truck-2 truck-1"
check "--sort last_seen: never seen last" test "$(names --sort last_seen | cut -d' ' -f4-)" = "truck-4 truck-5"
check "--sort -last_seen: never seen last" test "$(names --sort -last_seen | cut -d' ' -f4-)" = "truck-4 truck-5"
# Each once while the fleet stands still (docs/api.md): three devices are running, and one
# whose last_seen changes between two pages may move across the cursor; so a few tries.
paged_once() {
    for _ in 1 2 3 4 5; do
        [ "$(names --sort -last_seen --page-size 2 | tr ' ' '\n' | sort | tr '\n' ' ')" = \
          "truck-1 truck-2 truck-3 truck-4 truck-5 " ] && return 0
        sleep 0.5
    done
    return 1
}
check "--sort -last_seen --page-size 2: each device once" paged_once
"$A" devices list --sort -last_seen --limit 4 >"$WORK/sorted" 2>"$WORK/sorted.err"; rc=$?
check "--sort -last_seen --limit 4: says how to go on, with the cursor" \
    test $rc -eq 0 -a "$(grep -c "more: airlift devices list --after ~truck-4 --sort -last_seen --limit N (same filters)" "$WORK/sorted.err")" -eq 1
check "--after the cursor: the next page" test "$(names --sort -last_seen --after '~truck-4' --limit 4)" = truck-5
"$A" devices list --sort seen >"$WORK/out" 2>&1; rc=$?
check "an unknown --sort: exit 2, the allowed ones" test $rc -eq 2 -a "$(grep -c "^airlift devices list: --sort 'seen': expected name, last_seen, reported, next_checkin, bytes or state, with a '-' in front for descending$" "$WORK/out")" -eq 1
"$A" devices list --sort last_seen --after 'x/y' >"$WORK/out" 2>&1; rc=$?
check "a malformed --after: exit 2" test $rc -eq 2 -a "$(grep -c "^airlift devices list: --after 'x/y': expected a device name (or, with --sort, the VALUE~NAME the page before ended on)$" "$WORK/out")" -eq 1
"$A" devices list --sort last_seen --after truck-1 >"$WORK/out" 2>&1; rc=$?
check "a name as the cursor of a sorted listing: exit 6, the server names after" test $rc -eq 6 -a "$(grep -c 'after: expected the `next` of the page before (VALUE~NAME) for sort=last_seen' "$WORK/out")" -eq 1

# ---- fleet versions: what the devices report ----
"$A" --json fleet versions >"$WORK/versions.json"; rc=$?
check "fleet versions --json: exit 0" test $rc -eq 0
# The same distribution computed from each device's own inventory.
for i in 1 2 3 4 5; do api GET "/v1/devices/truck-$i" | jq -c '.inventory.modules // [] | .[] | {function, index, version}'; done |
    jq -s -c 'group_by(.function, .index, .version) | map({function: .[0].function, index: .[0].index, version: .[0].version, devices: length}) | sort_by(.function, .index, .version)' >"$WORK/expected"
jq -c '[.modules[] as $m | $m.versions[] | {function: $m.function, index: $m.index, version, devices}] | sort_by(.function, .index, .version)' "$WORK/versions.json" >"$WORK/got"
check "fleet versions matches the inventories ($(cat "$WORK/got"))" cmp -s "$WORK/expected" "$WORK/got"
check "application 1: 1.0.0 on one, 2.0.0 on one" test "$(jq -c '.modules[] | select(.function=="application") | [.versions[] | [.version, .devices]]' "$WORK/versions.json")" = '[["1.0.0",1],["2.0.0",1]]'
"$A" fleet versions --product tracker >"$WORK/out" 2>&1
check "fleet versions, human: system 1 0.6.4 on 3 devices" grep -q "^system  *1  *0.6.4  *3  *100%" "$WORK/out"
"$A" fleet versions --product trakcer >"$WORK/out" 2>&1; rc=$?
check "fleet versions of an unknown product: exit 6, did you mean" test $rc -eq 6 -a "$(grep -c "product 'trakcer' does not exist; did you mean 'tracker'?" "$WORK/out")" -eq 1

# ---- usage per device and month ----
MONTH=$(date -u +%Y-%m)
# The device goes on talking: its counter before and after bracket the usage row.
before=$(api GET /v1/devices/truck-1 | jq '.bytes_sent + .bytes_received')
"$A" --json usage --device truck-1 >"$WORK/usage.json"; rc=$?
after=$(api GET /v1/devices/truck-1 | jq '.bytes_sent + .bytes_received')
check "usage --device: exit 0" test $rc -eq 0
check "usage: one row, this month ($MONTH)" test "$(jq -r '.usage | map(.month) | join(" ")' "$WORK/usage.json")" = "$MONTH"
use_bytes=$(jq '.usage[0].bytes' "$WORK/usage.json")
check "usage: the device's bytes on the air ($before <= $use_bytes <= $after)" test "$before" -le "$use_bytes" -a "$use_bytes" -le "$after" -a "$use_bytes" -gt 20000
check "usage: sent + received = bytes" test "$(jq '.usage[0] | .bytes_sent + .bytes_received == .bytes' "$WORK/usage.json")" = true
check "usage: every running device this month" test "$("$A" --json usage --month "$MONTH" | jq -r '[.usage[].device] | join(" ")')" = "truck-1 truck-2 truck-3"
"$A" usage --month 2000-01 >"$WORK/out" 2>&1; rc=$?
check "usage of a month without traffic" test $rc -eq 0 -a "$(cat "$WORK/out")" = "no bytes on the air in 2000-01"
"$A" usage --month 2026-13 >"$WORK/out" 2>&1; rc=$?
check "usage --month 2026-13: exit 2" test $rc -eq 2 -a "$(grep -c "expected a calendar month YYYY-MM" "$WORK/out")" -eq 1
"$A" usage --device truk-1 >"$WORK/out" 2>&1; rc=$?
check "usage of an unknown device: exit 6, did you mean" test $rc -eq 6 -a "$(grep -c "device 'truk-1' does not exist; did you mean 'truck-1'?" "$WORK/out")" -eq 1
"$A" usage >"$WORK/out" 2>&1
check "usage, human: kB and bytes" grep -q "^$MONTH  *truck-1  *[0-9.]* kB  *[0-9.]* kB  *[0-9.]* kB  *[0-9]*$" "$WORK/out"

# ---- messages ----
"$A" releases create tracker 2.0.0 "$APP2" >/dev/null 2>&1
"$A" release trakcer 2.0.0 >"$WORK/out" 2>&1; rc=$?
check "release trakcer: exit 6, the product is what is missing" test $rc -eq 6 -a "$(grep -c "product 'trakcer' does not exist; did you mean 'tracker'?" "$WORK/out")" -eq 1
"$A" release tracker 2.0.9 >"$WORK/out" 2>&1; rc=$?
check "release of a missing version: exit 6, names the release and the close one" test $rc -eq 6 -a "$(grep -c "product 'tracker' has no release 2.0.9; did you mean 2.0.0?" "$WORK/out")" -eq 1
"$A" releases show tracker 7.7.7 >"$WORK/out" 2>&1; rc=$?
check "a version nothing is close to: no suggestion" test $rc -eq 6 -a "$(grep -c "product 'tracker' has no release 7.7.7\$" "$WORK/out")" -eq 1
"$A" products show trakcer >"$WORK/out" 2>&1; rc=$?
check "products show trakcer: exit 6, did you mean" test $rc -eq 6 -a "$(grep -c "did you mean 'tracker'?" "$WORK/out")" -eq 1
"$A" devices show truk-1 >"$WORK/out" 2>&1; rc=$?
check "devices show truk-1: exit 6, did you mean" test $rc -eq 6 -a "$(grep -c "device 'truk-1' does not exist; did you mean 'truck-1'?" "$WORK/out")" -eq 1
"$A" events --device truk-1 >"$WORK/out" 2>&1; rc=$?
check "events --device truk-1: exit 6, not 'no events'" test $rc -eq 6 -a "$(grep -c "device 'truk-1' does not exist; did you mean 'truck-1'?" "$WORK/out")" -eq 1
timeout 20 "$A" events --device truk-1 --follow >"$WORK/out" 2>&1; rc=$?
check "events --follow --device truk-1: exit 6 before any stream" test $rc -eq 6 -a "$(grep -c "device 'truk-1' does not exist; did you mean 'truck-1'?" "$WORK/out")" -eq 1
"$A" devcies list >"$WORK/out" 2>&1; rc=$?
check "a typo'd command: exit 2, did you mean" test $rc -eq 2 -a "$(grep -c "unknown command 'devcies'; did you mean 'devices'?" "$WORK/out")" -eq 1
"$A" events --lats 3 >"$WORK/out" 2>&1; rc=$?
check "a typo'd option: exit 2, did you mean" test $rc -eq 2 -a "$(grep -c "unknown option '--lats'; did you mean '--last'?" "$WORK/out")" -eq 1
mkdir -p "$WORK/home"
HOME=$WORK/home XDG_CONFIG_HOME= AIRLIFT_CONFIG= AIRLIFT_TOKEN= "$A" devices list >"$WORK/out" 2>&1; rc=$?
check "no token configured: exit 2, says so and how" test $rc -eq 2 -a "$(grep -c "no API token configured for http://127.0.0.1:$HTTP: give --token TOKEN or --token-file PATH, set AIRLIFT_TOKEN, or put 'token = TOKEN' in $WORK/home/.config/airlift/config" "$WORK/out")" -eq 1
check "and not 'malformed token'" test "$(grep -c malformed "$WORK/out")" -eq 0
# A web server that is not airliftd, on a port of its own.
python3 - "$WORK/other-port" <<'EOF' >/dev/null 2>&1 &
import http.server, sys
s = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()
EOF
PIDS+=("$!")
for _ in $(seq 100); do [ -s "$WORK/other-port" ] && break; sleep 0.05; done
OTHER="http://127.0.0.1:$(cat "$WORK/other-port")"
"$A" --server "$OTHER" devices list >"$WORK/out" 2>&1; rc=$?
check "a URL that is not airliftd: exit 6, named" test $rc -eq 6 -a "$(grep -c "$OTHER answered HTTP 404 without an airliftd error: is $OTHER airliftd's API?" "$WORK/out")" -eq 1
"$A" --server http://127.0.0.1:1 devices list >"$WORK/out" 2>&1; rc=$?
check "nothing at the URL: exit 6, named" test $rc -eq 6 -a "$(grep -c "cannot reach airliftd at http://127.0.0.1:1" "$WORK/out")" -eq 1
api_json POST /v1/tokens '{"name":"ci","scope":"read"}' >/dev/null
body=$(api_json POST /v1/tokens '{"name":"ci","scope":"read"}')
check "a duplicate token name is refused (409 exists)" test "$(jq -r .error.code <<<"$body")" = exists -a "$(jq -r .error.message <<<"$body")" = "a token named 'ci' already exists (revoke it first, or choose another name)"
body=$(api POST /v1/devices -H 'Content-Type: application/json' --data-binary '')
check "an empty JSON body: named" test "$(jq -r .error.message <<<"$body")" = "the body is empty: expected a JSON object"
body=$(api GET /v1/products/trakcer)
check "the API's 404 carries the suggestion" test "$(jq -r .error.suggestion <<<"$body")" = tracker

# ---- events: actor, data, --since/--until/--last/--type ----
"$A" release tracker 2.0.0 --to group:g3 --watch >"$WORK/rollout.out" 2>&1; rc=$?
check "a rollout to truck-3 completes" test $rc -eq 0
"$A" --json events >"$WORK/events.ndjson"; rc=$?
check "events --json: exit 0" test $rc -eq 0
actor() { jq -r "select($1) | .actor" "$WORK/events.ndjson" | sort -u | paste -sd' '; }
check "startup's token.created: actor airliftd" test "$(actor '.type=="token.created" and .data.name=="admin"')" = airliftd
check "device.created by the admin token: actor admin" test "$(actor '.type=="device.created"')" = admin
check "a flash's update.queued: actor admin" test "$(actor '.type=="update.queued" and .device!="truck-3"')" = admin
check "what the device reports: actor device" test "$(actor '.type=="update.downloading" and .rollout_id==null')" = device
check "rollout.running (started by a user): actor admin" test "$(actor '.type=="rollout.running"')" = admin
check "the rollout's own events: actor 'rollout 1'" test "$(actor '.type=="rollout.device"')" = "rollout 1"
check "every event has an actor" test "$(jq -r 'select(.actor==null)' "$WORK/events.ndjson" | wc -c)" -eq 0
check "release.created carries its data" test "$(jq -c 'select(.type=="release.created") | .data | [.product, .version, .channel, (.images | length)]' "$WORK/events.ndjson")" = '["tracker","2.0.0","stable",1]'
check "device.changed carries what changed" test "$(jq -s -c 'map(select(.type=="device.changed" and .device=="truck-5")) | map(.data)' "$WORK/events.ndjson")" = '[{"product":{"from":null,"to":"tracker"},"groups":{"from":[],"to":["g5"]}},{"channel":{"from":"stable","to":"beta"}}]'
check "product.created carries its data" test "$(jq -c 'select(.type=="product.created") | .data' "$WORK/events.ndjson")" = '{"name":"tracker","platform":10}'
newest=$(jq -s -c '[.[-3:][] | .id]' "$WORK/events.ndjson")
check "--last 3: the newest three, oldest first" test "$("$A" --json events --last 3 | jq -s -c '[.[].id]')" = "$newest"
check "-n 3 is --last 3" test "$("$A" --json events -n 3 | jq -s -c '[.[].id]')" = "$newest"
all=$(wc -l <"$WORK/events.ndjson")
check "--last over more than a page of the API" test "$("$A" --json events --last 100000 | wc -l)" -eq "$all"
"$A" events --last 2 >"$WORK/out" 2>&1
check "events, human: the actor column" grep -q "^ID  *TIME  *TYPE  *DEVICE  *UPDATE  *ROLLOUT  *ACTOR  *DATA$" "$WORK/out"
check "--type update.: only update events" test "$("$A" --json events --type update. | jq -r .type | grep -vc '^update\.')" -eq 0
check "--type device.changed: exactly that type" test "$("$A" --json events --type device.changed | jq -r .type | sort -u)" = device.changed
check "--since 1h: everything" test "$("$A" --json events --since 1h | wc -l)" -eq "$all"
check "--since an RFC 3339 time" test "$("$A" --json events --since "$(date -u +%Y-%m-%dT00:00:00Z)" | wc -l)" -eq "$all"
"$A" events --until 2000-01-01 >"$WORK/out" 2>&1; rc=$?
check "--until 2000-01-01: no events, exit 0" test $rc -eq 0 -a "$(cat "$WORK/out")" = "no events"
check "--since tomorrow: none" test "$("$A" --json events --since "$(date -u -d tomorrow +%Y-%m-%d)" | wc -l)" -eq 0
ts=$(jq -r 'select(.type=="release.created") | .ts' "$WORK/events.ndjson")
check "--until the release: only what came before it" test "$("$A" --json events --until "$ts" | jq -r 'select(.type=="release.created" or .type=="rollout.running")' | wc -c)" -eq 0
"$A" events --since yesterday >"$WORK/out" 2>&1; rc=$?
check "--since yesterday: exit 2, the forms named" test $rc -eq 2 -a "$(grep -c "expected an RFC 3339 time (2026-11-24T21:00:00Z), a date (2026-11-24) or a time ago (90s, 15m, 2h, 7d, 1w)" "$WORK/out")" -eq 1
"$A" events --last 3 --follow >"$WORK/out" 2>&1; rc=$?
check "--last with --follow: exit 2" test $rc -eq 2 -a "$(grep -c "goes with neither --limit nor --follow" "$WORK/out")" -eq 1
body=$(api GET "/v1/events?since=soon")
check "the API refuses a bad since" test "$(jq -r .error.code <<<"$body")" = bad_request
finish
