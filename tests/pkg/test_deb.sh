#!/usr/bin/env bash
# test_deb.sh BUILD - the Debian packages end to end: cpack builds them from BUILD, lintian
# finds no error, dpkg installs them, systemd-analyze verifies the installed unit, the
# packaged airliftd runs as the user airlift with the packaged configuration the way the
# unit runs it (systemd does not run here: runuser, with NOTIFY_SOCKET on a socket this test
# reads for READY=1), a simulated device is updated through it with the installed CLI, then
# dpkg removes and purges the packages and nothing is left but what Debian policy keeps (the
# system user). Safe on a development machine: skipped (77) unless root and unless no airlift
# package, /etc/airlift or /var/lib/airlift is there already; the airlift user is deleted
# again at the end if the test made it.
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/../e2e/lib.sh"

skip() { echo "skip: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (dpkg -i)"
for tool in dpkg cpack lintian systemd-analyze runuser python3 deb-systemd-helper; do
    command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/deps.sh)"
done
PKGS=(airliftd airlift libairlift-dev)
for p in "${PKGS[@]}"; do
    st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)
    [ -z "$st" ] || [ "${st:0:2}" = "un" ] || skip "package $p is on this machine ($st): not touching it"
done
for d in /etc/airlift /var/lib/airlift; do [ ! -e "$d" ] || skip "$d exists: not touching it"; done
USER_BEFORE=no
getent passwd airlift >/dev/null && USER_BEFORE=yes
NOTIFY_PID=

