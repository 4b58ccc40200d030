#!/usr/bin/env bash
# Issue 14 (creds): devices that authenticate with an X.509 certificate from the operator's
# CA (--device-ca) update like PSK devices; a certificate from another CA, an expired one,
# a removed and a disabled device are refused at the handshake, counted and logged with the
# reason, while the others keep being served; bad certificates are refused by the API and
# the CLI with a message naming what is wrong; libcoap's own coap-client-openssl, with a
# device certificate (-c, -j, -C), fetches a plan and a whole firmware transfer by Block2
# over DTLS, byte-exact.
#
# The keys and certificates are made here with openssl (never committed): a device CA and a
# server CA, the server's certificate, and per device an EC P-256 key and a certificate:
#   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=NAME \
#       -keyout ca.key -out ca.pem -days 2
#   openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=dev \
#       -keyout dev.key -out dev.csr
#   openssl x509 -req -in dev.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -out dev.pem
# An expired certificate of a registered device's key: the same key, signed again by the same
# CA with a validity that ended yesterday (openssl ca -startdate/-enddate).
BUILD=$1
. "$(dirname "$0")/lib.sh"
PKI=$WORK/pki
mkdir -p "$PKI"
ossl() { openssl "$@" 2>>"$PKI/openssl.log"; }
# ca NAME: a self-signed EC P-256 CA, NAME.key and NAME.pem
ca() {
    ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
        -keyout "$PKI/$1.key" -out "$PKI/$1.pem" -days 2 >/dev/null
}
# cert NAME CA [openssl x509 args]: an EC P-256 key NAME.key (unless it exists) and its
# certificate NAME.pem from CA.
cert() {
    local name=$1 ca=$2; shift 2
    [ -f "$PKI/$name.key" ] || ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -out "$PKI/$name.key"
    ossl req -new -key "$PKI/$name.key" -subj "/CN=$name/O=airlift-test" -out "$PKI/$name.csr"
    ossl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.pem" -CAkey "$PKI/$ca.key" \
        -CAcreateserial -days 1 -out "$PKI/$name.pem" "$@"
}
# expired NAME CA: NAME's key, certified by CA for a period that ended yesterday.
expired() {
    local d="$PKI/ca-$2"
    mkdir -p "$d/new"; : >"$d/index.txt"; echo 01 >"$d/serial"
    printf '[ca]\ndefault_ca=x\n[x]\ndir=%s\ndatabase=$dir/index.txt\nnew_certs_dir=$dir/new\nserial=$dir/serial\ndefault_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n' \
        "$d" >"$d/ca.cnf"
    ossl ca -batch -config "$d/ca.cnf" -cert "$PKI/$2.pem" -keyfile "$PKI/$2.key" \
        -in "$PKI/$1.csr" -out "$PKI/$1-expired.pem" -notext \
        -startdate "$(date -u -d '-3 days' +%Y%m%d%H%M%SZ)" \
        -enddate "$(date -u -d '-1 day' +%Y%m%d%H%M%SZ)" >/dev/null
}
ca devca; ca otherca; ca serverca
cert server serverca
for n in x1 x2 x3 x4 x5 x6 cc; do cert "$n" devca; done
cert stranger otherca
expired x2 devca
check "test PKI made (openssl)" test -s "$PKI/x2-expired.pem" -a -s "$PKI/stranger.pem"

# The endpoint's certificate and key are checked at start, before anything is written.
out=$("$AIRLIFTD" --data-dir "$WORK/bad-start" --http-listen 127.0.0.1:0 --coap-listen 127.0.0.1:0 \
    --device-ca "$PKI/devca.pem" --coap-cert "$PKI/server.pem" --coap-key "$PKI/devca.key" 2>&1); rc=$?
check "a --coap-key that is not the certificate's: exit 7 (rc $rc)" test "$rc" -eq 7
check "... naming both files" grep -q "coap-key $PKI/devca.key is not the private key of the certificate in --coap-cert $PKI/server.pem" <<<"$out"
check "... and no admin token made or printed" test -z "$(grep -i token <<<"$out")"
out=$("$AIRLIFTD" --data-dir "$WORK/bad-start" --http-listen 127.0.0.1:0 --coap-listen 127.0.0.1:0 \
    --device-ca "$PKI/devca.pem" 2>&1); rc=$?
check "--device-ca without --coap-cert/--coap-key: exit 2 (rc $rc)" test "$rc" -eq 2
check "... saying what is missing" grep -q "certificate devices need all of --device-ca, --coap-cert and --coap-key (missing: --coap-cert)" <<<"$out"
start_server --device-ca "$PKI/devca.pem" --coap-cert "$PKI/server.pem" --coap-key "$PKI/server.key"
sign_device_os
APP=$(app app1 1.0.0 40000)

