#!/usr/bin/python3
"""Record real gradients for the quantization benchmarks.

Trains a small CNN (2 conv + 2 linear layers) for a few SGD steps and writes
the gradient of every parameter at the last step as raw little-endian float32
files plus a manifest (`manifest.txt`: one "<name> <count>" line per file),
which `qoda-bench quant --gradients DIR` reads.

Data: Fashion-MNIST from Debian's dataset-fashion-mnist package when present
(--data, idx format), otherwise random images with random labels (said so on
stderr; the gradients are then those of a model fitting noise).

Usage: /usr/bin/python3 bench/record_gradients.py OUTDIR [--steps 5]
"""
import argparse
import gzip
import os
import sys

import numpy as np
import torch
import torch.nn as nn


def load_images(data_dir, batch):
    path = os.path.join(data_dir or "", "train-images-idx3-ubyte.gz")
    labels = os.path.join(data_dir or "", "train-labels-idx1-ubyte.gz")
    if data_dir and os.path.exists(path) and os.path.exists(labels):
        with gzip.open(path) as f:
            x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
        with gzip.open(labels) as f:
            y = np.frombuffer(f.read(), np.uint8, offset=8)
        return (torch.tensor(x[: batch * 20], dtype=torch.float32) / 255.0,
                torch.tensor(y[: batch * 20], dtype=torch.long))
    print("record_gradients: Fashion-MNIST not found, using random data",
          file=sys.stderr)
    g = torch.Generator().manual_seed(0)
    return (torch.rand(batch * 20, 1, 28, 28, generator=g),
            torch.randint(0, 10, (batch * 20,), generator=g))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--data", default="/usr/share/dataset-fashion-mnist")
    a = ap.parse_args()
    if a.steps < 1 or a.batch < 1:
        sys.exit("record_gradients: --steps and --batch must be >= 1")
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(32 * 4 * 4, 128), nn.ReLU(), nn.Linear(128, 10))
    x, y = load_images(a.data, a.batch)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    for step in range(a.steps):
        lo = (step * a.batch) % (x.shape[0] - a.batch + 1)
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x[lo:lo + a.batch]),
                                           y[lo:lo + a.batch])
        loss.backward()
        if step + 1 < a.steps:
            opt.step()
    os.makedirs(a.outdir, exist_ok=True)
    with open(os.path.join(a.outdir, "manifest.txt"), "w") as m:
        for name, p in model.named_parameters():
            g = p.grad.detach().numpy().astype("<f4").ravel()
            fname = name.replace(".", "_") + ".f32"
            g.tofile(os.path.join(a.outdir, fname))
            m.write(f"{fname} {g.size}\n")
    print(f"record_gradients: wrote {len(list(model.parameters()))} tensors "
          f"to {a.outdir} (loss {loss.item():.4f})")


if __name__ == "__main__":
    main()
