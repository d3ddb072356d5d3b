#!/usr/bin/env python3
"""check_exports.py — the shared libraries export the public API and nothing
else: every function declared in include/nabla/*.h is a defined dynamic
symbol of each library, and every exported symbol is declared there. Prints
each difference and exits 1. libnabla_dist's API is nabla/dist.h, the other
libraries' every other header.

    check_exports.py <include/nabla> <libnabla.so> [<libnabla64.so> <libnabla_dist.so> ...]
"""
import glob
import os
import re
import subprocess
import sys


DIST_HEADERS = ('dist.h',)


def declared(include_dir, dist):
    names = set()
    for path in glob.glob(os.path.join(include_dir, '*.h')):
        if (os.path.basename(path) in DIST_HEADERS) != dist:
            continue
        with open(path, encoding='utf-8') as f:
            text = f.read()
        text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)        # comments
        text = re.sub(r'//[^\n]*', ' ', text)
        text = re.sub(r'^\s*#(?:[^\n]*\\\n)*[^\n]*', ' ', text, flags=re.M)   # directives, macros
        names |= set(re.findall(r'\b(nb_\w+)\s*\(', text))      # functions (not (*fn) types)
    return names


def exported(lib):
    out = subprocess.run(['nm', '-D', '--defined-only', lib], check=True, capture_output=True,
                         text=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.split()[1:2] and
            line.split()[-2] in 'TDBRVWiu'}


def main():
    bad = 0
    for lib in sys.argv[2:]:
        public = declared(sys.argv[1], os.path.basename(lib).startswith('libnabla_dist'))
        syms = {s.split('@')[0] for s in exported(lib)}
        syms -= {s for s in syms if not s.startswith('nb')}   # _init, _fini, _edata...
        for s in sorted(syms - public):
            print(f'{os.path.basename(lib)} exports {s}, which no public header declares')
            bad += 1
        for s in sorted(public - syms):
            print(f'{os.path.basename(lib)} does not export {s}, declared in a public header')
            bad += 1
        print(f'{os.path.basename(lib)}: {len(syms)} exported nb symbols, {len(public)} public functions')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
