#!/usr/bin/env bash
# The seed's own upgrade: an Electron on Device OS 0.6.4 (bootloader 2.3.0) updated to all
# three 0.7.0 system parts in one update, each by patch from the part it runs: airliftd and
# a simulated device (airlift-device run --link) on 127.0.0.1; the bytes the simulated link
# carried in both directions (handshakes, plan, transfers, reports, the confirming session),
# and each step's patch size. Issue 16's goal: at most 85,000 bytes.
# Writes bench/results/seed-upgrade.txt.   bench/seed-upgrade.sh [BUILD_DIR]  (default: build)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$top/build}" && pwd)
. "$top/tests/e2e/lib.sh"
start_server
sign_device_os
for p in 1 2 3; do upload "$WORK/system-part$p-0.7.0.alim" >/dev/null; done
device e1
timeout 60 "$DEVICE" run "$WORK/e1" --sessions 1 >"$WORK/e1.log" 2>&1 # it reports what it runs
"$AIRLIFT" flash e1 "$WORK/system-part1-0.7.0.alim" "$WORK/system-part2-0.7.0.alim" \
    "$WORK/system-part3-0.7.0.alim" --yes --no-wait >"$WORK/flash.out" 2>&1
U=$(api GET /v1/devices/e1 | jq -r .update.id)
timeout 300 "$DEVICE" run "$WORK/e1" --link --until-idle --retry-ms 200 >>"$WORK/e1.log" 2>&1
wait_state "$U" succeeded || { echo "seed-upgrade.sh: the update did not succeed" >&2; exit 1; }
read -r up down < <(sed -n 's/^link: \([0-9]*\) bytes up, \([0-9]*\) bytes down.*/\1 \2/p' "$WORK/e1.log" | tail -1)
mkdir -p "$top/bench/results"
{
echo "# The seed's upgrade (Electron, Device OS 0.6.4 -> system parts 1, 2, 3 at 0.7.0, one update, by patch)"
echo "# (system 3 is the file system-part1, 1 is system-part2, 2 is system-part3: module indices)"
echo "# measured by bench/seed-upgrade.sh on $(date -u +%Y-%m-%d): bytes on the simulated link, both directions"
printf '%-10s %8s %8s  %s\n' step image patch 'old image (docs/protocol.md, "Encodings")'
patches=0 chunks=0
chunk=$(sed -n 's/^#define AL_WIRE_CHUNK_MAX \([0-9]*\)u.*/\1/p' "$top/include/airlift/wire.h")
# the steps in plan order, each as the server sent it: its transfer's size, and for encoding 3
# the other slots its patch read after the step's own
while read -r idx image size also; do
  printf '%-10s %8d %8d  %s\n' "system $idx" "$image" "$size" \
    "$([ "$also" -gt 0 ] && echo "the slot's own + $also other system parts (encoding 3)" || echo "the slot's own (encoding 2)")"
  patches=$((patches + size)) chunks=$((chunks + (size + chunk - 1) / chunk))
done < <(api GET "/v1/updates/$U" | jq -r '.steps[] | "\(.index) \(.image_size) \(.size) \(.base_also // [] | length)"')
echo "on the link: $((up + down)) bytes ($down down, $up up); goal (issue 16): <= 85000"
echo "by DTLS record type (IP bytes, datagrams; the patches travel as application data down, in chunks of $chunk):"
sed -n 's/^link by record: //p' "$WORK/e1.log" | tail -1 | tr ';' '\n' |
  awk -v patches="$patches" -v chunks="$chunks" '{printf "  %-12s %6d up in %3d, %6d down in %3d\n", $1, $2, $5, $6, $9
      if ($1 == "application") printf "  application down beyond the patches (%d bytes in %d chunks): %d\n", patches, chunks, $6 - patches}'
} | tee "$top/bench/results/seed-upgrade.txt"
