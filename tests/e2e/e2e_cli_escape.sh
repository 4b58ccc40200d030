#!/usr/bin/env bash
# Text that users and devices wrote reaches the terminal with its control characters escaped
# as \xNN (C0, DEL, C1, ESC): release notes carrying ESC sequences (a recolour, a screen
# clear, a C1 CSI) are shown escaped by `releases show` and `releases list`; the same text is
# exact in --json. (Every API reply and event goes through the one function, cli_escape.) On the old code the raw ESC bytes went to the terminal.
BUILD=$1
. "$(dirname "$0")/lib.sh"
start_server
sign_device_os
"$AIRLIFT" products create tracker --platform electron >/dev/null
APP=$(app app1 1.0.0 4096)
NOTES=$'fixes \e[31mRED\e[0m \e[2J\x7f and \xc2\x9b1m bell\a\ttab'
WANT='fixes \x1b[31mRED\x1b[0m \x1b[2J\x7f and \x9b1m bell\x07\x09tab'
out=$("$AIRLIFT" releases create tracker 1.0.0 "$WORK/app1.alim" --notes "$NOTES" 2>&1); rc=$?
check "a release with ESC sequences in its notes is created ($rc)" test "$rc" = 0
raw() { LC_ALL=C grep -c $'[\x01-\x08\x0b-\x1f\x7f]\|\xc2[\x80-\x9f]' <<<"$1"; }
for cmd in "releases show tracker 1.0.0" "releases list tracker"; do
    # shellcheck disable=SC2086
    out=$("$AIRLIFT" $cmd 2>&1); rc=$?
    check "$cmd: exit 0 ($rc)" test "$rc" = 0
    check "$cmd: no raw control character reaches the terminal" test "$(raw "$out")" = 0
    check "$cmd: the notes are shown escaped" grep -qF "$WANT" <<<"$out"
done
json=$("$AIRLIFT" releases show tracker 1.0.0 --json | jq -r .notes)
check "--json keeps the exact notes" test "$json" = "$NOTES"
finish
