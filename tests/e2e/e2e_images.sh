#!/usr/bin/env bash
# Images on the server (issue 12): named by id, the SHA-256 of the file, so the same payload
# signed by a second key or re-signed with a higher security counter is a second image (the
# old server refused it for ever, "already held with a different header"). The CLI uploads,
# lists, shows and removes them; removal is refused (exit 15) while a release or an active
# update needs the image. A re-signed module is released, flashed and installed, and the
# device then refuses the old image: rollback protection saw the new counter. One maximum
# image size: what `image create` makes, airliftd takes (it used to answer 413).
BUILD=$1
. "$(dirname "$0")/lib.sh"
start_server
sign_device_os
device d1
run_device d1
wait_device_reported d1
"$AIRLIFT" keys generate --out "$WORK/other.pem" >/dev/null

APPARGS=(--function application --index 1 --platform 10 --link-address 0x08080000)
head -c 40000 /dev/urandom >"$WORK/app0.bin"
head -c 40000 /dev/urandom >"$WORK/app1.bin"
mk() { # mk OUT BIN VERSION COUNTER KEY
    "$AIRLIFT" image create --key "$5" -o "$WORK/$1.alim" "${APPARGS[@]}" --version "$3" \
        --security-counter "$4" "$WORK/$2.bin" >/dev/null
}
mk a0 app0 1.0.0 1 "$WORK/author.pem"   # what the device runs first
mk a1 app1 1.1.0 1 "$WORK/author.pem"   # the next version ...
mk a2 app1 1.1.0 2 "$WORK/author.pem"   # ... re-signed with a higher security counter
mk b1 app1 1.1.0 1 "$WORK/other.pem"    # ... and signed by another key
idof() { sha256sum "$WORK/$1.alim" | cut -c1-64; }
A0=$(idof a0); A1=$(idof a1); A2=$(idof a2); B1=$(idof b1)
P1=$("$AIRLIFT" image inspect --json "$WORK/a1.alim" | jq -r .image.payload_sha256)

# ---- upload -------------------------------------------------------------------------------
out=$("$AIRLIFT" image upload "$WORK/a0.alim" "$WORK/a1.alim" 2>&1); rc=$?
check "image upload exits 0 ($out)" test $rc -eq 0
check "upload names each image by the SHA-256 of its file" \
    grep -q "^uploaded $A0  application 1 1.0.0, security counter 1" <<<"$out"
check "and the second" grep -q "^uploaded $A1 " <<<"$out"
out=$("$AIRLIFT" images upload "$WORK/a1.alim" 2>&1)
check "the same file again is already held ($out)" grep -q "^already held $A1 " <<<"$out"
mk a1again app1 1.1.0 1 "$WORK/author.pem" # a1 signed once more: only the signature differs
check "signing twice makes two files" test "$(idof a1again)" != "$A1"
out=$("$AIRLIFT" image upload "$WORK/a1again.alim" 2>&1)
check "the same module signed again by the same key is the image held ($out)" \
    grep -q "^already held $A1 " <<<"$out"
out=$("$AIRLIFT" image upload "$WORK/b1.alim" 2>&1); rc=$?
check "the same payload signed by another key is a second image ($out)" \
    test $rc -eq 0 -a "$(grep -c "^uploaded $B1 " <<<"$out")" -eq 1
j=$("$AIRLIFT" --json image upload "$WORK/a1.alim")
check "upload --json: created false, the id, the payload" \
    test "$(jq -r '.images[0] | "\(.created) \(.id) \(.sha256) \(.file)"' <<<"$j")" = "false $A1 $P1 $WORK/a1.alim"
head -c 100 /dev/urandom >"$WORK/noise.alim"
out=$("$AIRLIFT" image upload "$WORK/noise.alim" 2>&1); rc=$?
check "a file that is not an image: exit 4 ($out)" test $rc -eq 4
check "and says so" grep -q "noise.alim: not a valid airlift image" <<<"$out"

# ---- list and show --------------------------------------------------------------------------
j=$("$AIRLIFT" --json image list --function application)
check "list --function application: the three application images" \
    test "$(jq '.images | length' <<<"$j")" -eq 3
j=$("$AIRLIFT" --json images list --version 1.1.0 --platform electron)
check "list --version 1.1.0: two images of one payload, two ids" \
    test "$(jq -r '[.images[] | .sha256] | unique | join(",")' <<<"$j") $(jq '[.images[].id] | unique | length' <<<"$j")" = "$P1 2"
