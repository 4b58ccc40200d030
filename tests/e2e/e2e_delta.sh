#!/usr/bin/env bash
# Delta updates end to end: a device on Device OS 0.6.4 gets system-part1 0.7.0 as a patch
# from the image it runs. The bytes on the air (counted by the simulated link) are a fraction
# of the image, and the CLI's estimate matches them within 5%. Then a device whose patch
# cannot be applied falls back to the full image and still ends up on 0.7.0, and a device
# whose running image the server does not hold gets the image compressed. Last, all three
# system parts by patch, the later ones reading the device's other system slots too.
BUILD=$1
. "$(dirname "$0")/lib.sh"
start_server
sign_device_os
NEW=$(upload "$WORK/system-part1-0.7.0.alim")
NEW_ID=$(sha256sum "$WORK/system-part1-0.7.0.alim" | cut -c1-64) # transfers are named by image id
size=$(stat -c %s "$WORK/system-part1-0.7.0.alim")

# ---- 1. by patch ----
device e1
timeout 60 "$DEVICE" run "$WORK/e1" --sessions 1 >"$WORK/e1.log" 2>&1 # it reports what it runs
"$AIRLIFT" flash e1 "$WORK/system-part1-0.7.0.alim" --yes --no-wait >"$WORK/flash.out" 2>&1
cat "$WORK/flash.out"
est=$(sed -n 's/.*(\([0-9]*\) bytes incl. protocol overhead).*/\1/p' "$WORK/flash.out")
U=$(api GET /v1/devices/e1 | jq -r .update.id)
check "the plan sends a patch from 0.6.4" \
    test "$(api GET "/v1/updates/$U" | jq -r '.steps[0].encoding + " " + .steps[0].base_version')" = "delta 0.6.4"
check "the CLI shows the patch" grep -q "patch from 0.6.4" "$WORK/flash.out"
timeout 120 "$DEVICE" run "$WORK/e1" --link --until-idle --retry-ms 200 >>"$WORK/e1.log" 2>&1
read -r up down < <(sed -n 's/^link: \([0-9]*\) bytes up, \([0-9]*\) bytes down.*/\1 \2/p' "$WORK/e1.log" | tail -1)
air=$((up + down))
echo "on the air: $air bytes ($down down, $up up) for a $size-byte image"
check "the update succeeds" wait_state "$U" succeeded
check "system part 3 runs 0.7.0" test "$(api GET /v1/devices/e1 | \
    jq -r '.inventory.modules[] | select(.function=="system" and .index==3) | .version')" = 0.7.0
check "the air carried less than half the image ($air of $size)" test $((air * 2)) -lt "$size"
check "the CLI's estimate ($est) is within 5% of the bytes on the air ($air)" \
    test $((est * 100)) -ge $((air * 95)) -a $((est * 100)) -le $((air * 105))
check "the patch is kept for the next device" test -n "$(ls "$WORK/data/transfers/$NEW_ID".*.ald)"

# ---- 2. a patch that does not apply: the full image instead ----
device e2
timeout 60 "$DEVICE" run "$WORK/e2" --sessions 1 >"$WORK/e2.log" 2>&1
# The cached patch e1 got goes bad on disk (the server restarts, so it reads it again).
bad="$WORK/data/transfers/$(api GET "/v1/updates/$U" | jq -r '.steps[0].transfer').ald"
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
# 256 bytes inverted in its middle: one byte set to a fixed value can happen to be the byte
# that was there, or one whose change decodes the same.
perl -e 'open(F, "+<", $ARGV[0]) or die; seek(F, 2000, 0);
         read(F, $b, 256); seek(F, 2000, 0); print F ($b ^ ("\xff" x 256))' "$bad"
cp "$bad" "$WORK/e2.bad"
"$AIRLIFTD" --data-dir "$WORK/data" --http-listen "127.0.0.1:$HTTP" --coap-listen "127.0.0.1:$COAP" \
    >>"$WORK/airliftd.log" 2>&1 &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
