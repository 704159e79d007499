#!/usr/bin/python3
"""Checks an ONNX file descent exported, with Debian's python3-onnx and python3-opencv.

Usage: onnx_check.py MODEL.onnx ROWS.csv EXPECTED.csv

ROWS.csv holds the input rows, EXPECTED.csv the service's Predict outputs for them (no
headers, one row per line). The model must pass onnx.checker.check_model(full_check=True),
declare IR version 7, opset 13, input "features" and one output with a "batch" dimension, and
OpenCV's dnn module must compute EXPECTED from ROWS within 1e-5 relative (absolute below 1).
Prints one JSON line (the output's name, the largest differences); exit code 0 when all
holds, 1 otherwise.
"""
import json
import sys

import cv2
import numpy as np
import onnx


def main(model_path, rows_path, expected_path):
    model = onnx.load(model_path)
    onnx.checker.check_model(model, full_check=True)
    problems = []
    if model.ir_version != 7:
        problems.append(f"ir_version {model.ir_version}, want 7")
    opsets = {o.domain: o.version for o in model.opset_import}
    if opsets != {"": 13}:
        problems.append(f"opsets {opsets}, want default domain 13")
    graph = model.graph
    if [i.name for i in graph.input] != ["features"] or len(graph.output) != 1:
        problems.append("want one input 'features' and one output")
    for value in list(graph.input) + list(graph.output):
        batch = value.type.tensor_type.shape.dim[0].dim_param
        if batch != "batch":
            problems.append(f"{value.name}'s first dimension is {batch!r}, want 'batch'")

    rows = np.loadtxt(rows_path, delimiter=",", dtype=np.float32, ndmin=2)
    expected = np.loadtxt(expected_path, delimiter=",", dtype=np.float64, ndmin=2)
    net = cv2.dnn.readNetFromONNX(model_path)
    net.setInput(rows)
    got = net.forward().astype(np.float64)
    if got.shape != expected.shape:
        problems.append(f"OpenCV's output is {got.shape}, Predict's {expected.shape}")
        difference = float("inf")
        relative = float("inf")
    else:
        difference = float(np.max(np.abs(got - expected)))
        relative = float(np.max(np.abs(got - expected) / np.maximum(np.abs(expected), 1.0)))
        if relative > 1e-5:
            problems.append(f"OpenCV's outputs differ from Predict's by {relative:.3g} (relative)")
    print(json.dumps({"output": graph.output[0].name, "rows": int(rows.shape[0]),
                      "max_abs_difference": difference, "max_relative_difference": relative,
                      "metadata": {p.key: p.value for p in model.metadata_props},
                      "problems": problems}))
    return 0 if not problems else 1


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
