#!/bin/sh
# tests/optional_suite.sh SOURCE_DIR — a build without the test suite
# (-Dtests=false, as when Criterion is missing) and without MPI (-Dmpi=disabled,
# as when it is not installed) configures, says once that the distributed part
# is not built, builds and runs an example, and its `meson test` fails with the
# line saying how to get the suite.
set -eu
src=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir" "$dir.log"' EXIT
meson setup "$dir" "$src" -Dtests=false -Dmpi=disabled >"$dir.log" 2>&1 || { cat "$dir.log"; exit 1; }
grep "the test suite is not built: it was configured with -Dtests=false" "$dir.log"
grep "the distributed part (libnabla_dist, nabla/dist.h) is not built: MPI was not found" "$dir.log"
meson compile -C "$dir" examples/xor >/dev/null
"$dir/examples/xor" --quick | tail -n 1
if meson test -C "$dir" >"$dir.log" 2>&1; then
    echo "meson test passed in a build without tests" >&2; exit 1
fi
grep "no test suite (run scripts/install-deps --test, then meson setup --reconfigure)" "$dir.log"
