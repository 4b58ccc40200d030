#!/usr/bin/env bash
# Integration test of airliftd's management API: the real daemon on 127.0.0.1 (port 0,
# --port-file), driven with curl and jq, stopped with SIGTERM and checked for a clean exit.
#
# usage: test_airliftd_api.sh AIRLIFTD AIRLIFT_CLI FIRMWARE_DIR
set -u

AIRLIFTD=$1
CLI=$2
FIRMWARE=$3

for tool in curl jq cmp; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/airliftd-test.XXXXXX")
DATA=$WORK/data
PID=
PORT=
BASE=
FAILS=0
CHECKS=0

cleanup() {
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
        kill -KILL "$PID" 2>/dev/null
        wait "$PID" 2>/dev/null
    fi
    if [ "$FAILS" -eq 0 ]; then rm -rf "$WORK"; else echo "kept $WORK for inspection"; fi
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
pass() { CHECKS=$((CHECKS + 1)); }

# start NAME [extra flags...]: start airliftd, wait for its port file.
start() {
    local name=$1
    shift
    rm -f "$WORK/port"
    "$AIRLIFTD" --data-dir "$DATA" --http-listen 127.0.0.1:0 --coap-listen 127.0.0.1:0 --port-file "$WORK/port" \
        --admin-token-file "$WORK/admin.token" "$@" \
        >"$WORK/$name.out" 2>"$WORK/$name.err" &
    PID=$!
    for _ in $(seq 1 100); do
        [ -s "$WORK/port" ] && break
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    if [ ! -s "$WORK/port" ]; then
        echo "airliftd did not start:"; cat "$WORK/$name.err"
        FAILS=$((FAILS + 1)); exit 1
    fi
    PORT=$(head -n1 "$WORK/port")
    BASE=http://127.0.0.1:$PORT
}

# stop: SIGTERM, and the daemon must exit 0 on its own.
stop() {
    kill -TERM "$PID"
    local rc=0
    wait "$PID" || rc=$?
    PID=
    if [ "$rc" -eq 0 ]; then pass; else fail "airliftd exited $rc after SIGTERM"; fi
}

# req METHOD PATH [curl args...]: sets STATUS and BODY (file $WORK/body).
req() {
    local method=$1 path=$2
    shift 2
    STATUS=$(curl -s -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' -X "$method" \
        "$@" "$BASE$path")
    BODY=$(cat "$WORK/body")
}
auth() { echo "Authorization: Bearer $1"; }
JSON='Content-Type: application/json'
BIN='Content-Type: application/octet-stream'

expect_status() { # WANT LABEL
    if [ "$STATUS" = "$1" ]; then pass; else fail "$2: status $STATUS, want $1: $BODY"; fi
}
expect_jq() { # FILTER LABEL: the filter must print true for BODY
    if [ "$(jq -r "$1" <<<"$BODY" 2>/dev/null)" = "true" ]; then pass
    else fail "$2: '$1' not true for: $BODY"; fi
}

# ---- usage errors -------------------------------------------------------------------------
"$AIRLIFTD" --no-such-flag >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] && pass || fail "unknown flag exits $rc, want 2"
"$AIRLIFTD" --http-listen nowhere >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] && pass || fail "bad --http-listen exits $rc, want 2"
"$AIRLIFTD" --help | grep -q -- '--data-dir' && pass || fail "--help lacks --data-dir"
"$AIRLIFTD" --version | grep -q '^airliftd ' && pass || fail "--version"

# ---- first start ---------------------------------------------------------------------------
start first
ADMIN=$(cat "$WORK/admin.token")
[[ $ADMIN =~ ^alt_[0-9a-f]{64}$ ]] && pass || fail "admin token shape: $ADMIN"
[ "$(stat -c %a "$WORK/admin.token")" = 600 ] && pass || fail "admin token file not 0600"
grep -q "$ADMIN" "$WORK/first.out" && fail "admin token printed although --admin-token-file was given" || pass
grep -q "admin token written to $WORK/admin.token" "$WORK/first.out" && pass || fail "first start does not name the admin token file"
grep -q "$ADMIN" "$WORK/first.err" && fail "admin token leaked into the log" || pass

