#!/usr/bin/env bash
# End-to-end tests of the airlift CLI on the real Electron modules.
# Usage: cli_test.sh AIRLIFT_BINARY FIRMWARE_DIR WORK_DIR CASE
# Each CASE is one CTest test; it prints what it checks and exits non-zero on the first failure.
set -uo pipefail

AIRLIFT=$1
FIRMWARE=$2
WORK=$3
CASE=$4
ELECTRON=$FIRMWARE/electron

rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK" || exit 1

fail() { echo "FAIL [$CASE]: $*" >&2; exit 1; }

# run CODE ARGS...: run airlift, keep stdout/stderr in out.txt/err.txt, check the exit code.
run() {
  local want=$1; shift
  "$AIRLIFT" "$@" >out.txt 2>err.txt
  local got=$?
  if [ "$got" -ne "$want" ]; then
    echo "--- stdout"; cat out.txt; echo "--- stderr"; cat err.txt
    fail "airlift $* exited $got, expected $want"
  fi
}
# has FILE TEXT: FILE contains TEXT (fixed string).
has() { grep -qF -- "$2" "$1" || { cat "$1"; fail "$1 lacks '$2'"; }; }
# json EXPR: evaluate a Python expression on the JSON in out.txt (bound to j); must be true.
json() {
  python3 -c 'import json,sys; j=json.load(open("out.txt")); sys.exit(0 if eval(sys.argv[1]) else 1)' "$1" \
    || { cat out.txt; fail "JSON check failed: $1"; }
}
# flip FILE OFFSET: invert one byte (negative offsets count from the end).
flip() {
  python3 - "$1" "$2" <<'EOF'
import sys
path, off = sys.argv[1], int(sys.argv[2])
b = bytearray(open(path, 'rb').read())
b[off] ^= 0xFF
open(path, 'wb').write(b)
EOF
}
keygen() { run 0 keys generate --out "$1"; }

case_keys() {
  run 0 keys generate --out k.pem
  [ -f k.pem ] && [ -f k.pub.pem ] || fail "key files missing"
  [ "$(stat -c %a k.pem)" = 600 ] || fail "private key mode is $(stat -c %a k.pem), not 600"
  id=$(sed -n 's/^key id: *\([0-9a-f]\{16\}\)$/\1/p' out.txt)
  [ -n "$id" ] || { cat out.txt; fail "no 16-hex key id printed"; }
  run 3 keys generate --out k.pem
  has err.txt "k.pem"; has err.txt "--force"
  run 0 keys show k.pub.pem --json
  json "j['key_id'] == '$id' and j['kind'] == 'public'"
  run 0 keys show k.pem
  has out.txt "$id"; has out.txt "private key"
  run 0 keys generate --out k.pem --force --json
  json "len(j['key_id']) == 16 and j['key_id'] != '$id' and j['public_key'] == 'k.pub.pem'"
  run 0 keys generate -o other
  [ -f other ] && [ -f other.pub.pem ] || fail "other / other.pub.pem missing"
  run 5 keys show /dev/null
  echo "garbage" > bad.pem
  run 5 keys show bad.pem
  has err.txt "bad.pem"
}

# Expected Device OS release of a file name: system-part3-0.7.0.bin -> 0.7.0
release_of() { basename "$1" .bin | sed 's/^.*-\([0-9.]*\)$/\1/'; }

