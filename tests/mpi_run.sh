#!/bin/sh
# tests/mpi_run.sh — the distributed tests, run by `meson test` through mpirun
# on this one machine:
#
#   mpi_run.sh none REASON            MPI was not found at setup: skip (77)
#   mpi_run.sh equivalence TEST_DIST  1 rank with the global batch, then 2 ranks
#       with half of it each, twice: the 2-rank runs are bit-identical, and
#       match the 1-rank one to float32 rounding (test_dist also checks that
#       both ranks end with the same parameters); with several buckets too;
#       and the optimizer state sharded (ZeRO-1) gives the unsharded bits;
#       a 2-rank run saved mid-epoch resumes on 2 ranks (the same bits) and
#       on 1 (to rounding)
#   mpi_run.sh syncbn TEST_DIST       SyncBatchNorm on 2 ranks = BatchNorm on 1
#   mpi_run.sh errors TEST_DIST       the error paths, on 2 ranks
#   mpi_run.sh failures TEST_DIST     rank 1 exits, is killed or hangs: the job
#       stops, with a message, instead of hanging
#   mpi_run.sh example EXE CNN DIR    examples/fashion_mnist --distributed
#       --quick on 2 ranks; then 1 epoch on 2 ranks saved in DIR and resumed
#       in one process, which must end at the 2-rank run's accuracy; and
#       examples/fashion_mnist_cnn --distributed --sync-bn --quick on 2 ranks
#   mpi_run.sh refused EXE            a build without MPI: EXE --distributed
#       fails, saying how to get MPI
#
# Under valgrind (meson test --setup valgrind) they are skipped: memcheck
# would trace mpirun and Open MPI's own processes; the distributed code runs
# under AddressSanitizer and LeakSanitizer in the build-san suite instead.
#
# mpirun is $MPIRUN, else mpirun, else mpiexec, from PATH; missing: skip (77).
# Open MPI gets --oversubscribe (2 ranks on any number of cores) and, as
# root, the two variables it requires; MPICH's mpiexec needs neither.
set -u
what=$1
if [ "$what" = none ]; then
    echo "SKIP: $2"
    exit 77
fi
if [ "$what" = refused ]; then
    "$2" --distributed --quick >/dev/null 2>"${TMPDIR:-/tmp}/refused.$$"
    rc=$?
    cat "${TMPDIR:-/tmp}/refused.$$"
    grep -q "apt-get install libopenmpi-dev openmpi-bin" "${TMPDIR:-/tmp}/refused.$$"
    found=$?
    rm -f "${TMPDIR:-/tmp}/refused.$$"
    if [ $rc -ne 2 ] || [ $found -ne 0 ]; then
        echo "FAIL: --distributed without MPI returned $rc, and should return 2 saying how to get MPI"
        exit 1
    fi
    exit 0
fi
case "${LD_PRELOAD-}" in
*vgpreload*)
    echo "SKIP: under valgrind (mpirun and Open MPI's processes would be traced); build-san runs these tests"
    exit 77
    ;;
esac
exe=$2
mpirun=${MPIRUN:-$(command -v mpirun || command -v mpiexec || true)}
if [ -z "$mpirun" ]; then
    echo "SKIP: no mpirun or mpiexec in PATH (apt-get install openmpi-bin, or scripts/install-deps --test)"
    exit 77
fi
flags=""
if "$mpirun" --version 2>&1 | grep -q "Open MPI"; then
    flags="--oversubscribe"
    if [ "$(id -u)" -eq 0 ]; then
        export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    fi
fi
# Under LeakSanitizer (the build-san suite): Open MPI's own allocations kept
# to the end are not ours (tests/lsan_mpi.supp); full stacks and its plugins
# kept loaded, so that the suppressions can name them.
here=$(dirname "$0")
export LSAN_OPTIONS="suppressions=$here/lsan_mpi.supp:fast_unwind_on_malloc=0:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export OMPI_MCA_mca_base_component_disable_dlclose=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run() { # run NP ARGS...: mpirun, bounded in time
    np=$1
    shift
    timeout 120 "$mpirun" $flags -np "$np" "$exe" "$@"
}

