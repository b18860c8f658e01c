"""Pixels of the model grid affected by night-sky emission lines (vacuum wavelengths).

Sources (versioned data files in ``core/data``):
- ``skylines_MANGA.par`` (idlspec2d, D. Law 2014): wavelengths sampled ~1.1 A apart across every region
  where the sky spectrum peaks above threshold. Its centres match vacuum wavelengths (O I 5578.9,
  Hg I 4359.6, 5462.3), as expected for MaNGA data, so no air-to-vacuum conversion is applied.
- ``mangadap_badsky.par`` (MaNGA DAP): the 5570-5586 A artifact window around O I 5577 (vacuum).
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np

from . import grid

SKY_MASK_VERSION = "law2014+dapbadsky-0.8A"
# Half-width (Angstrom) around each listed sky wavelength: the list samples each line every ~1.1 A,
# so +-0.8 A leaves no gap between samples.
SKY_HALF_WIDTH_A = 0.8


def _read_par_rows(name: str, struct: str) -> list[list[str]]:
    text = resources.files(__package__).joinpath("data", name).read_text()
    return [line.split() for line in text.splitlines() if line.startswith(struct + " ")]


@lru_cache(maxsize=1)
def sky_line_wavelengths() -> np.ndarray:
    """Vacuum wavelengths (Angstrom) listed as sky-affected."""
    return np.array([float(row[1]) for row in _read_par_rows("skylines_MANGA.par", "SKYLINE")])


@lru_cache(maxsize=1)
def sky_windows() -> np.ndarray:
    """(n, 2) array of extra vacuum wavelength windows to mask (Angstrom)."""
    windows = []
    for row in _read_par_rows("mangadap_badsky.par", "DAPART"):
        lo, hi = (float(v) for v in " ".join(row).split("{")[1].split("}")[0].split())
        windows.append((lo, hi))
    return np.array(windows, dtype=np.float64).reshape(-1, 2)


@lru_cache(maxsize=1)
def sky_windows_on_grid() -> np.ndarray:
    """Boolean mask on the model grid of the artefact windows (masked whatever the sky looks like)."""
    lam = grid.WAVELENGTH_A
    mask = np.zeros(lam.shape, dtype=bool)
    for lo_a, hi_a in sky_windows():
        mask |= (lam >= lo_a) & (lam <= hi_a)
    mask.setflags(write=False)
    return mask


@lru_cache(maxsize=1)
def sky_mask_on_grid() -> np.ndarray:
    """Boolean mask on the model grid, True where a sky line may leave residuals."""
    lam = grid.WAVELENGTH_A
    lines = sky_line_wavelengths()
    idx = np.searchsorted(lines, lam)
    lo = lines[np.clip(idx - 1, 0, len(lines) - 1)]
    hi = lines[np.clip(idx, 0, len(lines) - 1)]
    mask = (np.abs(lam - lo) <= SKY_HALF_WIDTH_A) | (np.abs(lam - hi) <= SKY_HALF_WIDTH_A)
    mask |= sky_windows_on_grid()
    mask.setflags(write=False)
    return mask
