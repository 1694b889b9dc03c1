#!/usr/bin/python3
"""Writes a binary ONNX model whose initializer names (with dots, which the
textual format cannot spell) describe repeated blocks:
layers.0 and layers.1 hold fc.weight [32, 32]; layers.2 holds fc.weight and
fc2.weight; head.weight [32, 10] is in no block.
Usage: make_blocks.py OUT.onnx"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main():
    inits, nodes = [], []
    x = "X"
    names = ["layers.0.fc.weight", "layers.1.fc.weight", "layers.2.fc.weight",
             "layers.2.fc2.weight"]
    for i, n in enumerate(names):
        inits.append(numpy_helper.from_array(
            np.zeros((32, 32), np.float32), n))
        nodes.append(helper.make_node("MatMul", [x, n], [f"m{i}"],
                                      name=f"mm{i}"))
        nodes.append(helper.make_node("Relu", [f"m{i}"], [f"r{i}"],
                                      name=f"relu{i}"))
        x = f"r{i}"
    inits.append(numpy_helper.from_array(np.zeros((32, 10), np.float32),
                                         "head.weight"))
    nodes.append(helper.make_node("MatMul", [x, "head.weight"], ["Y"],
                                  name="head"))
    graph = helper.make_graph(
        nodes, "blocks",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 32])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 10])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    onnx.save(model, sys.argv[1])


if __name__ == "__main__":
    main()
