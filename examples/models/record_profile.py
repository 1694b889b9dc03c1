#!/usr/bin/python3
"""Records a gradient profile of one of qoda's example models.

Trains NAME (a model of export_models.py, or transformer_lm24) for a few
steps and writes, per parameter, the distribution of normalised gradient
coordinates that `qoda-opt --qoda-schedule-pipeline=gradient-profile=FILE`
reads (format: docs/clustering.md, "Gradient profiles"). Parameters are
named as model.named_parameters() names them, which are the ONNX initializer
names of a training-mode export (export_models.py's recipe); --export DIR
writes that export next to the profile, so the two always match.

For every step and parameter p with gradient v (flattened, cut into buckets
of --bucket coordinates, the last one partial):
    u_i = |v_i| / ||v_bucket(i)||_2,  w_i = ||v_bucket(i)||^2 / ||v_p||^2
and the 1024 linear bins of u over [0, 1] accumulate sum w and sum w*u;
`sumsq` accumulates ||v_p||^2. Everything is averaged over the steps.

Data: Fashion-MNIST (Debian's dataset-fashion-mnist) for the image models
and the DCGAN, resized and repeated to the model's input; random labels are
never used where real ones exist. The language models train on random
tokens (next-token loss). Without Fashion-MNIST the images are random (said
so on stderr).

Usage:
    /usr/bin/python3 record_profile.py NAME --out PROFILE.json
        [--steps 3] [--batch B] [--bucket 1024] [--export DIR]
        [--image-size S]
"""

import argparse
import gzip
import json
import os
import sys
import warnings

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_models  # noqa: E402

BINS = 1024
FMNIST = "/usr/share/datasets/fashion-mnist"

# A 24-layer transformer (d_model 256, 8 heads, 19M parameters) for compile
# time measurements; otherwise export_models.TransformerLM.
EXTRA_MODELS = {
    "transformer_lm24": (
        lambda s: (export_models.TransformerLM(d_model=256, nhead=8,
                                               layers=24),
                   torch.randint(0, 512, (1, 16))), None, ()),
}


def load_fmnist(n):
    path = os.path.join(FMNIST, "train-images-idx3-ubyte.gz")
    if not os.path.exists(path):
        print("record_profile: Fashion-MNIST not found, using random images",
              file=sys.stderr)
        g = torch.Generator().manual_seed(0)
        return (torch.rand(n, 1, 28, 28, generator=g),
                torch.randint(0, 10, (n,), generator=g))
    with gzip.open(path) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(os.path.join(FMNIST, "train-labels-idx1-ubyte.gz")) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    return (torch.tensor(x[:n], dtype=torch.float32) / 255.0,
            torch.tensor(y[:n], dtype=torch.long))


def images_like(x28, example):
    """Fashion-MNIST batch resized/repeated to the example input's shape."""
    _, c, h, w = example.shape
    x = x28 if (h, w) == (28, 28) else F.interpolate(x28, size=(h, w),
                                                     mode="bilinear",
                                                     align_corners=False)
    return x.repeat(1, c, 1, 1)


class Recorder:
    def __init__(self, model, bucket):
        self.bucket = bucket
        self.params = list(model.named_parameters())
        self.w = {n: torch.zeros(BINS, dtype=torch.float64)
                  for n, _ in self.params}
        self.wu = {n: torch.zeros(BINS, dtype=torch.float64)
                   for n, _ in self.params}
        self.sumsq = {n: 0.0 for n, _ in self.params}
        self.steps = 0

    def record(self):
        self.steps += 1
        d = self.bucket
        for name, p in self.params:
            if p.grad is None:
                continue
            g = p.grad.detach().reshape(-1).double()
            n = g.numel()
            pad = (-n) % d
            gp = torch.cat([g, g.new_zeros(pad)]).view(-1, d)
            bn2 = (gp * gp).sum(1)
            tot = float(bn2.sum())
            self.sumsq[name] += tot
            if tot == 0.0:
                continue
            u = gp.abs() / bn2.sqrt().clamp_min(1e-300)[:, None]
            w = (bn2 / tot)[:, None].expand_as(gp)
            u = u.reshape(-1)[:n].clamp(0.0, 1.0)
            w = w.reshape(-1)[:n]
            bins = (u * BINS).long().clamp(max=BINS - 1)
            self.w[name] += torch.bincount(bins, weights=w, minlength=BINS)
            self.wu[name] += torch.bincount(bins, weights=w * u,
                                            minlength=BINS)

    def write(self, path, model_name):
        s = max(self.steps, 1)
        out = {"format": "qoda-gradient-profile", "version": 1,
               "model": model_name, "producer": "record_profile.py",
               "steps": self.steps, "bucket": self.bucket, "norm": "l2",
               "bins": BINS, "params": []}
        for name, p in self.params:
            w, wu = self.w[name] / s, self.wu[name] / s
            hist = [[int(b), float("%.9g" % w[b]), float("%.9g" % wu[b])]
                    for b in torch.nonzero(w > 0).reshape(-1).tolist()]
            out["params"].append({"name": name, "shape": list(p.shape),
                                  "numel": p.numel(),
                                  "sumsq": float("%.9g" %
                                                 (self.sumsq[name] / s)),
                                  "hist": hist})
        with open(path, "w") as f:
            json.dump(out, f, separators=(",", ":"))
            f.write("\n")


