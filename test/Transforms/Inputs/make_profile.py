#!/usr/bin/python3
"""Writes a gradient profile (docs/clustering.md) for cnn.onnxtxt.

Each parameter's bucket of 1024 coordinates is the quantiles of |z|^tail
(z standard normal), so the profile is exact and deterministic. The stem and
the classifier get distributions unlike the middle convolutions'.

Variant `sparse`: the classifier's gradient is sparse (3% of its coordinates
non-zero, as for rarely active inputs), the case for Elias-gap coding.

Usage: make_profile.py OUT
         [good|missing|extra|shape|bucket|version|badbin|sparse]
"""
import json
import sys
from statistics import NormalDist

PARAMS = [  # name, shape, tail, sumsq
    ("stem_w", [32, 3, 5, 5], 0.5, 4.0),
    ("l0_w", [32, 32, 3, 3], 1.5, 2.0),
    ("l1_w", [32, 32, 3, 3], 1.5, 2.0),
    ("bn_g", [32], 1.0, 0.1),
    ("bn_b", [32], 1.0, 0.1),
    ("fc_w", [10, 8192], 3.0, 8.0),
]


def hist(tail, d=1024, bins=1024, nonzero=None):
    nd = NormalDist()
    k = d if nonzero is None else nonzero
    x = [abs(nd.inv_cdf(0.5 + 0.5 * (i + 0.5) / k)) ** tail for i in range(k)]
    x += [0.0] * (d - k)
    norm = sum(v * v for v in x) ** 0.5
    w, wu = [0.0] * bins, [0.0] * bins
    for v in x:
        u = v / norm
        b = min(bins - 1, int(u * bins))
        w[b] += 1.0
        wu[b] += u
    return [[b, w[b], round(wu[b], 12)] for b in range(bins) if w[b] > 0]


def main():
    out, variant = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "good")
    params = [{"name": n, "shape": s, "numel": 0, "sumsq": e, "hist": hist(t)}
              for n, s, t, e in PARAMS]
    prof = {"format": "qoda-gradient-profile", "version": 1,
            "model": "tiny_cnn", "producer": "make_profile.py", "steps": 1,
            "bucket": 1024, "norm": "l2", "bins": 1024, "params": params}
    if variant == "missing":
        prof["params"] = [p for p in params if p["name"] != "fc_w"]
    elif variant == "extra":
        params.append(dict(params[0], name="head_w"))
    elif variant == "shape":
        params[1]["shape"] = [32, 32, 1, 1]
    elif variant == "bucket":
        prof["bucket"] = 512
    elif variant == "version":
        prof["version"] = 7
    elif variant == "sparse":
        params[-1]["hist"] = hist(PARAMS[-1][2], nonzero=31)
    elif variant == "badbin":
        params[0]["hist"][0][0] = 5000
    with open(out, "w") as f:
        json.dump(prof, f)


if __name__ == "__main__":
    main()
