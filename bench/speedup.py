#!/usr/bin/python3
"""The speedup table of METHOD section 6 on this machine: the WGAN-GP of
examples/wgan trained by K local workers on shaped links, four ways.

    bench/speedup.py --out OUT [--workers 2,4,8] [--links unshaped,1gbit,100mbit]
        [--methods uncompressed,qgenx,qoda-hand,qoda-auto] [--minutes M]
        [--quality-target FD] [--nz N --ngf N --ndf N --batch B] [--resume]
        [-- EXTRA train.py ARGS]

Methods (one qoda-run job each; the same model, data and seed):
  uncompressed  QODA (learning-rate separation, --lr) over the fp32 ring
                all-reduce: the ratios then measure what compression buys
  qgenx         Q-GenX (--qgenx-lr): quantized dual extrapolation, global QSGD
                (--bits index bits, buckets of 1024, 1-D tensors fp32),
                two evaluations and two collectives per step
  qoda-hand     QODA, layer-wise, types chosen by hand from the tensor
                shapes (the paper's setting; qoda.schedule), --bits index
                bits per compressed type, levels re-fitted
  qoda-auto     QODA, layer-wise, qoda's automatic types: qoda-compile of
                both exported models (--auto-budget bits per coordinate),
                trained through the compiled libraries (train.py --library)
  qoda-hand-sr  (optional) qoda-hand over collective (b), scatter-reduce +
                all-gather of the re-quantized reduced chunks: 2(K-1)/K of a
                message per worker instead of (K-1) messages (large K). Its
                QODA step sizes sum the aggregate's norms (the workers never
                see each other's vectors), the others' the K workers' unless
                `-- --step-sums aggregate` makes every QODA method do the same
                (which the comparison with qoda-hand-sr needs)
  adam          (optional) Adam (--adam-lr), betas (0.5, 0.9), fp32 all-reduce:
                what GAN practitioners run uncompressed

Links: "unshaped" (loopback) or a tc rate (1gbit, 100mbit, ...) that
qoda-run --bandwidth puts on every worker's own link (root only).

For every (K, link) cell the methods run back to back, so the ratios
compare runs close in time. Each run trains for --minutes of training time
(evaluations excluded) and is evaluated every --eval-seconds of it. Per
run: time per step (rank 0's training time / steps, and its closure's
compute part), time to the quality target (Frechet distance, lower is
better; interpolated between evaluations), FD at the end (the fixed time),
bits per coordinate sent. Writes, in OUT:
  runs.jsonl          one JSON line per run, appended as it finishes
                      (--resume skips the (K, link, method) already there
                      with status ok; failed runs are run again)
  speedup.md          the table, ratios against uncompressed in each cell,
                      and where the steps' time went: the workers' CPU per
                      step (model / rest), cores busy, the CPU bound
                      K x CPU / cores and the free-communication ceiling
  speedup_curves.png  FD against training time, one panel per cell
  speedup_bars.png    time-to-target speedups
  runs/               each run's train.py output (metrics, samples, logs)
"""

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WGAN = os.path.join(ROOT, "examples", "wgan")
sys.path.insert(0, HERE)
import speedup_report  # noqa: E402

METHODS = {
    "uncompressed": ["--optimizer", "qoda", "--compressor", "none"],
    "qgenx": ["--optimizer", "qgenx", "--compressor", "qsgd"],
    "qoda-hand": ["--optimizer", "qoda", "--compressor", "layerwise",
                  "--schedule", "hand"],
    "qoda-auto": ["--optimizer", "qoda", "--compressor", "layerwise"],
    "qoda-hand-sr": ["--optimizer", "qoda", "--compressor", "layerwise",
                     "--schedule", "hand", "--collective", "scatter-reduce"],
    "adam": ["--optimizer", "adam", "--compressor", "none"],
}
DEFAULT_METHODS = "uncompressed,qgenx,qoda-hand,qoda-auto"
RATE = re.compile(r"^[0-9]+(\.[0-9]+)?(bit|kbit|mbit|gbit)$", re.I)