def train(name, model, example, steps, batch, rec, size):
    torch.manual_seed(1)
    model.train()
    if name.startswith("transformer_lm"):
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        seq = example.shape[1]
        for _ in range(steps):
            tokens = torch.randint(0, 512, (batch, seq + 1))
            opt.zero_grad()
            logits = model(tokens[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                   tokens[:, 1:].reshape(-1))
            loss.backward()
            rec.record()
            opt.step()
        return
    x28, y = load_fmnist(batch * steps)
    if name.startswith("dcgan"):
        if name == "dcgan_generator":
            G, D = model, export_models.dcgan_discriminator(size)
        else:
            G, D = export_models.dcgan_generator(size), model
        opt = torch.optim.Adam(model.parameters(), lr=2e-4, betas=(0.5, 0.9))
        for s in range(steps):
            opt.zero_grad()
            z = torch.randn(batch, 100, 1, 1)
            fake = G(z)
            if model is G:
                out = D(fake)
                loss = F.binary_cross_entropy(out, torch.ones_like(out))
            else:
                real = images_like(x28[s * batch:(s + 1) * batch],
                                   fake) * 2 - 1
                o_real, o_fake = D(real), D(fake.detach())
                loss = (F.binary_cross_entropy(o_real,
                                               torch.ones_like(o_real)) +
                        F.binary_cross_entropy(o_fake,
                                               torch.zeros_like(o_fake)))
            loss.backward()
            rec.record()
            opt.step()
        return
    # Image classifiers.
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    for s in range(steps):
        xb = images_like(x28[s * batch:(s + 1) * batch], example)
        yb = y[s * batch:(s + 1) * batch]
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        rec.record()
        opt.step()


def main():
    export_models.MODELS.update(EXTRA_MODELS)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=sorted(export_models.MODELS))
    ap.add_argument("--out", required=True, help="profile JSON to write")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch", type=int, help="default 32 (8 at 224x224)")
    ap.add_argument("--bucket", type=int, default=1024)
    ap.add_argument("--image-size", type=int)
    ap.add_argument("--export", metavar="DIR",
                    help="also write DIR/NAME.onnx (training-mode export)")
    a = ap.parse_args()
    if a.steps < 1 or a.bucket < 1 or (a.batch is not None and a.batch < 2):
        sys.exit("record_profile: --steps and --bucket must be >= 1, "
                 "--batch >= 2")
    warnings.filterwarnings("ignore")
    build, default_size, sizes = export_models.MODELS[a.name]
    if sizes == () and a.image_size is not None:
        sys.exit(f"record_profile: {a.name} takes no image size")
    size = None if sizes == () else (a.image_size or default_size)
    if a.export:
        os.makedirs(a.export, exist_ok=True)
        print(export_models.export(a.name, "train", a.export,
                                   export_models.OPSET, size))
    torch.manual_seed(0)
    model, example = build(size)
    batch = a.batch or (8 if size and size >= 224 else 32)
    rec = Recorder(model, a.bucket)
    train(a.name, model, example, a.steps, batch, rec, size)
    rec.write(a.out, a.name)
    print(a.out)


if __name__ == "__main__":
    main()
