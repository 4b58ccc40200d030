#!/usr/bin/env bash
# A separate project takes libairlift three ways, as docs/porting.md says:
#   1. add_subdirectory(<source>/lib) from the source tree;
#   2. find_package(airlift) against `cmake --install BUILD --prefix TMP --component dev`;
#   3. pkg-config airlift-device against the same install (cc $(pkg-config --cflags --libs)).
# Each builds the consumer in tests/consumer/project and runs it.
#   consumer.sh SOURCE_DIR BUILD_DIR     (CONSUMER_CFLAGS: extra flags for the consumer, e.g.
#                                         the sanitizers the installed library was built with)
set -euo pipefail
src=$1 build=$2 cflags=${CONSUMER_CFLAGS:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
proj=$src/tests/consumer/project
cc=${CC:-cc}
expect='consumer: 1.10.0 > 1.2.3: yes; AL_ERR_BAD_LAYOUT: bad_layout'
check_run() { # what, binary
  local out
  out=$("$2")
  [ "$out" = "$expect" ] || { echo "consumer ($1): printed '$out', not '$expect'" >&2; exit 1; }
  echo "consumer ($1): OK"
}

# 1. add_subdirectory: the library must configure without airlift's top-level variables.
cmake -S "$proj" -B "$tmp/sub" -DAIRLIFT_LIB_DIR="$src/lib" >"$tmp/sub.log" 2>&1 ||
  { cat "$tmp/sub.log" >&2; echo "consumer: add_subdirectory configure failed" >&2; exit 1; }
cmake --build "$tmp/sub" >>"$tmp/sub.log" 2>&1 ||
  { cat "$tmp/sub.log" >&2; echo "consumer: add_subdirectory build failed" >&2; exit 1; }
# Nothing of airlift's install rules comes along into a firmware project.
if grep -q airliftTargets "$tmp/sub/airlift/cmake_install.cmake"; then
  echo "consumer: add_subdirectory brought airlift's install rules along" >&2; exit 1
fi
check_run add_subdirectory "$tmp/sub/consumer"

# The install of component dev: the library, the headers, the .pc and the CMake package.
cmake --install "$build" --prefix "$tmp/prefix" --component dev >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; echo "consumer: cmake --install --component dev failed" >&2; exit 1; }
lib=$(find "$tmp/prefix" -name libairlift.a)
pc=$(find "$tmp/prefix" -name airlift-device.pc)
[ -n "$lib" ] && [ -n "$pc" ] && [ -f "$tmp/prefix/include/airlift/image.h" ] &&
  [ -n "$(find "$tmp/prefix" -name airliftConfigVersion.cmake)" ] ||
  { echo "consumer: the dev install lacks the library, a header, the .pc or the CMake package:" >&2
    (cd "$tmp/prefix" && find . -type f) >&2; exit 1; }
for h in "$src"/include/airlift/*.h; do
  [ -f "$tmp/prefix/include/airlift/${h##*/}" ] || { echo "consumer: ${h##*/} is not installed" >&2; exit 1; }
done
# The programs are not part of it (they have their own components, packaged apart).
progs=$(cd "$tmp/prefix" && find . -type f -perm /111)
[ -z "$progs" ] || { echo "consumer: the dev component installs programs: $progs" >&2; exit 1; }

# 2. find_package against the install.
cmake -S "$proj" -B "$tmp/pkg" -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_C_FLAGS="$cflags" >"$tmp/pkg.log" 2>&1 &&
  cmake --build "$tmp/pkg" >>"$tmp/pkg.log" 2>&1 ||
  { cat "$tmp/pkg.log" >&2; echo "consumer: find_package(airlift) build failed" >&2; exit 1; }
check_run find_package "$tmp/pkg/consumer"

# 3. pkg-config against the install, moved elsewhere: the .pc file is relocatable.
mv "$tmp/prefix" "$tmp/moved"
pcdir=$(dirname "${pc/$tmp\/prefix/$tmp/moved}")
export PKG_CONFIG_PATH=$pcdir PKG_CONFIG_LIBDIR=$pcdir
[ "$(pkg-config --modversion airlift-device)" = "$(sed -n 's/^Version: //p' "$pcdir/airlift-device.pc")" ]
flags=$(pkg-config --cflags --libs airlift-device)
inc=$(pkg-config --cflags-only-I airlift-device | sed 's/^-I//; s/ *$//')
[ -f "$inc/airlift/image.h" ] && [[ $inc == "$tmp/moved/"* ]] && [[ $flags == *-lairlift* ]] ||
  { echo "consumer: pkg-config --cflags --libs airlift-device gives '$flags'" >&2; exit 1; }
# shellcheck disable=SC2086 # the flags are words
"$cc" -std=c99 -Wall -Wextra -Werror $cflags -o "$tmp/pc-consumer" "$proj/main.c" $flags
check_run pkg-config "$tmp/pc-consumer"