# xdevice NAME [CERTNAME [SERVER_CA]]: register NAME with CERTNAME's certificate (default
# NAME's), make its flash, provision it with the certificate, its key and the server's CA
# (SERVER_CA "none": without, so it does not verify the server).
xdevice() {
    local name=$1 c=${2:-$1} sca=${3:-$PKI/serverca.pem} body
    body=$(jq -n --arg n "$name" --rawfile pem "$PKI/$c.pem" \
        '{name: $n, platform: 10, credential: {kind: "x509", certificate: $pem}}')
    REG=$(api_json POST /v1/devices "$body")
    "$DEVICE" create "$WORK/$name" --trust "$WORK/author.pub.pem" >/dev/null
    "$DEVICE" factory "$WORK/$name" "$WORK/bootloader-2.3.0.alim" "$WORK/system-part1-0.6.4.alim" \
        "$WORK/system-part2-0.6.4.alim" "$WORK/system-part3-0.6.4.alim" >/dev/null
    "$DEVICE" provision "$WORK/$name" --server "127.0.0.1:$COAP" --cert "$PKI/$c.pem" \
        --key "$PKI/$c.key" ${sca:+$([ "$sca" = none ] || echo --server-ca "$sca")} >/dev/null
}
# metric REASON: airlift_dtls_handshake_failures_total{reason="REASON"}
metric() {
    api GET /metrics | sed -n "s/^airlift_dtls_handshake_failures_total{reason=\"$1\"} //p"
}

# ---- a certificate device updates like a PSK device ----
xdevice x1
fp=$(openssl x509 -in "$PKI/x1.pem" -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1)
check "created with its credential: kind x509, the key's fingerprint, the subject" \
    test "$(jq -r '[.credential.kind, .credential.fingerprint, .credential.subject, .identity, (.psk // "none")] | join(" ")' <<<"$REG")" \
    = "x509 $fp O=airlift-test,CN=x1 $fp none"
check "the device's key stays on the device (not in the API's answer)" \
    test "$(jq 'tostring | test("PRIVATE")' <<<"$REG")" = false
device p1 # a PSK device alongside
xdevice x6 x6 none # and one that does not verify the server: it confirms after an inventory
U1=$(api_json POST /v1/devices/x1/updates "{\"images\":[\"$APP\"]}" | jq -r .id)
U6=$(api_json POST /v1/devices/x6/updates "{\"images\":[\"$APP\"]}" | jq -r .id)
UP=$(api_json POST /v1/devices/p1/updates "{\"images\":[\"$APP\"]}" | jq -r .id)
run_device x1; X1_PID=$DEVICE_PID
run_device p1
run_device x6
check "the x509 device's update succeeds" wait_state "$U1" succeeded
check "... and that of the one without the server's CA" wait_state "$U6" succeeded
check "the PSK device's update succeeds" wait_state "$UP" succeeded
check "the x509 device reports its inventory" \
    test "$(api GET /v1/devices/x1 | jq -r '.inventory.modules[] | select(.function=="application") | .version')" = 1.0.0
check "its wire bytes are counted" test "$(api GET /v1/devices/x1 | jq .bytes_sent)" -gt 40000

# ---- refused at the handshake: another CA, expired, removed, disabled ----
# A device of the configured CA's key presenting a certificate of another CA...
xdevice x3
cp "$PKI/stranger.pem" "$WORK/x3/device.crt"; cp "$PKI/stranger.key" "$WORK/x3/device.key"
# ... a registered key whose certificate expired ...
xdevice x2
cp "$PKI/x2-expired.pem" "$WORK/x2/device.crt"
# ... a removed device and a disabled one.
xdevice x4
xdevice x5
check "removing x4 (204)" test "$(api DELETE /v1/devices/x4 -o /dev/null -w '%{http_code}')" = 204
check "PATCH {\"disabled\": true} disables x5" \
    test "$(api_json PATCH /v1/devices/x5 '{"disabled":true}' | jq .disabled)" = true
for n in x2 x3 x4 x5; do
    "$DEVICE" run "$WORK/$n" --until-idle --sessions 1 --retry-ms 200 >"$WORK/$n.log" 2>&1 &
    PIDS+=($!)
done
U1b=$(api_json POST /v1/devices/x1/updates "{\"images\":[\"$(app app2 1.1.0 30000)\"]}" | jq -r .id)
check "meanwhile x1 is served: its next update succeeds" wait_state "$U1b" succeeded
for _ in $(seq 100); do
    [ "$(metric cert_expired)" -ge 1 ] && [ "$(metric cert_unknown_ca)" -ge 1 ] &&
        [ "$(metric revoked)" -ge 2 ] && break
    sleep 0.2
