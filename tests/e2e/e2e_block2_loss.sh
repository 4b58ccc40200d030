#!/usr/bin/env bash
# issue 16 (b2cells): a Block2 download (`airlift-device run --block2`) over a link that loses
# 30 % of the datagrams each way completes, hash-exact, and resumes at the first block it
# lacks: across block requests the link lost (asked again on the same session, never ending
# it; with this seed at least one request goes unanswered) and across sessions (a data
# budget per wake ends each session after 6 KiB: the next
# one goes on at the journal's offset). Bound checked: no block is received twice (a link
# failure saves the exact offset; only a power cut may cost up to AL_AGENT_SAVE_EVERY
# blocks, which this test does not provoke). A small image (16 blocks): about 40 s.
# Measured with the device before this change (c5c9842): this scenario took 114 s (38 s now)
# and lost 3 sessions besides the budget's, but completed; its block checks fail there only
# because that device prints no block lines. At 128 KiB the old device stalled for good
# (bench/results/update-time.txt, the notes).
BUILD=$1
. "$(dirname "$0")/lib.sh"
start_server
sign_device_os
device b1
APP=$(app app1 1.0.0 15872)   # with its 512-byte header: 16 blocks of 1024 bytes
U=$(api_json POST /v1/devices/b1/updates "{\"images\":[\"$APP\"]}" | jq -r .id)
AIRLIFT_TRACE=1 run_device b1 --block2 --loss 0.3 --seed 16 --session-bytes 6144
WAIT_S=300
check "the update completes over 30 % loss" wait_state "$U" succeeded
kill "$DEVICE_PID" 2>/dev/null; wait "$DEVICE_PID" 2>/dev/null
got=$("$DEVICE" show "$WORK/b1" --json | jq -r '.modules[] | select(.function == "application") | .sha256')
check "the device runs the image, hash-exact" test "$got" = "$APP"
log=$WORK/b1.log
blocks=$(grep -c ' block [0-9]* got$' "$log")
again=$(grep ' block [0-9]* got$' "$log" | awk '{print $3}' | sort | uniq -d | wc -l)
asked=$(grep -c ' block [0-9]* asked' "$log")
retried=$(grep -c ' block [0-9]* asked ([1-9]' "$log")
budget=$(grep -c 'data budget of this wake used up' "$log")
echo "blocks received $blocks, requests $asked (asked again after a lost exchange: $retried), sessions ended by the budget: $budget"
check "every block received, none twice ($blocks received, $again twice)" test "$blocks" -eq 16 -a "$again" -eq 0
check "lost exchanges were asked again on the session ($retried)" test "$retried" -gt 0
check "the download went on across sessions ($budget ended by the budget)" test "$budget" -ge 2
finish
