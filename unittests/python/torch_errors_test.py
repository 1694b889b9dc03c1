#!/usr/bin/python3
"""Bad input to qoda and qoda.torch is a clear error (one worker, no
qoda-run): each case checks the exception type and that the message names
what is wrong."""
import os
import sys
import tempfile

import numpy as np
import torch

import qoda
import qoda.schedule
import qoda.torch

torch.set_num_threads(1)
failures = []


def expect(exc, needles, fn):
    try:
        fn()
    except exc as e:
        msg = str(e)
        missing = [n for n in needles if n not in msg]
        if missing:
            failures.append(f"{exc.__name__} message lacks {missing}: {msg}")
        return msg
    except Exception as e:  # the wrong kind of error
        failures.append(f"expected {exc.__name__} with {needles}, got "
                        f"{type(e).__name__}: {e}")
        return None
    failures.append(f"expected {exc.__name__} with {needles}, nothing raised")


net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(),
                          torch.nn.Linear(16, 2))
tmp = tempfile.mkdtemp(prefix="qoda-py-err-")

# A schedule of another model: names differ on both sides.
other = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(),
                            torch.nn.Linear(16, 2), torch.nn.Linear(2, 2))
other_path = qoda.schedule.write_schedule(
    os.path.join(tmp, "other.json"), "other",
    [(n, p.shape) for n, p in other.named_parameters()])
msg = expect(ValueError, ["only in the schedule (2): 3.bias, 3.weight",
                          "training=torch.onnx.TrainingMode.TRAINING"],
             lambda: qoda.torch.QODA(net.named_parameters(), lr=0.1,
                                     schedule=other_path,
                                     compressor="layerwise"))
renamed = [("layers." + n, p.shape) for n, p in net.named_parameters()]
renamed_path = qoda.schedule.write_schedule(
    os.path.join(tmp, "renamed.json"), "renamed", renamed)
expect(ValueError, ["only in the model (4): 0.bias, 0.weight, 2.bias, "
                    "2.weight", "only in the schedule (4): layers.0.bias"],
       lambda: qoda.torch.QODA(net, lr=0.1, schedule=renamed_path,
                               compressor="layerwise"))
# Same names, one shape differs.
shapes = [(n, p.shape) for n, p in net.named_parameters()]
shapes[3] = ("2.bias", [3])
shape_path = qoda.schedule.write_schedule(
    os.path.join(tmp, "shape.json"), "shape", shapes)
expect(ValueError, ["shapes differ: 2.bias: model [2], schedule [3]"],
       lambda: qoda.torch.QODA(net, lr=0.1, schedule=shape_path,
                               compressor="layerwise"))
# A group name appears in the message, for GANs with two models.
expect(ValueError, ["parameters of group 'critic' do not match"],
       lambda: qoda.torch.QODA(
           [{"params": net, "name": "critic", "schedule": other_path}],
           lr=0.1, compressor="layerwise"))

# Files the schedule reader refuses.
expect(ValueError, ["missing.json"],
       lambda: qoda.Schedule.load(os.path.join(tmp, "missing.json")))
bad = os.path.join(tmp, "bad.json")
with open(bad, "w") as f:
    f.write('{"format": "qoda-schedule", "version": 9}')
expect(ValueError, ["version"], lambda: qoda.Schedule.load(bad))

# Options.
ok_path = qoda.schedule.write_schedule(
    os.path.join(tmp, "ok.json"), "ok",
    [(n, p.shape) for n, p in net.named_parameters()])
expect(ValueError, ["needs a schedule for every group; none for: g1, g2"],
       lambda: qoda.torch.QODA(
           [{"params": net[0], "name": "g1", "schedule": None},
            {"params": net[2], "name": "g2"}], lr=0.1,
           compressor="layerwise"))
expect(ValueError, ["unknown compressor 'zip'", "qsgd", "layerwise"],
       lambda: qoda.torch.QODA(net, lr=0.1, compressor="zip"))
expect(ValueError, ["unknown collective 'ring'", "auto"],
       lambda: qoda.torch.QODA(net, lr=0.1, compressor="qsgd",
                               collective="ring"))
expect(ValueError, ["a schedule applies to compressor 'layerwise' only"],
       lambda: qoda.torch.QODA(net, lr=0.1, compressor="qsgd",
                               schedule=ok_path))
expect(ValueError, ["re-fitting applies to compressor 'layerwise' only"],
       lambda: qoda.torch.QODA(net, lr=0.1, compressor="qsgd", refit="/5"))
expect(ValueError, ["bits must be 1..8"],
       lambda: qoda.torch.QODA(net, lr=0.1, compressor="qsgd", bits=12))
expect(ValueError, ["unknown norm 'l3'"],
       lambda: qoda.torch.QODA(net, lr=0.1, compressor="qsgd", norm="l3"))
expect(ValueError, ["on_nonfinite"],
       lambda: qoda.torch.QODA(net, lr=0.1, on_nonfinite="ignore"))
expect(ValueError, ["scatter-reduce' compresses every coordinate"],
       lambda: qoda.torch.QODA(net, lr=0.1, compressor="qsgd",
                               collective="scatter-reduce"))
