"""Running (moving-window) minimum in plain NumPy, the same numbers as ``scipy.ndimage.minimum_filter1d``.

Why not scipy: importing ``scipy.ndimage`` costs 0.1-0.4 s (its array-API dispatch layer), paid by the app
before its first spectrum only for this one filter. A minimum is exact, so any algorithm gives the same
floats; this one is van Herk / Gil-Werman: per block of ``size`` samples a forward and a backward running
minimum, then each window's minimum is the smaller of one suffix and one prefix (3 passes, any ``size``).
"""
from __future__ import annotations

import numpy as np


def running_minimum(values: np.ndarray, size: int) -> np.ndarray:
    """Minimum over a window of ``size`` samples along the last axis, centred as scipy centres it
    (``size // 2`` samples before, the rest after), edges extended with the edge value (scipy's
    ``mode="nearest"``). For finite values; works on any leading batch shape; returns the input's dtype."""
    values = np.asarray(values)
    if size < 1:
        raise ValueError(f"window size must be at least 1, not {size}")
    n = values.shape[-1]
    before = size // 2
    n_blocks = -(-(n + size - 1) // size)
    padded_length = n_blocks * size
    pad = [(0, 0)] * (values.ndim - 1) + [(before, padded_length - n - before)]
    # Edge values beyond the data: the extension scipy's "nearest" uses (the padding past the last window,
    # which only completes the last block, is never read).
    extended = np.pad(values, pad, mode="edge")
    blocks = extended.reshape(*values.shape[:-1], n_blocks, size)
    prefix = np.minimum.accumulate(blocks, axis=-1).reshape(extended.shape)
    suffix = np.minimum.accumulate(blocks[..., ::-1], axis=-1)[..., ::-1].reshape(extended.shape)
    # Window j covers extended[j : j + size]: the suffix of its first block and the prefix of the next.
    return np.minimum(suffix[..., :n], prefix[..., size - 1: size - 1 + n])
