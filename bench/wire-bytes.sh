#!/usr/bin/env bash
# Bytes on the wire to deliver one 128 KiB incompressible file, three ways, on a 1500-MTU
# link between two network namespaces this script creates (and removes):
#   1. airlift: airliftd and a simulated device over CoAP/DTLS, windowed transfer: the
#      delivery (handshake, inventory, plan, transfer, report) and the whole update (that,
#      plus the install's reboot and the new firmware's session that confirms it);
#   2. libcoap's own Block2 transfer of the same image file: coap-client GET from coap-server, DTLS PSK, 1024-byte
#      blocks (the file PUT to the server first, outside the measurement);
#   3. HTTPS: curl from nginx (TLS 1.3, TCP handshake and close included);
#   4. issue 14 (creds): each device credential's handshake: one session with nothing to do
#      (handshake, inventory, "up to date" plan, DTLS close) of a PSK device, of an X.509
#      device (EC P-256 certificate from the operator's CA) and (issue 14, rpk) of a raw
#      public key device (RFC 7250, EC P-256, pinning the server's raw key), on the same airliftd.
# Counted at the veth interface (IP bytes: the 14-byte Ethernet header of each frame is
# taken off), both directions. Prints a table and writes bench/results/wire-bytes.txt.
# Run as root from the repository: bench/wire-bytes.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
bash scripts/deps.sh
for b in airliftd airlift_cli airlift-device; do cmake --build "$BUILD" --target "$b" -j2 >/dev/null; done
AIRLIFTD=$PWD/$BUILD/server/airliftd AIRLIFT=$PWD/$BUILD/cli/airlift DEVICE=$PWD/$BUILD/sim/airlift-device
FW=${AIRLIFT_FIRMWARE_DIR:-$PWD/../shared/firmware}/electron

