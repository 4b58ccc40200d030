#!/usr/bin/env bash
# Install the Debian 12 packages airlift needs to build, test and demo, if any are missing.
# Debian's packages only; run as root (or with sudo available).
set -euo pipefail

PACKAGES=(
  # build
  cmake make gcc libc6-dev pkg-config git ca-certificates
  # libraries
  libmbedtls-dev libssl-dev libcoap3-dev libmicrohttpd-dev libjansson-dev libsqlite3-dev
  libcmocka-dev libzstd-dev liblzma-dev libcurl4-openssl-dev
  # issue 14 (rpk): libcoap's GnuTLS flavour (libcoap3-dev ships its .pc) needs GnuTLS's headers
  libgnutls28-dev
  # the PostgreSQL store: libpq for airliftd, the server for the tests' throwaway cluster
  libpq-dev postgresql
  # device library cross-compile (Cortex-M4) and fuzzing
  gcc-arm-none-eabi binutils-arm-none-eabi libnewlib-arm-none-eabi clang llvm
  # tools used by tests and benchmarks
  curl jq sqlite3 openssl libcoap3-bin python3 procps iproute2
  # benchmarks only (bench/wire-bytes.sh; bench/delta.sh)
  nginx ethtool bsdiff xdelta3 zstd xz-utils
  # Debian packages (packaging/, tests/pkg/test_deb.sh): cpack's dpkg-shlibdeps, the checks
  # on the .debs and their unit, the maintainer scripts' adduser
  dpkg-dev lintian systemd adduser
  # issue 15 (ops): man pages rendered from docs/*.md at build time (docs/man/), and the
  # test that they render without warnings (man -l, which needs groff)
  pandoc groff-base
  # issue 15 (ops): the zsh completion's test (tests/cli/test_completion.sh)
  zsh
  # issue 13 (console): the web console is built with gzip and tested in Debian's chromium,
  # driven by playwright-core from npm (tests/web, installed below with npm ci; Node.js
  # and npm come with the machine)
  gzip chromium
  # issue 14 item 6 (ddi): Debian's swupdate, its hawkBit client suricatta run against
  # airliftd's DDI API (tests/e2e/e2e_swupdate.sh); cpio builds the test's .swu files
  swupdate cpio
)

# issue 13 (console): tests/web's pinned npm packages (package-lock.json), when missing.
install_web_tests() {
  local dir
  dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../tests/web" && pwd)
  [ -d "$dir/node_modules/playwright-core" ] && return 0
  echo "deps: npm ci in $dir" >&2
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
}

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  install_web_tests
  exit 0
fi
echo "deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >&2
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
install_web_tests
