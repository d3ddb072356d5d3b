#!/bin/sh
# tests/not_built.sh WHY — the only test of a build without the test suite: it
# fails, saying why the suite is missing and how to build it.
echo "the test suite is not built: $1." >&2
echo "Build it with: scripts/install-deps --test && meson setup --reconfigure -Dtests=true BUILD_DIR" >&2
echo "(README.md's test command does all of it in build-test and build-san)" >&2
exit 1
