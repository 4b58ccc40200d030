#!/usr/bin/env bash
# The bash completion (completion/airlift.bash, issue 15 item 4): it loads, registers
# itself for airlift, and completes commands, subcommands, options and, from a real
# airliftd on 127.0.0.1 (port 0), device names (airlift devices list --names). With zsh
# installed (scripts/deps.sh), completion/_airlift does the same.
#
# usage: test_completion.sh AIRLIFTD AIRLIFT_CLI SOURCE_DIR
set -uo pipefail

AIRLIFTD=$1
AIRLIFT=$2
SRC=$3

command -v curl >/dev/null || { echo "SKIP: curl not installed"; exit 77; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/airlift-completion.XXXXXX")
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
FAILS=0
ok() { echo "ok - $*"; }
bad() { echo "FAIL - $*"; FAILS=$((FAILS + 1)); }

# The completion calls `airlift` as the command line names it: put the built one first.
mkdir "$WORK/bin"
ln -s "$(realpath "$AIRLIFT")" "$WORK/bin/airlift"
export PATH="$WORK/bin:$PATH"

reg=$(bash -c "source '$SRC/completion/airlift.bash' && complete -p airlift" 2>&1)
[ "$reg" = "complete -o bashdefault -o filenames -F _airlift airlift" ] &&
    ok "loads and registers _airlift" || bad "complete -p airlift: $reg"

# expect "WORDS..." "EXPECTED REPLIES" (the last word is the one being completed).
expect() {
    local words=$1 want=$2 got
    got=$(bash -c 'source "$1/completion/airlift.bash"; read -ra COMP_WORDS <<<"$2"
                   [[ $2 == *" " ]] && COMP_WORDS+=("")
                   COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _airlift
                   printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "' _ "$SRC" "$words" 2>&1)
    got=${got% }
    [ "$got" = "$want" ] && ok "'$words' -> $want" || bad "'$words' -> '$got', expected '$want'"
}
expect "airlift de" "devices"
expect "airlift devices " "add list remove set show"
expect "airlift rollouts pa" "pause"
expect "airlift --json devices li" "list"
expect "airlift help roll" "rollouts"
expect "airlift devices list --na" "--names"
expect "airlift --server http://127.0.0.1:1 image create --k" "--key"
expect "airlift rollouts status 3 --w" "--watch"
expect "airlift events --fo" "--follow"
expect "airlift --to" "--token --token-file"
# Every command of `airlift --help` is offered at the top.
top=$("$AIRLIFT" --help | sed -n '/^Commands:/,/^$/{s/^  \([a-z][a-z-]*\).*/\1/p}' | sort | tr '\n' ' ')
expect "airlift " "$(printf '%s\n' $top help | sort | tr '\n' ' ' | sed 's/ $//')"

# Device names from a real server; nothing (and no noise) when it cannot be reached.
"$AIRLIFTD" --data-dir "$WORK/data" --http-listen 127.0.0.1:0 --coap-listen 127.0.0.1:0 \
    --port-file "$WORK/port" --admin-token-file "$WORK/token" >"$WORK/airliftd.log" 2>&1 &
PID=$!
for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.05; done
export AIRLIFT_SERVER="http://127.0.0.1:$(sed -n 1p "$WORK/port")" AIRLIFT_TOKEN=$(cat "$WORK/token")
for d in truck-1 truck-2 van-1; do
    curl -s -o /dev/null -H "Authorization: Bearer $AIRLIFT_TOKEN" -H 'Content-Type: application/json' \
        --data "{\"name\":\"$d\",\"platform\":10}" "$AIRLIFT_SERVER/v1/devices"
done
names=$("$AIRLIFT" devices list --names | tr '\n' ' ')
[ "$names" = "truck-1 truck-2 van-1 " ] && ok "devices list --names: one name per line" ||
    bad "devices list --names printed '$names'"
expect "airlift devices show tr" "truck-1 truck-2"
expect "airlift flash v" "van-1"
expect "airlift events --device truck-" "truck-1 truck-2"
expect "airlift updates list " "truck-1 truck-2 van-1"
AIRLIFT_SERVER=http://127.0.0.1:1 expect "airlift devices show tr" ""

# zsh: completion/_airlift, with compadd (prefix matching, as the real one does) and _files
# standing in for the completion system's, called as a widget would: words and CURRENT set.
if command -v zsh >/dev/null; then
    zexpect() {
        local words=$1 want=$2 got
        got=$(zsh -fc 'autoload -Uz compinit && compinit -u -d "$3/zcompdump"
                       source "$1/completion/_airlift" || exit 1
                       compadd() { # what the real one shows: the words that match
                           [[ $1 == -- ]] && shift
                           local w; for w; do [[ $w == ${words[CURRENT]}* ]] && print -r -- $w; done; }
                       _files() { print -- "<files>"; }
                       words=(${(z)2}); [[ $2 == *" " ]] && words+=("")
                       CURRENT=$#words
                       _airlift' _ "$SRC" "$words" "$WORK" 2>&1 | sort | tr "\n" " ")
        got=${got% }
        [ "$got" = "$want" ] && ok "zsh: '$words' -> $want" ||
            bad "zsh: '$words' -> '$got', expected '$want'"
    }
    got=$(zsh -fc 'fpath=("$1/completion" $fpath); autoload -Uz compinit
                   compinit -u -d "$2/zcompdump-fpath"; print -r -- $_comps[airlift]' _ "$SRC" "$WORK" 2>&1)
    [ "$got" = _airlift ] && ok "zsh: compinit finds _airlift in \$fpath for airlift" ||
        bad "zsh: \$_comps[airlift] is '$got'"
    zexpect "airlift devices " "add list remove set show"
    zexpect "airlift --json rollouts pa" "pause"
    zexpect "airlift devices list --na" "--names"
    zexpect "airlift image create --key " "<files>"
    zexpect "airlift devices show tr" "truck-1 truck-2"
    zexpect "airlift events --device " "truck-1 truck-2 van-1"
else
    echo "skip - zsh is not installed: completion/_airlift not tested"
fi
[ "$FAILS" -eq 0 ] && echo "all passed"
exit "$FAILS"
