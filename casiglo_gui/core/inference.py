"""Run the shipped CNN with onnxruntime (no TensorFlow), and combine it with the physics line search.

:class:`OnnxLineModel` loads an ONNX file written by ``casiglo-train export``, checks that its metadata
(grid, line keys, preprocessing version) match this program, and predicts line probabilities and z_bg.
:class:`CombinedDetector` is what ``casiglo scan`` and the app use: the CNN proposes z_bg and a lens
score, the physics least-squares fit refines z_bg and measures the per-line SNR where the score warrants it.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import grid, lines, preprocessing
from .detection import Detection, as_batch_of_one
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


@dataclass(frozen=True)
class Fusion:
    """Logistic fusion of the CNN with the physics measurement at the CNN's redshift.

    Lens score = sigmoid(w . [cnn lens logit, total line SNR, 1]); line ``c`` probability =
    sigmoid(v_c . [CNN line logit, fitted SNR of line c, 1]). Fitted on held-out synthetic spectra
    (``casiglo-train evaluate --calibrate``) and stored in the model's metadata.
    """

    score_weights: tuple[float, float, float]
    line_weights: tuple[tuple[float, float, float], ...]

    @classmethod
    def from_json(cls, text: str) -> "Fusion":
        d = json.loads(text)
        lw = tuple(tuple(float(v) for v in row) for row in d["line_weights"])
        if len(lw) != lines.N_LINES or any(len(r) != 3 for r in lw) or len(d["score_weights"]) != 3:
            raise ValueError("fusion weights have the wrong shape")
        return cls(tuple(float(v) for v in d["score_weights"]), lw)


def fusion_features(lens_logit: np.ndarray, line_prob: np.ndarray, snr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Features of :class:`Fusion`: (n, 2) for the lens score and (n, 12, 2) for the lines."""
    s = np.clip(np.nan_to_num(np.asarray(snr, np.float64), nan=0.0), -10.0, 30.0)
    total = np.sqrt(np.sum(np.maximum(s, 0.0) ** 2, axis=1))
    logit = np.clip(np.asarray(lens_logit, np.float64), -30.0, 30.0)
    p = np.clip(np.asarray(line_prob, np.float64), 1e-7, 1 - 1e-7)
    line_logit = np.log(p) - np.log1p(-p)
    return np.stack([logit, total], axis=1), np.stack([line_logit, s], axis=2)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


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
        self.fusion = _metadata_json(self.path, self.metadata, "combined_fusion", Fusion.from_json, None)
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


