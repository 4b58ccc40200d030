#!/usr/bin/env bash
# examples/nrf52840-minimal builds as its own project with its toolchain file
# (arm-none-eabi-gcc, -nostdlib) into two ELFs that link libairlift for the nRF52840 board:
# the application (application-1 slot) and the bootloader (bootloader copy A): nothing
# undefined, no C library, each vector table at its slot's start.
# With the airlift CLI and airlift-device, the ELFs then become signed images
# (`airlift image create --input elf`, link address from the ELF) that a simulated nrf52840
# device takes: the bootloader from the factory, the application by a local install, booted
# on trial and confirmed.
#   example.sh SOURCE_DIR [AIRLIFT_CLI AIRLIFT_DEVICE]
set -euo pipefail
src=$1 cli=${2:-} device=${3:-}
ex=$src/examples/nrf52840-minimal
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "firmware example: $*" >&2; exit 1; }
cmake -S "$ex" -B "$tmp/b" -DCMAKE_TOOLCHAIN_FILE="$ex/cmake/arm-none-eabi.cmake" >"$tmp/log" 2>&1 &&
  cmake --build "$tmp/b" >>"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; fail "build failed"; }
# check NAME SLOT-START PAYLOAD-MAX SYMBOL: the ELF at its slot, within the slot's payload
# area (the slot less its 512-byte header area), nothing undefined, no C library, and
# libairlift's SYMBOL inside.
check() {
  local name=$1 at=$2 max=$3 sym=$4
  local elf=$tmp/b/$name.elf bin=$tmp/b/$name.bin
  [ -f "$elf" ] && [ -s "$bin" ] || fail "$name: no ELF or .bin"
  local undefined
  undefined=$(arm-none-eabi-nm -u "$elf")
  [ -z "$undefined" ] || fail "$name: undefined symbols: $undefined"
  arm-none-eabi-nm "$elf" | grep -q " T $sym\$" || fail "$name: libairlift's $sym is not linked in"
  ! grep -Eq 'lib(c|nosys|c_nano)\.a' "$tmp/b/$name.map" || fail "$name: a C library was linked"
  local vec
  vec=$(arm-none-eabi-readelf -S "$elf" | awk '{for (i = 1; i < NF; i++) if ($i == ".isr_vector") print $(i + 2)}')
  [ "$vec" = "$at" ] || fail "$name: vector table at 0x$vec, not at 0x$at"
  local size
  size=$(stat -c %s "$bin")
  [ "$size" -le "$max" ] || fail "$name: $size bytes do not fit its slot ($max)"
  echo "firmware example: $name OK, $size bytes at 0x$at, no undefined symbols"
}
check nrf52840-minimal 00059000 $((200 * 1024 - 512)) al_agent_session
check nrf52840-bootloader 000f8000 $((24 * 1024 - 512)) al_boot

[ -n "$cli" ] || exit 0
"$cli" keys generate --out "$tmp/key.pem" >/dev/null
image() { # name function index
  "$cli" image create --key "$tmp/key.pem" -o "$tmp/$1.img" --function "$2" --index "$3" \
    --platform 13 --version 1.0.0 --input elf "$tmp/b/nrf52840-$1.elf" >"$tmp/img.log" ||
    { cat "$tmp/img.log" >&2; fail "airlift image create refused nrf52840-$1.elf"; }
}
image minimal application 1
grep -q 'from 0x00059000' "$tmp/img.log" || { cat "$tmp/img.log" >&2; fail "the application image is not linked for 0x00059000"; }
image bootloader bootloader 0
"$device" create "$tmp/dev" --trust "$tmp/key.pem" --board nrf52840 --platform boron >/dev/null
"$device" factory "$tmp/dev" "$tmp/bootloader.img" >/dev/null
"$device" install "$tmp/dev" "$tmp/minimal.img" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; fail "the simulated nrf52840 refused the application image"; }
show=$("$device" show "$tmp/dev")
grep -q '^state: confirmed; last update: success' <<<"$show" &&
  grep -Eq '^application +1 +1\.0\.0 ' <<<"$show" &&
  grep -Eq '^bootloader +0 +1\.0\.0 ' <<<"$show" ||
  { echo "$show" >&2; fail "the simulated nrf52840 does not run the example's images"; }
echo "firmware example: the simulated nrf52840 installed and confirmed the application image"