req GET /v1/health
expect_status 200 "health without token"
expect_jq '.status == "ok" and .schema_version >= 1' "health body"

# ---- authentication ------------------------------------------------------------------------
req GET /v1/devices
expect_status 401 "no token"
expect_jq '.error.code == "unauthorized"' "no token body"
grep -qi '^WWW-Authenticate: Bearer' "$WORK/headers" && pass || fail "401 without challenge"
req GET /v1/devices -H "$(auth not-a-token)"
expect_status 401 "malformed token"
req GET /v1/devices -H "$(auth "alt_$(printf '0%.0s' {1..64})")"
expect_status 401 "unknown token"
req GET /v1/devices -H "Authorization: Basic YWRtaW46YWRtaW4="
expect_status 401 "basic auth"
req GET /v1/devices -H "$(auth "$ADMIN")"
expect_status 200 "admin token"

# ---- tokens --------------------------------------------------------------------------------
req POST /v1/tokens -H "$(auth "$ADMIN")" -H "$JSON" -d '{"name":"ci-reader","scope":"read"}'
expect_status 201 "create read token"
expect_jq '(.token | test("^alt_[0-9a-f]{64}$")) and .scope == "read"' "read token body"
READER=$(jq -r .token <<<"$BODY")
READER_ID=$(jq -r .id <<<"$BODY")
req POST /v1/tokens -H "$(auth "$ADMIN")" -H "$JSON" -d '{"name":"ops","scope":"operator"}'
expect_status 201 "create operator token"
OPERATOR=$(jq -r .token <<<"$BODY")
req POST /v1/tokens -H "$(auth "$ADMIN")" -H "$JSON" -d '{"name":"x","scope":"root"}'
expect_status 400 "bad scope"
req GET /v1/tokens -H "$(auth "$ADMIN")"
expect_status 200 "list tokens"
expect_jq '(.tokens | length) == 3 and all(.tokens[]; has("token") | not)' "tokens never listed"
req GET /v1/tokens -H "$(auth "$READER")"
expect_status 403 "read token lists tokens"
expect_jq '.error.code == "forbidden"' "403 body"
req POST /v1/devices -H "$(auth "$READER")" -H "$JSON" -d '{"name":"r1","platform":10}'
expect_status 403 "read token creates a device"
req GET /v1/devices -H "$(auth "$READER")"
expect_status 200 "read token lists devices"
req DELETE "/v1/tokens/$READER_ID" -H "$(auth "$ADMIN")"
expect_status 204 "revoke read token"
req GET /v1/devices -H "$(auth "$READER")"
expect_status 401 "revoked token"
expect_jq '.error.message | test("revoked")' "revoked message"
req DELETE /v1/tokens/999 -H "$(auth "$ADMIN")"
expect_status 404 "revoke unknown token"
req DELETE /v1/tokens/1 -H "$(auth "$ADMIN")"
expect_status 409 "revoke the last admin token"

# ---- devices -------------------------------------------------------------------------------
req POST /v1/devices -H "$(auth "$OPERATOR")" -H "$JSON" -d '{"name":"electron-01","platform":10}'
expect_status 201 "create device"
expect_jq '.name == "electron-01" and (.psk | test("^[0-9a-f]{64}$")) and (.identity | length) > 0' \
    "create device body"
grep -qi '^Location: /v1/devices/electron-01' "$WORK/headers" && pass || fail "Location header"
req POST /v1/devices -H "$(auth "$OPERATOR")" -H "$JSON" \
    -d '{"name":"bench-02","platform":"electron","dev":true}'
