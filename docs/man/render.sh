#!/usr/bin/env bash
# render.sh PANDOC OUT NAME SECTION VERSION FILE... - one man page from the docs
# (docs/man/README.md). The FILEs are concatenated in order; each one's first line, if it
# is a "# " title, is dropped (the page's title is NAME(SECTION)); "##" headings become the
# page's sections (.SH) and "###" its subsections (.SS); tables become lists (tables.lua).
set -euo pipefail
pandoc=$1 out=$2 name=$3 section=$4 version=$5
shift 5
here=$(dirname "$0")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
inputs=()
for f in "$@"; do
    sed '1{/^# /d}' "$f" >"$tmp/${#inputs[@]}.md"
    inputs+=("$tmp/${#inputs[@]}.md")
done
"$pandoc" -f markdown -t man -s --lua-filter "$here/tables.lua" --shift-heading-level-by=-1 \
    -M title="$(tr a-z A-Z <<<"$name")" -M section="$section" -M header="airlift manual" \
    -M footer="airlift $version" -M date="" -o "$out.tmp" "${inputs[@]}"
mv "$out.tmp" "$out"
