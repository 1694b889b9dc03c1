#!/usr/bin/env python3
"""The WGAN-GP step (examples/wgan) with the critic's passes shared, as
wgan.losses computes it (real and fake images in one pass whose fake scores
serve both losses), against one critic pass per loss term (the formulation
before: D(fake.detach()), D(real), D(fake)), alternated in one process on
one thread, as a qoda worker runs it.

    bench/wgan_losses.py [--rounds 6] [--steps 40] [--nz 128 --ngf 32
        --ndf 32 --batch 8] [--json]

Reports the median step time (forward, gradient penalty, both backward
passes) of each formulation over the rounds, their ratio, and the largest
difference between the two vector fields at the same point (the same
gradients up to float rounding).
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "examples", "wgan"))
import wgan  # noqa: E402


def separate_losses(G, D, real, z, gp_weight=10.0):
    """One critic pass per term (the reference formulation)."""
    fake = G(z)
    d_loss = D(fake.detach()).mean() - D(real).mean() + \
        gp_weight * wgan.gradient_penalty(D, real, fake.detach())
    g_loss = -D(fake).mean()
    return d_loss, g_loss


def separate_backward(G, D, d_loss, g_loss):
    d_loss.backward(inputs=list(D.parameters()))
    g_loss.backward(inputs=list(G.parameters()))


VARIANTS = {"shared": (wgan.losses, wgan.backward),
            "separate": (separate_losses, separate_backward)}


def field(G, D, variant, real, z, seed):
    losses, backward = VARIANTS[variant]
    for p in list(G.parameters()) + list(D.parameters()):
        p.grad = None
    torch.manual_seed(seed)  # the same interpolation weights for both
    backward(G, D, *losses(G, D, real, z))
    return torch.cat([p.grad.flatten()
                      for p in list(G.parameters()) + list(D.parameters())])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--nz", type=int, default=128)
    p.add_argument("--ngf", type=int, default=32)
    p.add_argument("--ndf", type=int, default=32)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    for name in ("rounds", "steps", "nz", "ngf", "ndf", "batch"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be positive")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    G, D = wgan.Generator(args.nz, args.ngf), wgan.Critic(args.ndf)
    real = torch.rand(args.batch, 1, 28, 28) * 2 - 1
    z = torch.randn(args.batch, args.nz)
    a, b = field(G, D, "shared", real, z, 1), field(G, D, "separate", real, z, 1)
    max_diff = float((a - b).abs().max())
    rounds = {v: [] for v in VARIANTS}
    for _ in range(args.rounds):
        for v, (losses, backward) in VARIANTS.items():
            for _ in range(3):  # warm-up
                backward(G, D, *losses(G, D, real, torch.randn_like(z)))
            times = []
            for _ in range(args.steps):
                t = time.perf_counter()
                backward(G, D, *losses(G, D, real, torch.randn_like(z)))
                times.append(time.perf_counter() - t)
            rounds[v].append(1e3 * statistics.median(times))
    ms = {v: statistics.median(r) for v, r in rounds.items()}
    out = {"ms_per_step": ms, "rounds_ms": rounds,
           "speedup": ms["separate"] / ms["shared"],
           "max_abs_field_difference": max_diff,
           "field_norm": float(a.norm())}
    if args.json:
        print(json.dumps(out))
        return
    print(f"shared critic passes   {ms['shared']:.2f} ms/step")
    print(f"separate (before)      {ms['separate']:.2f} ms/step")
    print(f"speedup {out['speedup']:.3f}x; vector fields differ by at most "
          f"{max_diff:.2e} (norm {out['field_norm']:.3f})")


if __name__ == "__main__":
    main()
