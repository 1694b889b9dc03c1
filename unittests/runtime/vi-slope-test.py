#!/usr/bin/python3
"""Runs `qoda-bench vi --json` under qoda-run and checks the log-log slope of
the distance to the solution against the rate the theory predicts.

usage: vi-slope-test.py QODA_RUN QODA_BENCH K METRIC MAX_SLOPE MIN_STEP -- ARGS
  METRIC     distance (last iterate) or avg_distance (running average)
  MAX_SLOPE  the fitted slope over steps >= MIN_STEP must be <= MAX_SLOPE
             (the theoretical exponent plus a tolerance)
"""
import json
import math
import subprocess
import sys

qoda_run, driver, k, metric, max_slope, min_step = sys.argv[1:7]
assert sys.argv[7] == "--"
cmd = [qoda_run, "-n", k, "--timeout", "18", "--", driver, "vi", "--json"] + sys.argv[8:]
res = subprocess.run(cmd, capture_output=True, text=True)
if res.returncode != 0:
    sys.exit("run failed (%d): %s\n%s" % (res.returncode, " ".join(cmd), res.stderr))
pts = []
for line in res.stdout.splitlines():
    if not line.startswith("[rank 0] {"):
        continue
    rec = json.loads(line[len("[rank 0] "):])
    if "step" in rec and rec["step"] >= int(min_step):
        pts.append((math.log(rec["step"]), math.log(rec[metric])))
if len(pts) < 3:
    sys.exit("too few report points after step %s:\n%s" % (min_step, res.stdout))
n = len(pts)
mx = sum(p[0] for p in pts) / n
my = sum(p[1] for p in pts) / n
slope = sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)
print("fitted slope of log %s vs log step over %d points: %.3f (must be <= %s)"
      % (metric, n, slope, max_slope))
sys.exit(0 if slope <= float(max_slope) else 1)