def parse_list(p, flag, text, convert, check, what):
    items = [s.strip() for s in text.split(",")]
    if not text or any(not s for s in items):
        p.error(f"{flag}: expected a comma-separated list of {what}, got '{text}'")
    out = []
    for s in items:
        try:
            v = convert(s)
        except ValueError:
            v = None
        if v is None or not check(v):
            p.error(f"{flag}: '{s}' is not {what}")
        if v in out:
            p.error(f"{flag}: '{s}' is given twice")
        out.append(v)
    return out


def parse_args(argv):
    extra = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a = p.add_argument
    a("--out", required=True, help="results directory")
    a("--qoda-run", default=None, help="default: the build's bin/qoda-run "
      "(next to the qoda package's python/ directory)")
    a("--qoda-compile", default=None, help="for qoda-auto; default: next to "
      "qoda-run")
    a("--workers", default="2,4,8", help="K values, e.g. 2,4,8")
    a("--links", default="unshaped,1gbit,100mbit",
      help="'unshaped' and/or tc rates like 1gbit, 100mbit")
    a("--methods", default=DEFAULT_METHODS, help=f"of {', '.join(METHODS)}")
    a("--minutes", type=float, default=0.65, help="training time per run "
      "(evaluations excluded)")
    a("--quality-target", type=float, default=None, required=False,
      help="the FD threshold of 'time to quality' (required unless "
      "--report-only reads it from the records)")
    a("--nz", type=int, default=128)
    a("--ngf", type=int, default=32)
    a("--ndf", type=int, default=32)
    a("--batch", type=int, default=8, help="images per worker per evaluation")
    a("--bits", type=int, default=4, help="index bits of qgenx and qoda-hand")
    a("--lr", type=float, default=4.0, help="QODA's lr (lr_e) for "
      "uncompressed, qoda-hand and qoda-auto")
    a("--lr-gamma", type=float, default=0.05, help="QODA's optimistic step lr_g")
    a("--qgenx-lr", type=float, default=0.5)
    a("--adam-lr", type=float, default=1e-3)
    a("--raw-allreduce-min", type=int, default=None, metavar="BYTES",
      help="qoda-hand, qoda-hand-sr: train.py --raw-allreduce-min (fp32 "
           "types below BYTES per worker travel in the message instead of "
           "their own all-reduce); default: qoda.torch's, 16384 (the runs in "
           "docs/perf.md's table predate it and all-reduced every fp32 type)")
    a("--auto-budget", type=float, default=5.0,
      help="qoda-auto: qoda-compile --bits-per-coordinate (everything on "
      "the wire: 5 matches --bits 4 plus the sign bit)")
    a("--eval-seconds", type=float, default=5.0,
      help="evaluate after every this many seconds of training")
    a("--eval-samples", type=int, default=500)
    a("--classifier-steps", type=int, default=2000)
    a("--steps", type=int, default=None, help="also stop each run after "
      "this many steps (tests)")
    a("--seed", type=int, default=0)
    a("--cache-dir", default=None, help="the quality classifier's cache "
      "(train.py's default when not given)")
    a("--run-timeout", type=float, default=None,
      help="seconds before a run is killed (default: 2 x --minutes + 300 s)")
    a("--resume", action="store_true",
      help="skip the runs already in OUT/runs.jsonl (status ok)")
    a("--report-only", action="store_true",
      help="only rewrite speedup.md and the plots from OUT/runs.jsonl")
    args = p.parse_args(argv)
    args.extra = extra
    args.workers = parse_list(p, "--workers", args.workers, int,
                              lambda k: 2 <= k <= 256,
                              "a worker count in [2, 256]")
    args.links = parse_list(p, "--links", args.links, str.lower,
                            lambda s: s == "unshaped" or RATE.match(s),
                            "'unshaped' or a rate like 1gbit / 100mbit")
    args.methods = parse_list(p, "--methods", args.methods, str,
                              lambda m: m in METHODS,
                              f"a method ({', '.join(METHODS)})")
    for name in ("minutes", "eval_seconds", "auto_budget", "lr", "lr_gamma",
                 "qgenx_lr", "adam_lr"):
        v = getattr(args, name)
        if not (v > 0 and v != float("inf")):
            p.error(f"--{name.replace('_', '-')} must be a positive number, got {v}")
    for name in ("nz", "ngf", "ndf", "batch", "eval_samples",
                 "classifier_steps"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be a positive integer")
    if not 1 <= args.bits <= 8:
        p.error(f"--bits must be in [1, 8], got {args.bits}")
    if args.steps is not None and args.steps < 1:
        p.error("--steps must be a positive integer")
    if args.quality_target is not None and not args.quality_target > 0:
        p.error(f"--quality-target must be a positive FD, got {args.quality_target}")
    if args.quality_target is None and not args.report_only:
        p.error("--quality-target FD is required: choose the threshold up front")
    if args.raw_allreduce_min is not None:
        if args.raw_allreduce_min < 0:
            p.error("--raw-allreduce-min expects a number of bytes >= 0")
        if not {"qoda-hand", "qoda-hand-sr"} & set(args.methods):
            p.error("--raw-allreduce-min applies to qoda-hand and "
                    "qoda-hand-sr; --methods has neither")
    if args.run_timeout is None:
        args.run_timeout = 120 * args.minutes + 300
    return args


def settings(args):
    """What must be equal for two runs' records to share one table."""
    s = {"nz": args.nz, "ngf": args.ngf, "ndf": args.ndf,
         "batch": args.batch, "bits": args.bits, "lr": args.lr,
         "lr_gamma": args.lr_gamma, "qgenx_lr": args.qgenx_lr,
         "adam_lr": args.adam_lr,
         "auto_budget": args.auto_budget, "minutes": args.minutes,
         "eval_seconds": args.eval_seconds,
         "eval_samples": args.eval_samples,
         "classifier_steps": args.classifier_steps, "steps": args.steps,
         "seed": args.seed, "quality_target": args.quality_target,
         "extra": args.extra}
    if args.raw_allreduce_min is not None:  # older records lack the key
        s["raw_allreduce_min"] = args.raw_allreduce_min
    return s


def load_records(path):
    if not os.path.exists(path):
        return []
    records = []
    with open(path) as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as e:
                sys.exit(f"speedup.py: {path}:{i} is not JSON ({e}); a run "
                         "killed while writing leaves a partial last line: "
                         "delete it and run again with --resume")
    return records


def find_tools(args):
    if args.qoda_run is None:
        import qoda
        build = os.path.dirname(os.path.dirname(
            os.path.dirname(os.path.abspath(qoda.__file__))))
        args.qoda_run = os.path.join(build, "bin", "qoda-run")
    if not os.access(args.qoda_run, os.X_OK):
        sys.exit(f"speedup.py: qoda-run not found at '{args.qoda_run}': "
                 "build it (ninja -C build qoda-run) or pass --qoda-run")
    if "qoda-auto" in args.methods:
        if args.qoda_compile is None:
            args.qoda_compile = os.path.join(os.path.dirname(args.qoda_run),
                                             "qoda-compile")
        if not os.access(args.qoda_compile, os.X_OK):
            sys.exit(f"speedup.py: qoda-compile not found at "
                     f"'{args.qoda_compile}' (needed by qoda-auto): build it "
                     "(ninja -C build qoda-compile), pass --qoda-compile, or "
                     "leave qoda-auto out of --methods")
    if any(link != "unshaped" for link in args.links) and os.geteuid() != 0:
        sys.exit("speedup.py: shaped --links need root (qoda-run --bandwidth "
                 "creates network namespaces); run as root or use "
                 "--links unshaped")


def common_train_args(args):
    out = ["--nz", str(args.nz), "--ngf", str(args.ngf), "--ndf",
           str(args.ndf), "--batch", str(args.batch), "--bits",
           str(args.bits), "--seed", str(args.seed), "--eval-seconds",
           str(args.eval_seconds), "--eval-every", "1",
           "--eval-samples", str(args.eval_samples), "--classifier-steps",
           str(args.classifier_steps)]
    if args.cache_dir:
        out += ["--cache-dir", args.cache_dir]
    if args.steps:
        out += ["--steps", str(args.steps)]
    return out


def prepare(args, log):
    """For qoda-auto: both models exported and compiled by qoda-compile.
    (The quality classifier needs no step here: the first run's rank 0
    trains and caches it before its workers join, outside the timings.)"""
    if "qoda-auto" not in args.methods:
        return None
    sys.path.insert(0, WGAN)
    import torch
    import wgan
    torch.manual_seed(args.seed)
    paths = wgan.export_onnx(wgan.Generator(args.nz, args.ngf),
                             wgan.Critic(args.ndf),
                             os.path.join(args.out, "onnx"))
    libs = []
    for name in ("generator", "critic"):
        lib = os.path.join(args.out, f"lib-{name}")
        cmd = [args.qoda_compile, paths[name], "-o", lib,
               "--bits-per-coordinate", str(args.auto_budget),
               "--target", "cpu"]
        t = time.time()
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"speedup.py: {' '.join(cmd)} failed:\n{r.stdout}{r.stderr}")
        log(f"compiled {name} in {time.time() - t:.0f} s: {lib}")
        libs.append(lib)
    return libs


