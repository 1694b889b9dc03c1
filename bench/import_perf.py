#!/usr/bin/python3
"""Measures import time and peak memory of qoda-inspect and qoda-opt on
large PyTorch models, against the size of the .onnx file.

    import_perf.py [--bin DIR] [--models resnet50 vit_b_16] [--repeat 3]
                   [--work DIR]

Exports each model with examples/models/export_models.py in training mode
(qoda's recipe; weights=None, 224x224) into --work (kept between runs), then
runs each tool --repeat times as a fresh process:

    qoda-inspect MODEL --json > /dev/null
    qoda-opt MODEL -o WORK/MODEL.mlir

and prints a Markdown table with the median wall time, the peak resident
set size of the tool process (ru_maxrss from wait4, so only that process is
counted) and the peak RSS as a fraction of the file size. A row for a tiny
textual model gives the tools' start-up baseline.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
EXPORT = os.path.join(ROOT, "examples", "models", "export_models.py")

TINY_MODEL = """<
  ir_version: 8,
  opset_import: ["" : 14]
>
tiny (float[1, 4] X) => (float[1, 4] Y) {
  Y = Relu(X)
}
"""


def measure(cmd):
    """Runs cmd once; returns (seconds, peak RSS in bytes, exit status)."""
    start = time.monotonic()
    with open(os.devnull, "wb") as null:
        proc = subprocess.Popen(cmd, stdout=null, stderr=subprocess.PIPE)
        stderr = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"import_perf.py: {' '.join(cmd)} failed with status "
                 f"{proc.returncode}:\n{stderr.decode('utf-8', 'replace')}")
    return seconds, usage.ru_maxrss * 1024  # Linux reports KiB


def export(name, work):
    path = os.path.join(work, name + ".onnx")
    if not os.path.exists(path):
        subprocess.run([sys.executable, EXPORT, "--mode", "train", "--out",
                        work, name], check=True, stdout=subprocess.DEVNULL)
    return path


def main():
    ap = argparse.ArgumentParser(
        description="Import time and peak RSS of qoda-inspect and qoda-opt "
                    "(see the file's docstring).")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"),
                    help="directory with qoda-inspect and qoda-opt "
                         "(default: build/bin of this checkout)")
    ap.add_argument("--models", nargs="+", default=["resnet50", "vit_b_16"],
                    help="export_models.py names (default resnet50 vit_b_16)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs per tool and model; the median time is shown")
    ap.add_argument("--work", default="/tmp/qoda-import-perf",
                    help="where exported models and outputs are kept")
    args = ap.parse_args()
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")

    os.makedirs(args.work, exist_ok=True)
    tiny = os.path.join(args.work, "tiny.onnxtxt")
    with open(tiny, "w") as f:
        f.write(TINY_MODEL)
    models = [("tiny (textual, start-up)", tiny)]
    models += [(name, export(name, args.work)) for name in args.models]

    inspect = os.path.join(args.bin, "qoda-inspect")
    opt = os.path.join(args.bin, "qoda-opt")
    print("| model | .onnx size | tool | time (median of "
          f"{args.repeat}) | peak RSS | peak RSS / file size |")
    print("|---|---:|---|---:|---:|---:|")
    for name, path in models:
        size = os.path.getsize(path)
        mlir = os.path.join(args.work, os.path.basename(path) + ".mlir")
        for tool, cmd in (("qoda-inspect --json", [inspect, path, "--json"]),
                          ("qoda-opt -o FILE", [opt, path, "-o", mlir])):
            runs = [measure(cmd) for _ in range(args.repeat)]
            seconds = statistics.median(r[0] for r in runs)
            rss = max(r[1] for r in runs)
            ratio = f"{rss / size:.2f}" if path != tiny else "-"
            print(f"| {name} | {size / 2**20:.1f} MiB | {tool} | "
                  f"{seconds * 1000:.0f} ms | {rss / 2**20:.1f} MiB | "
                  f"{ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
