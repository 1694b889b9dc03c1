#!/usr/bin/env python3
"""Compute time of one WGAN-GP step (examples/wgan: both losses, the
gradient penalty's double backward, both backward passes; one thread, as a
qoda worker runs it) under each BLAS that Debian's alternatives offer for
libblas.so.3, alternated in one run so that the ratio sees the same load.

    bench/wgan_compute.py [--rounds 5] [--steps 30] [--nz 128 --ngf 32
        --ndf 32 --batch 8] [--blas NAME=DIR ...] [--json]

Each round starts one fresh process per BLAS (LD_LIBRARY_PATH=DIR puts
that DIR's libblas.so.3 before the system's) and takes the median step time
of --steps steps after a warm-up; the report is the median over rounds and
the ratio to the first BLAS (default: Debian's reference BLAS, then
OpenBLAS serial; either is skipped when its package is not installed).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WGAN = os.path.join(os.path.dirname(HERE), "examples", "wgan")
LIBDIR = "/usr/lib/x86_64-linux-gnu"
DEFAULT_BLAS = [("reference", os.path.join(LIBDIR, "blas")),
                ("openblas-serial", os.path.join(LIBDIR, "openblas-serial"))]


def child(args):
    """One process: the median step time in seconds, on stdout."""
    import torch
    sys.path.insert(0, WGAN)
    import wgan
    torch.set_num_threads(1)
    torch.manual_seed(0)
    G, D = wgan.Generator(args.nz, args.ngf), wgan.Critic(args.ndf)
    real = torch.rand(args.batch, 1, 28, 28) * 2 - 1

    def step():
        z = torch.randn(args.batch, args.nz)
        d_loss, g_loss = wgan.losses(G, D, real, z, 10.0)
        wgan.backward(G, D, d_loss, g_loss)

    for _ in range(5):
        step()
    times = []
    for _ in range(args.steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    print(statistics.median(times))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--nz", type=int, default=128)
    p.add_argument("--ngf", type=int, default=32)
    p.add_argument("--ndf", type=int, default=32)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--blas", action="append", default=None,
                   metavar="NAME=DIR", help="a directory holding libblas.so.3")
    p.add_argument("--json", action="store_true")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    for name in ("rounds", "steps", "nz", "ngf", "ndf", "batch"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be positive")
    if args.child:
        return child(args)
    blas = []
    for spec in args.blas or [f"{n}={d}" for n, d in DEFAULT_BLAS]:
        name, sep, d = spec.partition("=")
        if not sep or not name:
            p.error(f"--blas expects NAME=DIR, got '{spec}'")
        if not os.path.exists(os.path.join(d, "libblas.so.3")):
            if args.blas is None:  # not installed: compare what is
                print(f"wgan_compute.py: skipping {name}: no {d}/libblas.so.3 "
                      "(its Debian package is not installed)", file=sys.stderr)
                continue
            p.error(f"--blas {name}: no libblas.so.3 in '{d}'")
        blas.append((name, d))
    if not blas:
        p.error("none of the default BLAS directories holds libblas.so.3: "
                "name one with --blas NAME=DIR")
    cmd = [sys.executable, os.path.abspath(__file__), "--child"] + [
        f"--{n}={getattr(args, n)}" for n in ("steps", "nz", "ngf", "ndf",
                                               "batch")]
    times = {name: [] for name, _ in blas}
    for _ in range(args.rounds):
        for name, d in blas:
            env = dict(os.environ, LD_LIBRARY_PATH=d, OMP_NUM_THREADS="1")
            r = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"wgan_compute.py: the {name} run failed:\n{r.stderr}")
            times[name].append(float(r.stdout.split()[-1]))
    base = statistics.median(times[blas[0][0]])
    out = {"settings": {k: getattr(args, k) for k in
                        ("rounds", "steps", "nz", "ngf", "ndf", "batch")},
           "blas": [{"name": n, "dir": d,
                     "ms_per_step": 1e3 * statistics.median(times[n]),
                     "rounds_ms": [round(1e3 * t, 2) for t in times[n]],
                     "speedup": base / statistics.median(times[n])}
                    for n, d in blas]}
    if args.json:
        print(json.dumps(out))
        return
    for b in out["blas"]:
        print(f"{b['name']:<18} {b['ms_per_step']:8.2f} ms/step  "
              f"{b['speedup']:5.2f}x  (rounds: {b['rounds_ms']})")


if __name__ == "__main__":
    main()
