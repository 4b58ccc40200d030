#!/usr/bin/env bash
# issue 14 item 5: the API over TLS and the CLI verifying it (curl and airlift, certificates
# made here by openssl: a CA, a server certificate for 127.0.0.1 as an IP SAN, one from
# another CA); bad TLS material refused at start; tokens created, listed, expired and revoked
# with the CLI, each refusal saying which; every API-caused event and log line naming the
# token that caused it; last use written at most once a minute.
BUILD=$1
. "$(dirname "$0")/lib.sh"

quiet() { "$@" >/dev/null 2>&1; } # for check: the command's output is not the test's

# ---- certificates ----
pki() { openssl "$@" >/dev/null 2>&1; }
ec_req() { pki req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "$@"; }
ec_req -x509 -keyout "$WORK/ca.key" -out "$WORK/ca.pem" -days 2 -subj /CN=airlift-test-ca
ec_req -x509 -keyout "$WORK/other-ca.key" -out "$WORK/other-ca.pem" -days 2 -subj /CN=other-ca
printf 'subjectAltName=IP:127.0.0.1\n' >"$WORK/san.ext"
for who in ca other-ca; do # srv-ca.pem: signed by our CA; srv-other-ca.pem: by the other one
    ec_req -keyout "$WORK/srv-$who.key" -out "$WORK/srv-$who.csr" -subj /CN=airliftd
    pki x509 -req -in "$WORK/srv-$who.csr" -CA "$WORK/$who.pem" -CAkey "$WORK/$who.key" \
        -CAcreateserial -out "$WORK/srv-$who.pem" -days 2 -extfile "$WORK/san.ext"
done
check "openssl made the certificates" test -s "$WORK/srv-ca.pem" -a -s "$WORK/srv-other-ca.pem"

# ---- bad TLS material: refused at start (exit 7, or 2 for half a pair), nothing written ----
bad_start() { # bad_start WANT_RC WANT_TEXT FLAGS...
    local want=$1 text=$2 rc; shift 2
    "$AIRLIFTD" --data-dir "$WORK/bad-data" --http-listen 127.0.0.1:0 \
        --coap-listen 127.0.0.1:0 "$@" >"$WORK/bad.out" 2>&1; rc=$?
    check "bad TLS start exits $want ($rc): $text" test "$rc" = "$want"
    check "  and says: $text" grep -qF -- "$text" "$WORK/bad.out"
    check "  and writes nothing" test ! -e "$WORK/bad-data"
}
bad_start 7 "--tls-key $WORK/srv-other-ca.key is not the private key of the certificate" \
    --tls-cert "$WORK/srv-ca.pem" --tls-key "$WORK/srv-other-ca.key"
bad_start 7 "--tls-cert $WORK/srv-ca.key: no PEM certificate in it" \
    --tls-cert "$WORK/srv-ca.key" --tls-key "$WORK/srv-ca.key"
bad_start 7 "--tls-cert $WORK/missing.pem cannot be read" \
    --tls-cert "$WORK/missing.pem" --tls-key "$WORK/srv-ca.key"
bad_start 2 "--tls-cert without --tls-key" --tls-cert "$WORK/srv-ca.pem"
printf 'tls-cert = %s\ntls-key = %s\n' "$WORK/srv-ca.pem" "$WORK/srv-other-ca.key" >"$WORK/bad.conf"
bad_start 7 "is not the private key" --config "$WORK/bad.conf"

# ---- the API over TLS: config file keys, curl ----
printf 'tls-cert = %s\ntls-key = %s\n' "$WORK/srv-ca.pem" "$WORK/srv-ca.key" >"$WORK/airliftd.conf"
start_server --config "$WORK/airliftd.conf"
URL="https://127.0.0.1:$HTTP"
export AIRLIFT_SERVER=$URL
api() { # the lib's api() over https, verified against our CA
    local method=$1 path=$2; shift 2
    curl -s --cacert "$WORK/ca.pem" -X "$method" -H "Authorization: Bearer $TOKEN" "$@" "$URL$path"
}
check "curl --cacert: health over TLS" test "$(api GET /v1/health | jq -r .status)" = ok
curl -s --cacert "$WORK/other-ca.pem" "$URL/v1/health" >/dev/null; rc=$?
check "curl with another CA: certificate refused ($rc)" test "$rc" = 60
curl -s "$URL/v1/health" >/dev/null; rc=$?
check "curl with the system store: certificate refused ($rc)" test "$rc" = 60
tls_version() { # tls_version 1_1|1_2|1_3: does a handshake of that version succeed?
    openssl s_client "-tls$1" -connect "127.0.0.1:$HTTP" -CAfile "$WORK/ca.pem" \
        -verify_return_error </dev/null >/dev/null 2>&1
}
check "TLS 1.2 handshake" tls_version 1_2
check "TLS 1.3 handshake" tls_version 1_3
old_tls_refused() { ! tls_version 1_1 && ! tls_version 1; }
check "TLS 1.1 and 1.0 refused" old_tls_refused
check "plain HTTP gets no API answer" test -z "$(curl -s "http://127.0.0.1:$HTTP/v1/health")"
check "airliftd logs the API over TLS" grep -q 'msg="management API over TLS"' "$WORK/airliftd.log"

