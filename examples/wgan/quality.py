"""Quality of generated Fashion-MNIST images, computable on a CPU.

* Frechet distance (FD) between Gaussians fitted to features of real and
  generated images, in the 64-D penultimate layer of a small Fashion-MNIST
  classifier -- FID's construction with a classifier trained here, once,
  and cached (Inception is neither available nor sensible for 28x28).
* Sliced Wasserstein distance (SWD) on pixels: the mean over random unit
  directions of the 1-D Wasserstein-2 distance of the projections; needs
  no model at all.

Lower is better for both; 0 for identical distributions.
"""

import copy
import hashlib
import os

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 16, 3, padding=1)
        self.c2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(32 * 7 * 7, 64)
        self.out = nn.Linear(64, 10)

    def features(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        return F.relu(self.fc(x.flatten(1)))

    def forward(self, x):
        return self.out(self.features(x))


def train_classifier(x, y, steps, batch=128, seed=0, log=print):
    torch.manual_seed(seed)
    net = Classifier()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    g = torch.Generator().manual_seed(seed)
    for step in range(steps):
        idx = torch.randint(0, x.shape[0], (batch,), generator=g)
        loss = F.cross_entropy(net(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if log and (step + 1) % 500 == 0:
            log(f"classifier step {step + 1}/{steps}: loss {loss.item():.3f}")
    return net.eval()


def accuracy(net, x, y):
    with torch.no_grad():
        return (net(x).argmax(1) == y).float().mean().item()


def classifier_path(cache_dir, steps):
    key = hashlib.sha1(f"fmnist-classifier-v1-{steps}".encode()).hexdigest()
    return os.path.join(cache_dir, f"classifier-{key[:12]}.pt")


def cached_classifier(cache_dir, train, test, steps=2000, log=print):
    """Trains the classifier once per (steps) and caches its weights; the
    cache key includes the training settings so they never mix."""
    path = classifier_path(cache_dir, steps)
    net = Classifier()
    if os.path.exists(path):
        net.load_state_dict(torch.load(path))
        return net.eval(), path
    os.makedirs(cache_dir, exist_ok=True)
    net = train_classifier(*train, steps=steps, log=log)
    if log:
        log(f"classifier test accuracy {accuracy(net, *test):.3f} "
            f"({steps} steps), cached in {path}")
    tmp = path + f".tmp{os.getpid()}"
    torch.save(net.state_dict(), tmp)
    os.replace(tmp, path)  # atomic: concurrent runs never read half a file
    return net.eval(), path


def feature_stats(net, x, batch=500):
    with torch.no_grad():
        f = torch.cat([net.features(x[i:i + batch])
                       for i in range(0, x.shape[0], batch)]).double().numpy()
    return f.mean(0), np.cov(f, rowvar=False)


def frechet_distance(stats1, stats2):
    """||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2), through
    symmetric eigen-decompositions (stable for singular covariances)."""
    (m1, s1), (m2, s2) = stats1, stats2
    w, v = np.linalg.eigh(s1)
    r1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(r1 @ s2 @ r1), 0, None)).sum()
    return float(((m1 - m2) ** 2).sum() + np.trace(s1) + np.trace(s2)
                 - 2 * cross)


def sliced_wasserstein(a, b, projections=128, seed=0):
    """a, b: [N, ...] with equal N."""
    a, b = a.flatten(1).double(), b.flatten(1).double()
    if a.shape[0] != b.shape[0]:
        raise ValueError("sliced_wasserstein needs equal sample counts")
    g = torch.Generator().manual_seed(seed)
    d = torch.randn(a.shape[1], projections, generator=g, dtype=torch.float64)
    d /= d.norm(dim=0, keepdim=True)
    pa, _ = torch.sort(a @ d, dim=0)
    pb, _ = torch.sort(b @ d, dim=0)
    return float(((pa - pb) ** 2).mean(0).sqrt().mean())


class Evaluator:
    """Compares generated images with a fixed sample of real test images."""

    def __init__(self, net, real, samples=1000, seed=0):
        g = torch.Generator().manual_seed(seed)
        idx = torch.randperm(real.shape[0], generator=g)[:samples]
        self.net, self.real = net, real[idx]
        self.real_stats = feature_stats(net, self.real)
        self.z_seed = seed

    def __call__(self, G):
        g = torch.Generator().manual_seed(self.z_seed + 1)
        z = torch.randn(self.real.shape[0], G.nz, generator=g)
        with torch.no_grad():
            # Training-mode BatchNorm (batch statistics), as in training;
            # on a copy, so rank 0's running statistics are not touched.
            fake = copy.deepcopy(G).train()(z)
        return {"fd": frechet_distance(feature_stats(self.net, fake),
                                       self.real_stats),
                "swd": sliced_wasserstein(fake, self.real)}
