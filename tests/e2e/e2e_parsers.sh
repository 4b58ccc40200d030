#!/usr/bin/env bash
# Issue 14, item 7: what fuzzing the parsers found (fuzz/README.md), each against the real
# processes. A JSON body airliftd cannot parse gets its 400 also when the bytes near the
# error are not UTF-8, and an unknown field is named also when its name is cut inside a
# UTF-8 character (the reply used to be dropped, the connection closed without an answer);
# a plain-CoAP id= with a NUL names no device (it used to name the device before the NUL);
# an inventory whose reason (the device's own text) is not UTF-8 is recorded (it used to get
# 5.00 on every check-in: the device could never be recorded);
# the CLI refuses an event stream holding a NUL byte by name.
BUILD=$1
. "$(dirname "$0")/lib.sh"
start_server
H=http://127.0.0.1:$HTTP
post() { # post PATH BODY_FILE: the status (000: no answer), body in $WORK/body
    curl -s -o "$WORK/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" \
        -H 'Content-Type: application/json' --data-binary @"$2" "$H$1"
}

printf '{"name":"\\\xdc\xa2"}' >"$WORK/bad-escape.json"
check "a bad escape before a byte that is not UTF-8: 400 bad_json" \
    test "$(post /v1/devices "$WORK/bad-escape.json")" = 400 -a "$(jq -r .error.code "$WORK/body")" = bad_json
check "... its message shows the byte as \\xdc" grep -qF 'invalid escape near '"'"'\"\\\\xdc' "$WORK/body"

printf '{"name":"d1","platform":10,"%s\xc3\xa9":1}' "$(printf 'k%.0s' $(seq 63))" >"$WORK/long-field.json"
check "an unknown field cut inside a UTF-8 character: 400 bad_request" \
    test "$(post /v1/devices "$WORK/long-field.json")" = 400 -a "$(jq -r .error.code "$WORK/body")" = bad_request
check "... naming its first 63 bytes" \
    test "$(jq -r .error.message "$WORK/body")" = "unknown field '$(printf 'k%.0s' $(seq 63))'"
printf '{"%s\xc3\xa9":1}' "$(printf 'k%.0s' $(seq 63))" >"$WORK/long-field-patch.json"
ID=$(api_json POST /v1/devices '{"name":"d1","platform":10}' | jq -r .identity)
check "the same in a product: 400 bad_request" \
    test "$(post /v1/products "$WORK/long-field-patch.json")" = 400 -a "$(jq -r .error.code "$WORK/body")" = bad_request
check "the server still answers" test "$(curl -s "$H/v1/health" | jq -r .status)" = ok

# The CLI against a server that sends a NUL byte in its event stream.
FAKE_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 - "$FAKE_PORT" <<'PY' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        self.wfile.write(b'id: 1\nevent: device.\x00created\ndata: {"id":1}\n\n')
        self.wfile.flush()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
PIDS+=($!)
for _ in $(seq 50); do (: >/dev/tcp/127.0.0.1/"$FAKE_PORT") 2>/dev/null && break; sleep 0.1; done
"$AIRLIFT" --server "http://127.0.0.1:$FAKE_PORT" events --follow >"$WORK/out" 2>&1; rc=$?
check "a NUL in the event stream: exit 6" test $rc -eq 6
check "... named" grep -qF "the event stream from http://127.0.0.1:$FAKE_PORT holds a NUL byte: it is not airliftd's" "$WORK/out"

# Plain CoAP (development): an id= with a NUL in it names no device.
WORK_MAIN=$WORK; WORK=$WORK/plain; mkdir -p "$WORK"
start_server --coap-security none --store "sqlite:$WORK/airlift.db"
ID=$(api_json POST /v1/devices '{"name":"p1","platform":10}' | jq -r .identity)
cc() { coap-client-notls -B 3 "$@" 2>&1; }
check "plain CoAP: id=ID is the device (garbage inventory: 4.00)" grep -q "4.00" <<<"$(cc -m post -e garbage "coap://127.0.0.1:$COAP/i?id=$ID")"
check "plain CoAP: id=ID%00x is no device (4.01)" grep -q "4.01" <<<"$(cc -m post -e garbage "coap://127.0.0.1:$COAP/i?id=$ID%00x")"
# An inventory (docs/protocol.md: 20 bytes, then the reason, no modules) whose reason is
# not UTF-8: recorded with '?' for those bytes, and answered with a plan.
printf '\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x06\xff\xfeok\xed\xa0' >"$WORK/inventory"
cc -m post -f "$WORK/inventory" "coap://127.0.0.1:$COAP/i?id=$ID" | tr -d '\0' >"$WORK/cc.out"
check "plain CoAP: an inventory whose reason is not UTF-8 is answered, not 5.00" \
    test "$(grep -c '[45]\.[0-9][0-9]' "$WORK/cc.out")" -eq 0
check "... and is kept, those bytes as '?'" test "$(api GET /v1/devices/p1 | jq -r .inventory.reason)" = "??ok??"
WORK=$WORK_MAIN
finish