out=$("$AIRLIFT" image list --function system --version 0.7.0)
check "list in text: a header and one line per image" \
    test "$(grep -c '^ID ' <<<"$out") $(grep -c ' system 1 ' <<<"$out")" = "1 1"
out=$("$AIRLIFT" image list --function user 2>&1); rc=$?
check "a bad --function: exit 2 ($out)" test $rc -eq 2
check "naming the choices" grep -q -- "--function 'user': expected bootloader, system, application or radio" <<<"$out"
out=$("$AIRLIFT" image show "$A0")
check "show: every field" \
    test "$(grep -cE "^image $A0|security counter  1|payload SHA-256 |module            application 1" <<<"$out")" -eq 4
out=$("$AIRLIFT" image show "$P1" 2>&1); rc=$?
check "show by a payload two images share: exit 6 ($out)" test $rc -eq 6
check "naming both candidate ids" \
    grep -q "2 images have payload $P1: name one by its id: .*$A1.*$B1\|2 images have payload $P1: name one by its id: .*$B1.*$A1" <<<"$out"
r=$(api_json POST /v1/devices/d1/updates "{\"images\":[\"$P1\"],\"dry_run\":true}")
check "the API answers 409 ambiguous_image for that payload" \
    test "$(jq -r .error.code <<<"$r")" = ambiguous_image
out=$("$AIRLIFT" image show "$(idof a0 | cut -c1-20)" 2>&1); rc=$?
check "show with a short id: exit 2 ($out)" test $rc -eq 2
check "says what an image id is" grep -q "expected an image id or payload SHA-256, 64 hex digits" <<<"$out"
NOPE=$(printf 'f%.0s' {1..64})
out=$("$AIRLIFT" image remove "$NOPE" 2>&1); rc=$?
check "remove an unknown image: exit 6 ($out)" test $rc -eq 6
check "naming it" grep -q "image '$NOPE' does not exist" <<<"$out"
out=$("$AIRLIFT" image remove "$B1" 2>&1); rc=$?
check "remove an image nothing needs: exit 0 ($out)" test $rc -eq 0
check "says what went" grep -q "^removed image $B1 (application 1 1.1.0, security counter 1)" <<<"$out"
check "its file is gone" test ! -e "$WORK/data/images/$B1.alim"
check "and the payload names one image again" \
    test "$(api GET "/v1/images/$P1" | jq -r .id)" = "$A1"

# ---- the re-signed module: released, flashed, installed; the old one refused ------------------
out=$("$AIRLIFT" flash d1 "$WORK/a0.alim" --yes 2>&1); rc=$?
check "flash a0 (counter 1) installs (exit $rc)" test $rc -eq 0
out=$("$AIRLIFT" image upload "$WORK/a2.alim" 2>&1); rc=$?
check "the payload re-signed with counter 2 is a new image ($out)" \
    test $rc -eq 0 -a "$(grep -c "^uploaded $A2  application 1 1.1.0, security counter 2" <<<"$out")" -eq 1
"$AIRLIFT" products create tracker --platform electron >/dev/null
out=$("$AIRLIFT" releases create tracker 1.1.0 "$WORK/a2.alim" 2>&1); rc=$?
check "a release of the re-signed image ($out)" test $rc -eq 0
check "the release names the image by its id" \
    test "$(api GET /v1/products/tracker/releases/1.1.0 | jq -r '.images | join(",")')" = "$A2"
out=$("$AIRLIFT" flash d1 "$WORK/a2.alim" --yes 2>&1); rc=$?
check "flash a2 installs (exit $rc)" test $rc -eq 0
U=$(api GET /v1/devices/d1/updates | jq -r '.updates[0].id')
check "the update sent image a2, not a1 of the same payload" \
    test "$(api GET "/v1/updates/$U" | jq -r '[.images[], .steps[].image] | unique | join(",")')" = "$A2"
check "the device runs 1.1.0" \
    test "$(api GET /v1/devices/d1 | jq -r '.inventory.modules[] | select(.function=="application") | .version + " " + .sha256')" = "1.1.0 $P1"
out=$("$AIRLIFT" flash d1 "$WORK/a0.alim" --yes 2>&1); rc=$?
check "flashing the old image back fails: exit 7 ($rc)" test $rc -eq 7
U=$(api GET /v1/devices/d1/updates | jq -r '.updates[0].id')
up=$(api GET "/v1/updates/$U")
check "the device refused it: rollback ($(jq -r .why <<<"$up"))" \
    test "$(jq -r '.state + " " + (.why | test("rollback") | tostring)' <<<"$up")" = "failed true"
