#!/usr/bin/python3
"""Time to quality over several seeds of bench/speedup.py: per (K, link,
method, extra train.py options) the FD curves of all seeds averaged on a
common time grid (geometric mean; each curve interpolated linearly in log
FD between its evaluations), the time at which that mean curve first
reaches each target, and the ratio against uncompressed training with the
same extra options in the same cell.

    bench/speedup_seeds.py OUT [OUT ...] [--targets 300,250,230,210,200]
        [--grid 0.5] [--json]

A GAN's FD moves up and down from one evaluation to the next, so
thresholding each seed's curve mostly measures that noise (docs/perf.md:
0.58-4.29x per seed for the same two methods); averaging the seeds first
measures time to quality. The mean curve covers [0, the shortest run], so
a target no mean curve reaches there is reported as not reached.
"""
import argparse
import json
import math
import os
import statistics
import sys

BASELINE = "uncompressed"


def load(out_dirs):
    """{(workers, link, method, extra): [record]} of the ok runs."""
    groups = {}
    for d in out_dirs:
        path = os.path.join(d, "runs.jsonl")
        if not os.path.exists(path):
            raise ValueError(f"{d}: no runs.jsonl (give bench/speedup.py "
                             "--out directories)")
        with open(path) as f:
            for i, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    r = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}:{i} is not JSON ({e})")
                if r.get("status") != "ok" or not r.get("curve"):
                    continue
                extra = " ".join(r.get("settings", {}).get("extra", []))
                key = (r["workers"], r["link"], r["method"], extra)
                groups.setdefault(key, []).append(r)
    if not groups:
        raise ValueError("no finished runs in " + ", ".join(out_dirs))
    return groups


def log_interp(curve, t):
    """log FD of a curve [(train_s, fd)] at time t (clamped to its ends)."""
    if t <= curve[0][0]:
        return math.log(curve[0][1])
    for (t0, f0), (t1, f1) in zip(curve, curve[1:]):
        if t <= t1:
            w = (t - t0) / (t1 - t0) if t1 > t0 else 1.0
            return (1 - w) * math.log(f0) + w * math.log(f1)
    return math.log(curve[-1][1])


def mean_curve(records, step):
    """[(t, geometric mean FD over the records)] on a grid of `step`
    seconds from 0 to the shortest record's last evaluation."""
    end = min(r["curve"][-1][0] for r in records)
    n = int(end / step + 1e-9)
    grid = [i * step for i in range(n + 1)]
    return [(t, math.exp(statistics.fmean(log_interp(r["curve"], t)
                                          for r in records)))
            for t in grid]


def first_at_or_below(curve, target):
    for t, fd in curve:
        if fd <= target:
            return t
    return None


def analyse(groups, targets, step):
    rows = []
    for key, recs in groups.items():
        curve = mean_curve(recs, step)
        rows.append({
            "workers": key[0], "link": key[1], "method": key[2],
            "extra": key[3], "seeds": sorted(r["settings"]["seed"]
                                             for r in recs),
            "s_per_step": statistics.fmean(r["s_per_step"] for r in recs),
            "fd_end": curve[-1][1], "end_s": curve[-1][0],
            "time_to": {f"{t:g}": first_at_or_below(curve, t)
                        for t in targets}})
    for r in rows:
        base = next((b for b in rows if b["method"] == BASELINE and
                     (b["workers"], b["link"], b["extra"]) ==
                     (r["workers"], r["link"], r["extra"])), None)
        r["per_step_vs_uncompressed"] = (
            base["s_per_step"] / r["s_per_step"] if base else None)
        r["time_ratio_vs_uncompressed"] = {
            t: (base["time_to"][t] / v if base and v and
                base["time_to"][t] is not None else None)
            for t, v in r["time_to"].items()}
    return rows


def markdown(rows, targets):
    head = ("| K | link | method | extra | seeds | s/step | per step | "
            "FD at end (s) | " + " | ".join(f"to FD {t:g} (s, ratio)"
                                           for t in targets) + " |")
    lines = [head, "|" + "---|" * (8 + len(targets))]
    for r in rows:
        cells = []
        for t in targets:
            v = r["time_to"][f"{t:g}"]
            ratio = r["time_ratio_vs_uncompressed"][f"{t:g}"]
            cells.append("not reached" if v is None else
                         f"{v:.1f}" + (f" ({ratio:.2f}x)" if ratio else ""))
        per_step = r["per_step_vs_uncompressed"]
        lines.append(
            f"| {r['workers']} | {r['link']} | {r['method']} | "
            f"{r['extra'] or '-'} | {','.join(map(str, r['seeds']))} | "
            f"{1e3 * r['s_per_step']:.1f} ms | "
            f"{'-' if per_step is None else format(per_step, '.2f') + 'x'} | "
            f"{r['fd_end']:.1f} ({r['end_s']:.0f}) | " + " | ".join(cells) +
            " |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", nargs="+", help="bench/speedup.py --out directories")
    p.add_argument("--targets", default="300,250,230,210,200")
    p.add_argument("--grid", type=float, default=0.5,
                   help="seconds between the mean curve's points")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    try:
        targets = [float(t) for t in args.targets.split(",")]
    except ValueError:
        p.error(f"--targets: expected FD values like 300,250, got "
                f"'{args.targets}'")
    if not targets or any(not t > 0 for t in targets):
        p.error("--targets must be positive FD values")
    if not args.grid > 0:
        p.error("--grid must be positive")
    try:
        groups = load(args.out)
    except ValueError as e:
        sys.exit(f"speedup_seeds.py: {e}")
    rows = analyse(groups, targets, args.grid)
    if args.json:
        print(json.dumps({"rows": rows}))
    else:
        print(markdown(rows, targets), end="")


if __name__ == "__main__":
    main()