done
check "an expired certificate is refused and counted (cert_expired $(metric cert_expired))" \
    test "$(metric cert_expired)" -ge 1
check "... and logged with the reason" grep -q 'DTLS handshake refused.*certificate expired' "$WORK/airliftd.log"
check "another CA's certificate is refused and counted (cert_unknown_ca $(metric cert_unknown_ca))" \
    test "$(metric cert_unknown_ca)" -ge 1
check "... and logged with the reason" grep -q 'DTLS handshake refused.*not from a configured device CA' "$WORK/airliftd.log"
check "the removed and the disabled device are refused (revoked $(metric revoked))" test "$(metric revoked)" -ge 2
check "... logged as removed" grep -q 'DTLS handshake refused.*the device was removed' "$WORK/airliftd.log"
check "... and as disabled" grep -q 'DTLS handshake refused.*the device is disabled' "$WORK/airliftd.log"
check "x5 never reported" test "$(api GET /v1/devices/x5 | jq -r .reported_at)" = null
check "enabling x5 again: PATCH {\"disabled\": false}" \
    test "$(api_json PATCH /v1/devices/x5 '{"disabled":false}' | jq .disabled)" = false
"$DEVICE" run "$WORK/x5" --until-idle --retry-ms 200 >"$WORK/x5.log" 2>&1
check "... and it reports" wait_device_reported x5
# A disabled PSK device is refused too.
out=$("$AIRLIFT" devices set p1 --disable 2>&1)
check "disabling the PSK device p1 (airlift devices set --disable)" \
    test "$(api GET /v1/devices/p1 | jq .disabled)" = true -a -n "$(grep "p1: disabled: its next DTLS handshakes are refused" <<<"$out")"
check "... devices show says so" grep -q "^disabled: its DTLS handshakes are refused" <<<"$("$AIRLIFT" devices show p1)"
"$DEVICE" run "$WORK/p1" --until-idle --sessions 1 --retry-ms 200 >"$WORK/p1-off.log" 2>&1
check "... its handshake is refused and logged" grep -q 'DTLS handshake refused.*device=p1.*disabled\|DTLS handshake refused.*disabled.*p1' "$WORK/airliftd.log"

# ---- the API and the CLI refuse bad certificates, naming what is wrong ----
post() { # post BODY: POST /v1/devices; prints "STATUS MESSAGE"
    local code
    code=$(api POST /v1/devices -H 'Content-Type: application/json' --data "$1" \
        -o "$WORK/post.json" -w '%{http_code}')
    echo "$code $(jq -r .error.message <"$WORK/post.json")"
}
bad() { # bad PEMFILE: a device with that certificate
    post "$(jq -n --rawfile pem "$1" '{name: "bad", platform: 10, credential: {kind: "x509", certificate: $pem}}')"
}
echo "not a certificate" >"$PKI/garbage.pem"
ossl req -x509 -newkey rsa:1024 -nodes -subj /CN=weak -keyout "$PKI/weak.key" -out "$PKI/weak.pem" -days 1 >/dev/null
check "not PEM: 400 naming it" test "$(bad "$PKI/garbage.pem")" = "400 credential.certificate: not a PEM certificate (-----BEGIN CERTIFICATE-----)"
check "another CA: 400 naming it" test "$(bad "$PKI/stranger.pem")" = "400 credential.certificate: not issued by a configured device CA (--device-ca)"
check "expired: 400 naming it" test "$(bad "$PKI/x2-expired.pem")" = "400 credential.certificate: refused: certificate has expired"
check "wrong key type: 400 naming it" test "$(bad "$PKI/weak.pem")" = "400 credential.certificate: key type RSA under 2048 bits is not accepted"
X4=$(api GET "/v1/events?limit=1000" | jq '[.events[] | select(.type=="device.deleted")][0].data.device_id')
check "the key of a removed device stays revoked: 409" \
    test "$(bad "$PKI/x4.pem")" = "409 credential: removed device #$X4 has this certificate's key; a key serves one device, ever (a removed device's key stays revoked)"
check "a key in use: 409" \
    test "$(bad "$PKI/x1.pem")" = "409 credential: device 'x1' has this certificate's key; a key serves one device, ever (a removed device's key stays revoked)"
check "a raw public key that is not PEM: 400 saying why (issue 14, rpk: e2e_rpk)" \
    grep -q "^400 credential.public_key: not a PEM public key" \
    <<<"$(post '{"name":"r","platform":10,"credential":{"kind":"rpk","public_key":"x"}}')"
check "an unknown kind: 400" test "$(post '{"name":"r","platform":10,"credential":{"kind":"x"}}')" \
    = '400 credential.kind must be "psk", "x509" or "rpk"'
