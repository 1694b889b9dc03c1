#!/usr/bin/env python3
"""The optimiser's own cost per step, without the model's compute: a
qoda.torch QODA step over the WGAN-GP's parameters (examples/wgan) whose
closure only hands back fixed gradients. What is left is what
communication costs a training step: parameters <-> flat vectors, the
NaN/Inf check, encode, the collective, decode, the QODA update.

    qoda-run -n K [--bandwidth RATE] -- bench/optimizer_step.py \\
        [--compressors none,layerwise] [--collectives allgather]
        [--steps 200] [--nz 128 --ngf 32 --ndf 32] [--bits 4]
        [--raw-allreduce-min BYTES] [--refits "none;/1000@all"]
        [--library GEN_OUT,CRITIC_OUT] [--step-sums workers,aggregate]
        [--json]

Every rank runs every (compressor, collective[, refit plan]) in the same
order, back to back, so the rows see the same load. --refits lists
layer-wise level re-fitting plans separated by ';' (a plan has commas):
"/1000@all" bins every step's vector (no refit falls in the timed steps),
"/1000" only the 10 steps before step 1000, i.e. none of them, so the pair
measures what binning every step costs. The compressor "library" is
layer-wise through compiled model libraries (qoda-auto of bench/speedup.py):
--library names the qoda-compile output directories of the generator and
the critic, exported with the same --nz/--ngf/--ndf, e.g. by
    bench/speedup.py --out OUT --methods qoda-auto ... (OUT/lib-generator,
    OUT/lib-critic) or qoda-compile ONNX -o DIR --target cpu.
--step-sums lists QODA's step-size sums to run each row with: "workers"
(METHOD 2's default; collective (a) then decodes its own message for the
norms) or "aggregate" (the mean's norms, computed by the optimiser).
Per row, rank 0 prints the median and
quartiles of the wall time per step and the CPU time per step of its own
process (user and system, every thread: Gloo's included); with K workers
on C cores, the workers share the cores and a step's CPU time adds up
across them.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "examples", "wgan"))
import wgan  # noqa: E402
import qoda  # noqa: E402
import qoda.schedule  # noqa: E402
import qoda.torch  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--compressors", default="none,layerwise")
    p.add_argument("--collectives", default="allgather",
                   help="allgather, scatter-reduce, auto (comma-separated)")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--nz", type=int, default=128)
    p.add_argument("--ngf", type=int, default=32)
    p.add_argument("--ndf", type=int, default=32)
    p.add_argument("--bits", type=int, default=4)
    p.add_argument("--raw-allreduce-min", type=int, default=None,
                   metavar="BYTES", help="layerwise: fp32 types with at least "
                   "this many bytes per worker go through their own "
                   "all-reduce, smaller ones in the message (default: all "
                   "all-reduced)")
    p.add_argument("--refits", default="none",
                   help="layerwise: refit plans separated by ';' "
                   "(default none)")
    p.add_argument("--library", default=None, metavar="GEN_OUT,CRITIC_OUT",
                   help="the compiled model libraries of the 'library' "
                   "compressor row")
    p.add_argument("--step-sums", default="workers",
                   help="QODA's step-size sums, comma-separated: workers, "
                   "aggregate")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    for name in ("steps", "nz", "ngf", "ndf", "bits"):
        if getattr(a, name) < 1:
            p.error(f"--{name} must be positive")
    if a.warmup < 0:
        p.error("--warmup must be >= 0")
    a.compressors = [c for c in a.compressors.split(",") if c]
    a.collectives = [c for c in a.collectives.split(",") if c]
    a.refits = [r for r in a.refits.split(";") if r]
    a.step_sums = [r for r in a.step_sums.split(",") if r]
    if not a.compressors or not a.collectives or not a.refits or \
            not a.step_sums:
        p.error("--compressors, --collectives, --refits and --step-sums "
                "need at least one entry")
    for rule in a.step_sums:
        if rule not in ("workers", "aggregate"):
            p.error(f"--step-sums: '{rule}' is neither workers nor aggregate")
    if ("library" in a.compressors) != (a.library is not None):
        p.error("the compressor 'library' and --library go together: "
                "--library GEN_OUT,CRITIC_OUT names the qoda-compile outputs "
                "that row runs")
    if a.library is not None:
        a.library = a.library.split(",")
        if len(a.library) != 2 or not all(a.library):
            p.error("--library: expected GEN_OUT,CRITIC_OUT")
        for d in a.library:
            if not os.path.isdir(d):
                p.error(f"--library: '{d}' is not a directory (run "
                        "qoda-compile MODEL.onnx -o DIR first)")
    return a


def one_row(args, compressor, collective, refit, step_sums, rank, tmp):
    torch.manual_seed(0)
    G, D = wgan.Generator(args.nz, args.ngf), wgan.Critic(args.ndf)
    groups = []
    for i, (name, model) in enumerate((("generator", G), ("critic", D))):
        g = dict(params=model.named_parameters(), name=name)
        if compressor == "library":  # qoda-auto: schedule and kernels
            g["library"] = args.library[i]
        if compressor == "layerwise":  # the hand schedule of train.py
            g["schedule"] = qoda.schedule.write_schedule(
                os.path.join(tmp, f"{name}.json"), name,
                [(n, p.shape) for n, p in model.named_parameters()],
                bits=args.bits, bucket=1024)
        groups.append(g)
    kw = {}
    if compressor == "layerwise" and args.raw_allreduce_min is not None:
        kw["raw_allreduce_min"] = args.raw_allreduce_min
    if refit != "none":
        kw["refit"] = refit
    opt = qoda.torch.QODA(groups, lr=0.01, lr_gamma=0.05,
                          step_sums=step_sums,
                          compressor=("layerwise" if compressor == "library"
                                      else compressor), bits=args.bits,
                          collective=collective, **kw)
    params = list(G.parameters()) + list(D.parameters())
    gen = torch.Generator().manual_seed(1 + rank)
    grads = [1e-3 * torch.randn(p.shape, generator=gen) for p in params]

    def closure():  # fixed gradients, written in place: no model compute
        for p, g in zip(params, grads):
            if p.grad is None:
                p.grad = torch.empty_like(p)
            p.grad.copy_(g)

    for _ in range(args.warmup):
        opt.step(closure)
    opt.comm.barrier()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    times = []
    for _ in range(args.steps):
        t = time.perf_counter()
        opt.step(closure)
        times.append(time.perf_counter() - t)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    q = statistics.quantiles(times, n=4)
    n = args.steps
    return {"compressor": compressor, "collective": opt.aggregator.collective,
            "asked": collective, "refit": refit, "step_sums": step_sums,
            "workers": opt.comm.size,
            "coordinates": opt.dim, "ms_per_step": 1e3 * q[1],
            "ms_q1": 1e3 * q[0], "ms_q3": 1e3 * q[2],
            "cpu_user_ms_per_step": 1e3 * (r1.ru_utime - r0.ru_utime) / n,
            "cpu_sys_ms_per_step": 1e3 * (r1.ru_stime - r0.ru_stime) / n,
            "bits_per_coord": opt.stats()["bits_per_coord"]}


def main():
    args = parse_args()
    torch.set_num_threads(1)
    rank = int(os.environ.get("RANK", "0"))
    tmp = tempfile.mkdtemp(prefix=f"qoda-optstep-{rank}-")
    rows = []
    for c in args.compressors:
        for coll in (args.collectives if c != "none" else ["allgather"]):
            for refit in (args.refits if c == "layerwise" else ["none"]):
                for rule in args.step_sums:
                    try:
                        rows.append(one_row(args, c, coll, refit, rule, rank,
                                            tmp))
                    except ValueError as e:
                        # A bad option (a refit plan, a library that does
                        # not match) fails on every rank alike, before any
                        # collective: one message, not K tracebacks.
                        if rank == 0:
                            print(f"optimizer_step.py: {c} / {coll} / refit "
                                  f"{refit}: {e}", file=sys.stderr)
                        sys.exit(2)
    if rank != 0:
        return
    if args.json:
        print(json.dumps({"rows": rows}))
        return
    for r in rows:
        refit = "" if r["refit"] == "none" else f" refit {r['refit']}"
        sums = "" if r["step_sums"] == "workers" else " aggregate sums"
        print(f"K={r['workers']} {r['compressor']:<10} {r['collective']:<14}"
              f"{refit}{sums} "
              f"{r['ms_per_step']:7.2f} ms/step (q1 {r['ms_q1']:.2f}, q3 "
              f"{r['ms_q3']:.2f})  cpu/step user {r['cpu_user_ms_per_step']:.2f}"
              f" sys {r['cpu_sys_ms_per_step']:.2f} ms  "
              f"{r['bits_per_coord']:.2f} bit/coord", flush=True)


if __name__ == "__main__":
    main()
