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
#ifdef LAYOUT_RP2 /* RP2040: a 256-byte second-stage boot loader before the vector table */
#define B(i) (uint8_t)((i) * 73 + ((i) >> 3) * 5)
#define B8(i) B(i), B(i + 1), B(i + 2), B(i + 3), B(i + 4), B(i + 5), B(i + 6), B(i + 7)
#define B64(i) B8(i), B8(i + 8), B8(i + 16), B8(i + 24), B8(i + 32), B8(i + 40), B8(i + 48), B8(i + 56)
__attribute__((section(".boot2"), used)) static const uint8_t boot2[256] = {B64(0), B64(64), B64(128), B64(192)};
#endif
#ifdef LAYOUT_KINETIS /* Kinetis K: the flash configuration field at 0x400 */
__attribute__((section(".flash_config"), used)) static const uint32_t flash_config[4] = {
    0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFEu};
#endif
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
# link.ld: code at LINK (a vendor's flash base, or after a bootloader/SoftDevice), in the
# vendor's layout: plain (the vector table first), rp2 (a 256-byte boot2 first, the vector
# table at +0x100) or kinetis (the flash configuration field at +0x400).
mk_ld() {
  local head="KEEP(*(.isr_vector))"
  case ${LAYOUT:-plain} in
    rp2) head="KEEP(*(.boot2)) KEEP(*(.isr_vector))" ;;
    kinetis) head="KEEP(*(.isr_vector)) . = 0x400; KEEP(*(.flash_config))" ;;
  esac
  cat > "$work/link-$1.ld" <<LD
MEMORY { FLASH (rx) : ORIGIN = $1, LENGTH = 4M
         RAM (rwx) : ORIGIN = 0x20000000, LENGTH = 256K }