expect(ValueError, ["raw_allreduce_min routes the fp32/fp16 types of "
                    "compressor 'layerwise' only, not 'qsgd'"],
       lambda: qoda.torch.QODA(net, lr=0.1, compressor="qsgd",
                               raw_allreduce_min=0))
expect(ValueError, ["raw_allreduce_min expects a number of bytes >= 0, "
                    "got -1"],
       lambda: qoda.torch.QODA(net, lr=0.1, schedule=ok_path,
                               compressor="layerwise", raw_allreduce_min=-1))
# Compiled libraries fix their message layout: checked before the library
# is opened, so a path that does not exist is enough.
expect(ValueError, ["raw_allreduce_min does not apply to compiled model "
                    "libraries"],
       lambda: qoda.Aggregator(
           qoda.communicator(), [(n, p.numel(), True)
                                 for n, p in net.named_parameters()],
           compressor="layerwise", schedules=[qoda.Schedule.load(ok_path)],
           libraries=[os.path.join(tmp, "libqoda_none.so")],
           raw_allreduce_min=0))
expect(ValueError, ["unknown optimizer", "qoda"],
       lambda: qoda.torch.Optimizer(net, "rmsprop", lr=0.1))
expect(ValueError, ["unknown keys ['lr']"],
       lambda: qoda.torch.QODA([{"params": net, "lr": 1}], lr=0.1))
expect(ValueError, ["appears twice"],
       lambda: qoda.torch.QODA([net[0].weight, net[0].weight], lr=0.1))
expect(TypeError, ["'param0' is torch.float64"],
       lambda: qoda.torch.QODA([torch.zeros(3, dtype=torch.float64)], lr=0.1))
expect(ValueError, ["step sums 'mean'", "'workers' or 'aggregate'"],
       lambda: qoda.torch.QODA(net, lr=0.1, step_sums="mean"))
expect(ValueError, ["apply to qoda's adaptive rule only", "adam"],
       lambda: qoda.torch.Adam(net, lr=0.1, step_sums="aggregate"))
expect(ValueError, ["no parameters"], lambda: qoda.torch.QODA([], lr=0.1))
expect(ValueError, ["no coordinates"],
       lambda: qoda.torch.QODA([torch.zeros(0)], lr=0.1))

# The closure: required; its exceptions come through unchanged.
opt = qoda.torch.QODA(net, lr=0.1)
expect(ValueError, ["need a closure"], lambda: opt.step(None))


class Boom(Exception):
    pass


def closure():
    raise Boom("from the closure")


expect(Boom, ["from the closure"], lambda: opt.step(closure))
# NaN in a gradient: named by parameter (Stop policy), or the step skipped.
x = torch.randn(4, 8)


def nan_closure():
    net(x).sum().backward()
    net[2].bias.grad[1] = float("nan")


opt = qoda.torch.QODA(net, lr=0.1)
expect(qoda.NonFiniteError, ["2.bias", "element 1"],
       lambda: opt.step(nan_closure))
opt = qoda.torch.QODA(net, lr=0.1, on_nonfinite="skip")
before = opt.x
opt.step(nan_closure)
if opt.stats()["skipped_steps"] != 1 or not np.array_equal(before, opt.x):
    failures.append(f"skip policy: {opt.stats()}")

# Checkpoints of another optimiser or another size.
ck = os.path.join(tmp, "ck.bin")
qoda.torch.QODA(net, lr=0.1).save(ck)
expect(RuntimeError, ["ck.bin"],
       lambda: qoda.torch.Adam(net, lr=0.1).load(ck))
expect(RuntimeError, ["ck.bin", "coordinates"],
       lambda: qoda.torch.QODA(net[0], lr=0.1).load(ck))
expect(RuntimeError, ["not a qoda Python checkpoint"],
       lambda: qoda.torch.QODA(net, lr=0.1).load(bad))

# layout(): what each parameter is sent as.
lay = qoda.torch.QODA(net, lr=0.1, compressor="qsgd", bits=3).layout()
if lay != [("0.weight", 128, "qsgd (3 bits)"), ("0.bias", 16, "fp32"),
           ("2.weight", 32, "qsgd (3 bits)"), ("2.bias", 2, "fp32")]:
    failures.append(f"qsgd layout {lay}")
lay = qoda.torch.QODA(net, lr=0.1, compressor="layerwise", schedule=ok_path,
                      ).layout()
if [a for _, _, a in lay] != ["small (fp32)"] * 4:  # all below min_numel
    failures.append(f"layerwise layout {lay}")
lay = qoda.torch.QODA(net, lr=0.1).layout()
if [a for _, _, a in lay] != ["fp32"] * 4:
    failures.append(f"uncompressed layout {lay}")

# Raw binding: wrong array types.
comm = qoda.communicator()
expect(TypeError, ["float32"],
       lambda: comm.broadcast(np.zeros(3, dtype=np.float64), 0))
expect(ValueError, ["root 3"],
       lambda: comm.broadcast(np.zeros(3, dtype=np.float32), 3))
agg = qoda.Aggregator(comm, [("a", 4, True)])
expect(ValueError, ["4 coordinates, got 5"],
       lambda: qoda.Optimizer("qoda", np.zeros(5, np.float32), agg))

if failures:
    sys.exit("\n".join(failures))
print("ok")
