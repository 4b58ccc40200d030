#!/usr/bin/env bash
# examples/nrf52840-minimal builds as its own project with its toolchain file
# (arm-none-eabi-gcc, -nostdlib) into an ELF that links libairlift for the nRF52840's
# application slot: nothing undefined, no C library, the vector table at the slot's start.
#   example.sh SOURCE_DIR
set -euo pipefail
src=$1
ex=$src/examples/nrf52840-minimal
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "firmware example: $*" >&2; exit 1; }
cmake -S "$ex" -B "$tmp/b" -DCMAKE_TOOLCHAIN_FILE="$ex/cmake/arm-none-eabi.cmake" >"$tmp/log" 2>&1 &&
  cmake --build "$tmp/b" >>"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; fail "build failed"; }
elf=$tmp/b/nrf52840-minimal.elf
[ -f "$elf" ] && [ -s "$tmp/b/nrf52840-minimal.bin" ] || fail "no ELF or .bin"
undefined=$(arm-none-eabi-nm -u "$elf")
[ -z "$undefined" ] || fail "undefined symbols: $undefined"
arm-none-eabi-nm "$elf" | grep -q ' T al_agent_session$' || fail "libairlift's agent is not linked in"
grep -Eq 'lib(c|nosys|c_nano)\.a' "$tmp/b/nrf52840-minimal.map" && fail "a C library was linked"
vec=$(arm-none-eabi-readelf -S "$elf" | awk '{for (i = 1; i < NF; i++) if ($i == ".isr_vector") print $(i + 2)}')
[ "$vec" = "00059000" ] || fail "vector table at 0x$vec, not at the application slot 0x59000"
# The image fits the slot's payload area: 200 KiB less the 512-byte header area.
size=$(stat -c %s "$tmp/b/nrf52840-minimal.bin")
[ "$size" -le $((200 * 1024 - 512)) ] || fail "$size bytes do not fit the application slot"
echo "firmware example: OK, $size bytes at 0x59000, no undefined symbols"