case_wrap_all() {
  keygen k.pem
  n=0
  for bin in "$ELECTRON"/*.bin; do
    name=$(basename "$bin" .bin)
    run 0 image create --key k.pem -o "$name.alim" "$bin"
    run 0 image inspect "$name.alim" --json
    sha=$(sha256sum "$bin" | cut -d' ' -f1)
    size=$(stat -c %s "$bin")
    json "j['parsed'] and j['size_ok'] and j['payload_sha256_ok'] and \
          j['image']['platform'] == 10 and j['image']['payload_size'] == $size and \
          j['image']['payload_sha256'] == '$sha' and j['particle_module'] is not None"
    case $name in
      bootloader-*)
        json "j['image']['function'] == 'bootloader' and j['image']['index'] == 0 and \
              j['image']['version'] == '1006.0.0' and j['image']['dependencies'] == [] and \
              j['image']['link_address'] == 0x08000000" ;;
      system-part1-*)
        json "j['image']['function'] == 'system' and j['image']['index'] == 3 and \
              j['image']['version'] == '$(release_of "$bin")' and \
              j['image']['link_address'] == 0x08060000" ;;
      system-part2-*)
        json "j['image']['function'] == 'system' and j['image']['index'] == 1 and \
              j['image']['version'] == '$(release_of "$bin")' and \
              j['image']['link_address'] == 0x08020000" ;;
      system-part3-*)
        json "j['image']['function'] == 'system' and j['image']['index'] == 2 and \
              j['image']['version'] == '$(release_of "$bin")' and \
              j['image']['link_address'] == 0x08040000" ;;
      *) fail "unexpected firmware file $name" ;;
    esac
    run 0 image verify "$name.alim" --key k.pub.pem
    has out.txt "OK"
    n=$((n + 1))
  done
  [ "$n" -eq 29 ] || fail "wrapped $n modules, expected 29"

  # Real dependencies, as Device OS declares them.
  run 0 image inspect system-part3-0.7.0.alim --json
  json "[(d['function'], d['index'], d['min_version']) for d in j['image']['dependencies']] == \
        [('system', 1, '0.7.0'), ('bootloader', 0, '101.0.0')]"
  run 0 image inspect system-part3-0.7.0.alim
  has out.txt "system 1 >= 0.7.0"; has out.txt "bootloader 0 >= 101.0.0"
  has out.txt "module:           system 2"; has out.txt "version:          0.7.0"
  run 0 image inspect system-part1-0.7.0.alim --json
  json "[(d['function'], d['index'], d['min_version']) for d in j['image']['dependencies']] == \
        [('system', 2, '0.6.4')]"
  run 0 image inspect system-part3-2.3.1.alim --json
  json "[(d['function'], d['index'], d['min_version']) for d in j['image']['dependencies']] == \
        [('system', 1, '2.3.1'), ('bootloader', 0, '1003.0.0')]"
  run 0 image inspect system-part2-0.6.4.alim --json
  json "[(d['function'], d['index'], d['min_version']) for d in j['image']['dependencies']] == \
        [('system', 3, '0.6.4')]"
  ls ./*.tmp.* >/dev/null 2>&1 && fail "temporary files left behind"
  return 0
}

case_verify() {
  keygen k.pem
  run 0 image create --key k.pem -o p3.alim "$ELECTRON/system-part3-0.7.0.bin"
  run 0 image verify p3.alim --key k.pub.pem
  has out.txt "p3.alim: OK"
  run 0 image verify p3.alim --key k.pem --platform 10
  run 0 image verify p3.alim -k k.pub.pem --json
  json "j['ok'] and j['error'] is None and j['image']['version'] == '0.7.0'"
  run 4 image verify p3.alim --key k.pub.pem --platform 6
  has err.txt "p3.alim"; has err.txt "(wrong_platform)"; has err.txt "platform 10, not 6"
  run 4 image verify p3.alim --key k.pub.pem --platform 6 --json
  json "not j['ok'] and j['error']['name'] == 'wrong_platform'"
}

case_tamper() {
  keygen k.pem
  run 0 image create --key k.pem -o good.alim "$ELECTRON/system-part3-0.7.0.bin"
  run 0 image inspect good.alim --json
  hs=$(python3 -c 'import json; print(json.load(open("out.txt"))["image"]["header_size"])')
  # verify_flip OFFSET ERROR_NAME
  verify_flip() {
    cp good.alim t.alim; flip t.alim "$1"
    run 4 image verify t.alim --key k.pub.pem
    has err.txt "t.alim"; has err.txt "($2)"
  }
  verify_flip 0 bad_magic
  verify_flip $((hs - 1)) bad_signature        # last byte of the signature
  verify_flip $((hs - 64)) bad_signature       # first byte of the signature
  verify_flip "$hs" hash_mismatch              # first payload byte
  verify_flip 60000 hash_mismatch
  verify_flip -1 hash_mismatch                 # last payload byte (Particle CRC)
  run 4 image inspect t.alim
  has out.txt "HASH MISMATCH"
  # The key id: found in the header, changed -> unknown key.
  run 0 image inspect good.alim --json
  kid_off=$(python3 -c '
import json
j = json.load(open("out.txt"))
kid = bytes.fromhex(j["image"]["key_id"])
print(open("good.alim", "rb").read(j["image"]["header_size"]).find(kid))')
  [ "$kid_off" -gt 0 ] || fail "key id not found in the header"
  verify_flip "$kid_off" unknown_key
  # Truncated and extended files.
  head -c -1 good.alim > t.alim
  run 4 image verify t.alim --key k.pub.pem; has err.txt "(size_mismatch)"
  cp good.alim t.alim; printf 'x' >> t.alim
  run 4 image verify t.alim --key k.pub.pem; has err.txt "(size_mismatch)"
  head -c 100 good.alim > t.alim
  run 4 image verify t.alim --key k.pub.pem; has err.txt "(truncated)"

  # Every single byte of a small image, flipped in turn, makes verification fail with 4.
  head -c 200 /dev/urandom > small.bin
  run 0 image create --key k.pem -o small.alim --function application --platform 10 \
      --version 1.0.0 --dep system:1:0.7.0 small.bin
  size=$(stat -c %s small.alim)
  mkdir flipped
  python3 - <<'EOF'
b = open('small.alim', 'rb').read()
for off in range(len(b)):
    t = bytearray(b); t[off] ^= 0xFF
    open('flipped/%d.alim' % off, 'wb').write(t)
EOF
  for ((off = 0; off < size; off++)); do
    "$AIRLIFT" image verify "flipped/$off.alim" --key k.pub.pem >/dev/null 2>err.txt
    rc=$?
    [ "$rc" -eq 4 ] || fail "byte $off flipped: exit $rc, expected 4"
  done
  echo "flipped each of $size bytes: all rejected"
}

case_wrong_key() {
  keygen a.pem
  keygen b.pem
  run 0 image create --key a.pem -o img.alim "$ELECTRON/bootloader-2.3.0.bin"
  run 4 image verify img.alim --key b.pub.pem
  has err.txt "img.alim"; has err.txt "unknown key"; has err.txt "(unknown_key)"
  run 4 image verify img.alim --key b.pub.pem --json
  json "j['error']['name'] == 'unknown_key' and j['error']['code'] == 27"
  run 0 image verify img.alim --key b.pub.pem --key a.pub.pem
  run 5 image create --key a.pub.pem -o x.alim "$ELECTRON/bootloader-2.3.0.bin"
  has err.txt "a.pub.pem"; has err.txt "private key"
}

case_usage() {
  keygen k.pem
  run 2
  run 2 nosuchcommand
  has err.txt "nosuchcommand"
  run 2 image
  run 2 image frobnicate
  run 2 --bogus
  run 2 image inspect
  run 2 image inspect a b
  run 2 image inspect --bogus x
  run 2 image verify x.alim
  has err.txt "--key"
  run 2 image create --key k.pem "$ELECTRON/bootloader-2.3.0.bin"
  has err.txt "-o"
  run 2 image create -o x.alim "$ELECTRON/bootloader-2.3.0.bin"
  run 2 image create --key k.pem -o x.alim
  run 2 image create --key k.pem -o x.alim --index 16 "$ELECTRON/bootloader-2.3.0.bin"
  run 2 image create --key k.pem -o x.alim --index -1 "$ELECTRON/bootloader-2.3.0.bin"
  run 2 image create --key k.pem -o x.alim --platform 70000 "$ELECTRON/bootloader-2.3.0.bin"
  run 2 image create --key k.pem -o x.alim --version 1.0 "$ELECTRON/bootloader-2.3.0.bin"
  run 2 image create --key k.pem -o x.alim --version 01.0.0 "$ELECTRON/bootloader-2.3.0.bin"
  run 2 image create --key k.pem -o x.alim --function kernel "$ELECTRON/bootloader-2.3.0.bin"
  run 2 image create --key k.pem -o x.alim --dep system:1 "$ELECTRON/bootloader-2.3.0.bin"
  run 2 image create --key k.pem -o x.alim --dep system:x:1.0.0 "$ELECTRON/bootloader-2.3.0.bin"
  run 2 image create --key k.pem -o x.alim --link-address 0x12zz "$ELECTRON/bootloader-2.3.0.bin"
  run 2 image create --key k.pem -o x.alim --security-counter 4294967296 \
      "$ELECTRON/bootloader-2.3.0.bin"
  run 2 image create --key k.pem -o x.alim --index
  run 2 image verify x.alim --key k.pem --platform
  run 2 keys generate extra
  # A raw binary needs its metadata.
  head -c 1000 /dev/zero > raw.bin
  run 2 image create --key k.pem -o x.alim raw.bin
  has err.txt "raw.bin"; has err.txt "--function"
  [ -e x.alim ] && fail "x.alim written despite usage errors"
  return 0
}

case_files() {
  keygen k.pem
  run 3 image inspect nosuch.alim
  has err.txt "nosuch.alim"
  run 3 image verify nosuch.alim --key k.pem
  run 3 image create --key k.pem -o x.alim nosuch.bin
  has err.txt "nosuch.bin"
  mkdir adir
  run 3 image inspect adir
  has err.txt "adir"; has err.txt "directory"
  run 3 image create --key k.pem -o nodir/x.alim "$ELECTRON/bootloader-2.3.0.bin"
  has err.txt "nodir/x.alim"
  run 5 image create --key nosuch.pem -o x.alim "$ELECTRON/bootloader-2.3.0.bin"
  has err.txt "nosuch.pem"
  run 5 image verify x.alim --key nosuch.pem
  # A failed create leaves an existing output untouched; a good one replaces it whole.
  echo "old" > keep.alim
  run 2 image create --key k.pem -o keep.alim --version bad "$ELECTRON/bootloader-2.3.0.bin"
  [ "$(cat keep.alim)" = old ] || fail "keep.alim changed by a failed create"
  run 0 image create --key k.pem -o keep.alim "$ELECTRON/bootloader-2.3.0.bin"
  run 0 image verify keep.alim --key k.pem
  ls ./*.tmp.* >/dev/null 2>&1 && fail "temporary files left behind"
  if [ "$(id -u)" -ne 0 ]; then
    cp keep.alim locked.alim; chmod 000 locked.alim
    run 3 image inspect locked.alim
    has err.txt "locked.alim"
    mkdir ro; chmod 555 ro
    run 3 image create --key k.pem -o ro/x.alim "$ELECTRON/bootloader-2.3.0.bin"
  fi
  return 0
}

case_metadata() {
  keygen k.pem
  # Raw binaries with every flag.
  head -c 4096 /dev/urandom > app.bin
  run 0 image create --key k.pem -o app.alim --function application --index 1 --platform 10 \
      --version 1.2.3-rc.1 --security-counter 5 --link-address 0x08080000 \
      --dep system:1:0.7.0 --dep bootloader:0:101.0.0 app.bin
  run 0 image inspect app.alim --json
  json "j['image']['function'] == 'application' and j['image']['index'] == 1 and \
        j['image']['version'] == '1.2.3-rc.1' and j['image']['security_counter'] == 5 and \
        j['image']['link_address'] == 0x08080000 and j['particle_module'] is None and \
        [(d['function'], d['index'], d['min_version']) for d in j['image']['dependencies']] == \
        [('system', 1, '0.7.0'), ('bootloader', 0, '101.0.0')]"
  run 0 image verify app.alim --key k.pub.pem
  # Explicit flags override a Particle header.
  run 0 image create --key k.pem -o p3.alim --version 0.7.0-rc.6 --security-counter 3 \
      --json "$ELECTRON/system-part3-0.7.0.bin"
  json "j['image']['version'] == '0.7.0-rc.6' and j['image']['security_counter'] == 3 and \
        j['particle_module']['version'] == 207 and j['particle_module']['info_offset'] == 0x184"
  run 0 image create --key k.pem -o p3.alim --no-module-deps "$ELECTRON/system-part3-0.7.0.bin"
  run 0 image inspect p3.alim --json
  json "j['image']['dependencies'] == []"
  run 0 image create --key k.pem -o p3.alim --dep bootloader:0:200.0.0 \
      "$ELECTRON/system-part3-0.7.0.bin"
  run 0 image inspect p3.alim --json
  json "[(d['function'], d['index'], d['min_version']) for d in j['image']['dependencies']] == \
        [('system', 1, '0.7.0'), ('bootloader', 0, '200.0.0')]"

  # Unknown Device OS integers: a clear error, and the flags that get past it.
  python3 - "$ELECTRON/system-part3-0.7.0.bin" <<'EOF'
import hashlib, sys, zlib
def reseal(m):  # a valid module again: the suffix's SHA-256, then the CRC-32 trailer
    sha_at = len(m) - 4 - 34
    m[sha_at:sha_at + 32] = hashlib.sha256(m[:sha_at]).digest()
    m[-4:] = zlib.crc32(m[:-4]).to_bytes(4, 'big')
    return m
b = bytearray(open(sys.argv[1], 'rb').read())
v = bytearray(b); v[0x184 + 10:0x184 + 12] = (4242).to_bytes(2, 'little')
open('unknown-version.bin', 'wb').write(reseal(v))
d = bytearray(b); d[0x184 + 18:0x184 + 20] = (4343).to_bytes(2, 'little')
open('unknown-dep.bin', 'wb').write(reseal(d))
EOF
  run 2 image create --key k.pem -o u.alim unknown-version.bin
  has err.txt "unknown-version.bin"; has err.txt "4242"; has err.txt "--version"
  run 0 image create --key k.pem -o u.alim --version 9.9.9 unknown-version.bin
  run 2 image create --key k.pem -o u.alim unknown-dep.bin
  has err.txt "unknown-dep.bin"; has err.txt "dependency 1"; has err.txt "4343"
  has err.txt "--no-module-deps"
  run 0 image create --key k.pem -o u.alim --dep system:1:0.7.0 unknown-dep.bin
  run 0 image inspect u.alim --json
  json "sorted((d['function'], d['index'], d['min_version']) for d in j['image']['dependencies']) \
        == [('bootloader', 0, '101.0.0'), ('system', 1, '0.7.0')]"
  run 0 image create --key k.pem -o u.alim --no-module-deps unknown-dep.bin
}

case_output() {
  keygen k.pem
  run 0 --version
  has out.txt "airlift "
  run 0 --help
  has out.txt "Usage"; has out.txt "image"; has out.txt "keys"
  for cmd in "keys" "keys generate" "keys show" "image" "image create" "image inspect" \
             "image verify"; do
    # shellcheck disable=SC2086
    run 0 $cmd --help
    has out.txt "Usage: airlift $cmd"
    # shellcheck disable=SC2086
    run 0 help $cmd
    has out.txt "Usage: airlift $cmd"
  done
  run 0 image create --key k.pem -o b.alim --json "$ELECTRON/bootloader-2.2.0.bin"
  json "j['file'] == 'b.alim' and j['image']['function'] == 'bootloader'"
  run 0 --json image inspect b.alim
  json "j['parsed'] is True and j['signature_checked'] is False"
  run 4 image inspect "$ELECTRON/system-part1-0.6.4.bin" --json
  json "j['parsed'] is False and j['error']['name'] == 'bad_magic' and \
        j['particle_module']['function_name'] == 'system part'"
  run 4 image inspect "$ELECTRON/system-part1-0.6.4.bin"
  has err.txt "not a valid airlift image"; has err.txt "(bad_magic)"
  # Failures under --json: one JSON document with the exit code.
  run 3 --json image inspect nosuch.alim
  json "j['error']['exit_code'] == 3 and 'nosuch.alim' in j['error']['message']"
  run 2 image create --json --key k.pem nothing.bin
  json "j['error']['exit_code'] == 2"
  run 0 image inspect b.alim
  for field in "parsed:" "module:" "version:" "platform:" "security counter:" "link address:" \
               "dependencies:" "payload size:" "payload sha256:" "key id:" "signature:"; do
    has out.txt "$field"
  done
}

"case_$CASE" || fail "case returned $?"
echo "ok [$CASE]"
