#!/usr/bin/python3
"""Writes one malformed model file for the importer's bad-input tests, so
that no binary is committed.

    make_bad_model.py KIND OUT        (KIND: see KINDS below)
    make_bad_model.py cut IN OUT      (OUT = the first half of IN's bytes)

Models that need a valid protobuf are built with Debian's python3-onnx.
"""

import os
import random
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def conv_model(weight_dims=(16, 3, 3, 3), input_dims=(1, 3, 8, 8)):
    """A small valid model: Y = Conv(X, W) with W an initializer."""
    w = numpy_helper.from_array(
        np.linspace(-1, 1, int(np.prod(weight_dims)), dtype=np.float32)
        .reshape(weight_dims), "W")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["X", "W"], ["Y"], name="conv")], "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, input_dims)],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 16, 6, 6])],
        [w])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])


def save(model, out):
    with open(out, "wb") as f:
        f.write(model.SerializeToString())


def relu_model(input_dims, init_dims=None):
    """Y = Relu(X) with X of the given dims; optionally an initializer B of
    init_dims (4 floats of data, whatever the dims claim) added to it."""
    nodes = [helper.make_node("Relu", ["X"], ["Y"])]
    inits = []
    if init_dims is not None:
        t = TensorProto(name="B", data_type=TensorProto.FLOAT,
                        dims=list(init_dims))
        t.raw_data = np.ones(4, dtype=np.float32).tobytes()
        inits.append(t)
        nodes = [helper.make_node("Add", ["X", "B"], ["Z"]),
                 helper.make_node("Relu", ["Z"], ["Y"])]
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, input_dims)],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, input_dims)],
        inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])


def external_model(out, side_bytes):
    """conv_model with W stored in OUT.weights; the side file holds only
    side_bytes bytes of it (None: the side file does not exist)."""
    model = conv_model()
    w = model.graph.initializer[0]
    data = w.raw_data
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    location = os.path.basename(out) + ".weights"
    for k, v in (("location", location), ("offset", "0"),
                 ("length", str(len(data)))):
        w.external_data.add(key=k, value=v)
    save(model, out)
    side = os.path.join(os.path.dirname(out), location)
    if os.path.exists(side):
        os.remove(side)
    if side_bytes is not None:
        with open(side, "wb") as f:
            f.write(data[:side_bytes])


KINDS = {
    # Not a model at all.
    "empty": lambda out: open(out, "wb").close(),
    "random": lambda out: open(out, "wb").write(
        bytes(random.Random(1).getrandbits(8) for _ in range(4096))),
    "png": lambda out: open(out, "wb").write(
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00"
        b"\x10\x08\x06\x00\x00\x00\x1f\xf3\xffa" + bytes(64)),
    "text": lambda out: open(out, "w").write(
        "These are not the droids you are looking for.\n"),
    # A valid model cut in half (inside the weight data).
    "truncated": lambda out: (save(conv_model(), out + ".full"),
                              cut(out + ".full", out)),
    # Dimensions.
    "negative-input-dim": lambda out: save(relu_model([-3, 4]), out),
    "absurd-input-dim": lambda out: save(relu_model([2**62, 8]), out),
    "negative-init-dim": lambda out: save(relu_model(["N"], [-4]), out),
    "absurd-init-dim": lambda out: save(relu_model(["N"], [2**62]), out),
    # External data.
    "external-missing": lambda out: external_model(out, None),
    "external-short": lambda out: external_model(out, 100),
}


def cut(src, out):
    with open(src, "rb") as f:
        data = f.read()
    with open(out, "wb") as f:
        f.write(data[:len(data) // 2])


def main(argv):
    if len(argv) == 4 and argv[1] == "cut":
        cut(argv[2], argv[3])
        return 0
    if len(argv) != 3 or argv[1] not in KINDS:
        sys.exit(f"usage: make_bad_model.py {{{','.join(KINDS)}}} OUT\n"
                 f"       make_bad_model.py cut IN OUT")
    KINDS[argv[1]](argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