for _ in $(seq 100); do api GET /v1/health >/dev/null 2>&1 && break; sleep 0.05; done
U=$(api_json POST /v1/devices/e2/updates "{\"images\":[\"$NEW\"]}" | jq -r .id)
check "e2's plan is a patch too" test "$(api GET "/v1/updates/$U" | jq -r '.steps[0].encoding')" = delta
timeout 120 "$DEVICE" run "$WORK/e2" --until-idle --retry-ms 200 >>"$WORK/e2.log" 2>&1
check "the update still succeeds" wait_state "$U" succeeded
check "with the full image" test "$(api GET "/v1/updates/$U" | jq -r '.steps[0].encoding')" = full
check "after a fallback event" test "$(api GET "/v1/events?device=e2&limit=1000" | \
    jq '[.events[] | select(.type=="update.fallback")] | length')" -eq 1
check "the device said why" grep -q "patch_corrupt\|hash_mismatch" <<<"$(api GET "/v1/events?device=e2&limit=1000")"
check "and the bad patch was dropped from the cache" bash -c "! cmp -s '$WORK/e2.bad' '$bad'"

# ---- 3. a base the server does not hold: the image compressed ----
# e3 left the factory with a build of system-part2 0.6.4 that was never uploaded.
# Another build: one byte differs, and its trailers are made anew as the build tools
# would (docs/particle-modules.md, "Trailers"): the suffix's SHA-256 (the 32 bytes before
# its 2-byte size, over every byte before them), then the CRC-32 (big-endian, over the
# module before it).
python3 - "$FW/system-part2-0.6.4.bin" "$WORK/other.bin" <<'PY'
import hashlib, sys, zlib
d = bytearray(open(sys.argv[1], "rb").read())
end = len(d) - 4
d[100000] ^= 0xff
d[end - 34:end - 2] = hashlib.sha256(bytes(d[:end - 34])).digest()
d[end:] = zlib.crc32(bytes(d[:end])).to_bytes(4, "big")
open(sys.argv[2], "wb").write(d)
PY
"$AIRLIFT" image create --key "$WORK/author.pem" -o "$WORK/other.alim" "$WORK/other.bin" >/dev/null
reg=$(api_json POST /v1/devices '{"name":"e3","platform":10}')
"$DEVICE" create "$WORK/e3" --trust "$WORK/author.pub.pem" >/dev/null
"$DEVICE" factory "$WORK/e3" "$WORK/bootloader-2.3.0.alim" "$WORK/system-part1-0.6.4.alim" \
    "$WORK/other.alim" "$WORK/system-part3-0.6.4.alim" >/dev/null
"$DEVICE" provision "$WORK/e3" --server "127.0.0.1:$COAP" --identity "$(jq -r .identity <<<"$reg")" \
    --psk "$(jq -r .psk <<<"$reg")" >/dev/null
timeout 60 "$DEVICE" run "$WORK/e3" --sessions 1 >"$WORK/e3.log" 2>&1
NEW2=$(upload "$WORK/system-part2-0.7.0.alim")
r=$(api_json POST /v1/devices/e3/updates "{\"images\":[\"$NEW2\"]}")
echo "e3's plan: $(jq -c '[.steps[] | {function, index, encoding, size}]' <<<"$r")"
check "an unknown base: that image goes compressed" \
    test "$(jq -r '.steps[] | select(.function=="system" and .index==1) | .encoding' <<<"$r")" = compressed
timeout 120 "$DEVICE" run "$WORK/e3" --until-idle --retry-ms 200 >>"$WORK/e3.log" 2>&1
check "and installs" wait_state "$(jq -r .id <<<"$r")" succeeded

# ---- 4. all three system parts: later patches also read the other slots (encoding 3) ----
# The plan installs system 3, 1, 2; each step's patch may read, after the slot's own old
# payload, the payloads of the other two system slots as the device will run them at that
# step (docs/protocol.md, "Encodings"). A device whose agent does not read across slots
# (airlift-device run --no-slots) gets patches from its own slot only.
NEW3=$(upload "$WORK/system-part3-0.7.0.alim")
for d in e4 e5; do
    device $d
    timeout 60 "$DEVICE" run "$WORK/$d" --sessions 1 $([ $d = e5 ] && echo --no-slots) >"$WORK/$d.log" 2>&1
