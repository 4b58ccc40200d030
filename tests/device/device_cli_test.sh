#!/usr/bin/env bash
# airlift-device, the simulated device in a folder, driven like a user would: real Electron
# modules signed by the airlift CLI, installed in dependency order across separate processes
# (the device's flash lives in files), a refusal, a revert with its reason.
#   device_cli_test.sh AIRLIFT AIRLIFT_DEVICE FIRMWARE_DIR
set -uo pipefail
airlift=$1 device=$2 fw=$3/electron
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
check() { # description, expected exit code, command...
  local what=$1 want=$2; shift 2
  "$@" >"$work/out" 2>&1
  local got=$?
  if [ "$got" -ne "$want" ]; then
    echo "FAIL: $what: exit $got, expected $want"; sed 's/^/  | /' "$work/out"; fails=$((fails + 1))
  else
    echo "ok: $what"
  fi
}
contains() { # description, text
  if grep -q -- "$2" "$work/out"; then echo "ok: $1"; else
    echo "FAIL: $1: output lacks '$2'"; sed 's/^/  | /' "$work/out"; fails=$((fails + 1)); fi
}

$airlift keys generate --out "$work/k.pem" >/dev/null || exit 1
for f in bootloader-2.3.0 system-part1-0.6.4 system-part2-0.6.4 system-part3-0.6.4 \
         system-part1-0.7.0 system-part2-0.7.0 system-part3-0.7.0; do
  $airlift image create --key "$work/k.pem" -o "$work/$f.alim" "$fw/$f.bin" >/dev/null || exit 1
done
$airlift keys generate --out "$work/other.pem" >/dev/null || exit 1
$airlift image create --key "$work/other.pem" -o "$work/foreign.alim" "$fw/system-part1-0.7.0.bin" >/dev/null || exit 1

d=$work/dev
check "create a device" 0 $device create "$d" --trust "$work/k.pub.pem"
check "unknown board is a usage error" 2 $device create "$work/x" --trust "$work/k.pub.pem" --board nope
check "not a device" 3 $device show "$work/nothing"
check "factory 0.6.4" 0 $device factory "$d" "$work/bootloader-2.3.0.alim" "$work/system-part1-0.6.4.alim" \
  "$work/system-part2-0.6.4.alim" "$work/system-part3-0.6.4.alim"
check "boot" 0 $device boot "$d"
contains "boots safe mode without an application" "runs safe mode: no application installed"
check "foreign key refused" 4 $device install "$d" "$work/foreign.alim"
contains "says why" "signed by an unknown key"
check "out of order refused" 4 $device install "$d" "$work/system-part2-0.7.0.alim"
contains "names the unmet dependency" "system 1 needs system 3 >= 0.7.0"
for p in system-part1 system-part2 system-part3; do
  check "install $p 0.7.0" 0 $device install "$d" "$work/$p-0.7.0.alim"
  contains "$p boots on trial and confirms" "confirmed the new image"
done
check "show --json" 0 $device show "$d" --json
for idx in 1 2 3; do
  python3 -c "
import json,sys
d=json.load(open('$work/out'))
m=[m for m in d['modules'] if m['function']=='system' and m['index']==$idx][0]
sys.exit(0 if m['version']=='0.7.0' and m['present'] and not m['on_trial'] else 1)" \
    && echo "ok: system $idx runs 0.7.0" || { echo "FAIL: system $idx is not 0.7.0"; fails=$((fails + 1)); }
done
printf 'app' > "$work/app.bin"
$airlift image create --key "$work/k.pem" --function application --index 1 --platform 10 \
  --version 1.0.0 --link-address 0x08080000 -o "$work/app.alim" "$work/app.bin" >/dev/null || exit 1
check "install an app that never confirms" 0 $device install "$d" "$work/app.alim" --no-confirm
check "crash 1" 0 $device boot "$d" --reset crash
check "crash 2" 0 $device boot "$d" --reset watchdog
check "third unconfirmed boot reverts" 8 $device boot "$d" --reset crash
check "show after revert" 0 $device show "$d"
contains "the revert and its reason are reported" "reverted - not confirmed (last reset: crash)"

echo "device_cli: $fails failed"
[ "$fails" -eq 0 ]
