"""WGAN-GP on Fashion-MNIST: data, models, losses, ONNX export.

Shared by train.py (the distributed training run), quality.py (the quality
measures) and the tests. Everything runs on CPU with small default sizes.
"""

import copy
import gzip
import os
import warnings

import numpy as np
import torch
from torch import nn

# Debian's dataset-fashion-mnist (`dpkg -L dataset-fashion-mnist`).
DATA_DIR = "/usr/share/datasets/fashion-mnist"


def load_fashion_mnist(split="train", data_dir=DATA_DIR):
    """Images as float32 [N, 1, 28, 28] in [-1, 1] and int64 labels."""
    prefix = "train" if split == "train" else "t10k"
    img = os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz")
    lab = os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz")
    for p in (img, lab):
        if not os.path.exists(p):
            raise FileNotFoundError(
                f"{p} not found: install Debian's dataset-fashion-mnist "
                "(scripts/setup.sh does) or pass --data-dir")
    with gzip.open(img, "rb") as f:
        raw = f.read()
    if int.from_bytes(raw[:4], "big") != 2051:
        raise ValueError(f"{img} is not an idx3 image file")
    n = int.from_bytes(raw[4:8], "big")
    x = np.frombuffer(raw, np.uint8, offset=16).reshape(n, 1, 28, 28)
    with gzip.open(lab, "rb") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    x = torch.from_numpy(x.astype(np.float32) / 127.5 - 1.0)
    return x, torch.from_numpy(y)


class Generator(nn.Module):
    """DCGAN-style: z [N, nz] -> 28x28 image in [-1, 1]."""

    def __init__(self, nz=32, ngf=32):
        super().__init__()
        self.nz = nz
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, 2 * ngf, 7, 1, 0, bias=False),   # 7x7
            nn.BatchNorm2d(2 * ngf), nn.ReLU(True),
            nn.ConvTranspose2d(2 * ngf, ngf, 4, 2, 1, bias=False),  # 14x14
            nn.BatchNorm2d(ngf), nn.ReLU(True),
            # No bias (as in DCGAN): qoda-compile's importer classifies a
            # 1-element initializer as a scalar constant, so a [1] bias would
            # be missing from the compiled schedule.
            nn.ConvTranspose2d(ngf, 1, 4, 2, 1, bias=False),        # 28x28
            nn.Tanh())

    def forward(self, z):
        return self.main(z.view(z.shape[0], self.nz, 1, 1))


class Critic(nn.Module):
    """Convolutional critic without normalisation (the gradient penalty is
    per sample, so batch statistics would break it)."""

    def __init__(self, ndf=32):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(1, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True),        # 14
            nn.Conv2d(ndf, 2 * ndf, 4, 2, 1), nn.LeakyReLU(0.2, True),  # 7
            # No bias: it cancels in the Wasserstein loss and the gradient
            # penalty (and a [1] bias is missed by qoda-compile, above).
            nn.Conv2d(2 * ndf, 1, 7, 1, 0, bias=False))                 # 1

    def forward(self, x):
        return self.main(x).view(-1)


def gradient_penalty(critic, real, fake):
    """Gulrajani et al.: E[(||grad_x D(x_hat)|| - 1)^2] on random
    interpolates x_hat (create_graph: the penalty is differentiated)."""
    eps = torch.rand(real.shape[0], 1, 1, 1)
    xhat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    g, = torch.autograd.grad(critic(xhat).sum(), xhat, create_graph=True)
    return ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()


def losses(G, D, real, z, gp_weight=10.0):
    """(critic loss, generator loss) at the current parameters: the two
    players' objectives, both minimised, whose gradients stacked are the
    vector field. The critic sees real and fake images in one pass (it has
    no batch statistics, so batching changes nothing), and its scores of
    the fake images serve both losses: the critic's loss is differentiated
    with respect to the critic only, the generator's with respect to the
    generator only (`backward`), as if the fake images were detached for
    the first. Two critic passes fewer than one per term: ~8% of a step."""
    fake = G(z)
    scores = D(torch.cat([real, fake]))
    d_real, d_fake = scores[:real.shape[0]], scores[real.shape[0]:]
    d_loss = d_fake.mean() - d_real.mean() + \
        gp_weight * gradient_penalty(D, real, fake.detach())
    g_loss = -d_fake.mean()
    return d_loss, g_loss


def backward(G, D, d_loss, g_loss):
    """Each player's gradient of its own loss into its parameters' .grad:
    the vector field. The losses share the critic's pass over the fake
    images, so the first backward keeps the graph for the second."""
    d_loss.backward(inputs=list(D.parameters()), retain_graph=True)
    g_loss.backward(inputs=list(G.parameters()))


def export_onnx(G, D, out_dir, opset=14):
    """Both models in training mode without constant folding (the recipe of
    examples/models/export_models.py): ONNX initializer names then equal
    named_parameters() names, which is how qoda matches schedules."""
    os.makedirs(out_dir, exist_ok=True)
    paths = {}
    for name, model, x in (("generator", G, torch.randn(2, G.nz)),
                           ("critic", D, torch.randn(2, 1, 28, 28))):
        path = os.path.join(out_dir, f"{name}.onnx")
        # A copy: tracing in training mode would update BatchNorm statistics.
        # torch warns that it drops the num_batches_tracked update, which
        # is not a parameter: expected, so silenced.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            torch.onnx.export(copy.deepcopy(model).train(), x, path,
                              training=torch.onnx.TrainingMode.TRAINING,
                              do_constant_folding=False, opset_version=opset,
                              input_names=["input"], output_names=["output"])
        paths[name] = path
    return paths