done
"$AIRLIFT" flash e4 "$WORK/system-part1-0.7.0.alim" "$WORK/system-part2-0.7.0.alim" \
    "$WORK/system-part3-0.7.0.alim" --yes --no-wait >"$WORK/flash4.out" 2>&1
cat "$WORK/flash4.out"
U4=$(api GET /v1/devices/e4 | jq -r .update.id)
api GET "/v1/updates/$U4" >"$WORK/u4.json"
echo "e4's plan: $(jq -c '[.steps[] | {index, encoding, size, also: (.base_also // [] | length)}]' "$WORK/u4.json")"
check "e4's device says it reads across slots" \
    test "$(api GET /v1/devices/e4 | jq -r .inventory.slots)" = true
check "every step is a patch" test "$(jq '[.steps[] | select(.encoding == "delta")] | length' "$WORK/u4.json")" -eq 3
check "the later steps read the two other system parts" \
    test "$(jq -c '[.steps[1:][] | .base_also | length]' "$WORK/u4.json")" = "[2,2]"
# what they read: system 3's new image (installed first) and the old one of the slot to come
check "step 2 reads system 3 as it will run then (0.7.0)" \
    bash -c "jq -r '.steps[1].base_also[]' '$WORK/u4.json' | grep -qx '$(sha256sum "$WORK/system-part1-0.7.0.alim" | cut -c1-64)'"
check "the CLI shows it" grep -q "patch from 0.6.4 and 2 other parts" "$WORK/flash4.out"
timeout 300 "$DEVICE" run "$WORK/e4" --until-idle --retry-ms 200 >>"$WORK/e4.log" 2>&1
check "e4's update succeeds" wait_state "$U4" succeeded
check "e4 runs 0.7.0 in all three system slots" test "$(api GET /v1/devices/e4 | \
    jq -r '[.inventory.modules[] | select(.function=="system") | .version] | unique | join(",")')" = 0.7.0
check "with no fallback" test "$(api GET "/v1/events?device=e4&limit=1000" | \
    jq '[.events[] | select(.type=="update.fallback")] | length')" -eq 0
check "e5's device does not" test "$(api GET /v1/devices/e5 | jq -r .inventory.slots)" = false
r=$(api_json POST /v1/devices/e5/updates "{\"images\":[\"$(api GET /v1/images | jq -r '.images[] | select(.function=="system" and .index==3 and .version=="0.7.0") | .sha256')\",\"$NEW2\",\"$NEW3\"]}")
echo "e5's plan: $(jq -c '[.steps[] | {index, encoding, size, also: (.base_also // [] | length)}]' <<<"$r")"
check "e5's patches are from their own slots" \
    test "$(jq '[.steps[] | select(.encoding == "delta" and .base_also == null)] | length' <<<"$r")" -eq 3
timeout 300 "$DEVICE" run "$WORK/e5" --until-idle --retry-ms 200 --no-slots >>"$WORK/e5.log" 2>&1
check "and its update succeeds" wait_state "$(jq -r .id <<<"$r")" succeeded
# Removing an image drops every transfer made of it, patches that also read it included.
OLD2=$(sha256sum "$WORK/system-part3-0.6.4.alim" | cut -c1-64)
check "an encoding-3 patch (step 2) reads system 2 at 0.6.4 as another slot" \
    bash -c "ls '$WORK/data/transfers' | grep -Eq '^[0-9a-f]{64}\.[0-9a-f]{64}(\.[0-9a-f]{32})*\.${OLD2:0:32}'"
check "system-part3 0.6.4 can be removed" test "$(api DELETE "/v1/images/$OLD2" | jq -r .id)" = "$OLD2"
check "and no transfer made of it is left" \
    bash -c "! ls '$WORK/data/transfers' | grep -q '${OLD2:0:32}'"
finish
