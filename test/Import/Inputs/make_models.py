"""Writes small binary ONNX models for the import tests (no binaries are
committed). Usage: make_models.py KIND OUT_PATH."""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def linear_model(ir_version=8):
    w = numpy_helper.from_array(np.arange(600, dtype=np.float32).reshape(20, 30), "fc.weight")
    b = numpy_helper.from_array(np.zeros(20, dtype=np.float32), "fc.bias")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 30])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 20])
    node = helper.make_node("Gemm", ["x", "fc.weight", "fc.bias"], ["y"], name="fc", transB=1)
    graph = helper.make_graph([node], "linear", [x], [y], [w, b])
    model = helper.make_model(graph, producer_name="qoda-test",
                              opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = ir_version
    return model


def main():
    kind, out = sys.argv[1], sys.argv[2]
    model = linear_model()
    if kind == "binary":
        onnx.save(model, out)
    elif kind == "external":
        onnx.save_model(model, out, save_as_external_data=True,
                        all_tensors_to_one_file=True, location="linear.weights",
                        size_threshold=1024)
    else:
        raise SystemExit("unknown kind " + kind)


main()
