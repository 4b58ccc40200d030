#!/usr/bin/env bash
# An application that needs newer system parts: one update installs all of them, in an order
# that never leaves a dependency broken, using the images the server holds.
BUILD=$1
. "$(dirname "$0")/lib.sh"
start_server
sign_device_os
device e1
head -c 30000 /dev/urandom >"$WORK/app2.bin"
APP=$(sign app2 "$WORK/app2.bin" --function application --index 1 --platform 10 --version 2.0.0 \
      --link-address 0x08080000 --dep system:2:0.7.0)
run_device e1
wait_device_reported e1
r=$(api_json POST /v1/devices/e1/updates "{\"images\":[\"$APP\"]}")
U=$(jq -r .id <<<"$r")
order=$(jq -r '[.steps[] | .function + " " + (.index|tostring) + " " + .version] | join(", ")' <<<"$r")
echo "plan: $order"
check "the plan brings the system parts" test "$(jq '.steps | length' <<<"$r")" -ge 2
check "the application comes last" test "$(jq -r '.steps[-1].function' <<<"$r")" = application
WAIT_S=300 check "one update installs all of it" wait_state "$U" succeeded
mods=$(api GET /v1/devices/e1 | jq -r '[.inventory.modules[] | .function + " " + (.index|tostring) + " " + .version] | join(", ")')
echo "device runs: $mods"
check "system part 2 is 0.7.0" grep -q "system 2 0.7.0" <<<"$mods"
check "the application 2.0.0 runs" grep -q "application 1 2.0.0" <<<"$mods"
check "all steps done" test "$(api GET "/v1/updates/$U" | jq '[.steps[] | select(.state != "done")] | length')" -eq 0
finish
