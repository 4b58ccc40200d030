#!/usr/bin/env bash
# The fleet commands of the airlift CLI against a real airliftd on 127.0.0.1 (port 0):
# products, devices set, releases (from files and from hashes), release / rollouts start
# with every option checked in the rollout the server made, rollouts list / status /
# devices / pause / resume / cancel, --watch and its exit codes, and the errors.
# The devices never connect: their updates stay queued and a rollout of them stays running.
#
# usage: test_fleet_cli.sh AIRLIFTD AIRLIFT_CLI FIRMWARE_DIR
set -uo pipefail

AIRLIFTD=$1
AIRLIFT=$2
ELECTRON=$3/electron

for tool in jq timeout; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/airlift-fleet-cli.XXXXXX")
PID=
cleanup() {
    [ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK" || exit 1

fail() { echo "FAIL: $*" >&2; echo "--- airliftd log"; tail -20 "$WORK/airliftd.log"; exit 1; }
# run CODE ARGS...: run airlift, keep stdout/stderr in out.txt/err.txt, check the exit code.
run() {
    local want=$1; shift
    timeout 60 "$AIRLIFT" "$@" >out.txt 2>err.txt
    local got=$?
    if [ "$got" -ne "$want" ]; then
        echo "--- stdout"; cat out.txt; echo "--- stderr"; cat err.txt
        fail "airlift $* exited $got, expected $want"
    fi
}
# has FILE TEXT: FILE contains TEXT (fixed string).
has() { grep -qF -- "$2" "$1" || { cat "$1"; fail "$1 lacks '$2'"; }; }
# json FILTER: the jq filter prints true for the JSON in out.txt.
json() {
    [ "$(jq -r "$1" out.txt 2>/dev/null)" = true ] || { cat out.txt; fail "JSON check failed: $1"; }
}
# last_json FILTER: the same, on the last line of NDJSON in out.txt.
last_json() {
    [ "$(tail -n1 out.txt | jq -r "$1" 2>/dev/null)" = true ] ||
        { cat out.txt; fail "last NDJSON line: $1"; }
}
# until_status ID FILTER: poll rollouts status ID --json until FILTER holds (20 s at most).
until_status() {
    local deadline=$((SECONDS + 20))
    while :; do
        "$AIRLIFT" rollouts status "$1" --json >out.txt 2>err.txt
        [ "$(jq -r "$2" out.txt 2>/dev/null)" = true ] && return 0
        [ $SECONDS -ge $deadline ] && { cat out.txt err.txt; fail "rollout $1 never got to: $2"; }
        sleep 0.2
    done
}

"$AIRLIFTD" --data-dir "$WORK/data" --http-listen 127.0.0.1:0 --coap-listen 127.0.0.1:0 \
    --port-file "$WORK/port" --admin-token-file "$WORK/admin-token" >"$WORK/airliftd.log" 2>&1 &
PID=$!
for _ in $(seq 200); do [ -s "$WORK/port" ] && break; sleep 0.05; done
[ -s "$WORK/port" ] || fail "airliftd did not start"
AIRLIFT_SERVER="http://127.0.0.1:$(sed -n 1p "$WORK/port")"
AIRLIFT_TOKEN=$(cat "$WORK/admin-token")
export AIRLIFT_SERVER AIRLIFT_TOKEN
: >"$WORK/config"          # an empty config file: nothing from ~/.config
export AIRLIFT_CONFIG=$WORK/config

echo "# help"
for cmd in "products" "products create" "products list" "products show" "devices set" \
           "releases" "releases create" "releases list" "releases show" "release" \
           "rollouts" "rollouts start" "rollouts list" "rollouts status" "rollouts devices" \
           "rollouts pause" "rollouts resume" "rollouts cancel"; do
    # shellcheck disable=SC2086
    run 0 $cmd --help
    case $cmd in
        products|releases|rollouts) has out.txt "Commands:" ;;
        *) has out.txt "Usage: airlift $cmd" ;;
    esac
done
run 0 release --help; has out.txt "Same as airlift rollouts start"
run 0 --help; has out.txt "12 rollout paused, 13 rollout cancelled"

