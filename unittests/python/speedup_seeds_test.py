#!/usr/bin/python3
"""bench/speedup_seeds.py on synthetic speedup.py records: the mean curve
is the geometric mean of the seeds' curves (interpolated in log FD), times
to target and ratios follow from it, extra train.py options make their own
rows against their own baseline, and bad input is a clear error. Also the
speedup report's note on mixed step-size rules."""
import json
import math
import os
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
script = os.path.join(here, "..", "..", "bench", "speedup_seeds.py")
failures = []


def record(method, seed, curve, s_per_step, extra=()):
    return {"workers": 4, "link": "1gbit", "method": method, "status": "ok",
            "settings": {"seed": seed, "extra": list(extra)},
            "s_per_step": s_per_step, "curve": curve}


def run(args, expect=0):
    r = subprocess.run([sys.executable, script] + args, capture_output=True,
                       text=True, timeout=60)
    if r.returncode != expect:
        failures.append(f"{args}: exit {r.returncode}, expected {expect}: "
                        f"{r.stderr[-800:]}")
    return r


with tempfile.TemporaryDirectory() as tmp:
    dirs = [os.path.join(tmp, f"seed{s}") for s in (0, 1)]
    # Seed 0 and seed 1 of each method: FD 400 at 0 s falling to 100 at
    # 10 s (uncompressed), the compressed method twice as fast but its seed
    # 1 noisier; the mean curve reaches FD 200 at the geometric midpoint.
    runs = {
        0: [record("uncompressed", 0, [[0, 400], [10, 100]], 0.05),
            record("qoda-hand", 0, [[0, 400], [5, 100], [10, 100]], 0.04),
            record("uncompressed", 0, [[0, 400], [10, 400]], 0.05,
                   ["--step-sums", "aggregate"])],
        1: [record("uncompressed", 1, [[0, 400], [10, 100]], 0.05),
            record("qoda-hand", 1, [[0, 400], [5, 100], [10, 100]], 0.04),
            record("uncompressed", 1, [[0, 400], [10, 400]], 0.05,
                   ["--step-sums", "aggregate"])],
    }
    for s, d in zip((0, 1), dirs):
        os.makedirs(d)
        with open(os.path.join(d, "runs.jsonl"), "w") as f:
            for r in runs[s]:
                f.write(json.dumps(r) + "\n")
            f.write(json.dumps({"status": "failed", "workers": 4}) + "\n")
    # 201: just above the exact midpoint, which rounding may miss.
    r = run(dirs + ["--targets", "201,50", "--json"])
    if r.returncode == 0:
        rows = {(x["method"], x["extra"]): x
                for x in json.loads(r.stdout)["rows"]}
        base = rows[("uncompressed", "")]
        hand = rows[("qoda-hand", "")]
        agg = rows[("uncompressed", "--step-sums aggregate")]
        # log-linear from 400 to 100 over 10 s: FD 200 at 5 s; hand at 2.5.
        if base["time_to"]["201"] != 5.0 or hand["time_to"]["201"] != 2.5:
            failures.append(f"times to FD 201: {base['time_to']}, "
                            f"{hand['time_to']}")
        if hand["time_ratio_vs_uncompressed"]["201"] != 2.0:
            failures.append(f"ratio {hand['time_ratio_vs_uncompressed']}")
        if not math.isclose(hand["per_step_vs_uncompressed"], 1.25):
            failures.append(f"per step {hand['per_step_vs_uncompressed']}")
        if base["time_to"]["50"] is not None or base["seeds"] != [0, 1]:
            failures.append(f"uncompressed row {base}")
        # Its own baseline is itself (same extra options), never reached.
        if agg["time_to"]["201"] is not None or \
                agg["per_step_vs_uncompressed"] != 1.0:
            failures.append(f"extra-option row {agg}")
    r = run(dirs)
    if "| 4 | 1gbit | qoda-hand | - | 0,1 | 40.0 ms | 1.25x |" not in r.stdout:
        failures.append(f"markdown: {r.stdout}")
    r = run([os.path.join(tmp, "nothing")], expect=1)
    if "no runs.jsonl" not in r.stderr:
        failures.append(f"missing directory: {r.stderr}")
    r = run(dirs + ["--grid", "0"], expect=2)
    if "--grid must be positive" not in r.stderr:
        failures.append(f"--grid 0: {r.stderr}")
    r = run(dirs + ["--targets", "x"], expect=2)
    if "--targets: expected FD values" not in r.stderr:
        failures.append(f"--targets x: {r.stderr}")

# speedup.py's report names a mix of step-size rules (qoda-hand-sr's
# collective (b) sums the aggregate's norms, the others the workers').
sys.path.insert(0, os.path.join(here, "..", "..", "bench"))
import speedup_report  # noqa: E402


def rec(method, command="", extra=(), optimizer="qoda", ran=None):
    r = {"method": method, "optimizer": optimizer, "command": command,
         "settings": {"extra": list(extra)}}
    if ran is not None:  # the collective that ran (records since it)
        r["collective"] = ran
    return r


same = [rec("uncompressed"), rec("qoda-hand"), rec("qgenx", optimizer="qgenx")]
mixed = same + [rec("qoda-hand-sr", "train.py --collective scatter-reduce")]
agg = [rec("uncompressed", "", ["--step-sums=aggregate"]),
       rec("qoda-hand-sr", "--collective scatter-reduce",
           ["--step-sums", "aggregate"])]
if speedup_report.step_rule_note(same) is not None or \
        speedup_report.step_rule_note(agg) is not None:
    failures.append("a step-rule note where every QODA method agrees")
note = speedup_report.step_rule_note(mixed) or ""
if "qoda-hand-sr sum(s) the aggregate's norms" not in note or \
        "--step-sums aggregate" not in note:
    failures.append(f"step-rule note: {note!r}")
# --collective auto: what ran decides, not what the command asked for.
auto_b = same + [rec("qoda-auto-b", "--collective auto", ran="scatter-reduce")]
auto_a = same + [rec("qoda-auto-a", "--collective auto", ran="allgather")]
note = speedup_report.step_rule_note(auto_b) or ""
if "qoda-auto-b sum(s) the aggregate's norms" not in note or \
        speedup_report.step_rule_note(auto_a) is not None:
    failures.append(f"step-rule note with --collective auto: {note!r}")

if failures:
    sys.exit("\n".join(failures))
print("ok")