check "and still runs 1.1.0" \
    test "$(api GET /v1/devices/d1 | jq -r '.inventory.modules[] | select(.function=="application") | .version')" = 1.1.0

# ---- removal refused while needed, allowed after --------------------------------------------
out=$("$AIRLIFT" image remove "$A2" 2>&1); rc=$?
check "remove an image a release needs: exit 15 ($rc)" test $rc -eq 15
check "naming the release ($out)" \
    grep -q "^airlift: image $A2 is needed by release tracker 1.1.0: it stays" <<<"$out"
j=$("$AIRLIFT" --json image remove "$A2" 2>/dev/null)
check "--json: the error with exit code 15" test "$(jq .error.exit_code <<<"$j")" -eq 15
check "the image is still held" test "$(api GET "/v1/images/$A2" | jq -r .id)" = "$A2"
device d2 # never runs: its update stays queued
U2=$(api_json POST /v1/devices/d2/updates "{\"images\":[\"$A1\"]}" | jq -r .id)
check "an update for d2 wants a1" test "$U2" -gt 0
out=$("$AIRLIFT" image remove "$A1" 2>&1); rc=$?
check "remove an image an active update needs: exit 15 ($rc)" test $rc -eq 15
check "naming the update ($out)" grep -q "is needed by update $U2 (device d2): it stays" <<<"$out"
api POST "/v1/updates/$U2/cancel" >/dev/null
out=$("$AIRLIFT" image remove "$A1" 2>&1); rc=$?
check "once the update is cancelled, a1 can go ($out)" test $rc -eq 0
check "a1's file is gone" test ! -e "$WORK/data/images/$A1.alim"
ls "$WORK/data/transfers" >"$WORK/transfers.before" 2>/dev/null
check "transfers were made from a0 (a patch a0 -> a2)" grep -q "$A0" "$WORK/transfers.before"
out=$("$AIRLIFT" image remove "$A0" 2>&1); rc=$?
check "a0 (its updates ended) can go ($out)" test $rc -eq 0
check "with every transfer made from or to it" \
    test "$(ls "$WORK/data/transfers" | grep -c "$A0")" -eq 0
check "the transfers of other images stay" \
    test "$(ls "$WORK/data/transfers" | grep -c "^$A2")" -ge 1
check "image.removed events" \
    test "$(api GET '/v1/events?type=image.removed&limit=100' | jq '[.events[] | select(.type=="image.removed")] | length')" -eq 3
check "list no longer shows them" \
    test "$("$AIRLIFT" --json image list --function application | jq -r '[.images[].id] | join(",")')" = "$A2"

# ---- one maximum image size -----------------------------------------------------------------
head -c $((16 * 1024 * 1024)) /dev/zero >"$WORK/big.bin"
"$AIRLIFT" image create --key "$WORK/author.pem" -o "$WORK/big.alim" "${APPARGS[@]}" \
    --version 9.0.0 "$WORK/big.bin" >/dev/null 2>&1
check "image create makes an image of a 16 MiB payload" test -s "$WORK/big.alim"
out=$("$AIRLIFT" image upload "$WORK/big.alim" 2>&1); rc=$?
check "and airliftd takes it (it answered 413): $out" test $rc -eq 0
check "as a new image" grep -q "^uploaded $(idof big) " <<<"$out"
head -c $((16 * 1024 * 1024 + 1)) /dev/zero >"$WORK/big.bin"
out=$("$AIRLIFT" image create --key "$WORK/author.pem" -o "$WORK/big2.alim" "${APPARGS[@]}" \
    --version 9.0.1 "$WORK/big.bin" 2>&1); rc=$?
check "a payload over 16 MiB: create exits 4 ($rc)" test $rc -eq 4
check "naming both maximums ($out)" \
    grep -q "16777217 bytes; an image payload is at most 16777216 bytes (an image file at most 16777664 bytes, header included, what airliftd takes)" <<<"$out"
check "and writes nothing" test ! -e "$WORK/big2.alim"
head -c $((16 * 1024 * 1024 + 448 + 1)) /dev/zero >"$WORK/huge.alim"
out=$("$AIRLIFT" image upload "$WORK/huge.alim" 2>&1); rc=$?
check "upload of a file over the maximum: exit 4 ($rc)" test $rc -eq 4
check "naming the maximum ($out)" \
    grep -q "huge.alim: larger than the most an image file may be, 16777664 bytes (header included): airliftd would refuse it" <<<"$out"
finish
