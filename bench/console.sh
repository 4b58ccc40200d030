#!/usr/bin/env bash
# console.sh BUILD [DEVICES] [REPORTING]: the web console against a big fleet, in Debian's
# chromium (figures, not a test; issue 13). DEVICES devices are registered (default 10000,
# batches of 200 through POST /v1/devices {"devices": [...]}, by airlift-fleet provision) and
# REPORTING of them (default 300) run for a while in one airlift-fleet process so the fleet's
# firmware chart has inventories to count. Then bench/console.mjs measures, 5 times each:
#  - the fleet page: navigation start to the app's performance mark "airlift:fleet" (every
#    count and the chart drawn: the page is usable);
#  - one device list page (50 devices, and the count of all that match): its "Next page"
#    link, from the router's mark "airlift:navigate" to the view's "airlift:devices" (the
#    goal's figure: paging the list; also from playwright's click); also a
#    fresh load of /devices?after=... (navigation to the mark, every file revalidated) and
#    the in-app switch Fleet -> Devices;
#  - the page weight: bytes on the wire of the console's own files (gzip as served),
#    without the API's JSON.
# Goals (issue 13): fleet < 1 s, device list page < 300 ms, weight < 200 KB compressed.
# Written to bench/results/console.txt as well.
BUILD=${1:?usage: console.sh BUILD [DEVICES] [REPORTING]}
N=${2:-10000}
REP=${3:-300}
HERE=$(cd "$(dirname "$0")" && pwd)
RESULTS=$HERE/results/console.txt
. "$HERE/../tests/e2e/lib.sh"
FLEET=$BUILD/sim/airlift-fleet
start_server --log-level warn
sign_device_os >/dev/null
api_json POST /v1/products '{"name":"tracker","platform":10}' >/dev/null
F=$WORK/fleet
t0=$SECONDS
"$FLEET" provision "$F" --api "http://127.0.0.1:$HTTP" --token "$TOKEN" --product tracker \
    --group field --count "$N" --prefix d- >/dev/null || { echo "provision failed" >&2; exit 1; }
echo "registered $N devices in $((SECONDS - t0)) s" >&2
"$FLEET" factory "$F" --trust "$WORK/author.pub.pem" "$WORK/bootloader-2.3.0.alim" \
    "$WORK/system-part1-0.6.4.alim" "$WORK/system-part2-0.6.4.alim" "$WORK/system-part3-0.6.4.alim" >/dev/null
"$FLEET" run "$F" --server "127.0.0.1:$COAP" --limit "$REP" --duration 25 --period 5 \
    --retry-ms 500 >/dev/null 2>"$WORK/fleet.log" &
PIDS+=("$!")
for _ in $(seq 150); do
    n=$(api GET '/v1/fleet/versions' | jq '[.modules[] | select(.function=="bootloader") | .devices] | add // 0')
    [ "$n" -ge "$REP" ] && break
    sleep 0.2
done
echo "$n devices reported their firmware" >&2
{
    echo "bench/console.sh $BUILD $N $REP  ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores,$(uptime | sed "s/.*load/ load/"), $(/usr/bin/chromium --version 2>/dev/null))"
    echo "devices registered: $N; with a reported inventory: $n"
    node "$HERE/console.mjs" "http://127.0.0.1:$HTTP" "$TOKEN"
} | tee "$RESULTS"
finish
