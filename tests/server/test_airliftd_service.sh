#!/usr/bin/env bash
# airliftd as a service (packaging/, docs/airliftd.md): --check-config and its errors (text
# and exit code), --log-file and its reopening on SIGHUP, SIGHUP rereading log-level (and
# keeping every setting when the file turned bad), the readiness protocol on NOTIFY_SOCKET
# (READY=1, RELOADING=1, STOPPING=1), the admin token printed only without a token file.
#
# usage: test_airliftd_service.sh AIRLIFTD
set -u
AIRLIFTD=$1
command -v python3 >/dev/null || { echo "SKIP: python3 not installed"; exit 77; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/airliftd-service.XXXXXX")
FAILS=0
PASSES=0
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    if [ "$FAILS" -eq 0 ]; then rm -rf "$WORK"; else echo "kept $WORK for inspection"; fi
}
trap cleanup EXIT
pass() { PASSES=$((PASSES + 1)); echo "ok - $*"; }
fail() { FAILS=$((FAILS + 1)); echo "FAIL - $*"; }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
# expect_check WANT_RC WANT_TEXT FLAGS...: --check-config's output and exit code.
expect_check() {
    local want_rc=$1 want=$2 out rc; shift 2
    out=$("$AIRLIFTD" --check-config "$@" 2>&1)
    rc=$?
    check "--check-config $*: exit $want_rc, '$want' (got $rc, '$out')" \
        test "$rc" -eq "$want_rc" -a "$out" = "$want"
}
wait_for() { # wait_for FILE PATTERN: up to 10 s
    for _ in $(seq 200); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
    return 1
}

# ---- --check-config --------------------------------------------------------------------------
cat >"$WORK/ok.conf" <<CONF
data-dir = $WORK/data
http-listen = 127.0.0.1:0
coap-listen = 127.0.0.1:0
admin-token-file = $WORK/data/admin-token
log-file = $WORK/airliftd.log
CONF
expect_check 0 "configuration OK" --config "$WORK/ok.conf"
check "--check-config starts nothing and writes nothing" test ! -e "$WORK/data" -a ! -e "$WORK/airliftd.log"
printf 'log-level = loud\n' >"$WORK/bad.conf"
expect_check 2 "airliftd: $WORK/bad.conf:1: --log-level: expected debug, info, warn or error" \
    --config "$WORK/bad.conf"
expect_check 2 "airliftd: $WORK/none.conf: No such file or directory" --config "$WORK/none.conf"
expect_check 2 "airliftd: --coap-listen: the device endpoint takes IPv4 addresses only" \
    --data-dir "$WORK/d" --coap-listen '[::1]:5684'
expect_check 2 "airliftd: --admin-token-file: $WORK/nowhere is not a directory" \
    --data-dir "$WORK/d" --admin-token-file "$WORK/nowhere/token"
expect_check 2 "airliftd: --data-dir: $WORK/ok.conf is not a directory" --data-dir "$WORK/ok.conf"
expect_check 2 "airliftd: --log-file: $WORK is a directory" --data-dir "$WORK/d" --log-file "$WORK"
expect_check 2 "airliftd: --store: expected sqlite:PATH, postgresql://... or postgres://..., got 'mysql://x'" \
    --store mysql://x
if "$AIRLIFTD" --help | grep -q PostgreSQL && "$AIRLIFTD" --check-config --data-dir "$WORK/d" \
        --store 'postgresql:///airlift' >/dev/null 2>&1; then
    expect_check 2 "airliftd: --store: libpq cannot parse 'postgresql://u:***@h/db?nosuch=1'" \
        --data-dir "$WORK/d" --store 'postgresql://u:secret@h/db?nosuch=1'
fi

# ---- a start with a log file, a notify socket and a token file ------------------------------
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as f:
    f.write("listening\n")
    while True:
        f.write(s.recv(4096).decode() + "\n")
' "$WORK/notify.sock" "$WORK/notify" &
PIDS+=($!)
wait_for "$WORK/notify" listening
NOTIFY_SOCKET=$WORK/notify.sock "$AIRLIFTD" --config "$WORK/ok.conf" --port-file "$WORK/port" \
    >"$WORK/out" 2>"$WORK/err" &
