"""Hand-written quantization schedules (docs/schedule.md, version 1).

qoda-compile chooses layer types automatically from the ONNX model. This
module writes the paper's setting instead: types chosen by hand from the
parameters' shapes, so a schedule exists before (or without) compiling:

* every tensor with at most one dimension (biases, norm scales) or fewer
  than ``min_numel`` elements is sent uncompressed (type ``small``, fp32);
* the others are grouped by dimensionality -- ``conv`` (4-D kernels),
  ``dense`` (2-D matrices), ``other`` -- each with ``bits`` uniform levels,
  its own bucket size and norm; level re-fitting (``refit=``) then fits
  each type's levels to its own gradient distribution.

The C++ reader validates the file, so what is written here is exactly what
the runtime accepts.
"""

import json
import math

__all__ = ["uniform_levels", "hand_types", "write_schedule"]


def uniform_levels(bits):
    """2**bits uniformly spaced levels on [0, 1] (index bits = ``bits``)."""
    if not 1 <= bits <= 8:
        raise ValueError(f"bits must be 1..8, got {bits}")
    s = (1 << bits) - 1
    return [j / s for j in range(s + 1)]


def _type_name(shape, min_numel):
    numel = math.prod(shape) if shape else 1
    if len(shape) <= 1 or numel < min_numel:
        return "small"
    return {4: "conv", 2: "dense"}.get(len(shape), "other")


def hand_types(named_shapes, bits=4, bucket=1024, norm="l2", min_numel=256):
    """[(name, shape)] -> (types, [type index per parameter])."""
    types, index, assign = [], {}, []
    for _, shape in named_shapes:
        t = _type_name(list(shape), min_numel)
        if t not in index:
            index[t] = len(types)
            if t == "small":
                types.append({"name": t, "kind": "fp32", "bits": 32,
                              "predicted_variance": 0.0})
            else:
                types.append({"name": t, "kind": "levels", "bits": bits,
                              "levels": uniform_levels(bits),
                              "bucket": bucket, "norm": norm,
                              "norm_precision": "fp32", "coding": "fixed",
                              "predicted_variance": 0.0})
        assign.append(index[t])
    return types, assign


def write_schedule(path, model, named_shapes, bits=4, bucket=1024,
                   norm="l2", min_numel=256):
    """Writes a schedule for parameters [(name, shape)] in layout order
    (for PyTorch: ``[(n, p.shape) for n, p in model.named_parameters()]``,
    which are the ONNX names of a training-mode export)."""
    named_shapes = [(n, list(s)) for n, s in named_shapes]
    if not named_shapes:
        raise ValueError("write_schedule: no parameters")
    types, assign = hand_types(named_shapes, bits, bucket, norm, min_numel)
    params, offset = [], 0
    for (name, shape), t in zip(named_shapes, assign):
        numel = math.prod(shape) if shape else 1
        params.append({"name": name, "offset": offset, "numel": numel,
                       "shape": shape, "type": t, "role": types[t]["name"]})
        offset += numel
    doc = {"format": "qoda-schedule", "version": 1, "model": model,
           "producer": "qoda.schedule (hand-chosen types)",
           "num_coords": offset, "types": types, "params": params}
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)
    return path
