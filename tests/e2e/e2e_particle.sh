#!/usr/bin/env bash
# Particle modules end to end (issue 16, item 1). Bootloader and radio versions as users know
# them (docs/api.md, "Version labels"): a bootloader wrapped from a Particle module is
# 1006.0.0 in its image, and
# "bootloader 1006 (Device OS 2.2.0)" in the server's image list, the device's inventory
# (GET /v1/devices, /v1/devices/NAME), `airlift image list|show` and `airlift devices
# list|show`; the Boron's SoftDevice is "radio stack 202 (SoftDevice S140 7.0.1, Device OS
# 1.4.0)". A bootloader whose version was set by hand gets no label. The real SoftDevice
# module (its header dropped when written, DROP_MODULE_INFO) installs on a simulated nRF52840
# over the air and lands in flash at 0x1000 exactly as Device OS writes it. A corrupt Particle
# module is refused before signing, naming the file and what is wrong.
BUILD=$1
. "$(dirname "$0")/lib.sh"
start_server
sign_device_os
DATA=$(cd "$(dirname "$0")/../data/particle" && pwd)
BL_LABEL="bootloader 1006 (Device OS 2.2.0)"
SD_LABEL="radio stack 202 (SoftDevice S140 7.0.1, Device OS 1.4.0)"

# The image list: the label next to the version.
bl=$(api GET "/v1/images?function=bootloader&platform=10" | jq -c '.images[0] | [.version, .version_label]')
check "the Electron bootloader image: 1006.0.0, labelled ($bl)" \
    test "$bl" = "[\"1006.0.0\",\"$BL_LABEL\"]"
SD=$(sign softdevice "$DATA/boron-softdevice@2.2.0.bin")
sd=$(api GET "/v1/images?function=radio" | jq -c '.images[0] | [.index, .version, .version_label]')
check "the Boron SoftDevice image: radio 0, 202.0.0, labelled ($sd)" \
    test "$sd" = "[0,\"202.0.0\",\"$SD_LABEL\"]"
# Its payload is what Device OS writes at 0x1000: the SoftDevice without the 24-byte
# module_info in front and the suffix behind (flag DROP_MODULE_INFO), whose SHA-256 is the one
# the suffix holds.
sdp=$(api GET "/v1/images?function=radio" | jq -c '.images[0] | [.link_address, .payload_size, .sha256]')
check "the SoftDevice's payload is the binary without header and suffix ($sdp)" \
    test "$sdp" = '["0x00001000",152984,"939fee60b4b8dcb8cf25533a46ba8774c418174b80d5fad5e1f89064c04d8bb4"]'
out=$("$AIRLIFT" image create --key "$WORK/author.pem" -o "$WORK/sd2.alim" "$DATA/boron-softdevice@2.2.0.bin")
check "airlift image create says so" grep -qx "  payload: bytes 24..153008 of the file (152984 bytes): the module without its header and suffix (flag DROP_MODULE_INFO), what Device OS writes at 0x00001000" <<<"$out"
# A dependency's minimum is labelled too: Boron system part 1 of 2.2.0 needs bootloader 1005.
sign boron-sys "$DATA/boron-system-part1@2.2.0.bin" >/dev/null
deps=$(api GET "/v1/images?function=system&platform=13" | jq -c '[.images[0].dependencies[] | .min_version_label]')
check "its dependencies' minimums are labelled ($deps)" \
    test "$deps" = "[\"bootloader 1005 (Device OS 2.0.1)\",\"$SD_LABEL\"]"
bsid=$(sha256sum "$WORK/boron-sys.alim" | cut -c1-64)
check "airlift image show: the dependency with its label" \
    grep -qxF "  dependencies      bootloader >= 1005.0.0 [bootloader 1005 (Device OS 2.0.1)]" \
    <<<"$("$AIRLIFT" image show "$bsid")"
head -c 4000 /dev/urandom >"$WORK/own-bl.bin"
sign own-bl "$WORK/own-bl.bin" --function bootloader --platform 10 --version 1.2.0 \
    --link-address 0x08000000 >/dev/null