case $what in
equivalence)
    for mb in 25 0.0005; do # one bucket; several (0.5 kB: a bucket per layer or two)
        run 1 train "$tmp/one" --bucket-mb $mb || exit 1
        run 2 train "$tmp/two" --bucket-mb $mb || exit 1
        run 2 train "$tmp/again" --bucket-mb $mb || exit 1
        echo "2 ranks, twice (bucket_cap_mb $mb):"
        "$exe" compare "$tmp/two" "$tmp/again" 0 || exit 1
        echo "2 ranks against 1 (bucket_cap_mb $mb):"
        "$exe" compare "$tmp/one" "$tmp/two" 2e-5 || exit 1
    done
    # a 2-rank run saved by rank 0 mid-epoch (after step 6 of 12, row 32 of
    # epoch 1's 64), resumed on 2 ranks (the same bits) and in one process
    run 2 train "$tmp/saved" --save-at 6 "$tmp/mid.safetensors" || exit 1
    run 2 train "$tmp/resumed2" --resume "$tmp/mid.safetensors" || exit 1
    run 1 train "$tmp/resumed1" --resume "$tmp/mid.safetensors" || exit 1
    echo "2 ranks saved mid-epoch, resumed on 2 ranks, against uninterrupted:"
    "$exe" compare "$tmp/saved" "$tmp/resumed2" 0 || exit 1
    echo "2 ranks saved mid-epoch, resumed on 1, against 2 ranks uninterrupted:"
    "$exe" compare "$tmp/saved" "$tmp/resumed1" 2e-5 || exit 1
    run 2 train "$tmp/zero" --zero || exit 1
    echo "2 ranks, Adam's state sharded (ZeRO-1) against unsharded:"
    "$exe" compare "$tmp/two" "$tmp/zero" 0 || exit 1
    ;;
syncbn)
    run 2 syncbn || exit 1
    ;;
errors)
    run 2 errors || exit 1
    ;;
failures)
    for how in exit kill hang; do
        start=$(date +%s)
        run 2 fail $how >"$tmp/out" 2>&1
        rc=$?
        took=$(($(date +%s) - start))
        sed 's/^/    /' "$tmp/out"
        if [ $rc -eq 0 ] || [ $rc -eq 124 ]; then
            echo "FAIL: rank 1 failing ($how): mpirun returned $rc after $took s (124: it hung)"
            exit 1
        fi
        if grep -q "FAIL" "$tmp/out"; then
            exit 1
        fi
        if [ $how = hang ] && ! grep -q "waited more than 2 s for the other ranks" "$tmp/out"; then
            echo "FAIL: rank 0 did not report the timeout"
            exit 1
        fi
        echo "rank 1 failing ($how): the job stopped in $took s with status $rc"
    done
    ;;
example)
    run 2 --distributed --quick --out "$4" >"$tmp/two" || { cat "$tmp/two"; exit 1; }
    cat "$tmp/two"
    ckpt="$4/fashion_mnist_distributed.safetensors"
    run 2 --distributed --quick --out "$4" --checkpoint "$ckpt" --stop-after 1 || exit 1
    echo "resumed in one process:"
    "$exe" --quick --out "$4" --resume "$ckpt" >"$tmp/one" || { cat "$tmp/one"; exit 1; }
    cat "$tmp/one"
    two=$(grep "^test accuracy" "$tmp/two") one=$(grep "^test accuracy" "$tmp/one")
    if [ -z "$two" ] || [ "$two" != "$one" ]; then
        echo "FAIL: the 2-rank run ends at '$two', the run resumed in one process at '$one'"
        exit 1
    fi
    exe=$3
    run 2 --distributed --sync-bn --quick || exit 1
    ;;
*)
    echo "mpi_run.sh: unknown test '$what'"
    exit 2
    ;;
esac
