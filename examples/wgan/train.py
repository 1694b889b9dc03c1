#!/usr/bin/python3
"""Trains WGAN-GP on Fashion-MNIST with K workers through qoda.

    qoda-run -n 4 -- /usr/bin/python3 train.py --optimizer qoda \
        --compressor layerwise --minutes 3 --out out/wgan
    qoda-run -n 4 -- /usr/bin/python3 train.py --optimizer adam \
        --compressor none --minutes 3 --out out/wgan      # the baseline

(torchrun sets the same variables: torchrun --nproc-per-node 4 train.py ...)
Alone (no MASTER_ADDR) it runs as one worker.

The generator and the critic are one vector field (METHOD 1): each worker's
closure computes both losses on its own batch at the optimiser's evaluation
point and back-propagates each into its own model; qoda.torch averages the
K workers' compressed fields and updates both models at once.

Rank 0 exports both models to ONNX (training-mode recipe) in OUT/onnx,
measures quality every --eval-every steps (Frechet distance in the features
of a small Fashion-MNIST classifier trained once and cached, and the sliced
Wasserstein distance on pixels; quality.py), and writes
  OUT/RUN.jsonl        one line per evaluation: step, wall_s (training time,
                       evaluations excluded), compute_s (of it, inside the
                       closure), bytes_sent / bits_sent (rank 0's), fd,
                       swd, d_loss, g_loss
  OUT/RUN.json         the summary (also printed)
  OUT/RUN-samples.png  64 generated images
RUN is --run-name (default OPTIMIZER-COMPRESSOR[-BITS]-kK). plot.py draws
quality against time and bits from the .jsonl files.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import quality  # noqa: E402
import wgan  # noqa: E402
from cpu_usage import CoreBusy, ProcessCpu  # noqa: E402

import qoda  # noqa: E402
import qoda.schedule  # noqa: E402
import qoda.torch  # noqa: E402

OPTIMIZERS = {"qoda": qoda.torch.QODA, "qoda-single": qoda.torch.QODASingle,
              "qgenx": qoda.torch.QGenX, "eg": qoda.torch.ExtraGradient,
              "og": qoda.torch.OptimisticGradient, "sgda": qoda.torch.SGDA,
              "adam": qoda.torch.Adam, "extra-adam": qoda.torch.ExtraAdam}


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a = p.add_argument
    a("--optimizer", default="qoda", choices=sorted(OPTIMIZERS))
    a("--compressor", default="layerwise",
      help="none, fp16, qsgd, nuqsgd, ... or layerwise (qoda.compressor_names())")
    a("--bits", type=int, default=4, help="global quantizers, and the levels "
      "types of --schedule hand")
    a("--bucket", type=int, default=1024)
    a("--collective", default="allgather",
      choices=["allgather", "scatter-reduce", "auto"],
      help="auto: the cost model and a short timing pick at start-up")
    a("--schedule", default="hand",
      help="layerwise: 'hand' (types by tensor shape, written by "
           "qoda.schedule) or GENERATOR.json,CRITIC.json (qoda-compile)")
    a("--library", default=None,
      help="layerwise: GENERATOR_OUT,CRITIC_OUT, the qoda-compile -o "
           "directories of onnx/generator.onnx and onnx/critic.onnx; their "
           "schedule.json and generated kernels (libqoda_*.so) are used "
           "instead of --schedule")
    a("--raw-allreduce-min", type=int, default=None, metavar="BYTES",
      help="layerwise without --library: fp32/fp16 types putting at least "
           "this many bytes per worker on the wire go through their own "
           "all-reduce, smaller ones travel in the message (default: "
           "qoda.torch's, 16384; 0 all-reduces them all, each type a "
           "latency-bound collective every step, docs/perf.md)")
    a("--refit", default="0,50,200/500",
      help="layerwise level re-fitting plan (steps[/every][@window]), "
      "or none")
    a("--lr", type=float, default=None,
      help="default: 1e-3 for adam/extra-adam, 0.5 otherwise")
    a("--lr-gamma", type=float, default=0.05, help="qoda's optimistic step lr_g")
    a("--q", type=float, default=0.25)
    a("--step-sums", choices=("workers", "aggregate"), default="workers",
      help="qoda: the adaptive steps sum the workers' squared norms "
           "(METHOD 2) or the aggregate's (always so with scatter-reduce)")
    a("--betas", default="0.5,0.9", help="adam / extra-adam")
    a("--gp", type=float, default=10.0, help="gradient penalty weight")
    a("--batch", type=int, default=32, help="images per worker per evaluation")
    a("--nz", type=int, default=32)
    a("--ngf", type=int, default=32)
    a("--ndf", type=int, default=32)
    a("--steps", type=int, default=100000, help="at most this many steps")
    a("--minutes", type=float, default=3.0,
      help="stop at the first evaluation after this much training time "
           "(evaluations excluded)")
    a("--eval-every", type=int, default=50,
      help="evaluate every this many steps; with --eval-seconds, the "
           "steps at which rank 0 checks the clock")
    a("--eval-seconds", type=float, default=0.0,
      help="evaluate after every this many seconds of training instead (at "
           "the first multiple of --eval-every steps after each): the same "
           "time resolution for fast and slow runs; 0: off")
    a("--eval-samples", type=int, default=1000)
    a("--classifier-steps", type=int, default=2000)
    a("--cache-dir", default=os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")),
        "qoda"))
    a("--data-dir", default=wgan.DATA_DIR)
    a("--out", default="out/wgan")
    a("--run-name", default=None)
    a("--on-nonfinite", default="stop", choices=["stop", "skip"],
      help="a NaN/Inf gradient: stop the run, or skip the step on all workers")
    a("--seed", type=int, default=0)
    a("--no-export", action="store_true", help="skip the ONNX export")
    args = p.parse_args(argv)
    if args.lr is None:
        args.lr = 1e-3 if "adam" in args.optimizer else 0.5
    if args.step_sums != "workers" and args.optimizer != "qoda":
        p.error("--step-sums applies to --optimizer qoda (its adaptive "
                "steps)")
    try:
        args.betas = tuple(float(b) for b in args.betas.split(","))
        assert len(args.betas) == 2
    except (ValueError, AssertionError):
        p.error(f"--betas: expected two numbers like 0.5,0.9, got '{args.betas}'")
    if args.raw_allreduce_min is not None:
        if args.raw_allreduce_min < 0:
            p.error("--raw-allreduce-min expects a number of bytes >= 0")
        if args.compressor != "layerwise" or args.library is not None:
            p.error("--raw-allreduce-min applies to --compressor layerwise "
                    "without --library (compiled libraries send every type "
                    "in their messages)")
    if args.library is not None:
        if args.compressor != "layerwise":
            p.error("--library needs --compressor layerwise")
        if args.schedule != "hand":
            p.error("--library and --schedule FILES exclude each other "
                    "(the library directories hold their schedule.json)")
        args.library = args.library.split(",")
        if len(args.library) != 2:
            p.error("--library: expected GENERATOR_OUT,CRITIC_OUT")
    for name in ("batch", "eval_every", "eval_samples", "classifier_steps",
                 "steps"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be positive")
    if not args.eval_seconds >= 0 or args.eval_seconds == float("inf"):
        p.error(f"--eval-seconds must be a number >= 0, got {args.eval_seconds}")
    return args


def rank_env():
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def classifier(args, rank, train, log):
    """Rank 0 trains (or loads) the cached classifier BEFORE joining the
    job; the other ranks, which never use it, wait for the cache file
    instead of for the rendezvous, whose timeout is meant for failures
    (QODA_COMM_TIMEOUT), not for a classifier's training. Workers on other
    machines need the cache filled first (compare.py does)."""
    if rank != 0:
        path = quality.classifier_path(args.cache_dir, args.classifier_steps)
        while not os.path.exists(path):
            time.sleep(0.2)
        return None
    test = wgan.load_fashion_mnist("test", args.data_dir)
    net, path = quality.cached_classifier(args.cache_dir, train, test,
                                          args.classifier_steps, log=log)
    return quality.Evaluator(net, test[0], samples=args.eval_samples,
                             seed=args.seed), path


def schedules(args, G, D, out):
    if args.compressor != "layerwise":
        return None, None
    if args.schedule == "hand":
        files = []
        for name, model in (("generator", G), ("critic", D)):
            path = os.path.join(out, f"{name}.hand.schedule.json")
            qoda.schedule.write_schedule(
                path, name, [(n, p.shape) for n, p in model.named_parameters()],
                bits=args.bits, bucket=args.bucket)
            files.append(path)
        return files
    files = args.schedule.split(",")
    if len(files) != 2:
        sys.exit("--schedule: expected 'hand' or GENERATOR.json,CRITIC.json")
    return files


def main(argv=None):
    args = parse_args(argv)
    rank, k = rank_env()
    torch.set_num_threads(1)
    log = (lambda m: print(m, flush=True)) if rank == 0 else None
    run = args.run_name or "-".join(
        [args.optimizer, args.compressor]
        + ([str(args.bits)] if args.compressor not in ("none", "fp16") else [])
        + [f"k{k}"])
    os.makedirs(args.out, exist_ok=True)

    train = wgan.load_fashion_mnist("train", args.data_dir)
    ev = classifier(args, rank, train, log)
    real = train[0]
    torch.manual_seed(args.seed)  # the models' initial values (rank 0's win)
    G, D = wgan.Generator(args.nz, args.ngf), wgan.Critic(args.ndf)
    if rank == 0 and not args.no_export:
        paths = wgan.export_onnx(G, D, os.path.join(args.out, "onnx"))
        log("exported " + ", ".join(paths.values()))
    # Every rank writes the same hand schedule; each to its own directory,
    # so no rank reads a file another is writing.
    sched_dir = os.path.join(args.out, f".schedules-{run}-r{rank}")
    os.makedirs(sched_dir, exist_ok=True)
    gs, ds = (None, None) if args.library else schedules(args, G, D, sched_dir)
    # A compiled library brings its own schedule (OUT/schedule.json).
    src = ([{"library": d} for d in args.library] if args.library else
           [{"schedule": gs}, {"schedule": ds}])

    kw = dict(lr=args.lr, compressor=args.compressor, bits=args.bits,
              bucket=args.bucket, collective=args.collective, seed=args.seed,
              on_nonfinite=args.on_nonfinite)
    if args.optimizer == "qoda":
        kw.update(lr_gamma=args.lr_gamma, q=args.q, step_sums=args.step_sums)
    if "adam" in args.optimizer:
        kw["betas"] = args.betas
    if args.raw_allreduce_min is not None:
        kw["raw_allreduce_min"] = args.raw_allreduce_min
    if args.compressor == "layerwise" and args.refit != "none":
        kw["refit"] = args.refit
    opt = OPTIMIZERS[args.optimizer](
        [dict(src[0], params=G.named_parameters(), name="generator"),
         dict(src[1], params=D.named_parameters(), name="critic")],
        **kw)
    comm = opt.comm
    choice = opt.aggregator.collective_choice
    if choice and log:
        if choice["calibrated"]:
            log("collective auto -> {} (model: (a) {:.2f} ms, (b) {:.2f} ms; "
                "measured: (a) {:.2f} ms, (b) {:.2f} ms)".format(
                    choice["collective"],
                    1e3 * choice["predicted_allgather_s"],
                    1e3 * choice["predicted_scatter_reduce_s"],
                    1e3 * choice["measured_allgather_s"],
                    1e3 * choice["measured_scatter_reduce_s"]))
        else:
            log(f"collective auto -> {choice['collective']}: {choice['note']}")

    data = torch.Generator().manual_seed(1000 + args.seed * 7919 + rank)
    last = {}

    compute = {"s": 0.0}  # time inside the closure: the workers' compute
    # CPU time of this worker's steps and of their closures, and (rank 0)
    # how busy the cores were while training: cpu_usage.py.
    step_cpu, compute_cpu = ProcessCpu(), ProcessCpu()
    cores_busy = CoreBusy() if rank == 0 else None

    def closure():
        t0 = time.perf_counter()
        compute_cpu.start()
        idx = torch.randint(0, real.shape[0], (args.batch,), generator=data)
        z = torch.randn(args.batch, args.nz, generator=data)
        d_loss, g_loss = wgan.losses(G, D, real[idx], z, args.gp)
        wgan.backward(G, D, d_loss, g_loss)
        last.update(d_loss=d_loss.item(), g_loss=g_loss.item())
        compute_cpu.stop()
        compute["s"] += time.perf_counter() - t0

    metrics_path = os.path.join(args.out, f"{run}.jsonl")
    metrics = open(metrics_path, "w") if rank == 0 else None
    train_s, step, stop = 0.0, 0, np.zeros(1, np.float32)
    next_eval_s = args.eval_seconds
    records = []
    while True:
        if step % args.eval_every == 0 or step >= args.steps:
            # Rank 0 evaluates while the others wait in the broadcast that
            # carries its stop decision; evaluation time is not training time.
            if rank == 0:
                stop[0] = float(step >= args.steps
                                or train_s >= 60 * args.minutes)
                if (not args.eval_seconds or step == 0 or stop[0]
                        or train_s >= next_eval_s):
                    while args.eval_seconds and next_eval_s <= train_s:
                        next_eval_s += args.eval_seconds
                    q = ev[0](G)
                    s = opt.stats()
                    rec = {"step": step, "wall_s": train_s,
                           "compute_s": compute["s"],
                           "bytes_sent": s["bytes_sent"],
                           "bits_sent": 8 * s["bytes_sent"], **q, **last}
                    records.append(rec)
                    metrics.write(json.dumps(rec) + "\n")
                    metrics.flush()
                    log(f"step {step}: fd {q['fd']:.2f} swd {q['swd']:.4f} "
                        f"train {train_s:.1f}s, "
                        f"{s['bits_per_coord']:.2f} bits/coord")
            comm.broadcast(stop, 0)
            if stop[0]:
                break
        if cores_busy:
            cores_busy.start()
        step_cpu.start()
        t = time.perf_counter()
        opt.step(closure)
        train_s += time.perf_counter() - t
        step_cpu.stop()
        if cores_busy:
            cores_busy.stop()
        step += 1

    # The mean over the workers of their CPU seconds (every rank takes part).
    cpu = np.array([step_cpu.seconds, compute_cpu.seconds], np.float32)
    comm.allreduce_sum(cpu)
    cpu /= k
    if rank == 0:
        usage = {"cpu_s": float(cpu[0]), "compute_cpu_s": float(cpu[1]),
                 "cores": len(cores_busy.cpus),
                 "cores_busy": cores_busy.fraction()}
        summary(args, run, opt, records, metrics_path, ev[1], G, k, usage)
        metrics.close()


def summary(args, run, opt, records, metrics_path, classifier_path, G, k,
            usage):
    s = opt.stats()
    samples = os.path.join(args.out, f"{run}-samples.png")
    save_samples(G, samples, args.seed)
    steps = max(s["steps"], 1)
    out = {"run": run, "workers": k, "optimizer": args.optimizer,
           "compressor": args.compressor + (" (compiled libraries)"
                                            if args.library else ""),
           "libraries": args.library, "coordinates": s["dim"],
           "steps": s["steps"], "train_s": records[-1]["wall_s"],
           "s_per_step": records[-1]["wall_s"] / steps,
           # Rank 0's closure time (forward + backward of both models);
           # the rest of s_per_step is the optimiser: codecs, collectives.
           "compute_s_per_step": records[-1]["compute_s"] / steps,
           # The workers' mean CPU time per step (process time: all threads,
           # user + system), of it inside the closure, and the fraction of
           # rank 0's cores that were busy during the steps: with K workers
           # on fewer cores, s_per_step >= K * cpu_s_per_step / cores.
           "cpu_s_per_step": usage["cpu_s"] / steps,
           "compute_cpu_s_per_step": usage["compute_cpu_s"] / steps,
           "cores": usage["cores"], "cores_busy": usage["cores_busy"],
           "evaluations_per_step": s["evaluations"] / steps,
           "bits_per_coord": s["bits_per_coord"],
           "collective": s["collective"],
           "collective_choice": opt.aggregator.collective_choice,
           "bytes_sent": s["bytes_sent"], "refits": s["refits"],
           "skipped_steps": s["skipped_steps"],
           "fd_initial": records[0]["fd"], "fd_final": records[-1]["fd"],
           "fd_best": min(r["fd"] for r in records),
           "swd_final": records[-1]["swd"], "metrics": metrics_path,
           "samples": samples, "classifier": classifier_path,
           "layer_types": layer_types(opt)}
    with open(os.path.join(args.out, f"{run}.json"), "w") as f:
        json.dump(out, f, indent=2)
    print("summary " + json.dumps(out), flush=True)
    print(f"{run}: {out['steps']} steps in {out['train_s']:.1f} s "
          f"({1000 * out['s_per_step']:.0f} ms/step), "
          f"{out['bits_per_coord']:.2f} bits/coord sent, FD "
          f"{out['fd_initial']:.1f} -> {out['fd_final']:.1f}; samples "
          f"{samples}", flush=True)


def layer_types(opt):
    """How many coordinates are sent as what (qoda.torch's layout())."""
    types = {}
    for _, numel, how in opt.layout():
        types[how] = types.get(how, 0) + numel
    return types


def save_samples(G, path, seed):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    z = torch.randn(64, G.nz, generator=torch.Generator().manual_seed(seed + 2))
    with torch.no_grad():
        img = G(z).view(8, 8, 28, 28).permute(0, 2, 1, 3).reshape(8 * 28, 8 * 28)
    plt.imsave(path, (img.numpy() + 1) / 2, cmap="gray", vmin=0, vmax=1)


if __name__ == "__main__":
    main()
