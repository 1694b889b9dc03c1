#!/usr/bin/python3
"""A few steps of examples/wgan through compare.py (K = 2 under qoda-run),
then its outputs:

* every rank ran (the job exits 0) and rank 0 wrote the metrics (one line
  per evaluation), the summary, the samples PNG and both ONNX models;
* the ONNX initializers of the training-mode export include every
  named_parameters() name of the schedule's model, with its shape (how
  qoda.torch matches schedules);
* compare.py prints the layer types and plot.py's two PNG files;
* with QODA_COMPILE: both exported models compiled by qoda-compile, a few
  steps of train.py --library (qoda.torch's library=, the ModelLibCodec),
  and the generator's library given to the critic is a ValueError listing
  the differing names.

usage: wgan_smoke_test.py QODA_RUN [QODA_COMPILE]
"""
import json
import os
import subprocess
import sys
import tempfile

import onnx
from onnx import numpy_helper

import qoda

qoda_run = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
example = os.path.join(here, "..", "..", "examples", "wgan")
tmp = tempfile.mkdtemp(prefix="qoda-wgan-smoke-")
out = os.path.join(tmp, "out")
common = ["--steps", "4", "--eval-every", "2", "--classifier-steps", "20",
          "--eval-samples", "64", "--batch", "8", "--nz", "8", "--ngf", "8",
          "--ndf", "8", "--bucket", "64", "--refit", "0,2",
          "--cache-dir", os.path.join(tmp, "cache")]
# compare.py: caches the classifier, runs train.py under qoda-run, plots.
cmd = [sys.executable, os.path.join(example, "compare.py"), "--qoda-run",
       qoda_run, "-n", "2", "--runs", "qoda-layerwise", "--out", out,
       "--"] + common
res = subprocess.run(cmd, capture_output=True, text=True)
print(res.stdout[-3000:])
if res.returncode != 0:
    sys.exit(f"compare.py failed ({res.returncode}):\n{res.stderr[-3000:]}")
if "sent as: conv (levels, 4 bits)" not in res.stdout:
    sys.exit("compare.py printed no layer types")

rows = [json.loads(l) for l in open(os.path.join(out, "qoda-layerwise-k2.jsonl"))]
if [r["step"] for r in rows] != [0, 2, 4]:
    sys.exit(f"evaluations at steps {[r['step'] for r in rows]}")
if not (rows[-1]["bits_sent"] > 0 and rows[-1]["fd"] >= 0 and
        rows[-1]["swd"] >= 0):
    sys.exit(f"metrics {rows[-1]}")
summary = json.load(open(os.path.join(out, "qoda-layerwise-k2.json")))
if summary["workers"] != 2 or summary["steps"] != 4 or \
        summary["refits"] != 2 or not 0 < summary["bits_per_coord"] < 32:
    sys.exit(f"summary {summary}")
if set(summary["layer_types"]) != {"conv (levels, 4 bits)", "small (fp32)"}:
    sys.exit(f"layer types {summary['layer_types']}")
for f in ("qoda-layerwise-k2-samples.png", "onnx/generator.onnx", "onnx/critic.onnx"):
    if not os.path.getsize(os.path.join(out, f)):
        sys.exit(f"{f} is empty")

# The hand schedule's names are the ONNX initializer names, same shapes.
for model in ("generator", "critic"):
    m = onnx.load(os.path.join(out, "onnx", f"{model}.onnx"))
    inits = {i.name: list(numpy_helper.to_array(i).shape)
             for i in m.graph.initializer}
    sched = qoda.Schedule.load(os.path.join(
        out, ".schedules-qoda-layerwise-k2-r0", f"{model}.hand.schedule.json"))
    for p in sched.params:
        if inits.get(p["name"]) != list(p["shape"]):
            sys.exit(f"{model}: parameter {p['name']} {p['shape']} is not an "
                     f"ONNX initializer of that shape: {sorted(inits)}")

plots = [l for l in res.stdout.split() if l.endswith(".png")]
if sorted(os.path.basename(p) for p in plots) != ["quality_vs_bits.png",
                                                  "quality_vs_time.png"]:
    sys.exit(f"plots {plots}")
for path in plots:
    if os.path.getsize(path) < 1000:
        sys.exit(f"plot {path} is empty")

if len(sys.argv) > 2:
    # These 8-channel models are mostly biases (fp32): a 16-bit budget.
    libs = []
    for model in ("generator", "critic"):
        lib = os.path.join(tmp, f"lib-{model}")
        r = subprocess.run([sys.argv[2], os.path.join(out, "onnx", f"{model}.onnx"),
                        "-o", lib, "--bits-per-coordinate", "16",
                        "--target", "cpu"], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"qoda-compile {model} failed: {r.stdout}{r.stderr}")
        libs.append(lib)
    cmd = [qoda_run, "-n", "2", "--timeout", "120", "--", sys.executable,
           os.path.join(example, "train.py"), "--library", ",".join(libs),
           "--run-name", "compiled", "--out", out, "--no-export",
           "--collective", "auto"] + common
    res = subprocess.run(cmd, capture_output=True, text=True)
    print(res.stdout[-2000:])
    if res.returncode != 0:
        sys.exit(f"train.py --library failed ({res.returncode}):\n"
                 f"{res.stderr[-3000:]}")
    summary = json.load(open(os.path.join(out, "compiled.json")))
    # (bits per coordinate: these tiny models at 16 bits plus two refits'
    # histogram merges can exceed 32, so only > 0 is checked.)
    if summary["steps"] != 4 or summary["refits"] != 2 or \
            not summary["bits_per_coord"] > 0 or \
            summary["libraries"] != libs:
        sys.exit(f"compiled-library summary {summary}")
    # --collective auto with libraries: (a), the only one they can run.
    note = (summary["collective_choice"] or {}).get("note", "")
    if summary["collective"] != "allgather" or \
            "compiled model libraries" not in note or \
            "collective auto -> allgather" not in res.stdout:
        sys.exit(f"--collective auto with libraries: {summary['collective']}, "
                 f"{summary['collective_choice']}")
    # The generator's compiled library offered for the critic.
    import torch
    sys.path.insert(0, example)
    import wgan
    import qoda.torch
    try:
        qoda.torch.QODA(wgan.Critic(8).named_parameters(), lr=0.1,
                        library=libs[0])
        sys.exit("the generator's library was accepted for the critic")
    except ValueError as e:
        if "only in the model" not in str(e) or \
                "only in the schedule" not in str(e):
            sys.exit(f"mismatch message lists no names: {e}")
        print(f"mismatch: {str(e).splitlines()[0]}")
print("ok")
