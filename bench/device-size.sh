#!/usr/bin/env bash
# Cross-compile libairlift for Cortex-M4 (arm-none-eabi-gcc -Os -mthumb -mcpu=cortex-m4),
# check that it references nothing but memcpy/memset/memcmp/memmove, and report its
# text/data/bss per file and in total. Writes bench/results/device-size.txt.
#   bench/device-size.sh [--check-only]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
CC=${ARM_CC:-arm-none-eabi-gcc}
FLAGS=(-std=c99 -ffreestanding -Os -mthumb -mcpu=cortex-m4 -ffunction-sections -fdata-sections -fstack-usage
       -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
       -I"$top/include" -I"$top/lib")
objs=()
for src in "$top"/lib/*.c; do
  obj="$out/$(basename "${src%.c}").o"
  (cd "$out" && "$CC" "${FLAGS[@]}" -c "$src" -o "$obj")
  objs+=("$obj")
done
arm-none-eabi-ld -r -o "$out/libairlift.o" "${objs[@]}"
allowed='^(memcpy|memset|memcmp|memmove)$'
undefined=$(arm-none-eabi-nm -u "$out/libairlift.o" | awk '{print $2}' | sort -u)
bad=$(echo "$undefined" | grep -Ev "$allowed" | grep -v '^$' || true)
if [ -n "$bad" ]; then
  echo "device-size: libairlift references symbols outside the port interface:" >&2
  echo "$bad" >&2
  exit 1
fi
echo "device-size: Cortex-M4 build OK; undefined symbols: $(echo $undefined)"
[ "${1:-}" = "--check-only" ] && exit 0
mkdir -p "$top/bench/results"
{
  echo "# libairlift on Cortex-M4: $CC $("$CC" -dumpversion), -Os -mthumb -mcpu=cortex-m4"
  echo "# measured by bench/device-size.sh on $(date -u +%Y-%m-%d)"
  arm-none-eabi-size "${objs[@]}" | sed "s|$out/||"
  echo "# total"
  arm-none-eabi-size "$out/libairlift.o" | sed "s|$out/||"
  # RAM: the caller-owned context, and the largest stack frames (gcc -fstack-usage).
  printf '#include "airlift/agent.h"\nstruct al_device al_probe_device;\nstruct al_agent al_probe_agent;\nstruct al_delta al_probe_delta;\n' > "$out/probe.c"
  "$CC" "${FLAGS[@]}" -c "$out/probe.c" -o "$out/probe.o"
  size_of() { echo $((16#$(arm-none-eabi-nm -S "$out/probe.o" | awk -v s="$1" '$4 == s {print $2}'))); }
  echo "# RAM: sizeof(struct al_device) = $(size_of al_probe_device) bytes, plus a caller-provided scratch buffer (256 bytes minimum, 1024 in the simulator)"
  echo "# RAM: sizeof(struct al_agent) = $(size_of al_probe_agent) bytes, of which the stream decoder (struct al_delta) $(size_of al_probe_delta), the chunk buffer $(printf '#include "airlift/agent.h"\nAL_AGENT_CHUNK\n' | "$CC" -E -P -I"$top/include" - | tail -1); the rest: the last inventory and plan, the message buffer"
  echo "# largest stack frames (bytes, function):"
  cat "$out"/*.su | grep -v probe | sort -t$'\t' -k2 -n -r | head -8 | sed "s|$top/||" | awk -F'\t' '{print "#   " $2 "\t" $1}'
} | tee "$top/bench/results/device-size.txt"
