"""PyTorch optimisers that communicate through qoda's compressed collectives.

    import qoda.torch
    opt = qoda.torch.QODA([
        {"params": G.named_parameters(), "name": "generator",
         "schedule": "G.schedule.json"},
        {"params": D.named_parameters(), "name": "critic",
         "schedule": "D.schedule.json"},
    ], lr=..., lr_gamma=..., compressor="layerwise", refit="0,50,200/500")

    def closure():                     # called at the evaluation point
        d_loss, g_loss = losses(G, D, next(batches))
        d_loss.backward(inputs=list(D.parameters()), retain_graph=True)
        g_loss.backward(inputs=list(G.parameters()))
        return d_loss.item(), g_loss.item()

    opt.step(closure)

All parameters of all groups form ONE flat vector and their gradients ONE
vector field (METHOD 1: a GAN's generator and critic gradients stacked).
The closure is called wherever the algorithm evaluates the field: QODA at
X_{t+1/2}, extra-gradient and Extra-Adam twice per step. It must compute the
losses and call backward(); a parameter whose .grad stays None contributes
zeros. After the step the parameters hold the new iterate X_{t+1}; they are
identical on every worker (rank 0's initial values are broadcast at
construction). Buffers (BatchNorm running statistics) are not parameters and
are not synchronised.

Parameters may be given as an nn.Module, an iterable of tensors or of
(name, tensor) pairs, or a list of groups (dicts with "params" and optional
"name" and "schedule"). With a schedule (a qoda-compile schedule.json, a
qoda.schedule.write_schedule file, or a qoda.Schedule), the group's
parameters are matched to the schedule's ONNX names -- which equal
named_parameters() names for a training-mode torch.onnx.export -- and
ordered as the schedule lays them out; any difference is a ValueError
listing the names on each side. With a compiled model library (library=OUT
or a group's "library" key: a qoda-compile -o directory), the schedule is
OUT/schedule.json and the messages are encoded and decoded by
OUT/libqoda_<model>.so (compressor "layerwise", collective "allgather").
"""


import os
import warnings

import numpy as np
import torch

from . import Aggregator, Optimizer as _CppOptimizer, Schedule, communicator

__all__ = ["Optimizer", "QODA", "QODASingle", "QGenX", "ExtraGradient",
           "OptimisticGradient", "SGDA", "Adam", "ExtraAdam",
           "match_schedule"]


def _named(params, group_name):
    """nn.Module / [(name, tensor)] / [tensor] -> [(name, tensor)]."""
    if isinstance(params, torch.nn.Module):
        return list(params.named_parameters())
    if isinstance(params, torch.Tensor):
        raise TypeError(f"group '{group_name}': params must be an iterable "
                        "of tensors, not a single tensor (wrap it in a list)")
    items = list(params)
    named = []
    for i, item in enumerate(items):
        if isinstance(item, tuple) and len(item) == 2 and \
                isinstance(item[0], str):
            named.append(item)
        elif isinstance(item, torch.Tensor):
            named.append((f"param{i}", item))
        else:
            raise TypeError(f"group '{group_name}': element {i} is "
                            f"{type(item).__name__}; expected a tensor or a "
                            "(name, tensor) pair")
    return named


def match_schedule(named, schedule, where="parameters"):
    """Orders [(name, tensor)] as `schedule` lays its parameters out.

    Raises ValueError listing the names only in the model, only in the
    schedule, and the parameters whose shapes differ."""
    sched_params = schedule.params
    by_name = dict(named)
    if len(by_name) != len(named):
        seen, dup = set(), []
        for n, _ in named:
            if n in seen:
                dup.append(n)
            seen.add(n)
        raise ValueError(f"{where}: duplicate parameter names {dup}")
    sched_names = [p["name"] for p in sched_params]
    only_model = sorted(set(by_name) - set(sched_names))
    only_sched = sorted(set(sched_names) - set(by_name))
    shape_diff = [f"{p['name']}: model {list(by_name[p['name']].shape)}, "
                  f"schedule {list(p['shape'])}"
                  for p in sched_params
                  if p["name"] in by_name and
                  list(by_name[p["name"]].shape) != list(p["shape"])]
    if only_model or only_sched or shape_diff:
        lines = [f"{where} do not match the schedule of model "
                 f"'{schedule.model}':"]
        if only_model:
            lines.append(f"  only in the model ({len(only_model)}): "
                         + ", ".join(only_model))
        if only_sched:
            lines.append(f"  only in the schedule ({len(only_sched)}): "
                         + ", ".join(only_sched))
        if shape_diff:
            lines.append("  shapes differ: " + "; ".join(shape_diff))
        lines.append("  The schedule must come from a training-mode export "
                     "of this model: torch.onnx.export(model, x, path, "
                     "training=torch.onnx.TrainingMode.TRAINING, "
                     "do_constant_folding=False) (docs/user-guide.md).")
        raise ValueError("\n".join(lines))
    return [(n, by_name[n]) for n in sched_names]


