#!/usr/bin/python3
"""Layer-wise schedule against the best single global quantizer at equal bits.

For each MODEL (an ONNX export) and its gradient PROFILE, and each index
width b of the global quantizer, runs
    qoda-opt MODEL --qoda-schedule-pipeline="gradient-profile=PROFILE
                                             bits-per-coordinate=BUDGET"
    | qoda-translate --emit-schedule-json
with BUDGET = the global quantizer's exact bits per coordinate at b index
bits (index + sign + fp32 bucket norms + fp32 small tensors), so both
schedules get the same budget, and prints one Markdown table row per (model,
b): bits per coordinate and predicted relative variance of both, their
ratio, and the layer-wise types with their index bits (docs/perf.md,
"Schedules").

Usage: compare_schedules.py --bin BUILD/bin MODEL.onnx:PROFILE.json ...
       [--bits 2 3 4]
"""
import argparse
import json
import re
import subprocess


def plan(bindir, model, profile, extra):
    opts = f"gradient-profile={profile} {extra}".strip()
    mlir = subprocess.run([f"{bindir}/qoda-opt", model,
                           f"--qoda-schedule-pipeline={opts}"],
                          capture_output=True, text=True, check=True).stdout
    js = subprocess.run([f"{bindir}/qoda-translate", "--emit-schedule-json"],
                        input=mlir, capture_output=True, text=True,
                        check=True).stdout
    return json.loads(js), int(re.search(r"global_bits = (\d+)", mlir)[1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", required=True, help="directory of qoda-opt")
    ap.add_argument("--bits", type=int, nargs="+", default=[2, 3, 4])
    ap.add_argument("pairs", nargs="+", metavar="MODEL.onnx:PROFILE.json")
    a = ap.parse_args()
    print("| model | global index bits | global bits/coord | layer-wise "
          "bits/coord | global variance | layer-wise variance | ratio | "
          "layer-wise types (index bits) |")
    print("|---|---|---|---|---|---|---|---|")
    for pair in a.pairs:
        model, profile = pair.split(":")
        s, g = plan(a.bin, model, profile, "")
        n = s["num_coords"]
        comp = sum(p["numel"] for p in s["params"]
                   if s["types"][p["type"]]["kind"] == "levels")
        base = s["prediction"]["global_bits_per_coord"] - g * comp / n
        for b in a.bits:
            budget = base + b * comp / n + 1e-9
            s2, _ = plan(a.bin, model, profile,
                         f"bits-per-coordinate={budget:.9f}")
            pr = s2["prediction"]
            types = ", ".join(f"{t['name']}:{t['bits']}" for t in s2["types"]
                              if t["kind"] == "levels")
            ratio = pr["global_variance"] / pr["variance"]
            name = model.rsplit("/", 1)[-1].removesuffix(".onnx")
            print(f"| {name} | {b} | {pr['global_bits_per_coord']:.3f} | "
                  f"{pr['bits_per_coord']:.3f} | {pr['global_variance']:.4f} "
                  f"| {pr['variance']:.4f} | {ratio:.2f}x | {types} |",
                  flush=True)


if __name__ == "__main__":
    main()