expect_status 201 "create dev device"
req POST /v1/devices -H "$(auth "$OPERATOR")" -H "$JSON" -d '{"name":"electron-01","platform":10}'
expect_status 409 "duplicate device"
expect_jq '.error.code == "exists"' "duplicate body"
req POST /v1/devices -H "$(auth "$OPERATOR")" -H "$JSON" -d '{"name":"../etc","platform":10}'
expect_status 400 "bad device name"
req POST /v1/devices -H "$(auth "$OPERATOR")" -H "$JSON" -d '{"name":"x"}'
expect_status 400 "missing platform"
req POST /v1/devices -H "$(auth "$OPERATOR")" -H "$JSON" -d '{"name":"x","platform":10,"colour":1}'
expect_status 400 "unknown field"
req POST /v1/devices -H "$(auth "$OPERATOR")" -H "$JSON" -d "{\"name\":\"$(printf 'a%.0s' {1..65})\",\"platform\":10}"
expect_status 400 "name too long"
req POST /v1/devices -H "$(auth "$OPERATOR")" -d '{"name":"x","platform":10}'
expect_status 415 "form content type"
req POST /v1/devices -H "$(auth "$OPERATOR")" -H "$JSON" -d '{"name": "x", "platform": '
expect_status 400 "malformed JSON"
expect_jq '.error.code == "bad_json"' "malformed JSON body"
req POST /v1/devices -H "$(auth "$OPERATOR")" -H "$JSON" -d '[1,2]'
expect_status 400 "JSON array"
# A batch: all in one transaction, or none.
req POST /v1/devices -H "$(auth "$OPERATOR")" -H "$JSON" \
    -d '{"devices":[{"name":"b-1","platform":10,"groups":["north"],"channel":"beta"},{"name":"b-2","platform":"electron"}]}'
expect_status 201 "create a batch"
expect_jq '[.devices[].name] == ["b-1","b-2"] and all(.devices[]; .psk | test("^[0-9a-f]{64}$"))
           and .devices[0].groups == ["north"] and .devices[0].channel == "beta"
           and .devices[1].channel == "stable"' "the batch's devices, in order, with PSKs"
req POST /v1/devices -H "$(auth "$OPERATOR")" -H "$JSON" \
    -d '{"devices":[{"name":"b-3","platform":10},{"name":"b-1","platform":10}]}'
expect_status 409 "a batch with a taken name"
expect_jq '.error.message == "device '"'b-1'"' already exists"' "names the taken name"
req POST /v1/devices -H "$(auth "$OPERATOR")" -H "$JSON" \
    -d '{"devices":[{"name":"b-3","platform":10},{"name":"b-4","platform":10,"product":"nope"}]}'
expect_status 400 "a batch with an unknown product"
expect_jq '.error.message == "devices[1]: product '"'nope'"' does not exist"' "names the entry"
req POST /v1/devices -H "$(auth "$OPERATOR")" -H "$JSON" \
    -d '{"devices":[{"name":"b-3","platform":10},{"name":"b-3","platform":10}]}'
expect_status 400 "a name twice in a batch"
req POST /v1/devices -H "$(auth "$OPERATOR")" -H "$JSON" -d '{"devices":[{"name":"b-3"}]}'
expect_status 400 "a batch entry without a platform"
expect_jq '.error.message | startswith("devices[0]: field '"'platform'"'")' "names the field"
req POST /v1/devices -H "$(auth "$OPERATOR")" -H "$JSON" -d '{"devices":[]}'
expect_status 400 "an empty batch"
req GET /v1/devices/b-3 -H "$(auth "$OPERATOR")"
expect_status 404 "a refused batch created nothing"
for d in b-1 b-2; do req DELETE "/v1/devices/$d" -H "$(auth "$OPERATOR")"; expect_status 204 "remove $d"; done
head -c 70000 /dev/zero | tr '\0' ' ' >"$WORK/big.json"
req POST /v1/devices -H "$(auth "$OPERATOR")" -H "$JSON" --data-binary @"$WORK/big.json"
expect_status 413 "oversized JSON"
expect_jq '.error.code == "too_large"' "oversized body"
# Chunked: no Content-Length, so the limit is enforced while reading.
req POST /v1/devices -H "$(auth "$OPERATOR")" -H "$JSON" -H 'Transfer-Encoding: chunked' \
    --data-binary @"$WORK/big.json"
