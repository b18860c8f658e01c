"""Run the shipped CNN with onnxruntime (no TensorFlow).

:class:`OnnxLineModel` loads an ONNX file written by ``casiglo-train export``, checks that its metadata
(grid, line keys, preprocessing version) match this program, and predicts line probabilities and z_bg.
The detectors built on it (the CNN alone, and the default combined detector where the CNN proposes and
physics judges) are in :mod:`casiglo_gui.core.detectors`.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import grid, lines, preprocessing
from .errors import ModelMismatchError

MODEL_FILENAME = "casiglo-cnn-v3.onnx"
METADATA_FORMAT = "casiglo-onnx-1"
REQUIRED_INPUTS = ("spectrum", "z_fg")
REQUIRED_OUTPUTS = ("line_prob", "z_bg", "lens_prob", "lens_logit")
DEFAULT_BATCH = 8  # per onnxruntime call: casiglo-cnn-v3 takes 0.96 ms/spectrum at 8, 1.20 at 32, 1.43 at 128 (one thread;
# the activations of a small batch stay in cache): `benchmarks/bench_inference.py --threads 1`


def default_model_path() -> Path:
    """The shipped model: ``casiglo_gui/models/`` inside an installed package, else ``models/`` of the repo."""
    here = Path(__file__).resolve()
    candidates = [here.parent.parent / "models" / MODEL_FILENAME,        # package data (installed)
                  here.parent.parent.parent / "models" / MODEL_FILENAME]  # source checkout
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return candidates[-1]


@dataclass(frozen=True)
class LensCalibration:
    """Platt scaling of the CNN's lens logit into a probability: ``sigmoid(a * logit + b)``.

    Fitted on held-out synthetic spectra (see ``casiglo-train evaluate --calibrate``); ``lens_fraction``
    is the share of lenses in that set, i.e. the prior the probability assumes.
    """

    a: float = 1.0
    b: float = 0.0
    lens_fraction: float = 0.5

    def __call__(self, logit: np.ndarray) -> np.ndarray:
        z = self.a * np.asarray(logit, dtype=np.float64) + self.b
        return 0.5 * (1.0 + np.tanh(0.5 * z))  # = sigmoid, without overflow warnings

    @classmethod
    def from_json(cls, text: str) -> "LensCalibration":
        d = json.loads(text)
        return cls(float(d["a"]), float(d["b"]), float(d.get("lens_fraction", 0.5)))


class OnnxLineModel:
    """The CNN, run by onnxruntime.

    Parameters
    ----------
    path : str or Path
        ONNX file written by ``casiglo-train export``.
    threads : int
        onnxruntime intra-op threads (default 2, the target machine's cores).

    Raises
    ------
    ModelMismatchError
        If the file is not an ONNX model, lacks the CASIGLO metadata or named tensors, or was made for a
        different grid, line list or preprocessing.
    """

    def __init__(self, path: str | Path, threads: int = 2):
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise ModelMismatchError(self.path, "model file not found")
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(self.path), sess_options=options,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors on garbage
            raise ModelMismatchError(self.path, f"not a readable ONNX model ({type(exc).__name__}: "
                                                f"{str(exc).splitlines()[0][:200]})") from exc
        self.metadata: dict[str, str] = dict(self.session.get_modelmeta().custom_metadata_map)
        check_metadata(self.path, self.metadata)
        names_in = {i.name for i in self.session.get_inputs()}
        names_out = {o.name for o in self.session.get_outputs()}
        missing = [n for n in REQUIRED_INPUTS if n not in names_in] + \
                  [n for n in REQUIRED_OUTPUTS if n not in names_out]
        if missing:
            raise ModelMismatchError(self.path, f"model lacks the named tensors {missing}")
        self.version: str = self.metadata.get("model_version", "")
        cal = self.metadata.get("lens_score_calibration")
        self.calibration = _metadata_json(self.path, self.metadata, "lens_score_calibration",
                                          LensCalibration.from_json, LensCalibration())
        self.calibrated = cal is not None
        self.metrics: dict = _metadata_json(self.path, self.metadata, "metrics", _json_object, {})

    def predict_raw(self, x: np.ndarray, z_fg: np.ndarray, batch_size: int = DEFAULT_BATCH) -> dict[str, np.ndarray]:
        """All model outputs for network inputs ``x`` (n, N_PIXELS) and ``z_fg`` (n,), batched."""
        x = np.ascontiguousarray(np.atleast_2d(x), dtype=np.float32)  # also fixes big-endian FITS arrays
        z = np.ascontiguousarray(np.asarray(z_fg, dtype=np.float32).reshape(-1, 1))
        if x.shape[1] != grid.N_PIXELS or z.shape[0] != x.shape[0]:
            raise ValueError(f"expected x (n, {grid.N_PIXELS}) and z_fg (n,); got {x.shape} and {z.shape}")
        n = x.shape[0]
        out = {"line_prob": np.empty((n, lines.N_LINES), np.float32), "z_bg": np.empty(n, np.float64),
               "lens_prob": np.empty(n, np.float32), "lens_logit": np.empty(n, np.float32)}
        for start in range(0, n, batch_size):
            sl = slice(start, start + batch_size)
            res = self.session.run(list(REQUIRED_OUTPUTS), {"spectrum": x[sl], "z_fg": z[sl]})
            got = dict(zip(REQUIRED_OUTPUTS, res))
            out["line_prob"][sl] = got["line_prob"]
            out["z_bg"][sl] = got["z_bg"].reshape(-1)
            out["lens_prob"][sl] = got["lens_prob"].reshape(-1)
            out["lens_logit"][sl] = got["lens_logit"].reshape(-1)
        return out

    def predict(self, x: np.ndarray, z_fg: np.ndarray, batch_size: int = DEFAULT_BATCH) -> tuple[np.ndarray, np.ndarray]:
        """Line probabilities (n, 12) and z_bg (n,) for network inputs ``x`` and foreground redshifts ``z_fg``.

        ``x`` comes from :func:`casiglo_gui.core.preprocessing.network_input`.
        """
        out = self.predict_raw(x, z_fg, batch_size)
        return out["line_prob"], out["z_bg"]

    def lens_score(self, lens_logit: np.ndarray) -> np.ndarray:
        """Calibrated probability that the spectrum holds a background source."""
        return self.calibration(lens_logit)


def _metadata_json(path: Path, meta: dict[str, str], key: str, parse, default):
    """``parse(meta[key])`` (``default`` when the key is absent or empty); a value that is not the JSON
    expected (bad JSON, a missing field, a wrong type) refuses the model, so that callers fall back to
    physics-only with this message instead of failing on a traceback."""
    text = meta.get(key)
    if not text:
        return default
    try:
        return parse(text)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        what = f"missing field {exc}" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {exc}"
        raise ModelMismatchError(path, f"invalid {key} metadata ({what[:200]})") from None


def _json_object(text: str) -> dict:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise TypeError(f"expected a JSON object, found {type(value).__name__}")
    return value


def check_metadata(path: str | Path, meta: dict[str, str]) -> None:
    """Refuse a model whose metadata do not match this program's grid, lines and preprocessing.

    Raises
    ------
    ModelMismatchError
        Naming the file and the first mismatch found.
    """
    if meta.get("casiglo_format") != METADATA_FORMAT:
        raise ModelMismatchError(path, f"not a CASIGLO model (metadata casiglo_format="
                                       f"{meta.get('casiglo_format')!r}, expected {METADATA_FORMAT!r})")
    try:
        loglam0, dloglam, npix = float(meta["loglam0"]), float(meta["dloglam"]), int(meta["npix"])
    except (KeyError, ValueError) as exc:
        raise ModelMismatchError(path, f"model metadata lack a valid grid ({exc})") from exc
    if not (math.isclose(loglam0, grid.LOGLAM0, abs_tol=1e-9) and math.isclose(dloglam, grid.DLOGLAM, rel_tol=1e-9)
            and npix == grid.N_PIXELS):
        raise ModelMismatchError(path, f"model grid (loglam0={loglam0}, dloglam={dloglam}, npix={npix}) differs "
                                       f"from this program's ({grid.LOGLAM0}, {grid.DLOGLAM}, {grid.N_PIXELS})")
    keys = tuple(meta.get("line_keys", "").split(","))
    if keys != lines.LINE_KEYS:
        raise ModelMismatchError(path, f"model line keys {','.join(keys)!r} differ from this program's "
                                       f"{','.join(lines.LINE_KEYS)!r}")
    version = meta.get("preprocessing_version")
    if version != preprocessing.PREPROCESSING_VERSION:
        raise ModelMismatchError(path, f"model was trained with preprocessing {version!r}, this program uses "
                                       f"{preprocessing.PREPROCESSING_VERSION!r}")
