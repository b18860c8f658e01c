"""``casiglo-train export``: a trained model folder -> one ONNX file carrying its contract.

The ONNX graph has named inputs ``spectrum`` (batch, npix) float32 and ``z_fg`` (batch, 1) float32 and
named outputs ``line_prob``, ``z_bg``, ``lens_prob``, ``lens_logit``. ``metadata_props`` carry the grid, the line keys,
the preprocessing version, the model version, the training seed and data, the lens-score calibration and
the headline metrics; the app (``casiglo_gui.core.inference``) checks them before using the model.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from casiglo_gui.core import grid, lines, preprocessing

OPSET = 17
METADATA_FORMAT = "casiglo-onnx-1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, type=Path, help="model folder written by `casiglo-train fit`")
    parser.add_argument("--out", required=True, type=Path, help="ONNX file to write (must not exist)")
    parser.add_argument("--version", help="model version string (default: the card's name)")
    parser.add_argument("--calibration", type=Path,
                        help="lens-score calibration JSON (from `casiglo-train evaluate --calibrate`)")
    parser.add_argument("--metrics", type=Path, help="metrics JSON whose headline figures go in the metadata")
    parser.add_argument("--force", action="store_true", help="overwrite an existing ONNX file")


def metadata(card: dict, version: str, calibration: dict | None = None, metrics: dict | None = None) -> dict:
    """The ``metadata_props`` written into the ONNX file (all values strings; JSON for structures)."""
    meta = {
        "casiglo_format": METADATA_FORMAT,
        "model_version": version,
        "loglam0": repr(float(grid.LOGLAM0)),
        "dloglam": repr(float(grid.DLOGLAM)),
        "npix": str(int(grid.N_PIXELS)),
        "line_keys": ",".join(lines.LINE_KEYS),
        "preprocessing_version": preprocessing.PREPROCESSING_VERSION,
        "inputs": "spectrum,z_fg",
        "outputs": "line_prob,z_bg,lens_prob,lens_logit",
        "training_seed": str(card.get("seed", "")),
        "training_data": json.dumps(card.get("data", {}), sort_keys=True),
        "training_command": card.get("command", ""),
        "hyperparameters": json.dumps({"model": card.get("model", {}), "train": card.get("train", {})},
                                      sort_keys=True),
    }
    if calibration is not None:
        meta["lens_score_calibration"] = json.dumps(
            {k: calibration[k] for k in ("method", "a", "b", "lens_fraction", "seed", "n") if k in calibration},
            sort_keys=True)
        if "fusion" in calibration:
            meta["combined_fusion"] = json.dumps(calibration["fusion"], sort_keys=True)
    if metrics is not None:
        meta["metrics"] = json.dumps(metrics.get("headline", metrics), sort_keys=True)
        if "test_set" in metrics:
            meta["metrics_test_set"] = json.dumps(metrics["test_set"], sort_keys=True)
    return meta


def to_onnx(model, meta: dict, path: Path) -> Path:
    """Convert a Keras model (training or inference form) to ONNX at ``path`` with ``meta``."""
    import onnx
    import tensorflow as tf
    import tf2onnx

    from training.model import INFERENCE_OUTPUTS, inference_model

    if "shift_logp" in model.output:
        model = inference_model(model)
    signature = [tf.TensorSpec((None, grid.N_PIXELS), tf.float32, name="spectrum"),
                 tf.TensorSpec((None, 1), tf.float32, name="z_fg")]

    # tf2onnx wants positional inputs in the signature's order; the Keras model takes a dict.
    @tf.function(input_signature=signature)
    def serve(spectrum, z_fg):
        out = model({"spectrum": spectrum, "z_fg": z_fg}, training=False)
        return {name: tf.identity(out[name], name=name) for name in INFERENCE_OUTPUTS}

    proto, _ = tf2onnx.convert.from_function(serve, input_signature=signature, opset=OPSET,
                                             output_path=None)
    onnx.helper.set_model_props(proto, meta)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, str(path))
    return path


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    out = Path(args.out)
    if out.exists() and not args.force:
        print(f"casiglo-train export: {out} exists (use --force to overwrite)", file=sys.stderr)
        return 2
    from training.fit import load_trained

    model, card = load_trained(args.model)
    calibration = json.loads(Path(args.calibration).read_text()) if args.calibration else None
    metrics = json.loads(Path(args.metrics).read_text()) if args.metrics else None
    meta = metadata(card, args.version or card.get("name", "casiglo-cnn"), calibration, metrics)
    to_onnx(model, meta, out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)", file=sys.stderr)
    return 0


def keras_outputs(model, spectrum: np.ndarray, z_fg: np.ndarray) -> dict[str, np.ndarray]:
    """Keras outputs (numpy) for a parity check against onnxruntime."""
    out = model({"spectrum": np.asarray(spectrum, np.float32),
                 "z_fg": np.asarray(z_fg, np.float32).reshape(-1, 1)}, training=False)
    return {k: np.asarray(v) for k, v in out.items()}
