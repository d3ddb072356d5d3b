#!/usr/bin/env python3
"""scripts/doc_outputs.py — the example output shown in the docs is what the
examples print: runs each marked command and compares, or rewrites the blocks.

    scripts/doc_outputs.py --check  BUILD_DIR FILE.md...   (the test suite)
    scripts/doc_outputs.py --check-slow BUILD_DIR FILE.md... (also the slow blocks: -Dslow_tests=true)
    scripts/doc_outputs.py --update BUILD_DIR FILE.md...   (meson compile -C build docs)

A fenced block is checked when the line before it is a marker

    <!-- output of: build/examples/housing_regression -->

The command runs through the shell in a scratch directory in which `build` is
BUILD_DIR and `data` is the repository's data/, with NABLA_NUM_THREADS=2, so it
reads as the docs print it and writes nothing into the source tree. Its
standard output and error together are its output. Markers of one file run in
order in one scratch directory (a later command may read a file an earlier one
wrote); consecutive markers of the same command are pieces of one run. A
marker `<!-- output of (slow): CMD -->` is a run of minutes: --check skips it
and says so, --check-slow and --update run it. A command that starts with
`mpirun` (a data-parallel run, docs/distributed.md) is skipped, saying so,
when mpirun is not in PATH or BUILD_DIR has no libnabla_dist (MPI was not
found at setup); it runs with Open MPI's consent to run as root and to place
more ranks than cores (OMPI_ALLOW_RUN_AS_ROOT, OMPI_MCA_rmaps_base_oversubscribe),
as tests/mpi_run.sh does, so that the docs can show a plain `mpirun -np 2 ...`.

A block matches when its lines appear in the output, in order and
consecutively, except that a line `...` stands for any number of lines.
Timings are the only thing compared loosely: a number followed by a unit of
time or of throughput (`0.5 s`, `12 ms`, `132675 ex/s`, `7126 images/s`, `ETA
0:01`) matches any number in that place.

--update replaces each block's lines by what the program now prints, keeping
its `...` elisions: each run of lines between them goes to the place of the
output that resembles it most (the same lines with other numbers). Review the
diff; a block whose shape changed must be edited by hand (it says which).
"""
import difflib
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

MARKER = re.compile(r'^<!-- output of( \(slow\))?: (.*) -->$')
TIMING = re.compile(r'\s*\d+(?:\.\d+)?\s*(?:s|ms|us|[A-Za-z]+/s)\b|ETA \d+:\d+')
ELIDED = '...'
# The CPU features the docs' numbers depend on: with them nabla dispatches to the
# AVX-512 GEMM micro-kernel and the x86-64-v4 clones of the pointwise loops,
# whose rounding the printed digits show (the AVX2 kernel blocks K differently).
SAME_ROUNDING = {'avx512f', 'avx512bw', 'avx512dq', 'avx512vl', 'fma'}
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def untimed(line):
    return TIMING.sub(' <time>', line.rstrip())


def blocks(lines):
    """(command, slow, first line index, end index) of every marked fenced block."""
    out = []
    for i, line in enumerate(lines):
        m = MARKER.match(line.rstrip('\n'))
        if not m:
            continue
        if i + 1 >= len(lines) or not lines[i + 1].startswith('```'):
            sys.exit(f'line {i + 1}: a marker must stand right before a fenced block')
        end = next((j for j in range(i + 2, len(lines)) if lines[j].rstrip() == '```'), None)
        if end is None:
            sys.exit(f'line {i + 2}: the fenced block never ends')
        out.append((m.group(2), bool(m.group(1)), i + 2, end))
    return out


def segments(block):
    """The block's runs of literal lines, and the `...` lines between them."""
    segs, gaps, cur = [], [], []
    for line in block:
        if line.strip() == ELIDED:
            segs.append(cur)
            gaps.append(line)
            cur = []
        else:
            cur.append(line)
    segs.append(cur)
    return segs, gaps


def find(seg, output, start, key):
    """First index >= start where seg's lines equal output's (under key)."""
    want = [key(l) for l in seg]
    for p in range(start, len(output) - len(seg) + 1):
        if all(key(output[p + k]) == want[k] for k in range(len(seg))):
            return p
    return None


def matches(block, output):
    pos = 0
    for seg in segments(block)[0]:
        if not seg:
            continue
        p = find(seg, output, pos, untimed)
        if p is None:
            return False
        pos = p + len(seg)
    return True


def resemblance(seg, output, p):
    return sum(difflib.SequenceMatcher(None, a, output[p + k]).ratio() for k, a in enumerate(seg))


