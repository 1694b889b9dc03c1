#!/usr/bin/python3
"""Layer-wise quantization reaches a given accuracy with fewer bits than the
best global quantizer on the heterogeneous-block game (issue 6).

For each bucket norm (l2, linf), qoda-run jobs run the optimiser given in
ARGS with `layerwise` (one type per block, levels re-fitted on the merged
histograms) at every LW_BITS, and with the global quantizers qsgd and nuqsgd
(one level sequence, buckets over the whole vector) at every GLOBAL_BITS,
all on the same fixed seeds. For every run it finds the bits rank 0 had sent
when METRIC (distance: last iterate, avg_distance: running average) first
fell to TARGET. Passes when the best layer-wise run needs fewer bits than
the best global run by at least the factor MARGIN, and every rank ended
each run with the same iterate and level tables. Deterministic: no timing.

usage: vi-layerwise-test.py QODA_RUN QODA_BENCH K METRIC TARGET MARGIN
                            LW_BITS GLOBAL_BITS -- ARGS
"""
import json
import subprocess
import sys

qoda_run, bench, k, metric, target, margin, lw_bits, gl_bits = sys.argv[1:9]
target, margin = float(target), float(margin)
assert sys.argv[9] == "--"
lines = []
for norm in ("l2", "linf"):
    for comps, bits in (("layerwise", lw_bits), ("qsgd,nuqsgd", gl_bits)):
        cmd = [qoda_run, "-n", k, "--timeout", "60", "--", bench, "vi", "--json",
               "--compressor", comps, "--bits", bits, "--norm", norm] + sys.argv[10:]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            sys.exit("run failed (%d): %s\n%s" % (res.returncode, " ".join(cmd), res.stderr))
        lines += [(norm, l) for l in res.stdout.splitlines()]
reached, steps = {}, {}  # run -> bits sent / step when TARGET was reached
finals = {}  # (norm, rank) -> set of (run, levels_hash, x hash)
for norm, line in lines:
    rank, _, rest = line.partition("] ")
    if not rest.startswith("{"):
        continue
    rec = json.loads(rest)
    run = (rec["compressor"], rec["bits"], norm)
    if rec.get("final"):
        finals.setdefault(rank, set()).add((run, rec.get("levels_hash"), rec["x_fnv1a"]))
    elif "step" in rec and run not in reached and rec[metric] <= target:
        reached[run] = rec["bits_sent"]
        steps[run] = rec["step"]
runs = sorted({r for s in finals.values() for r, _, _ in s})
for run in runs:
    print("%-10s %d bits %-4s: %s" % (run[0], run[1], run[2],
          "%d bits sent to reach %.3g at step %d" % (reached[run], target, steps[run])
          if run in reached else "did not reach %.3g" % target))
if len(finals) != int(k) or len(set(map(frozenset, finals.values()))) != 1:
    sys.exit("ranks disagree on the final iterate or level tables: %s" % finals)
lw = [b for (c, _, _), b in reached.items() if c == "layerwise"]
gl = [b for (c, _, _), b in reached.items() if c != "layerwise"]
if not lw:
    sys.exit("no layer-wise run reached the target")
best_gl = min(gl) if gl else float("inf")
print("best layer-wise: %d bits; best global: %s bits; ratio %.3f (must be >= %.2f)"
      % (min(lw), best_gl, best_gl / min(lw), margin))
sys.exit(0 if min(lw) * margin <= best_gl else 1)
