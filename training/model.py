"""The CASIGLO CNN: a per-pixel line detector followed by a fixed "redshift comb".

On the model grid (constant step in log10 lambda) a redshift is a pure translation: line ``c`` at
redshift ``z`` sits at pixel ``offset_c + s`` with ``s = log10(1 + z) / DLOGLAM``. So the network

1. runs a few small 1-D convolutions over the preprocessed residual to get, for every pixel ``p`` and
   every line ``c``, a logit ``L(p, c)`` "line c is centred here";
2. reads ``L`` at the 12 lines' rest-pixel offsets for every trial shift ``s`` (static slices with
   linear interpolation for the fractional offsets: ONNX-friendly), giving ``C(s, c)``;
3. combines the 12 values per shift with a tiny per-shift MLP into a redshift logit, masked to shifts
   above the foreground redshift (the background source is always behind the lens);
4. a softmax over shifts is the redshift posterior; ``z_bg`` is its expectation in a small window around
   the peak, converted so that ``z_bg >= z_fg`` always; the line probabilities are ``C(s, c)`` read at
   the posterior (soft attention) and mixed with the best shift's evidence.

Outputs (by name): ``line_prob`` (batch, 12) in contract line order, ``z_bg`` (batch, 1), ``lens_prob``
(batch, 1) with its logit ``lens_logit``, and for training only ``shift_logp`` (batch, N_SHIFTS) the log posterior over shifts.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import keras
import numpy as np
from keras import layers, ops

from casiglo_gui.core import grid, lines

# Shifts a background source can take: [OII] 3727 (the bluest line) still on the grid.
REST_OFFSETS_PX: np.ndarray = (np.log10(lines.REST_WAVELENGTHS_A) - grid.LOGLAM0) / grid.DLOGLAM
N_SHIFTS = int(grid.N_PIXELS - math.floor(REST_OFFSETS_PX.min()))
MASKED_LOGIT = -1.0e4  # exp() of this is exactly 0 in float32, and it never overflows


@dataclass
class ModelConfig:
    """Hyper-parameters of the network (stored in the model card)."""

    conv_filters: list[int] = field(default_factory=lambda: [16, 16, 16])
    conv_kernel: int = 7
    conv_dilations: list[int] = field(default_factory=lambda: [1, 2, 4])
    comb_hidden: int = 16
    min_shift_px: float = 4.0  # below the generator's 5 px minimum z_bg offset: lines at z_fg are the lens's own
    z_window_px: int = 3
    # Input pixels within this many pixels of the 12 lines at z_fg are zeroed (0: no veto, as v1/v2).
    foreground_veto_px: float = 0.0

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def to_dict(self) -> dict:
        return asdict(self)


def shift_of_redshift(z: np.ndarray | float) -> np.ndarray:
    """Trial shift (pixels) at which the lines of redshift ``z`` sit: log10(1 + z) / DLOGLAM."""
    return np.log10(1.0 + np.asarray(z, dtype=np.float64)) / grid.DLOGLAM


@keras.saving.register_keras_serializable(package="casiglo")
class RedshiftComb(layers.Layer):
    """``C[b, s, c] = L[b, offset_c + s, c]`` for every trial shift ``s``, by linear interpolation.

    One weighted add over all lines, a transpose and a static slice per line: plain ONNX
    Mul/Add/Transpose/Slice.
    """

    def __init__(self, n_shifts: int = N_SHIFTS, **kwargs):
        super().__init__(**kwargs)
        self.n_shifts = int(n_shifts)
        self.floors = [int(math.floor(o)) for o in REST_OFFSETS_PX]
        self.fracs = [float(o - math.floor(o)) for o in REST_OFFSETS_PX]
        self.pad = max(0, max(self.floors) + 1 + self.n_shifts - grid.N_PIXELS)

    def call(self, line_map):
        # Beyond the red end there is no data: logit 0 there (neither evidence for nor against).
        padded = ops.pad(line_map, [[0, 0], [0, self.pad + 1], [0, 0]])
        # Interpolate all 12 channels at once on contiguous memory (per-line strided slices made the
        # elementwise ops half of the CPU inference time), then take one integer slice per line.
        frac = ops.convert_to_tensor(np.asarray(self.fracs, dtype="float32"))[None, None, :]
        interpolated = padded[:, :-1, :] * (1.0 - frac) + padded[:, 1:, :] * frac
        by_line = ops.transpose(interpolated, (0, 2, 1))  # (b, 12, P): each line's slice is contiguous
        columns = [by_line[:, c: c + 1, lo: lo + self.n_shifts] for c, lo in enumerate(self.floors)]
        return ops.transpose(ops.concatenate(columns, axis=1), (0, 2, 1))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n_shifts, lines.N_LINES)

    def get_config(self):
        return {**super().get_config(), "n_shifts": self.n_shifts}


@keras.saving.register_keras_serializable(package="casiglo")
class ForegroundShiftMask(layers.Layer):
    """Set the redshift logit of every shift at or below ``z_fg`` (+ a margin) to a huge negative."""

    def __init__(self, min_shift_px: float = 10.0, **kwargs):
        super().__init__(**kwargs)
        self.min_shift_px = float(min_shift_px)

    def call(self, shift_logit, z_fg):
        shifts = ops.cast(ops.arange(ops.shape(shift_logit)[1]), shift_logit.dtype)[None, :]
        s_fg = ops.log(1.0 + ops.cast(z_fg, shift_logit.dtype)) / (math.log(10.0) * grid.DLOGLAM)
        allowed = shifts > (s_fg + self.min_shift_px)
        return ops.where(allowed, shift_logit, MASKED_LOGIT)

    def get_config(self):
        return {**super().get_config(), "min_shift_px": self.min_shift_px}


@keras.saving.register_keras_serializable(package="casiglo")
class ForegroundLineVeto(layers.Layer):
    """Zero the input within ``veto_px`` pixels of the 12 lines at the foreground redshift.

    The foreground galaxy's own emission lines, imperfectly subtracted, otherwise line up with some
    trial shift's comb by coincidence and pass for a background source (they were the largest group of
    false positives of the unvetoed v2 at the 1% operating point). The physics search vetoes the same
    windows (``linesearch.FOREGROUND_VETO_PX``).
    """

    def __init__(self, veto_px: float = 10.0, **kwargs):
        super().__init__(**kwargs)
        self.veto_px = float(veto_px)

    def call(self, spectrum, z_fg):
        dtype = spectrum.dtype
        pixels = ops.cast(ops.arange(grid.N_PIXELS), dtype)[None, :, None]                    # (1, P, 1)
        s_fg = ops.log(1.0 + ops.cast(z_fg, dtype)) / (math.log(10.0) * grid.DLOGLAM)           # (b, 1)
        centres = ops.convert_to_tensor(REST_OFFSETS_PX.astype("float32"))[None, None, :] + s_fg[:, :, None]
        near = ops.cast(ops.abs(pixels - centres) <= self.veto_px, dtype)                     # (b, P, 12)
        return spectrum * (1.0 - ops.max(near, axis=-1))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "veto_px": self.veto_px}


@keras.saving.register_keras_serializable(package="casiglo")
class ShiftToRedshift(layers.Layer):
    """Posterior over shifts -> z_bg: expectation within +-window px of the peak; never below z_fg."""

    def __init__(self, window_px: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.window_px = int(window_px)

    def call(self, posterior, z_fg):
        dtype = posterior.dtype
        shifts = ops.cast(ops.arange(ops.shape(posterior)[1]), dtype)[None, :]
        # The peak without argmax (whose TF lowering uses Bitcast, which ONNX lacks); ties -> larger shift.
        is_peak = ops.cast(posterior >= ops.max(posterior, axis=1, keepdims=True), dtype)
        peak = ops.max(is_peak * shifts, axis=1, keepdims=True)
        near = ops.cast(ops.abs(shifts - peak) <= self.window_px, dtype)
        weights = posterior * near
        s_hat = ops.sum(weights * shifts, axis=1, keepdims=True) / (ops.sum(weights, axis=1, keepdims=True) + 1e-12)
        z_fg = ops.cast(z_fg, dtype)
        s_fg = ops.log(1.0 + z_fg) / (math.log(10.0) * grid.DLOGLAM)
        # z_bg = z_fg + (1 + z_fg) (10^(ds * DLOGLAM) - 1) with ds >= 0: the offset is never negative.
        ds = ops.relu(s_hat - s_fg)
        return z_fg + (1.0 + z_fg) * (ops.exp(ds * (math.log(10.0) * grid.DLOGLAM)) - 1.0)

    def get_config(self):
        return {**super().get_config(), "window_px": self.window_px}


def build_model(config: ModelConfig | None = None) -> keras.Model:
    """Build the training model (four outputs, see the module docstring).

    Parameters
    ----------
    config : ModelConfig, optional
        Hyper-parameters; defaults if omitted.

    Returns
    -------
    keras.Model
        Inputs ``spectrum`` (batch, N_PIXELS) float32 and ``z_fg`` (batch, 1) float32; outputs
        ``line_prob``, ``z_bg``, ``lens_prob``, ``shift_logp``.
    """
    config = config or ModelConfig()
    spectrum = keras.Input((grid.N_PIXELS,), name="spectrum", dtype="float32")
    z_fg = keras.Input((1,), name="z_fg", dtype="float32")

    x = spectrum
    if config.foreground_veto_px > 0:
        x = ForegroundLineVeto(config.foreground_veto_px, name="fg_veto")(spectrum, z_fg)
    x = layers.Reshape((grid.N_PIXELS, 1), name="channels")(x)
    for i, (filters, dilation) in enumerate(zip(config.conv_filters, config.conv_dilations)):
        x = layers.Conv1D(filters, config.conv_kernel, dilation_rate=dilation, padding="same",
                          activation="relu", name=f"conv{i}")(x)
    line_map = layers.Conv1D(lines.N_LINES, 1, name="line_map")(x)

    comb = RedshiftComb(name="comb")(line_map)                         # (b, S, 12)
    hidden = layers.Dense(config.comb_hidden, activation="relu", name="comb_hidden")(comb)
    shift_logit = layers.Reshape((N_SHIFTS,), name="shift_logit")(layers.Dense(1, name="comb_out")(hidden))
    masked = ForegroundShiftMask(config.min_shift_px, name="fg_mask")(shift_logit, z_fg)
    posterior = layers.Softmax(axis=-1, name="posterior")(masked)
    shift_logp = LogSoftmax(name="shift_logp")(masked)
    z_bg = ShiftToRedshift(config.z_window_px, name="z_bg")(posterior, z_fg)

    gathered = layers.Dot(axes=(1, 1), name="gather")([posterior, comb])   # (b, 12)
    best = layers.Reshape((1,), name="best_shift")(MaxOverShifts(name="best_logit")(masked))
    lens_logit = layers.Dense(1, name="lens_logit")(best)  # exported too: calibration works on logits
    lens_prob = layers.Activation("sigmoid", name="lens_prob")(lens_logit)
    features = layers.Concatenate(name="line_features")([gathered, lens_logit])
    line_prob = layers.Dense(lines.N_LINES, activation="sigmoid", name="line_prob")(features)

    return keras.Model(inputs={"spectrum": spectrum, "z_fg": z_fg},
                       outputs={"line_prob": line_prob, "z_bg": z_bg, "lens_prob": lens_prob,
                                "lens_logit": lens_logit, "shift_logp": shift_logp},
                       name="casiglo_cnn")


@keras.saving.register_keras_serializable(package="casiglo")
class LogSoftmax(layers.Layer):
    """Log posterior over shifts (training target for the redshift)."""

    def call(self, logits):
        return ops.log_softmax(logits, axis=-1)


@keras.saving.register_keras_serializable(package="casiglo")
class MaxOverShifts(layers.Layer):
    """Best redshift logit of each spectrum: the evidence that any background source is there."""

    def call(self, logits):
        return ops.max(logits, axis=-1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)


INFERENCE_OUTPUTS = ("line_prob", "z_bg", "lens_prob", "lens_logit")


def inference_model(model: keras.Model) -> keras.Model:
    """The exported model: same layers, without the training-only ``shift_logp`` output."""
    return keras.Model(inputs=model.input,
                       outputs={name: model.get_layer(name).output for name in INFERENCE_OUTPUTS},
                       name="casiglo_cnn_inference")
