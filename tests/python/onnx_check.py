"""Validates an ONNX model with onnx.checker and runs it with ONNX Runtime's own Python API.

usage: onnx_check.py MODEL.onnx INPUT.json   (INPUT: {"rows": [[...], ...]})
prints: {"opset": n, "inputs": [...], "outputs": [...], "reconstruction": [[...], ...]}
"""
import json
import sys

import numpy as np
import onnx
import onnxruntime as ort

path, inp = sys.argv[1], sys.argv[2]
model = onnx.load(path)
onnx.checker.check_model(model, full_check=True)
rows = np.asarray(json.load(open(inp))["rows"], dtype=np.float32)
session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
out = session.run(["reconstruction"], {"edges": rows})[0]
print(json.dumps({
    "opset": max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
    "inputs": [i.name for i in session.get_inputs()],
    "outputs": [o.name for o in session.get_outputs()],
    "reconstruction": out.tolist(),
}))