# Whatever happens: the packages purged, the user gone if this test made it, then lib.sh's
# cleanup (processes, WORK).
restore() {
    [ -z "$NOTIFY_PID" ] || kill "$NOTIFY_PID" 2>/dev/null
    local pid
    pid=$(cat /var/lib/airlift/airliftd.lock 2>/dev/null) && [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    for p in "${PKGS[@]}"; do
        dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^[ir]' &&
            dpkg -P "$p" >/dev/null 2>&1
    done
    if [ "$USER_BEFORE" = no ] && getent passwd airlift >/dev/null; then
        userdel airlift 2>/dev/null
        getent group airlift >/dev/null && groupdel airlift 2>/dev/null
    fi
    cleanup
}
trap restore EXIT

# ---- build and lint -------------------------------------------------------------------------
DEBS=$WORK/debs
(cd "$BUILD" && nice -n 10 cpack -G DEB -B "$DEBS" >"$WORK/cpack.log" 2>&1)
check "cpack makes the airliftd and airlift packages" \
    test -f "$DEBS/airliftd_0.1.0_$(dpkg --print-architecture).deb" -a \
         -f "$DEBS/airlift_0.1.0_$(dpkg --print-architecture).deb"
[ -f "$DEBS/airliftd_0.1.0_$(dpkg --print-architecture).deb" ] || { cat "$WORK/cpack.log"; finish; exit 1; }
nice -n 10 lintian --no-tag-display-limit "$DEBS"/*.deb >"$WORK/lintian.log" 2>&1
grep '^E:' "$WORK/lintian.log"
check "lintian: no errors" test "$(grep -c '^E:' "$WORK/lintian.log")" -eq 0
check "airliftd depends on adduser and its libraries" \
    grep -q 'adduser.*libmicrohttpd' <(dpkg-deb -f "$DEBS"/airliftd_*.deb Depends)

# ---- install --------------------------------------------------------------------------------
dpkg -i "$DEBS"/*.deb >"$WORK/dpkg-i.log" 2>&1
check "dpkg -i installs the packages" test $? -eq 0
for f in /usr/sbin/airliftd /usr/bin/airlift /usr/bin/airlift-device /usr/bin/airlift-fleet \
         /lib/systemd/system/airliftd.service /etc/airlift/airliftd.conf \
         /usr/share/doc/airliftd/copyright /usr/share/doc/airliftd/changelog.gz \
         /usr/share/airlift/web/index.html /usr/share/man/man8/airliftd.8.gz \
         /usr/share/man/man1/airlift.1.gz /usr/share/bash-completion/completions/airlift; do
    check "installed: $f" test -e "$f"
done
check "the configuration is a conffile" \
    grep -q /etc/airlift/airliftd.conf <(dpkg-query -W -f='${Conffiles}' airliftd)
uid=$(id -u airlift 2>/dev/null)
check "the system user airlift exists (uid $uid)" test -n "$uid" -a "${uid:-1000}" -lt 1000
check "/var/lib/airlift is 0750 airlift:airlift" \
    test "$(stat -c '%a %U:%G' /var/lib/airlift 2>/dev/null)" = "750 airlift:airlift"
check "the service is enabled" test -L /etc/systemd/system/multi-user.target.wants/airliftd.service
systemd-analyze verify /lib/systemd/system/airliftd.service >"$WORK/verify.log" 2>&1
rc=$?
cat "$WORK/verify.log"
check "systemd-analyze verify: exit 0, nothing to say about airliftd.service" \
    test $rc -eq 0 -a "$(grep -c airliftd "$WORK/verify.log")" -eq 0
check "the unit runs the packaged configuration" \
    grep -qx 'ExecStart=/usr/sbin/airliftd --config /etc/airlift/airliftd.conf' \
        /lib/systemd/system/airliftd.service
out=$(runuser -u airlift -- /usr/sbin/airliftd --check-config --config /etc/airlift/airliftd.conf 2>&1)
check "--check-config on the packaged configuration: '$out'" test "$out" = "configuration OK"

# ---- the packaged daemon, as its unit runs it ------------------------------------------------
# The readiness protocol's socket: an abstract one (no file the airlift user must reach);
# every datagram becomes a line of $WORK/notify.
SOCK=airlift-test-deb-$$
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as f:
    f.write("listening\n")
    while True:
        f.write(s.recv(4096).decode().replace("\n", " ") + "\n")
' "$SOCK" "$WORK/notify" &
NOTIFY_PID=$!
for _ in $(seq 100); do grep -q listening "$WORK/notify" 2>/dev/null && break; sleep 0.05; done
# The packaged configuration as it is, but the ports: this machine may run other airliftds.
NOTIFY_SOCKET=@$SOCK runuser -u airlift -- /usr/sbin/airliftd --config /etc/airlift/airliftd.conf \
    --http-listen 127.0.0.1:0 --coap-listen 127.0.0.1:0 --port-file /var/lib/airlift/ports \
    >"$WORK/airliftd.out" 2>"$WORK/airliftd.log" &
RUNUSER_PID=$!
for _ in $(seq 200); do grep -q READY=1 "$WORK/notify" && break; sleep 0.05; done
check "READY=1 reaches NOTIFY_SOCKET" grep -q '^READY=1$' "$WORK/notify"
check "the port file is there once ready" test -s /var/lib/airlift/ports
HTTP=$(sed -n 1p /var/lib/airlift/ports)
COAP=$(sed -n 2p /var/lib/airlift/ports)
DAEMON_PID=$(cat /var/lib/airlift/airliftd.lock)
check "airliftd runs as airlift" test "$(ps -o user= -p "$DAEMON_PID" 2>/dev/null)" = airlift
check "the admin token file is 0600 airlift:airlift" \
    test "$(stat -c '%a %U:%G' /var/lib/airlift/admin-token 2>/dev/null)" = "600 airlift:airlift"
TOKEN=$(cat /var/lib/airlift/admin-token)
check "stdout names the token file" \
    grep -q 'admin token written to /var/lib/airlift/admin-token' "$WORK/airliftd.out"
check "the token is neither printed nor logged" \
    test "$(cat "$WORK/airliftd.out" "$WORK/airliftd.log" | grep -c "$TOKEN")" -eq 0
check "the database is in /var/lib/airlift" test -f /var/lib/airlift/airlift.db
export AIRLIFT_SERVER="http://127.0.0.1:$HTTP" AIRLIFT_TOKEN="$TOKEN"
check "the console is served from the packaged web root" \
    grep -q '<title>' <(curl -s "$AIRLIFT_SERVER/")

# ---- a simulated device updated through it, with the installed tools ------------------------
AIRLIFT=/usr/bin/airlift
DEVICE=/usr/bin/airlift-device
for f in bootloader-2.3.0 system-part1-0.6.4 system-part2-0.6.4 system-part3-0.6.4; do
    sign "$f" "$FW/$f.bin" >/dev/null # the factory's Device OS: all device() needs
done
device d1
APP=$(app app1 1.0.0 16384)
check "the application image is uploaded" test "${#APP}" -eq 64
run_device d1
wait_device_reported d1
"$AIRLIFT" flash d1 "$WORK/app1.alim" --yes --timeout 90 >"$WORK/flash.out" 2>"$WORK/flash.err"
rc=$?
check "airlift flash exits 0 (got $rc)" test $rc -eq 0
check "the device runs the new application, confirmed" \
    grep -q 'd1 now runs .*application 1 1.0.0 (confirmed)' "$WORK/flash.out"
kill "$DEVICE_PID" 2>/dev/null

# ---- SIGHUP, then SIGTERM --------------------------------------------------------------------
kill -HUP "$DAEMON_PID"
for _ in $(seq 100); do grep -q 'settings reloaded' "$WORK/airliftd.log" && break; sleep 0.05; done
check "SIGHUP rereads the settings" grep -q 'msg="SIGHUP: settings reloaded" log_level=info' "$WORK/airliftd.log"
check "SIGHUP: RELOADING=1 then READY=1" grep -A1 -q '^RELOADING=1$' "$WORK/notify"
kill -TERM "$DAEMON_PID"
wait "$RUNUSER_PID"
rc=$?
check "SIGTERM: exit 0 (got $rc)" test $rc -eq 0
check "STOPPING=1 reaches NOTIFY_SOCKET" grep -q '^STOPPING=1$' "$WORK/notify"
check "the port file is removed" test ! -e /var/lib/airlift/ports

# ---- remove, then purge ----------------------------------------------------------------------
dpkg -r "${PKGS[@]}" >"$WORK/dpkg-r.log" 2>&1
check "dpkg -r removes them" test $? -eq 0
check "remove: the programs and the unit are gone" \
    test ! -e /usr/sbin/airliftd -a ! -e /usr/bin/airlift -a ! -e /lib/systemd/system/airliftd.service
check "remove: the service is masked" \
    test "$(readlink /etc/systemd/system/airliftd.service 2>/dev/null)" = /dev/null
check "remove: the configuration and the state stay" \
    test -f /etc/airlift/airliftd.conf -a -f /var/lib/airlift/airlift.db
dpkg -P "${PKGS[@]}" >"$WORK/dpkg-P.log" 2>&1
check "dpkg -P purges them" test $? -eq 0
for p in "${PKGS[@]}"; do
    check "dpkg knows no $p any more" test -z "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -v '^un')"
done
for f in /etc/airlift /var/lib/airlift /var/log/airlift /usr/share/doc/airliftd /usr/share/doc/airlift; do
    check "purge: $f is gone" test ! -e "$f"
done
left=$(find /etc/systemd /var/lib/systemd -name '*airliftd*' 2>/dev/null)
check "purge: no systemd link or state left${left:+ ($left)}" test -z "$left"
if getent passwd airlift >/dev/null; then pass "purge: the system user airlift stays (Debian policy)"; else fail "purge: the user airlift was deleted"; fi
left=$(find /etc /var /run /usr /lib /opt -xdev -user airlift 2>/dev/null | head -5)
check "purge: no file owned by airlift left${left:+ ($left)}" test -z "$left"
finish
