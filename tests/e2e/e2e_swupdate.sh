#!/usr/bin/env bash
# issue 14 item 6: Debian's swupdate (its hawkBit client suricatta) updates from airliftd's
# DDI API (docs/ddi.md). A signed .swu (a CMS-signed sw-description, cpio -H crc, a rawfile
# to a temporary path) is uploaded as an image of kind swu; swupdate polls with its target
# token, downloads, installs, and after its restart with -c 2 the update is succeeded. A .swu
# for other hardware ends failed with swupdate's reason. .swu files and airlift images do not
# mix (422). A rollout in two waves to three swupdate clients pauses itself when the second
# wave fails. Bytes are counted, events written, as for any device. Range, cancel, configData,
# the tokens, and an airliftd with TLS that swupdate installs from.
BUILD=$1
. "$(dirname "$0")/lib.sh"
command -v swupdate >/dev/null || { echo "swupdate is not installed (scripts/deps.sh)"; exit 1; }

# Every swupdate runs in a session of its own (setsid): it forks its suricatta and
# downloader, and the whole group is stopped with it.
SW_GROUPS=()
stop_swupdates() { for g in "${SW_GROUPS[@]}"; do kill -9 -- "-$g" 2>/dev/null; done; }
trap 'stop_swupdates; cleanup' EXIT

start_server --ddi-poll-interval 1 --ddi-gateway-token gw-secret-1
BASE=http://127.0.0.1:$HTTP

# ---- a signing certificate and .swu files ----
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/swu-key.pem" -out "$WORK/swu-cert.pem" \
    -subj "/CN=airlift swu test" -days 2 -addext "keyUsage=digitalSignature" \
    -addext "extendedKeyUsage=emailProtection" 2>/dev/null
# make_swu NAME VERSION HWREV: $WORK/NAME.swu, for hardware revision HWREV, whose rawfile
# handler writes 4 KiB of random bytes to $WORK/out/NAME.bin
make_swu() {
    local name=$1 version=$2 hw=$3 d=$WORK/swu-$1 sha
    mkdir -p "$d" "$WORK/out"
    head -c 4096 /dev/urandom >"$d/payload.bin"
    sha=$(sha256sum "$d/payload.bin" | cut -d' ' -f1)
    cat >"$d/sw-description" <<EOF
software = {
  version = "$version";
  hardware-compatibility = [ "$hw" ];
  files: (
    {
      filename = "payload.bin";
      path = "$WORK/out/$name.bin";
      sha256 = "$sha";
    }
  );
};
EOF
    openssl cms -sign -in "$d/sw-description" -out "$d/sw-description.sig" -signer \
        "$WORK/swu-cert.pem" -inkey "$WORK/swu-key.pem" -outform DER -nosmimecap -binary
    (cd "$d" && printf 'sw-description\nsw-description.sig\npayload.bin\n' |
        cpio -o -H crc 2>/dev/null) >"$WORK/$name.swu"
}
# linux_device NAME [PRODUCT]: registers it; its target token (the PSK) in $WORK/NAME.token
linux_device() {
    local body="{\"name\":\"$1\",\"platform\":\"linux\"${2:+,\"product\":\"$2\"}}"
    api_json POST /v1/devices "$body" | jq -r .psk >"$WORK/$1.token"
}
# run_sw NAME HWREV [suricatta flags...]: swupdate as NAME's suricatta client, in the
# background; sets SW_PID (its session and process group)
run_sw() {
    local name=$1 hw=$2; shift 2
    mkdir -p "$WORK/sw-$name"
    TMPDIR=$WORK/sw-$name setsid swupdate -v -k "$WORK/swu-cert.pem" -H "board:$hw" \
        -u "-t default -u $BASE -i $name -k $(cat "$WORK/$name.token") -p 1 -r 2 -w 1 $*" \
        >>"$WORK/sw-$name.log" 2>&1 &
    SW_PID=$!
    SW_GROUPS+=("$SW_PID")
}
stop_sw() { kill -9 -- "-$1" 2>/dev/null; wait "$1" 2>/dev/null; }

