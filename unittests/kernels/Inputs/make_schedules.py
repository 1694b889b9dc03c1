#!/usr/bin/python3
"""Writes the schedules the generated-kernel tests compile (run from here).

mixed.json covers every code path of the generated kernels: index widths
1..8 bits, level counts that are and are not powers of two (interval search
by counting and by table), L2/Linf norms, fp32/fp16 norms, the three cast
kinds, segment offsets that are not multiples of 8 (Philox blocks of 8
coordinates straddle segments), levels that are exactly j/s (byte, qsgd4,
two: the uniform rounding rule) next to others, partial last buckets, a zero-size parameter, and adjacent
parameters of one type (merged into one segment). odd_bucket.json has a
bucket that is not a multiple of 8 (CPU only: the CUDA emitter refuses it).
"""
import json
import math


def levels_type(name, levels, bucket, norm="l2", prec="fp32"):
    bits = max(1, math.ceil(math.log2(len(levels))))
    return {"name": name, "kind": "levels", "bits": bits,
            "levels": [float(x) for x in levels], "bucket": bucket,
            "norm": norm, "norm_precision": prec, "coding": "fixed",
            "predicted_variance": 0.0}


def cast_type(name, kind):
    return {"name": name, "kind": kind, "bits": 32 if kind == "fp32" else 16,
            "predicted_variance": 0.0}


def f32(x):
    # Round to float32 so the JSON holds exactly the levels used.
    import struct
    return struct.unpack("f", struct.pack("f", x))[0]


def write(path, model, types, sizes):
    params, off = [], 0
    for i, (t, n) in enumerate(sizes):
        params.append({"name": f"p{i}.weight", "offset": off, "numel": n,
                       "shape": [n], "type": t, "role": "dense_weight"})
        off += n
    doc = {"format": "qoda-schedule", "version": 1, "model": model,
           "producer": "make_schedules.py", "num_coords": off,
           "types": types, "params": params,
           "prediction": {"bits_per_coord": 0.0, "variance": 0.0,
                          "global_bits_per_coord": 0.0,
                          "global_variance": 0.0}}
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")


types = [
    levels_type("conv3", [0, 0.05, 0.12, 0.2, 0.31, 0.45, 0.66, 1], 1024),
    levels_type("three", [0, 0.3, 1], 512, "linf", "fp16"),
    levels_type("byte", [f32(j / 255) for j in range(256)], 2048, "l2", "fp16"),
    levels_type("exp20", [0] + [f32(2.0 ** -(18 - j) * 0.9 ** j)
                                for j in range(18)] + [1], 256),
    levels_type("qsgd4", [f32(j / 15) for j in range(16)], 1024, "linf"),
    levels_type("two", [0, 1], 64),
    cast_type("f32", "fp32"),
    cast_type("f16", "fp16"),
    cast_type("b16", "bf16"),
]
# Levels must be strictly increasing; exp20 is by construction.
sizes = [(0, 40000), (6, 3), (1, 12345), (0, 1), (0, 7777), (2, 9001),
         (7, 17), (3, 20000), (4, 65536), (8, 255), (5, 1000), (1, 0),
         (1, 513), (6, 1), (2, 70000), (3, 255), (0, 33333), (5, 7),
         (4, 1029), (8, 1), (7, 2)]
write("mixed.json", "mixed_test", types, sizes)

odd = [levels_type("odd", [0, 0.25, 1], 100),
       levels_type("conv3", [0, 0.05, 0.12, 0.2, 0.31, 0.45, 0.66, 1], 1000,
                   "linf"),
       cast_type("f32", "fp32")]
write("odd_bucket.json", "odd_bucket", odd,
      [(0, 1001), (2, 5), (1, 2999), (0, 99), (1, 1000)])
