#!/usr/bin/python3
"""Runs `qoda-bench vi --json` under qoda-run with K workers and checks that
the last iterate's distance to the solution shrank by at least FACTOR from
the first report to the last, and that every rank ended with the same
iterate and level tables.

usage: vi-converges-test.py QODA_RUN QODA_BENCH K FACTOR -- ARGS
"""
import json
import subprocess
import sys

qoda_run, driver, k, factor = sys.argv[1:5]
assert sys.argv[5] == "--"
cmd = [qoda_run, "-n", k, "--timeout", "25", "--", driver, "vi", "--json"] + sys.argv[6:]
res = subprocess.run(cmd, capture_output=True, text=True)
if res.returncode != 0:
    sys.exit("run failed (%d): %s\n%s" % (res.returncode, " ".join(cmd), res.stderr))
points, finals = [], set()
for line in res.stdout.splitlines():
    rank, _, rest = line.partition("] ")
    if not rest.startswith("{"):
        continue
    rec = json.loads(rest)
    if rec.get("final"):
        finals.add((rec["x_fnv1a"], rec["levels_hash"]))
    elif "step" in rec and rank == "[rank 0":
        points.append((rec["step"], rec["distance"]))
if len(finals) != 1:
    sys.exit("ranks ended in different states: %s" % sorted(finals))
if len(points) < 2:
    sys.exit("too few report points:\n" + res.stdout)
(s0, d0), (s1, d1) = points[0], points[-1]
print("distance %.4g at step %d -> %.4g at step %d (ratio %.3g, must be <= %s)"
      % (d0, s0, d1, s1, d1 / d0, factor))
sys.exit(0 if d1 <= float(factor) * d0 else 1)
