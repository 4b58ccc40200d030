#!/usr/bin/env bash
# The whole test suite: installs missing packages, builds twice (plain, and with
# AddressSanitizer + UndefinedBehaviorSanitizer) and runs every test with CTest.
# Ends with CTest's summary of the sanitizer run; exits non-zero if any test failed.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh || { echo "test: installing packages failed" >&2; exit 1; }

jobs=$(nproc 2>/dev/null || echo 2)
# A test uses less than a core while it runs (it waits on simulated links, timers and its
# other processes: e2e_resume takes 10.5 s of wall time and 7.6 s of CPU, e2e_offline 2.7 s
# and 1.6 s), so CTest runs two per core; the ones that keep a core busy (power cuts,
# fleets, compilers, the browser) count as two (their PROCESSORS property).
test_jobs=$((2 * jobs))
status=0
run_suite() { # name, build dir, extra cmake flags...
  local name=$1 dir=$2; shift 2
  echo "=== $name: configure and build ($dir)"
  if ! cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >"$dir.configure.log" 2>&1; then
    cat "$dir.configure.log"; echo "test: configure failed ($name)"; status=1; return
  fi
  if ! cmake --build "$dir" -j"$jobs" >"$dir.build.log" 2>&1; then
    tail -n 60 "$dir.build.log"; echo "test: build failed ($name)"; status=1; return
  fi
  echo "=== $name: ctest"
  (cd "$dir" && ctest --output-on-failure -j"$test_jobs" --timeout 900) || status=1
}

mkdir -p build
run_suite "plain" build
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite "asan+ubsan" build-asan -DAIRLIFT_SANITIZE=ON
exit $status
