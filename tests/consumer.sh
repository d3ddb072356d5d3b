#!/bin/sh
# tests/consumer.sh BUILD_DIR CC [CXX] — install the build into a temporary
# root, build tests/consumer.c (and, given CXX, tests/consumer.cpp) against it with
# `pkg-config --cflags --libs nabla` alone, and run them without LD_LIBRARY_PATH:
# the installed nabla.pc is relocatable and carries an rpath to the library.
set -eu
build=$1 cc=$2 cxx=${3-}
dir=$(dirname "$0")
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
fail() { echo "consumer: $*" >&2; exit 1; }
meson install -C "$build" --no-rebuild --quiet --destdir "$root" >"$root/install.log" 2>&1 ||
    { cat "$root/install.log" >&2; fail "meson install into $root failed"; }
pc=$(find "$root" -name nabla.pc)
[ -n "$pc" ] || fail "no nabla.pc installed under $root"
export PKG_CONFIG_PATH="$(dirname "$pc")"
unset LD_LIBRARY_PATH
flags=$(pkg-config --cflags --libs nabla) || fail "pkg-config --cflags --libs nabla failed (PKG_CONFIG_PATH=$PKG_CONFIG_PATH)"
echo "pkg-config --cflags --libs nabla: $flags"
check() {   # check PROGRAM EXPECTED: it runs, prints EXPECTED, and uses the installed library
    out=$("$1") || fail "$1 failed (exit $?): $out"
    echo "$1: $out"
    [ "$out" = "$2" ] || { echo "expected: $2" >&2; exit 1; }
    lib=$(ldd "$1" | awk '/libnabla\.so/ {print $3}')
    case $lib in "$root"/*) ;; *) echo "$1 uses $lib, not the library in $root" >&2; exit 1 ;; esac
}
# shellcheck disable=SC2086
"$cc" -std=c11 -Wall -Wextra -Werror -o "$root/consumer" "$dir/consumer.c" $flags || fail "$cc could not build consumer.c"
check "$root/consumer" "y = 9, dy/dx = 6"
if [ -n "$cxx" ]; then
    # shellcheck disable=SC2086
    "$cxx" -std=c++17 -Wall -Wextra -Werror -o "$root/consumer_cpp" "$dir/consumer.cpp" $flags ||
        fail "$cxx could not build consumer.cpp"
    check "$root/consumer_cpp" "y = 6, dy/dx[5] = 2"
fi