def updated(block, output):
    """The block with each segment replaced by its closest place in output, or None."""
    result, pos = [], 0
    segs, gaps = segments(block)
    for n, seg in enumerate(segs):
        if n:
            result.append(gaps[n - 1])
        if not seg:
            continue
        places = range(pos, len(output) - len(seg) + 1)
        if not places:
            return None
        p = max(places, key=lambda q: (resemblance(seg, output, q), -q))
        if resemblance(seg, output, p) < 0.6 * len(seg):
            return None
        # a segment that differs in its timings only keeps the docs' figures; one
        # that differs in anything else is taken whole, timings included, so that
        # a total printed after the epochs' times is the sum of those shown
        new = output[p:p + len(seg)]
        result += seg if all(untimed(a) == untimed(b) for a, b in zip(seg, new)) else new
        pos = p + len(seg)
    return result


def mpi_missing(command, build):
    """Why an mpirun command cannot run here, or None."""
    if not command.startswith('mpirun '):
        return None
    if not shutil.which('mpirun'):
        return 'no mpirun in PATH (apt-get install openmpi-bin)'
    if not glob.glob(os.path.join(build, 'libnabla_dist.*')):
        return 'the build has no libnabla_dist (MPI was not found at setup)'
    return None


def run(command, scratch):
    env = dict(os.environ, NABLA_NUM_THREADS='2', OMPI_MCA_rmaps_base_oversubscribe='1')
    if os.geteuid() == 0:
        env.update(OMPI_ALLOW_RUN_AS_ROOT='1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM='1')
    proc = subprocess.run(command, shell=True, cwd=scratch, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    return [l.rstrip() for l in proc.stdout.split('\n')]


def process(path, build, update, slow):
    with open(path) as f:
        lines = f.read().split('\n')
    failures = checked = skipped = no_mpi = 0
    with tempfile.TemporaryDirectory() as scratch:
        os.symlink(os.path.abspath(build), os.path.join(scratch, 'build'))
        os.symlink(os.path.join(REPO, 'data'), os.path.join(scratch, 'data'))
        previous, output = None, []
        edits = []
        for command, is_slow, first, end in blocks(lines):
            if is_slow and not slow:
                skipped += 1
                continue
            why = mpi_missing(command, build)
            if why:
                if command != previous:
                    print(f'{path}:{first - 1}: skipped, {why}: {command}')
                previous = command
                no_mpi += 1
                continue
            if command != previous:
                print(f'{path}:{first - 1}: {command}', flush=True)
                output = run(command, scratch)
                previous = command
            block = lines[first:end]
            checked += 1
            if matches(block, output):
                continue
            new = updated(block, output) if update else None
            if new is not None:
                edits.append((first, end, new))
                print(f'{path}:{first}: updated')
                continue
            failures += 1
            print(f'{path}:{first}: the block does not match what `{command}` prints'
                  + (' and has changed shape: edit it by hand' if update else ''))
            for line in difflib.unified_diff(block, output, 'docs', 'printed', lineterm='', n=1):
                print('    ' + line)
    for first, end, new in reversed(edits):
        lines[first:end] = new
    if edits:
        with open(path, 'w') as f:
            f.write('\n'.join(lines))
    print(f'{path}: {checked - failures} of {checked} output blocks match'
          + (f'; {skipped} slow block(s) not run (--check-slow runs them)' if skipped else '')
          + (f'; {no_mpi} block(s) of mpirun not run (no MPI)' if no_mpi else ''))
    return failures


def cpu_flags():
    try:
        with open('/proc/cpuinfo') as f:
            return next((set(l.split(':', 1)[1].split()) for l in f if l.startswith('flags')), set())
    except OSError:
        return set()


def main(argv):
    if len(argv) < 4 or argv[1] not in ('--check', '--check-slow', '--update'):
        sys.exit(__doc__)
    missing = sorted(SAME_ROUNDING - cpu_flags())
    if missing:
        print(f'skipped: the docs were made on an x86-64 CPU with {" ".join(sorted(SAME_ROUNDING))};'
              f' this one lacks {" ".join(missing)}, so its kernels (GEMM blocking, vector'
              ' clones) round differently and the last digits would not compare')
        return 77
    update = argv[1] == '--update'
    failures = sum(process(path, argv[2], update, update or argv[1] == '--check-slow') for path in argv[3:])
    if failures:
        print(f'{failures} block(s) differ from the programs\' output'
              + ('' if argv[1] == '--update' else '; regenerate with `meson compile -C build docs`'))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