expect_status 413 "oversized chunked JSON"
req GET /v1/health
expect_status 200 "still serving after bad requests"

req GET /v1/devices -H "$(auth "$OPERATOR")"
expect_status 200 "list devices"
expect_jq '[.devices[].name] == ["bench-02","electron-01"] and all(.devices[]; has("psk") | not)' \
    "device list"
# issue 13 (sort): sort=, its cursor, and the errors naming sort and after.
req GET "/v1/devices?sort=-name" -H "$(auth "$OPERATOR")"
expect_status 200 "sort=-name"
expect_jq '[.devices[].name] == ["electron-01","bench-02"]' "names descending"
req GET "/v1/devices?sort=-last_seen&limit=1" -H "$(auth "$OPERATOR")"
expect_status 200 "sort=-last_seen, a page of 1"
expect_jq '[.devices[].name] == ["bench-02"] and .next == "~bench-02"' \
    "never seen: ties by name, the cursor with an empty value"
req GET "/v1/devices?sort=-last_seen&limit=1&after=~bench-02" -H "$(auth "$OPERATOR")"
expect_status 200 "the next page by the cursor"
expect_jq '[.devices[].name] == ["electron-01"] and .next == "~electron-01"' "second page"
req GET "/v1/devices?sort=bytes&limit=5&after=0~bench-02" -H "$(auth "$OPERATOR")"
expect_status 200 "sort=bytes after a cursor"
expect_jq '[.devices[].name] == ["electron-01"] and (has("next") | not)' "bytes page"
req GET "/v1/devices?sort=bytes&after=~bench-02" -H "$(auth "$OPERATOR")"
expect_status 400 "sort=bytes: every device has a value, so no empty VALUE"
expect_jq '.error.message | startswith("after: expected")' "names after (bytes)"
req GET "/v1/devices?sort=seen" -H "$(auth "$OPERATOR")"
expect_status 400 "an unknown sort"
expect_jq '.error.message == "sort: name, last_seen, reported, next_checkin, bytes or state, with a '"'-'"' in front for descending"' \
    "names the allowed sorts"
for bad in electron-01 "x1~electron-01" "1~" "1~no/name"; do
    req GET "/v1/devices?sort=last_seen&after=$bad" -H "$(auth "$OPERATOR")"
    expect_status 400 "a malformed cursor: $bad"
    expect_jq '.error.message == "after: expected the `next` of the page before (VALUE~NAME) for sort=last_seen"' \
        "names after ($bad)"
done
req GET /v1/devices/electron-01 -H "$(auth "$OPERATOR")"
expect_status 200 "get device"
expect_jq '.platform == 10 and .dev == false and .inventory == null and (has("psk") | not)' \
    "get device body"
req GET /v1/devices/nope -H "$(auth "$OPERATOR")"
expect_status 404 "unknown device"
expect_jq ".error.message == \"device 'nope' does not exist\"" "404 message"
req PUT /v1/devices/electron-01 -H "$(auth "$OPERATOR")"
expect_status 405 "wrong method"
req GET /v1/nothing -H "$(auth "$OPERATOR")"
expect_status 404 "unknown endpoint"
req DELETE /v1/devices/bench-02 -H "$(auth "$OPERATOR")"
expect_status 204 "delete device"
req DELETE /v1/devices/bench-02 -H "$(auth "$OPERATOR")"
expect_status 404 "delete deleted device"

# ---- concurrency: 24 clients at once on the worker pool -------------------------------------
# (wait on the clients' pids only: a bare `wait` would wait for the daemon too)
CLIENTS=()
for i in $(seq 1 24); do
    curl -s -o /dev/null -w '%{http_code}\n' -H "$(auth "$OPERATOR")" -H "$JSON" \
        -d "{\"name\":\"fleet-$i\",\"platform\":10}" "$BASE/v1/devices" >>"$WORK/parallel" &
    CLIENTS+=($!)
