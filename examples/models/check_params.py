#!/usr/bin/python3
"""Checks qoda's trainable-parameter classification against PyTorch.

    check_params.py INSPECT_JSON PARAMS_JSON [--onnx MODEL.onnx]

INSPECT_JSON is the output of `qoda-inspect MODEL --json`; PARAMS_JSON the
`<name>.params.json` that export_models.py wrote next to MODEL. Prints one
line per difference and exits 1 if there is any, 0 otherwise.

Always checked (both export modes):
  * every entry of "params" has name, shape, dtype, numel, trainable, role,
    reason and consumers; numel is the product of shape; names are unique;
  * a trainable parameter is floating point and has more than one element;
  * no BatchNorm running statistic (a PyTorch buffer) is trainable.

Training-mode exports (params.json "mode": "train", qoda's export recipe):
  * the trainable set equals model.named_parameters() by name and shape;
  * every buffer that the graph still holds is listed and not trainable;
  * a tied parameter (params.json "tied") has at least two consumers.

Eval-mode exports (torch's default: eval mode, constant folding). PyTorch
folds BatchNorm into convolutions (new tensors named onnx::Conv_N),
pre-transposes MatMul weights (onnx::MatMul_N) and merges initializers with
equal values (Identity nodes point to the survivor), so names cannot be
compared. With --onnx MODEL.onnx the rules are:
  * every floating-point initializer that reaches, directly or through
    Identity/Transpose/Cast, a weight slot (Conv/ConvTranspose W and B, Gemm
    B and C, MatMul B, Gather data, BatchNormalization scale and bias) is
    trainable;
  * an initializer whose only uses are BatchNormalization mean/var slots is
    not trainable;
  * a trainable parameter that keeps a PyTorch name has PyTorch's shape;
  * the trainable element count is at most that of named_parameters() (an
    export cannot add trainable state) and at least half of it (folding and
    merging remove BatchNorm vectors and equal copies, not whole layers).
"""

import argparse
import collections
import json
import math
import re
import sys

REQUIRED_FIELDS = ("name", "shape", "dtype", "numel", "trainable", "role",
                   "reason", "consumers")
BUFFER_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")

# (op type, input index) that hold a layer's trainable tensor in ONNX.
WEIGHT_SLOTS = {("Conv", 1), ("Conv", 2), ("ConvTranspose", 1),
                ("ConvTranspose", 2), ("Gemm", 1), ("Gemm", 2),
                ("MatMul", 1), ("Gather", 0), ("BatchNormalization", 1),
                ("BatchNormalization", 2)}
STAT_SLOTS = {("BatchNormalization", 3), ("BatchNormalization", 4)}
PASS_THROUGH = {"Identity", "Transpose", "Cast"}


def is_float(dtype):
    d = str(dtype).lower()
    return ("float" in d or d in ("double", "half")
            or re.fullmatch(r"b?f(16|32|64)", d) is not None)


def n_consumers(consumers):
    return consumers if isinstance(consumers, int) else len(consumers)


def fmt(shape):
    return "[" + ",".join(str(d) for d in shape) + "]"


def check_entries(entries, buffers, problems):
    seen = set()
    for e in entries:
        missing = [f for f in REQUIRED_FIELDS if f not in e]
        if missing:
            problems.append(f"FIELDS {e.get('name', '?')}: missing "
                            f"{', '.join(missing)}")
            continue
        name = e["name"]
        if name in seen:
            problems.append(f"DUPLICATE {name}: listed twice")
        seen.add(name)
        if all(isinstance(d, int) and d >= 0 for d in e["shape"]):
            if math.prod(e["shape"]) != e["numel"]:
                problems.append(f"NUMEL {name}: shape {fmt(e['shape'])} but "
                                f"numel {e['numel']}")
        if e["trainable"]:
            if not is_float(e["dtype"]):
                problems.append(f"DTYPE {name}: trainable but dtype "
                                f"{e['dtype']}")
            if e["numel"] <= 1:
                problems.append(f"SCALAR {name}: trainable but numel "
                                f"{e['numel']}")
            if name in buffers or name.endswith(BUFFER_SUFFIXES):
                problems.append(f"BUFFER {name}: a PyTorch buffer (BatchNorm "
                                f"statistic) is trainable: {e['reason']}")