echo "# products"
run 0 products create tracker --platform electron
has out.txt "product tracker created"
run 0 products create sensor --platform 6 --json
json '.name == "sensor" and .platform == 6'
run 6 products create tracker --platform electron
has err.txt "product 'tracker' already exists"
run 6 --json products create tracker --platform 10
json '.error.exit_code == 6 and (.error.message | contains("already exists"))'
run 2 products create other
has err.txt "--platform"
run 2 products create other --platform atari
has err.txt "atari"
run 6 products create "bad name" --platform 10
run 0 products list
has out.txt "tracker"; has out.txt "electron (10)"; has out.txt "sensor"
run 0 products list --json
json '[.products[].name] == ["sensor", "tracker"] or [.products[].name] == ["tracker", "sensor"]'
run 0 products show tracker
has out.txt "product tracker: platform electron (10)"; has out.txt "no releases yet"
run 0 products show tracker --json
json '.name == "tracker" and .platform == 10 and (.created_at | type) == "string"'
run 6 products show nope
has err.txt "product 'nope' does not exist"
run 2 products show a/b
run 2 products show

echo "# devices set"
for d in d1 d2 d3 d4 s1; do run 0 devices add "$d"; done
run 0 devices set d1 --product tracker --group field --group lab --channel beta --pin 1.0.0 --dev --json
json '.name == "d1" and .product == "tracker" and .groups == ["field", "lab"] and
      .channel == "beta" and .pinned == "1.0.0" and .dev == true'
run 0 devices set d1 --no-pin --no-dev --channel stable --group field
has out.txt "d1: product tracker, groups field, channel stable, pinned -"
run 0 devices show d1 --json
json '.product == "tracker" and .groups == ["field"] and .channel == "stable" and
      .pinned == null and .dev == false'
run 0 devices show d1
has out.txt "fleet: product tracker, groups field, channel stable, pinned -"
run 0 devices set d1 --no-groups --json
json '.groups == [] and .product == "tracker"'
run 0 devices set d1 --group field --json
run 0 devices set d1 --no-product --json
json '.product == null'
run 0 devices set d1 --product tracker
run 0 devices set d2 --product tracker --group field
run 0 devices set d3 --product tracker --group field
run 0 devices set d4 --product tracker -g lab
run 6 devices set d2 --product nope
has err.txt "product 'nope' does not exist"
run 6 devices set s1 --product sensor
has err.txt "another platform"
run 6 devices set nobody --channel beta
has err.txt "nobody"
run 2 devices set d2 --product tracker --no-product
has err.txt "--no-product"
run 2 devices set d2 --group a --no-groups
run 2 devices set d2 --dev --no-dev
run 2 devices set d2 --pin 1.0
has err.txt "1.0"
run 2 devices set d2
has err.txt "nothing to set"
run 2 devices set
run 6 devices set d2 --channel "no/good"
run 0 devices show d2 --json
json '.product == "tracker" and .groups == ["field"] and .channel == "stable"'

echo "# releases"
run 0 keys generate --out author.pem
head -c 3000 /dev/urandom >app1.bin
run 0 image create --key author.pem -o app1.alim --function application --index 1 \
    --platform 10 --version 1.0.0 --link-address 0x08080000 app1.bin
run 0 image inspect app1.alim --json
APP1=$(jq -r .image.payload_sha256 out.txt)
head -c 3000 /dev/urandom >app2.bin
run 0 image create --key author.pem -o app2.alim --function application --index 1 \
    --platform 10 --version 2.0.0 --link-address 0x08080000 app2.bin
run 0 image inspect app2.alim --json
APP2=$(jq -r .image.payload_sha256 out.txt)
# A release keeps its images' ids (the SHA-256 of each file), whichever way they were named.
ID1=$(sha256sum app1.alim | cut -c1-64)
ID2=$(sha256sum app2.alim | cut -c1-64)
run 0 image create --key author.pem -o p3.alim "$ELECTRON/system-part3-0.7.0.bin"
head -c 1000 /dev/urandom >other.bin
run 0 image create --key author.pem -o other.alim --function application --index 1 \
    --platform 6 --version 1.0.0 --link-address 0x080a0000 other.bin