S=alws$$ C=alwc$$ SIP=10.231.0.1 CIP=10.231.0.2
WORK=$(mktemp -d /tmp/airlift-wire.XXXXXX)
cleanup() {
    ip netns pids "$S" 2>/dev/null | xargs -r kill 2>/dev/null || true
    ip netns pids "$C" 2>/dev/null | xargs -r kill 2>/dev/null || true
    sleep 0.2
    ip netns del "$S" 2>/dev/null || true
    ip netns del "$C" 2>/dev/null || true
    [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
ip netns add "$S"; ip netns add "$C"
ip link add veth-s netns "$S" type veth peer name veth-c netns "$C"
# IPv4 only, with static neighbours: no IPv6 router or neighbour discovery and no ARP
# lands in the counters, only the traffic being measured.
ip netns exec "$S" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip netns exec "$C" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip -n "$S" addr add $SIP/24 dev veth-s; ip -n "$C" addr add $CIP/24 dev veth-c
for ns in "$S" "$C"; do ip -n "$ns" link set lo up; done
ip -n "$S" link set veth-s mtu 1500 up; ip -n "$C" link set veth-c mtu 1500 up
ip -n "$S" neigh replace $CIP lladdr "$(ip -n "$C" -br link show veth-c | awk '{print $3}')" dev veth-s nud permanent
ip -n "$C" neigh replace $SIP lladdr "$(ip -n "$S" -br link show veth-s | awk '{print $3}')" dev veth-c nud permanent
# No segmentation offloads: every counted packet is a real frame of at most 1500 bytes.
ip netns exec "$S" ethtool -K veth-s tso off gso off gro off >/dev/null 2>&1
ip netns exec "$C" ethtool -K veth-c tso off gso off gro off >/dev/null 2>&1
ins() { ip netns exec "$S" "$@"; }
inc() { ip netns exec "$C" "$@"; }

stat_of() { ip netns exec "$C" cat "/sys/class/net/veth-c/statistics/$1"; }
snapshot() { echo "$(stat_of rx_bytes) $(stat_of rx_packets) $(stat_of tx_bytes) $(stat_of tx_packets)"; }
# measure NAME SIZE BEFORE: one table row from the counters since BEFORE (client's view).
ROWS=()
measure() {
    local name=$1 size=$2 rb rp tb tp nrb nrp ntb ntp down up
    read -r rb rp tb tp <<<"$3"
    read -r nrb nrp ntb ntp <<<"$(snapshot)"
    down=$(( (nrb - rb) - 14 * (nrp - rp) )); up=$(( (ntb - tb) - 14 * (ntp - tp) ))
    local ratio=- # issue 14 (creds): size 0, no file moved (a session with nothing to do)
    [ "$size" -eq 0 ] || ratio=$(awk "BEGIN{printf \"%.3f\", ($down + $up) / $size}")
    ROWS+=("$(printf '%-34s %9d %9d %9d %8d %7s' "$name" "$down" "$up" $((down + up)) \
        $(( (nrp - rp) + (ntp - tp) )) "$ratio")")
}

head -c 131072 /dev/urandom >"$WORK/file.bin"

# ---- 1. airlift ----
# issue 14 (creds): a device CA, the endpoint's certificate and an X.509 device (section 4).
pki() { openssl "$@" >/dev/null 2>&1; }
pki req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=bench-ca -days 1 \
    -keyout "$WORK/ca.key" -out "$WORK/ca.pem"
for n in server x1; do
    pki req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$n" \
        -keyout "$WORK/$n.key" -out "$WORK/$n.csr"
    pki x509 -req -in "$WORK/$n.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial \
        -days 1 -out "$WORK/$n.pem"
done
ins "$AIRLIFTD" --data-dir "$WORK/data" --http-listen 127.0.0.1:7780 --coap-listen $SIP:5684 \
    --admin-token-file "$WORK/token" --coap-idle-timeout 2 --device-ca "$WORK/ca.pem" \
    --coap-cert "$WORK/server.pem" --coap-key "$WORK/server.key" >"$WORK/airliftd.log" 2>&1 &
AIRLIFTD_PID=$!
for _ in $(seq 100); do [ -s "$WORK/token" ] && ins curl -s -o /dev/null http://127.0.0.1:7780/v1/health && break; sleep 0.1; done
T=$(cat "$WORK/token")
api() { ins curl -s -H "Authorization: Bearer $T" "$@"; }
"$AIRLIFT" keys generate --out "$WORK/k.pem" >/dev/null
for f in bootloader-2.3.0 system-part1-0.6.4 system-part2-0.6.4 system-part3-0.6.4; do
    "$AIRLIFT" image create --key "$WORK/k.pem" -o "$WORK/$f.alim" "$FW/$f.bin" >/dev/null
done
# The Electron's application slot is 128 KiB and keeps the image header in its last 512
# bytes, so the largest application payload is 130560 bytes (a 130752-byte image file).
head -c $((131072 - 512)) "$WORK/file.bin" >"$WORK/app.bin"
"$AIRLIFT" image create --key "$WORK/k.pem" --function application --index 1 --platform 10 \
    --version 1.0.0 --link-address 0x08080000 -o "$WORK/app.alim" "$WORK/app.bin" >/dev/null
IMG=$(stat -c %s "$WORK/app.alim")
reg=$(api -H 'Content-Type: application/json' --data '{"name":"d1","platform":10}' http://127.0.0.1:7780/v1/devices)
sha=$(api -H 'Content-Type: application/octet-stream' --data-binary @"$WORK/app.alim" http://127.0.0.1:7780/v1/images | jq -r .sha256)
"$DEVICE" create "$WORK/d1" --trust "$WORK/k.pub.pem" >/dev/null
"$DEVICE" factory "$WORK/d1" "$WORK/bootloader-2.3.0.alim" "$WORK/system-part1-0.6.4.alim" \
    "$WORK/system-part2-0.6.4.alim" "$WORK/system-part3-0.6.4.alim" >/dev/null
"$DEVICE" provision "$WORK/d1" --server $SIP:5684 --identity "$(jq -r .identity <<<"$reg")" \
    --psk "$(jq -r .psk <<<"$reg")" >/dev/null
uid=$(api -H 'Content-Type: application/json' --data "{\"images\":[\"$sha\"]}" \
      http://127.0.0.1:7780/v1/devices/d1/updates | jq -r .id)
# The delivery: the first session (handshake, inventory, plan, the transfer, the verified
# image's report) ends in the reset that installs; the rest is the new firmware's session.
# The server makes the image's compressed copy when the device first asks (docs/protocol.md,
# "Transfers being made"); until it is made, a session gets the plan "wait": such sessions
# are not the delivery, and are not counted.
for _ in $(seq 30); do
    before=$(snapshot)
    inc timeout 120 "$DEVICE" run "$WORK/d1" --sessions 1 >>"$WORK/device.log" 2>&1 || break
    if grep -q 'install requested' "$WORK/device.log"; then
        measure "airlift (delivery, CoAP/DTLS)" "$IMG" "$before"
        break
    fi
    sleep 1
done
if inc timeout 120 "$DEVICE" run "$WORK/d1" --until-idle --retry-ms 500 >>"$WORK/device.log" 2>&1 &&
   [ "$(api http://127.0.0.1:7780/v1/updates/$uid | jq -r .state)" = succeeded ]; then
    measure "airlift (whole update, CoAP/DTLS)" "$IMG" "$before"
    sleep 3   # the server ends the session and counts its last bytes
    srv=$(api http://127.0.0.1:7780/v1/devices/d1 | jq '.bytes_sent + .bytes_received')
else
    ROWS+=("airlift: not measured (the update did not succeed; see $WORK/device.log)")
    srv=0
fi

# issue 16 (speed): a device that lives through the install's reset in one run keeps its DTLS
# session (docs/protocol.md, "Session"): the whole update of a second device, one process
# from its first inventory to the confirmed one (the runs above are two processes: the
# first one's exit is a power cut, after which a device shakes hands anew).
reg=$(api -H 'Content-Type: application/json' --data '{"name":"d2","platform":10}' http://127.0.0.1:7780/v1/devices)
"$DEVICE" create "$WORK/d2" --trust "$WORK/k.pub.pem" >/dev/null
"$DEVICE" factory "$WORK/d2" "$WORK/bootloader-2.3.0.alim" "$WORK/system-part1-0.6.4.alim" \
    "$WORK/system-part2-0.6.4.alim" "$WORK/system-part3-0.6.4.alim" >/dev/null
"$DEVICE" provision "$WORK/d2" --server $SIP:5684 --identity "$(jq -r .identity <<<"$reg")" \
    --psk "$(jq -r .psk <<<"$reg")" >/dev/null
uid2=$(api -H 'Content-Type: application/json' --data "{\"images\":[\"$sha\"]}" \
       http://127.0.0.1:7780/v1/devices/d2/updates | jq -r .id)
before=$(snapshot)
if inc timeout 120 "$DEVICE" run "$WORK/d2" --until-idle --retry-ms 500 >>"$WORK/device2.log" 2>&1 &&
   [ "$(api http://127.0.0.1:7780/v1/updates/$uid2 | jq -r .state)" = succeeded ]; then
    measure "airlift (whole update, one run)" "$IMG" "$before"
else
    ROWS+=("airlift, one run: not measured (the update did not succeed; see $WORK/device2.log)")
fi

# ---- 2. libcoap Block2 over DTLS ----
# Its own port (coaps on 5691 = -p + 1): airliftd holds 5684 and lets no one share it.
ins coap-server-openssl -A $SIP -p 5690 -k airlift-bench -d 4 -v 0 >/dev/null 2>&1 &
sleep 0.5
inc coap-client-openssl -m put -u bench -k airlift-bench -b 1024 -f "$WORK/app.alim" \
    "coaps://$SIP:5691/bench" >/dev/null 2>&1
before=$(snapshot)
inc coap-client-openssl -m get -u bench -k airlift-bench -b 1024 -o "$WORK/got.bin" \
    "coaps://$SIP:5691/bench" >/dev/null 2>&1
if cmp -s "$WORK/app.alim" "$WORK/got.bin"; then
    measure "libcoap Block2 (coap-client, DTLS)" "$IMG" "$before"
else
    ROWS+=("libcoap Block2: not measured (the GET did not return the file)")
fi

# ---- 3. HTTPS: curl from nginx ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=$SIP \
    -keyout "$WORK/tls.key" -out "$WORK/tls.crt" >/dev/null 2>&1
mkdir -p "$WORK/www" && cp "$WORK/app.alim" "$WORK/www/file.bin"
cat >"$WORK/nginx.conf" <<EOF
daemon off; pid $WORK/nginx.pid; error_log $WORK/nginx.err;
events {}
http { access_log off; client_body_temp_path $WORK; proxy_temp_path $WORK; fastcgi_temp_path $WORK;
       uwsgi_temp_path $WORK; scgi_temp_path $WORK;
  server { listen $SIP:8443 ssl; ssl_certificate $WORK/tls.crt; ssl_certificate_key $WORK/tls.key;
           root $WORK/www; } }
EOF
ins nginx -c "$WORK/nginx.conf" &
sleep 0.5
before=$(snapshot)
inc curl -sk -o "$WORK/got2.bin" "https://$SIP:8443/file.bin" || true
sleep 0.3   # the TCP close
if cmp -s "$WORK/app.alim" "$WORK/got2.bin"; then
    measure "HTTPS (curl from nginx, TLS 1.3)" "$IMG" "$before"
else
    ROWS+=("HTTPS: not measured (curl did not fetch the file)")
fi

# ---- 4. issue 14 (creds): the handshake of each credential kind ----
# factory DIR: a simulated Electron with Device OS 0.6.4 (nothing to update).
factory() {
    "$DEVICE" create "$1" --trust "$WORK/k.pub.pem" >/dev/null
    "$DEVICE" factory "$1" "$WORK/bootloader-2.3.0.alim" "$WORK/system-part1-0.6.4.alim" \
        "$WORK/system-part2-0.6.4.alim" "$WORK/system-part3-0.6.4.alim" >/dev/null
}
reg=$(api -H 'Content-Type: application/json' --data '{"name":"h-psk","platform":10}' http://127.0.0.1:7780/v1/devices)
factory "$WORK/h-psk"
"$DEVICE" provision "$WORK/h-psk" --server $SIP:5684 --identity "$(jq -r .identity <<<"$reg")" \
    --psk "$(jq -r .psk <<<"$reg")" >/dev/null
api -H 'Content-Type: application/json' --data "$(jq -n --rawfile pem "$WORK/x1.pem" \
    '{name: "h-x509", platform: 10, credential: {kind: "x509", certificate: $pem}}')" \
    http://127.0.0.1:7780/v1/devices >/dev/null
factory "$WORK/h-x509"
"$DEVICE" provision "$WORK/h-x509" --server $SIP:5684 --cert "$WORK/x1.pem" --key "$WORK/x1.key" \
    --server-ca "$WORK/ca.pem" >/dev/null
# issue 14 (rpk): a raw public key device (x1's key pair, raw), pinning the server's key.
openssl pkey -in "$WORK/server.key" -pubout -out "$WORK/server.pub" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/r1.key" 2>/dev/null
openssl pkey -in "$WORK/r1.key" -pubout -out "$WORK/r1.pub" 2>/dev/null
api -H 'Content-Type: application/json' --data "$(jq -n --rawfile pem "$WORK/r1.pub" \
    '{name: "h-rpk", platform: 10, credential: {kind: "rpk", public_key: $pem}}')" \
    http://127.0.0.1:7780/v1/devices >/dev/null
factory "$WORK/h-rpk"
"$DEVICE" provision "$WORK/h-rpk" --server $SIP:5684 --pubkey "$WORK/r1.pub" --key "$WORK/r1.key" \
    --server-pubkey "$WORK/server.pub" >/dev/null
HS=()
for kind in psk x509 rpk; do
    inc timeout 60 "$DEVICE" run "$WORK/h-$kind" --sessions 1 >>"$WORK/device.log" 2>&1 # warm
    best= # the least of 3 sessions: a datagram lost or retransmitted is not the handshake's
    for _ in 1 2 3; do
        sleep 0.5
        before=$(snapshot)
        inc timeout 60 "$DEVICE" run "$WORK/h-$kind" --sessions 1 >>"$WORK/device.log" 2>&1 || continue
        sleep 0.3
        measure "session, nothing to do: $kind" 0 "$before"
        row=${ROWS[-1]}; unset 'ROWS[-1]'
        total=$(awk '{print $(NF-2)}' <<<"$row")
        if [ -z "$best" ] || [ "$total" -lt "$(awk '{print $(NF-2)}' <<<"$best")" ]; then best=$row; fi
    done
    if [ -n "$best" ]; then
        ROWS+=("$best")
        HS+=("$(awk '{print $(NF-2)}' <<<"$best")")
    else
        ROWS+=("session of a $kind device: not measured (see $WORK/device.log)")
    fi
done

out=bench/results/wire-bytes.txt
{
    echo "# Bytes on the wire to deliver one incompressible 128 KiB image file over a 1500-MTU veth link"
    echo "# measured by bench/wire-bytes.sh on $(date -u +%Y-%m-%d); IP bytes (Ethernet headers excluded)"
    echo "# packages: $(dpkg-query -W -f='${Package} ${Version}, ' libcoap3-bin libgnutls30 nginx curl libssl3 2>/dev/null)"
    printf '%-34s %9s %9s %9s %8s %7s\n' method down up total packets ratio
    printf '%s\n' "${ROWS[@]}"
    echo "# Every method moves the same file: airlift's image, $IMG bytes (192 of header + the"
    echo "# largest payload the Electron's 128 KiB application slot takes, random bytes); ratio"
    echo "# = bytes on the wire / file size. airlift's delivery is its first session (handshake,"
    echo "# inventory, plan, windowed transfer, the verified image's report, DTLS close); the"
    echo "# whole update adds the reset, the new firmware's session and its confirmation."
    echo "# The whole update in one run (a second device): the device lives through the reset"
    echo "# and keeps its DTLS session (issue 16): no second handshake, no close at the reset."
    echo "# airliftd's own accounting for the same update: $srv bytes (both directions)."
    echo "# Sessions with nothing to do (issue 14, creds; no file, no ratio; the least of 3):"
    echo "# DTLS handshake, inventory, the \"up to date\" plan, DTLS close; the same but for the"
    echo "# handshake, so their difference is the handshakes' (docs/protocol.md, Cost)."
    if [ ${#HS[@]} -eq 3 ]; then
        psk=${HS[0]} x509=${HS[1]} rpk=${HS[2]}
        echo "# handshake: X.509 (EC P-256 device and server certificates, chain of one) costs"
        echo "# $((x509 - psk)) bytes more than PSK; RPK (RFC 7250, EC P-256 raw keys both ways)"
        echo "# $((rpk - psk)) bytes more than PSK. libcoap's GnuTLS flavour (issue 14, rpk)."
    fi
} | tee "$out"