def check_train(entries, info, problems):
    expected = {n: list(s) for n, s in info["parameters"].items()}
    got = {e["name"]: list(e["shape"]) for e in entries if e["trainable"]}
    for name in expected:
        if name not in got:
            listed = [e for e in entries if e["name"] == name]
            why = (f"listed as not trainable: {listed[0]['reason']}"
                   if listed else "not listed at all")
            problems.append(f"MISSING {name} {fmt(expected[name])}: {why}")
        elif got[name] != expected[name]:
            problems.append(f"SHAPE {name}: PyTorch {fmt(expected[name])}, "
                            f"qoda {fmt(got[name])}")
    by_name = {e["name"]: e for e in entries}
    for name in got:
        if name not in expected:
            problems.append(f"EXTRA {name} {fmt(got[name])}: trainable but not "
                            f"in named_parameters(): {by_name[name]['reason']}")
    # Buffers that the graph still holds must be listed (as non-trainable).
    # num_batches_tracked is dropped by the exporter (its update is removed).
    for name in info["buffers"]:
        if name.endswith("num_batches_tracked"):
            continue
        if name not in by_name:
            problems.append(f"UNLISTED {name}: buffer missing from params")
    for alias, name in info.get("tied", {}).items():
        e = by_name.get(name)
        if e is not None and n_consumers(e["consumers"]) < 2:
            problems.append(f"TIED {name} (also {alias}): "
                            f"{n_consumers(e['consumers'])} consumer(s)")


def terminal_uses(model):
    """Maps each initializer name to the set of (op, input index) where its
    value is used after following Identity/Transpose/Cast chains."""
    consumers = collections.defaultdict(list)
    for node in model.graph.node:
        for i, x in enumerate(node.input):
            consumers[x].append((node, i))
    uses = {}
    for init in model.graph.initializer:
        found, stack, visited = set(), [init.name], set()
        while stack:
            v = stack.pop()
            if v in visited:
                continue
            visited.add(v)
            for node, i in consumers[v]:
                if node.op_type in PASS_THROUGH and i == 0:
                    stack.extend(node.output)
                else:
                    found.add((node.op_type, i))
        uses[init.name] = found
    return uses


def check_eval(entries, info, onnx_path, problems):
    import onnx  # Debian's python3-onnx
    model = onnx.load(onnx_path, load_external_data=False)
    trainable = {e["name"]: e for e in entries if e["trainable"]}
    uses = terminal_uses(model)
    float_types = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16,
                   onnx.TensorProto.DOUBLE, onnx.TensorProto.BFLOAT16}
    for init in model.graph.initializer:
        u = uses[init.name]
        if init.data_type in float_types and u & WEIGHT_SLOTS:
            if init.name not in trainable:
                slots = ", ".join(f"{op}[{i}]" for op, i in sorted(u))
                problems.append(f"MISSING {init.name} {fmt(init.dims)}: "
                                f"feeds {slots} but is not trainable")
        if u and u <= STAT_SLOTS and init.name in trainable:
            problems.append(f"STAT {init.name}: only used as BatchNorm "
                            f"mean/var but trainable")
    expected = info["parameters"]
    for name, e in trainable.items():
        if name in expected and list(e["shape"]) != list(expected[name]):
            problems.append(f"SHAPE {name}: PyTorch {fmt(expected[name])}, "
                            f"qoda {fmt(e['shape'])}")
    total = sum(math.prod(s) for s in expected.values())
    got = sum(e["numel"] for e in trainable.values())
    if not total // 2 <= got <= total:
        problems.append(f"NUMEL total: {got} trainable elements, PyTorch has "
                        f"{total} (expected between {total // 2} and {total})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("inspect_json", help="output of qoda-inspect MODEL --json")
    ap.add_argument("params_json", help="<name>.params.json of export_models.py")
    ap.add_argument("--onnx", help="the model (needed for eval-mode exports)")
    args = ap.parse_args()
    with open(args.params_json) as f:
        info = json.load(f)
    try:
        with open(args.inspect_json) as f:
            report = json.load(f)
    except json.JSONDecodeError as err:
        sys.exit(f"check_params.py: {args.inspect_json} is not JSON: {err}")
    entries = report.get("params")
    if not isinstance(entries, list):
        sys.exit(f"check_params.py: {args.inspect_json} has no 'params' list")

    problems = []
    check_entries(entries, info["buffers"], problems)
    if info["mode"] == "train":
        check_train(entries, info, problems)
    else:
        if not args.onnx:
            sys.exit("check_params.py: an eval-mode export needs --onnx MODEL")
        check_eval(entries, info, args.onnx, problems)

    n_train = sum(1 for e in entries if e.get("trainable"))
    for p in problems:
        print(p)
    if problems:
        print(f"FAIL {info['model']} ({info['mode']}): {len(problems)} "
              f"problem(s), {n_train} trainable of {len(entries)} listed")
        return 1
    print(f"OK {info['model']} ({info['mode']}): {n_train} trainable of "
          f"{len(entries)} listed, PyTorch has {len(info['parameters'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
