#!/usr/bin/env python3
"""example_flags.py — an example's --quick is a preset: flags given with it
win, whichever comes first (it used to overwrite them silently), and
--help after it shows the preset's values as the defaults.

    example_flags.py HOUSING_REGRESSION CSV OUTDIR
"""
import os
import re
import subprocess
import sys

exe, csv, out = sys.argv[1:4]
os.makedirs(out, exist_ok=True)
bad = 0
for args in (['--quick', '--steps', '7'], ['--steps', '7', '--quick']):
    # its exit status is the claim's, which 7 steps fail: only the steps are checked
    r = subprocess.run([exe, *args, '--data', csv, '--out', out], capture_output=True, text=True)
    steps = re.findall(r'^\s+(\d+)\s+[\d.]+$', r.stdout, re.M)
    if not steps or steps[-1] != '7' or '5000' in steps:
        print(f'{" ".join(args)}: the step rows were {steps}, not ending at step 7')
        bad += 1
r = subprocess.run([exe, '--quick', '--help'], capture_output=True, text=True)
if r.returncode != 0 or '(default 5000)' not in r.stdout:
    print(f'--quick --help: exit {r.returncode}, no "(default 5000)" for --steps:\n{r.stdout}')
    bad += 1
print('ok' if not bad else f'{bad} failure(s)')
sys.exit(1 if bad else 0)
