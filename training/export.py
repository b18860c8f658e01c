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
    parser.add_argument("--card", type=Path,
                        help="also write the model card: CARD.json and CARD.md (data, seed, commands, metrics)")


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
        if "evidence_fusion" in calibration:  # benchmarks/fit_evidence_fusion.py's JSON, when given
            meta["evidence_fusion"] = json.dumps(calibration["evidence_fusion"], sort_keys=True)
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
    if args.card:
        full = {**card, "model_version": meta["model_version"], "onnx": out.name,
                "onnx_bytes": out.stat().st_size, "calibration": calibration, "metrics": metrics,
                "export_command": "casiglo-train export " + " ".join(
                    sys.argv[2:] if sys.argv[1:2] == ["export"] else sys.argv[1:])}
        Path(args.card).with_suffix(".json").write_text(json.dumps(full, indent=2, default=float))
        Path(args.card).with_suffix(".md").write_text(card_markdown(full))
        print(f"wrote {Path(args.card).with_suffix('.json')} and .md", file=sys.stderr)
    return 0


def _pct(v) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{100 * v:.1f}%"


def card_markdown(card: dict) -> str:
    """Human-readable model card from the JSON card."""
    m = card.get("metrics") or {}
    t = m.get("test_set", {})
    lines_md = [
        f"# Model card: {card.get('model_version')}",
        "",
        f"ONNX file `{card.get('onnx')}` ({card.get('onnx_bytes', 0) / 1e6:.2f} MB); Keras weights for fine-tuning "
        f"in the folder `{card.get('model_version')}/` beside it (`model.keras` + `card.json`, the default base of "
        f"`casiglo-train finetune`). Preprocessing `{card.get('preprocessing_version')}`; grid loglam0={card['grid']['loglam0']}, "
        f"dloglam={card['grid']['dloglam']}, npix={card['grid']['npix']}; line keys {', '.join(card['line_keys'])}.",
        "",
        "## What it is",
        "A 1-D CNN with a fixed redshift comb (training/model.py): convolutions give a per-pixel, per-line",
        "'line centred here' map; the comb reads it at the 12 lines' offsets for every trial redshift shift",
        "(above z_fg only); a softmax over shifts gives z_bg (>= z_fg by construction); line probabilities are",
        "read at the predicted shift. The combined detector (casiglo_gui/core/inference.py) refines z_bg with the",
        "physics least-squares fit and fuses the CNN with the fitted line SNRs (weights in the ONNX metadata).",
        "",
        "## Training",
        f"- Command: `{card.get('command')}` (seed {card.get('seed')}), trained on "
        f"{card.get('hardware') or 'CPU with %s threads' % card.get('train', {}).get('threads')} in "
        f"{card.get('train_seconds')} s, "
        f"{card.get('epochs_run')} epochs, best epoch {card.get('best_epoch')} "
        f"(val loss {card.get('best_val_loss')}).",
        f"- Data: streamed from `training.synthetic` with config `{json.dumps(card.get('data'))}`; validation: "
        f"{card.get('train', {}).get('val_size')} spectra, seed {card.get('train', {}).get('val_seed')}.",
        f"- Hyper-parameters: `{json.dumps(card.get('model'))}`; train `{json.dumps(card.get('train'))}`.",
        f"- Export: `{card.get('export_command')}`.",
    ]
    cal = card.get("calibration") or {}
    if cal:
        lines_md += [f"- Lens-score calibration and fusion fitted on {cal.get('n')} held-out spectra, seed "
                     f"{cal.get('seed')} (lens fraction {cal.get('lens_fraction', 0):.2f}: the score is a "
                     f"probability under that prior). Lens score used: {cal.get('score_fusion_check', {}).get('used')}."]
    if m:
        lines_md += [
            "",
            "## Metrics (held-out synthetic test set)",
            f"Test set: `training.synthetic`, n={t.get('n')}, seed={t.get('seed')} (chunk {t.get('chunk')}), "
            f"{t.get('n_lenses')} lenses ({t.get('n_strong_lenses')} with strongest line SNR >= 6), "
            f"{t.get('n_negatives')} negatives {json.dumps(t.get('kinds'))}. Command: `{m.get('command')}`.",
            "",
            "| metric | target | combined | CNN alone | physics alone |",
            "|---|---|---|---|---|",
        ]
        det = {k: m.get(k, {}) for k in ("combined", "cnn", "physics")}

        def row(name, target, fn):
            vals = []
            for k in ("combined", "cnn", "physics"):
                try:
                    vals.append(fn(det[k]))
                except (KeyError, TypeError):
                    vals.append("n/a")
            return f"| {name} | {target} | " + " | ".join(vals) + " |"

        lines_md += [
            row("per-line recall, SNR>=4 at <=2% per-line FPR (pooled)", ">= 90%",
                lambda d: _pct(d["line_recall_snr4_at_2pct_fpr"]["pooled_recall"])),
            row("per-line recall, worst line", ">= 90%",
                lambda d: _pct(d["line_recall_snr4_at_2pct_fpr"]["min_recall"])),
            row("lens completeness at 1% FPR, strongest line SNR>=6", ">= 90%",
                lambda d: _pct(d["lens_completeness_strong_at_1pct_fpr"])),
            row("lens completeness at 1% FPR, all lenses", "combined > physics",
                lambda d: _pct(d["lens_completeness_all_at_1pct_fpr"])),
            row("detected lenses with abs(dz) < 1e-4", ">= 95%",
                lambda d: _pct(d["redshift_detected"]["frac_dz_lt_1e-4"])),
            row("median abs(dz) of detected lenses", "<= 2e-5",
                lambda d: f"{d['redshift_detected']['median_abs_dz']:.2e}"),
        ]
        per_line = det.get("combined", {}).get("line_recall_snr4_at_2pct_fpr", {}).get("per_line", {})
        if per_line:
            lines_md += ["", "Per-line recall (combined, SNR >= 4 at <= 2% FPR): " + ", ".join(
                f"{k} {_pct(v['recall'])} (n={v['n_positive']})" for k, v in per_line.items()) + "."]
        lines_md += ["", f"Timing of the evaluation (shared 2-core machine, under load): {json.dumps(m.get('timing'))}."]
    lines_md += ["", "These numbers are on synthetic spectra from this project's generator; they are not a measurement on",
                 "real lenses.", ""]
    return "\n".join(lines_md)


def keras_outputs(model, spectrum: np.ndarray, z_fg: np.ndarray) -> dict[str, np.ndarray]:
    """Keras outputs (numpy) for a parity check against onnxruntime."""
    out = model({"spectrum": np.asarray(spectrum, np.float32),
                 "z_fg": np.asarray(z_fg, np.float32).reshape(-1, 1)}, training=False)
    return {k: np.asarray(v) for k, v in out.items()}
