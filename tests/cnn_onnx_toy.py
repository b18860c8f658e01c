"""Tiny hand-built ONNX models with CASIGLO metadata, for testing the loader without TensorFlow."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from casiglo_gui.core import grid, lines, preprocessing


def good_metadata(**overrides: str) -> dict[str, str]:
    meta = {
        "casiglo_format": "casiglo-onnx-1",
        "model_version": "toy-1",
        "loglam0": repr(grid.LOGLAM0),
        "dloglam": repr(grid.DLOGLAM),
        "npix": str(grid.N_PIXELS),
        "line_keys": ",".join(lines.LINE_KEYS),
        "preprocessing_version": preprocessing.PREPROCESSING_VERSION,
    }
    meta.update(overrides)
    return meta


def write_toy_model(path: Path, metadata: dict[str, str] | None = None, npix: int = grid.N_PIXELS) -> Path:
    """A model whose lens logit is max(spectrum) - 3 and whose z_bg is 2 z_fg + 0.1 (so z_bg > z_fg)."""
    spectrum = helper.make_tensor_value_info("spectrum", TensorProto.FLOAT, ["n", npix])
    z_fg = helper.make_tensor_value_info("z_fg", TensorProto.FLOAT, ["n", 1])
    outs = [helper.make_tensor_value_info("line_prob", TensorProto.FLOAT, ["n", lines.N_LINES]),
            helper.make_tensor_value_info("z_bg", TensorProto.FLOAT, ["n", 1]),
            helper.make_tensor_value_info("lens_prob", TensorProto.FLOAT, ["n", 1]),
            helper.make_tensor_value_info("lens_logit", TensorProto.FLOAT, ["n", 1])]
    consts = [numpy_helper.from_array(np.array([1], np.int64), "axes"),
              numpy_helper.from_array(np.array([3.0], np.float32), "three"),
              numpy_helper.from_array(np.array([2.0], np.float32), "two"),
              numpy_helper.from_array(np.array([0.1], np.float32), "tenth"),
              numpy_helper.from_array(np.ones((1, lines.N_LINES), np.float32), "ones12")]
    nodes = [helper.make_node("ReduceMax", ["spectrum", "axes"], ["peak"], keepdims=1),
             helper.make_node("Sub", ["peak", "three"], ["lens_logit"]),
             helper.make_node("Sigmoid", ["lens_logit"], ["lens_prob"]),
             helper.make_node("Mul", ["lens_logit", "ones12"], ["line_logit"]),
             helper.make_node("Sigmoid", ["line_logit"], ["line_prob"]),
             helper.make_node("Mul", ["z_fg", "two"], ["z2"]),
             helper.make_node("Add", ["z2", "tenth"], ["z_bg"])]
    graph = helper.make_graph(nodes, "toy", [spectrum, z_fg], outs, initializer=consts)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.helper.set_model_props(model, metadata if metadata is not None else good_metadata())
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
