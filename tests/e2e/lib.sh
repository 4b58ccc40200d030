# lib.sh - shared steps of the end-to-end tests: a real airliftd on 127.0.0.1 (ports picked
# by the kernel), real signed Electron modules, simulated devices as real processes.
# Source it with BUILD set to the build directory; it sets WORK and cleans up on exit.
set -uo pipefail

AIRLIFTD=$BUILD/server/airliftd
AIRLIFT=$BUILD/cli/airlift
DEVICE=$BUILD/sim/airlift-device
FW=${AIRLIFT_FIRMWARE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)/shared/firmware}/electron
WORK=$(mktemp -d "${TMPDIR:-/tmp}/airlift-e2e.XXXXXX")
PIDS=()
FAILS=0
PASSES=0
PG_CLUSTER=$(cd "$(dirname "${BASH_SOURCE[0]}")/../pg" && pwd)/pg-cluster.sh
E2E_PG_DB=

cleanup() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    if [ "$FAILS" -eq 0 ]; then
        rm -rf "$WORK"
        [ -z "$E2E_PG_DB" ] || "$PG_CLUSTER" dropdb "$AIRLIFT_TEST_PG_DIR" "$E2E_PG_DB" 2>/dev/null
    else
        echo "kept $WORK for inspection${E2E_PG_DB:+ (and database $E2E_PG_DB)}"
    fi
}
trap cleanup EXIT

# The store the tests' airliftd runs on. By default SQLite in the data directory. With
# AIRLIFT_TEST_STORE_URL set, that URL (--store). With AIRLIFT_TEST_PG_DIR naming a running
# test cluster (tests/pg/pg-cluster.sh start DIR), fresh_store_db gives each test script a
# fresh database of its own there, e2e_<script>_<pid>, dropped when the test passes.
fresh_store_db() {
    local script
    script=$(basename "$0" .sh | tr -c 'a-z0-9_\n' '_' | cut -c1-40)
    E2E_PG_DB=e2e_${script}_$$
    if ! AIRLIFT_TEST_STORE_URL=$("$PG_CLUSTER" createdb "$AIRLIFT_TEST_PG_DIR" "$E2E_PG_DB"); then
        echo "cannot create database $E2E_PG_DB in the test cluster $AIRLIFT_TEST_PG_DIR" >&2
        E2E_PG_DB=
        exit 1
    fi
    export AIRLIFT_TEST_STORE_URL
}
[ -z "${AIRLIFT_TEST_PG_DIR:-}" ] || fresh_store_db
# Every airliftd a test starts (start_server, and the tests' own restarts through $AIRLIFTD)
# gets --store: $AIRLIFTD is then a wrapper that execs the real one (same pid), with --store
# first so a test's own --store would win.
if [ -n "${AIRLIFT_TEST_STORE_URL:-}" ]; then
    printf '#!/bin/sh\nexec "%s" --store "$AIRLIFT_TEST_STORE_URL" "$@"\n' "$AIRLIFTD" \
        >"$WORK/airliftd-store.sh"
    chmod +x "$WORK/airliftd-store.sh"
    AIRLIFTD=$WORK/airliftd-store.sh
fi

# Each result line ends with the seconds since the script started, to see where time goes.
pass() { PASSES=$((PASSES + 1)); echo "ok - $* [${SECONDS}s]"; }
fail() { FAILS=$((FAILS + 1)); echo "FAIL - $* [${SECONDS}s]"; }
check() { # check DESCRIPTION COMMAND...: pass if the command succeeds
    local what=$1; shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}
finish() {
    echo "$PASSES passed, $FAILS failed"
    [ "$FAILS" -eq 0 ]
}

# start_server [flags...]: airliftd with a fresh data dir; sets HTTP, COAP, TOKEN, SERVER_PID.
start_server() {
    rm -f "$WORK/port"
    "$AIRLIFTD" --data-dir "$WORK/data" --http-listen 127.0.0.1:0 --coap-listen 127.0.0.1:0 \
        --port-file "$WORK/port" --admin-token-file "$WORK/admin-token" "$@" \
        >>"$WORK/airliftd.log" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.05; done
    HTTP=$(sed -n 1p "$WORK/port")
    COAP=$(sed -n 2p "$WORK/port")
    TOKEN=$(cat "$WORK/admin-token")
    export AIRLIFT_SERVER="http://127.0.0.1:$HTTP" AIRLIFT_TOKEN="$TOKEN"
}

