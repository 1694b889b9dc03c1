#!/usr/bin/python3
"""Trains the WGAN with K local workers for each configuration in turn and
plots them together: the README's one command.

    compare.py --qoda-run build/bin/qoda-run [-n 4] [--minutes 3]
               [--bandwidth RATE] [--out out/wgan] [--runs NAME,...]
               [-- EXTRA train.py ARGS]

Runs (default: adam-none,qoda-layerwise):
  adam-none        Adam, betas (0.5, 0.9), fp32 all-reduce (the baseline)
  qoda-none        QODA, fp32 all-reduce
  qoda-layerwise   QODA, layer-wise quantization (hand-chosen types), refits
  qgenx-qsgd       Q-GenX with a global 4-bit QSGD quantizer
  adam-layerwise   Adam over the layer-wise compressed all-reduce
The classifier for the quality measure is trained (or loaded from the
cache) once, before any worker starts. Prints each run's summary and the
paths of the plots.
"""

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RUNS = {
    "adam-none": ["--optimizer", "adam", "--compressor", "none"],
    "qoda-none": ["--optimizer", "qoda", "--compressor", "none"],
    "qoda-layerwise": ["--optimizer", "qoda", "--compressor", "layerwise"],
    "qgenx-qsgd": ["--optimizer", "qgenx", "--compressor", "qsgd"],
    "adam-layerwise": ["--optimizer", "adam", "--compressor", "layerwise"],
}


def main():
    argv = sys.argv[1:]
    extra = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--qoda-run", required=True)
    p.add_argument("-n", type=int, default=4)
    p.add_argument("--minutes", type=float, default=3.0)
    p.add_argument("--bandwidth", default=None)
    p.add_argument("--out", default="out/wgan")
    p.add_argument("--runs", default="adam-none,qoda-layerwise")
    a = p.parse_args(argv)
    names = a.runs.split(",")
    bad = [n for n in names if n not in RUNS]
    if bad:
        p.error(f"unknown run(s) {bad}; known: {', '.join(RUNS)}")
    py = sys.executable
    train = os.path.join(HERE, "train.py")
    # Train (or load) the cached classifier alone, before any worker starts:
    # a one-step run.
    subprocess.run([py, train, "--steps", "1", "--no-export", "--out",
                    os.path.join(a.out, "prepare"), "--compressor", "none"]
                   + extra, check=True, stdout=subprocess.DEVNULL)
    summaries = []
    for n in names:
        cmd = [a.qoda_run, "-n", str(a.n)]
        if a.bandwidth:
            cmd += ["--bandwidth", a.bandwidth]
        cmd += ["--", py, train, "--minutes", str(a.minutes), "--out", a.out,
                "--run-name", f"{n}-k{a.n}"] + RUNS[n] + extra
        print("+ " + " ".join(cmd), flush=True)
        res = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        for line in res.stdout.splitlines():
            if line.startswith("[rank 0] summary "):
                summaries.append(json.loads(line[len("[rank 0] summary "):]))
        if res.returncode != 0:
            sys.exit(f"run {n} failed with status {res.returncode}:\n"
                     + res.stdout[-3000:])
    print(f"\n{'run':<24} {'steps':>6} {'ms/step':>8} {'bits/coord':>10} "
          f"{'FD start':>9} {'FD end':>8} {'FD best':>8}")
    for s in summaries:
        print(f"{s['run']:<24} {s['steps']:>6} {1000 * s['s_per_step']:>8.0f} "
              f"{s['bits_per_coord']:>10.2f} {s['fd_initial']:>9.1f} "
              f"{s['fd_final']:>8.1f} {s['fd_best']:>8.1f}")
        print("    sent as: " + "; ".join(
            f"{how}: {n} coordinates" for how, n in s["layer_types"].items()))
    print("plots:", flush=True)
    subprocess.run([py, os.path.join(HERE, "plot.py"), "--out", a.out]
                   + [s["metrics"] for s in summaries], check=True)


if __name__ == "__main__":
    main()
