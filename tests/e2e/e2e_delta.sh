#!/usr/bin/env bash
# Delta updates end to end: a device on Device OS 0.6.4 gets system-part1 0.7.0 as a patch
# from the image it runs. The bytes on the air (counted by the simulated link) are a fraction
# of the image, and the CLI's estimate matches them within 5%. Then a device whose patch
# cannot be applied falls back to the full image and still ends up on 0.7.0, and a device
# whose running image the server does not hold gets the image compressed.
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
# The cached patch goes bad on disk (the server restarts, so it reads it again).
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
for f in "$WORK/data/transfers/$NEW_ID".*.ald; do
    # 256 bytes inverted in its middle: one byte set to a fixed value can happen to be the
    # byte that was there, or one whose change decodes the same.
    case $f in *.z.ald) ;; *) perl -e 'open(F, "+<", $ARGV[0]) or die; seek(F, 2000, 0);
                                       read(F, $b, 256); seek(F, 2000, 0); print F ($b ^ ("\xff" x 256))' "$f"
                              cp "$f" "$WORK/e2.bad" ;; esac
done
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
check "and the bad patch was dropped from the cache" bash -c "! cmp -s '$WORK/e2.bad' $WORK/data/transfers/$NEW_ID.[0-9a-f]*.ald"

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
finish
