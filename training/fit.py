"""``casiglo-train fit``: train the CNN on spectra streamed from the synthetic generator.

Writes a new model folder (never overwrites one): ``model.keras`` (best validation loss),
``checkpoints/last.keras`` (every epoch), ``history.json`` (per-epoch losses and metrics) and
``card.json`` (everything needed to rebuild, reproduce and check the model: grid, line keys,
preprocessing version, hyper-parameters, seed, data configuration, the exact command).
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from casiglo_gui.core import grid, lines, preprocessing

MODEL_FILE = "model.keras"
CARD_FILE = "card.json"
HISTORY_FILE = "history.json"

DEFAULT_TRAIN = {
    "batch_size": 64,
    "steps_per_epoch": 200,
    "epochs": 10,
    "learning_rate": 2e-3,
    "patience": 3,
    "val_size": 2048,
    "seed": 1,
    "val_seed": 1001,
    "pos_weight": 2.0,
    "loss_weights": {"line_prob": 1.0, "lens_prob": 1.0, "shift_logp": 0.3},
    "threads": 2,
    "max_minutes": None,  # stop after the epoch that passes this wall-clock budget (None: no limit)
    "init_from": None,    # a model folder (model.keras + card.json) whose weights the network starts from
    "data_workers": 0,    # processes generating training batches (0: in the training process)
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, help="training configuration JSON")
    parser.add_argument("--out", required=True, type=Path, help="new model folder (must not exist)")
    parser.add_argument("--epochs", type=int, help="override train.epochs")
    parser.add_argument("--steps", type=int, help="override train.steps_per_epoch")
    parser.add_argument("--seed", type=int, help="override train.seed (weights and training data)")
    parser.add_argument("--threads", type=int, help="override train.threads (TensorFlow CPU threads)")
    parser.add_argument("--max-minutes", type=float,
                        help="override train.max_minutes (stop after the epoch that passes this wall-clock budget)")


def load_config(path: Path, overrides: dict | None = None) -> dict:
    """Read a training configuration and fill in defaults; ``overrides`` replace ``train`` entries."""
    with open(path, encoding="utf-8") as f:
        config = json.load(f)
    train = {**DEFAULT_TRAIN, **config.get("train", {})}
    for key, value in (overrides or {}).items():
        if value is not None:
            train[key] = value
    config["train"] = train
    config.setdefault("model", {})
    config.setdefault("data", {})
    config.setdefault("name", Path(path).stem)
    return config


def targets(batch, n_shifts: int) -> dict[str, np.ndarray]:
    """Training targets from a synthetic batch.

    ``shift_logp`` gets a two-bin (linear interpolation) distribution at the true sub-pixel shift for
    spectra with background lines and all zeros otherwise, so the redshift loss only counts where
    lines are present.
    """
    from training.model import shift_of_redshift

    present = np.asarray(batch.line_present, dtype=bool)
    z_bg = np.asarray(batch.z_bg, dtype=np.float64)
    lens = present.any(axis=1) & np.isfinite(z_bg)
    n = present.shape[0]
    shift_target = np.zeros((n, n_shifts), dtype=np.float32)
    s = shift_of_redshift(np.where(lens, z_bg, 0.0))
    lo = np.floor(s).astype(np.int64)
    frac = (s - lo).astype(np.float32)
    ok = lens & (lo >= 0) & (lo + 1 < n_shifts)
    rows = np.nonzero(ok)[0]
    shift_target[rows, lo[rows]] = 1.0 - frac[rows]
    shift_target[rows, lo[rows] + 1] = frac[rows]
    return {
        "line_prob": present.astype(np.float32),
        "lens_prob": lens.astype(np.float32)[:, None],
        "shift_logp": shift_target,
    }


def inputs(batch) -> dict[str, np.ndarray]:
    """Model inputs from a synthetic batch (already ``preprocessing.network_input``)."""
    return {"spectrum": np.asarray(batch.x, dtype=np.float32),
            "z_fg": np.asarray(batch.z_fg, dtype=np.float32).reshape(-1, 1)}


def weighted_bce(pos_weight: float):
    """Per-line binary cross-entropy with positives weighted up (against the all-zeros minimum)."""
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="casiglo", name=f"weighted_bce_{pos_weight:g}")
    def loss(y_true, y_pred):
        p = ops.clip(y_pred, 1e-7, 1.0 - 1e-7)
        y = ops.cast(y_true, p.dtype)
        return -ops.mean(pos_weight * y * ops.log(p) + (1.0 - y) * ops.log(1.0 - p), axis=-1)

    return loss


def shift_cross_entropy(y_true, y_pred):
    """Cross-entropy of the shift posterior (``y_pred`` = log posterior) against a soft target."""
    from keras import ops

    return -ops.sum(ops.cast(y_true, y_pred.dtype) * y_pred, axis=-1)


def configure_threads(threads: int) -> None:
    import keras

    if keras.backend.backend() != "tensorflow":
        return  # e.g. JAX on a GPU machine: its own thread pools
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(int(threads))
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        # TensorFlow was already initialised in this process (e.g. by an earlier test): its threads stay.
        print("casiglo-train fit: TensorFlow already initialised; thread setting unchanged", file=sys.stderr)


def compile_model(model, train: dict):
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=float(train["learning_rate"]), clipnorm=1.0),
        loss={"line_prob": weighted_bce(float(train["pos_weight"])),
              "lens_prob": keras.losses.BinaryCrossentropy(),
              "shift_logp": shift_cross_entropy},
        loss_weights=train["loss_weights"],
    )
    return model


def data_variants(data_config: dict) -> list[dict]:
    """The generator recipes the training batches cycle through.

    ``data_config["cycle"]`` (optional) is a list of overrides of the base recipe, e.g.
    ``[{}, {"snr_distribution": "wide"}]``: batch ``b`` comes from variant ``b % len(cycle)``, so one
    model sees several line-strength distributions (the paper's faint Moyal lines and bright ones).
    """
    base = {k: v for k, v in data_config.items() if k != "cycle"}
    return [{**base, **overrides} for overrides in data_config.get("cycle") or [{}]]


def batch_stream(batch_size: int, seed: int, data_config: dict, n_shifts: int, workers: int = 0):
    """Endless (inputs, targets) batches from the synthetic generator (cycling through its variants),
    made in this process or, with ``workers`` > 0, by that many processes (the same batches either way)."""
    from training import synthetic

    variants = data_variants(data_config)
    seeds = [seed + 1000 * k for k in range(len(variants))]
    if workers > 0:
        batches = synthetic.stream_parallel(batch_size, seeds, variants, workers)
    else:
        streams = [synthetic.stream(batch_size, s, variant) for s, variant in zip(seeds, variants)]
        batches = (next(source) for _ in itertools.count() for source in streams)
    for batch in batches:
        yield inputs(batch), targets(batch, n_shifts)


def fixed_set(n: int, seed: int, data_config: dict):
    """A fixed synthetic set (validation / test) from the base recipe, generated with its own seed."""
    from training import synthetic

    return synthetic.generate(n, seed, data_variants(data_config)[0])


def model_card(config: dict, model_config, command: list[str], extra: dict | None = None) -> dict:
    """The card written next to the weights."""
    import keras

    versions = {"keras": keras.__version__, "backend": keras.backend.backend(), "numpy": np.__version__}
    if versions["backend"] == "tensorflow":
        import tensorflow as tf
        versions["tensorflow"] = tf.__version__
    return {
        "format": "casiglo-model-card-1",
        "name": config["name"],
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "preprocessing_version": preprocessing.PREPROCESSING_VERSION,
        "grid": {"loglam0": grid.LOGLAM0, "dloglam": grid.DLOGLAM, "npix": grid.N_PIXELS},
        "line_keys": list(lines.LINE_KEYS),
        "inputs": {"spectrum": "preprocessing.network_input(residual, ivar), float32 (batch, npix)",
                   "z_fg": "foreground redshift, float32 (batch, 1)"},
        "outputs": {"line_prob": "(batch, 12) sigmoid, contract line order",
                    "z_bg": "(batch, 1), >= z_fg", "lens_prob": "(batch, 1) uncalibrated lens probability",
                    "lens_logit": "(batch, 1) logit of lens_prob"},
        "model": model_config.to_dict(),
        "train": config["train"],
        "data": config["data"],
        "seed": int(config["train"]["seed"]),
        "command": " ".join(command),
        "versions": versions,
        **(extra or {}),
    }


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.exists():
        print(f"casiglo-train fit: {out} already exists; choose a new folder (models are never overwritten)",
              file=sys.stderr)
        return 2
    config = load_config(args.config, {"epochs": args.epochs, "steps_per_epoch": args.steps,
                                       "seed": args.seed, "threads": args.threads,
                                       "max_minutes": args.max_minutes})
    train = config["train"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import keras

    from training.model import N_SHIFTS, ModelConfig, build_model

    configure_threads(train["threads"])
    keras.utils.set_random_seed(int(train["seed"]))
    out.mkdir(parents=True)
    (out / "checkpoints").mkdir()

    model_config = ModelConfig.from_dict(config["model"])
    model = compile_model(build_model(model_config), train)
    if train.get("init_from"):
        start, _ = load_trained(Path(train["init_from"]))
        model.set_weights(start.get_weights())  # same network required: set_weights checks every shape
        print(f"weights initialised from {train['init_from']}", file=sys.stderr)
    command = ["casiglo-train", "fit", "--config", str(args.config), "--out", str(args.out)]
    for flag, value in (("--epochs", args.epochs), ("--steps", args.steps), ("--seed", args.seed),
                        ("--threads", args.threads), ("--max-minutes", args.max_minutes)):
        if value is not None:
            command += [flag, str(value)]
    card = model_card(config, model_config, command, {"status": "training"})
    (out / CARD_FILE).write_text(json.dumps(card, indent=2))

    t0 = time.time()
    val = fixed_set(int(train["val_size"]), int(train["val_seed"]), config["data"])
    val_data = (inputs(val), targets(val, N_SHIFTS))
    print(f"validation set: {len(val.z_fg)} spectra in {time.time() - t0:.1f} s", file=sys.stderr)

    stream = batch_stream(int(train["batch_size"]), int(train["seed"]), config["data"], N_SHIFTS,
                          workers=int(train.get("data_workers") or 0))
    epochs = train_loop(model, stream, val_data, train, out, t0)
    best = min(epochs, key=lambda e: e.get("val_loss", np.inf)) if epochs else {}
    card.update({"status": "trained", "train_seconds": round(time.time() - t0, 1),
                 "epochs_run": len(epochs), "best_epoch": best.get("epoch"),
                 "best_val_loss": best.get("val_loss")})
    (out / CARD_FILE).write_text(json.dumps(card, indent=2))
    print(f"trained in {time.time() - t0:.0f} s; best epoch {best.get('epoch')} -> {out / MODEL_FILE}",
          file=sys.stderr)
    return 0


LR_FACTOR = 0.5      # learning rate x this after an epoch that does not improve the validation loss
LR_MIN = 1e-5
LR_MIN_DELTA = 1e-4  # an improvement smaller than this does not count (as Keras' ReduceLROnPlateau)


def train_loop(model, stream, val_data, train: dict, out: Path, t0: float) -> list[dict]:
    """Train epoch by epoch with ``train_on_batch``; returns the per-epoch history.

    An explicit loop rather than ``model.fit``: ``fit`` over this Python generator (Keras wraps it in
    ``tf.data``) ran ~3x slower per step here (1.0 vs 0.35 s for a batch of 64 on 2 cores). It keeps what the callbacks did: validation every epoch, ``history.json``, the best
    model (``model.keras``) and the last (``checkpoints/last.keras``), halving the learning rate when
    the validation loss stalls, early stopping after ``patience`` epochs without improvement, and the
    wall-clock budget ``max_minutes`` (checked after each epoch).
    """
    val_x, val_y = val_data
    history: list[dict] = []
    best = best_for_lr = np.inf
    stale = 0
    for epoch in range(1, int(train["epochs"]) + 1):
        sums: dict[str, float] = {}
        steps = int(train["steps_per_epoch"])
        for _ in range(steps):
            x, y = next(stream)
            for name, value in model.train_on_batch(x, y, return_dict=True).items():
                sums[name] = sums.get(name, 0.0) + float(value)
        logs = {name: total / steps for name, total in sums.items()}
        val = model.evaluate(val_x, val_y, batch_size=256, verbose=0, return_dict=True)
        logs.update({f"val_{name}": float(value) for name, value in val.items()})
        learning_rate = float(keras_value(model.optimizer.learning_rate))
        entry = {"epoch": epoch, "elapsed_s": round(time.time() - t0, 1), "learning_rate": learning_rate, **logs}
        history.append(entry)
        (out / HISTORY_FILE).write_text(json.dumps(history, indent=2))
        print(json.dumps(entry), file=sys.stderr, flush=True)

        val_loss = logs["val_loss"]
        model.save(out / "checkpoints" / "last.keras")
        if val_loss < best:
            best, stale = val_loss, 0
            model.save(out / MODEL_FILE)
        else:
            stale += 1
        if val_loss < best_for_lr - LR_MIN_DELTA:
            best_for_lr = val_loss
        elif learning_rate > LR_MIN:
            model.optimizer.learning_rate.assign(max(learning_rate * LR_FACTOR, LR_MIN))
        if stale >= int(train["patience"]):
            print(f"no improvement for {stale} epochs: stopping", file=sys.stderr)
            break
        if train.get("max_minutes") and time.time() - t0 > 60.0 * float(train["max_minutes"]):
            print(f"time budget of {train['max_minutes']} min reached", file=sys.stderr)
            break
    return history


def keras_value(variable) -> float:
    """A Keras variable's value as a Python float (backend-neutral)."""
    import keras

    return float(keras.ops.convert_to_numpy(variable))


def load_trained(folder: Path):
    """Load ``(model, card)`` from a model folder written by :func:`run`."""
    import keras

    import training.model  # noqa: F401  (registers the custom layers)

    folder = Path(folder)
    card = json.loads((folder / CARD_FILE).read_text())
    train = {**DEFAULT_TRAIN, **card.get("train", {})}
    weighted_bce(float(train["pos_weight"]))  # registers the loss for deserialisation
    model = keras.models.load_model(folder / MODEL_FILE, compile=False)
    return model, card
