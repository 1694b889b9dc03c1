"""The speedup table's analysis: per-run metrics from a training curve, the
markdown table with ratios against uncompressed training in the same
(K, link) cell, and the plots. Used by bench/speedup.py (which runs the
sweep); `speedup.py --report-only` redoes only this part.

A run record is one JSON line of OUT/runs.jsonl (speedup.py writes them);
its "curve" holds the evaluations [train_s, fd].
"""

import math

BASELINE = "uncompressed"


def time_to_target(curve, target):
    """(seconds, seconds at the first evaluation at or below target) of a
    curve [(train_s, fd)], or (None, None) if never reached.

    The first figure interpolates linearly in log(fd) between the last
    evaluation above the target and the first at or below it, so a run
    evaluated more often (a faster run, in steps) is not favoured by the
    evaluation grid; the second is the conservative grid value."""
    prev = None
    for t, fd in curve:
        if fd <= target:
            if prev is None or prev[1] <= 0 or fd <= 0:
                return t, t
            (t0, f0), (t1, f1) = prev, (t, fd)
            if f0 == f1:
                return t1, t1
            w = (math.log(f0) - math.log(target)) / (math.log(f0) - math.log(f1))
            return t0 + w * (t1 - t0), t1
        prev = (t, fd)
    return None, None


def run_metrics(summary, curve):
    """The table's numbers for one finished run (train.py's summary and
    its evaluations [(train_s, fd)]), less the target's (apply_target)."""
    steps = max(summary["steps"], 1)
    last_t, last_fd = curve[-1]
    return {
        "steps": summary["steps"],
        "train_s": summary["train_s"],
        "s_per_step": summary["s_per_step"],
        "compute_s_per_step": summary["compute_s_per_step"],
        "comm_s_per_step": summary["s_per_step"] - summary["compute_s_per_step"],
        # CPU accounting (train.py since it had cpu_usage.py; None before).
        "cpu_s_per_step": summary.get("cpu_s_per_step"),
        "compute_cpu_s_per_step": summary.get("compute_cpu_s_per_step"),
        "cores": summary.get("cores"),
        "cores_busy": summary.get("cores_busy"),
        "evaluations_per_step": summary["evaluations_per_step"],
        # The collective that ran ("auto" resolves at start-up).
        "collective": summary.get("collective"),
        "bits_per_coord": summary["bits_per_coord"],
        "bytes_per_step": summary["bytes_sent"] / steps,
        "coordinates": summary["coordinates"],
        "layer_types": summary["layer_types"],
        "fd_initial": curve[0][1],
        "fd_final": last_fd,
        "fd_final_at_s": last_t,
        "fd_best": min(fd for _, fd in curve),
    }


def apply_target(rec, target):
    """Sets a finished run's time to the quality target from its curve."""
    rec["time_to_target_s"], rec["time_to_target_eval_s"] = \
        time_to_target(rec["curve"], target)
    return rec


def step_rule_note(records):
    """A line for the report when its QODA methods use different step-size
    sums (collective (b) always sums the aggregate's norms, (a) and the
    all-reduce the workers' unless train.py --step-sums aggregate): their
    FD then differs by the rule as well as by the compression; None when
    all agree. The collective is the one that ran (a record's "collective",
    which `--collective auto` resolves), else the one its command asked
    for (records from before the field)."""
    rules = {}
    for r in records:
        if r.get("optimizer", "qoda") != "qoda":
            continue
        extra = " ".join(r.get("settings", {}).get("extra", []))
        ran = r.get("collective")
        scatter = (ran == "scatter-reduce" if ran is not None else
                   "--collective scatter-reduce" in r.get("command", ""))
        aggregate = (scatter or "--step-sums aggregate" in extra or
                     "--step-sums=aggregate" in extra)
        rules[r["method"]] = "aggregate" if aggregate else "workers"
    if len(set(rules.values())) < 2:
        return None
    agg = sorted(m for m, v in rules.items() if v == "aggregate")
    return (f"Step-size rule: {', '.join(agg)} sum(s) the aggregate's norms "
            "(collective (b)), the other QODA methods the K workers', so their "
            "FD differs by the rule as well as by compression; `-- "
            "--step-sums aggregate` gives every QODA method the aggregate's "
            "(docs/perf.md, 'Time to quality over seeds').")


def _cells(records):
    """{(workers, link): {method: record}} in first-appearance order; the
    last record of a (K, link, method) wins."""
    cells = {}
    for r in records:
        cells.setdefault((r["workers"], r["link"]), {})[r["method"]] = r
    return cells


