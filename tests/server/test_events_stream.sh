#!/usr/bin/env bash
# Integration test of airliftd's events: the filters of GET /v1/events, the live stream
# GET /v1/events/stream (wire format, order, Last-Event-ID, keepalive, token revocation,
# other requests served while streams are open, shutdown with streams open) and
# `airlift events`. The real daemon on 127.0.0.1 (port 0), curl, jq and the real CLI.
#
# Waits poll for what they expect with generous deadlines; nothing relies on speed.
#
# usage: test_events_stream.sh AIRLIFTD AIRLIFT_CLI
set -u

AIRLIFTD=$1
CLI=$2

for tool in curl jq timeout; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/airliftd-events.XXXXXX")
DATA=$WORK/data
PID=
BG=()
FAILS=0
CHECKS=0

cleanup() {
    for p in "${BG[@]}" $PID; do kill -KILL "$p" 2>/dev/null; done
    wait 2>/dev/null
    if [ "$FAILS" -eq 0 ]; then rm -rf "$WORK"; else echo "kept $WORK for inspection"; fi
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
pass() { CHECKS=$((CHECKS + 1)); }
check() { # check LABEL COMMAND...: pass if the command succeeds
    local what=$1
    shift
    if "$@"; then pass; else fail "$what"; fi
}

# until_true SECONDS COMMAND...: poll the command every 0.1 s until it succeeds.
until_true() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ "$SECONDS" -ge "$deadline" ] && return 1
        sleep 0.1
    done
}

"$AIRLIFTD" --data-dir "$DATA" --http-listen 127.0.0.1:0 --coap-listen 127.0.0.1:0 --port-file "$WORK/port" \
    --admin-token-file "$WORK/admin.token" --http-threads 2 >"$WORK/airliftd.out" \
    2>"$WORK/airliftd.err" &
PID=$!
if ! until_true 20 test -s "$WORK/port"; then
    echo "airliftd did not start:"; cat "$WORK/airliftd.err"; exit 1
fi
BASE=http://127.0.0.1:$(head -n1 "$WORK/port")
ADMIN=$(cat "$WORK/admin.token")
export AIRLIFT_SERVER=$BASE AIRLIFT_TOKEN=$ADMIN

# req METHOD PATH [curl args...]: sets STATUS and BODY.
req() {
    local method=$1 path=$2
    shift 2
    STATUS=$(curl -s --max-time 30 -o "$WORK/body" -w '%{http_code}' -X "$method" \
        -H "Authorization: Bearer $ADMIN" "$@" "$BASE$path")
    BODY=$(cat "$WORK/body")
}
expect_status() { # WANT LABEL
    if [ "$STATUS" = "$1" ]; then pass; else fail "$2: status $STATUS, want $1: $BODY"; fi
}
expect_jq() { # FILTER LABEL: the filter must print true for BODY
    if [ "$(jq -r "$1" <<<"$BODY" 2>/dev/null)" = "true" ]; then pass
    else fail "$2: '$1' not true for: $BODY"; fi
}
device_add() { req POST /v1/devices -H 'Content-Type: application/json' -d "{\"name\":\"$1\",\"platform\":10}"; }
last_event_id() { curl -s -H "Authorization: Bearer $ADMIN" "$BASE/v1/events?limit=1000" | jq '.events[-1].id // 0'; }
# The events after id $1 (at most 1000), one compact JSON object per line.
events_after() { curl -s -H "Authorization: Bearer $ADMIN" "$BASE/v1/events?after=$1&limit=1000" | jq -c '.events[]'; }

