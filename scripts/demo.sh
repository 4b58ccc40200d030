#!/usr/bin/env bash
# The main job: airliftd on its embedded defaults (127.0.0.1:7780 for people, :5684 CoAP/DTLS
# for devices, SQLite in a data directory) and a small simulated fleet of Particle Electrons
# running Device OS 0.6.4: one on a clean link, one on a lossy slow link, one that sleeps
# between short sessions. A new application that needs Device OS 0.7.0 is flashed to all
# three with the real CLI; the server plans the system parts too, in a safe order, and the
# CLI follows each device until it reports the new version running and confirmed.
# Installs missing packages and builds first. Everything runs on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >build.configure.log 2>&1 || { cat build.configure.log; exit 1; }
cmake --build build -j"$jobs" --target airliftd airlift_cli airlift-device >build.demo.log 2>&1 ||
    { tail -n 40 build.demo.log; exit 1; }

export PATH=$PWD/build/server:$PWD/build/cli:$PWD/build/sim:$PATH
fw=${AIRLIFT_FIRMWARE_DIR:-../shared/firmware}/electron
work=build/demo
rm -rf "$work"; mkdir -p "$work"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "airliftd on its defaults (log: $work/airliftd.log)"
if curl -s -o /dev/null http://127.0.0.1:7780/v1/health; then
    echo "demo: something already listens on 127.0.0.1:7780; stop it first" >&2; exit 1
fi
airliftd --data-dir "$work/data" --admin-token-file "$work/admin.token" >"$work/airliftd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:7780/v1/health && break; sleep 0.1; done
run curl -s http://127.0.0.1:7780/v1/health; echo
export AIRLIFT_TOKEN=$(cat "$work/admin.token")   # printed once at first start, kept in the file

step "The firmware author signs Device OS modules and a new application (keys never leave here)"
run airlift keys generate --out "$work/author.pem"
for f in bootloader-2.3.0 system-part1-0.6.4 system-part2-0.6.4 system-part3-0.6.4 \
         system-part1-0.7.0 system-part2-0.7.0 system-part3-0.7.0; do
    airlift image create --key "$work/author.pem" -o "$work/$f.alim" "$fw/$f.bin" >/dev/null
done
head -c 40000 /dev/urandom >"$work/tracker-2.0.0.bin"   # stands in for the user's application
run airlift image create --key "$work/author.pem" --function application --index 1 --platform 10 \
    --version 2.0.0 --link-address 0x08080000 --dep system:2:0.7.0 \
    -o "$work/tracker-2.0.0.alim" "$work/tracker-2.0.0.bin"
# The server holds the Device OS parts it may need to fill dependencies with, and the ones
# the devices left the factory with, so it can send patches from those.
for f in "$work"/system-part*-0.7.0.alim "$work"/system-part*-0.6.4.alim; do
    curl -s -H "Authorization: Bearer $AIRLIFT_TOKEN" -H 'Content-Type: application/octet-stream' \
        --data-binary @"$f" http://127.0.0.1:7780/v1/images >/dev/null
done

step "Three simulated Electrons leave the factory with Device OS 0.6.4 and go to the field"
for d in truck-1 truck-2 buoy-3; do
    airlift --json devices add "$d" --out "$work/$d.cred" >/dev/null
    airlift-device create "$work/$d" --trust "$work/author.pub.pem" >/dev/null
    airlift-device factory "$work/$d" "$work/bootloader-2.3.0.alim" "$work/system-part1-0.6.4.alim" \
        "$work/system-part2-0.6.4.alim" "$work/system-part3-0.6.4.alim" >/dev/null
    airlift-device provision "$work/$d" --server 127.0.0.1:5684 --identity "$(jq -r .identity "$work/$d.cred")" \
        --psk "$(jq -r .psk "$work/$d.cred")" >/dev/null
done
airlift-device run "$work/truck-1" --link >"$work/truck-1.log" 2>&1 & pids+=($!)
airlift-device run "$work/truck-2" --loss 0.05 --latency 15 >"$work/truck-2.log" 2>&1 & pids+=($!)
airlift-device run "$work/buoy-3" --sleep 2 --session-bytes 65536 >"$work/buoy-3.log" 2>&1 & pids+=($!)
sleep 2
run airlift devices list
run airlift devices show truck-1

step "Flash truck-1 and follow it to the confirmed new version"
run airlift flash truck-1 "$work/tracker-2.0.0.alim" --yes

step "The other two: queue, then follow (a lossy link; a device that sleeps between sessions)"
run airlift flash truck-2 "$work/tracker-2.0.0.alim" --yes --no-wait
run airlift flash buoy-3 "$work/tracker-2.0.0.alim" --yes --no-wait
run airlift status truck-2
run airlift status buoy-3

step "Flashing what already runs costs nothing"
run airlift flash truck-1 "$work/tracker-2.0.0.alim" --yes

step "The fleet, as the devices themselves report it"
run airlift devices list
run airlift devices show buoy-3
echo
echo "Done. airliftd's data is in $work/data, each device's flash in $work/<name>/."
