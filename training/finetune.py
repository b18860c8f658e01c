"""``casiglo-train finetune``: retrain the CNN on experts' labels, into a new versioned model folder.

    casiglo-train finetune --labels DB_OR_EXPORT.csv --spectra DIR [--base MODEL_FOLDER] [--out NEW_FOLDER]

1. **Dataset**: the consensus of every graded object (:mod:`casiglo_gui.core.labels.dataset`):
   ``probable``/``likely`` with a confirmed z_bg are lenses (targets: z_bg and the lines the experts
   saw or rejected; lines nobody stated get zero weight), ``none`` are negatives (no background line:
   sky residuals, foreground emission, cosmic rays the experts flagged are exactly the hard negatives
   the synthetic data miss). Spectra are found under ``--spectra`` and go through the same
   preprocessing as a scan. ``--labels`` is a label database or a CSV exported by ``casiglo labels
   export`` (imported into a temporary store).
2. **Split**: a fixed share of objects (``--held-out``, by object-id hash, so stable between runs) is
   kept out of training for the old-vs-new comparison.
3. **Mix**: the training labels (repeated ``--label-repeats`` times) are mixed with ``--synthetic``
   fresh synthetic spectra (so the model does not forget what it learnt), shuffled with ``--seed``.
4. **Fine-tune** from the base model's Keras weights (``--base``, a folder written by ``casiglo-train
   fit``: ``model.keras`` + ``card.json``) at a small learning rate for a few epochs.
5. **Evaluate** old and new on the held-out labels and on a synthetic test set of its own seed
   (``--synthetic-test``; seeds ``SEED_OFFSET_MIX + seed`` for the mix, ``SEED_OFFSET_TEST + seed``
   for the test set): lens accuracy/AUC/log-loss, line accuracy on known lines, |dz| of lenses.
6. **Write** a new folder (never an existing one; by default ``<base>-ft<N>`` next to the base with
   the first free N): ``model.keras``, ``card.json`` (parent model, labels, dataset counts, seed,
   command, metrics), ``history.json``, ``evaluation.json`` and ``<version>.onnx`` with the metadata
   the app's loader (``casiglo_gui.core.inference.OnnxLineModel``) checks, so the app can switch to it.

Exit codes: 0 done; 2 nothing written (bad arguments, no usable labels, base model missing).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# Before anything can import TensorFlow: silence its start-up noise (STACK.md pitfall 7).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

DEFAULT_BASE = Path(__file__).resolve().parents[1] / "models" / "casiglo-cnn-v3"
EVALUATION_FILE = "evaluation.json"
# Synthetic seeds of a fine-tuning run: offsets keep them apart from each other and from the small
# seeds `casiglo-train fit` uses for training/validation/test, so the synthetic test set is fresh.
SEED_OFFSET_MIX = 10_000_000
SEED_OFFSET_TEST = 20_000_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--labels", required=True, type=Path,
                        help="label database (.sqlite3) or a CSV exported by `casiglo labels export`")
    parser.add_argument("--spectra", required=True, type=Path, help="folder with the graded spectra")
    parser.add_argument("--base", type=Path, default=DEFAULT_BASE,
                        help=f"model folder to start from (default {DEFAULT_BASE})")
    parser.add_argument("--out", type=Path, help="new model folder (default <base>-ft<N>); never overwritten")
    parser.add_argument("--version", help="model version string (default: the new folder's name)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=2e-4)
    parser.add_argument("--label-repeats", type=int, default=4, help="times each training label is seen per epoch")
    parser.add_argument("--synthetic", type=int, default=2000, help="synthetic spectra mixed into training")
    parser.add_argument("--synthetic-test", type=int, default=1000, help="synthetic test spectra (0: skip)")
    parser.add_argument("--held-out", type=float, default=0.2, help="share of labelled objects kept for testing")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow CPU threads")


# ---------------------------------------------------------------------------------------------------
# Targets, loss, metrics
# ---------------------------------------------------------------------------------------------------

def shift_targets(z_bg: np.ndarray, n_shifts: int) -> np.ndarray:
    """Two-bin (linear interpolation) target at the shift of ``z_bg``; all zero where z_bg is NaN."""
    from training.model import shift_of_redshift

    z_bg = np.asarray(z_bg, dtype=np.float64)
    target = np.zeros((z_bg.shape[0], n_shifts), dtype=np.float32)
    ok = np.isfinite(z_bg)
    s = shift_of_redshift(np.where(ok, z_bg, 0.0))
    lo = np.floor(s).astype(np.int64)
    frac = (s - lo).astype(np.float32)
    ok &= (lo >= 0) & (lo + 1 < n_shifts)
    rows = np.nonzero(ok)[0]
    target[rows, lo[rows]] = 1.0 - frac[rows]
    target[rows, lo[rows] + 1] = frac[rows]
    return target


def label_arrays(dataset, n_shifts: int) -> tuple[dict, dict]:
    """Model inputs and targets for a :class:`LabelDataset`; unknown line targets are -1 (no weight)."""
    inputs = {"spectrum": dataset.x.astype(np.float32),
              "z_fg": np.nan_to_num(dataset.z_fg, nan=0.0).astype(np.float32).reshape(-1, 1)}
    lines = np.where(dataset.line_known, dataset.lines, -1.0).astype(np.float32)
    targets = {"line_prob": lines, "lens_prob": dataset.is_lens.astype(np.float32).reshape(-1, 1),
               "shift_logp": shift_targets(dataset.z_bg, n_shifts)}
    return inputs, targets


def synthetic_arrays(n: int, seed: int, data_config: dict, n_shifts: int) -> tuple[dict, dict, np.ndarray]:
    """Synthetic inputs/targets from ``training.synthetic`` (plus the true z_bg for metrics)."""
    from training import fit

    try:
        from training import synthetic
    except ImportError as exc:
        raise RuntimeError("the synthetic generator (training.synthetic) is not available; "
                           "use --synthetic 0 --synthetic-test 0") from exc
    config = None
    if data_config:  # the base model's card holds the recipe as a dict
        config = synthetic.SyntheticConfig.from_dict(data_config)
    batch = synthetic.generate(int(n), int(seed), config)
    return fit.inputs(batch), fit.targets(batch, n_shifts), np.asarray(batch.z_bg, dtype=np.float64)


def masked_line_bce(pos_weight: float):
    """Per-line binary cross-entropy over the *known* lines only (target -1 = unknown, no weight)."""
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="casiglo", name=f"masked_line_bce_{pos_weight:g}")
    def loss(y_true, y_pred):
        p = ops.clip(y_pred, 1e-7, 1.0 - 1e-7)
        y = ops.cast(y_true, p.dtype)
        known = ops.cast(y >= 0.0, p.dtype)
        y = ops.maximum(y, 0.0)
        per_line = -(pos_weight * y * ops.log(p) + (1.0 - y) * ops.log(1.0 - p)) * known
        return ops.sum(per_line, axis=-1) / ops.maximum(ops.sum(known, axis=-1), 1.0)

    return loss


def _auc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """Area under the ROC curve by ranks (ties averaged); None without both classes."""
    from scipy.stats import rankdata

    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def metrics(pred: dict, targets: dict, z_true: np.ndarray) -> dict:
    """Metrics of predictions against targets (label or synthetic): what a user of the score cares about.

    ``lens_accuracy`` at 0.5, ``lens_auc``, ``lens_log_loss``; ``line_accuracy`` over known line
    targets at 0.5; for true lenses with finite z: ``dz_median`` and ``dz_lt_1e-3`` (fraction).
    """
    is_lens = np.asarray(targets["lens_prob"]).reshape(-1) > 0.5
    n = int(is_lens.shape[0])
    if n == 0:
        return {"n": 0}
    p = np.clip(np.asarray(pred["lens_prob"], dtype=np.float64).reshape(-1), 1e-7, 1 - 1e-7)
    line_target = np.asarray(targets["line_prob"])
    known = line_target >= 0
    line_hit = (np.asarray(pred["line_prob"]) >= 0.5) == (line_target > 0.5)
    z_pred = np.asarray(pred["z_bg"], dtype=np.float64).reshape(-1)
    with_z = is_lens & np.isfinite(z_true)
    dz = np.abs(z_pred[with_z] - z_true[with_z])
    return {
        "n": n, "n_lenses": int(is_lens.sum()), "n_non_lenses": int((~is_lens).sum()),
        "lens_accuracy": float(np.mean((p >= 0.5) == is_lens)),
        "lens_auc": _auc(p, is_lens),
        "lens_log_loss": float(-np.mean(np.where(is_lens, np.log(p), np.log(1 - p)))),
        "line_accuracy": float(line_hit[known].mean()) if known.any() else None,
        "n_line_targets": int(known.sum()),
        "dz_median": float(np.median(dz)) if dz.size else None,
        "dz_lt_1e-3": float(np.mean(dz < 1e-3)) if dz.size else None,
    }


def predict(model, inputs: dict, batch_size: int = 256) -> dict:
    """Keras outputs as numpy (an empty input gives empty outputs)."""
    n = inputs["spectrum"].shape[0]
    if n == 0:
        return {"line_prob": np.zeros((0, 12)), "z_bg": np.zeros((0, 1)), "lens_prob": np.zeros((0, 1))}
    out = model.predict(inputs, batch_size=batch_size, verbose=0)
    return {k: np.asarray(v) for k, v in out.items()}


# ---------------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------------

def next_version_folder(base: Path) -> Path:
    """``<base>-ft<N>`` beside the base folder, with the first N not taken."""
    k = 1
    while (base.parent / f"{base.name}-ft{k}").exists():
        k += 1
    return base.parent / f"{base.name}-ft{k}"


def _open_labels(path: Path, workdir: Path):
    """A LabelStore for ``--labels``: the database itself, or a temporary one built from an export CSV."""
    from casiglo_gui.core.labels import LabelStore
    from casiglo_gui.core.labels.importer import import_csv

    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such label database or file")
    if path.suffix.lower() == ".csv":
        store = LabelStore.open(workdir / "imported-labels.sqlite3")
        report = import_csv(store, path, inspector="imported")
        for line, reason in report.bad_rows:
            print(f"{path}:{line}: {reason} (row skipped)", file=sys.stderr)
        return store
    return LabelStore.open(path)


def _fail(message: str) -> int:
    print(f"casiglo-train finetune: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from casiglo_gui.core.errors import CasigloError
    from casiglo_gui.core.labels.dataset import build_label_dataset, rejected_lines

    base = Path(args.base)
    if not (base / "model.keras").is_file() or not (base / "card.json").is_file():
        return _fail(f"{base}: not a model folder (needs model.keras and card.json from `casiglo-train fit`); "
                     "pass --base")
    out = Path(args.out) if args.out else next_version_folder(base)
    if out.exists():
        return _fail(f"{out} already exists; models are never overwritten, choose a new --out")
    version = args.version or out.name

    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="casiglo-finetune-") as workdir:
        try:
            store = _open_labels(Path(args.labels), Path(workdir))
        except (CasigloError, FileNotFoundError) as exc:
            return _fail(str(exc))
        with store:
            n_events = store.count()
            consensuses = store.consensus_table()
            rejected = rejected_lines(store)
        try:
            dataset, file_errors = build_label_dataset(consensuses, args.spectra, args.held_out, rejected)
        except CasigloError as exc:
            return _fail(str(exc))
    for path, reason in file_errors:
        print(f"{path}: skipped ({reason})", file=sys.stderr)
    summary = dataset.summary()
    print(f"labels: {n_events} events, {len(consensuses)} objects -> {json.dumps(summary)}", file=sys.stderr)
    train_rows = ~dataset.held_out
    if len(dataset) and not train_rows.any():
        return _fail(f"all {len(dataset)} usable labels fell in the held-out part; lower --held-out")
    if not train_rows.any():
        return _fail("no usable labelled spectrum for training (see the reasons above: "
                     f"{summary['skipped_reasons']})")

    import keras

    from training import export, fit
    from training.model import N_SHIFTS

    try:
        fit.configure_threads(args.threads)
    except RuntimeError:
        pass  # TensorFlow already initialised in this process (e.g. called from Python): keep its threads
    keras.utils.set_random_seed(int(args.seed))
    try:
        old_model, card = fit.load_trained(base)
        new_model, _ = fit.load_trained(base)
    except Exception as exc:  # keras raises many types on a damaged file
        return _fail(f"{base}: the base model could not be loaded ({type(exc).__name__}: {exc})")
    data_config = card.get("data", {})
    train_config = {**fit.DEFAULT_TRAIN, **card.get("train", {})}

    label_in, label_t = label_arrays(dataset, N_SHIFTS)
    held_in = {k: v[dataset.held_out] for k, v in label_in.items()}
    held_t = {k: v[dataset.held_out] for k, v in label_t.items()}
    train_in = {k: np.repeat(v[train_rows], args.label_repeats, axis=0) for k, v in label_in.items()}
    train_t = {k: np.repeat(v[train_rows], args.label_repeats, axis=0) for k, v in label_t.items()}
    try:
        if args.synthetic > 0:
            syn_in, syn_t, _ = synthetic_arrays(args.synthetic, SEED_OFFSET_MIX + int(args.seed), data_config,
                                                N_SHIFTS)
            train_in = {k: np.concatenate([train_in[k], syn_in[k]]) for k in train_in}
            train_t = {k: np.concatenate([train_t[k], syn_t[k].astype(np.float32)]) for k in train_t}
        test_sets = {"labels_held_out": (held_in, held_t, dataset.z_bg[dataset.held_out])}
        if args.synthetic_test > 0:
            # Its own seed: never the training mix's, never the base model's validation seed.
            test_sets["synthetic_test"] = synthetic_arrays(args.synthetic_test, SEED_OFFSET_TEST + int(args.seed),
                                                           data_config, N_SHIFTS)
    except RuntimeError as exc:
        return _fail(str(exc))
    order = np.random.default_rng(args.seed).permutation(train_in["spectrum"].shape[0])
    train_in = {k: v[order] for k, v in train_in.items()}
    train_t = {k: v[order] for k, v in train_t.items()}

    before = {name: metrics(predict(old_model, i), t, z) for name, (i, t, z) in test_sets.items()}
    new_model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=float(args.learning_rate), clipnorm=1.0),
        loss={"line_prob": masked_line_bce(float(train_config["pos_weight"])),
              "lens_prob": keras.losses.BinaryCrossentropy(),
              "shift_logp": fit.shift_cross_entropy},
        loss_weights=train_config["loss_weights"],
    )
    history = new_model.fit(train_in, train_t, batch_size=int(args.batch_size), epochs=int(args.epochs),
                            shuffle=True, verbose=0)
    after = {name: metrics(predict(new_model, i), t, z) for name, (i, t, z) in test_sets.items()}

    command = ["casiglo-train", "finetune"] + (sys.argv[2:] if sys.argv[1:2] == ["finetune"] else sys.argv[1:])
    evaluation = {"before": before, "after": after, "seed": int(args.seed),
                  "held_out_fraction": float(args.held_out),
                  "held_out_objects": [o for o, h in zip(dataset.object_ids, dataset.held_out) if h]}
    new_card = {
        **card,
        "name": version, "version": version, "status": "fine-tuned",
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": " ".join(str(c) for c in command), "seed": int(args.seed),
        "parent": {"folder": str(base.resolve()), "name": card.get("name"), "version": card.get("version"),
                   "seed": card.get("seed")},
        "finetune": {
            "labels": str(Path(args.labels).resolve()), "label_events": n_events,
            "spectra": str(Path(args.spectra).resolve()), "dataset": summary,
            "epochs": args.epochs, "batch_size": args.batch_size, "learning_rate": args.learning_rate,
            "label_repeats": args.label_repeats, "synthetic": args.synthetic,
            "synthetic_test": args.synthetic_test, "train_rows": int(train_in["spectrum"].shape[0]),
            "seconds": round(time.time() - t0, 1),
        },
        "metrics": {"before": before, "after": after},
    }
    out.mkdir(parents=True)  # fails if another run took the name meanwhile: still never overwriting
    try:
        new_model.save(out / fit.MODEL_FILE)
        (out / fit.CARD_FILE).write_text(json.dumps(new_card, indent=2, default=str))
        (out / fit.HISTORY_FILE).write_text(json.dumps(
            [{"epoch": i + 1, **{k: float(v[i]) for k, v in history.history.items()}}
             for i in range(len(history.history.get("loss", [])))], indent=2))
        (out / EVALUATION_FILE).write_text(json.dumps(evaluation, indent=2))
        meta = export.metadata(new_card, version, metrics={"headline": after})
        meta["parent_model_version"] = str(card.get("version") or card.get("name", ""))
        onnx_path = export.to_onnx(new_model, meta, out / f"{version}.onnx")
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)  # a half-written model folder must not look usable
        raise
    def fmt(value):
        return "n/a" if value is None else f"{value:.4g}"

    for name in test_sets:
        b, a = before[name], after[name]
        changes = ", ".join(f"{key} {fmt(b.get(key))} -> {fmt(a.get(key))}"
                            for key in ("lens_accuracy", "lens_auc", "lens_log_loss", "line_accuracy",
                                        "dz_median"))
        print(f"{name} (n={a['n']}, old -> new): {changes}", file=sys.stderr)
    print(f"wrote {out} ({onnx_path.name}) in {time.time() - t0:.0f} s", file=sys.stderr)
    return 0
