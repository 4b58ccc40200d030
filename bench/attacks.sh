#!/usr/bin/env bash
# attacks.sh BUILD: a good device's update against one airliftd, without and with each
# attack of tests/attack/ (real datagrams and connections on 127.0.0.1): 2 x 10,000 DTLS
# ClientHellos from random source ports, none returning its cookie; 1,000 slow HTTP
# connections from 10 addresses (headers a byte a second), with the API's answer time to a
# good client; the smuggling attempts. Prints the figures and writes them to
# bench/results/attacks.txt. The issue's bar: each update within 2x of the one without.
BUILD=${1:?usage: attacks.sh BUILD}
RESULTS=$(cd "$(dirname "$0")" && pwd)/results/attacks.txt
ATTACK=$(cd "$(dirname "$0")/../tests/attack" && pwd)
. "$(dirname "$0")/../tests/e2e/lib.sh"
start_server --log-level warn
sign_device_os
APP=$(app app1 1.0.0 65536)
for d in base flood slow; do device "$d"; done
update_s() { # update_s DEVICE: seconds from queueing an update to its success
    local t0 u
    t0=$(date +%s.%N)
    u=$(api_json POST "/v1/devices/$1/updates" "{\"images\":[\"$APP\"]}" | jq -r .id)
    run_device "$1"
    wait_state "$u" succeeded >/dev/null || echo "update of $1 did not succeed" >&2
    awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b - a}'
    kill "$DEVICE_PID" 2>/dev/null
}
api_ms() { # the median of 9 answer times of GET /v1/devices/base, in ms
    for _ in $(seq 9); do
        curl -s -o /dev/null -w '%{time_total}\n' --max-time 10 \
            -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$HTTP/v1/devices/base"
        sleep 0.3
    done | sort -n | sed -n 5p | awk '{printf "%.1f", $1 * 1000}'
}
base=$(update_s base)
base_api=$(api_ms)
python3 "$ATTACK/dtls_flood.py" 127.0.0.1 "$COAP" 10000 >"$WORK/flood1.txt" &
FLOOD=$!
sleep 0.2
flood=$(update_s flood)
python3 "$ATTACK/dtls_flood.py" 127.0.0.1 "$COAP" 10000 >"$WORK/flood2.txt"
wait "$FLOOD"
python3 "$ATTACK/http_attack.py" slowloris "$HTTP" 1000 10 13 >"$WORK/slowloris.txt" &
SLOW=$!
sleep 2
slow=$(update_s slow)
slow_api=$(api_ms)
wait "$SLOW"
H='Host: x\r\nAuthorization: Bearer '$TOKEN'\r\nContent-Type: application/json\r\n'
cl2=$(python3 "$ATTACK/http_attack.py" raw "$HTTP" 'POST /v1/devices HTTP/1.1\r\n'"$H"'Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n' | sed -n '1p;3p' | tr '\n' ' ')
clte=$(python3 "$ATTACK/http_attack.py" raw "$HTTP" 'POST /v1/devices HTTP/1.1\r\n'"$H"'Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n' | sed -n '1p;3p' | tr '\n' ' ')
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a / b}'; }
{
    echo "# bench/attacks.sh, $(date -u +%Y-%m-%d), $(nproc) cores; a 65,536-byte application update"
    echo "# of one simulated device over CoAP/DTLS on 127.0.0.1, from queueing to succeeded"
    echo
    echo "no attack:               update ${base} s; API answer (median of 9) ${base_api} ms"
    echo "DTLS ClientHello flood:  update ${flood} s ($(ratio "$flood" "$base")x)"
    echo "                         $(cat "$WORK/flood1.txt")"
    echo "                         $(cat "$WORK/flood2.txt")"
    echo "slowloris (1,000 conns): update ${slow} s ($(ratio "$slow" "$base")x); API answer ${slow_api} ms"
    echo "                         $(cat "$WORK/slowloris.txt")"
    echo "smuggling, 2 x Content-Length:         $cl2"
    echo "smuggling, Content-Length + chunked:   $clte"
} | tee "$RESULTS"