def source_commit():
    """The checkout's commit (and '+dirty' with local changes), or None."""
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"],
                              capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain",
                                "--untracked-files=no"],
                               capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def run_one(args, k, link, method, libs, log):
    name = f"k{k}-{link}-{method}"
    run_dir = os.path.join(args.out, "runs")
    os.makedirs(run_dir, exist_ok=True)
    train = [sys.executable, os.path.join(WGAN, "train.py"), "--minutes",
             str(args.minutes), "--out", run_dir, "--run-name", name,
             "--no-export"] + METHODS[method] + common_train_args(args)
    if method == "qoda-auto":
        train += ["--library", ",".join(libs)]
    if method in ("qoda-hand", "qoda-hand-sr") and \
            args.raw_allreduce_min is not None:
        train += ["--raw-allreduce-min", str(args.raw_allreduce_min)]
    lr = {"qgenx": args.qgenx_lr, "adam": args.adam_lr}.get(method, args.lr)
    train += ["--lr", str(lr), "--lr-gamma", str(args.lr_gamma)]
    train += args.extra  # last: the user's train.py options win
    cmd = [args.qoda_run, "-n", str(k), "--timeout", str(int(args.run_timeout))]
    if link != "unshaped":
        cmd += ["--bandwidth", link]
    cmd += ["--"] + train
    rec = {"workers": k, "link": link, "method": method,
           "optimizer": METHODS[method][1],
           "compressor": METHODS[method][3] + (" (compiled libraries)"
                                               if method == "qoda-auto" else ""),
           "settings": settings(args),
           "command": " ".join(shlex.quote(c) for c in cmd),
           "started_utc": datetime.datetime.utcnow().isoformat(timespec="seconds") + "Z",
           "commit": source_commit(),
           "load_start": list(os.getloadavg())}
    log(f"+ {rec['command']}")
    t = time.time()
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True)
    rec["elapsed_s"] = time.time() - t
    rec["load_end"] = list(os.getloadavg())
    with open(os.path.join(run_dir, f"{name}.log"), "w") as f:
        f.write(res.stdout)
    summary = None
    for line in res.stdout.splitlines():
        if line.startswith("[rank 0] summary "):
            summary = json.loads(line[len("[rank 0] summary "):])
    if res.returncode != 0 or summary is None:
        rec["status"] = "failed"
        why = ("timed out" if res.returncode == 124 else
               f"exit status {res.returncode}")
        rec["error"] = f"{why}: " + " | ".join(res.stdout.strip().splitlines()[-5:])
        log(f"  FAILED ({why}); log: {os.path.join(run_dir, name + '.log')}")
        return rec
    curve = []
    with open(summary["metrics"]) as f:
        for line in f:
            e = json.loads(line)
            curve.append([e["wall_s"], e["fd"]])
    rec.update(speedup_report.run_metrics(summary, curve))
    rec.update(status="ok", curve=curve, metrics=summary["metrics"])
    speedup_report.apply_target(rec, args.quality_target)
    ttq = rec["time_to_target_s"]
    log(f"  {rec['steps']} steps, {1000 * rec['s_per_step']:.0f} ms/step "
        f"(compute {1000 * rec['compute_s_per_step']:.0f}), "
        f"{rec['bits_per_coord']:.2f} bit/coord, FD {rec['fd_initial']:.1f} -> "
        f"{rec['fd_final']:.1f}, to FD {args.quality_target:g}: "
        + (f"{ttq:.1f} s" if ttq is not None else "not reached"))
    return rec


