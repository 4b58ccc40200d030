#!/usr/bin/env bash
# Issue 14 (rpk): devices that authenticate with a raw public key (RFC 7250) on libcoap's
# GnuTLS flavour: created with `"credential": {"kind": "rpk", "public_key": PEM}` (the
# fingerprint is the SHA-256 of the DER SubjectPublicKeyInfo) or `airlift devices add NAME
# --pubkey FILE`; such a device updates like a PSK device, pinning the server's own raw
# public key (the SubjectPublicKeyInfo of its --coap-key); an unknown key and a disabled
# device are refused at the handshake (counted and logged) while another device completes;
# a removed device is refused too, and a device pinning another server key will not talk to
# this one; bad keys are refused by the API and the CLI naming what is wrong.
#
# Keys are made here with openssl (never committed):
#   openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out dev.key
#   openssl pkey -in dev.key -pubout -out dev.pub
BUILD=$1
. "$(dirname "$0")/lib.sh"
PKI=$WORK/pki
mkdir -p "$PKI"
ossl() { openssl "$@" 2>>"$PKI/openssl.log"; }
key() { # key NAME: an EC P-256 key NAME.key and its public key NAME.pub
    ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/$1.key"
    ossl pkey -in "$PKI/$1.key" -pubout -out "$PKI/$1.pub"
}
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=devca \
    -keyout "$PKI/devca.key" -out "$PKI/devca.pem" -days 2 >/dev/null
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=server \
    -keyout "$PKI/server.key" -out "$PKI/server.pem" -days 2 >/dev/null
ossl pkey -in "$PKI/server.key" -pubout -out "$PKI/server.pub"
for n in r1 r2 r3 r4 r5 stranger; do key "$n"; done
ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:secp521r1 -out "$PKI/p521.key"
ossl pkey -in "$PKI/p521.key" -pubout -out "$PKI/p521.pub"
check "test keys made (openssl)" test -s "$PKI/r1.pub" -a -s "$PKI/server.pub"
start_server --device-ca "$PKI/devca.pem" --coap-cert "$PKI/server.pem" --coap-key "$PKI/server.key"
sign_device_os
APP=$(app app1 1.0.0 40000)

# rdevice NAME [KEYNAME]: register NAME with KEYNAME's public key (default NAME's), make its
# flash, provision it with that key pair and the server's public key (pinned).
rdevice() {
    local name=$1 k=${2:-$1} body
    body=$(jq -n --arg n "$name" --rawfile pem "$PKI/$k.pub" \
        '{name: $n, platform: 10, credential: {kind: "rpk", public_key: $pem}}')
    REG=$(api_json POST /v1/devices "$body")
    "$DEVICE" create "$WORK/$name" --trust "$WORK/author.pub.pem" >/dev/null
    "$DEVICE" factory "$WORK/$name" "$WORK/bootloader-2.3.0.alim" "$WORK/system-part1-0.6.4.alim" \
        "$WORK/system-part2-0.6.4.alim" "$WORK/system-part3-0.6.4.alim" >/dev/null
    "$DEVICE" provision "$WORK/$name" --server "127.0.0.1:$COAP" --pubkey "$PKI/$k.pub" \
        --key "$PKI/$k.key" --server-pubkey "$PKI/server.pub" >/dev/null
}
metric() { # metric REASON: airlift_dtls_handshake_failures_total{reason="REASON"}
    api GET /metrics | sed -n "s/^airlift_dtls_handshake_failures_total{reason=\"$1\"} //p"
}

# ---- a raw public key device updates like a PSK device ----
rdevice r1
fp=$(openssl pkey -pubin -in "$PKI/r1.pub" -outform DER | sha256sum | cut -d' ' -f1)
check "created with its credential: kind rpk, the key's fingerprint, no PSK" \
    test "$(jq -r '[.credential.kind, .credential.fingerprint, .identity, (.psk // "none")] | join(" ")' <<<"$REG")" \
    = "rpk $fp $fp none"
device p1 # a PSK device alongside
U1=$(api_json POST /v1/devices/r1/updates "{\"images\":[\"$APP\"]}" | jq -r .id)
UP=$(api_json POST /v1/devices/p1/updates "{\"images\":[\"$APP\"]}" | jq -r .id)
run_device r1
run_device p1
check "the rpk device's update succeeds" wait_state "$U1" succeeded
check "the PSK device's update succeeds" wait_state "$UP" succeeded
check "the rpk device reports its inventory" \
    test "$(api GET /v1/devices/r1 | jq -r '.inventory.modules[] | select(.function=="application") | .version')" = 1.0.0
check "its wire bytes are counted" test "$(api GET /v1/devices/r1 | jq .bytes_sent)" -gt 40000