def _fmt(v, spec, none="-"):
    return none if v is None else format(v, spec)


def speedups(cell):
    """{method: (ratio per step, ratio of time to target, text)} against
    the cell's uncompressed run. Text for time-to-target covers the cases
    where one side never reached the target (a bound, or n/a)."""
    base = cell.get(BASELINE)
    out = {}
    for m, r in cell.items():
        if r["status"] != "ok" or base is None or base["status"] != "ok":
            out[m] = (None, None, "n/a")
            continue
        step = base["s_per_step"] / r["s_per_step"]
        tb, tm = base["time_to_target_s"], r["time_to_target_s"]
        if tb is not None and tm is not None:
            ratio = tb / tm if tm > 0 else None
            out[m] = (step, ratio, _fmt(ratio, ".2f") + "x")
        elif tm is not None:  # only this method got there
            bound = base["fd_final_at_s"] / tm if tm > 0 else None
            out[m] = (step, None, f"> {_fmt(bound, '.2f')}x")
        elif tb is not None:
            bound = tb / r["fd_final_at_s"]
            out[m] = (step, None, f"< {bound:.2f}x")
        else:
            out[m] = (step, None, "neither reached")
    return out


def markdown(records, target, header_lines=()):
    """The table (one row per run, grouped by (K, link) cell)."""
    lines = list(header_lines)
    lines += [
        f"| K | link | method | load@start | s/step | compute s/step | "
        f"comm+codec+wait s/step | bit/coord per collective (per step) | steps | "
        f"time to FD <= {target:g} (s) | speedup to FD | speedup per step | "
        f"FD at end (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    cells = _cells(records)
    links = list(dict.fromkeys(link for _, link in cells))
    for (k, link) in sorted(cells, key=lambda c: (c[0], links.index(c[1]))):
        cell = cells[(k, link)]
        sp = speedups(cell)
        for m, r in cell.items():
            load = r.get("load_start", [None])[0]
            if r["status"] != "ok":
                lines.append(f"| {k} | {link} | {m} | {_fmt(load, '.1f')} | "
                             f"failed: {r.get('error', '?')[:60]} |"
                             + " |" * 8)
                continue
            step, _, ttq_text = sp[m]
            ttq = r["time_to_target_s"]
            ttq_s = (f"{ttq:.1f} (eval {r['time_to_target_eval_s']:.1f})"
                     if ttq is not None
                     else f"not reached ({r['fd_final_at_s']:.0f})")
            lines.append(
                f"| {k} | {link} | {m} | {_fmt(load, '.1f')} | "
                f"{r['s_per_step']:.3f} | {_fmt(r['compute_s_per_step'], '.3f')} | "
                f"{_fmt(r['comm_s_per_step'], '.3f')} | "
                f"{r['bits_per_coord']:.2f} "
                f"({8 * r['bytes_per_step'] / r['coordinates']:.2f}) | "
                f"{r['steps']} | {ttq_s} | "
                f"{ttq_text if m != BASELINE else '1 (baseline)'} | "
                f"{_fmt(step, '.2f')}x | {r['fd_final']:.1f} ({r['fd_final_at_s']:.0f}) |")
    return "\n".join(lines) + "\n"


def cpu_bound_s(r):
    """K x (CPU seconds per worker-step) / cores: the least time a step can
    take when the K workers share the cores, whatever the link; None
    for a run without CPU accounting."""
    return _cpu_bound(r, "cpu_s_per_step")


def _cpu_bound(r, key):
    if r.get(key) is None or not r.get("cores"):
        return None
    return r["workers"] * r[key] / r["cores"]


def cpu_markdown(records):
    """Where each run's step went: the workers' CPU, inside and outside
    the model, against the cores they shared. Rows only for runs with CPU
    accounting; "" when there are none.

    'CPU bound' = K x CPU per worker-step / cores: a step takes at least
    that long when the K workers share the cores. Where s/step is close to
    it, the run was CPU-bound and the link's speed hardly mattered. 'free
    communication' = the uncompressed run's s/step / (K x model CPU per
    worker-step / cores): the per-step speedup no collective can exceed,
    as the model's compute alone fills the cores that long."""
    cells = _cells(records)
    rows = []
    for (k, link), cell in cells.items():
        base = cell.get(BASELINE)
        for m, r in cell.items():
            bound = cpu_bound_s(r)
            if r["status"] != "ok" or bound is None:
                continue
            model = _cpu_bound(r, "compute_cpu_s_per_step")
            ceiling = (base["s_per_step"] / model
                       if base and base["status"] == "ok" and model else None)
            busy = r.get("cores_busy")
            busy = "-" if busy is None else f"{100 * busy:.0f}%"
            rows.append(
                f"| {k} | {link} | {m} | {1000 * r['s_per_step']:.1f} | "
                f"{1000 * r['compute_cpu_s_per_step']:.1f} / "
                f"{1000 * (r['cpu_s_per_step'] - r['compute_cpu_s_per_step']):.1f} | "
                f"{r['cores']} | {busy} | "
                f"{1000 * bound:.1f} ({100 * bound / r['s_per_step']:.0f}%) | "
                f"{_fmt(ceiling, '.2f')}x |")
    if not rows:
        return ""
    return "\n".join([
        "| K | link | method | ms/step | CPU ms per worker-step: model / "
        "rest | cores | cores busy | CPU bound, ms (of the step) | per-step "
        "ceiling with free communication |",
        "|---|---|---|---|---|---|---|---|---|"] + rows) + "\n"


def plots(records, target, out_prefix):
    """Writes OUT_PREFIX_curves.png (FD against training time, one panel
    per (K, link) cell) and OUT_PREFIX_bars.png (time-to-FD speedups);
    returns their paths."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = _cells(records)
    ks = sorted({k for k, _ in cells})
    links = list(dict.fromkeys(link for _, link in cells))
    methods = list(dict.fromkeys(m for c in cells.values() for m in c))
    colors = {m: f"C{i}" for i, m in enumerate(methods)}
    fig, axes = plt.subplots(len(ks), len(links), squeeze=False,
                             figsize=(3.6 * len(links), 2.7 * len(ks)),
                             sharey=True)
    for i, k in enumerate(ks):
        for j, link in enumerate(links):
            ax = axes[i][j]
            for m, r in cells.get((k, link), {}).items():
                if r["status"] == "ok" and r.get("curve"):
                    t, fd = zip(*r["curve"])
                    ax.plot(t, fd, marker=".", ms=3, lw=1, color=colors[m],
                            label=m)
            ax.axhline(target, color="k", lw=0.6, ls="--")
            ax.set_yscale("log")
            ax.set_title(f"K={k}, {link}", fontsize=9)
            ax.grid(True, which="both", alpha=0.3)
            ax.tick_params(labelsize=7)
            if i == len(ks) - 1:
                ax.set_xlabel("training time (s)", fontsize=8)
            if j == 0:
                ax.set_ylabel("FD", fontsize=8)
    handles, labels = [], []
    for row in axes:
        for ax in row:
            for h, lab in zip(*ax.get_legend_handles_labels()):
                if lab not in labels:
                    handles.append(h)
                    labels.append(lab)
    fig.legend(handles, labels, loc="lower center", ncol=len(labels),
               fontsize=8)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    curves = f"{out_prefix}_curves.png"
    fig.savefig(curves, dpi=72)
    plt.close(fig)

    others = [m for m in methods if m != BASELINE]
    width = 0.8 / max(len(others), 1)
    fig, axes = plt.subplots(2, 1, figsize=(max(4, 0.9 * len(cells) + 1), 5.4),
                             sharex=True)
    for ax, which, ylabel in (
            (axes[0], 1, f"speedup to FD <= {target:g}"),
            (axes[1], 0, "speedup per step")):
        for n, m in enumerate(others):
            for c, cell in enumerate(cells.values()):
                if m not in cell:
                    continue
                x = c + (n - (len(others) - 1) / 2) * width
                ratio = speedups(cell)[m][which]
                if ratio is None:  # not reached (or failed): marked, no bar
                    ax.text(x, 0.02, "n.r.", ha="center", va="bottom",
                            fontsize=6, rotation=90, color=colors[m])
                else:
                    ax.bar(x, ratio, width, color=colors[m], label=m)
        ax.axhline(1.0, color="k", lw=0.6)
        ax.set_ylabel(f"{ylabel}\n(vs {BASELINE})", fontsize=8)
        ax.grid(True, axis="y", alpha=0.3)
        ax.tick_params(labelsize=7)
    handles = dict(zip(*reversed(axes[1].get_legend_handles_labels())))
    axes[1].legend(handles.values(), handles.keys(), fontsize=7)
    axes[1].set_xticks(range(len(cells)))
    axes[1].set_xticklabels([f"K={k}\n{link}" for k, link in cells], fontsize=7)
    fig.tight_layout()
    bars = f"{out_prefix}_bars.png"
    fig.savefig(bars, dpi=72)
    plt.close(fig)
    return [curves, bars]