make_swu good 1.1.0 1.0
make_swu other 1.2.0 9.9
make_swu rollout 2.0.0 1.0

# ---- .swu images ----
img=$(api POST /v1/images -H 'Content-Type: application/octet-stream' --data-binary @"$WORK/good.swu")
GOOD=$(jq -r .id <<<"$img")
check "a .swu upload is an image of kind swu" test "$(jq -r '.kind + " " + .version' <<<"$img")" = "swu 1.1.0"
check "its id is the file's SHA-256" test "$GOOD" = "$(sha256sum "$WORK/good.swu" | cut -d' ' -f1)"
OTHER=$(api POST /v1/images -H 'Content-Type: application/octet-stream' --data-binary @"$WORK/other.swu" | jq -r .id)
ROLL=$(sha256sum "$WORK/rollout.swu" | cut -d' ' -f1)
out=$("$AIRLIFT" image upload "$WORK/rollout.swu")
check "airlift image upload takes a .swu: $out" test "$out" = "uploaded $ROLL  swu 2.0.0  ($WORK/rollout.swu)"
check "  and lists it as one" grep -q "^$ROLL  swu " <<<"$("$AIRLIFT" image list)"
check "images are listed with their kind" \
    test "$(api GET /v1/images | jq -r '[.images[] | select(.kind == "swu")] | length')" = 3
head -c 300 "$WORK/good.swu" >"$WORK/cut.swu"
r=$(api POST /v1/images -H 'Content-Type: application/octet-stream' --data-binary @"$WORK/cut.swu" -w '\n%{http_code}')
check "a truncated .swu is refused: 400 bad_swu" test "$(tail -1 <<<"$r") $(head -1 <<<"$r" | jq -r .error.reason)" = "400 bad_swu"

# ---- mixing kinds: 422 ----
sign_device_os
api_json POST /v1/devices '{"name":"mcu1","platform":10}' >/dev/null
APP=$(app app1 1.0.0 2000)
linux_device gw1
r=$(api POST /v1/devices/mcu1/updates -H 'Content-Type: application/json' --data "{\"images\":[\"$GOOD\"]}" -w '\n%{http_code}')
check "a .swu for a microcontroller: 422 wrong_kind" test "$(tail -1 <<<"$r") $(head -1 <<<"$r" | jq -r .error.code)" = "422 wrong_kind"
check "  saying why: $(head -1 <<<"$r" | jq -r .error.message)" grep -q "is a .swu file, for devices of platform linux" <<<"$r"
r=$(api POST /v1/devices/gw1/updates -H 'Content-Type: application/json' --data "{\"images\":[\"$APP\"]}" -w '\n%{http_code}')
check "an airlift image for a linux device: 422 wrong_kind" test "$(tail -1 <<<"$r") $(head -1 <<<"$r" | jq -r .error.code)" = "422 wrong_kind"
api_json POST /v1/products '{"name":"brick","platform":10}' >/dev/null
r=$(api POST /v1/products/brick/releases -H 'Content-Type: application/json' --data "{\"version\":\"1.0.0\",\"images\":[\"$GOOD\"]}" -w '\n%{http_code}')
check "a .swu in a microcontroller product's release: 422 wrong_kind" test "$(tail -1 <<<"$r") $(head -1 <<<"$r" | jq -r .error.code)" = "422 wrong_kind"

# ---- DDI authentication ----
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
check "a poll without a token: 401" test "$(code "$BASE/default/controller/v1/gw1")" = 401
check "a poll with a wrong target token: 401" \
    test "$(code -H "Authorization: TargetToken 00" "$BASE/default/controller/v1/gw1")" = 401
check "a poll with the gateway token: 200" \
    test "$(code -H "Authorization: GatewayToken gw-secret-1" "$BASE/default/controller/v1/gw1")" = 200
