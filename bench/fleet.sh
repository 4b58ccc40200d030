#!/usr/bin/env bash
# bench/fleet.sh [BUILD] - airliftd at fleet scale, on SQLite and on PostgreSQL, in one run.
# Figures, not tests; written to bench/results/fleet.txt. Sizes (environment):
#   FLEET_REGISTERED  registered devices for the idle and API figures (default 100000)
#   FLEET_SIM         simulated devices for the check-in and rollout figures (10000); the
#                     reconnect storm simulates all FLEET_REGISTERED devices
#   FLEET_BACKENDS    "sqlite postgresql" (default both; "" for none)
#   FLEET_IDLE_S      how long the idle figure is measured (60)
#   FLEET_STORM_S     how long the storm may take to be absorbed (600; the goal is 300)
#   FLEET_RADIOS      devices in session at once in one simulator process (300: about what
#                     fits below FD_SETSIZE, docs/fleet-simulator.md)
#   FLEET_STORM_PROCS simulator processes sharing the reconnect storm's devices (3)
#   FLEET_SERVE       clients for the serving-rate figure, airliftd beside libcoap's
#                     coap-server-openssl (default 200; 0 skips it)
# What each figure is, and how it is measured, is printed beside it.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BUILD=$(cd "$BUILD" && pwd)
REG=${FLEET_REGISTERED:-100000}
SIM=${FLEET_SIM:-10000}
BACKENDS=${FLEET_BACKENDS-sqlite postgresql}
IDLE_S=${FLEET_IDLE_S:-60}
STORM_S=${FLEET_STORM_S:-600}
RADIOS=${FLEET_RADIOS:-300}
STORM_PROCS=${FLEET_STORM_PROCS:-3}
SERVE=${FLEET_SERVE:-200}
AIRLIFTD=$BUILD/server/airliftd
FLEET=$BUILD/sim/airlift-fleet
AIRLIFT=$BUILD/cli/airlift
PGC=$PWD/tests/pg/pg-cluster.sh
FW=${AIRLIFT_FIRMWARE_DIR:-$PWD/../shared/firmware}/electron
OUT=bench/results/fleet.txt
WORK=$(mktemp -d /tmp/airlift-fleet-bench.XXXXXX)
TICKS=$(getconf CLK_TCK)
ulimit -n 200000 2>/dev/null || ulimit -n 65536 2>/dev/null || true
mkdir -p bench/results
: >"$WORK/out"
say() { echo "$*" | tee -a "$WORK/out"; }
cleanup() {
    [ -n "${LOADER:-}" ] && kill "$LOADER" 2>/dev/null
    [ -n "${SERVER_PID:-}" ] && kill -9 "$SERVER_PID" 2>/dev/null
    pkill -9 -f "$WORK/" 2>/dev/null
    [ -d "$WORK/pg" ] && bash "$PGC" stop "$WORK/pg" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# start_server [flags]: airliftd on the backend in $STORE; sets HTTP, COAP, TOKEN, SERVER_PID.
start_server() {
    rm -rf "$WORK/data" "$WORK/port"
    "$AIRLIFTD" --data-dir "$WORK/data" --http-listen 127.0.0.1:0 --coap-listen 127.0.0.1:0 \
        --port-file "$WORK/port" --admin-token-file "$WORK/token" --log-level warn \
        ${STORE:+--store "$STORE"} "$@" >>"$WORK/airliftd.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 400); do [ -s "$WORK/port" ] && break; sleep 0.05; done
    HTTP=$(sed -n 1p "$WORK/port"); COAP=$(sed -n 2p "$WORK/port"); TOKEN=$(cat "$WORK/token")
    export AIRLIFT_SERVER="http://127.0.0.1:$HTTP" AIRLIFT_TOKEN="$TOKEN"
}
stop_server() { kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; SERVER_PID=; }
api() { local m=$1 p=$2; shift 2; curl -s -X "$m" -H "Authorization: Bearer $TOKEN" "$@" "$AIRLIFT_SERVER$p"; }
api_json() { api "$1" "$2" -H 'Content-Type: application/json' --data "$3"; }
upload() { api POST /v1/images -H 'Content-Type: application/octet-stream' --data-binary @"$1" | jq -r .sha256; }

fresh_db() { # fresh_db NAME: an empty database (PostgreSQL) or file (SQLite); sets STORE
    if [ "$BACKEND" = postgresql ]; then
        STORE=$(bash "$PGC" createdb "$WORK/pg" "$1")
    else
        STORE=
    fi
}

# Signed images once: Device OS 0.6.4 (the factory) and 0.7.0, an application.
"$AIRLIFT" keys generate --out "$WORK/author.pem" >/dev/null
for f in bootloader-2.3.0 system-part1-0.6.4 system-part2-0.6.4 system-part3-0.6.4 \
         system-part1-0.7.0 system-part2-0.7.0 system-part3-0.7.0; do
    "$AIRLIFT" image create --key "$WORK/author.pem" -o "$WORK/$f.alim" "$FW/$f.bin" >/dev/null
done
head -c 30000 /dev/urandom >"$WORK/app.bin"
"$AIRLIFT" image create --key "$WORK/author.pem" -o "$WORK/app.alim" --function application \
    --index 1 --platform 10 --version 2.0.0 --link-address 0x08080000 "$WORK/app.bin" >/dev/null
FACTORY="$WORK/bootloader-2.3.0.alim $WORK/system-part1-0.6.4.alim $WORK/system-part2-0.6.4.alim $WORK/system-part3-0.6.4.alim"

say "# airliftd at fleet scale (bench/fleet.sh), $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
say "# registered devices: $REG; simulated devices: $SIM (reconnect storm: $REG)"
say "# code: $(git log -1 --format='%h %s' 2>/dev/null | cut -c1-100)"
# The machine's load while it runs (other work inflates latencies and CPU per operation).
(while sleep 10; do cut -d' ' -f1 /proc/loadavg; done) >"$WORK/load" &
LOADER=$!

for BACKEND in $BACKENDS; do
    if [ "$BACKEND" = postgresql ]; then
        bash "$PGC" start "$WORK/pg" >/dev/null || { say "postgresql: no cluster, skipped"; continue; }
    fi
    say ""
    say "## $BACKEND"

    # ---- idle: REG registered devices (none online), 20 finished and 2 running rollouts ----
    fresh_db idle
    start_server
    t0=$SECONDS
    rm -rf "$WORK/idle"
    api_json POST /v1/products '{"name":"tracker","platform":10}' >/dev/null
    "$FLEET" provision "$WORK/idle" --api "$AIRLIFT_SERVER" --token "$TOKEN" --count "$REG" \
        --prefix d- --product tracker --group field >/dev/null 2>"$WORK/provision.err" ||
        { say "provisioning failed: $(tail -1 "$WORK/provision.err")"; exit 1; }
    say "registered $REG devices through the API in $((SECONDS - t0)) s"
    app=$(upload "$WORK/app.alim")
    for i in $(seq 1 22); do
        api_json POST /v1/products/tracker/releases "{\"version\":\"2.0.$i\",\"images\":[\"$app\"]}" >/dev/null
    done
    for i in $(seq 1 20); do # finished: rollouts to a group no device is in, or cancelled
        r=$(api_json POST /v1/rollouts "{\"product\":\"tracker\",\"release\":\"2.0.$i\",\"target\":{\"groups\":[\"none$i\"]},\"allow_empty\":true}" | jq -r '.id // empty')
        [ -n "$r" ] || r=$(api_json POST /v1/rollouts "{\"product\":\"tracker\",\"release\":\"2.0.$i\",\"target\":{\"groups\":[\"none$i\"]}}" | jq -r '.id // empty')
        sleep 0.2
        [ "$(api GET "/v1/rollouts/$r" | jq -r .state)" = running ] &&
            api POST "/v1/rollouts/$r/cancel" >/dev/null
    done
    for i in 21 22; do # running: waves over the whole fleet, the first wave queued and waiting
        api_json POST /v1/rollouts "{\"product\":\"tracker\",\"release\":\"2.0.$i\",\"target\":{\"groups\":[\"field\"]},\"waves\":[{\"percent\":1},{\"percent\":100}]}" >/dev/null
    done
    for _ in $(seq 120); do # enrolment and the first wave's updates
        [ "$(api GET /v1/rollouts | jq '[.rollouts[] | select(.state == "running")] | length')" -ge 2 ] && break
        sleep 1
    done
    sleep 20
    states=$(api GET /v1/rollouts | jq -r '[.rollouts[].state] | group_by(.) | map("\(.[0]) \(length)") | join(", ")')
    c0=$(cpu_ticks "$SERVER_PID"); sleep "$IDLE_S"; c1=$(cpu_ticks "$SERVER_PID")
    idle=$(echo "scale=2; ($c1 - $c0) * 100 / $TICKS / $IDLE_S" | bc)
    say "idle: $REG registered devices, rollouts: $states; airliftd $idle % of one core over $IDLE_S s (/proc/PID/stat utime+stime), RSS $(rss_kb "$SERVER_PID") KB"

    # ---- the API: a page of 100, and a filtered page, with REG devices ----
    mid=$(printf 'd-%0*d' $((REG >= 10000 ? 6 : 5)) $((REG / 2))) # a page from the middle
    for q in "limit=100" "limit=100&after=$mid" "limit=100&product=tracker&group=field&online=false"; do
        for _ in $(seq 300); do
            curl -s -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $TOKEN" "$AIRLIFT_SERVER/v1/devices?$q"
        done | sort -n >"$WORK/lat"
        p50=$(awk '{a[NR]=$1} END {printf "%.1f", a[int(NR*0.5)]*1000}' "$WORK/lat")
        p99=$(awk '{a[NR]=$1} END {printf "%.1f", a[int(NR*0.99)]*1000}' "$WORK/lat")
        say "GET /v1/devices?$q: p50 $p50 ms, p99 $p99 ms (300 requests, curl time_total)"
    done

    # ---- a reconnect storm: airliftd restarted under REG devices that all come back at once ----
    # The registered devices are simulated now (the same identities and keys). The running
    # rollouts are cancelled first, so that every session is a check-in (handshake, inventory,
    # "up to date"). airliftd is SIGKILLed and started again on the same store; then every
    # device powers on at the same moment and comes back, retrying with a modem's back-off
    # until it gets through (always on, one check-in each: --period beyond the run). Absorbed:
    # every device has checked in (the simulator's count), none left failed.
    for r in $(api GET /v1/rollouts | jq -r '.rollouts[] | select(.state == "running" or .state == "paused") | .id'); do
        api POST "/v1/rollouts/$r/cancel" >/dev/null
    done
    "$FLEET" factory "$WORK/idle" --trust "$WORK/author.pem" $FACTORY >/dev/null
    kill -9 "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
    "$AIRLIFTD" --data-dir "$WORK/data" --http-listen "127.0.0.1:$HTTP" --coap-listen "127.0.0.1:$COAP" \
        --log-level warn ${STORE:+--store "$STORE"} >>"$WORK/airliftd.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 200); do curl -s -o /dev/null "$AIRLIFT_SERVER/v1/health" && break; sleep 0.05; done
    c0=$(cpu_ticks "$SERVER_PID"); t0=$SECONDS
    # STORM_PROCS simulator processes, each a share of the devices (--skip/--limit), each with
    # at most RADIOS in session at once (docs/fleet-simulator.md, Limits).
    share=$(( (REG + STORM_PROCS - 1) / STORM_PROCS )); FPS=()
    for k in $(seq 0 $((STORM_PROCS - 1))); do
        "$FLEET" run "$WORK/idle" --server "127.0.0.1:$COAP" --period 86400 --jitter 0 --radios "$RADIOS" \
            --skip $((k * share)) --limit "$share" --duration "$STORM_S" --status-every 1 \
            >"$WORK/storm$k.json" 2>"$WORK/storm$k.err" &
        FPS+=($!)
    done
    absorbed="not within $STORM_S s"
    while [ $((SECONDS - t0)) -le $((STORM_S + 5)) ]; do # done once every device checked in
        c=0
        for k in $(seq 0 $((STORM_PROCS - 1))); do
            c=$((c + $(sed -n 's/.* check-ins \([0-9]*\),.*/\1/p' "$WORK/storm$k.err" | tail -1 | grep . || echo 0)))
        done
        [ "$c" -ge "$REG" ] && { absorbed="after $((SECONDS - t0)) s"; break; }
        sleep 1
    done
    kill -INT "${FPS[@]}" 2>/dev/null; wait "${FPS[@]}"
    sum() { jq -s "map($1) | add | . * 10 | round / 10" "$WORK"/storm*.json; }
    say "reconnect storm: airliftd SIGKILLed and restarted under $REG devices that come back at once ($STORM_PROCS simulator processes, each at most $RADIOS in session at once): every one checked in again $absorbed (wall time from the restart, polled each second); $(sum .checkins) check-ins, $(sum .session_errors) failed sessions (retried), $(sum .handshakes.failed) failed handshakes; simulator $(sum .cpu_s.total) CPU s, RSS $(( $(sum .memory.rss_peak_bytes) / 1048576 )) MiB; airliftd $(echo "scale=1; ($(cpu_ticks "$SERVER_PID") - $c0) / $TICKS" | bc) CPU s, RSS $(rss_kb "$SERVER_PID") KB"
    stop_server

    # ---- check-ins, a reconnect storm, a rollout: SIM simulated devices ----
    fresh_db sim
    start_server --coap-idle-timeout 30
    api_json POST /v1/products '{"name":"tracker","platform":10}' >/dev/null
    for f in $FACTORY; do upload "$f" >/dev/null; done
    rm -rf "$WORK/sim"
    "$FLEET" provision "$WORK/sim" --api "$AIRLIFT_SERVER" --token "$TOKEN" --count "$SIM" \
        --prefix s- --product tracker --group field >/dev/null 2>>"$WORK/provision.err"
    "$FLEET" factory "$WORK/sim" --trust "$WORK/author.pem" $FACTORY >/dev/null

    # DTLS check-ins (handshake, inventory, plan) of sleepy devices.
    n=$((SIM < 3000 ? SIM : 3000))
    c0=$(cpu_ticks "$SERVER_PID")
    "$FLEET" run "$WORK/sim" --server "127.0.0.1:$COAP" --limit "$n" --sleepy 100% --sleep 10 \
        --jitter 10 --duration 60 >"$WORK/checkins.json" 2>/dev/null
    c1=$(cpu_ticks "$SERVER_PID")
    ci=$(jq '.checkins // 0' "$WORK/checkins.json")
    cpu_s=$(echo "scale=3; ($c1 - $c0) / $TICKS" | bc)
    say "check-ins: $n sleepy devices waking every 10 s for 60 s: $ci DTLS check-ins, $(jq '.handshakes_failed // 0' "$WORK/checkins.json") failed handshakes; airliftd $cpu_s CPU s: $(echo "scale=0; $ci / ($cpu_s + 0.001)" | bc) check-ins per CPU second"

    # A rollout of one release to every simulated device, in waves.
    for f in system-part1-0.7.0 system-part2-0.7.0 system-part3-0.7.0; do upload "$WORK/$f.alim" >/dev/null; done
    app=$(upload "$WORK/app.alim")
    rel=$(for f in system-part1-0.7.0 system-part2-0.7.0 system-part3-0.7.0; do upload "$WORK/$f.alim"; done; echo "$app")
    api_json POST /v1/products/tracker/releases "{\"version\":\"2.0.0\",\"images\":$(jq -R . <<<"$rel" | jq -s -c .)}" >/dev/null
    c0=$(cpu_ticks "$SERVER_PID"); t0=$SECONDS
    "$FLEET" run "$WORK/sim" --server "127.0.0.1:$COAP" --sleepy 100% --sleep 30 --jitter 30 \
        --radios "$RADIOS" --until-updated --duration 3000 >"$WORK/rollout.json" 2>"$WORK/rollout.err" &
    FP=$!
    sleep 5
    R=$(api_json POST /v1/rollouts '{"product":"tracker","release":"2.0.0","target":{"groups":["field"]},"waves":[{"percent":1},{"percent":10},{"percent":100}],"success_percent":95}' | jq -r .id)
    wait "$FP"
    # The simulator stops once every device runs the release; the rollout's counts follow at
    # the rollout engine's next passes.
    for _ in $(seq 60); do
        [ "$(api GET "/v1/rollouts/$R" | jq -r .state)" = running ] || break
        sleep 1
    done
    c1=$(cpu_ticks "$SERVER_PID")
    ro=$(api GET "/v1/rollouts/$R")
    bytes=$(after=; while :; do
                page=$(api GET "/v1/devices?limit=1000&prefix=s-${after:+&after=$after}")
                jq -r '.devices[] | .bytes_sent + .bytes_received' <<<"$page"
                after=$(jq -r '.next // empty' <<<"$page")
                [ "$(jq '.devices | length' <<<"$page")" -eq 1000 ] && [ -n "$after" ] || break
            done | awk '{ s += $1; n++ } END { if (n) printf "%d", s / n }')
    say "rollout to $SIM devices in 3 waves: $(jq -r '.state' <<<"$ro"), $(jq -c '.counts' <<<"$ro"); $((SECONDS - t0)) s wall; airliftd $(echo "scale=1; ($c1 - $c0) / $TICKS" | bc) CPU s, RSS $(rss_kb "$SERVER_PID") KB; $bytes wire bytes per device (server's count, both ways, since registration)"
    stop_server
done

# ---- firmware bytes served per CPU second: airliftd beside libcoap's coap-server ----
# The same 120 KiB of random bytes (incompressible: sent whole) to SERVE clients at once,
# each with a DTLS handshake of its own; server CPU from /proc/PID/stat. airliftd's figure
# covers the whole update (inventory, plan, windows, install report, reboot, confirmation);
# coap-server's is a Block2 GET of the file (RFC 7959, 1024-byte blocks), nothing else.
if [ "$SERVE" -gt 0 ] && command -v coap-server-openssl >/dev/null; then
    say ""
    say "## serving: $SERVE clients, one 120 KiB image each (the Electron's application slot is 128 KiB)"
    head -c 122880 /dev/urandom >"$WORK/fw.bin"
    BACKEND=sqlite; fresh_db serve; start_server
    api_json POST /v1/products '{"name":"tracker","platform":10}' >/dev/null
    for f in $FACTORY; do upload "$f" >/dev/null; done
    "$AIRLIFT" image create --key "$WORK/author.pem" -o "$WORK/fw.alim" --function application \
        --index 1 --platform 10 --version 3.0.0 --link-address 0x08080000 "$WORK/fw.bin" >/dev/null
    fw=$(upload "$WORK/fw.alim")
    api_json POST /v1/products/tracker/releases "{\"version\":\"3.0.0\",\"images\":[\"$fw\"]}" >/dev/null
    rm -rf "$WORK/serve"
    "$FLEET" provision "$WORK/serve" --api "$AIRLIFT_SERVER" --token "$TOKEN" --count "$SERVE" \
        --prefix v- --product tracker --group serve >/dev/null 2>>"$WORK/provision.err"
    "$FLEET" factory "$WORK/serve" --trust "$WORK/author.pem" $FACTORY >/dev/null
    c0=$(cpu_ticks "$SERVER_PID"); t0=$SECONDS
    "$FLEET" run "$WORK/serve" --server "127.0.0.1:$COAP" --period 5 --until-updated \
        --duration 600 >"$WORK/serve.json" 2>/dev/null &
    FP=$!
    sleep 1
    api_json POST /v1/rollouts '{"product":"tracker","release":"3.0.0","target":{"groups":["serve"]}}' >/dev/null
    wait "$FP"
    c1=$(cpu_ticks "$SERVER_PID")
    size=$(stat -c %s "$WORK/fw.alim")
    cpu=$(echo "scale=3; ($c1 - $c0) / $TICKS" | bc)
    say "airliftd: $(jq '.updated // 0' "$WORK/serve.json") of $SERVE devices updated in $((SECONDS - t0)) s; $SERVE x $size image bytes in $cpu CPU s: $(echo "scale=0; $SERVE * $size / ($cpu + 0.001) / 1000" | bc) kB per CPU second"
    stop_server

    port=$((20000 + RANDOM % 20000))
    coap-server-openssl -A 127.0.0.1 -p "$port" -k bench-psk -d 10 -L 1 >"$WORK/coap-server.log" 2>&1 &
    CS=$!
    sleep 0.5
    coap-client-openssl -k bench-psk -u put -m put -b 1024 -f "$WORK/fw.bin" \
        "coaps://127.0.0.1:$((port + 1))/fw" >/dev/null 2>&1
    c0=$(cpu_ticks "$CS"); t0=$SECONDS
    seq "$SERVE" | xargs -P 50 -I{} sh -c "coap-client-openssl -k bench-psk -u c{} -m get -b 1024 \
        -o '$WORK/got.{}' 'coaps://127.0.0.1:$((port + 1))/fw' >/dev/null 2>&1"
    c1=$(cpu_ticks "$CS")
    ok=0; for i in $(seq "$SERVE"); do cmp -s "$WORK/fw.bin" "$WORK/got.$i" && ok=$((ok + 1)); done
    kill "$CS"; wait "$CS" 2>/dev/null
    cpu=$(echo "scale=3; ($c1 - $c0) / $TICKS" | bc)
    say "coap-server-openssl (libcoap $(dpkg-query -W -f '${Version}' libcoap3 2>/dev/null), Block2): $ok of $SERVE clients byte-exact in $((SECONDS - t0)) s; $SERVE x 122880 bytes in $cpu CPU s: $(echo "scale=0; $SERVE * 122880 / ($cpu + 0.001) / 1000" | bc) kB per CPU second"
fi

kill "$LOADER" 2>/dev/null
say ""
say "# load average (1 min) during the run, sampled every 10 s: $(sort -n "$WORK/load" | awk 'NR == 1 {lo = $1} {hi = $1; a[NR] = $1} END {printf "%s to %s, median %s", lo, hi, a[int((NR + 1) / 2)]}')"
cp "$WORK/out" "$OUT"
echo "wrote $OUT"