done
wait "${CLIENTS[@]}"
[ "$(grep -c '^201$' "$WORK/parallel")" = 24 ] && pass || fail "parallel creates: $(sort "$WORK/parallel" | uniq -c)"
req GET /v1/devices -H "$(auth "$OPERATOR")"
expect_jq '[.devices[].name | select(startswith("fleet-"))] | length == 24' "parallel devices listed"
CLIENTS=()
for i in $(seq 1 24); do
    curl -s -o /dev/null -H "$(auth "$OPERATOR")" -X DELETE "$BASE/v1/devices/fleet-$i" &
    CLIENTS+=($!)
done
wait "${CLIENTS[@]}"

# ---- images --------------------------------------------------------------------------------
"$CLI" keys generate --out "$WORK/key.pem" >/dev/null || fail "airlift keys generate"
"$CLI" image create --key "$WORK/key.pem" -o "$WORK/sp1.alim" \
    "$FIRMWARE/electron/system-part1-0.7.0.bin" >/dev/null || fail "airlift image create"
SHA=$("$CLI" image inspect --json "$WORK/sp1.alim" | jq -r .image.payload_sha256)

req POST /v1/images -H "$(auth "$OPERATOR")" -H "$BIN" --data-binary @"$WORK/sp1.alim"
expect_status 201 "upload image"
expect_jq ".sha256 == \"$SHA\" and .function == \"system\" and .version == \"0.7.0\" and .platform == 10 and .file_size == $(stat -c %s "$WORK/sp1.alim")" \
    "upload image body"
expect_jq '(.dependencies | length) == 1' "image dependencies"
ID=$(sha256sum "$WORK/sp1.alim" | cut -c1-64)
expect_jq ".id == \"$ID\"" "an image's id is the SHA-256 of its file"
[ -f "$DATA/images/$ID.alim" ] && pass || fail "blob not named by the image id in the data dir"
req POST /v1/images -H "$(auth "$OPERATOR")" -H "$BIN" --data-binary @"$WORK/sp1.alim"
expect_status 200 "upload the same image again"
req POST /v1/images -H "$(auth "$READER")" -H "$BIN" --data-binary @"$WORK/sp1.alim"
expect_status 401 "upload with a revoked token"
req POST /v1/images -H "$(auth "$OPERATOR")" -H "$JSON" --data-binary @"$WORK/sp1.alim"
expect_status 415 "image with JSON content type"

# One payload byte flipped: the header's SHA-256 no longer matches.
cp "$WORK/sp1.alim" "$WORK/bad.alim"
printf '\x5a' | dd of="$WORK/bad.alim" bs=1 seek=40000 conv=notrunc status=none
req POST /v1/images -H "$(auth "$OPERATOR")" -H "$BIN" --data-binary @"$WORK/bad.alim"
expect_status 400 "corrupted image"
expect_jq '.error.code == "invalid_image" and .error.reason == "hash_mismatch"' "corrupt reason"
head -c 30000 "$WORK/sp1.alim" >"$WORK/short.alim"
req POST /v1/images -H "$(auth "$OPERATOR")" -H "$BIN" --data-binary @"$WORK/short.alim"
expect_status 400 "truncated image"
expect_jq '.error.reason == "size_mismatch" or .error.reason == "truncated"' "truncated reason"
head -c 4096 /dev/urandom >"$WORK/noise.bin"
req POST /v1/images -H "$(auth "$OPERATOR")" -H "$BIN" --data-binary @"$WORK/noise.bin"
expect_status 400 "random bytes"
expect_jq '.error.reason == "bad_magic"' "noise reason"
req POST /v1/images -H "$(auth "$OPERATOR")" -H "$BIN" --data-binary ''
expect_status 400 "empty image"
# AL_IMAGE_MAX_FILE: 16 MiB of payload and the largest header (448 bytes).
head -c $((16 * 1024 * 1024 + 448 + 1)) /dev/zero >"$WORK/huge.bin"
req POST /v1/images -H "$(auth "$OPERATOR")" -H "$BIN" --data-binary @"$WORK/huge.bin"
expect_status 413 "image over AL_IMAGE_MAX_FILE"
head -c $((16 * 1024 * 1024 + 448)) /dev/zero >"$WORK/huge.bin"
req POST /v1/images -H "$(auth "$OPERATOR")" -H "$BIN" --data-binary @"$WORK/huge.bin"
expect_status 400 "an image file of AL_IMAGE_MAX_FILE bytes is read (and found invalid)"