# ---- refused at the handshake: an unknown key, a disabled device ----
rdevice r2
cp "$PKI/stranger.pub" "$WORK/r2/device.pub"; cp "$PKI/stranger.key" "$WORK/r2/device.key"
rdevice r3
check "PATCH {\"disabled\": true} disables r3" \
    test "$(api_json PATCH /v1/devices/r3 '{"disabled":true}' | jq .disabled)" = true
for n in r2 r3; do
    "$DEVICE" run "$WORK/$n" --retry-ms 200 >>"$WORK/$n.log" 2>&1 &
    PIDS+=($!)
done
U1b=$(api_json POST /v1/devices/r1/updates "{\"images\":[\"$(app app2 1.1.0 30000)\"]}" | jq -r .id)
check "meanwhile r1 is served: its next update succeeds" wait_state "$U1b" succeeded
for _ in $(seq 100); do
    [ "$(metric cert_unknown)" -ge 1 ] && [ "$(metric revoked)" -ge 1 ] && break
    sleep 0.2
done
check "an unknown raw public key is refused and counted (cert_unknown $(metric cert_unknown))" \
    test "$(metric cert_unknown)" -ge 1
check "... and logged with the reason" grep -q 'DTLS handshake refused.*no device has this raw public key' "$WORK/airliftd.log"
check "the disabled device is refused (revoked $(metric revoked))" test "$(metric revoked)" -ge 1
check "... logged as disabled" grep -q 'DTLS handshake refused.*the device is disabled.*device=r3' "$WORK/airliftd.log"
check "r2 and r3 never reported" test "$(api GET /v1/devices/r2 | jq -r .inventory)$(api GET /v1/devices/r3 | jq -r .inventory)" = nullnull

# ---- a removed device is refused; a device pinning another server key refuses the server ----
rdevice r4
check "removing r4 (204)" test "$(api DELETE /v1/devices/r4 -o /dev/null -w '%{http_code}')" = 204
rdevice r5
"$DEVICE" provision "$WORK/r5" --server "127.0.0.1:$COAP" --pubkey "$PKI/r5.pub" --key "$PKI/r5.key" \
    --server-pubkey "$PKI/stranger.pub" >/dev/null
timeout 60 "$DEVICE" run "$WORK/r4" --until-idle --sessions 1 --retry-ms 200 >"$WORK/r4.log" 2>&1
timeout 60 "$DEVICE" run "$WORK/r5" --until-idle --sessions 1 --retry-ms 200 >"$WORK/r5.log" 2>&1
check "the removed device is refused, logged as removed" \
    grep -q 'DTLS handshake refused.*the device was removed' "$WORK/airliftd.log"
check "a device pinning another server key ends its handshake: its session fails" \
    grep -q '^session: link failed' "$WORK/r5.log"
check "... and never reported" test "$(api GET /v1/devices/r5 | jq -r .inventory)" = null

# ---- the API and the CLI ----
bad() { # bad DESCRIPTION BODY MESSAGE: a 400 whose message is MESSAGE
    local out
    out=$(api POST /v1/devices -H 'Content-Type: application/json' --data "$2" -w ' %{http_code}')
    check "$1" test "$(jq -r .error.message <<<"${out% *}") ${out##* }" = "$3 400"
}
bad "not PEM: 400 naming it" '{"name":"b1","platform":10,"credential":{"kind":"rpk","public_key":"x"}}' \
    "credential.public_key: not a PEM public key (-----BEGIN PUBLIC KEY-----, SubjectPublicKeyInfo)"
bad "rpk without a key: 400" '{"name":"b2","platform":10,"credential":{"kind":"rpk"}}' \
    "credential.public_key: missing (a PEM public key)"
bad "wrong key type: 400 naming it" \
    "$(jq -n --rawfile pem "$PKI/p521.pub" '{name: "b3", platform: 10, credential: {kind: "rpk", public_key: $pem}}')" \
    "credential.public_key: key type EC on a curve other than P-256 or P-384 is not accepted"
check "nothing half-written: no device b1, b2 or b3" \
    test "$(api GET /v1/devices/b1 -o /dev/null -w '%{http_code}')$(api GET /v1/devices/b3 -o /dev/null -w '%{http_code}')" = 404404
out=$("$AIRLIFT" devices add c1 --pubkey "$PKI/r1.key" 2>&1); rc=$?
check "CLI: --pubkey with a private key exits 18 (rc $rc)" test "$rc" -eq 18
check "... naming what is wrong" grep -q "not a PEM public key" <<<"$out"
key c2
out=$("$AIRLIFT" devices add c2 --pubkey "$PKI/c2.pub" 2>&1); rc=$?
fp=$(openssl pkey -pubin -in "$PKI/c2.pub" -outform DER | sha256sum | cut -d' ' -f1)
check "CLI: devices add --pubkey (rc $rc)" test "$rc" -eq 0
check "... shows the kind and fingerprint" grep -q "$fp" <<<"$out"
check "CLI: devices show names the credential" \
    grep -q "rpk" <<<"$("$AIRLIFT" devices show c2 2>&1)"
finish