check "another tenant: 404" test "$(code -H "Authorization: TargetToken $(cat "$WORK/gw1.token")" \
    "$BASE/other/controller/v1/gw1")" = 404
check "a microcontroller is no DDI target: 404" \
    test "$(code -H "Authorization: GatewayToken gw-secret-1" "$BASE/default/controller/v1/mcu1")" = 404
check "a poll whose Host header is not host[:port]: 400, saying so" \
    test "$(curl -s -H "Authorization: GatewayToken gw-secret-1" -H 'Host: a/b' \
            "$BASE/default/controller/v1/gw1" | jq -r .error.message)" = \
         "the Host header is missing or not host[:port]"

# ---- one update: poll, download, install, restart with -c 2 ----
U=$(api_json POST /v1/devices/gw1/updates "{\"images\":[\"$GOOD\"]}" | jq -r .id)
poll=$(curl -s -H "Authorization: TargetToken $(cat "$WORK/gw1.token")" "$BASE/default/controller/v1/gw1")
check "the poll links the deployment" test "$(jq -r ._links.deploymentBase.href <<<"$poll")" = "$BASE/default/controller/v1/gw1/deploymentBase/$U"
check "  and says how long to sleep" test "$(jq -r .config.polling.sleep <<<"$poll")" = 00:00:01
run_sw gw1 1.0
check "swupdate downloads and installs it" wait_state "$U" installing
check "the file is installed" cmp -s "$WORK/out/good.bin" "$WORK/swu-good/payload.bin"
stop_sw "$SW_PID"
run_sw gw1 1.0 -c 2
check "after its restart with -c 2 the update is succeeded" wait_state "$U" succeeded
u=$(api GET "/v1/updates/$U")
check "  bytes to the device are counted (at least the .swu)" test "$(jq -r .bytes_sent <<<"$u")" -ge "$(stat -c %s "$WORK/good.swu")"
check "  with no why left" test "$(jq -r .why <<<"$u")" = null
check "  the device reports the .swu it runs" test "$(api GET /v1/devices/gw1 | jq -r .inventory.swu.version)" = 1.1.0
check "  events: queued, downloading, installing, succeeded" test "$(api GET "/v1/events?update=$U" | jq -r '[.events[].type] | join(" ")')" = \
    "update.queued update.downloading update.installing update.succeeded"
check "  those of the device name it as their actor" test "$(api GET "/v1/events?update=$U" | jq -r '[.events[1:][].actor] | unique | join(" ")')" = device
stop_sw "$SW_PID"

# ---- Range ----
TOK=$(cat "$WORK/gw1.token")
ART=$BASE/default/controller/v1/gw1/softwaremodules/$U/artifacts/$GOOD.swu
curl -s -H "Authorization: TargetToken $TOK" -r 100-199 -o "$WORK/range.bin" -D "$WORK/range.hdr" "$ART"
check "an artifact range: 206 with the exact bytes" cmp -s "$WORK/range.bin" <(tail -c +101 "$WORK/good.swu" | head -c 100)
check "  and its Content-Range" grep -qi "^content-range: bytes 100-199/$(stat -c %s "$WORK/good.swu")" "$WORK/range.hdr"
check "a range past the end: 416" test "$(code -H "Authorization: TargetToken $TOK" -r 999999- "$ART")" = 416

# ---- a .swu for other hardware ----
linux_device gw2
U2=$(api_json POST /v1/devices/gw2/updates "{\"images\":[\"$OTHER\"]}" | jq -r .id)
run_sw gw2 1.0
check "a .swu for other hardware ends failed" wait_state "$U2" failed
why=$(api GET "/v1/updates/$U2" | jq -r .why)
check "  with swupdate's reason: $why" grep -q "SW not compatible with hardware" <<<"$why"
check "  and nothing is installed" test ! -e "$WORK/out/other.bin"
stop_sw "$SW_PID"

