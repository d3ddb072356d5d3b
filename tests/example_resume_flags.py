#!/usr/bin/env python3
"""example_resume_flags.py — under --resume a run's settings are the
checkpoint's, and a setting also given on the command line is said on stderr
as not used (it used to be dropped silently); options that are not settings
(--stop-after, --checkpoint) are not.

    example_resume_flags.py CHAR_LSTM OUTDIR
"""
import os
import subprocess
import sys

exe, out = sys.argv[1:3]
os.makedirs(out, exist_ok=True)
ckpt = os.path.join(out, 'run.safetensors')
first = subprocess.run([exe, '--quick', '--checkpoint', ckpt, '--stop-after', '2', '--out', out],
                       capture_output=True, text=True)
if first.returncode != 0 or not os.path.exists(ckpt):
    print(f'the first run failed (exit {first.returncode}):\n{first.stderr}')
    sys.exit(1)
r = subprocess.run([exe, '--resume', ckpt, '--steps', '99', '--seed=5', '--stop-after', '1', '--out', out],
                   capture_output=True, text=True)
bad = 0
for flag in ('--steps', '--seed'):
    want = f'char_lstm: {flag} is not used: --resume continues the run with the checkpoint\'s settings'
    if want not in r.stderr:
        print(f'no "{want}" on stderr:\n{r.stderr}')
        bad += 1
if 'stop-after is not used' in r.stderr or 'checkpoint is not used' in r.stderr:
    print(f'an option that is not a setting was reported:\n{r.stderr}')
    bad += 1
if 'of 250' not in r.stdout:  # the checkpoint's 250 steps, not --steps 99
    print(f'the resumed run did not keep the checkpoint\'s 250 steps:\n{r.stdout[-400:]}')
    bad += 1
print('ok' if not bad else f'{bad} failure(s)')
sys.exit(1 if bad else 0)