# stream NAME [curl args...]: open a stream in the background, output in $WORK/NAME.sse;
# waits for its opening comment, so the stream's starting point is fixed on return.
stream() {
    local name=$1
    shift
    curl -sN -H "Authorization: Bearer ${STREAM_TOKEN:-$ADMIN}" "$@" "$BASE/v1/events/stream" \
        >"$WORK/$name.sse" 2>"$WORK/$name.curl" &
    BG+=($!)
    eval "${name}_PID=$!"
    until_true 20 grep -q '^: after ' "$WORK/$name.sse" || fail "stream $name did not open"
}
sse_ids() { grep '^id: ' "$WORK/$1.sse" | cut -d' ' -f2; }
sse_count() { [ "$(grep -c '^id: ' "$WORK/$1.sse")" -ge "$2" ]; }
# The data of each event of a stream, normalized like events_after.
sse_data() { sed -n 's/^data: //p' "$WORK/$1.sse" | jq -c .; }

# ---- events of every kind -----------------------------------------------------------------
device_add dev-a
device_add dev-b
req DELETE /v1/devices/dev-b
"$CLI" keys generate --out "$WORK/key.pem" >/dev/null || fail "airlift keys generate"
head -c 3000 /dev/urandom >"$WORK/app.bin"
"$CLI" image create --key "$WORK/key.pem" -o "$WORK/app.alim" --function application \
    --index 1 --platform 10 --version 1.0.0 --link-address 0x08080000 "$WORK/app.bin" \
    >/dev/null || fail "airlift image create"
req POST /v1/images -H 'Content-Type: application/octet-stream' --data-binary @"$WORK/app.alim"
expect_status 201 "upload image"
SHA=$(jq -r .sha256 <<<"$BODY")
req POST /v1/devices/dev-a/updates -H 'Content-Type: application/json' -d "{\"images\":[\"$SHA\"]}"
expect_status 201 "queue an update"
UPDATE=$(jq -r .id <<<"$BODY")
req POST "/v1/updates/$UPDATE/cancel"
expect_status 200 "cancel the update"

# Nothing emits rollout events yet: two written straight into the database (WAL: the
# daemon's connection sees them).
HAVE_ROLLOUT=0
if command -v sqlite3 >/dev/null; then
    sqlite3 -cmd '.timeout 10000' "$DATA/airlift.db" \
        "INSERT INTO events(ts, device, update_id, rollout_id, type, data) VALUES
         (1, NULL, NULL, 7, 'rollout.started', '{\"wave\":1}'),
         (1, 'dev-a', $UPDATE, 7, 'rollout.device.queued', '{}');" &&
        HAVE_ROLLOUT=1 || fail "cannot insert rollout events"
else
    echo "note: sqlite3 not installed, rollout filters not checked"
fi

# ---- filters of GET /v1/events --------------------------------------------------------------
req GET /v1/events
expect_status 200 "list events"
expect_jq 'all(.events[]; has("rollout_id")) and ([.events[].rollout_id] | map(select(. != null and . != 7)) == [])' \
    "every event has rollout_id"
expect_jq '[.events[].id] | . == (sort | unique)' "ascending ids"
req GET "/v1/events?type=update."
expect_jq '[.events[].type] == ["update.queued","update.cancelled"]' "type prefix update."
req GET "/v1/events?type=device."
expect_jq '[.events[].type] == ["device.created","device.created","device.deleted"]' "type prefix device."
req GET "/v1/events?type=device.created"
expect_jq '[.events[].device] == ["dev-a","dev-b"]' "a whole type is a prefix too"
req GET "/v1/events?device=dev-a"
expect_jq '[.events[].type][0] == "device.created" and all(.events[]; .device == "dev-a")' "device filter"
req GET "/v1/events?device=dev-b"
expect_jq '.error.code == "not_found" and (.error.message | startswith("device '"'dev-b'"' does not exist"))' \
    "device filter: a removed device's name names no device (its history: device_id=)"
req GET "/v1/events?type=device.deleted"
B_ID=$(jq -r '.events[0].device_id' <<<"$BODY")
req GET "/v1/events?device_id=$B_ID"
expect_jq '[.events[].type] == ["device.created","device.deleted"]' "device_id filter: a removed device's history"
req GET "/v1/events?device_id=x"
expect_status 400 "device_id must be an id"
req GET "/v1/events?update=$UPDATE&type=update."
expect_jq "[.events[] | select(.update_id == $UPDATE) | .type] == [\"update.queued\",\"update.cancelled\"] and (.events | length) == 2" \
    "update filter"