# ---- cancel ----
U3=$(api_json POST /v1/devices/gw2/updates "{\"images\":[\"$GOOD\"]}" | jq -r .id)
TOK2=$(cat "$WORK/gw2.token")
curl -s -o /dev/null -H "Authorization: TargetToken $TOK2" "$BASE/default/controller/v1/gw2/deploymentBase/$U3"
api POST "/v1/updates/$U3/cancel" >/dev/null
poll=$(curl -s -H "Authorization: TargetToken $TOK2" "$BASE/default/controller/v1/gw2")
check "a cancelled update the device saw is a cancelAction" \
    test "$(jq -r ._links.cancelAction.href <<<"$poll")" = "$BASE/default/controller/v1/gw2/cancelAction/$U3"
check "  whose stopId is the action" test "$(curl -s -H "Authorization: TargetToken $TOK2" \
    "$BASE/default/controller/v1/gw2/cancelAction/$U3" | jq -r .cancelAction.stopId)" = "$U3"
fb='{"id":"'$U3'","status":{"execution":"closed","result":{"finished":"success"},"details":["ok"]}}'
check "  its feedback: 200" test "$(code -X POST -H "Authorization: TargetToken $TOK2" -H 'Content-Type: application/json' \
    --data "$fb" "$BASE/default/controller/v1/gw2/cancelAction/$U3/feedback")" = 200
check "  and the poll no longer shows it" test "$(curl -s -H "Authorization: TargetToken $TOK2" \
    "$BASE/default/controller/v1/gw2" | jq -r '._links.cancelAction // "none"')" = none
r=$(curl -s -X POST -H "Authorization: TargetToken $TOK2" -H 'Content-Type: application/json' \
    --data '{"status":{"execution":"sideways"}}' -w '\n%{http_code}' "$BASE/default/controller/v1/gw2/deploymentBase/$U3/feedback")
check "a feedback with a wrong execution: 400 naming it" test "$(tail -1 <<<"$r")" = 400
check "  $(head -1 <<<"$r" | jq -r .error.message)" grep -q "status.execution" <<<"$r"

# ---- configData ----
cd_body='{"mode":"merge","data":{"hwRevision":"1.0","serial":"A-17"}}'
check "configData PUT: 200" test "$(code -X PUT -H "Authorization: TargetToken $TOK2" -H 'Content-Type: application/json' \
    --data "$cd_body" "$BASE/default/controller/v1/gw2/configData")" = 200
check "  kept as the device's attributes" test "$(api GET /v1/devices/gw2 | jq -r .inventory.attributes.serial)" = A-17

# ---- a rollout in two waves to three swupdate clients ----
api_json POST /v1/products '{"name":"gateway","platform":"linux"}' >/dev/null
for n in gwa gwb gwc; do linux_device "$n" gateway; done
r=$(api POST /v1/products/gateway/releases -H 'Content-Type: application/json' \
    --data "{\"version\":\"2.0.0\",\"images\":[\"$ROLL\",\"$GOOD\"]}" -w '\n%{http_code}')
check "a linux product's release holds one .swu: 400" test "$(tail -1 <<<"$r")" = 400
check "  $(head -1 <<<"$r" | jq -r .error.message)" grep -q "exactly one .swu image" <<<"$r"
api_json POST /v1/products/gateway/releases "{\"version\":\"2.0.0\",\"images\":[\"$ROLL\"]}" >/dev/null
run_sw gwa 1.0; PA=$SW_PID
run_sw gwb 2.0; PB=$SW_PID   # the other hardware: the .swu is not for it
run_sw gwc 2.0; PC=$SW_PID
R=$(api_json POST /v1/rollouts '{"product":"gateway","release":"2.0.0","waves":[{"count":1},{"percent":100}],"error_count":1}' | jq -r .id)
# eventually CMD...: until CMD succeeds, for 2 minutes at most
eventually() {
    local end=$((SECONDS + 120))
    until "$@"; do [ $SECONDS -lt $end ] || return 1; sleep 0.2; done
}
rollout_is() { [ "$(api GET "/v1/rollouts/$1" | jq -r .state)" = "$2" ]; }
ua() { api GET /v1/devices/gwa/updates | jq -r '.updates[0].id // empty'; }
has_update() { [ -n "$(ua)" ]; }
eventually has_update
UA=$(ua)
check "wave 1 (gwa) installs" wait_state "$UA" installing
check "  wave 2 waits meanwhile" test "$(api GET /v1/devices/gwb | jq -r .update)" = null
stop_sw "$PA"
run_sw gwa 1.0 -c 2
check "  and succeeds after gwa's restart" wait_state "$UA" succeeded
check "the rollout pauses itself when wave 2 fails" eventually rollout_is "$R" paused
ro=$(api GET "/v1/rollouts/$R")
check "  why: $(jq -r .why <<<"$ro")" test -n "$(jq -r '.why // empty' <<<"$ro")"
check "  gwa succeeded, a wave 2 device failed" \
    test "$(jq -r '[.counts.succeeded, (.counts.failed >= 1)] | @text' <<<"$ro")" = '[1,true]'
