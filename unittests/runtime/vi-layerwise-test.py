#!/usr/bin/python3
"""Layer-wise quantization reaches a given accuracy with fewer bits than the
best global quantizer (issue 6).

Concurrent qoda-run jobs on the same fixed seeds: one with the layer-wise
options (LW_ARGS), one per GLOBAL_ARGS with global quantizers (every
compressor and --bits combination of its lists runs), all with COMMON_ARGS
(a job's own options come after them, so they win). For every run it finds
the bits rank 0 had sent when METRIC (distance: last iterate, avg_distance:
running average) first fell to TARGET. A global run that never reaches
TARGET counts with the bits it sent in the whole run, a lower bound of what
it would need (so the claim is never won by cutting a run short); if that
bound is below MARGIN times the best layer-wise run's bits, the comparison
is inconclusive and the test fails (run more steps). Passes when the best layer-wise
run needs fewer bits than the best global one by at least the factor MARGIN
and every rank ended each run with the same iterate and level tables.
Deterministic: no timing.

usage: vi-layerwise-test.py QODA_RUN QODA_BENCH K METRIC TARGET MARGIN
           -- LW_ARGS -- GLOBAL_ARGS [-- GLOBAL_ARGS ...] -- COMMON_ARGS
"""
import json
import subprocess
import sys

qoda_run, bench, k, metric, target, margin = sys.argv[1:7]
target, margin = float(target), float(margin)
rest = sys.argv[7:]
parts, cur = [], None
for a in rest:
    if a == "--":
        cur = []
        parts.append(cur)
    elif cur is None:
        sys.exit("expected -- LW_ARGS -- GLOBAL_ARGS -- COMMON_ARGS")
    else:
        cur.append(a)
if len(parts) < 3:
    sys.exit("expected -- LW_ARGS -- GLOBAL_ARGS [-- GLOBAL_ARGS ...] -- COMMON_ARGS")
common = parts[-1]
jobs = [("layer-wise", parts[0])] + [("global", p) for p in parts[1:-1]]

reached, steps, total = {}, {}, {}  # run -> bits at TARGET / step / all bits
finals = {}  # rank -> set of (run, levels_hash, x hash)
# The jobs run at the same time: each is bound by the latency of its
# collectives on loopback, not by the CPU, so together they take about as
# long as the longest one.
procs = []
for group, args in jobs:
    # The job's own options last: they override COMMON_ARGS (e.g. --steps).
    cmd = [qoda_run, "-n", k, "--timeout", "60", "--", bench, "vi", "--json"] + common + args
    procs.append((group, cmd, subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                               stderr=subprocess.PIPE, text=True)))
for group, cmd, proc in procs:
    out, err = proc.communicate()
    if proc.returncode != 0:
        sys.exit("run failed (%d): %s\n%s" % (proc.returncode, " ".join(cmd), err))
    for line in out.splitlines():
        rank, _, body = line.partition("] ")
        if not body.startswith("{"):
            continue
        rec = json.loads(body)
        if "compressor" not in rec:
            continue
        run = (group, rec["optimizer"], rec["compressor"], rec["bits"])
        if rec.get("final"):
            finals.setdefault(rank, set()).add((run, rec.get("levels_hash"), rec["x_fnv1a"]))
        elif "step" in rec:
            total[run] = rec["bits_sent"]
            if run not in reached and rec[metric] <= target:
                reached[run] = rec["bits_sent"]
                steps[run] = rec["step"]
for run in sorted(total):
    print("%-10s %-10s %-10s %d bits: %s" % (run + (
        "%d bits sent to reach %.3g at step %d" % (reached[run], target, steps[run])
        if run in reached else "did not reach %.3g (%d bits sent)" % (target, total[run]),)))
if len(finals) != int(k) or len(set(map(frozenset, finals.values()))) != 1:
    sys.exit("ranks disagree on the final iterate or level tables: %s" % finals)
lw = [b for r, b in reached.items() if r[0] == "layer-wise"]
if not lw:
    sys.exit("no layer-wise run reached the target")
gl = {r: reached.get(r, b) for r, b in total.items() if r[0] == "global"}
if not gl:
    sys.exit("no global run")
short = [r for r, b in gl.items() if r not in reached and b < min(lw) * margin]
if short:
    sys.exit("inconclusive: %s stopped before reaching the target with fewer "
             "bits than the layer-wise run; run more steps" % short)
best = min(gl.values())
print("best layer-wise: %d bits; best global: %d bits; ratio %.3f (must be >= %.2f)"
      % (min(lw), best, best / min(lw), margin))
sys.exit(0 if min(lw) * margin <= best else 1)
