#!/usr/bin/env bash
# A device that resets and comes back from the same source address and port (no NAT: a
# private APN, an NB-IoT modem) while the server still holds its old DTLS session: the new
# ClientHello (epoch 0), once its cookie is back, ends the old session and the new handshake
# goes on (RFC 6347 section 4.2.8). The device is killed mid-download and restarted with
# --same-port; it must finish long before the old session's idle timeout (IDLE) would have
# freed its address. On the old code the new handshake went to the old session and was
# ignored until that timeout.
BUILD=$1
. "$(dirname "$0")/lib.sh"
IDLE=60
start_server --coap-idle-timeout "$IDLE"
sign_device_os
device e1
APP=$(app app1 1.0.0 120000)
size=$(stat -c %s "$WORK/app1.alim")
U=$(api_json POST /v1/devices/e1/updates "{\"images\":[\"$APP\"]}" | jq -r .id)
run_device e1 --same-port --bandwidth 400000   # bits a second: about 2.5 s for the image
kill_mid_download "$U" $((size / 3))
check "killed mid-download (at $OFFSET of $size bytes)" test "$OFFSET" -gt 0 -a "$OFFSET" -lt "$size"
port1=$(sed -n 's/^link: source port \([0-9]*\).*/\1/p' "$WORK/e1.log" | tail -1)
start=$SECONDS
run_device e1 --same-port --bandwidth 400000
WAIT_S=$IDLE check "after the restart from the same port the update completes" \
    wait_state "$U" succeeded
took=$((SECONDS - start))
port2=$(sed -n 's/^link: source port \([0-9]*\).*/\1/p' "$WORK/e1.log" | tail -1)
check "the restarted device used the same source port ($port1, $port2)" \
    test -n "$port1" -a "$port1" = "$port2"
echo "restart to succeeded: $took s (old session's idle timeout: $IDLE s)"
check "it finished in $took s, well before the old session's idle timeout ($IDLE s)" \
    test "$took" -lt $((IDLE / 3))
for _ in $(seq 60); do grep -q "old sessions dropped" "$WORK/airliftd.log" && break; sleep 0.5; done
check "airliftd logged the dropped session" grep -q "old sessions dropped" "$WORK/airliftd.log"
finish