req GET "/v1/events?update=999"
expect_jq '.events == []' "unknown update"
if [ "$HAVE_ROLLOUT" = 1 ]; then
    req GET "/v1/events?rollout=7"
    expect_jq '[.events[].type] == ["rollout.started","rollout.device.queued"] and all(.events[]; .rollout_id == 7)' \
        "rollout filter"
    expect_jq '.events[0].device == null and .events[0].update_id == null and .events[0].data == {"wave":1}' \
        "rollout event fields"
    req GET "/v1/events?rollout=7&device=dev-a&update=$UPDATE&type=rollout."
    expect_jq "[.events[].type] == [\"rollout.device.queued\"] and .events[0].update_id == $UPDATE" \
        "filters combine"
    req GET "/v1/events?rollout=8"
    expect_jq '.events == []' "other rollout"
fi
FIRST_DEVICE_EVENT=$(curl -s -H "Authorization: Bearer $ADMIN" "$BASE/v1/events?type=device." | jq '.events[0].id')
req GET "/v1/events?type=device.&after=$FIRST_DEVICE_EVENT&limit=1"
expect_jq '[.events[].device] == ["dev-b"]' "after and limit with a filter"
for bad in update=0 update=abc update=-1 rollout=0 rollout=1x "type=" type=Update. type=update_ \
    "type=$(printf 'a%.0s' {1..32})" device=../x after=x limit=0; do
    req GET "/v1/events?$bad"
    expect_status 400 "bad parameter $bad"
    expect_jq '.error.code == "bad_request" and (.error.message | length) > 0' "error shape for $bad"
    [ "$bad" = limit=0 ] && continue # the stream has no limit
    req GET "/v1/events/stream?$bad"
    expect_status 400 "stream: bad parameter $bad"
    expect_jq '.error.code == "bad_request"' "stream: error shape for $bad"
done
req GET "/v1/events?type=$(printf 'a%.0s' {1..31})"
expect_status 200 "type of 31 characters"
req GET /v1/events/stream -H 'Last-Event-ID: nope'
expect_status 400 "bad Last-Event-ID"
STATUS=$(curl -s --max-time 30 -o /dev/null -w '%{http_code}' "$BASE/v1/events/stream")
[ "$STATUS" = 401 ] && pass || fail "stream without a token: $STATUS"

# ---- the live stream ------------------------------------------------------------------------
req POST /v1/tokens -H 'Content-Type: application/json' -d '{"name":"watcher","scope":"read"}'
expect_status 201 "read token"
READER=$(jq -r .token <<<"$BODY")
READER_ID=$(jq -r .id <<<"$BODY")

START=$(last_event_id)
stream live                              # from now
stream devices --get -d type=device.     # from now, filtered
stream quiet --get -d type=never.        # never an event: keepalives only
STREAM_TOKEN=$READER stream revoked      # read scope is enough; its token is revoked below
grep -qx ": after $START" "$WORK/live.sse" && pass || fail "live stream opens after $START: $(head -1 "$WORK/live.sse")"
# More streams than the daemon has workers (2): none may hold one.
for i in 1 2 3 4; do stream "extra$i"; done

req GET /v1/health
expect_status 200 "health while 8 streams are open"
req GET /v1/devices
expect_status 200 "devices while 8 streams are open"

for d in s-1 s-2 s-3; do device_add "$d"; done
req DELETE /v1/devices/s-2
req POST /v1/devices/dev-a/updates -H 'Content-Type: application/json' -d "{\"images\":[\"$SHA\"]}"
expect_status 201 "queue an update while streams are open"
EXPECTED=$(events_after "$START")
N=$(wc -l <<<"$EXPECTED")
[ "$N" -ge 5 ] && pass || fail "expected at least 5 new events, have $N"

