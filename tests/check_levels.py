#!/usr/bin/env python3
"""check_levels.py — the house rule of docs/design.md, checked over the
#include lines: every file of src/ and include/nabla/ includes only headers
of its own level or a level below. Prints each violation and exits 1.

    check_levels.py <source root>
"""
import os
import re
import sys

# The levels of docs/design.md, by path (the first matching prefix wins).
LEVELS = [
    (1, 'kernels', ['src/kernels/', 'include/nabla/config.h', 'include/nabla/threads.h',
                   'include/nabla/backend.h']),
    (2, 'tensor', ['src/step.', 'src/core.h', 'src/stale_guard.c', 'src/error.c', 'src/tensor.c',
                   'src/tensor_int.c', 'src/random.c',
                   'src/print.c', 'include/nabla/error.h', 'include/nabla/random.h',
                   'include/nabla/tensor.h']),
    (3, 'autograd', ['src/internal.h', 'src/autograd.c', 'src/anomaly.c', 'src/gradcheck.c',
                     'include/nabla/autograd.h', 'include/nabla/gradcheck.h']),
    (4, 'ops', ['src/ops/', 'src/activations/', 'src/loss/', 'include/nabla/ops.h',
                'include/nabla/activations.h', 'include/nabla/loss.h']),
    (5, 'nn', ['src/nn/', 'include/nabla/nn.h', 'include/nabla/conv.h', 'include/nabla/norm.h',
                'include/nabla/embedding.h', 'include/nabla/rnn.h', 'include/nabla/attention.h']),
    (6, 'optim', ['src/optim/', 'include/nabla/optim.h']),
    (7, 'data, io', ['src/data/', 'src/io/', 'include/nabla/data.h', 'include/nabla/io.h',
                     'include/nabla/plot.h']),
    (8, 'dist', ['src/dist/', 'include/nabla/dist.h']),
    (9, 'everything', ['include/nabla/nabla.h']),
]
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)


def level_of(path):
    for level, _, prefixes in LEVELS:
        if any(path.startswith(p) for p in prefixes):
            return level
    return None


def resolve(root, includer, name):
    """The include's path relative to root: next to the includer, then -Isrc, -Iinclude."""
    for base in (os.path.dirname(includer), 'src', 'include'):
        cand = os.path.normpath(os.path.join(base, name))
        if os.path.isfile(os.path.join(root, cand)):
            return cand
    return None


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else '.'
    files = []
    for top in ('src', 'include/nabla'):
        for d, _, names in os.walk(os.path.join(root, top)):
            files += [os.path.relpath(os.path.join(d, n), root) for n in names if n.endswith(('.c', '.h'))]
    bad = 0
    for f in sorted(files):
        own = level_of(f)
        if own is None:
            print(f'{f}: not in any level of check_levels.py (add it where it belongs)')
            bad += 1
            continue
        with open(os.path.join(root, f), encoding='utf-8') as fh:
            text = fh.read()
        for m in INCLUDE.finditer(text):
            target = resolve(root, f, m.group(1))
            if target is None:
                print(f'{f}: #include "{m.group(1)}" not found')
                bad += 1
                continue
            lv = level_of(target)
            if lv is None or lv > own:
                line = text.count('\n', 0, m.start()) + 1
                print(f'{f}:{line}: level {own} includes {target}, level {lv}')
                bad += 1
    print(f'{len(files)} files, {bad} problem(s)')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