_estack = ORIGIN(RAM) + LENGTH(RAM);
SECTIONS {
  .text : { $head *(.text*) *(.rodata*) . = ALIGN(4); } > FLASH
  .ARM.exidx : { *(.ARM.exidx*) } > FLASH
  .data : { *(.data*) . = ALIGN(4); } > RAM AT > FLASH
  .bss (NOLOAD) : { *(.bss*) *(COMMON) } > RAM
  /DISCARD/ : { *(.comment) *(.ARM.attributes) }
}
LD
}
# image FAMILY NAME REV LINK EXTRA-LIBS CFLAGS...: compile lib/*.c of REV and the app
# (with IMAGE_CC, default arm-none-eabi-gcc; IMAGE_CFLAGS go to it alone), link at LINK in
# LAYOUT (every input section kept), and write FAMILY/NAME.bin.
image() {
  local fam=$1 name=$2 rev=$3 link=$4 libs=$5
  shift 5
  local o="$work/obj-$fam-$name"
  mkdir -p "$o" "$out/$fam"
  mk_ld "$link"
  for src in "$work/src-$rev"/lib/*.c "$work/app.c"; do
    # shellcheck disable=SC2086
    "${IMAGE_CC:-$CC}" -std=c99 -ffreestanding -mthumb "$@" ${IMAGE_CFLAGS:-} -I"$work/src-$rev/include" \
      -I"$work/src-$rev/lib" -c "$src" -o "$o/$(basename "${src%.c}").o"
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
# gcc-M7: the largest (near 1 MiB), -O3, double-precision hard float, newlib's libc, libm and
# libc-nano linked whole, and the libc and libm of the single-precision multilib (an
# STM32F7/H7-like part, flash at 0x08000000).
M7=(-mcpu=cortex-m7 -mfloat-abi=hard -mfpu=fpv5-d16 -O3)
LIBNAME=libc.a; libc_m7=$(lib_of "${M7[@]}" -mthumb)
LIBNAME=libm.a; libm_m7=$(lib_of "${M7[@]}" -mthumb)
LIBNAME=libc_nano.a; libcn_m7=$(lib_of "${M7[@]}" -mthumb)
M7SP=(-mcpu=cortex-m7 -mfloat-abi=hard -mfpu=fpv5-sp-d16) # the single-precision multilib too
LIBNAME=libc.a; libc_m7sp=$(lib_of "${M7SP[@]}" -mthumb)
LIBNAME=libm.a; libm_m7sp=$(lib_of "${M7SP[@]}" -mthumb)
for v in old:$OLD prev:$PREV new:$NEW; do
  image gcc-M7 "${v%%:*}" "${v#*:}" 0x08000000 "$libc_m7 $libm_m7 $libcn_m7 $libc_m7sp $libm_m7sp" "${M7[@]}"
done
# gcc-M7-1M: a full 1 MiB part (STM32H7-style, flash at 0x08000000), -O2 (not -O3): newlib's
# libc, libm and libc-nano of both Cortex-M7 multilibs (double- and single-precision) and
# libgcc, all linked whole: code sizes of 900 KiB - 1 MiB.
M7B=(-mcpu=cortex-m7 -mfloat-abi=hard -mfpu=fpv5-d16 -O2)
LIBNAME=libc_nano.a; libcn_m7sp=$(lib_of "${M7SP[@]}" -mthumb)
LIBNAME=libgcc.a; libgcc_m7=$(lib_of "${M7[@]}" -mthumb)
for v in old:$OLD prev:$PREV new:$NEW; do
  image gcc-M7-1M "${v%%:*}" "${v#*:}" 0x08000000 \
    "$libc_m7 $libm_m7 $libcn_m7 $libc_m7sp $libm_m7sp $libcn_m7sp $libgcc_m7" "${M7B[@]}"
done
# gcc-M0plus: an RP2040-style image (a 256-byte boot2, then the vector table; XIP flash at
# 0x10000000), -O2, newlib-nano's libc.
M0P=(-mcpu=cortex-m0plus -O2 -DLAYOUT_RP2)
LIBNAME=libc_nano.a; libc_m0p=$(lib_of -mcpu=cortex-m0plus -mthumb)
for v in old:$OLD prev:$PREV new:$NEW; do
  LAYOUT=rp2 image gcc-M0plus "${v%%:*}" "${v#*:}" 0x10000000 "$libc_m0p" "${M0P[@]}"
done
# clang-M4: another compiler, clang 14 -Oz (the library code: newlib-nano and libm, built by
# gcc), in a Kinetis K-style layout (flash at 0, the flash configuration field at 0x400),
# soft float.
CM4=(-mcpu=cortex-m4 -mfloat-abi=soft -DLAYOUT_KINETIS)
newlib_inc=$(dirname "$(LIBNAME=libc.a lib_of)")/../include # newlib's headers, for clang
LIBNAME=libc_nano.a; libc_cm4=$(lib_of "${CM4[@]}" -mthumb)
LIBNAME=libm.a; libm_cm4=$(lib_of "${CM4[@]}" -mthumb)
for v in old:$OLD prev:$PREV new:$NEW; do
  LAYOUT=kinetis IMAGE_CC=clang IMAGE_CFLAGS="--target=arm-none-eabi -Oz -isystem $newlib_inc" \
    image clang-M4 "${v%%:*}" "${v#*:}" 0x00000000 "$libc_cm4 $libm_cm4" "${CM4[@]}"
done
{
  printf 'name\told\tnew\tkind\tfamily\n'
  for fam in gcc-M0 gcc-M3 gcc-M4 gcc-M33 gcc-M7 gcc-M7-1M gcc-M0plus clang-M4; do
    printf '%s-fix\t%s/prev.bin\t%s/new.bin\tpatch\t%s\n' "$fam" "$fam" "$fam" "$fam"
    printf '%s-release\t%s/old.bin\t%s/new.bin\tmajor\t%s\n' "$fam" "$fam" "$fam" "$fam"
  done
  printf 'gcc-M0-flags\tgcc-M0/new.bin\tgcc-M0/new-O2.bin\tflags\tgcc-M0\n'
  printf 'gcc-M3-moved\tgcc-M3/new.bin\tgcc-M3/new-moved.bin\tmoved\tgcc-M3\n'
} > "$out/pairs.tsv"
ls -l "$out"/*/*.bin | awk '{print $5, $NF}'
