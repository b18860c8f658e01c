"""How bright must an [OII]-only source be before its doublet shape tells it from one lone line?

Usage:
    PYTHONPATH=. python benchmarks/oii_shape_limit.py

For each component width (Gaussian sigma in pixels of 1e-4 dex: instrument ~1.1 px plus the source's
velocity dispersion at 69 km/s per pixel), a noiseless [OII] 3727+3730 doublet (ratio 3730/3727 = 1.3,
exact separation) on unit white noise is fitted by the detector's own two models
(:func:`casiglo_gui.core.physics.doublet.doublet_gains`): the physical doublet and the best single
Gaussian of any width and centre. Noiseless, the chi^2 difference is the expected evidence; it grows as
the total SNR squared, so the table prints Delta chi^2 / SNR^2 and the total SNR at which the shape alone
gives Delta chi^2 = 9 and 25 (3 and 5 sigma). Below those SNRs a detector that must keep lone lines of
the same SNR below 1% cannot call an [OII]-only source from its spectrum alone.
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from casiglo_gui.core import grid  # noqa: E402
from casiglo_gui.core.physics.doublet import doublet_gains  # noqa: E402
from casiglo_gui.core.physics.linesearch import OII_SEPARATION_PX, REST_PIXEL  # noqa: E402
from casiglo_gui.core.physics.profiles import integrated_gaussian  # noqa: E402

KMS_PER_PX = 299792.458 * np.log(10) * grid.DLOGLAM
RATIO = 1.3
SHIFT_PX = 2000.3  # any position well inside the grid; a fractional part off the pixel grid


def delta_chi2_per_snr2(sigma_px: float) -> float:
    x = np.arange(grid.N_PIXELS, dtype=np.float64)
    centre = REST_PIXEL[0] + SHIFT_PX
    profile = integrated_gaussian(x - centre, sigma_px) + RATIO * integrated_gaussian(x - centre - OII_SEPARATION_PX, sigma_px)
    snr = np.sqrt(np.sum(profile ** 2))  # matched-filter SNR of the whole doublet on unit noise
    residual = (profile / snr * 100.0).astype(np.float32)[None]  # total SNR 100
    ivar = np.ones_like(residual)
    two, one = doublet_gains(residual, ivar, np.array([0]), np.array([SHIFT_PX]))
    return float(two[0] - one[0]) / 100.0 ** 2


def main() -> int:
    print("command: PYTHONPATH=. python benchmarks/oii_shape_limit.py")
    print(f"{'sigma px':>8s} {'sigma_v km/s':>12s} {'dchi2/SNR^2':>12s} {'SNR for dchi2=9':>16s} {'=25':>6s}")
    for sigma in (1.1, 1.3, 1.6, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5):
        ratio = delta_chi2_per_snr2(sigma)
        sigma_v = KMS_PER_PX * np.sqrt(max(sigma ** 2 - 1.1 ** 2, 0.0))
        need = (lambda target: np.sqrt(target / ratio) if ratio > 0 else np.inf)
        print(f"{sigma:8.1f} {sigma_v:12.0f} {ratio:12.5f} {need(9):16.0f} {need(25):6.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