# ---- over TLS: a second airliftd with --tls-cert; swupdate -x (a self-signed certificate).
# It keeps its own SQLite store (the real binary, not lib.sh's --store wrapper): on one
# PostgreSQL database with the first it would find an admin and write no token for us. ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/tls.key" \
    -out "$WORK/tls.pem" -days 2 -subj /CN=airliftd -addext subjectAltName=IP:127.0.0.1 2>/dev/null
"$BUILD/server/airliftd" --data-dir "$WORK/data-tls" --http-listen 127.0.0.1:0 --coap-listen 127.0.0.1:0 \
    --port-file "$WORK/port-tls" --admin-token-file "$WORK/admin-token-tls" --ddi-poll-interval 1 \
    --tls-cert "$WORK/tls.pem" --tls-key "$WORK/tls.key" >>"$WORK/airliftd-tls.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 100); do [ -s "$WORK/port-tls" ] && break; sleep 0.05; done
TLS_BASE=https://127.0.0.1:$(sed -n 1p "$WORK/port-tls")
tapi() { curl -sk -H "Authorization: Bearer $(cat "$WORK/admin-token-tls")" "$@"; }
tapi -H 'Content-Type: application/octet-stream' --data-binary @"$WORK/good.swu" "$TLS_BASE/v1/images" >/dev/null
tapi -H 'Content-Type: application/json' --data '{"name":"gwt","platform":"linux"}' \
    "$TLS_BASE/v1/devices" | jq -r .psk >"$WORK/gwt.token"
UT=$(tapi -H 'Content-Type: application/json' --data "{\"images\":[\"$GOOD\"]}" \
    "$TLS_BASE/v1/devices/gwt/updates" | jq -r .id)
dep=$(curl -sk -H "Authorization: TargetToken $(cat "$WORK/gwt.token")" "$TLS_BASE/default/controller/v1/gwt/deploymentBase/$UT")
check "over TLS the artifact link is https (_links.download)" \
    test "$(jq -r '.deployment.chunks[0].artifacts[0]._links.download.href' <<<"$dep")" = \
    "$TLS_BASE/default/controller/v1/gwt/softwaremodules/$UT/artifacts/$GOOD.swu"
rm -f "$WORK/out/good.bin"
BASE=$TLS_BASE run_sw gwt 1.0 -x
tstate() { [ "$(tapi "$TLS_BASE/v1/updates/$UT" | jq -r .state)" = "$1" ]; }
check "  and swupdate installs from it" eventually tstate installing
check "  the file is installed" cmp -s "$WORK/out/good.bin" "$WORK/swu-good/payload.bin"
stop_sw "$SW_PID"

whys=$(for n in gwb gwc; do api GET "/v1/devices/$n/updates" | jq -r '.updates[0].why // ""'; done)
check "  with swupdate's reason" grep -q "SW not compatible with hardware" <<<"$whys"
stop_sw "$PB"; stop_sw "$PC"
finish
