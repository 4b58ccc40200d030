#!/usr/bin/env bash
# seed.sh BUILD OUT_DIR: record what airliftd's real clients send (the CLI, curl with the
# bodies the e2e tests send, the simulated device over windows and Block2, libcoap's
# coap-client), through fuzz/capture.py, into OUT_DIR/{coap,http,sse}: the seeds of those
# corpora (fuzz/README.md says how they were cut down). Plain CoAP, so datagrams are readable.
BUILD=$1
OUT=$2
. "$(dirname "$0")/../tests/e2e/lib.sh"
mkdir -p "$OUT"
start_server --coap-security none
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HP=$(free_port); CP=$(free_port)
python3 "$(dirname "$0")/capture.py" "$OUT" "$HP" "$HTTP" "$CP" "$COAP" &
PIDS+=($!)
sleep 0.5
sign_device_os
APP=$(app app1 1.0.0 3000)
P=http://127.0.0.1:$HP
A() { "$AIRLIFT" --server "$P" "$@" >/dev/null 2>&1; }
J() { curl -s -o /dev/null -X "$1" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' --data "$3" "$P$2"; }

# The CLI's bodies.
A products create tracker --platform electron
A devices add truck-1
A devices add truck-2 --platform 10 --dev
A devices set truck-1 --product tracker --group north --group g2 --channel beta
A devices set truck-2 --no-product --no-groups --pin 1.0.0 --no-dev
A devices set truck-2 --no-pin --dev
A releases create tracker 1.0.0 "$APP" --channel beta --notes "first release"
A rollouts start tracker 1.0.0 --to group:north --waves 1,10%,100% --success 90 --max-failures 2 --rate 10/min --budget 100000/day --dry-run --limit 5
A rollouts start tracker 1.0.0 --to channel:beta --max-failures 5% --allow-empty --dry-run --offset 1
# The e2e tests' bodies, good and bad (e2e_hostile.sh, e2e_cli_fleet.sh, e2e_fleet.sh).
J POST /v1/devices '{"devices":[{"name":"b1","platform":10},{"name":"b2","platform":"electron","groups":["a"],"channel":"rc","product":null,"dev":false}]}'
J POST /v1/devices '{"name":"x"}'
J POST /v1/devices '{"devices":[]}'
J PATCH /v1/devices/truck-1 '{"product":"tracker","groups":["g1"]}'
J PATCH /v1/devices/truck-1 '{"channel":"beta","pinned":null,"dev":"yes"}'
J POST /v1/products '{"name":"tracker","platform":"electron"}'
J POST /v1/products '{"name":"bad name","platform":99999}'
J POST /v1/products/tracker/releases "{\"version\":\"1.0.1\",\"images\":[\"$APP\"]}"
J POST /v1/products/tracker/releases '{"version":"1.0.2","images":"x","notes":"n"}'
J POST /v1/rollouts '{"product":"tracker","release":"1.0.0","target":{"groups":["north"]},"waves":[{"percent":5},{"count":20},{"percent":100}],"error_percent":10,"dry_run":true}'
J POST /v1/rollouts '{"product":"tracker","release":"1.0.0","offset":3}'
J POST /v1/devices/truck-1/updates '{"images":'
J POST /v1/devices/truck-1/updates '{"imagez":[]}'
J POST /v1/devices/truck-1/updates '{"images":"x"}'
J POST /v1/devices/truck-1/updates '{"images":["XYZ"]}'
J POST /v1/devices/truck-1/updates "{\"images\":[\"$APP\"],\"dry_run\":true,\"replace\":false}"
J POST /v1/tokens '{"name":"ci","scope":"operator"}'
J POST /v1/tokens '{"name":"ro","scope":"read","extra":1}'

# A device through the relay: windowed, then Block2; the CLI follows its events meanwhile.
"$AIRLIFT" --server "$P" events --follow --limit 12 >/dev/null 2>&1 &
FOLLOW=$!
PIDS+=($FOLLOW)
for mode in window block2; do
    name=dev-$mode
    reg=$(api_json POST /v1/devices "{\"name\":\"$name\",\"platform\":10}")
    "$DEVICE" create "$WORK/$name" --trust "$WORK/author.pub.pem" >/dev/null
    "$DEVICE" factory "$WORK/$name" "$WORK/bootloader-2.3.0.alim" "$WORK/system-part1-0.6.4.alim" \
        "$WORK/system-part2-0.6.4.alim" "$WORK/system-part3-0.6.4.alim" >/dev/null
    "$DEVICE" provision "$WORK/$name" --server "127.0.0.1:$CP" --insecure \
        --identity "$(jq -r .identity <<<"$reg")" --psk "$(jq -r .psk <<<"$reg")" >/dev/null
    api_json POST "/v1/devices/$name/updates" "{\"images\":[\"$APP\"]}" >/dev/null
    flags=(); [ $mode = block2 ] && flags=(--block2)
    timeout 60 "$DEVICE" run "$WORK/$name" --until-idle --retry-ms 200 "${flags[@]}" >/dev/null 2>&1
done
ID=$(api GET /v1/devices/dev-window | jq -r .identity)
for uri in "f/1/0?id=$ID" "f/x/../../etc?id=$ID" "w/1/0?id=$ID&o=0&n=4&c=256&m=5" "w/4294967295/255?o=1&n=0&c=1"; do
    timeout 5 coap-client-notls -B 2 -m get "coap://127.0.0.1:$CP/$uri" >/dev/null 2>&1
done
timeout 5 coap-client-notls -B 2 -m post -e garbage "coap://127.0.0.1:$CP/i?id=$ID" >/dev/null 2>&1
sleep 1
ls "$OUT"/* | head -0
for d in coap http sse; do echo "$d: $(ls "$OUT/$d" 2>/dev/null | wc -l) messages"; done
