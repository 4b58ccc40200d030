#!/usr/bin/env bash
# Cross-compile libairlift for Cortex-M0+ (ARMv6-M), M3 (ARMv7-M, the Electron's STM32F205),
# M4 (ARMv7E-M) and M33 (ARMv8-M mainline) with arm-none-eabi-gcc -Os -mthumb -mcpu=CORE;
# check that each build references nothing but memcpy/memset/memcmp/memmove and the
# compiler's helpers that this core's libgcc provides (M0+ has no divide instruction and
# uses libgcc's __aeabi_uidiv & co.), and that no pointer cast needs more alignment than its
# source (-Wcast-align=strict: ARMv6-M faults on unaligned word accesses). Reports
# text/data/bss per object and in total for each core, the totals side by side, the RAM the
# caller owns (struct sizes) and the largest stack frames. Writes bench/results/device-size.txt.
#   bench/device-size.sh [--check-only]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
CC=${ARM_CC:-arm-none-eabi-gcc}
CORES=(cortex-m0plus cortex-m3 cortex-m4 cortex-m33)
declare -A NAME=([cortex-m0plus]="Cortex-M0+" [cortex-m3]="Cortex-M3" [cortex-m4]="Cortex-M4"
                 [cortex-m33]="Cortex-M33")
WARN=(-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
      -Wcast-align=strict)
flags() { echo -std=c99 -ffreestanding -Os -mthumb -mcpu="$1" -ffunction-sections -fdata-sections \
               -fstack-usage "${WARN[@]}" -I"$top/include" -I"$top/lib"; }
declare -A HELPERS
for core in "${CORES[@]}"; do
  mkdir -p "$out/$core"
  read -r -a F <<<"$(flags "$core")"
  for src in "$top"/lib/*.c; do
    (cd "$out/$core" && "$CC" "${F[@]}" -c "$src" -o "$(basename "${src%.c}").o")
  done
  arm-none-eabi-ld -r -o "$out/$core.o" "$out/$core"/*.o
  libgcc=$("$CC" -mthumb -mcpu="$core" -print-libgcc-file-name)
  undefined=$(arm-none-eabi-nm -u "$out/$core.o" | awk '{print $2}' | sort -u)
  provided=$(arm-none-eabi-nm -g --defined-only "$libgcc" 2>/dev/null | awk '{print $3}' | sort -u)
  helpers=$(comm -12 <(echo "$undefined") <(echo "$provided") | grep '^__' || true)
  bad=$(echo "$undefined" | grep -Ev '^(memcpy|memset|memcmp|memmove)$' | grep -vxF -f <(echo "${helpers:-none}") |
        grep -v '^$' || true)
  if [ -n "$bad" ]; then
    echo "device-size: libairlift on ${NAME[$core]} references symbols outside the port interface:" >&2
    echo "$bad" >&2
    exit 1
  fi
  HELPERS[$core]=$(echo $helpers)
  echo "device-size: ${NAME[$core]} build OK; undefined symbols: $(echo $undefined)"
done
[ "${1:-}" = "--check-only" ] && exit 0

# sizeof a caller-owned struct on a core, from a probe object's symbol sizes.
probe() { # core
  printf '#include "airlift/agent.h"\nstruct al_device al_probe_device;\nstruct al_agent al_probe_agent;\nstruct al_delta al_probe_delta;\n' > "$out/probe.c"
  read -r -a F <<<"$(flags "$1")"
  "$CC" "${F[@]}" -c "$out/probe.c" -o "$out/probe-$1.o"
}
size_of() { echo $((16#$(arm-none-eabi-nm -S "$out/probe-$1.o" | awk -v s="$2" '$4 == s {print $2}'))); }
total() { arm-none-eabi-size "$out/$1.o" | awk 'NR == 2 {print $1 "\t" $2 "\t" $3}'; }
mkdir -p "$top/bench/results"
{
  echo "# libairlift on Cortex-M0+, M3, M4 and M33: $CC $("$CC" -dumpversion), -Os -mthumb -mcpu=CORE"
  echo "# measured by bench/device-size.sh on $(date -u +%Y-%m-%d)"
  echo "# totals (bytes), and the libgcc helpers each core's build calls:"
  printf '#   %-11s %6s %5s %4s  %s\n' core text data bss "libgcc helpers"
  for core in "${CORES[@]}"; do
    read -r t d b <<<"$(total "$core")"
    printf '#   %-11s %6s %5s %4s  %s\n' "${NAME[$core]}" "$t" "$d" "$b" "${HELPERS[$core]:-none}"
  done
  for core in cortex-m4 cortex-m0plus cortex-m3 cortex-m33; do # M4 first: the figures before M0+/M3/M33 came in
    echo "## ${NAME[$core]} (-mcpu=$core)"
    (cd "$out/$core" && arm-none-eabi-size -- *.o)
    echo "# total"
    (cd "$out" && cp "$core.o" libairlift.o && arm-none-eabi-size libairlift.o)
  done
  # RAM: the caller-owned context, and the largest stack frames (gcc -fstack-usage).
  for core in "${CORES[@]}"; do probe "$core"; done
  for core in "${CORES[@]}"; do
    echo "# RAM on ${NAME[$core]}: sizeof(struct al_device) = $(size_of "$core" al_probe_device), sizeof(struct al_agent) = $(size_of "$core" al_probe_agent), sizeof(struct al_delta) = $(size_of "$core" al_probe_delta) bytes"
  done
  echo "# RAM: struct al_device, plus a caller-provided scratch buffer (256 bytes minimum, 1024 in the simulator)"
  echo "# RAM: struct al_agent includes the stream decoder (struct al_delta), the chunk buffer $(printf '#include "airlift/agent.h"\nAL_AGENT_CHUNK\n' | "$CC" -E -P -I"$top/include" - | tail -1 | tr -d u); the rest: the last inventory and plan, the message buffer"
  for core in cortex-m4 cortex-m0plus; do
    echo "# largest stack frames on ${NAME[$core]} (bytes, function):"
    cat "$out/$core"/*.su | sort -t$'\t' -k2 -n -r | head -8 | sed "s|$top/||" | awk -F'\t' '{print "#   " $2 "\t" $1}'
  done
} | tee "$top/bench/results/device-size.txt"
