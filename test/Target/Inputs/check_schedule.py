#!/usr/bin/python3
"""Checks a schedule JSON (docs/schedule.md) for internal consistency:
offsets tile [0, num_coords), shapes multiply to numel, types are valid,
bits match the level count, and the layer-wise prediction is not worse than
the global quantizer's. Prints one summary line."""
import json
import math
import sys


def main():
    s = json.load(open(sys.argv[1]))
    assert s["format"] == "qoda-schedule" and s["version"] == 1
    off = 0
    for p in s["params"]:
        assert p["offset"] == off, p
        assert math.prod(p["shape"]) == p["numel"], p
        assert 0 <= p["type"] < len(s["types"]), p
        off += p["numel"]
    assert off == s["num_coords"]
    for t in s["types"]:
        if t["kind"] == "levels":
            lv = t["levels"]
            assert lv[0] == 0.0 and lv[-1] == 1.0
            assert all(a < b for a, b in zip(lv, lv[1:]))
            assert t["bits"] == math.ceil(math.log2(len(lv))), t
    pr = s["prediction"]
    ok = pr["variance"] <= pr["global_variance"]
    print(f"{'ok' if ok else 'FAIL'} {s['model']}: {len(s['params'])} params, "
          f"{len(s['types'])} types, {s['num_coords']} coords, layer-wise "
          f"variance {'<=' if ok else '>'} global")


if __name__ == "__main__":
    main()
