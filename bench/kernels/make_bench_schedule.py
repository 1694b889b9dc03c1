#!/usr/bin/python3
"""Writes bench_schedule.json: a synthetic conv-net-like schedule of 8.4M
coordinates (3-bit conv stages, a 2-bit classifier, 4-bit stem, fp32 biases
and norms), the input of qoda-kernels-bench. Usage: make_bench_schedule.py OUT
"""
import json
import sys


def lv(n):
    # Levels biased towards 0, as MQV-optimal levels of gradients are.
    return [0.0] + [round((j / (n - 1)) ** 2, 6) for j in range(1, n - 1)] + [1.0]


types = [
    {"name": "stem", "kind": "levels", "bits": 4, "levels": lv(16),
     "bucket": 1024, "norm": "l2", "norm_precision": "fp32", "coding": "fixed",
     "predicted_variance": 0.0},
    {"name": "conv", "kind": "levels", "bits": 3, "levels": lv(8),
     "bucket": 1024, "norm": "l2", "norm_precision": "fp32", "coding": "fixed",
     "predicted_variance": 0.0},
    {"name": "fc", "kind": "levels", "bits": 2, "levels": lv(4),
     "bucket": 1024, "norm": "l2", "norm_precision": "fp32", "coding": "fixed",
     "predicted_variance": 0.0},
    {"name": "small", "kind": "fp32", "bits": 32, "predicted_variance": 0.0},
]
params, off = [], 0


def add(name, numel, t):
    global off
    params.append({"name": name, "offset": off, "numel": numel,
                   "shape": [numel], "type": t, "role": "dense_weight"})
    off += numel


add("stem.weight", 64 * 3 * 7 * 7, 0)
add("stem.bn", 128, 3)
for stage, ch in enumerate([64, 128, 256, 512]):
    for block in range(2):
        add(f"s{stage}.b{block}.conv1", ch * ch * 9, 1)
        add(f"s{stage}.b{block}.bn1", 2 * ch, 3)
        add(f"s{stage}.b{block}.conv2", ch * ch * 9, 1)
        add(f"s{stage}.b{block}.bn2", 2 * ch, 3)
add("fc.weight", 512 * 1000, 2)
add("fc.bias", 1000, 3)
doc = {"format": "qoda-schedule", "version": 1, "model": "bench_convnet",
       "producer": "make_bench_schedule.py", "num_coords": off, "types": types,
       "params": params,
       "prediction": {"bits_per_coord": 0.0, "variance": 0.0,
                      "global_bits_per_coord": 0.0, "global_variance": 0.0}}
with open(sys.argv[1], "w") as f:
    json.dump(doc, f, indent=1)
