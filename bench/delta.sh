#!/usr/bin/env bash
# Delta patches and compressed images on the real firmware pairs of ../shared/firmware/pairs.tsv:
# our patch beside bsdiff, xdelta3 -9 and zstd --patch-from -19; our compressed full image
# beside xz -9e --format=lzma; every stream decoded again by the device decoder and compared.
# Then the decoder's device cost: Cortex-M4 code size, sizeof(struct al_delta), stack frames.
# Writes bench/results/delta.txt.   bench/delta.sh [BUILD_DIR]   (default: build)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
fw=${AIRLIFT_FIRMWARE_DIR:-$top/../shared/firmware}
tool=$build/host/airlift-delta
[ -x "$tool" ] || { echo "delta.sh: build $tool first (cmake --build $build --target airlift-delta)" >&2; exit 1; }
for t in bsdiff xdelta3 zstd xz arm-none-eabi-gcc; do
  command -v $t >/dev/null || { echo "delta.sh: $t missing (scripts/deps.sh)" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
size() { stat -c%s "$1"; }
mkdir -p "$top/bench/results"
{
echo "# Delta patches on ../shared/firmware/pairs.tsv (bytes); measured by bench/delta.sh on $(date -u +%Y-%m-%d)"
echo "# ours: airlift-delta encode (docs/delta-format.md); bsdiff 4.3; xdelta3 -9 -e -s OLD; zstd -19 --patch-from=OLD --long=27"
printf '%-16s %7s %7s %7s %7s %7s %7s %7s\n' pair old new ours bsdiff xdelta3 zstd ours/bsd
tail -n +2 "$fw/pairs.tsv" | while IFS=$'\t' read -r name old new kind; do
  o=$fw/$old; n=$fw/$new
  "$tool" encode "$o" "$n" "$tmp/p"
  "$tool" decode "$o" "$tmp/p" "$tmp/back" && cmp -s "$tmp/back" "$n" || { echo "delta.sh: $name does not round-trip" >&2; exit 1; }
  bsdiff "$o" "$n" "$tmp/b"
  xdelta3 -9 -e -f -s "$o" "$n" "$tmp/x"
  zstd -q -f -19 --long=27 --patch-from="$o" "$n" -o "$tmp/z"
  ours=$(size "$tmp/p"); b=$(size "$tmp/b")
  printf '%-16s %7d %7d %7d %7d %7d %7d %7.3f\n' "$name" "$(size "$o")" "$(size "$n")" "$ours" "$b" \
    "$(size "$tmp/x")" "$(size "$tmp/z")" "$(echo "$ours / $b" | bc -l)"
  echo "$ours $b $(size "$tmp/x") $(size "$tmp/z")" >> "$tmp/ratios"
done
awk '{a+=log($1/$2); x+=log($3/$2); z+=log($4/$2); n++}
     END {printf "geometric mean vs bsdiff over %d pairs: ours %.3f, xdelta3 %.3f, zstd %.3f (goal: ours <= 0.7)\n", n, exp(a/n), exp(x/n), exp(z/n)}' "$tmp/ratios"
echo
echo "# Compressed full images: airlift-delta compress vs xz -9e --format=lzma (bytes)"
printf '%-34s %7s %7s %7s %7s\n' file size ours xz ours/xz
tail -n +2 "$fw/pairs.tsv" | cut -f3 | sort -u | while read -r new; do
  n=$fw/$new
  "$tool" compress "$n" "$tmp/c"
  "$tool" decode "$tmp/c" "$tmp/back" && cmp -s "$tmp/back" "$n" || { echo "delta.sh: $new does not round-trip" >&2; exit 1; }
  xz -9e --format=lzma -c "$n" > "$tmp/xz"
  c=$(size "$tmp/c"); x=$(size "$tmp/xz")
  printf '%-34s %7d %7d %7d %7.3f\n' "$new" "$(size "$n")" "$c" "$x" "$(echo "$c / $x" | bc -l)"
  echo "$c $x" >> "$tmp/cratios"
done
awk '{c+=$1; x+=$2; g+=log($1/$2); n++} END {printf "total: ours %d, xz %d, ratio %.3f; geometric mean %.3f (goal: <= 1.05)\n", c, x, c/x, exp(g/n)}' "$tmp/cratios"
echo
echo "# Device cost of the decoder (lib/delta.c, and lib/crc32.c it shares with the journal): arm-none-eabi-gcc $(arm-none-eabi-gcc -dumpversion) -Os -mthumb -mcpu=cortex-m4"
FLAGS=(-std=c99 -ffreestanding -Os -mthumb -mcpu=cortex-m4 -ffunction-sections -fdata-sections -fstack-usage
       -Wall -Wextra -Werror -Wno-unused-parameter -I"$top/include" -I"$top/lib")
(cd "$tmp" && arm-none-eabi-gcc "${FLAGS[@]}" -c "$top/lib/delta.c" -o delta.o &&
    arm-none-eabi-gcc "${FLAGS[@]}" -c "$top/lib/crc32.c" -o crc32.o)
arm-none-eabi-size -t "$tmp/delta.o" "$tmp/crc32.o" | sed "s|$tmp/||"
printf '#include "airlift/delta.h"\nstruct al_delta al_probe_delta;\n' > "$tmp/probe.c"
arm-none-eabi-gcc "${FLAGS[@]}" -c "$tmp/probe.c" -o "$tmp/probe.o"
st=$(arm-none-eabi-nm -S "$tmp/probe.o" | awk '/al_probe_delta/{print $2}')
stack=$(awk -F'\t' '{s+=$2} END {print s}' "$tmp/delta.su")
echo "RAM: sizeof(struct al_delta) = $((16#$st)) bytes (caller-owned, no heap); stack: at most $stack bytes (sum of every frame in delta.su, an upper bound on the deepest call chain) plus the caller's callbacks"
echo "stack frames (bytes, function):"
sort -t$'\t' -k2 -n -r "$tmp/delta.su" | sed "s|$top/||" | awk -F'\t' '{print "  " $2 "\t" $1}'
} | tee "$top/bench/results/delta.txt"
