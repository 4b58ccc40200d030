#!/usr/bin/env bash
# Update time over simulated cellular links: `airlift flash` of a 128 KiB application (an
# incompressible 130,752-byte image file) to one simulated device, from the flash command to
# the confirmed report, over a grid of one-way latency (50, 300, 1000 ms), loss (0, 2, 10,
# 30 % each direction) and bandwidth (20 kbit/s, 100 kbit/s, 1 Mbit/s), plus a 576-byte-MTU
# row, for airlift's windowed transfer and for RFC 7959 Block2 (`airlift-device run
# --block2`). Each cell has its own airliftd and device (all on 127.0.0.1, through the
# device's simulated link, sim/link.c) and must end with the device running the image,
# hash-exact (its own inventory, `airlift-device show --json`). Cells mostly sleep, so they
# run JOBS at a time (default 8). Writes bench/results/update-time.txt.
#
#   bench/update-time.sh [BUILD_DIR]                      the whole grid, both methods
#   METHODS=windows bench/update-time.sh                  one method
#   CELLS_DIR=DIR bench/update-time.sh                    keep each cell's line in DIR and
#                                                         skip cells already there (resume)
#   NOTES="..." bench/update-time.sh                      lines to add to the file's end
#   TABLE_ONLY=1 CELLS_DIR=DIR bench/update-time.sh       only the table of the cells in DIR
#   bench/update-time.sh --cell BUILD METHOD LAT LOSS BW MTU   one cell; prints its line
set -uo pipefail
cd "$(dirname "$0")/.."