def report(args, records, log):
    target = args.quality_target
    if target is None:
        targets = {r["settings"]["quality_target"] for r in records}
        if len(targets) != 1:
            sys.exit(f"speedup.py: the records have quality targets {targets}; "
                     "pass --quality-target")
        target = targets.pop()
    for r in records:  # the target may differ from the runs' own
        if r["status"] == "ok":
            speedup_report.apply_target(r, target)
    s = records[0]["settings"]
    header = [
        f"Machine: {os.cpu_count()} cores, {platform.platform()}, "
        f"Python {platform.python_version()}.",
        f"Model: WGAN-GP nz {s['nz']}, ngf {s['ngf']}, ndf {s['ndf']}, "
        f"{records[0].get('coordinates', '?')} coordinates; batch {s['batch']} "
        f"per worker; {s['minutes']} min of training per run, evaluated every "
        f"{s['eval_seconds']} s; quality target FD <= {target:g}.",
        "Times are rank 0's training time (evaluations excluded); "
        "'speedup' = uncompressed / method in the same (K, link) cell; "
        "'time to FD' is interpolated between evaluations (the evaluation "
        "at or below the target in brackets); 'FD at end' is at the end of "
        "the fixed training time (its time in brackets).", ""]
    rules = speedup_report.step_rule_note(records)
    if rules:
        header[-1:-1] = [rules]
    md = speedup_report.markdown(records, target, header)
    cpu = speedup_report.cpu_markdown(records)
    if cpu:
        md += ("\nWhere the steps' time went (the workers' CPU; "
               "docs/perf.md, 'CPU accounting'):\n\n" + cpu)
    path = os.path.join(args.out, "speedup.md")
    with open(path, "w") as f:
        f.write(md)
    pngs = speedup_report.plots(records, target,
                                os.path.join(args.out, "speedup"))
    log(md)
    for p in [path] + pngs:
        log(p)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    log = lambda m: print(m, flush=True)  # noqa: E731
    os.makedirs(args.out, exist_ok=True)
    jsonl = os.path.join(args.out, "runs.jsonl")
    records = load_records(jsonl)
    if args.report_only:
        if not records:
            sys.exit(f"speedup.py: no runs in {jsonl}")
        report(args, records, log)
        return
    if records and not args.resume:
        sys.exit(f"speedup.py: {jsonl} already has {len(records)} runs: "
                 "pass --resume to continue that sweep or choose another --out")
    mine = settings(args)
    for r in records:
        if r["settings"] != mine:
            diff = {k: (r["settings"].get(k), v) for k, v in mine.items()
                    if r["settings"].get(k) != v}
            sys.exit(f"speedup.py: --resume: {jsonl} holds runs with other "
                     f"settings (record, now): {diff}; use the same options "
                     "or another --out")
    done = {(r["workers"], r["link"], r["method"]) for r in records
            if r["status"] == "ok"}
    find_tools(args)
    todo = [(k, link, m) for k in args.workers for link in args.links
            for m in args.methods if (k, link, m) not in done]
    log(f"{len(todo)} runs to do"
        + (f" ({len(done)} already in {jsonl})" if done else ""))
    libs = prepare(args, log) if todo else None
    for k, link, m in todo:
        rec = run_one(args, k, link, m, libs, log)
        with open(jsonl, "a") as f:
            f.write(json.dumps(rec) + "\n")
        records.append(rec)
    if not records:
        sys.exit("speedup.py: no runs")
    report(args, records, log)
    # A failed run that --resume ran again successfully is not a failure.
    latest = {(r["workers"], r["link"], r["method"]): r for r in records}
    failed = [r for r in latest.values() if r["status"] != "ok"]
    if failed:
        sys.exit(f"speedup.py: {len(failed)} run(s) failed: "
                 + ", ".join(f"k{r['workers']}-{r['link']}-{r['method']}"
                             for r in failed))


if __name__ == "__main__":
    main()