def _library_dir(group, d):
    """(schedule path, library path) of a qoda-compile output directory."""
    d = str(d)
    sched = os.path.join(d, "schedule.json")
    if not os.path.isfile(sched):
        raise ValueError(f"{group}library '{d}' is not a qoda-compile output "
                         "directory: it has no schedule.json (run "
                         f"qoda-compile MODEL.onnx -o {d})")
    libs = sorted(f for f in os.listdir(d)
                  if f.startswith("libqoda_") and f.endswith(".so"))
    if len(libs) != 1:
        raise ValueError(f"{group}library '{d}' must hold exactly one "
                         f"libqoda_<model>.so (found {libs or 'none'}; run "
                         f"qoda-compile without --emit-only)")
    return sched, os.path.join(d, libs[0])


def _groups(params, schedule, library=None):
    """Normalises the constructor's params/schedule/library into
    [(group name, [(name, tensor)], Schedule or None, library or None)]."""
    if isinstance(params, torch.nn.Module):
        params = [{"params": params}]
    else:
        params = list(params)
        if not params:
            raise ValueError("qoda.torch: the optimizer got no parameters")
        if not isinstance(params[0], dict):
            params = [{"params": params}]
    if schedule is not None:
        if len(params) != 1:
            raise ValueError("schedule= applies to a single parameter group;"
                             " give each group its own 'schedule' key")
        params = [dict(params[0], schedule=schedule)]
    if library is not None:
        if len(params) != 1:
            raise ValueError("library= applies to a single parameter group;"
                             " give each group its own 'library' key")
        params = [dict(params[0], library=library)]
    out = []
    for i, g in enumerate(params):
        if not isinstance(g, dict):
            raise TypeError("parameter groups must all be dicts when the "
                            "first one is")
        unknown = set(g) - {"params", "name", "schedule", "library"}
        if unknown:
            raise ValueError(f"parameter group {i}: unknown keys "
                             f"{sorted(unknown)} (expected params, name, "
                             "schedule, library)")
        if "params" not in g:
            raise ValueError(f"parameter group {i} has no 'params'")
        name = g.get("name", f"group{i}" if len(params) > 1 else "")
        named = _named(g["params"], name or f"group{i}")
        sched = g.get("schedule")
        lib = None
        if g.get("library") is not None:
            if sched is not None:
                raise ValueError(f"parameter group {i}: give 'schedule' or "
                                 "'library' (whose schedule.json is used), "
                                 "not both")
            sched, lib = _library_dir(f"parameter group {i}: ", g["library"])
        if sched is not None:
            if not isinstance(sched, Schedule):
                sched = Schedule.load(str(sched))
            where = (f"parameters of group '{name}'" if name
                     else "parameters")
            if lib is not None:
                where += f" (compiled library {g['library']})"
            named = match_schedule(named, sched, where)
        prefix = name + "/" if name else ""
        # What the schedule sends each parameter as (for layout()).
        types = {}
        if sched is not None:
            kinds = sched.types
            for sp in sched.params:
                t = kinds[sp["type"]]
                types[sp["name"]] = (f"{t['name']} ({t['kind']}, {t['bits']} bits)"
                                     if t["kind"] == "levels" else
                                     f"{t['name']} ({t['kind']})")
        out.append((name, [(prefix + n, t, types.get(n)) for n, t in named],
                    sched, lib))
    return out


