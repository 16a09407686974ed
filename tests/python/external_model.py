"""Builds an autoencoder-shaped ONNX model outside spanguard's trainer (as one exported from PyTorch would be):
input `edges` float32 [N, E], output `reconstruction` float32 [N, E], a different architecture (one dense
hidden layer, Relu, no block structure), opset 17.

usage: external_model.py OUT.onnx EDGES
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out, edges = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(42)
hidden = max(2, edges // 3)
w1 = rng.normal(0, 0.3, (edges, hidden)).astype(np.float32)
b1 = np.zeros(hidden, dtype=np.float32)
w2 = rng.normal(0, 0.3, (hidden, edges)).astype(np.float32)
b2 = np.full(edges, 0.1, dtype=np.float32)
nodes = [
    helper.make_node("Gemm", ["edges", "w1", "b1"], ["h"]),
    helper.make_node("Relu", ["h"], ["hr"]),
    helper.make_node("Gemm", ["hr", "w2", "b2"], ["o"]),
    helper.make_node("Sigmoid", ["o"], ["reconstruction"]),
]
graph = helper.make_graph(
    nodes,
    "external_autoencoder",
    [helper.make_tensor_value_info("edges", TensorProto.FLOAT, ["batch", edges])],
    [helper.make_tensor_value_info("reconstruction", TensorProto.FLOAT, ["batch", edges])],
    [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(b1, "b1"),
     numpy_helper.from_array(w2, "w2"), numpy_helper.from_array(b2, "b2")],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="external")
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, out)
