#!/usr/bin/env bash
# The airlift CLI against a real airliftd and simulated devices: flash exits 0 only once the
# device reported the new version confirmed; up to date; revert; offline; --no-wait and
# status; the confirmation figure; settings from file, environment and flags; bad input.
BUILD=$1
. "$(dirname "$0")/lib.sh"
start_server
sign_device_os
device e1
device bad
device sleeper
APP=$(app app1 1.0.0 30000)
run_device e1
wait_device_reported e1

"$AIRLIFT" flash e1 "$WORK/app1.alim" --yes >"$WORK/out" 2>"$WORK/err"; rc=$?
check "flash exits 0" test $rc -eq 0
check "and says what runs now" grep -q "e1 now runs application 1 1.0.0 (confirmed)" "$WORK/out"
inv=$(api GET /v1/devices/e1 | jq -r '.inventory | .boot_state + " " + ([.modules[] | select(.function=="application") | .version] | join(""))')
check "at exit the device had reported it confirmed ($inv)" test "$inv" = "confirmed 1.0.0"
check "the states were followed" grep -q "^succeeded" "$WORK/err"

"$AIRLIFT" flash e1 "$WORK/app1.alim" --yes >"$WORK/out" 2>&1; rc=$?
check "the same image again: exit 0" test $rc -eq 0
check "it says up to date" grep -q "already runs this image: nothing to send" "$WORK/out"
check "--json says so too" test "$("$AIRLIFT" --json flash e1 "$WORK/app1.alim" --yes | jq -r .outcome)" = up_to_date

# The confirmation: the MB figure exactly, or nothing is queued.
APP2=$(app app2 1.0.1 30000)
echo 1.23 | AIRLIFT_ASSUME_TTY=1 "$AIRLIFT" flash e1 "$WORK/app2.alim" >"$WORK/out" 2>&1; rc=$?
check "a wrong figure: exit 11" test $rc -eq 11
check "and nothing queued" test "$(api GET /v1/devices/e1 | jq -r .update)" = null
fig=$(sed -n 's/.*sends about \([0-9.]*\) MB.*/\1/p' "$WORK/out")
echo "$fig" | AIRLIFT_ASSUME_TTY=1 "$AIRLIFT" flash e1 "$WORK/app2.alim" >"$WORK/out" 2>&1; rc=$?
check "the right figure ($fig): exit 0" test $rc -eq 0
"$AIRLIFT" flash e1 "$WORK/app1.alim" </dev/null >"$WORK/out" 2>&1; rc=$?
check "no terminal and no --yes: exit 2" test $rc -eq 2

# Bad firmware: exit 8 and why.
run_device bad --never-confirm
wait_device_reported bad
"$AIRLIFT" flash bad "$WORK/app1.alim" --yes >"$WORK/out" 2>&1; rc=$?
check "a revert: exit 8" test $rc -eq 8
check "and why" grep -q "went back to its previous firmware: .*never confirmed" "$WORK/out"

# Offline: the update stays queued; exit 10; status follows it later.
"$AIRLIFT" flash sleeper "$WORK/app1.alim" --yes --timeout 2 >"$WORK/out" 2>&1; rc=$?
check "an offline device: exit 10" test $rc -eq 10
check "and the update stays queued" grep -q "stays queued" "$WORK/out"
run_device sleeper
"$AIRLIFT" status sleeper --timeout 120 >"$WORK/out" 2>&1; rc=$?
check "status follows it to the end: exit 0" test $rc -eq 0
"$AIRLIFT" flash sleeper "$WORK/app2.alim" --yes --no-wait >"$WORK/out"; rc=$?
check "--no-wait queues and returns 0" test $rc -eq 0 -a "$(api GET /v1/devices/sleeper | jq -r .update.state)" != null
check "status --json gives the final object" test "$("$AIRLIFT" --json status sleeper --timeout 120 | jq -r .outcome)" = succeeded

# Bad input.
"$AIRLIFT" flash e1 "$WORK/nothing.alim" --yes >/dev/null 2>&1; check "a missing file: exit 3" test $? -eq 3
head -c 500 /dev/urandom >"$WORK/junk.alim"
"$AIRLIFT" flash e1 "$WORK/junk.alim" --yes >/dev/null 2>&1; check "not an image: exit 4" test $? -eq 4
head -c 1000 /dev/urandom >"$WORK/other.bin"
sign other "$WORK/other.bin" --function application --index 1 --platform 6 --version 1.0.0 --link-address 0x080a0000 >/dev/null
"$AIRLIFT" flash e1 "$WORK/other.alim" --yes >"$WORK/out" 2>&1; rc=$?
check "another platform: exit 4" test $rc -eq 4
check "naming both platforms" grep -q "built for platform 6; the device is platform 10" "$WORK/out"
"$AIRLIFT" flash nobody "$WORK/app1.alim" --yes >"$WORK/out" 2>&1; rc=$?
check "an unknown device: exit 6 with the server's words" test $rc -eq 6 -a "$(grep -c "device 'nobody' does not exist" "$WORK/out")" -eq 1
"$AIRLIFT" --token alt_nope devices list >"$WORK/out" 2>&1; rc=$?
check "a bad token: exit 16 (token refused), saying where it came from" test $rc -eq 16 -a "$(grep -c "from --token" "$WORK/out")" -eq 1

# Settings: file < environment < flag.
printf 'server = http://127.0.0.1:1\ntoken = %s\n' "$TOKEN" >"$WORK/config"
AIRLIFT_CONFIG=$WORK/config AIRLIFT_SERVER= "$AIRLIFT" devices list >/dev/null 2>&1
check "the config file's server is used (and is down: exit 6)" test $? -eq 6
AIRLIFT_CONFIG=$WORK/config "$AIRLIFT" devices list >/dev/null 2>&1
check "the environment wins over the file" test $? -eq 0
AIRLIFT_CONFIG=$WORK/config AIRLIFT_SERVER= "$AIRLIFT" --server "http://127.0.0.1:$HTTP" devices list >/dev/null 2>&1
check "the flag wins over the file" test $? -eq 0
check "devices list --json" test "$("$AIRLIFT" --json devices list | jq '.devices | length')" -eq 3
check "devices show names the modules" grep -q "application  1  1.0.1" <<<"$("$AIRLIFT" devices show e1)"
finish
