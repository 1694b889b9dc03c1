#!/usr/bin/python3
"""Plots quality against training time and against bits sent.

    plot.py RUN.jsonl... [--metric fd|swd] [--out DIR]

Writes DIR/quality_vs_time.png and DIR/quality_vs_bits.png (DIR defaults to
the first file's directory) with one curve per run (the file name, without
.jsonl, is the label) and prints their paths.
"""

import argparse
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LABELS = {"fd": "Frechet distance (classifier features)",
          "swd": "sliced Wasserstein distance (pixels)"}


def load(path):
    rows = []
    with open(path) as f:
        for i, line in enumerate(f, 1):
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                sys.exit(f"{path}:{i}: not JSON ({e})")
    if not rows:
        sys.exit(f"{path}: no evaluations")
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+")
    p.add_argument("--metric", default="fd", choices=sorted(LABELS))
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)
    out = a.out or os.path.dirname(os.path.abspath(a.runs[0]))
    os.makedirs(out, exist_ok=True)
    data = {os.path.basename(r)[:-len(".jsonl")] if r.endswith(".jsonl")
            else os.path.basename(r): load(r) for r in a.runs}
    for row in (r for rows in data.values() for r in rows):
        if a.metric not in row:
            sys.exit(f"an evaluation has no '{a.metric}': {row}")
    written = []
    for x, xlabel, fname, xscale in (
            ("wall_s", "training time (s, rank 0)", "quality_vs_time.png", "linear"),
            ("bits_sent", "bits sent by rank 0", "quality_vs_bits.png", "log")):
        fig, ax = plt.subplots(figsize=(6, 4))
        for label, rows in data.items():
            pts = [(r[x], r[a.metric]) for r in rows
                   if xscale == "linear" or r[x] > 0]
            if pts:
                ax.plot(*zip(*pts), marker=".", label=label)
        ax.set_xscale(xscale)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(LABELS[a.metric])
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = os.path.join(out, fname)
        fig.savefig(path, dpi=120)
        plt.close(fig)
        written.append(path)
    for w in written:
        print(w)


if __name__ == "__main__":
    main()
