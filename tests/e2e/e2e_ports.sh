#!/usr/bin/env bash
# One owner per port: a second airliftd (its own data directory) on the CoAP or HTTP address
# of a running one, or on a UDP port any socket holds (with SO_REUSEADDR or without), refuses
# to start with exit 4 and a message naming the address, and creates no admin token (none
# written, none printed: its next start on free ports is its first). The running airliftd's
# CoAP socket cannot be shared afterwards either. On the old code the second airliftd started
# on the same CoAP port without complaint (libcoap binds with SO_REUSEADDR) and took the
# devices' traffic.
BUILD=$1
. "$(dirname "$0")/lib.sh"
start_server
second() { # second NAME [flags...]: airliftd on data dir NAME; sets RC, OUT
    local name=$1; shift
    OUT=$("$AIRLIFTD" --data-dir "$WORK/$name" --admin-token-file "$WORK/$name.token" "$@" 2>&1)
    RC=$?
}
second b --coap-listen "127.0.0.1:$COAP" --http-listen 127.0.0.1:0
check "a second airliftd on the CoAP port exits 4 ($RC)" test "$RC" = 4
check "... saying the address is in use" \
    grep -q "cannot start the device endpoint.*cannot listen on 127.0.0.1:$COAP (udp): the address is already in use" <<<"$OUT"
check "... without creating an admin token" test ! -e "$WORK/b.token"
check "... or printing one" bash -c '! grep -q "admin token" <<<"$1"' _ "$OUT"
second b --coap-listen 127.0.0.1:0 --http-listen "127.0.0.1:$HTTP"
check "a second airliftd on the HTTP port exits 4 ($RC)" test "$RC" = 4
check "... naming the address" grep -q "cannot start the HTTP API.*127.0.0.1:$HTTP" <<<"$OUT"
check "... without creating an admin token" test ! -e "$WORK/b.token"
for reuse in 0 1; do
    python3 - "$reuse" >"$WORK/holder.port" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if sys.argv[1] == "1":
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
time.sleep(20)
PY
    HOLDER=$!
    PIDS+=("$HOLDER")
    for _ in $(seq 50); do [ -s "$WORK/holder.port" ] && break; sleep 0.1; done
    port=$(cat "$WORK/holder.port")
    second c --coap-listen "127.0.0.1:$port" --http-listen 127.0.0.1:0
    check "a plain UDP socket (SO_REUSEADDR=$reuse) on the CoAP port: exit 4 ($RC)" test "$RC" = 4
    check "... saying the address is in use" grep -q "127.0.0.1:$port (udp): the address is already in use" <<<"$OUT"
    kill "$HOLDER"; wait "$HOLDER" 2>/dev/null
done
check "no admin token for the failed starts" test ! -e "$WORK/c.token"
if [ -n "${AIRLIFT_TEST_STORE_URL:-}" ]; then # every airliftd here shares the one database
    check "the failed starts added no token to the shared database" \
        test "$(api GET /v1/tokens | jq '.tokens | length')" = 1
fi
bound=$(python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1]))); print("bound")
except OSError as e:
    print("refused:", e.strerror)' "$COAP")
check "the running airliftd's CoAP port cannot be shared, even with SO_REUSEADDR ($bound)" \
    grep -q "refused: Address already in use" <<<"$bound"
"$AIRLIFTD" --data-dir "$WORK/b" --admin-token-file "$WORK/b.token" --coap-listen 127.0.0.1:0 \
    --http-listen 127.0.0.1:0 --port-file "$WORK/b.port" >"$WORK/b.out" 2>&1 &
B=$!
PIDS+=("$B")
for _ in $(seq 100); do [ -s "$WORK/b.port" ] && break; sleep 0.05; done
if [ -z "${AIRLIFT_TEST_STORE_URL:-}" ]; then # its own SQLite store: it starts afresh
    check "on free ports it starts, and this is its first start (it prints the admin token)" \
        grep -q "first start: admin token" "$WORK/b.out"
fi
kill "$B"; wait "$B" 2>/dev/null
finish
