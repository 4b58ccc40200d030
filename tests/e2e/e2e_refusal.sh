#!/usr/bin/env bash
# A refusal that a full image cannot cure ends the update at once (issue 12, item 8): an
# image signed by a key the device does not trust travels compressed, the device refuses it
# (unknown key), and the update fails with the device's reason. No fallback to the full
# image (which is the very same image, refused again): no update.fallback event, no second
# transfer, the bytes on the air are those of one compressed transfer. A stream fault still
# falls back (e2e_delta.sh, e2e_encoding.sh).
BUILD=$1
. "$(dirname "$0")/lib.sh"
start_server
sign_device_os
device e1
run_device e1
wait_device_reported e1

# A payload that compresses well, so the first transfer is a compressed stream.
"$AIRLIFT" keys generate --out "$WORK/stranger.pem" >/dev/null
head -c 65536 /dev/zero >"$WORK/zeros.bin"
"$AIRLIFT" image create --key "$WORK/stranger.pem" -o "$WORK/stranger.alim" --function application \
    --index 1 --platform 10 --version 3.0.0 --link-address 0x08080000 "$WORK/zeros.bin" >/dev/null
IMG=$(upload "$WORK/stranger.alim")
size=$(stat -c %s "$WORK/stranger.alim")

r=$(api_json POST /v1/devices/e1/updates "{\"images\":[\"$IMG\"]}")
U=$(jq -r .id <<<"$r")
check "update $U queued" test "$U" -gt 0
check "the update fails" wait_state "$U" failed
up=$(api GET "/v1/updates/$U")
echo "why: $(jq -r .why <<<"$up")"
check "with the device's reason: the key" \
    test "$(jq -r .why <<<"$up")" = "the device refused step 1: integrity check failure (signed by an unknown key)"
ev=$(api GET "/v1/events?update=$U&limit=1000")
check "the failure event names the error and the encoding" \
    test "$(jq -r '.events[] | select(.type=="update.failed") | .data.error + " " + .data.encoding' <<<"$ev")" = "unknown_key compressed"
check "no fallback to the full image" \
    test "$(jq '[.events[] | select(.type=="update.fallback")] | length' <<<"$ev")" -eq 0
check "the plan never sent the full image" test "$(jq -r '.steps[0].encoding' <<<"$up")" = compressed
sleep 1 # the session's last bytes are counted when it ends
sent=$(api GET /v1/devices/e1 | jq .bytes_sent)
check "all bytes ever sent to the device ($sent, handshakes included) stay below the image file ($size)" \
    test "$sent" -lt "$size"
check "the device downloaded once" test "$(grep -c 'update failed on the device' "$WORK/e1.log")" -eq 1
check "the device still runs what it ran" \
    test "$(api GET /v1/devices/e1 | jq -r '[.inventory.modules[] | select(.function=="application")] | length')" -eq 0
finish