# ---- the CLI verifying it ----
cli_expect() { # cli_expect WANT_RC WANT_TEXT ARGS...: stderr must hold WANT_TEXT
    local want=$1 text=$2 rc; shift 2
    "$AIRLIFT" "$@" >"$WORK/cli.out" 2>"$WORK/cli.err"; rc=$?
    check "airlift $* exits $want ($rc)" test "$rc" = "$want"
    check "  says: $text" grep -qF -- "$text" "$WORK/cli.err"
}
check "airlift --cacert: tokens list over TLS" \
    quiet "$AIRLIFT" --cacert "$WORK/ca.pem" tokens list
cli_expect 17 "airlift: the TLS certificate of $URL does not verify: SSL certificate problem" \
    --cacert "$WORK/other-ca.pem" tokens list
cli_expect 17 "does not verify" tokens list # the system's store knows no test CA
cli_expect 3 "CA file $WORK/missing.pem (--cacert, AIRLIFT_CACERT or 'cacert' in" \
    --cacert "$WORK/missing.pem" tokens list
echo "not a certificate" >"$WORK/garbage.pem"
cli_expect 3 "CA file $WORK/garbage.pem holds no usable PEM certificate" \
    --cacert "$WORK/garbage.pem" tokens list
cli_expect 17 "no alternative certificate subject name matches target host name 'localhost'" \
    --cacert "$WORK/ca.pem" --server "https://localhost:$HTTP" tokens list
printf 'cacert = %s\n' "$WORK/ca.pem" >"$WORK/cli.conf"
check "cacert in the config file" quiet env AIRLIFT_CONFIG="$WORK/cli.conf" "$AIRLIFT" tokens list
check "AIRLIFT_CACERT" quiet env AIRLIFT_CACERT="$WORK/ca.pem" "$AIRLIFT" tokens list
export AIRLIFT_CACERT=$WORK/ca.pem

# A server whose certificate comes from another CA: refused though the name is right.
mkdir -p "$WORK/other"
"$AIRLIFTD" --data-dir "$WORK/other/data" --http-listen 127.0.0.1:0 --coap-listen 127.0.0.1:0 \
    --port-file "$WORK/other/port" --tls-cert "$WORK/srv-other-ca.pem" \
    --tls-key "$WORK/srv-other-ca.key" >>"$WORK/other/airliftd.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 100); do [ -s "$WORK/other/port" ] && break; sleep 0.05; done
cli_expect 17 "does not verify" --server "https://127.0.0.1:$(sed -n 1p "$WORK/other/port")" \
    tokens list

# ---- tokens: create, list, use ----
"$AIRLIFT" tokens create ci --scope operator --expires 30d >"$WORK/ci.token" 2>"$WORK/cli.err"
check "tokens create prints the secret alone on stdout" grep -qE '^alt_[0-9a-f]{64}$' "$WORK/ci.token"
check "  and says what it made" grep -q "token ci created: scope operator, expires 20" "$WORK/cli.err"
CI=$(cat "$WORK/ci.token")
"$AIRLIFT" tokens create viewer --scope read >"$WORK/viewer.token" 2>/dev/null
"$AIRLIFT" --json tokens list >"$WORK/list.json"
check "tokens list --json: ci with its scope and expiry" \
    quiet jq -e '.tokens[] | select(.name=="ci") | .scope=="operator" and (.expires_at|startswith("20")) and .revoked==false and .expired==false' "$WORK/list.json"
check "tokens list --json: viewer never expires" \
    quiet jq -e '.tokens[] | select(.name=="viewer") | .expires_at==null' "$WORK/list.json"
"$AIRLIFT" tokens list >"$WORK/list.txt"
check "tokens list: columns" grep -q "NAME.*SCOPE.*STATE.*CREATED.*EXPIRES.*LAST USED" "$WORK/list.txt"
check "tokens list: ci active" grep -qE "^ci +operator +active" "$WORK/list.txt"
check "tokens list never shows a secret" \
    bash -c "! grep -q alt_ '$WORK/list.txt' '$WORK/list.json'"
cli_expect 2 "--scope 'root': expected read, operator or admin" tokens create x --scope root
cli_expect 2 "--expires 'soon': expected a duration" tokens create x --scope read --expires soon
cli_expect 6 "a token named 'ci' already exists" tokens create ci --scope read
check "API: an expiry in the past is refused" test "$(api POST /v1/tokens -H 'Content-Type: application/json' \
    --data '{"name":"old","scope":"read","expires_at":"2001-01-01T00:00:00Z"}' | jq -r .error.message)" \
    = "expires_at must be in the future (or absent: the token never expires)"