check "live stream delivers $N events" until_true 30 sse_count live "$N"
[ "$(sse_ids live | tr '\n' ' ')" = "$(jq -r .id <<<"$EXPECTED" | tr '\n' ' ')" ] && pass ||
    fail "live ids: $(sse_ids live | tr '\n' ' '), want $(jq -r .id <<<"$EXPECTED" | tr '\n' ' ')"
[ "$(sse_data live)" = "$EXPECTED" ] && pass || fail "live data differs from /v1/events"
# The wire format, exactly: blocks of "id: N", "event: TYPE", "data: {...}" or one comment
# line, each block followed by exactly one blank line.
awk -v want="$(jq -r .type <<<"$EXPECTED" | tr '\n' ' ')" 'BEGIN { RS = ""; FS = "\n" }
    /^:/ { if (NF != 1) bad = 1; next }
    {
        if (NF != 3 || $1 !~ /^id: [1-9][0-9]*$/ || $2 !~ /^event: [a-z.]+$/ ||
            $3 !~ /^data: \{.*\}$/)
            bad = 1
        types = types substr($2, 8) " "
    }
    END { exit bad || types != want }' "$WORK/live.sse" &&
    [ "$(grep -c '^$' "$WORK/live.sse")" = "$(grep -c -e '^id: ' -e '^:' "$WORK/live.sse")" ] &&
    [ -z "$(tail -c 2 "$WORK/live.sse" | tr -d '\n')" ] && pass ||
    fail "wire format: $(head -c 600 "$WORK/live.sse")"
DEVICE_EXPECTED=$(grep '"type":"device\.' <<<"$EXPECTED")
check "filtered stream" until_true 30 sse_count devices "$(wc -l <<<"$DEVICE_EXPECTED")"
sleep 0.5 # anything wrongly let through would arrive by now
[ "$(sse_data devices)" = "$DEVICE_EXPECTED" ] && pass || fail "filtered stream: $(sse_data devices)"
for i in 1 2 3 4; do check "extra stream $i" until_true 30 sse_count "extra$i" "$N"; done

# Resuming: Last-Event-ID (which wins over after=) and after=, exactly after the given id.
MID=$(jq -r .id <<<"$EXPECTED" | sed -n 2p)
AFTER_MID=$(events_after "$MID")
M=$(wc -l <<<"$AFTER_MID")
stream resumed -H "Last-Event-ID: $MID" --get -d after=1
check "Last-Event-ID stream" until_true 30 sse_count resumed "$M"
sleep 0.5
[ "$(sse_data resumed)" = "$AFTER_MID" ] && pass ||
    fail "Last-Event-ID $MID: ids $(sse_ids resumed | tr '\n' ' '), want $(jq -r .id <<<"$AFTER_MID" | tr '\n' ' ')"
stream resumed2 --get -d "after=$MID"
check "after= stream" until_true 30 sse_count resumed2 "$M"
[ "$(sse_data resumed2)" = "$AFTER_MID" ] && pass || fail "after=$MID stream differs"

# ---- airlift events -------------------------------------------------------------------------
"$CLI" events --type Device >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] && pass || fail "airlift events --type Device exits $rc, want 2"
"$CLI" events --update 0 >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] && pass || fail "airlift events --update 0 exits $rc, want 2"
"$CLI" --server http://127.0.0.1:1 events >/dev/null 2>&1; rc=$?
[ $rc -eq 6 ] && pass || fail "unreachable server exits $rc, want 6"
"$CLI" --server http://127.0.0.1:1 events --follow >/dev/null 2>&1; rc=$?
[ $rc -eq 6 ] && pass || fail "unreachable server with --follow exits $rc, want 6"
"$CLI" --token "alt_$(printf '0%.0s' {1..64})" events --follow >/dev/null 2>"$WORK/cli-401.err"; rc=$?
[ $rc -eq 16 ] && grep -q 'refused the API token' "$WORK/cli-401.err" && pass ||
    fail "refused token with --follow exits $rc: $(cat "$WORK/cli-401.err")"

