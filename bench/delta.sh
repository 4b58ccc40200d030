#!/usr/bin/env bash
# Delta patches and compressed images on the real firmware pairs of ../shared/firmware/pairs.tsv
# and of the corpus (bench/corpus/build.sh BUILD_DIR/corpus, if built): our patch and its
# encode time beside bsdiff, xdelta3 -9 and zstd --patch-from -19; our compressed full image
# beside xz -9e --format=lzma; the encode time of random 1 and 2 MiB images; every stream
# decoded again by the device decoder and compared.
# Then the decoder's device cost: Cortex-M4 code size, sizeof(struct al_delta), stack frames.
# Writes bench/results/delta.txt.   bench/delta.sh [BUILD_DIR]   (default: build)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
fw=${AIRLIFT_FIRMWARE_DIR:-$top/../shared/firmware}
corpus=${AIRLIFT_CORPUS_DIR:-$build/corpus} # made by bench/corpus/build.sh; skipped if absent
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
# run_pairs DIR PAIRS FAMILY-DEFAULT: one row per pair (encode time in seconds, user CPU),
# then the geometric means vs bsdiff per family and over all.
run_pairs() {
  local dir=$1 pairs=$2 deffam=$3
  : > "$tmp/ratios"
  printf '%-18s %-10s %7s %7s %7s %7s %7s %7s %8s %6s\n' pair family old new ours bsdiff xdelta3 zstd ours/bsd enc_s
  tail -n +2 "$pairs" | while IFS=$'\t' read -r name old new kind fam; do
    fam=${fam:-$deffam}
    o=$dir/$old; n=$dir/$new
    /usr/bin/time -f %U -o "$tmp/t" "$tool" encode "$o" "$n" "$tmp/p"
    "$tool" decode "$o" "$tmp/p" "$tmp/back" && cmp -s "$tmp/back" "$n" || { echo "delta.sh: $name does not round-trip" >&2; exit 1; }
    bsdiff "$o" "$n" "$tmp/b"
    xdelta3 -9 -e -f -s "$o" "$n" "$tmp/x"
    zstd -q -f -19 --long=27 --patch-from="$o" "$n" -o "$tmp/z"
    ours=$(size "$tmp/p"); b=$(size "$tmp/b")
    printf '%-18s %-10s %7d %7d %7d %7d %7d %7d %8.3f %6.2f\n' "$name" "$fam" "$(size "$o")" "$(size "$n")" "$ours" "$b" \
      "$(size "$tmp/x")" "$(size "$tmp/z")" "$(echo "$ours / $b" | bc -l)" "$(tail -1 "$tmp/t")"
    echo "$fam $ours $b $(size "$tmp/x") $(size "$tmp/z")" >> "$tmp/ratios"
  done
  awk '{f=$1; a[f]+=log($2/$3); x[f]+=log($4/$3); z[f]+=log($5/$3); n[f]++; if ($2 > $3) over[f]++
        A+=log($2/$3); X+=log($4/$3); Z+=log($5/$3); N++}
       END {for (f in n) printf "geometric mean vs bsdiff, family %-10s (%2d pairs): ours %.3f, xdelta3 %.3f, zstd %.3f; pairs above bsdiff: %d\n", f, n[f], exp(a[f]/n[f]), exp(x[f]/n[f]), exp(z[f]/n[f]), over[f]
            printf "geometric mean vs bsdiff over all %d pairs: ours %.3f, xdelta3 %.3f, zstd %.3f\n", N, exp(A/N), exp(X/N), exp(Z/N)}' "$tmp/ratios"
}
echo "# Delta patches (bytes); measured by bench/delta.sh on $(date -u +%Y-%m-%d); enc_s = encode time, user CPU seconds"
echo "# ours: airlift-delta encode (docs/delta-format.md); bsdiff 4.3; xdelta3 -9 -e -s OLD; zstd -19 --patch-from=OLD --long=27"
echo "# Electron pairs: ../shared/firmware/pairs.tsv"
run_pairs "$fw" "$fw/pairs.tsv" electron
if [ -f "$corpus/pairs.tsv" ]; then
  echo
  echo "# Corpus pairs: bench/corpus/build.sh (bench/corpus/README.md), in $corpus"
  run_pairs "$corpus" "$corpus/pairs.tsv" corpus
fi
echo
echo "# Encode time on incompressible data (random old and new of the same size; goal: <= 2 s per MiB, user CPU)"
printf '%-18s %8s %8s %6s %7s\n' input size ours enc_s s/MiB
for mib in 1 2; do
  head -c $((mib << 20)) /dev/urandom > "$tmp/ra"; head -c $((mib << 20)) /dev/urandom > "$tmp/rb"
  /usr/bin/time -f %U -o "$tmp/t" "$tool" encode "$tmp/ra" "$tmp/rb" "$tmp/p"
  "$tool" decode "$tmp/ra" "$tmp/p" "$tmp/back" && cmp -s "$tmp/back" "$tmp/rb" || { echo "delta.sh: random $mib MiB does not round-trip" >&2; exit 1; }
  t=$(tail -1 "$tmp/t")
  printf '%-18s %8d %8d %6.2f %7.2f\n' "random-${mib}MiB" $((mib << 20)) "$(size "$tmp/p")" "$t" "$(echo "$t / $mib" | bc -l)"
done
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