check "x509 without a certificate: 400" test "$(post '{"name":"r","platform":10,"credential":{"kind":"x509"}}')" \
    = '400 credential.certificate: missing (a PEM certificate)'
check "nothing half-written: no device r or bad" \
    test "$(api GET /v1/devices/r -o /dev/null -w '%{http_code}') $(api GET /v1/devices/bad -o /dev/null -w '%{http_code}')" = "404 404"
out=$("$AIRLIFT" devices add cli1 --cert "$PKI/stranger.pem" 2>&1); rc=$?
check "CLI: devices add --cert from another CA exits 18 (rc $rc)" test "$rc" -eq 18
check "... naming what is wrong" grep -q "not issued by a configured device CA" <<<"$out"
out=$("$AIRLIFT" devices add cli1 --cert "$PKI/garbage.pem" 2>&1); rc=$?
check "CLI: --cert with a file that is not PEM exits 18 before asking (rc $rc)" test "$rc" -eq 18
check "... naming it" test "$out" = "airlift: --cert $PKI/garbage.pem: not a PEM certificate (-----BEGIN CERTIFICATE-----)"
out=$("$AIRLIFT" devices add cli2 --cert "$PKI/cc.pem" 2>&1); rc=$?
check "CLI: devices add --cert (rc $rc)" test "$rc" -eq 0
check "... shows the fingerprint and subject" grep -q "x509.*O=airlift-test,CN=cc" <<<"$out"
openssl x509 -in "$PKI/cc.pem" -pubkey -noout >"$PKI/cc.pub"
out=$("$AIRLIFT" devices add cli3 --pubkey "$PKI/cc.pub" 2>&1); rc=$?
check "CLI: --pubkey with the key of an x509 device is refused (rc $rc)" test "$rc" -eq 18 -a -n "$(grep "a key serves one device" <<<"$out")"
out=$("$AIRLIFT" devices show cli2 2>&1)
check "CLI: devices show names the credential" grep -q "^credential: x509, subject O=airlift-test,CN=cc, key fingerprint [0-9a-f]\{64\}$" <<<"$out"
out=$("$AIRLIFT" devices set cli4 --disable --enable 2>&1); rc=$?
check "CLI: devices set --disable --enable is exit 2 (rc $rc)" test "$rc" -eq 2 -a \
    "$(head -1 <<<"$out")" = "airlift devices set: --disable and --enable contradict each other: give one"
out=$("$AIRLIFT" devices add cli4 --psk 2>&1); rc=$?
check "CLI: --psk is the default kind (rc $rc)" test "$rc" -eq 0 -a -n "$(grep -i psk <<<"$out")"

# ---- libcoap's coap-client with cli2's certificate: a plan, then a whole transfer ----
APP3=$(app app3 2.0.0 20000)
U3=$(api_json POST /v1/devices/cli2/updates "{\"images\":[\"$APP3\"]}" | jq -r .id)
# An inventory (docs/protocol.md): 20 bytes of header, no reason, no modules.
printf '\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00' >"$WORK/inventory"
cc() { timeout 20 coap-client-openssl -c "$PKI/cc.pem" -j "$PKI/cc.key" -C "$PKI/serverca.pem" "$@"; }
status=
for _ in $(seq 20); do # status 2 (wait) until the transfer is made; 1: update
    rm -f "$WORK/plan.bin"
    cc -m post -f "$WORK/inventory" -o "$WORK/plan.bin" "coaps://127.0.0.1:$COAP/i" 2>>"$WORK/cc.err"
    status=$(od -An -tu1 -j1 -N1 "$WORK/plan.bin" 2>/dev/null | tr -d ' ')
    [ "$status" = 1 ] && break
    sleep 0.5
done
check "coap-client-openssl: POST /i answers a plan with steps (status $status)" test "$status" = 1
check "the device is known by its certificate: cli2 reported" wait_device_reported cli2
PLAN=$(od -An -tu4 -j4 -N4 "$WORK/plan.bin" | tr -d ' ')
check "the plan names one step of $(stat -c %s "$WORK/app3.alim") bytes" \
    test "$(od -An -tu1 -j8 -N1 "$WORK/plan.bin" | tr -d ' ') $(od -An -tu4 -j13 -N4 "$WORK/plan.bin" | tr -d ' ')" = "1 $(stat -c %s "$WORK/app3.alim")"
cc -B 30 -o "$WORK/transfer.bin" "coaps://127.0.0.1:$COAP/f/$PLAN/0" 2>>"$WORK/cc.err"
check "coap-client-openssl: GET /f/$PLAN/0 by Block2 is the whole image, byte-exact" \
    cmp -s "$WORK/transfer.bin" "$WORK/app3.alim"
finish
