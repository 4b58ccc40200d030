#!/usr/bin/env bash
# Slow encodings never hold a request thread (docs/protocol.md, "Transfers being made").
# The streams of a 1 MiB image are held back (airliftd's AIRLIFTD_TEST_HOLD, docs/airliftd.md)
# for as long as the test needs, so nothing here depends on how fast this machine encodes.
# While they are being made: the API's queue answers with the step's encoding "pending" (at
# once, or after its bounded wait for the one request allowed to wait); /v1/health answers;
# the device it is for is told to come back (a plan that waits) instead of being sent the
# full image; and another device's small patch is made, planned and sent meanwhile. Every
# check is an ordering (the slow stream is still absent from the data directory when the
# other thing happened), never a wall-clock threshold. Once the hold is lifted and the
# stream made, the next session of that device gets its plan.
BUILD=$1
. "$(dirname "$0")/lib.sh"
HOLD=$WORK/hold # absent until the big image is uploaded: no job waits
AIRLIFTD_TEST_HOLD=$HOLD start_server --workers 2
sign_device_os
BIG=$(app big 1.0.0 1048576)
BIG_ID=$(sha256sum "$WORK/big.alim" | cut -c1-64) # its transfers are named by its image id
echo "$BIG_ID" >"$HOLD" # from now on every stream of the big image waits
NEW=$(api GET /v1/images | jq -r '.images[] | select(.function=="system" and .index==1 and .version=="0.7.0") | .sha256')
slow="$WORK/data/transfers/$BIG_ID.z.ald"
making() { [ ! -e "$slow" ]; } # the slow stream is still being made
device d1
device d2
timeout 60 "$DEVICE" run "$WORK/d1" --sessions 1 >"$WORK/d1.log" 2>&1
timeout 60 "$DEVICE" run "$WORK/d2" --sessions 1 >"$WORK/d2.log" 2>&1

# ---- 1. the API answers with what it knows ----
# A dry run takes the one place for a request that waits (up to 5 s) for a stream; the
# real request that follows while it waits answers at once.
start=$SECONDS
api_json POST /v1/devices/d1/updates "{\"images\":[\"$BIG\"],\"dry_run\":true}" >"$WORK/dry.json" &
DRY_PID=$!
sleep 1
r=$(api_json POST /v1/devices/d1/updates "{\"images\":[\"$BIG\"]}")
U1=$(jq -r .id <<<"$r")
echo "queue answered in $((SECONDS - start)) s: $(jq -c '[.steps[] | {encoding, size}]' <<<"$r")"
check "the queue answered while the stream is made" making
check "the step's encoding is pending" test "$(jq -r '.steps[0].encoding' <<<"$r")" = pending
check "its size is the image's for now" test "$(jq -r '.steps[0].size' <<<"$r")" -eq \
    "$(stat -c %s "$WORK/big.alim")"

# ---- 2. health answers ----
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP/v1/health")
check "/v1/health answered ($code) while the stream is made" bash -c "[ $code = 200 ] && [ ! -e '$slow' ]"

# ---- 3. the device it is for comes back later, without the full image ----
timeout 60 "$DEVICE" run "$WORK/d1" --sessions 1 --link >>"$WORK/d1.log" 2>&1
check "d1's session ended while the stream is made" making
check "d1 was told to come back" grep -q "a transfer is being made: the device comes back.*device=d1" \
    "$WORK/airliftd.log"
down=$(sed -n 's/^link: [0-9]* bytes up, \([0-9]*\) bytes down.*/\1/p' "$WORK/d1.log" | tail -1)
check "d1 received no image ($down bytes down)" test "$down" -lt 20000
check "d1's update waits, queued" test "$(update_state "$U1")" = queued

# ---- 4. another device's small patch goes meanwhile ----
U2=$(api_json POST /v1/devices/d2/updates "{\"images\":[\"$NEW\"]}" | jq -r .id)
run_device d2 --until-idle
check "d2 downloads" wait_state "$U2" downloading verifying installing rebooting confirming \
    succeeded
check "d2 was sending while the slow stream is made" making
check "d2's plan is a patch" test "$(api GET "/v1/updates/$U2" | jq -r '.steps[0].encoding')" = delta
wait "$DRY_PID"
check "the dry run that waited answered while the stream is made, pending too" \
    bash -c "[ \"\$(jq -r '.steps[0].encoding' '$WORK/dry.json')\" = pending ]"
check "d2's update succeeds" wait_state "$U2" succeeded
echo "d2 updated $((SECONDS - start)) s after the slow encoding began;" \
     "the slow stream is $([ -e "$slow" ] && echo made || echo still being made)"

# ---- 5. once made, d1 gets its plan ----
rm -f "$HOLD"
for _ in $(seq 3000); do [ -e "$slow" ] && break; sleep 0.1; done # a loaded machine: minutes
check "the slow stream got made ($((SECONDS - start)) s)" test -e "$slow"
r=$(api_json POST /v1/devices/d1/updates "{\"images\":[\"$BIG\"],\"dry_run\":true}")
check "the dry run now knows the encoding" test "$(jq -r '.steps[0].encoding' <<<"$r")" != pending
# (The simulated Electron then refuses it: 1 MiB does not fit its application slot. That
# it got the plan is what counts here.)
timeout 60 "$DEVICE" run "$WORK/d1" --sessions 1 --session-bytes 20000 >>"$WORK/d1.log" 2>&1
check "d1 got the plan and started downloading" test "$(api GET "/v1/events?device=d1&limit=1000" | \
    jq '[.events[] | select(.type=="update.downloading")] | length')" -ge 1
finish