check "ci (operator) adds a device" quiet "$AIRLIFT" --token "$CI" devices add d1
# More of what an operator does, all with ci: an image uploaded, a product made, an update
# queued and cancelled (their events' actor is checked below).
ADMIN=$TOKEN
TOKEN=$CI
APP=$(app a1 1.0.0 2000)
TOKEN=$ADMIN
check "ci uploads an image" test -n "$APP" -a "$APP" != null
check "ci makes a product" quiet "$AIRLIFT" --token "$CI" products create tracker --platform electron
UID1=$(curl -s --cacert "$WORK/ca.pem" -H "Authorization: Bearer $CI" -H 'Content-Type: application/json' \
    --data "{\"images\":[\"$APP\"]}" "$URL/v1/devices/d1/updates" | jq -r .id)
check "ci queues an update ($UID1)" test "$UID1" -gt 0
check "ci cancels it" quiet "$AIRLIFT" --token "$CI" updates cancel "$UID1"
cli_expect 6 "token 'viewer' has scope 'read'; this request needs 'operator'" \
    --token-file "$WORK/viewer.token" devices add d2

# last_used_at: written once, not again within the minute.
"$AIRLIFT" --token-file "$WORK/viewer.token" devices list >/dev/null
L1=$(api GET /v1/tokens | jq -r '.tokens[] | select(.name=="viewer") | .last_used_at')
"$AIRLIFT" --token-file "$WORK/viewer.token" devices list >/dev/null
L2=$(api GET /v1/tokens | jq -r '.tokens[] | select(.name=="viewer") | .last_used_at')
check "last_used_at recorded ($L1)" test "$L1" != null
check "last_used_at not rewritten within the minute ($L2)" test "$L1" = "$L2"

# ---- expiry ----
"$AIRLIFT" tokens create brief --scope read --expires 2s >"$WORK/brief.token" 2>/dev/null
check "brief works before its expiry" quiet "$AIRLIFT" --token-file "$WORK/brief.token" devices list
EXP=$(api GET /v1/tokens | jq -r '.tokens[] | select(.name=="brief") | .expires_at')
for _ in $(seq 100); do
    [ "$(api GET /v1/tokens | jq -r '.tokens[] | select(.name=="brief") | .expired')" = true ] && break
    sleep 0.1
done
cli_expect 16 "the server refused the API token from token file $WORK/brief.token: token 'brief' expired at $EXP" \
    --token-file "$WORK/brief.token" devices list
check "curl: expired is 401 with the message" test "$(curl -s --cacert "$WORK/ca.pem" \
    -H "Authorization: Bearer $(cat "$WORK/brief.token")" "$URL/v1/devices" | jq -r .error.message)" \
    = "token 'brief' expired at $EXP"
check "tokens list: brief expired" grep -qE "^brief +read +expired" <("$AIRLIFT" tokens list)

# ---- revocation ----
check "tokens revoke ci" quiet "$AIRLIFT" tokens revoke ci
REV=$(api GET /v1/tokens | jq -r '.tokens[] | select(.name=="ci") | .revoked_at')
cli_expect 16 "token 'ci' was revoked at $REV" --token "$CI" devices list
cli_expect 0 "token ci was already revoked at $REV" tokens revoke ci
cli_expect 6 "token 'cj' does not exist; did you mean 'ci'?" tokens revoke cj
cli_expect 6 "token 'admin' (id 1) is the last admin token; create another first" tokens revoke admin
check "tokens list: ci revoked" grep -qE "^ci +operator +revoked +[^ ]+ +$REV" <("$AIRLIFT" tokens list)

# ---- who did what: events and log lines name the token ----
EV=$(api GET '/v1/events?limit=1000')
check "device.created by ci" test "$(jq -r '.events[] | select(.type=="device.created") | .actor' <<<"$EV")" = ci
check "token.created of ci by admin, with its expiry" \
    quiet jq -e '[.events[] | select(.type=="token.created" and .data.name=="ci")][0] | .actor=="admin" and (.data.expires_at|startswith("20"))' <<<"$EV"
check "token.revoked of ci by admin, named" \
    quiet jq -e '[.events[] | select(.type=="token.revoked")][0] | .actor=="admin" and .data.name=="ci"' <<<"$EV"
for type in image.uploaded product.created update.queued update.cancelled; do
    check "$type by ci" test "$(jq -r "[.events[] | select(.type==\"$type\")][0].actor" <<<"$EV")" = ci
done
check "every event names its actor" quiet jq -e '[.events[] | select(.actor=="")] | length == 0' <<<"$EV"
LOG=$WORK/airliftd.log
check "access log: ci's request names ci" \
    grep -qE 'msg=request method=POST path=/v1/devices status=201 .*token=ci' "$LOG"
check "access log: the refused expired token is named" \
    grep -qE 'msg=request method=GET path=/v1/devices status=401 .*token=brief' "$LOG"
check "access log: the revoked token is named" \
    grep -qE 'msg=request method=GET path=/v1/devices status=401 .*token=ci' "$LOG"
check "log line of the revocation names the token that did it" \
    grep -qE 'msg="token revoked" name=ci by=admin token=admin' "$LOG"
check "every request line names a token (or is health)" \
    bash -c "! grep 'msg=request' '$LOG' | grep -v 'token=[A-Za-z0-9]' | grep -v /v1/health | grep -q ."
finish
