#!/usr/bin/python3
"""qoda.torch under qoda-run (every rank runs this script).

A two-player game written as two torch modules, like a GAN: the "generator"
G (a weight and a bias) minimises f, the "critic" D maximises it:

    f(x, y) = mu/2 ||x||^2 + <y, B x - c_k> - mu/2 ||y||^2

with x = G's parameters, y = D's, c_k = c + a rank-dependent offset + noise
drawn per evaluation. The closure computes G's loss f and D's loss -f and
calls backward on each model's own parameters, so the vector field is
V = (mu x + B^T y, -(B x - c_k) + mu y).

Checks, for every algorithm:
  * qoda.torch gives the same iterates as the C++ optimiser (qoda.Optimizer)
    run on the same problem with the field computed analytically in numpy;
  * the closure sees the algorithm's evaluation points (QODA: X_{t+1/2}),
    the same points the C++ optimiser hands its oracle;
  * parameters are identical on every rank (uncompressed, qsgd with 1-D
    tensors uncompressed, layer-wise from a schedule with level re-fitting,
    scatter-reduce);
  * bytes and bits per coordinate are reported, and compressed runs send
    fewer bits than the fp32 all-reduce;
  * collective "auto" picks the same collective on every rank and runs
    exactly like that collective named;
  * a checkpoint restores the run bit for bit.
"""
import json
import os
import sys
import tempfile

import numpy as np
import torch

import qoda
import qoda.schedule
import qoda.torch

torch.set_num_threads(1)
comm = qoda.communicator()
RANK, K = comm.rank, comm.size
MU = 0.1
STEPS = 12


class Generator(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(20, 30))
        self.bias = torch.nn.Parameter(torch.randn(30))