class Optimizer:
    """Base class; `algorithm` is one of qoda.optimizer_names().

    step_sums (QODA only): "workers" sums the K workers' ||Vhat_k||^2 and
    ||Vhat_k - Vhat_k^prev||^2 for the adaptive steps (METHOD 2, from the
    message headers); "aggregate" sums those of the mean instead (what
    collective "scatter-reduce" always does: its workers never see each
    other's vectors). Smaller sums, larger steps: docs/perf.md measures
    both on the WGAN.

    Communication options (identical on every worker):
      library     a qoda-compile output directory (single group; else each
                  group's "library" key): its schedule.json and generated
                  kernels; implies compressor "layerwise"
      compressor  "none" (fp32 all-reduce, the default without a library),
                  "fp16", a global quantizer
                  ("qsgd", "nuqsgd", ...: qoda.compressor_names()) with
                  `bits`, `bucket`, `norm`, or "layerwise" (every group
                  needs a schedule)
      collective  "allgather" (each worker decodes all K messages),
                  "scatter-reduce" (re-quantized reduced chunks), or "auto":
                  picked at construction by the alpha-beta model and a
                  short timing of both (self.aggregator.collective_choice)
      raw_allreduce_min  layer-wise without a compiled library: fp32 and
                  fp16 types whose coordinates put at least this many bytes
                  per worker on the wire go through their own fp32 / fp16
                  all-reduce, smaller ones travel as casts in the messages
                  (an all-reduce costs 2(K-1) latencies); None means 16384
                  (biases and norms ride in the message; 0 all-reduces every
                  fp32/fp16 type, as qoda-bench vi's default). Compiled
                  libraries send every type in their messages and reject it.
      uncompressed_1d  global quantizers: send tensors with at most one
                  dimension (biases, norm scales) through the fp32
                  all-reduce (allgather only)
      refit       layer-wise level re-fitting plan ("0,200,1000,5000/10000",
                  "/50", ...; "@W" after it: fit on the W steps up to
                  each refit, default 10, "@all") or None
      on_nonfinite "stop" (raise qoda.NonFiniteError naming the parameter)
                  or "skip" (drop the step on every worker)
      seed        the quantizers' random key
      broadcast   start from rank 0's parameters (default True)
    """

    def __init__(self, params, algorithm, *, lr, lr_gamma=0.1, q=0.25,
                 step_sums="workers", betas=(0.9, 0.999), eps=1e-8,
                 schedule=None,
                 library=None, compressor=None, bits=4, bucket=1024, norm="l2",
                 collective="allgather", raw_allreduce_min=None,
                 uncompressed_1d=True, refit=None,
                 on_nonfinite="stop", seed=0, broadcast=True):
        groups = _groups(params, schedule, library)
        libraries = [lib for _, _, _, lib in groups if lib is not None]
        if libraries and len(libraries) != len(groups):
            raise ValueError("give a compiled library for every parameter "
                             "group or for none")
        if compressor is None:
            compressor = "layerwise" if libraries else "none"
        elif libraries and compressor != "layerwise":
            raise ValueError("a compiled model library (library=) runs "
                             "compressor 'layerwise', not "
                             f"'{compressor}'")
        self._params = []
        seen = set()
        self._sent_as = []
        for _, named, _, _ in groups:
            for n, t, sent_as in named:
                if id(t) in seen:
                    raise ValueError(f"parameter '{n}' appears twice")
                seen.add(id(t))
                if t.dtype != torch.float32:
                    raise TypeError(f"parameter '{n}' is {t.dtype}; qoda "
                                    "optimises float32 parameters")
                self._params.append((n, t))
                if compressor == "layerwise":
                    self._sent_as.append(sent_as)
                elif compressor == "none" or (uncompressed_1d and
                                              t.dim() <= 1):
                    self._sent_as.append("fp32")
                else:
                    self._sent_as.append(
                        compressor + ("" if compressor in ("fp16", "fp32",
                                                           "q-fp16", "bf16")
                                      else f" ({bits} bits)"))
        schedules = [s for _, _, s, _ in groups if s is not None]
        if compressor == "layerwise":
            missing = [g or "(unnamed)" for g, _, s, _ in groups if s is None]
            if missing:
                raise ValueError("compressor 'layerwise' needs a schedule "
                                 "for every group; none for: "
                                 + ", ".join(missing))
        layout = [(n, t.numel(),
                   not (uncompressed_1d and t.dim() <= 1))
                  for n, t in self._params]
        self.comm = communicator()
        self.aggregator = Aggregator(
            self.comm, layout, compressor=compressor, bits=bits,
            bucket=bucket, norm=norm, schedules=schedules,
            collective=collective, seed=seed,
            refit="none" if refit is None else refit,
            on_nonfinite=on_nonfinite, libraries=libraries,
            raw_allreduce_min=raw_allreduce_min)
        self.dim = sum(t.numel() for _, t in self._params)
        self._offsets = []
        off = 0
        for _, t in self._params:
            self._offsets.append(off)
            off += t.numel()
        # One flat torch buffer with a numpy view: the iterate goes numpy ->
        # buffer -> parameters (copy_ also handles non-CPU parameters).
        self._flat = torch.empty(self.dim, dtype=torch.float32)
        self._flat_np = self._flat.numpy()
        with torch.no_grad():
            for (_, t), o in zip(self._params, self._offsets):
                self._flat[o:o + t.numel()].copy_(t.reshape(-1))
        if broadcast:
            self.comm.broadcast(self._flat_np, 0)
            self._load_params()
        self._opt = _CppOptimizer(algorithm, self._flat_np, self.aggregator,
                                  lr=lr, lr_gamma=lr_gamma, q=q,
                                  beta1=betas[0], beta2=betas[1], eps=eps,
                                  step_sums=step_sums)
        self.algorithm = algorithm
        self.evaluations = 0

    # -- parameters <-> flat vectors ---------------------------------------
    def _load_params(self):
        with torch.no_grad():
            for (_, t), o in zip(self._params, self._offsets):
                t.copy_(self._flat[o:o + t.numel()].view_as(t))

    def _set_point(self, x):
        # Straight from x (the C++ optimiser's read-only view, or a copy of
        # its iterate) into the parameters: no staging copy. torch warns
        # that the view is not writable; the parameters are only copy_'s
        # destination, so nothing writes through it.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            src = torch.from_numpy(x)
        with torch.no_grad():
            for (_, t), o in zip(self._params, self._offsets):
                t.copy_(src[o:o + t.numel()].view_as(t))

    def _grads_into(self, out):
        out_t = torch.from_numpy(out)
        for (_, t), o in zip(self._params, self._offsets):
            dst = out_t[o:o + t.numel()]
            if t.grad is None:
                dst.zero_()
            else:
                dst.copy_(t.grad.reshape(-1))

    @property
    def param_names(self):
        """The flat layout's parameter names, in order."""
        return [n for n, _ in self._params]

    def layout(self):
        """[(name, numel, how it is sent)] in layout order: the schedule's
        type for layerwise, else the compressor, or fp32 for what goes
        through the fp32 all-reduce."""
        return [(n, t.numel(), a)
                for (n, t), a in zip(self._params, self._sent_as)]

    def zero_grad(self, set_to_none=True):
        for _, t in self._params:
            if set_to_none:
                t.grad = None
            elif t.grad is not None:
                t.grad.zero_()

    # -- the step --------------------------------------------------------
    def step(self, closure):
        """One optimiser step. `closure()` is called at every evaluation
        point with gradients cleared; it computes the losses and calls
        backward(). Returns what the last closure call returned."""
        if closure is None:
            raise ValueError("qoda optimizers need a closure: the algorithm "
                             "chooses where the gradients are evaluated")
        result = []

        def oracle(x, out):
            self._set_point(x)
            self.zero_grad()
            with torch.enable_grad():
                result.append(closure())
            self._grads_into(out)
            self.evaluations += 1

        self._opt.step(oracle)
        self._set_point(self._opt._x_view())
        return result[-1] if result else None

    # -- state -------------------------------------------------------------
    @property
    def steps(self):
        return self._opt.steps

    @property
    def x(self):
        """A copy of the iterate as a flat float32 numpy array."""
        return self._opt.x

    def stats(self):
        """steps, skipped_steps, aggregator_calls, bytes_sent, collectives,
        bits_per_coord, refits, compressor, plus collective (the one run),
        dim and evaluations."""
        s = self._opt.stats()
        s["collective"] = self.aggregator.collective
        s["dim"] = self.dim
        s["evaluations"] = self.evaluations
        s["algorithm"] = self.algorithm
        return s

    def save(self, path):
        """Checkpoint of the optimiser's complete state (parameters are the
        iterate, so they are restored by load() too)."""
        self._opt.save(str(path))

    def load(self, path):
        self._opt.load(str(path))
        self._set_point(self._opt._x_view())


