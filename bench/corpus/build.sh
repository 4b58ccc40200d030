#!/usr/bin/env bash
# Build the delta benchmark corpus: real Cortex-M firmware images (raw flash payloads), in
# pairs old -> new, from sources on this machine, with the Debian toolchain
# (gcc-arm-none-eabi, libnewlib-arm-none-eabi). Recipe: bench/corpus/README.md.
#   bench/corpus/build.sh [OUT]     (default: build/corpus); writes OUT/pairs.tsv
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$top/build/corpus}
CC=${ARM_CC:-arm-none-eabi-gcc}
command -v "$CC" >/dev/null || { echo "corpus: $CC missing (scripts/deps.sh)" >&2; exit 1; }
# Three revisions of libairlift's device library (lib/, include/) from this repository's
# history: OLD a release before, PREV and NEW one commit apart (a small fix).
OLD=${CORPUS_OLD:-f5a583a}
PREV=${CORPUS_PREV:-8c392f7}
NEW=${CORPUS_NEW:-22670f4}
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for rev in $OLD $PREV $NEW; do
  mkdir -p "$work/src-$rev"
  git -C "$top" archive "$rev" lib include | tar -x -C "$work/src-$rev"
done
# The application around the library: a vector table, a reset handler that calls into it.
cat > "$work/app.c" <<'C'
#include <stdint.h>
#include <string.h>
extern uint32_t _estack;
void reset_handler(void);
void default_handler(void);
__attribute__((section(".isr_vector"), used)) static void (*const vectors[48])(void) = {
    (void (*)(void))&_estack, reset_handler, default_handler, default_handler,
};
void default_handler(void) { for (;;) {} }
uint8_t scratch[4096];
void reset_handler(void)
{
    memset(scratch, 0, sizeof scratch);
    for (;;) {}
}
C
# link.ld: code at LINK (a vendor's flash base, or after a bootloader/SoftDevice).
mk_ld() {
  cat > "$work/link-$1.ld" <<LD
MEMORY { FLASH (rx) : ORIGIN = $1, LENGTH = 4M
         RAM (rwx) : ORIGIN = 0x20000000, LENGTH = 256K }
_estack = ORIGIN(RAM) + LENGTH(RAM);
SECTIONS {
  .text : { KEEP(*(.isr_vector)) *(.text*) *(.rodata*) . = ALIGN(4); } > FLASH
  .ARM.exidx : { *(.ARM.exidx*) } > FLASH
  .data : { *(.data*) . = ALIGN(4); } > RAM AT > FLASH
  .bss (NOLOAD) : { *(.bss*) *(COMMON) } > RAM
  /DISCARD/ : { *(.comment) *(.ARM.attributes) }
}
LD
}
# image FAMILY NAME REV LINK EXTRA-LIBS CFLAGS...: compile lib/*.c of REV and the app,
# link at LINK (every input section kept), and write FAMILY/NAME.bin.
image() {
  local fam=$1 name=$2 rev=$3 link=$4 libs=$5
  shift 5
  local o="$work/obj-$fam-$name"
  mkdir -p "$o" "$out/$fam"
  mk_ld "$link"
  for src in "$work/src-$rev"/lib/*.c "$work/app.c"; do
    "$CC" -std=c99 -ffreestanding -mthumb "$@" -I"$work/src-$rev/include" -I"$work/src-$rev/lib" \
      -c "$src" -o "$o/$(basename "${src%.c}").o"
  done
  # shellcheck disable=SC2086
  "$CC" -mthumb "$@" -nostdlib -T "$work/link-$link.ld" -o "$o/fw.elf" "$o"/*.o \
    -Wl,--whole-archive $libs -Wl,--no-whole-archive -Wl,--unresolved-symbols=ignore-all -Wl,--allow-multiple-definition \
    -Wl,--no-warn-rwx-segments -lgcc 2>&1 | { grep -v "warning:" || true; } >&2
  arm-none-eabi-objcopy -O binary "$o/fw.elf" "$out/$fam/$name.bin"
}
sysroot=$("$CC" -print-sysroot 2>/dev/null || true)
lib_of() { "$CC" "$@" -print-file-name="$LIBNAME"; }
M0=(-mcpu=cortex-m0 -Os)
M3=(-mcpu=cortex-m3 -O2)
M4=(-mcpu=cortex-m4 -mfloat-abi=hard -mfpu=fpv4-sp-d16 -O2)
M33=(-mcpu=cortex-m33 -mfloat-abi=hard -mfpu=fpv5-sp-d16 -Os)
LIBNAME=libm.a; libm_m4=$(lib_of "${M4[@]}" -mthumb)
LIBNAME=libc_nano.a; libc_m3=$(lib_of "${M3[@]}" -mthumb)
LIBNAME=libc.a; libc_m33=$(lib_of "${M33[@]}" -mthumb)
LIBNAME=libm.a; libm_m33=$(lib_of "${M33[@]}" -mthumb)
# gcc-M0: a small application alone (STM32F0-style flash at 0x08000000), -Os.
image gcc-M0 old $OLD 0x08000000 "" "${M0[@]}"
image gcc-M0 prev $PREV 0x08000000 "" "${M0[@]}"
image gcc-M0 new $NEW 0x08000000 "" "${M0[@]}"
image gcc-M0 new-O2 $NEW 0x08000000 "" -mcpu=cortex-m0 -O2
# gcc-M3: with newlib-nano's libc linked whole (STM32F1/F2 flash after a 16 KiB bootloader).
image gcc-M3 old $OLD 0x08004000 "$libc_m3" "${M3[@]}"
image gcc-M3 prev $PREV 0x08004000 "$libc_m3" "${M3[@]}"
image gcc-M3 new $NEW 0x08004000 "$libc_m3" "${M3[@]}"
image gcc-M3 new-moved $NEW 0x08008000 "$libc_m3" "${M3[@]}"
# gcc-M4: with libm (hard float), after a Nordic SoftDevice at 0x00027000.
image gcc-M4 old $OLD 0x00027000 "$libm_m4" "${M4[@]}"
image gcc-M4 prev $PREV 0x00027000 "$libm_m4" "${M4[@]}"
image gcc-M4 new $NEW 0x00027000 "$libm_m4" "${M4[@]}"
# gcc-M33: the largest, libc and libm whole (an RP2350/nRF5340-like part), -Os.
image gcc-M33 old $OLD 0x10000000 "$libc_m33 $libm_m33" "${M33[@]}"
image gcc-M33 prev $PREV 0x10000000 "$libc_m33 $libm_m33" "${M33[@]}"
image gcc-M33 new $NEW 0x10000000 "$libc_m33 $libm_m33" "${M33[@]}"
{
  printf 'name\told\tnew\tkind\tfamily\n'
  for fam in gcc-M0 gcc-M3 gcc-M4 gcc-M33; do
    printf '%s-fix\t%s/prev.bin\t%s/new.bin\tpatch\t%s\n' "$fam" "$fam" "$fam" "$fam"
    printf '%s-release\t%s/old.bin\t%s/new.bin\tmajor\t%s\n' "$fam" "$fam" "$fam" "$fam"
  done
  printf 'gcc-M0-flags\tgcc-M0/new.bin\tgcc-M0/new-O2.bin\tflags\tgcc-M0\n'
  printf 'gcc-M3-moved\tgcc-M3/new.bin\tgcc-M3/new-moved.bin\tmoved\tgcc-M3\n'
} > "$out/pairs.tsv"
ls -l "$out"/*/*.bin | awk '{print $5, $NF}'