def line_snr_at(residual: np.ndarray, ivar: np.ndarray, z_bg: np.ndarray, sigma_px: float = 1.5) -> np.ndarray:
    """Matched-filter SNR of each of the 12 lines at fixed redshifts (fixed-width Gaussian), vectorised.

    A cheap measurement for spectra the full least-squares fit is not spent on. NaN where a line falls
    off the grid, on masked pixels only, or where ``z_bg`` is not finite.
    """
    residual = np.atleast_2d(np.asarray(residual, dtype=np.float64))
    ivar = np.atleast_2d(np.asarray(ivar, dtype=np.float64))
    z_bg = np.atleast_1d(np.asarray(z_bg, dtype=np.float64))
    half = int(math.ceil(4 * sigma_px))
    offsets = np.arange(-half, half + 1)
    zz = np.where(np.isfinite(z_bg), z_bg, 0.0)
    centre = grid.pixel_of_wavelength(lines.REST_WAVELENGTHS_A[None, :] * (1.0 + zz[:, None]))  # (n, 12)
    base = np.rint(centre).astype(np.int64)
    pix = base[..., None] + offsets                                   # (n, 12, w)
    inside = (pix >= 0) & (pix < grid.N_PIXELS)
    pixc = np.clip(pix, 0, grid.N_PIXELS - 1)
    rows = np.arange(residual.shape[0])[:, None, None]
    r = residual[rows, pixc]
    w = np.where(inside, ivar[rows, pixc], 0.0)
    g = np.exp(-0.5 * ((pix - centre[..., None]) / sigma_px) ** 2)
    num = np.sum(r * g * w, axis=-1)
    den = np.sum(g * g * w, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = np.where(den > 0, num / np.sqrt(den), np.nan)
    snr[~np.isfinite(z_bg)] = np.nan
    return snr


class CombinedDetector:
    """CNN proposal + physics refinement: the detector ``casiglo scan`` and the app use by default.

    Parameters
    ----------
    model : OnnxLineModel
        The CNN.
    physics : PhysicsDetector, optional
        Provides the least-squares refinement (``refine_redshift``); default ``PhysicsDetector()``.
    refine_above : float
        Refine z_bg (and measure the per-line SNR by the full fit) only where the calibrated lens score
        is at least this; elsewhere the SNR is a fixed-width matched filter at the CNN's z_bg. The fit
        costs ~1 ms per spectrum, about as much as the CNN; the calibrated score assumes half the
        spectra are lenses, so 0.3 still refits ~10% of ordinary SDSS/BOSS galaxies, and every spectrum
        near the 1% false-positive operating point (score ~0.9 on the synthetic test set).
    """

    name = "combined"

    def __init__(self, model: OnnxLineModel, physics=None, refine_above: float = 0.3):
        # refine_above applies to the CNN's calibrated score (before any fusion with the fit).
        if physics is None:
            from .physics import PhysicsDetector

            physics = PhysicsDetector()
        self.model = model
        self.physics = physics
        self.refine_above = float(refine_above)

    def detect(self, g) -> Detection:
        """One :class:`~casiglo_gui.core.spectrum.GriddedSpectrum` (see :meth:`detect_batch`)."""
        residual, ivar, z_fg, wdisp = as_batch_of_one(g)
        return self.detect_batch(residual, ivar, z_fg, wdisp=wdisp)[0]

    def detect_batch(self, residual: np.ndarray, ivar: np.ndarray, z_fg: np.ndarray,
                     wdisp: np.ndarray | None = None) -> list[Detection]:
        """Detect background lines in a batch of cleaned model-grid residuals.

        Parameters
        ----------
        residual, ivar : float32 arrays (n, N_PIXELS)
            From :func:`casiglo_gui.core.preprocessing.clean`.
        z_fg : float64 array (n,)
            Foreground redshifts. NaN is treated as 0 by the CNN.
        wdisp : float32 array (n, N_PIXELS), optional
            Instrumental dispersion (pixels), passed to the refinement.

        Returns
        -------
        list of Detection
            One per spectrum, ``detector="combined"``; ``score`` is the calibrated lens probability.
        """
        from .physics import refine_redshift

        residual = np.atleast_2d(np.asarray(residual, dtype=np.float32))
        ivar = np.atleast_2d(np.asarray(ivar, dtype=np.float32))
        z_fg = np.atleast_1d(np.asarray(z_fg, dtype=np.float64))
        if residual.shape != ivar.shape or residual.shape[1] != grid.N_PIXELS or z_fg.shape[0] != residual.shape[0]:
            raise ValueError(f"expected residual/ivar (n, {grid.N_PIXELS}) and z_fg (n,); got "
                             f"{residual.shape}, {ivar.shape}, {z_fg.shape}")
        x = preprocessing.network_input(residual, ivar)
        out = self.model.predict_raw(x, np.nan_to_num(z_fg, nan=0.0))
        score = self.model.lens_score(out["lens_logit"])
        z_cnn = out["z_bg"]
        snr = line_snr_at(residual, ivar, z_cnn)
        detections = []
        for i in range(residual.shape[0]):
            det = Detection(z_bg=float(z_cnn[i]), z_bg_err=float("nan"), score=float(score[i]),
                            n_lines=0, line_probability=out["line_prob"][i].astype(np.float64),
                            line_snr=snr[i].astype(np.float64), detector=self.name,
                            model_version=self.model.version)
            if score[i] >= self.refine_above:
                wd = None if wdisp is None else np.asarray(wdisp[i])
                fit = refine_redshift(residual[i], ivar[i], float(z_cnn[i]), wdisp=wd)
                if fit.success and (not np.isfinite(z_fg[i]) or fit.z_bg > z_fg[i]):
                    det.z_bg = float(fit.z_bg)
                    det.z_bg_err = float(fit.z_bg_err)
                    fitted = np.isfinite(fit.snr)
                    det.line_snr = np.where(fitted, fit.snr, det.line_snr)
                    det.line_amplitude = np.asarray(fit.amplitude, dtype=np.float64)
                    if np.any(fitted):
                        det.line_sigma_a = float(fit.sigma_a[int(np.nanargmax(np.where(fitted, fit.snr, np.nan)))])
            detections.append(det)
        fusion = self.model.fusion
        if fusion is not None and detections:
            score_x, line_x = fusion_features(out["lens_logit"], out["line_prob"],
                                              np.array([d.line_snr for d in detections]))
            w = np.asarray(fusion.score_weights)
            v = np.asarray(fusion.line_weights)                       # (12, 3)
            fused_score = _sigmoid(score_x @ w[:2] + w[2])
            fused_lines = _sigmoid(np.einsum("ncf,cf->nc", line_x, v[:, :2]) + v[:, 2])
            for det, sc, lp in zip(detections, fused_score, fused_lines):
                det.score = float(sc)
                det.line_probability = lp
        for det in detections:
            det.n_lines = int(np.sum((det.line_probability >= 0.5) & (np.nan_to_num(det.line_snr, nan=0.0) >= 3.0)))
        return detections