def _algo(name, doc):
    class _Opt(Optimizer):
        def __init__(self, params, lr, **kw):
            super().__init__(params, name, lr=lr, **kw)
    _Opt.__doc__ = doc
    return _Opt


QODA = _algo("qoda", "QODA (METHOD 2), adaptive steps with learning-rate "
             "separation: lr is lr_e (dual averaging), lr_gamma the "
             "optimistic step, q in (0, 1/4].")
QODASingle = _algo("qoda-single", "QODA with the single step-size rule "
                   "lr / sqrt(1 + sum ||Vhat - Vhat_prev||^2).")
QGenX = _algo("qgenx", "Q-GenX: quantized dual extrapolation, two "
              "collectives per step.")
ExtraGradient = _algo("eg", "Extra-gradient, constant lr, two collectives.")
OptimisticGradient = _algo("og", "Optimistic gradient, constant lr.")
SGDA = _algo("sgda", "Simultaneous gradient descent(-ascent): x -= lr V(x).")
Adam = _algo("adam", "Adam on the vector field (betas, eps).")
ExtraAdam = _algo("extra-adam", "Extra-Adam (Gidel et al.), two "
                  "collectives per step.")
for _cls, _n in [(QODA, "QODA"), (QODASingle, "QODASingle"), (QGenX, "QGenX"),
                 (ExtraGradient, "ExtraGradient"),
                 (OptimisticGradient, "OptimisticGradient"), (SGDA, "SGDA"),
                 (Adam, "Adam"), (ExtraAdam, "ExtraAdam")]:
    _cls.__name__ = _cls.__qualname__ = _n
del _cls, _n
