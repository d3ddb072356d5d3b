#!/usr/bin/env python3
"""bench_flags.py — every program in bench/ answers --help with its usage
(exit 0, nothing run: no timing, no PyTorch side) and refuses an unknown flag
with exit 2 and a message naming it (issue 16: `bench/housing --help` used to
run zero steps and crash the Python side).

    bench_flags.py NAME=PATH ...
"""
import subprocess
import sys

# Flag values the benches refuse, and the message each must print.
BAD_VALUES = [
    ('mlp', ['--epochs', '0'], '--epochs must be from 1 to 64'),
    ('mlp', ['--epochs', 'two'], "--epochs: 'two' is not a valid number"),
    ('cnn', ['--batch', '0'], '--batch must be at least 1'),
    ('lstm', ['--epochs', '65'], '--epochs must be from 1 to 64'),
    ('gpt', ['--steps', '0'], '--steps must be at least 1'),
    ('housing', ['--steps', '0'], '--steps must be at least 1'),
    ('overhead', ['--iters', '5'], '--iters must be at least 10'),
    ('attention', ['--heads', '65'], '--batch and --heads must be from 1 to 64'),
    ('mlp', ['--threads', 'x'], '--threads takes one or two thread counts from 1 to 256'),
    ('cnn', ['--threads', '1,2,3'], '--threads takes one or two thread counts from 1 to 256'),
    ('gpt', ['--threads', '0'], '--threads takes one or two thread counts from 1 to 256'),
    ('lstm', ['--hidden', '0'], '--hidden must be at least 1 and --images at least 0'),
    ('vmath', ['--reps', '0'], '--n and --reps must be at least 1'),
    ('activations', ['--reps', '500'], '--reps must be from 1 to 101'),
]


def run(path, args):
    return subprocess.run([path] + args, capture_output=True, text=True, timeout=60)


def main():
    exes = dict(a.split('=', 1) for a in sys.argv[1:])
    bad = 0
    for name, path in sorted(exes.items()):
        r = run(path, ['--help'])
        if r.returncode != 0 or 'usage:' not in r.stdout or 'RESULT' in r.stdout:
            print(f'{name} --help: exit {r.returncode}, stdout {r.stdout[:200]!r}')
            bad += 1
        r = run(path, ['--no-such-flag'])
        if r.returncode != 2 or "--no-such-flag" not in r.stderr:
            print(f'{name} --no-such-flag: exit {r.returncode}, stderr {r.stderr[:200]!r}')
            bad += 1
    for name, args, msg in BAD_VALUES:
        r = run(exes[name], args)
        if r.returncode != 2 or msg not in r.stderr:
            print(f'{name} {" ".join(args)}: exit {r.returncode}, stderr {r.stderr[:200]!r}, want {msg!r}')
            bad += 1
    print(f'{len(exes)} bench programs checked, {bad} failure(s)')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
