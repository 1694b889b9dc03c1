#!/usr/bin/python3
"""Runs a command and succeeds only if it exits with the expected status.

    expect_exit.py STATUS COMMAND [ARGS...]

`not` accepts any non-zero status; the importer's contract for bad input is
exactly status 1 with a message, never a signal, an abort or a hang. The
command's stderr and stdout are copied to stdout (stderr first) for
FileCheck; on a wrong status, a signal or a hang (60 s) a line saying so is
printed and the exit status is 1.
"""

import subprocess
import sys

TIMEOUT_S = 60


def main(argv):
    if len(argv) < 3:
        sys.exit("usage: expect_exit.py STATUS COMMAND [ARGS...]")
    want = int(argv[1])
    try:
        proc = subprocess.run(argv[2:], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        print(f"expect_exit.py: {argv[2]} still running after {TIMEOUT_S} s")
        return 1
    sys.stdout.write(proc.stderr.decode("utf-8", "replace"))
    sys.stdout.write(proc.stdout.decode("utf-8", "replace"))
    if proc.returncode != want:
        how = (f"was killed by signal {-proc.returncode}"
               if proc.returncode < 0 else f"exited with {proc.returncode}")
        print(f"expect_exit.py: {argv[2]} {how}, expected exit status {want}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
