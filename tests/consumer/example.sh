#!/usr/bin/env bash
# examples/nrf52840-minimal builds as its own project with its toolchain file
# (arm-none-eabi-gcc, -nostdlib) into two ELFs that link libairlift for the nRF52840 board:
# the application (application-1 slot) and the bootloader (bootloader copy A): nothing
# undefined, no C library, each vector table at its slot's start.
#   example.sh SOURCE_DIR
set -euo pipefail
src=$1
ex=$src/examples/nrf52840-minimal
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "firmware example: $*" >&2; exit 1; }
cmake -S "$ex" -B "$tmp/b" -DCMAKE_TOOLCHAIN_FILE="$ex/cmake/arm-none-eabi.cmake" >"$tmp/log" 2>&1 &&
  cmake --build "$tmp/b" >>"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; fail "build failed"; }
# image slot-start payload-max: each ELF at its slot, within its slot's payload area (the
# slot less its 512-byte header area), nothing undefined, no C library, libairlift inside.
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