class Critic(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.u = torch.nn.Parameter(torch.randn(30, 21))


gen = torch.Generator().manual_seed(7)
N = 630  # coordinates of each player
B = torch.randn(N, N, generator=gen) / (2 * N ** 0.5)
C = torch.randn(N, generator=gen)


def c_at(evaluation):
    """c_k: rank-dependent and noisy, the same in both implementations."""
    g = torch.Generator().manual_seed(1000 * evaluation + RANK)
    return C + 0.5 * (RANK - (K - 1) / 2) + 0.1 * torch.randn(N, generator=g)


def models(seed=3):
    # Different initial values per rank: the optimiser must broadcast rank 0's.
    torch.manual_seed(seed + 100 * RANK)
    return Generator(), Critic()


def x0_of(seed=3):
    torch.manual_seed(seed)  # rank 0's values
    G, D = Generator(), Critic()
    return torch.cat([G.weight.reshape(-1), G.bias, D.u.reshape(-1)]).detach()


def torch_run(algorithm, steps, points=None, ckpt=None, **kw):
    G, D = models()
    opt = getattr(qoda.torch, algorithm)(
        [{"params": G.named_parameters(), "name": "G"},
         {"params": D.named_parameters(), "name": "D"}], **kw)
    evals = [0]

    def closure():
        x = torch.cat([G.weight.reshape(-1), G.bias])
        y = D.u.reshape(-1)
        if points is not None:
            points.append(torch.cat([x, y]).detach().numpy().copy())
        c = c_at(evals[0])
        evals[0] += 1
        f = MU / 2 * x.dot(x) + y.dot(B @ x - c) - MU / 2 * y.dot(y)
        f.backward(inputs=list(G.parameters()), retain_graph=True)
        (-f).backward(inputs=list(D.parameters()))
        return f.item()

    for t in range(steps):
        if ckpt and t == ckpt[0]:
            opt.save(ckpt[1])
        opt.step(closure)
    return opt, (G, D), closure, evals


def cpp_run(name, steps, points, **kw):
    """The C++ optimiser on the same field, computed analytically."""
    agg = qoda.Aggregator(comm, [("x", N, True), ("y", N, True)])
    opt = qoda.Optimizer(name, x0_of().numpy(), agg, **kw)
    Bn, evals = B.double().numpy(), [0]

    def oracle(z, out):
        points.append(np.array(z))
        x, y = z[:N].astype(np.float64), z[N:].astype(np.float64)
        c = c_at(evals[0]).double().numpy()
        evals[0] += 1
        out[:N] = MU * x + Bn.T @ y
        out[N:] = -(Bn @ x - c) + MU * y

    for _ in range(steps):
        opt.step(oracle)
    return opt


def same_on_all_ranks(x, what):
    ref = np.array(x, dtype=np.float32)
    comm.broadcast(ref, 0)
    if not np.array_equal(ref, x):
        sys.exit(f"rank {RANK}: {what}: parameters differ from rank 0's")


ALGOS = {  # qoda.torch class, qoda.Optimizer name, hyper-parameters
    "QODA": ("qoda", dict(lr=0.3, lr_gamma=0.3)),
    "QODASingle": ("qoda-single", dict(lr=0.3)),
    "QGenX": ("qgenx", dict(lr=0.3)),
    "ExtraGradient": ("eg", dict(lr=0.1)),
    "OptimisticGradient": ("og", dict(lr=0.1)),
    "SGDA": ("sgda", dict(lr=0.05)),
    "Adam": ("adam", dict(lr=0.05)),
    "ExtraAdam": ("extra-adam", dict(lr=0.05)),
}

for cls, (name, hp) in ALGOS.items():
    tp, cp = [], []
    opt, _, _, _ = torch_run(cls, STEPS, tp, **hp)
    ref = cpp_run(name, STEPS, cp, **hp)
    if len(tp) != len(cp) or len(tp) != STEPS * ref.collectives_per_step:
        sys.exit(f"{cls}: {len(tp)} closure calls, C++ oracle {len(cp)}")
    for i, (a, b) in enumerate(zip(tp, cp)):
        if not np.allclose(a, b, rtol=1e-4, atol=1e-5):
            sys.exit(f"{cls}: evaluation point {i} differs from the C++ "
                     f"optimiser's: max |diff| {np.abs(a - b).max()}")
    if not np.allclose(opt.x, ref.x, rtol=1e-4, atol=1e-5):
        sys.exit(f"{cls}: final iterate differs from the C++ optimiser's: "
                 f"max |diff| {np.abs(opt.x - ref.x).max()}")
    same_on_all_ranks(opt.x, cls)
    s = opt.stats()
    if s["steps"] != STEPS or s["aggregator_calls"] != STEPS * ref.collectives_per_step:
        sys.exit(f"{cls}: stats {s}")
    if RANK == 0:
        print(f"{cls}: matches the C++ optimiser over {len(tp)} evaluations; "
              f"{s['bits_per_coord']:.1f} bits/coord")

# QODA evaluates at X_{t+1/2} = X_t - gamma_t Vhat_{t-1/2}, which differs
# from X_t after the first step: the closure must see those points.
tp = []
opt, (G, D), _, _ = torch_run("QODA", 3, tp, lr=0.3, lr_gamma=0.3)
if np.allclose(tp[2], opt.x) or np.allclose(tp[1], tp[2]):
    sys.exit("QODA: the closure did not see distinct half-step points")
params_now = torch.cat([G.weight.reshape(-1), G.bias, D.u.reshape(-1)])
if not np.array_equal(params_now.detach().numpy(), opt.x):
    sys.exit("after step() the parameters must hold the iterate X_{t+1}")
# The copy-free view step() reads the iterate through: the same values,
# read-only, and it follows the iterate.
vopt, _, vclosure, _ = torch_run("QODA", 2, lr=0.3, lr_gamma=0.3)
view = vopt._opt._x_view()
if not np.array_equal(view, vopt.x) or view.flags.writeable:
    sys.exit("_x_view must be a read-only view of the iterate")
before = vopt.x
vopt.step(vclosure)
if np.array_equal(view, before) or not np.array_equal(view, vopt.x):
    sys.exit("_x_view must show the iterate after a step")

# Compressed: identical parameters on every rank, fewer bits than fp32.
tmp = tempfile.mkdtemp(prefix=f"qoda-py-{RANK}-")
G, D = models()
gs = qoda.schedule.write_schedule(
    os.path.join(tmp, "G.json"), "G",
    [(n, p.shape) for n, p in G.named_parameters()], bits=3, bucket=64,
    min_numel=64)
ds = qoda.schedule.write_schedule(
    os.path.join(tmp, "D.json"), "D",
    [(n, p.shape) for n, p in D.named_parameters()], bits=2, bucket=64,
    min_numel=64)
fp32_bits = torch_run("QODA", 4, lr=0.3, lr_gamma=0.3)[0].stats()["bits_per_coord"]
runs = {
    "qsgd": dict(compressor="qsgd", bits=4, bucket=64),
    "qsgd/scatter-reduce": dict(compressor="qsgd", bits=4, bucket=64,
                                collective="scatter-reduce",
                                uncompressed_1d=False),
    "fp16": dict(compressor="fp16"),
}
for label, kw in runs.items():
    opt = torch_run("QODA", STEPS, lr=0.3, lr_gamma=0.3, seed=5, **kw)[0]
    same_on_all_ranks(opt.x, label)
    bits = opt.stats()["bits_per_coord"]
    if not 0 < bits < fp32_bits:
        sys.exit(f"{label}: {bits} bits/coord, fp32 sends {fp32_bits}")
    if RANK == 0:
        print(f"{label}: identical on all ranks; {bits:.2f} bits/coord "
              f"(fp32 all-reduce {fp32_bits:.1f})")


def layerwise_run(steps, ckpt=None, refit="0,3/4", g_schedule=None, **kw):
    G, D = models()
    opt = qoda.torch.QODA(
        [{"params": G, "name": "G", "schedule": g_schedule or gs},
         {"params": D.named_parameters(), "name": "D",
          "schedule": qoda.Schedule.load(ds)}],
        lr=0.3, lr_gamma=0.3, compressor="layerwise", refit=refit, seed=9,
        **kw)
    evals = [0]

    def closure():
        x = torch.cat([G.weight.reshape(-1), G.bias])
        y = D.u.reshape(-1)
        c = c_at(evals[0])
        evals[0] += 1
        f = MU / 2 * x.dot(x) + y.dot(B @ x - c) - MU / 2 * y.dot(y)
        f.backward(inputs=list(G.parameters()), retain_graph=True)
        (-f).backward(inputs=list(D.parameters()))

    for t in range(steps):
        if ckpt and t == ckpt[0]:
            opt.save(ckpt[1])
        opt.step(closure)
    return opt, closure, evals


# Level re-fitting merges histograms across ranks (real traffic, counted),
# so the bits are compared on a run without it.
opt, _, _ = layerwise_run(STEPS)
s = opt.stats()
same_on_all_ranks(opt.x, "layerwise with refits")
if opt.param_names != ["G/weight", "G/bias", "D/u"]:
    sys.exit(f"layout order {opt.param_names}")
if s["refits"] != 4:
    sys.exit(f"layerwise: expected refits at steps 0, 4, 8, 12: {s}")
plain = layerwise_run(STEPS, refit=None)[0].stats()
if plain["refits"] != 0 or not 0 < plain["bits_per_coord"] < fp32_bits:
    sys.exit(f"layerwise stats {plain}")
if RANK == 0:
    print(f"layerwise: identical on all ranks; {plain['bits_per_coord']:.2f} "
          f"bits/coord without refits, {s['bits_per_coord']:.2f} with "
          f"{s['refits']} refits in {STEPS} steps")

# collective "auto": the model's predictions and the calibration's timings
# are rank 0's on every rank, so the pick is the same everywhere; the run
# then equals one that names the picked collective (the scratch aggregators
# timed at construction leave no trace). Compressor none reports the
# all-reduce and no choice.
auto = layerwise_run(STEPS, refit=None, collective="auto")[0]
choice = auto.aggregator.collective_choice
picked = auto.aggregator.collective
if (choice is None or choice["collective"] != picked
        or picked not in ("allgather", "scatter-reduce")
        or auto.stats()["collective"] != picked):
    sys.exit(f"auto: picked {picked}, choice {choice}")
for key in ("predicted_allgather_s", "predicted_scatter_reduce_s",
            "measured_allgather_s", "measured_scatter_reduce_s",
            "encode_s_per_coord", "decode_s_per_coord"):
    if not choice[key] > 0:
        sys.exit(f"auto: {key} = {choice[key]} (expected a positive time)")
if not choice["calibrated"] or choice["model_collective"] not in (
        "allgather", "scatter-reduce"):
    sys.exit(f"auto: {choice}")
timings = np.array([choice["measured_allgather_s"],
                    choice["measured_scatter_reduce_s"],
                    choice["predicted_allgather_s"],
                    float(picked == "scatter-reduce")], dtype=np.float32)
same_on_all_ranks(timings, "auto: the choice and its timings")
named = layerwise_run(STEPS, refit=None, collective=picked)[0]
if not np.array_equal(auto.x, named.x):
    sys.exit(f"auto: the run differs from collective='{picked}' named")
# qsgd with 1-D tensors uncompressed cannot run (b): auto says so and runs (a).
sr_less = torch_run("QODA", 1, lr=0.3, lr_gamma=0.3, compressor="qsgd",
                    collective="auto")[0]
note = sr_less.aggregator.collective_choice["note"]
if (sr_less.aggregator.collective != "allgather"
        or "compresses every coordinate" not in note):
    sys.exit(f"auto without (b): {sr_less.aggregator.collective_choice}")
plain_opt = torch_run("QODA", 1, lr=0.3, lr_gamma=0.3)[0]
if (plain_opt.aggregator.collective != "allreduce"
        or plain_opt.aggregator.collective_choice is not None):
    sys.exit("compressor none: expected collective 'allreduce', no choice")
if RANK == 0:
    print(f"auto: picked {picked} on every rank (model (a) "
          f"{1e3 * choice['predicted_allgather_s']:.3f} ms, (b) "
          f"{1e3 * choice['predicted_scatter_reduce_s']:.3f} ms; measured "
          f"(a) {1e3 * choice['measured_allgather_s']:.3f} ms, (b) "
          f"{1e3 * choice['measured_scatter_reduce_s']:.3f} ms); same run "
          "as the named collective")

# Checkpoint at step 5 of 12, resume, finish: bit for bit the same.
path = os.path.join(tmp, "ckpt.bin")
full, _, _ = layerwise_run(STEPS, ckpt=(5, path))
resumed, closure, evals = layerwise_run(0)
resumed.load(path)
evals[0] = 5  # the data stream position is the caller's state
for _ in range(5, STEPS):
    resumed.step(closure)
if not np.array_equal(full.x, resumed.x):
    sys.exit("resumed run differs from the uninterrupted one")
if RANK == 0:
    print("checkpoint: resumed run equals the uninterrupted one bit for bit")
# fp16 types (G's bias as fp16: 30 coordinates, 60 bytes per worker) go
# through Gloo's fp16 all-reduce when raw_allreduce_min is at most 60, and
# travel as casts in the message above that and at the default (None: 16
# KiB): exactly one collective more per aggregation when routed, in (a)
# and (b).
with open(gs) as f:
    doc = json.load(f)
for t in doc["types"]:
    if t["kind"] == "fp32":
        t.update(kind="fp16", bits=16)
if [t["kind"] for t in doc["types"]].count("fp16") != 1:
    sys.exit(f"G's schedule has no fp32 type to turn into fp16: {doc}")
gs16 = os.path.join(tmp, "G16.json")
with open(gs16, "w") as f:
    json.dump(doc, f)
for coll in ("allgather", "scatter-reduce"):
    calls = {}
    for label, m in (("default", None), ("60", 60), ("61", 61)):
        opt = layerwise_run(STEPS, refit=None, g_schedule=gs16,
                            collective=coll, raw_allreduce_min=m)[0]
        same_on_all_ranks(opt.x, f"fp16 {coll} raw_allreduce_min={label}")
        st = opt.stats()
        calls[label] = (st["aggregator_calls"], st["collectives"])
    n = calls["61"][0]
    want = {"default": calls["61"][1], "60": calls["61"][1] + n}
    if n <= 0 or any(calls[k] != (n, want[k]) for k in want):
        sys.exit(f"fp16 {coll}: (aggregations, collectives) {calls}: the fp16 "
                 "all-reduce should add one collective per aggregation at "
                 "raw_allreduce_min 60, none at 61 and None (16 KiB)")
    if RANK == 0:
        print(f"fp16 {coll}: all-reduced at raw_allreduce_min 60 (one "
              f"collective more per aggregation), in the message at 61 and "
              f"at the default")
print(f"rank {RANK}: ok")
