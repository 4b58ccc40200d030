#!/usr/bin/env bash
# A device killed (SIGKILL, a power cut) in the middle of a download resumes at the offset it
# holds: the bytes sent for the whole update stay well under the image plus what the device
# already had (a download started again from 0 sends at least that, plus the protocol's
# overhead).
BUILD=$1
. "$(dirname "$0")/lib.sh"
start_server --coap-idle-timeout 2   # the killed session is accounted 2 s after
sign_device_os
device e1
APP=$(app app1 1.0.0 120000)   # near the Electron's 128 KiB application slot
size=$(stat -c %s "$WORK/app1.alim")
U=$(api_json POST /v1/devices/e1/updates "{\"images\":[\"$APP\"]}" | jq -r .id)
run_device e1 --link --bandwidth 40000   # about 3 s for the image
for _ in $(seq 400); do
    off=$(api GET "/v1/updates/$U" | jq .progress.offset)
    [ "$off" -gt $((size / 3)) ] && break
    sleep 0.02
done
kill -9 "$DEVICE_PID"; wait "$DEVICE_PID" 2>/dev/null
check "killed mid-download (at $off of $size bytes)" test "$off" -gt 0 -a "$off" -lt "$size"
check "the update is still downloading" test "$(update_state "$U")" = downloading
sleep 3   # the server ends the dead session and counts its last bytes
run_device e1
check "after the restart the update completes" wait_state "$U" succeeded
sent=$(api GET "/v1/updates/$U" | jq .bytes_sent)
echo "bytes sent: $sent for a $size-byte image ($(awk "BEGIN{printf \"%.3f\", $sent/$size}")x)"
check "it resumed: bytes sent ($sent) stay under the image plus 7/8 of what the device had ($((size + off * 7 / 8)))" \
    test "$sent" -lt $((size + off * 7 / 8))
finish
