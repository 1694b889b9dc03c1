#!/usr/bin/python3
"""QODA sends exactly half the bytes per iteration of Q-GenX (one collective
per step instead of two), on the same runtime and compressor.

usage: vi-bytes-test.py QODA_RUN QODA_BENCH K ARGS...   (ARGS go to both runs)
"""
import json
import subprocess
import sys

qoda_run, driver, k = sys.argv[1:4]


def summary(opt):
    cmd = [qoda_run, "-n", k, "--timeout", "15", "--", driver, "vi", "--json",
           "--optimizer", opt] + sys.argv[4:]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit("run failed (%d): %s\n%s" % (res.returncode, " ".join(cmd), res.stderr))
    for line in res.stdout.splitlines():
        if line.startswith("[rank 0] {") and '"summary"' in line:
            return json.loads(line[len("[rank 0] "):])
    sys.exit("no summary line in:\n" + res.stdout)


q, g = summary("qoda"), summary("qgenx")
print("qoda: %s B/step in %d collective(s); qgenx: %s B/step in %d" % (
    q["bytes_sent_per_step"], q["collectives_per_step"],
    g["bytes_sent_per_step"], g["collectives_per_step"]))
ok = (q["collectives_per_step"] == 1 and g["collectives_per_step"] == 2
      and q["bytes_sent_per_step"] > 0
      and 2 * q["bytes_sent_per_step"] == g["bytes_sent_per_step"])
sys.exit(0 if ok else 1)
