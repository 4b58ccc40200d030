#!/usr/bin/env bash
# The nRF52840 board end to end (issue 15, item 5; docs/flash-layout.md, docs/porting.md):
# a simulated Boron (platform 13) on Nordic's flash map (4 KiB pages from address 0, the
# SoftDevice as the radio slot at 0x1000, the bootloader at 0xF8000) takes an update of its
# application and its SoftDevice from airliftd over DTLS: planned, downloaded, installed on
# trial, confirmed, reported. An application linked for the Electron's slot is refused by
# the device with the link-address reason and changes nothing.
BUILD=$1
. "$(dirname "$0")/lib.sh"
start_server
"$AIRLIFT" keys generate --out "$WORK/author.pem" >/dev/null

# img NAME FUNCTION INDEX VERSION SIZE LINK: a signed image of SIZE random bytes; its hash.
img() {
    head -c "$5" /dev/urandom >"$WORK/$1.bin"
    sign "$1" "$WORK/$1.bin" --function "$2" --index "$3" --platform 13 --version "$4" \
        --link-address "$6"
}
img bl bootloader 0 1.0.0 12000 0x000F8000 >/dev/null
img sd1 radio 1 7.2.0 60000 0x00001000 >/dev/null
img app1 application 1 1.0.0 30000 0x00059000 >/dev/null
SD2=$(img sd2 radio 1 7.3.0 64000 0x00001000)
APP2=$(img app2 application 1 1.1.0 36000 0x00059000)
WRONG=$(img wrong application 1 2.0.0 20000 0x08080000)

reg=$(api_json POST /v1/devices '{"name":"n1","platform":13}')
out=$("$DEVICE" create "$WORK/n1" --trust "$WORK/author.pub.pem" --board nrf52840 --platform boron)
check "airlift-device makes an nrf52840 board ($out)" \
    test "$out" = "created a simulated nrf52840 device in $WORK/n1 (platform 13)"
err=$("$DEVICE" create "$WORK/n2" --trust "$WORK/author.pub.pem" --board nrf52841 2>&1); rc=$?
check "an unknown board is refused with exit 2 ($rc)" test "$rc" -eq 2
check "naming the boards there are ($err)" \
    test "$err" = "airlift-device: unknown board 'nrf52841' (electron, pages4k, nrf52840)"
"$DEVICE" factory "$WORK/n1" "$WORK/bl.alim" "$WORK/sd1.alim" "$WORK/app1.alim" >"$WORK/factory.log"
check "the factory puts the SoftDevice in its slot" grep -qx 'factory: radio 1 7.2.0 -> softdevice' "$WORK/factory.log"
check "and the bootloader at Nordic's place" grep -qx 'factory: bootloader 0 1.0.0 -> bootloader-a' "$WORK/factory.log"
"$DEVICE" provision "$WORK/n1" --server "127.0.0.1:$COAP" \
    --identity "$(jq -r .identity <<<"$reg")" --psk "$(jq -r .psk <<<"$reg")" >/dev/null
run_device n1
wait_device_reported n1

mods() { api GET /v1/devices/n1 | jq -r '[.inventory.boot_state] + [.inventory.modules[] | .function + "=" + .version] | join(" ")'; }
check "the device reports its factory modules ($(mods))" \
    test "$(mods)" = "confirmed radio=7.2.0 application=1.0.0 bootloader=1.0.0"

U=$(api_json POST /v1/devices/n1/updates "{\"images\":[\"$APP2\",\"$SD2\"]}" | jq -r .id)
check "update of application and SoftDevice queued" test "$U" -gt 0
check "the update succeeds" wait_state "$U" succeeded
check "the device runs both new modules, confirmed ($(mods))" \
    test "$(mods)" = "confirmed radio=7.3.0 application=1.1.0 bootloader=1.0.0"
check "the plan had two steps" test "$(api GET "/v1/updates/$U" | jq '.steps | length')" -eq 2

# An application linked for the Electron's application slot: the device refuses it.
U=$(api_json POST /v1/devices/n1/updates "{\"images\":[\"$WRONG\"]}" | jq -r .id)
check "update $U of a misplaced application queued" test "$U" -gt 0
check "it fails" wait_state "$U" failed
why=$(api GET "/v1/updates/$U" | jq -r .why)
echo "why: $why"
check "with the device's reason: the link address" \
    test "$why" = "the device refused step 1: unsupported package (linked for another address than its slot)"
check "and the device still runs what it ran ($(mods))" \
    test "$(mods)" = "confirmed radio=7.3.0 application=1.1.0 bootloader=1.0.0"
finish