# api METHOD PATH [curl args...]: the management API; prints the body.
api() {
    local method=$1 path=$2; shift 2
    curl -s -X "$method" -H "Authorization: Bearer $TOKEN" "$@" "http://127.0.0.1:$HTTP$path"
}
api_json() { api "$1" "$2" -H 'Content-Type: application/json' --data "$3"; }

# sign NAME FILE [image create args...]: a signed image $WORK/NAME.alim; prints its hash.
sign() {
    local name=$1 file=$2; shift 2
    [ -f "$WORK/author.pem" ] || "$AIRLIFT" keys generate --out "$WORK/author.pem" >/dev/null
    "$AIRLIFT" image create --key "$WORK/author.pem" -o "$WORK/$name.alim" "$@" "$file" >/dev/null
    upload "$WORK/$name.alim"
}
upload() { # upload FILE: prints the payload hash
    api POST /v1/images -H 'Content-Type: application/octet-stream' --data-binary @"$1" | jq -r .sha256
}

# app NAME VERSION SIZE: a signed application image of SIZE random bytes; prints its hash.
app() {
    head -c "$3" /dev/urandom >"$WORK/$1.bin"
    sign "$1" "$WORK/$1.bin" --function application --index 1 --platform 10 --version "$2" \
        --link-address 0x08080000
}

# device NAME: register NAME, make its flash (Device OS 0.6.4 from the factory), provision it.
device() {
    local name=$1 reg
    reg=$(api_json POST /v1/devices "{\"name\":\"$name\",\"platform\":10}")
    "$DEVICE" create "$WORK/$name" --trust "$WORK/author.pub.pem" >/dev/null
    "$DEVICE" factory "$WORK/$name" "$WORK/bootloader-2.3.0.alim" "$WORK/system-part1-0.6.4.alim" \
        "$WORK/system-part2-0.6.4.alim" "$WORK/system-part3-0.6.4.alim" >/dev/null
    "$DEVICE" provision "$WORK/$name" --server "127.0.0.1:$COAP" \
        --identity "$(jq -r .identity <<<"$reg")" --psk "$(jq -r .psk <<<"$reg")" >/dev/null
}

# The Device OS modules every test starts from, signed and uploaded.
sign_device_os() {
    local f
    for f in bootloader-2.3.0 system-part1-0.6.4 system-part2-0.6.4 system-part3-0.6.4 \
             system-part1-0.7.0 system-part2-0.7.0 system-part3-0.7.0; do
        sign "$f" "$FW/$f.bin" >/dev/null
    done
}

# run_device NAME [run flags...]: the simulated device in the background; sets DEVICE_PID.
run_device() {
    local name=$1; shift
    "$DEVICE" run "$WORK/$name" --retry-ms 200 "$@" >>"$WORK/$name.log" 2>&1 &
    DEVICE_PID=$!
    PIDS+=("$DEVICE_PID")
}

# update_state ID: the update's state word.
update_state() { api GET "/v1/updates/$1" | jq -r .state; }

# wait_state ID STATE... [--timeout S]: wait until the update is in one of the states.
wait_state() {
    local id=$1; shift
    local deadline=$((SECONDS + ${WAIT_S:-120})) s
    while [ $SECONDS -lt $deadline ]; do
        s=$(update_state "$id")
        for want in "$@"; do [ "$s" = "$want" ] && return 0; done
        sleep 0.2
    done
    echo "update $id is '$s', wanted: $*" >&2
    return 1
}

# wait_device_reported NAME: until the device's first inventory arrived.
wait_device_reported() {
    for _ in $(seq 300); do
        [ "$(api GET "/v1/devices/$1" | jq -r .reported_at)" != null ] && return 0
        sleep 0.1
    done
    echo "device $1 never reported" >&2
    return 1
}

# ---- net ----
# kill_mid_download ID BYTES: wait until update ID's device holds more than BYTES, then kill
# the device ($DEVICE_PID) with SIGKILL (a power cut); sets OFFSET to what it held then.
kill_mid_download() {
    for _ in $(seq 400); do
        OFFSET=$(api GET "/v1/updates/$1" | jq .progress.offset)
        [ "$OFFSET" -gt "$2" ] && break
        sleep 0.02
    done
    kill -9 "$DEVICE_PID"; wait "$DEVICE_PID" 2>/dev/null
}
# ---- end net ----
