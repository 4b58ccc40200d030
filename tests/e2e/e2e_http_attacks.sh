#!/usr/bin/env bash
# The HTTP API under attack, over real connections (tests/attack/http_attack.py):
#  - 1,000 slow connections (headers a byte a second) from 10 other addresses while a device
#    updates: each address gets at most 32 connections (the rest are refused at once), those
#    are cut at the 10 s header deadline, and a good client keeps getting answers throughout
#    (on the old code the 1,000 took every one of libmicrohttpd's 512 connections);
#  - request smuggling: two Content-Length headers, or Content-Length with Transfer-Encoding:
#    400 and the connection closed, the request hidden behind never answered;
#  - %2f, %2F and %00 in a path: 400 bad_path, never routed (%2f in a query is fine).
BUILD=$1
. "$(dirname "$0")/lib.sh"
ATTACK=$(dirname "$0")/../attack/http_attack.py
start_server
sign_device_os
device e1
APP=$(app app1 1.0.0 65536)

python3 "$ATTACK" slowloris "$HTTP" 1000 10 16 >"$WORK/slowloris.txt" &
SLOW_PID=$!
PIDS+=("$SLOW_PID")
sleep 2   # the slow connections are open
U=$(api_json POST /v1/devices/e1/updates "{\"images\":[\"$APP\"]}" | jq -r .id)
check "an update is queued during the slowloris" test "${U:-null}" != null
run_device e1
good=0
for _ in $(seq 8); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $TOKEN" \
        "http://127.0.0.1:$HTTP/v1/devices/e1")
    [ "$code" = 200 ] && good=$((good + 1))
    sleep 1
done
check "a good client got all its 8 answers during the slowloris ($good)" test "$good" -eq 8
out=$("$AIRLIFT" devices show e1 2>&1)
check "the CLI works during the slowloris" grep -q "e1" <<<"$out"
check "the update completes during the slowloris" wait_state "$U" succeeded
wait "$SLOW_PID"
cat "$WORK/slowloris.txt"
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" "$WORK/slowloris.txt"; }
check "at most 32 connections per address were let in ($(field cut_by_deadline) of 1000 from 10 addresses)" \
    test "$(field cut_by_deadline)" -le 320 -a "$(field refused_at_once)" -ge 680
check "the slow connections were cut at the header deadline, not before (first cut at $(field first_cut_s) s)" \
    awk -v t="$(field first_cut_s)" 'BEGIN{exit !(t >= 9.5 && t < 15)}'
check "none was left open" test "$(field open_at_end)" = 0
for _ in $(seq 40); do grep -q "headers not in within the deadline" "$WORK/airliftd.log" && break; sleep 0.5; done
check "airliftd logged the cut connections" grep -q "headers not in within the deadline" "$WORK/airliftd.log"

raw() { python3 "$ATTACK" raw "$HTTP" "$1"; }
H='Host: x\r\nAuthorization: Bearer '$TOKEN'\r\nContent-Type: application/json\r\n'
out=$(raw 'POST /v1/devices HTTP/1.1\r\n'"$H"'Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n')
check "two Content-Length headers: 400, one reply, connection closed" \
    test "$(sed -n '1p;2p;3p' <<<"$out" | tr '\n' ' ')" = "HTTP/1.1 400 Bad Request replies=1 closed "
check "... with a message that says why" grep -q '"code":"ambiguous_request","message":"ambiguous message framing: more than one Content-Length header"' <<<"$out"
out=$(raw 'POST /v1/devices HTTP/1.1\r\n'"$H"'Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n')
check "Content-Length with Transfer-Encoding: 400, one reply, connection closed" \
    test "$(sed -n '1p;2p;3p' <<<"$out" | tr '\n' ' ')" = "HTTP/1.1 400 Bad Request replies=1 closed "
check "... with a message that says why" grep -q 'both Content-Length and Transfer-Encoding' <<<"$out"
check "no device was created by a smuggled request" test "$(api GET /v1/devices | jq '.devices | length')" = 1
for p in '/v1/devices%2fe1' '/v1/devices%2Fe1' '/v1/devices/e1%00'; do
    out=$(raw "GET $p HTTP/1.1\\r\\n${H}\\r\\n")
    check "$p: 400 bad_path, connection closed" \
        test "$(sed -n '1p;3p' <<<"$out" | tr '\n' ' ')" = "HTTP/1.1 400 Bad Request closed "
    check "$p: the message names the encoded slash or NUL" grep -q '"code":"bad_path".*encoded slash (%2F) or NUL (%00)' <<<"$out"
done
out=$(raw 'GET /v1/devices/e1?x=%2f HTTP/1.1\r\n'"$H"'Connection: close\r\n\r\n')
check "%2f in a query is not refused" test "$(sed -n 1p <<<"$out")" = "HTTP/1.1 200 OK"
finish