# An image the server does not hold yet, by hash: refused, nothing created.
run 6 releases create tracker 1.0.0 "$APP1"
has err.txt "$APP1"; has err.txt "holds no image"
# From a file: checked, uploaded, released.
run 0 releases create tracker 1.0.0 app1.alim --notes "first one" --key author.pub.pem --json
json ".product == \"tracker\" and .version == \"1.0.0\" and .channel == \"stable\" and
      .images == [\"$ID1\"] and .notes == \"first one\""
# From the hash of an image it now holds (upper case works too), and a file, on a channel.
run 0 releases create tracker 1.1.0 "$(tr a-f A-F <<<"$APP1")" p3.alim --channel beta
has out.txt "release tracker 1.1.0 created (channel beta), 2 images"
has out.txt "(held by the server)"; has out.txt "p3.alim"
run 0 releases show tracker 1.1.0 --json
json ".images[0] == \"$ID1\" and (.images | length) == 2 and .channel == \"beta\""
run 0 releases create tracker 2.0.0 app2.alim
run 0 releases create tracker 2.0.1 "$APP2" --json
json ".images == [\"$ID2\"]"
run 6 releases create tracker 1.0.0 app1.alim
has err.txt "already has release 1.0.0"
run 6 releases create nope 3.0.0 app1.alim
has err.txt "product 'nope' does not exist"
run 4 releases create tracker 3.0.0 other.alim
has err.txt "built for platform 6; product tracker is platform 10"
run 3 releases create tracker 3.0.0 nosuch.alim
has err.txt "nosuch.alim"
head -c 500 /dev/urandom >junk.alim
run 4 releases create tracker 3.0.0 junk.alim
run 2 releases create tracker 3.0.0 app1.alim app2.alim
has err.txt "one image per module"
run 2 releases create tracker 3.0.0 app1.alim "$APP1"
run 2 releases create tracker 3.0 app1.alim
run 2 releases create tracker 3.0.0
run 5 releases create tracker 3.0.0 app1.alim --key nosuch.pem
run 0 releases list tracker
has out.txt "1.0.0"; has out.txt "first one"; has out.txt "beta"
run 0 releases list tracker --json
json '[.releases[].version] | sort == ["1.0.0", "1.1.0", "2.0.0", "2.0.1"]'
run 0 releases show tracker 1.1.0
has out.txt "release tracker 1.1.0: channel beta"
has out.txt "application  1  1.0.0"; has out.txt "system       2  0.7.0"
run 6 releases show tracker 9.9.9
has err.txt "no release 9.9.9"
run 6 releases list nope
run 0 products show tracker
has out.txt "4 devices"; has out.txt "2.0.1"

echo "# release / rollouts start: options into the rollout"
run 0 release tracker 1.0.0 --to group:field --to channel:stable --waves 1,10%,100% \
    --success 95 --max-failures 5% --rate 10/min --budget 1.5M/day
has out.txt "rollout #"; has out.txt "airlift rollouts status"
R1=$(sed -n 's/^rollout #\([0-9]*\) started.*/\1/p' out.txt)
[ -n "$R1" ] || fail "no rollout id printed"
run 0 rollouts status "$R1" --json
json '.target == {"groups": ["field"], "channels": ["stable"]} and
      .waves_spec == [{"count": 1}, {"percent": 10}, {"percent": 100}] and
      .success_percent == 95 and .error_percent == 5 and .error_count == 0 and
      .rate_per_min == 10 and .budget_bytes_per_day == 1500000 and
      .release.version == "1.0.0" and .state == "running"'
# The same through rollouts start, other forms of the values; a target with no device is
# refused (docs/fleets.md), unless --allow-empty: then it completes at once, and --watch
# says so with exit 0.
run 6 rollouts start tracker 2.0.0 --to group:nobody
has err.txt "target group 'nobody': no device of product 'tracker' is in it (its groups: "
run 0 --json rollouts start tracker 2.0.0 --to group:nobody --waves 2 --max-failures 3 \
    --rate 7 --budget 500k --success 80% --allow-empty
R2=$(jq -r .id out.txt)
run 0 rollouts status "$R2" --json
json '.target == {"groups": ["nobody"]} and .waves_spec == [{"count": 2}] and
      .error_count == 3 and .error_percent == 0 and .rate_per_min == 7 and
      .budget_bytes_per_day == 500000 and .success_percent == 80'
run 0 rollouts status "$R2" --watch
has out.txt "completed"
run 0 release tracker 2.0.0 --to group:nobody --budget 2000000B/day --watch --json --allow-empty
last_json '.state == "completed" and .budget_bytes_per_day == 2000000'
run 6 release tracker 2.0.0 --to channel:nowhere --watch
has err.txt "target channel 'nowhere': no device of product 'tracker' is in it (its channels: "
run 0 release tracker 2.0.0 --to channel:nowhere --watch --allow-empty
has out.txt "completed"
for bad in "--waves 0" "--waves 1,,2" "--waves 10%,x" "--waves 101%" "--waves -1" \
           "--max-failures 101%" "--max-failures x" "--rate 5/h" "--rate -1" \
           "--budget 5G" "--budget 1.5k5" "--budget 0.0001k" "--budget k" \
           "--to foo:bar" "--to group:" "--success 0" "--success 101"; do
    # shellcheck disable=SC2086
    run 2 release tracker 1.0.0 $bad
done
run 2 release tracker
run 2 release tracker 1.0
run 2 release tracker 1.0.0 extra
run 6 release tracker 9.9.9
has err.txt "no release 9.9.9"
run 6 release nope 1.0.0
run 6 release tracker 1.0.0 --waves 1,1,1,1,1,1,1,1,1,1,1
has err.txt "waves"

echo "# rollouts status, list, devices"
until_status "$R1" '.devices == 3 and .counts.updating == 1 and .counts.pending == 2'
json '.waves[0].devices == 1 and .waves[0].updating == 1'
run 0 rollouts status "$R1"
has out.txt "rollout #$R1 of release 1.0.0 (channel stable): running"
has out.txt "group field on channel stable"
has out.txt "waves:  1, 10%, 100%"
has out.txt "pause at 5% failures"; has out.txt "10 updates/min"; has out.txt "1500000 bytes/day"
has out.txt "3 devices: 2 pending, 1 updating"
has out.txt "WAVE SPEC  DEVICES PROGRESS     PEND UPDT SUCC FAIL REVT DEFR CANC SUPS  PIN HAND"
grep -Eq '^1    1           1 \[>>>>>>>>>>\]    0    1    0    0    0    0    0    0    0    0$' out.txt ||
    { cat out.txt; fail "wave 1 line"; }
run 0 rollouts list
has out.txt "running"; has out.txt "completed"
run 0 rollouts list --json
json "[.rollouts[] | select(.id == $R1) | .state] == [\"running\"]"
run 0 rollouts devices "$R1" --json
json '[.devices[].device] | sort == ["d1", "d2", "d3"]'
run 0 rollouts devices "#$R1"
has out.txt "updating"
run 6 rollouts status 999
run 2 rollouts status abc
run 2 rollouts status
run 2 rollouts pause 0

echo "# pause, resume, cancel"
run 0 rollouts pause "$R1"
has out.txt "rollout #$R1 is paused: paused by a user"
run 6 rollouts pause "$R1"
has err.txt "cannot pause a rollout that is paused"
run 12 rollouts status "$R1" --watch
has out.txt "is paused"
run 12 rollouts status "$R1" --watch --json
last_json '.state == "paused"'
run 0 rollouts resume "$R1" --json
json '.state == "running" and .why == "resumed by a user"'
run 6 rollouts resume "$R1"
has err.txt "cannot resume a rollout that is running"
# --watch of a running rollout ends when someone else pauses it.
timeout 30 "$AIRLIFT" rollouts status "$R1" --watch >watch.txt 2>&1 &
W=$!
for _ in $(seq 200); do grep -q "^WAVE" watch.txt && break; sleep 0.05; done
run 0 rollouts pause "$R1"
wait "$W"; rc=$?
[ "$rc" -eq 12 ] || { cat watch.txt; fail "watch ended with $rc, expected 12"; }
grep -q "^paused (paused by a user); 3 devices" watch.txt || { cat watch.txt; fail "no change line"; }
run 0 rollouts cancel "$R1"
has out.txt "rollout #$R1 is cancelled"
run 6 rollouts cancel "$R1"
has err.txt "cannot cancel a rollout that is cancelled"
run 6 --json rollouts cancel "$R1"
json '.error.exit_code == 6'
run 6 rollouts resume "$R1"
run 13 rollouts status "$R1" --watch
has out.txt "was cancelled"
run 0 rollouts status "$R1" --json
json '.state == "cancelled" and .counts.cancelled == 3'
run 6 rollouts cancel 999

echo "ok: fleet CLI"
