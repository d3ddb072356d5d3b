#!/bin/sh
# tests/consumer.sh BUILD_DIR PREFIX LIBDIR CC — install the build into a
# temporary root and build tests/consumer.c against it with pkg-config.
set -eu
build=$1 prefix=$2 libdir=$3 cc=$4
src=$(dirname "$0")/consumer.c
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
meson install -C "$build" --no-rebuild --quiet --destdir "$root" >/dev/null
case $libdir in /*) lib=$libdir ;; *) lib=$prefix/$libdir ;; esac
export PKG_CONFIG_SYSROOT_DIR="$root" PKG_CONFIG_PATH="$root$lib/pkgconfig"
flags=$(pkg-config --cflags --libs nabla)
echo "pkg-config --cflags --libs nabla: $flags"
# shellcheck disable=SC2086
"$cc" -std=c11 -Wall -Wextra -Werror -o "$root/consumer" "$src" $flags
out=$(LD_LIBRARY_PATH="$root$lib" "$root/consumer")
echo "$out"
[ "$out" = "y = 9, dy/dx = 6" ]
