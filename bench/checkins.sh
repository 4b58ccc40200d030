#!/usr/bin/env bash
# checkins.sh BUILD [DEVICES] [SECONDS]: sustained check-ins against one airliftd.
# DEVICES simulated devices (default 30), each a sleepy device coming back every second, so
# every session is a fresh DTLS handshake, an inventory, a plan ("up to date") and a close.
# Prints the sessions served per second and the CPU each airliftd thread used; with
# PERF=1, also records airliftd with `perf record -g` and prints the top of `perf report`
# (by library, then by symbol). Written to bench/results/checkins.txt as well.
BUILD=${1:?usage: checkins.sh BUILD [DEVICES] [SECONDS]}
N=${2:-30}
DUR=${3:-20}
RESULTS=$(cd "$(dirname "$0")" && pwd)/results/checkins.txt
. "$(dirname "$0")/../tests/e2e/lib.sh"
start_server --log-level warn
sign_device_os
for i in $(seq "$N"); do device "c$i"; done
ticks() { # per-thread CPU ticks of airliftd: "tid utime+stime"
    for t in /proc/"$SERVER_PID"/task/*; do
        awk '{print FILENAME, $14 + $15}' "$t/stat" 2>/dev/null
    done | sed 's|/proc/[0-9]*/task/\([0-9]*\)/stat|\1|'
}
for i in $(seq "$N"); do
    "$DEVICE" run "$WORK/c$i" --sleep 1 >"$WORK/c$i.log" 2>&1 &
    PIDS+=("$!")
done
sleep 3 # all devices started and past their first session
before=$(ticks)
s0=$(cat "$WORK"/c*.log | grep -c '^sleep:')
if [ "${PERF:-0}" = 1 ]; then
    perf record -q -g -o "$WORK/perf.data" -p "$SERVER_PID" -- sleep "$DUR" 2>/dev/null
else
    sleep "$DUR"
fi
s1=$(cat "$WORK"/c*.log | grep -c '^sleep:')
after=$(ticks)
report() {
    hz=$(getconf CLK_TCK)
    echo "devices: $N; $((s1 - s0)) sessions in $DUR s: $(( (s1 - s0) / DUR )) sessions/s" \
         "(at most $N/s if every session were instant)"
    echo "airliftd threads, CPU used in those $DUR s (% of one core):"
    join <(sort <<<"$before") <(sort <<<"$after") |
        awk -v hz="$hz" -v d="$DUR" '{ p = ($3 - $2) * 100 / hz / d; if (p > 0.5) printf "  tid %s: %.0f %%\n", $1, p }'
    if [ "${PERF:-0}" = 1 ]; then
        perf report -i "$WORK/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null | grep -v "^#" | grep "%" | head -12
        perf report -i "$WORK/perf.data" --no-children --sort sym --stdio -g none 2>/dev/null | grep -v '^#' | grep '%' | head -25
    fi
}
report | tee "$RESULTS"
finish
