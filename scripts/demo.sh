#!/usr/bin/env bash
# The main job, as far as airlift goes today: sign real Particle Electron firmware, then
# update a simulated Electron (the real device library on simulated NOR flash) from Device OS
# 0.6.4 to 0.7.0, module by module in dependency order, each on trial and confirmed; then
# show a bad application being reverted by itself. Installs missing packages and builds first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >build.configure.log 2>&1 || { cat build.configure.log; exit 1; }
cmake --build build -j"$jobs" --target airlift_cli airlift-device >build.demo.log 2>&1 || { tail -n 40 build.demo.log; exit 1; }

airlift=build/cli/airlift
device=build/sim/airlift-device
fw=${AIRLIFT_FIRMWARE_DIR:-../shared/firmware}/electron
work=build/demo
rm -rf "$work"; mkdir -p "$work"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "The firmware author makes a signing key (it never leaves this machine)"
run $airlift keys generate --out "$work/author.pem"

step "Wrap and sign real Device OS modules: metadata and dependencies come from their own headers"
for f in bootloader-2.3.0 system-part1-0.6.4 system-part2-0.6.4 system-part3-0.6.4 \
         system-part1-0.7.0 system-part2-0.7.0 system-part3-0.7.0; do
  $airlift image create --key "$work/author.pem" -o "$work/$f.alim" "$fw/$f.bin" >/dev/null
done
run $airlift image inspect "$work/system-part3-0.7.0.alim"
run $airlift image verify "$work/system-part3-0.7.0.alim" --key "$work/author.pub.pem"

step "A simulated Electron leaves the factory with Device OS 0.6.4"
run $device create "$work/electron" --trust "$work/author.pub.pem"
run $device factory "$work/electron" "$work/bootloader-2.3.0.alim" "$work/system-part1-0.6.4.alim" \
    "$work/system-part2-0.6.4.alim" "$work/system-part3-0.6.4.alim"
run $device boot "$work/electron"
run $device show "$work/electron"

step "Out of order, the device refuses: dependencies are never left broken"
run $device install "$work/electron" "$work/system-part2-0.7.0.alim" || true

step "In dependency order, each module installs as a transaction, boots on trial and confirms"
for part in system-part1 system-part2 system-part3; do
  run $device install "$work/electron" "$work/$part-0.7.0.alim"
done
run $device show "$work/electron"

step "A module that never confirms (it crashes at boot) is reverted by the device itself"
printf 'broken application' > "$work/app.bin"
run $airlift image create --key "$work/author.pem" --function application --index 1 --platform 10 \
    --version 1.0.0 --link-address 0x08080000 -o "$work/app.alim" "$work/app.bin"
run $device install "$work/electron" "$work/app.alim" --no-confirm
for i in 1 2 3; do run $device boot "$work/electron" --reset crash || true; done
run $device show "$work/electron"
echo
echo "Done. The simulated device's flash is in $work/electron (raw NOR contents, see docs/simflash.md)."