# ---- one cell ----
cell() {
    local build=$1 method=$2 lat=$3 loss=$4 bw=$5 mtu=$6
    local AIRLIFTD=$build/server/airliftd AIRLIFT=$build/cli/airlift DEVICE=$build/sim/airlift-device
    local FW=${AIRLIFT_FIRMWARE_DIR:-$PWD/../shared/firmware}/electron
    local W rc t0 t1 sha got bytes flags=() spid dpid
    W=$(mktemp -d /tmp/airlift-ut.XXXXXX)
    "$AIRLIFTD" --data-dir "$W/data" --http-listen 127.0.0.1:0 --coap-listen 127.0.0.1:0 \
        --port-file "$W/port" --admin-token-file "$W/token" \
        >"$W/airliftd.log" 2>&1 &
    spid=$!
    for _ in $(seq 200); do [ -s "$W/port" ] && [ -s "$W/token" ] && break; sleep 0.05; done
    local HTTP COAP
    HTTP=$(sed -n 1p "$W/port"); COAP=$(sed -n 2p "$W/port")
    export AIRLIFT_SERVER="http://127.0.0.1:$HTTP" AIRLIFT_TOKEN
    AIRLIFT_TOKEN=$(cat "$W/token")
    api() { curl -s -H "Authorization: Bearer $AIRLIFT_TOKEN" "$@"; }
    "$AIRLIFT" keys generate --out "$W/k.pem" >/dev/null
    for f in bootloader-2.3.0 system-part1-0.6.4 system-part2-0.6.4 system-part3-0.6.4; do
        "$AIRLIFT" image create --key "$W/k.pem" -o "$W/$f.alim" "$FW/$f.bin" >/dev/null
    done
    head -c $((131072 - 512)) /dev/urandom >"$W/app.bin"
    "$AIRLIFT" image create --key "$W/k.pem" --function application --index 1 --platform 10 \
        --version 1.0.0 --link-address 0x08080000 -o "$W/app.alim" "$W/app.bin" >/dev/null
    local reg
    reg=$(api -H 'Content-Type: application/json' --data '{"name":"d1","platform":10}' \
          "$AIRLIFT_SERVER/v1/devices")
    "$DEVICE" create "$W/d1" --trust "$W/k.pub.pem" >/dev/null
    "$DEVICE" factory "$W/d1" "$W/bootloader-2.3.0.alim" "$W/system-part1-0.6.4.alim" \
        "$W/system-part2-0.6.4.alim" "$W/system-part3-0.6.4.alim" >/dev/null
    "$DEVICE" provision "$W/d1" --server "127.0.0.1:$COAP" --identity "$(jq -r .identity <<<"$reg")" \
        --psk "$(jq -r .psk <<<"$reg")" >/dev/null
    # The image is held (and its compressed copy made) before the clock starts: the figure
    # is the update's, not the encoder's.
    sha=$(api -H 'Content-Type: application/octet-stream' --data-binary @"$W/app.alim" \
          "$AIRLIFT_SERVER/v1/images" | jq -r .sha256)
    [ "$method" = block2 ] && flags+=(--block2)
    [ "$mtu" != 1500 ] && flags+=(--mtu "$mtu")
    AIRLIFT_TRACE=${AIRLIFT_TRACE:-} "$DEVICE" run "$W/d1" --retry-ms 500 --latency "$lat" --loss "$loss" --bandwidth "$bw" \
        --seed $((lat + bw + ${#loss})) "${flags[@]}" >"$W/device.log" 2>&1 &
    dpid=$!
    for _ in $(seq 1200); do
        [ "$(api "$AIRLIFT_SERVER/v1/devices/d1" | jq -r .reported_at)" != null ] && break
        sleep 0.1
    done
    # The upload does not make the compressed copy: the first plan for the device does, and
    # a dry run waits for it (docs/protocol.md, "Transfers being made"). One dry run now,
    # once the device has reported, so `airlift flash` finds it made (issue 16: before, the
    # flash's own dry run spent 0.1 to 0.9 s encoding inside the measured time).
    api -H 'Content-Type: application/json' --data "{\"images\":[\"$sha\"],\"dry_run\":true}" \
        "$AIRLIFT_SERVER/v1/devices/d1/updates" >/dev/null
    sleep 1 # the device is idle, checking in every 0.5 s as an always-on device would
    local b0
    b0=$(api "$AIRLIFT_SERVER/v1/devices/d1" | jq '.bytes_sent + .bytes_received')
    t0=$(date +%s.%N)
    "$AIRLIFT" flash d1 "$W/app.alim" --yes --timeout 7200 >"$W/flash.log" 2>&1
    rc=$?
    t1=$(date +%s.%N)
    sleep 0.5
    kill -9 "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null
    sleep 31 # the server ends the silent session (--coap-idle-timeout, 30 s) and counts all of it
    got=$("$DEVICE" show "$W/d1" --json | jq -r '.modules[] | select(.function == "application") | .sha256' | head -1)
    # The device's bytes from the flash on: the update's own figure misses the end of the
    # transfer's session, which the server closes (and counts) only after the update ended.
    bytes=$(( $(api "$AIRLIFT_SERVER/v1/devices/d1" | jq '.bytes_sent + .bytes_received') - b0 ))
    kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
    local ok=no
    [ "$rc" = 0 ] && [ -n "$got" ] && [ "$got" = "$sha" ] && ok=yes
    printf '%s %s %s %s %s %.1f %s %s\n' "$method" "$lat" "$loss" "$bw" "$mtu" \
        "$(awk "BEGIN{print $t1 - $t0}")" "$bytes" "$ok"
    if [ "$ok" = yes ] && [ -z "${KEEP:-}" ]; then rm -rf "$W"; else echo "# kept $W (flash exit $rc)" >&2; fi
}

if [ "${1:-}" = --cell ]; then
    shift
    cell "$@"
    exit
fi

BUILD=$(cd "${1:-build}" && pwd)
METHODS=${METHODS:-windows block2}
JOBS=${JOBS:-8}
CELLS_DIR=${CELLS_DIR:-$(mktemp -d /tmp/airlift-ut-cells.XXXXXX)}
mkdir -p "$CELLS_DIR"
for b in airliftd airlift_cli airlift-device; do nice -n 10 cmake --build "$BUILD" --target "$b" -j2 >/dev/null; done
list=()
for m in $METHODS; do
    for lat in 50 300 1000; do for loss in 0 0.02 0.1 0.3; do for bw in 20000 100000 1000000; do
        list+=("$m $lat $loss $bw 1500")
    done; done; done
    list+=("$m 300 0.02 100000 576")
done
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date +%s)
for c in "${list[@]}"; do
    f=$CELLS_DIR/$(tr ' ' _ <<<"$c")
    [ -s "$f" ] && grep -q ' yes$' "$f" && continue
    [ -n "${TABLE_ONLY:-}" ] && continue # TABLE_ONLY=1: write the table of the cells done
    echo "$c $f"
done | xargs -r -P "$JOBS" -L 1 sh -c 'bash "$0" --cell "'"$BUILD"'" "$1" "$2" "$3" "$4" "$5" >"$6.tmp" && mv "$6.tmp" "$6"' "$0"
took=$(( $(date +%s) - started ))
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

out=bench/results/update-time.txt
{
    echo "# Update time of a 128 KiB application (130,752-byte image file, incompressible) over a simulated link:"
    echo "# \`airlift flash\` to the confirmed report (plan, transfer, reboot, confirmation), and the bytes on"
    echo "# the wire (both directions, airliftd's accounting of the device: UDP payload + 28 bytes a datagram),"
    echo "# from the flash on (an idle check-in or two of the device, about 330 bytes each, included)."
    echo "# bound = the image file's bits / bandwidth (the time the bandwidth alone needs); x = time / bound."
    echo "# Every cell ends with the device running the image, hash-exact (its own inventory)."
    echo "# measured by bench/update-time.sh on $(date -u +%Y-%m-%d), $(nproc) cores, $JOBS cells at a time,"
    if [ -n "${TABLE_ONLY:-}" ]; then
        echo "# load average $load_before when the table was written (the machine is shared)"
    else
        echo "# load average $load_before before and $load_after after ($took s for this run; the machine is shared)"
    fi
    printf '%-5s %-5s %-8s %-4s | %8s %9s %6s | %8s %9s %6s | %7s %6s\n' lat_ms loss bw_bps mtu \
        windows_s bytes x block2_s bytes x bound_s ok
    for lat in 50 300 1000; do for loss in 0 0.02 0.1 0.3; do for bw in 20000 100000 1000000; do
        echo "$lat $loss $bw 1500"
    done; done; done
    echo "300 0.02 100000 576"
} >"$out.tmp"
{
    head -9 "$out.tmp"
    tail -n +10 "$out.tmp" | while read -r lat loss bw mtu; do
        bound=$(awk "BEGIN{printf \"%.1f\", 130752 * 8 / $bw}")
        row=$(printf '%-5s %-5s %-8s %-4s |' "$lat" "$(awk "BEGIN{print $loss * 100}")%" "$bw" "$mtu")
        allok=yes
        for m in windows block2; do
            f=$CELLS_DIR/${m}_${lat}_${loss}_${bw}_${mtu}
            if [ -s "$f" ]; then
                read -r _ _ _ _ _ t b ok <"$f"
                [ "$ok" = yes ] || allok=no
                row+=$(printf ' %8s %9s %6s |' "$t" "$b" "$(awk "BEGIN{printf \"%.2f\", $t / $bound}")")
            else
                allok=no
                row+=$(printf ' %8s %9s %6s |' - - -)
            fi
        done
        printf '%s %7s %6s\n' "$row" "$bound" "$allok"
    done
    [ -z "${NOTES:-}" ] || sed 's/^/# /' <<<"$NOTES"
} >"$out"
rm -f "$out.tmp"
cat "$out"
echo "cells in $CELLS_DIR"