"$CLI" events --json --type device. --device s-1 >"$WORK/cli-list.out"; rc=$?
[ $rc -eq 0 ] && [ "$(jq -c . "$WORK/cli-list.out")" = "$(grep '"device":"s-1"' <<<"$DEVICE_EXPECTED")" ] &&
    pass || fail "airlift events --json --device (rc $rc): $(cat "$WORK/cli-list.out")"
"$CLI" events --json --after "$START" --limit 2 >"$WORK/cli-limit.out"
[ "$(jq -c . "$WORK/cli-limit.out")" = "$(head -n2 <<<"$EXPECTED")" ] && pass || fail "--after --limit"
"$CLI" events --update "$UPDATE" >"$WORK/cli-human.out"
grep -q "update.cancelled .*dev-a .*#$UPDATE" "$WORK/cli-human.out" && pass ||
    fail "human listing: $(cat "$WORK/cli-human.out")"
# --follow --limit: the backlog after --after, then exit 0 by itself.
timeout 60 "$CLI" events --follow --json --after "$START" --limit 3 >"$WORK/cli-backlog.out" 2>/dev/null; rc=$?
[ $rc -eq 0 ] && [ "$(jq -c . "$WORK/cli-backlog.out")" = "$(head -n3 <<<"$EXPECTED")" ] && pass ||
    fail "--follow --after --limit exits $rc: $(cat "$WORK/cli-backlog.out")"

# --follow from now: prints what happens, Ctrl-C (SIGINT) exits 0.
timeout -s KILL 300 "$CLI" events --follow --json >"$WORK/cli-follow.out" 2>"$WORK/cli-follow.err" &
CLI_PID=$!
BG+=($CLI_PID)
check "airlift events --follow connects" until_true 20 grep -q following "$WORK/cli-follow.err"
FOLLOW_START=$(last_event_id)
device_add f-1
device_add f-2
cli_lines() { [ "$(wc -l <"$WORK/cli-follow.out")" -ge 2 ]; }
check "airlift events --follow prints new events" until_true 30 cli_lines
kill -INT "$CLI_PID"
wait "$CLI_PID"; rc=$?
[ $rc -eq 0 ] && pass || fail "airlift events --follow after Ctrl-C exits $rc: $(cat "$WORK/cli-follow.err")"
[ "$(jq -c . "$WORK/cli-follow.out")" = "$(events_after "$FOLLOW_START")" ] && pass ||
    fail "airlift events --follow --json output: $(cat "$WORK/cli-follow.out")"

# ---- keepalive and token revocation (both due after 15 s) ----------------------------------
req DELETE "/v1/tokens/$READER_ID"
expect_status 204 "revoke the stream's token"
check "keepalive on a silent stream" until_true 60 grep -q '^: keepalive$' "$WORK/quiet.sse"
revoked_ended() { ! kill -0 "$revoked_PID" 2>/dev/null; }
check "a revoked token's stream ends" until_true 60 revoked_ended
req GET /v1/health
expect_status 200 "health after all that"

# ---- shutdown with streams open -------------------------------------------------------------
kill -TERM "$PID"
rc=0
timeout 30 tail --pid="$PID" -f /dev/null || fail "airliftd did not stop within 30 s of SIGTERM"
wait "$PID" || rc=$?
PID=
[ $rc -eq 0 ] && pass || fail "airliftd exited $rc after SIGTERM"
grep -q 'msg="airliftd stopped"' "$WORK/airliftd.err" && pass || fail "no clean stop in the log"
# Streams were ended, not cut: curl exits 0 after a complete chunked response.
wait "$live_PID"; rc=$?
[ $rc -eq 0 ] && pass || fail "live stream's curl exited $rc at shutdown"

echo "$CHECKS checks passed, $FAILS failed"
[ "$FAILS" -eq 0 ]