own=$(api GET "/v1/images?function=bootloader&version=1.2.0" | jq -c '.images[0] | has("version_label")')
check "a bootloader versioned by hand (1.2.0) has no label ($own)" test "$own" = false
sys=$(api GET "/v1/images?function=system&version=0.7.0" | jq -c '[.images[] | has("version_label")] | unique')
check "nor do system parts: their version is the release ($sys)" test "$sys" = "[false]"

"$AIRLIFT" image list --function bootloader >"$WORK/list.txt"
check "airlift image list has a KNOWN AS column" grep -q "BYTES  KNOWN AS\$" "$WORK/list.txt"
check "with the label on the bootloader's line" \
    grep -Eq " 1006\.0\.0 .*  bootloader 1006 \(Device OS 2\.2\.0\)\$" "$WORK/list.txt"
id=$(api GET "/v1/images?function=bootloader&platform=10&version=1006.0.0" | jq -r '.images[0].id')
"$AIRLIFT" image show "$id" >"$WORK/show.txt"
check "airlift image show: 'known as'" grep -qx "  known as          $BL_LABEL" "$WORK/show.txt"
"$AIRLIFT" image inspect "$WORK/bootloader-2.3.0.alim" >"$WORK/inspect.txt"
check "airlift image inspect: the label after the version" \
    grep -qx "version:          1006.0.0 \[$BL_LABEL\]" "$WORK/inspect.txt"

# A device that runs the bootloader reports 1006.0.0; the server labels it.
device e1
run_device e1
check "e1 reports its inventory" wait_device_reported e1
inv=$(api GET /v1/devices/e1 | jq -c '.inventory.modules[] | select(.function == "bootloader") | [.version, .version_label]')
check "GET /v1/devices/e1: the inventory's bootloader is labelled ($inv)" \
    test "$inv" = "[\"1006.0.0\",\"$BL_LABEL\"]"
sysl=$(api GET /v1/devices/e1 | jq -c '[.inventory.modules[] | select(.function == "system") | has("version_label")] | unique')
check "its system parts are not ($sysl)" test "$sysl" = "[false]"
lst=$(api GET /v1/devices | jq -c '.devices[0].modules[] | select(.function == "bootloader") | .version_label')
check "GET /v1/devices: the same label in the device list ($lst)" test "$lst" = "\"$BL_LABEL\""
"$AIRLIFT" devices show e1 >"$WORK/dshow.txt"
check "airlift devices show: the label at the end of the bootloader's line" \
    grep -Eq "^  bootloader   0  1006\.0\.0 +[0-9a-f]{12}  bootloader 1006 \(Device OS 2\.2\.0\)\$" "$WORK/dshow.txt"
"$AIRLIFT" devices list >"$WORK/dlist.txt"
check "airlift devices list: 'bootloader 1006 (Device OS 2.2.0)'" \
    grep -q "bootloader 1006 (Device OS 2\.2\.0), system 0\.6\.4" "$WORK/dlist.txt"

# The real SoftDevice over the air to a simulated Boron on the nrf52840 board (Nordic's map:
# the SoftDevice slot at 0x1000, numbered radio 1 on that board, hence --index 1).
stand_in() { # stand_in NAME FUNCTION INDEX VERSION SIZE LINK: a random module, signed
    head -c "$5" /dev/urandom >"$WORK/$1.bin"
    sign "$1" "$WORK/$1.bin" --function "$2" --index "$3" --platform 13 --version "$4" \
        --link-address "$6" >/dev/null
}
stand_in b-bl bootloader 0 1006.0.0 12000 0x000F8000
stand_in b-sd radio 1 201.0.0 60000 0x00001000
stand_in b-sys system 1 2.2.0 30000 0x00027000
sign softdevice-1 "$DATA/boron-softdevice@2.2.0.bin" --index 1 >/dev/null
SD1=$(sha256sum "$WORK/softdevice-1.alim" | cut -c1-64) # its payload is radio 0's too: by id
reg=$(api_json POST /v1/devices '{"name":"b1","platform":13}')
"$DEVICE" create "$WORK/b1" --trust "$WORK/author.pub.pem" --board nrf52840 --platform boron >/dev/null
"$DEVICE" factory "$WORK/b1" "$WORK/b-bl.alim" "$WORK/b-sd.alim" "$WORK/b-sys.alim" >/dev/null
"$DEVICE" provision "$WORK/b1" --server "127.0.0.1:$COAP" \
    --identity "$(jq -r .identity <<<"$reg")" --psk "$(jq -r .psk <<<"$reg")" >/dev/null
