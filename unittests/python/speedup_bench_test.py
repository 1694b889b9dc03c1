#!/usr/bin/python3
"""bench/speedup.py on a tiny grid (K = 2, unshaped, uncompressed and
qoda-hand, a few steps of a tiny WGAN), then its outputs:

* runs.jsonl has one parseable line per run, status ok, with every number
  the table needs (time per step and its compute part, bits per
  coordinate, time to the target, FD at the end, load average), and the
  compressed run sends fewer bits per coordinate;
* speedup.md has a row per run, the baseline's "1 (baseline)", and the
  two PNG plots exist and are images;
* --resume runs nothing more; without --resume a second sweep into the
  same directory is refused; --report-only with another target rewrites
  the table;
* bad options are clear errors (exit 2, naming the option).

usage: speedup_bench_test.py QODA_RUN
"""
import json
import os
import subprocess
import sys
import tempfile

try:
    import torch  # noqa: F401
except ImportError:
    print("skipped: PyTorch is not installed (Debian: python3-torch)")
    sys.exit(77)

qoda_run = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
script = os.path.join(here, "..", "..", "bench", "speedup.py")
tmp = tempfile.mkdtemp(prefix="qoda-speedup-")
out = os.path.join(tmp, "out")
tiny = ["--qoda-run", qoda_run, "--workers", "2", "--links", "unshaped",
        "--methods", "uncompressed,qoda-hand", "--minutes", "5",
        "--steps", "4", "--eval-seconds", "0.05", "--quality-target", "1e9",
        "--nz", "8", "--ngf", "8", "--ndf", "8", "--batch", "8",
        "--eval-samples", "64", "--classifier-steps", "20",
        "--cache-dir", os.path.join(tmp, "cache")]
failures = []


def run(args, expect=0):
    r = subprocess.run([sys.executable, script] + args, capture_output=True,
                       text=True, timeout=150)
    if r.returncode != expect:
        sys.exit(f"speedup.py {' '.join(args)}: exit {r.returncode}, "
                 f"expected {expect}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


# Bad options first (cheap): exit 2 and the option named.
for bad, words in ((["--workers", "2,x"], "--workers"),
                   (["--workers", "1"], "--workers"),
                   (["--links", "fast"], "--links"),
                   (["--methods", "qoda,sgd"], "--methods"),
                   (["--minutes", "0"], "--minutes"),
                   (["--batch", "0"], "--batch"),
                   (["--quality-target", "-1"], "--quality-target")):
    r = run(["--out", out] + tiny + bad, expect=2)
    if words not in r.stderr:
        failures.append(f"{bad}: message does not name {words}: {r.stderr}")
r = run(["--out", out] + [a for a in tiny if a != "1e9"
                          and a != "--quality-target"], expect=2)
if "--quality-target" not in r.stderr:
    failures.append(f"missing target: {r.stderr}")

r = run(["--out", out] + tiny)
print(r.stdout[-2500:])
rows = [json.loads(l) for l in open(os.path.join(out, "runs.jsonl"))]
if [(x["workers"], x["link"], x["method"]) for x in rows] != \
        [(2, "unshaped", "uncompressed"), (2, "unshaped", "qoda-hand")]:
    failures.append(f"runs {[(x['workers'], x['method']) for x in rows]}")
for x in rows:
    if x["status"] != "ok" or x["steps"] != 4 or not x["s_per_step"] > 0 or \
            not 0 < x["compute_s_per_step"] < x["s_per_step"] or \
            x["time_to_target_s"] != 0.0 or len(x["curve"]) < 2 or \
            len(x["load_start"]) != 3 or not x["fd_final"] > 0:
        failures.append(f"record {x}")
    # CPU accounting (train.py's cpu_usage): the step's CPU holds the
    # model's; cores busy is a fraction (None only without /proc/stat).
    if not 0 < x["compute_cpu_s_per_step"] < x["cpu_s_per_step"] or \
            not x["cores"] >= 1 or not 0 < x["cores_busy"] <= 1:
        failures.append(f"CPU accounting {x}")
if not rows[1]["bits_per_coord"] < rows[0]["bits_per_coord"]:
    failures.append(f"bits/coord {[x['bits_per_coord'] for x in rows]}")
md_all = open(os.path.join(out, "speedup.md")).read()
md, _, cpu_md = md_all.partition("Where the steps' time went")
if md.count("| 2 | unshaped |") != 2 or "1 (baseline)" not in md or \
        "Step-size rule" in md:  # both methods sum the workers' norms
    failures.append(f"table:\n{md}")
if "CPU bound" not in cpu_md or cpu_md.count("| 2 | unshaped |") != 2:
    failures.append(f"CPU table:\n{md_all}")
for png in ("speedup_curves.png", "speedup_bars.png"):
    with open(os.path.join(out, png), "rb") as f:
        if f.read(8) != b"\x89PNG\r\n\x1a\n":
            failures.append(f"{png} is not a PNG")

r = run(["--out", out] + tiny + ["--resume"])
if "0 runs to do" not in r.stdout or \
        len(open(os.path.join(out, "runs.jsonl")).readlines()) != 2:
    failures.append(f"--resume ran again:\n{r.stdout[-1000:]}")
r = run(["--out", out] + tiny, expect=1)
if "--resume" not in r.stderr:
    failures.append(f"second sweep without --resume: {r.stderr}")
r = run(["--out", out] + tiny + ["--batch", "4", "--resume"], expect=1)
if "other settings" not in r.stderr or "batch" not in r.stderr:
    failures.append(f"--resume with other settings: {r.stderr}")
r = run(["--out", out, "--report-only", "--quality-target", "1e-9"])
if "not reached" not in open(os.path.join(out, "speedup.md")).read():
    failures.append("--report-only with an unreachable target")

if failures:
    sys.exit("\n".join(failures))
print("ok")
