#!/usr/bin/env bash
# test_inputs_cli.sh AIRLIFT FW_DIR PARTICLE_DATA WORK - `airlift image create` on every kind of
# input: ELF and Intel HEX built by arm-none-eabi-gcc (tests/data/elf), real Gen 3 and P2
# Particle modules, and corrupt or unflattenable files, which must be refused and not signed.
set -u
AIRLIFT=$1 FW=$2 DATA=$3 WORK=$4
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK" || exit 1

fail() { echo "FAIL [inputs]: $*" >&2; exit 1; }
run() {
  local want=$1; shift
  "$AIRLIFT" "$@" >out.txt 2>err.txt
  local got=$?
  if [ "$got" -ne "$want" ]; then
    echo "--- stdout"; cat out.txt; echo "--- stderr"; cat err.txt
    fail "airlift $* exited $got, expected $want"
  fi
}
has() { grep -qF -- "$2" "$1" || { cat "$1"; fail "$1 lacks '$2'"; }; }
json() {
  python3 -c 'import json,sys; j=json.load(open("out.txt")); sys.exit(0 if eval(sys.argv[1]) else 1)' "$1" \
    || { cat out.txt; fail "JSON check failed: $1"; }
}
# payload_is IMAGE FILE: the image's payload is exactly FILE.
payload_is() {
  python3 - "$1" "$2" <<'PY' || fail "payload of $1 is not $2"
import sys
img = open(sys.argv[1], 'rb').read()
hs = int.from_bytes(img[6:8], 'little')
sys.exit(0 if img[-len(open(sys.argv[2], 'rb').read()):] == open(sys.argv[2], 'rb').read()
         and len(img) - hs == len(open(sys.argv[2], 'rb').read()) else 1)
PY
}

run 0 keys generate --out k.pem
META=(--function application --platform 6 --version 1.0.0)

# ELF and HEX: link address from the file, payload = objcopy -O binary --gap-fill 0xff.
for v in stm32:0x08020000 nrf:0x00030000 gap:0x10000000; do
  name=${v%%:*} base=$((${v#*:}))
  for ext in elf hex; do
    run 0 image create -k k.pem -o $name-$ext.alim "${META[@]}" --json "$FW/fw-$name.$ext"
    json "j['image']['link_address'] == $base and j['flattened']['base'] == $base"
    json "j['input_kind'] == ('elf' if '$ext' == 'elf' else 'ihex') and j['particle_module'] is None"
    json "j['flattened']['entry'] is not None"
    payload_is $name-$ext.alim "$FW/fw-$name.bin"
  done
done
run 0 image create -k k.pem -o s.alim "${META[@]}" "$FW/fw-stm32.elf"
has out.txt "flattened ELF"; has out.txt "from 0x08020000"; has out.txt "entry 0x0802"
# --link-address overrides the file's.
run 0 image create -k k.pem -o o.alim "${META[@]}" --link-address 0x08000000 --json "$FW/fw-stm32.hex"
json "j['image']['link_address'] == 0x08000000"
# Without metadata flags: a usage error that says what to give.
run 2 image create -k k.pem -o x.alim "$FW/fw-stm32.elf"
has err.txt "--function"
# Segments 2 GiB apart: refused, nothing written.
run 4 image create -k k.pem -o split.alim "${META[@]}" "$FW/fw-split.elf"
has err.txt "fw-split.elf"; has err.txt "cannot flatten"
[ ! -e split.alim ] || fail "split.alim written"
run 4 image create -k k.pem -o split.alim "${META[@]}" "$FW/fw-split.hex"
has err.txt "cannot flatten"
# A broken HEX: the line is named.
sed '3s/^:\(..\)/:\1/; 3s/.$/0/' "$FW/fw-stm32.hex" | tr -d '\r' > bad.hex
sed -i '3s/..$/00/' bad.hex
run 4 image create -k k.pem -o bad.alim "${META[@]}" bad.hex
has err.txt "bad.hex"; has err.txt "line 3"
# An ELF cut short.
head -c 100 "$FW/fw-stm32.elf" > cut.elf
run 4 image create -k k.pem -o cut.alim "${META[@]}" cut.elf
has err.txt "cut.elf"; has err.txt "ELF file refused"

# Real Gen 3 and P2 modules wrap with no flags.
run 0 image create -k k.pem -o boron.alim --json "$DATA/boron-system-part1@2.2.0.bin"
json "j['image']['platform'] == 13 and j['image']['version'] == '2.2.0' and j['image']['function'] == 'system'"
json "j['particle_module']['platform_name'] == 'Boron' and j['particle_module']['crc_ok'] and j['particle_module']['sha256_ok']"
run 0 image create -k k.pem -o bl.alim "$DATA/boron-bootloader@2.2.0.bin"
has out.txt "bootloader 1006 (Device OS 2.2.0)"; has out.txt "(Boron)"
run 0 image create -k k.pem -o p2.alim "$DATA/tinker-5.0.0-p2.bin"
has out.txt "platform 32 (P2)"
# Corrupt modules: refused, the file named, never signed.
cp "$DATA/boron-bootloader@2.2.0.bin" flipped.bin
printf '\x55' | dd of=flipped.bin bs=1 seek=4096 conv=notrunc status=none
run 4 image create -k k.pem -o flipped.alim flipped.bin
has err.txt "flipped.bin"; has err.txt "bad CRC"; has err.txt "not signed"
[ ! -e flipped.alim ] || fail "flipped.alim written"
head -c 30000 "$DATA/boron-bootloader@2.2.0.bin" > short.bin
run 4 image create -k k.pem -o short.alim short.bin
has err.txt "short.bin"; has err.txt "truncated"
# The same bytes as raw: wraps, because the user says it is not a module.
run 0 image create -k k.pem -o raw.alim "${META[@]}" --input raw short.bin
run 4 image create -k k.pem -o x.alim --input particle "${META[@]}" "$FW/fw-stm32.bin"
has err.txt "no Particle module_info header"
# issue 16: Particle modules built here (tests/data/module/), as ELF and HEX: metadata from
# their module_info, the bootloader labelled.
if [ -f "$FW/mod-gen3.hex" ]; then
    run 0 image create -k k.pem -o mod3.alim "$FW/mod-gen3.hex"
    has out.txt "bootloader 0 1006.0.0, platform 13"
    has out.txt "bootloader 1006 (Device OS 2.2.0), platform 13 (Boron) (module_info at 0x200"
    run 0 image create -k k.pem -o mod2.alim --json "$FW/mod-gen2.elf"
    json "j['input_kind'] == 'elf' and j['image']['function'] == 'system' and j['image']['version'] == '2.3.1' and j['particle_module']['sha256_ok']"
    # The ELF as linked, before its CRC and SHA-256 are in: said so, not signed.
    run 4 image create -k k.pem -o unsealed.alim "$FW/mod-gen3.unsealed.elf"
    has err.txt "airlift: $FW/mod-gen3.unsealed.elf: the flattened ELF holds a Particle bootloader module header for platform 13 (Boron) at 0x200, but not an intact module: bad CRC: the CRC-32 of its 624 module bytes is 0xf502d78f, the trailer at offset 624 says 0x00000000 (the file is corrupt); not signed (an ELF or HEX file is a Particle module when it carries the module's CRC-32 and SHA-256 as the .bin of Device OS's build does; to wrap it as it is, give --function, --platform and --version)"
    [ ! -e unsealed.alim ] || fail "unsealed.alim written"
    run 0 image create -k k.pem -o unsealed.alim "${META[@]}" "$FW/mod-gen3.unsealed.elf"
fi
echo "inputs: OK"