run_device b1
check "b1 reports its inventory" wait_device_reported b1
U=$(api_json POST /v1/devices/b1/updates "{\"images\":[\"$SD1\"]}" | jq -r .id)
check "the SoftDevice update $U is queued" test "$U" -gt 0
check "and succeeds" wait_state "$U" succeeded
radio=$(api GET /v1/devices/b1 | jq -c '.inventory.modules[] | select(.function == "radio") | [.index, .version, .version_label]')
check "b1 runs radio 1 202.0.0, labelled ($radio)" \
    test "$radio" = "[1,\"202.0.0\",\"$SD_LABEL\"]"
boot=$(api GET /v1/devices/b1 | jq -r '.inventory.modules[] | select(.function == "bootloader") | .version_label')
check "its bootloader 1006.0.0 on a Boron: '$BL_LABEL' ($boot)" test "$boot" = "$BL_LABEL"
at=$(dd if="$WORK/b1/internal.flash" bs=4096 skip=1 count=38 status=none | head -c 152984 | sha256sum | cut -c1-64)
check "flash from 0x1000 holds the SoftDevice binary, as Device OS writes it ($at)" \
    test "$at" = 939fee60b4b8dcb8cf25533a46ba8774c418174b80d5fad5e1f89064c04d8bb4
sp=$(od -An -tx4 -j 4096 -N 4 "$WORK/b1/internal.flash" | tr -d ' ')
check "its first word is the SoftDevice's initial stack pointer, not a module_info ($sp)" \
    test "$sp" = 200013c8

# Corrupt modules are refused before signing (exit 4), naming the file and what is wrong.
cp "$FW/bootloader-2.3.0.bin" "$WORK/flipped.bin"
printf '\x55' | dd of="$WORK/flipped.bin" bs=1 seek=4096 conv=notrunc status=none
head -c 8000 "$FW/bootloader-2.3.0.bin" >"$WORK/cut.bin"
head -c $(($(stat -c %s "$FW/bootloader-2.3.0.bin") - 2)) "$FW/bootloader-2.3.0.bin" >"$WORK/nocrc.bin"
refused() { # refused FILE MESSAGE-AFTER-"FILE: ...(Electron): "
    local err rc
    err=$(cd "$WORK" && "$AIRLIFT" image create --key author.pem -o "$1.alim" "$1" 2>&1); rc=$?
    check "$1 refused with exit 4 ($rc)" test "$rc" -eq 4
    check "$1: the message says why ($err)" test "$err" = \
        "airlift: $1: Particle bootloader module for platform 10 (Electron): $2; not signed (if it is not a Particle module, give --input raw)"
    check "$1: nothing written" test ! -e "$WORK/$1.alim"
}
refused flipped.bin "bad CRC: the CRC-32 of its 15668 module bytes is 0xd7c39870, the trailer at offset 15668 says 0x25dae5b8 (the file is corrupt)"
refused cut.bin "truncated: its module_info (at 0x184) says the module is 15668 bytes (0x08000000..0x08003d34) plus a 4-byte CRC, but the file has only 8000 bytes"
refused nocrc.bin "truncated: the file ends 2 bytes after the module (0x08000000..0x08003d34), before the 4-byte CRC-32 that must follow it"
finish