PID=$!
PIDS+=("$PID")
check "READY=1 once started" wait_for "$WORK/notify" '^READY=1$'
check "the port file is written before READY=1" test -s "$WORK/port"
check "logs go to the --log-file" grep -q 'msg="airliftd started"' "$WORK/airliftd.log"
check "nothing on stderr" test ! -s "$WORK/err"
TOKEN=$(cat "$WORK/data/admin-token")
check "with --admin-token-file the token is not printed" test "$(grep -c "$TOKEN" "$WORK/out")" -eq 0
check "stdout names the token file" \
    grep -qx "airliftd: first start: admin token written to $WORK/data/admin-token" "$WORK/out"

# SIGHUP after a rotation: a new log file, at the new level; a changed listener needs a restart.
mv "$WORK/airliftd.log" "$WORK/airliftd.log.1"
sed -i 's/^http-listen = .*/http-listen = 127.0.0.1:1/' "$WORK/ok.conf"
printf 'log-level = warn\n' >>"$WORK/ok.conf"
kill -HUP "$PID"
check "SIGHUP reopens the log file" wait_for "$WORK/airliftd.log" 'settings reloaded'
check "SIGHUP: the new log level" grep -q 'msg="SIGHUP: settings reloaded" log_level=warn log_format=text' "$WORK/airliftd.log"
check "SIGHUP names what needs a restart" \
    grep -q 'msg="SIGHUP: changed settings take effect at the next restart" settings=http-listen' "$WORK/airliftd.log"
check "RELOADING=1 then READY=1" grep -A1 -q '^RELOADING=1$' "$WORK/notify"
check "the old file is left alone" test "$(grep -c reloaded "$WORK/airliftd.log.1")" -eq 0
curl -s "http://127.0.0.1:$(sed -n 1p "$WORK/port")/v1/health" >/dev/null
check "at level warn, requests are not logged" test "$(grep -c 'msg=request' "$WORK/airliftd.log")" -eq 0

# A file turned bad: nothing changes, the daemon keeps running.
printf 'log-level = loud\n' >>"$WORK/ok.conf"
kill -HUP "$PID"
check "SIGHUP with a bad file keeps the settings" \
    wait_for "$WORK/airliftd.log" 'msg="SIGHUP: settings not reloaded, keeping the current ones" error=.*--log-level: expected'
check "and the daemon runs" kill -0 "$PID"

kill -TERM "$PID"
wait "$PID"
rc=$?
check "SIGTERM: exit 0 (got $rc)" test $rc -eq 0
check "STOPPING=1 at shutdown" grep -q '^STOPPING=1$' "$WORK/notify"

# ---- without a token file, the token is printed once on stdout (a terminal's first start) ----
# stderr as the journal: JOURNAL_STREAM names its device and inode, as systemd sets it.
: >"$WORK/err2"
JOURNAL_STREAM=$(stat -c %d:%i "$WORK/err2") \
"$AIRLIFTD" --data-dir "$WORK/data2" --http-listen 127.0.0.1:0 --coap-listen 127.0.0.1:0 \
    --port-file "$WORK/port2" >"$WORK/out2" 2>>"$WORK/err2" &
PID=$!
PIDS+=("$PID")
wait_for "$WORK/port2" .
check "without --admin-token-file the token is printed" \
    grep -Eq '^airliftd: first start: admin token \(shown once, keep it safe\): alt_[0-9a-f]{64}$' "$WORK/out2"
check "NOTIFY_SOCKET unset: no complaint" test "$(grep -c notify "$WORK/err2")" -eq 0
check "to the journal, each line starts with its priority" \
    grep -q '^<6>ts=.* level=info msg="airliftd started"' "$WORK/err2"
check "and only there" test "$(grep -c '^<' "$WORK/airliftd.log")" -eq 0
kill -TERM "$PID"
wait "$PID"

echo "$PASSES passed, $FAILS failed"
[ "$FAILS" -eq 0 ]