req GET /v1/images -H "$(auth "$OPERATOR")"
expect_status 200 "list images"
expect_jq "(.images | length) == 1 and .images[0].sha256 == \"$SHA\"" "image list"
req GET "/v1/images/$SHA" -H "$(auth "$OPERATOR")"
expect_status 200 "get image"
req GET "/v1/images/$(printf 'f%.0s' {1..64})" -H "$(auth "$OPERATOR")"
expect_status 404 "unknown image"
req GET /v1/images/XYZ -H "$(auth "$OPERATOR")"
expect_status 400 "malformed image id"
curl -s -o "$WORK/download.alim" -H "$(auth "$OPERATOR")" "$BASE/v1/images/$SHA/blob"
cmp -s "$WORK/download.alim" "$WORK/sp1.alim" && pass || fail "blob download differs"

# ---- events --------------------------------------------------------------------------------
req GET "/v1/events?device=electron-01" -H "$(auth "$OPERATOR")"
expect_status 200 "device events"
expect_jq '[.events[].type] == ["device.created"]' "device history"
req GET /v1/events -H "$(auth "$OPERATOR")"
expect_jq '[.events[].type] | index("image.uploaded") != null and index("device.deleted") != null' \
    "event log"
req GET "/v1/events?limit=0" -H "$(auth "$OPERATOR")"
expect_status 400 "bad limit"

# ---- a second daemon on the same data dir, or on a taken port ------------------------------
"$AIRLIFTD" --data-dir "$DATA" --http-listen 127.0.0.1:0 --coap-listen 127.0.0.1:0 >/dev/null 2>"$WORK/second.err"; rc=$?
[ $rc -eq 3 ] && pass || fail "second daemon on the same data dir exits $rc, want 3"
grep -q 'in use' "$WORK/second.err" && pass || fail "no 'in use' message: $(cat "$WORK/second.err")"
"$AIRLIFTD" --data-dir "$WORK/other" --http-listen "127.0.0.1:$PORT" --coap-listen 127.0.0.1:0 >/dev/null 2>&1; rc=$?
[ $rc -eq 4 ] && pass || fail "taken port exits $rc, want 4"

stop
grep -q 'msg="airliftd stopped"' "$WORK/first.err" && pass || fail "no clean stop in the log"

# ---- restart: data kept, migrations idempotent, config file, JSON logs ---------------------
cat >"$WORK/airliftd.conf" <<EOF
# settings for the restart
log-format = json
log-level = debug
http-listen = 127.0.0.1:7
EOF
start second --config "$WORK/airliftd.conf"
[ -s "$WORK/second.out" ] && fail "a second admin token was printed" || pass
req GET /v1/health
expect_status 200 "health after restart"
expect_jq '.schema_version == 11' "schema version after restart"
req GET /v1/devices/electron-01 -H "$(auth "$OPERATOR")"
expect_status 200 "device kept across restart"
req GET /v1/devices -H "$(auth "$ADMIN")"
expect_status 200 "admin token kept across restart"
req GET "/v1/images/$SHA" -H "$(auth "$OPERATOR")"
expect_status 200 "image kept across restart"
curl -s -o "$WORK/download2.alim" -H "$(auth "$OPERATOR")" "$BASE/v1/images/$SHA/blob"
cmp -s "$WORK/download2.alim" "$WORK/sp1.alim" && pass || fail "blob after restart differs"
stop
jq -e -s 'length > 3 and all(.[]; has("ts") and has("level") and has("msg"))' \
    "$WORK/second.err" >/dev/null && pass || fail "--log-format json from the config file"

echo "$CHECKS checks passed, $FAILS failed"
[ "$FAILS" -eq 0 ]
