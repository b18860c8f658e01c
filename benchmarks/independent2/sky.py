"""Night sky: the idlspec2d sky-line list (air, converted to vacuum) over a sky continuum.

Every wavelength in ``skylines.dat`` is used, the commented-out ones too (the pipeline left those out of
its wavelength tweak for being blended or faint, not for being absent from the sky). Integrated line
intensities (1e-17 erg/s/cm^2 per fibre) follow a per-family scale with a per-spectrum log-normal scatter;
OH gets brighter to the red. The continuum is flat-ish with a blue rise for moonlight and a red rise for
the unresolved OH forest.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

import numpy as np

from .profiles import LineSet
from .spectral_lines import air_to_vacuum

SHARED_SKYLINES = "/work/shared/data/real/idlspec2d/skylines.dat"
REPO_SKYLINES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data",
                             "idlspec2d", "skylines.dat")
_ENTRY = re.compile(r"^[#\s]*(\d{4,5}\.\d+)\s+(.*)$")


def default_skylines_path() -> str:
    return SHARED_SKYLINES if os.path.exists(SHARED_SKYLINES) else os.path.normpath(REPO_SKYLINES)


@dataclass
class SkyLineList:
    vacuum_a: np.ndarray
    base_intensity: np.ndarray  # integrated, 1e-17 erg/s/cm^2
    broad: np.ndarray           # True for Na D (pressure-broadened street lamps)
    source: str

    @classmethod
    def load(cls, path: str | None = None) -> "SkyLineList":
        path = path or default_skylines_path()
        with open(path, encoding="ascii") as handle:
            rows = [_ENTRY.match(line) for line in handle]
        entries = [(float(m.group(1)), m.group(2)) for m in rows if m]
        if not entries:
            raise ValueError(f"{path}: no sky-line wavelengths found")
        air = np.array([w for w, _ in entries])
        names = [n for _, n in entries]
        order = np.argsort(air, kind="stable")
        vacuum = air_to_vacuum(air[order])
        names = [names[i] for i in order]
        base = np.array([_base_intensity(w, n) for w, n in zip(vacuum, names)])
        broad = np.array(["Na" in n for n in names])
        # The file is not sorted and names some lines twice (6604.13; 9439.65 and 9439.66): one line each.
        keep = np.r_[True, np.diff(vacuum) > 0.05]
        return cls(vacuum[keep], base[keep], broad[keep], os.path.abspath(path))


def _base_intensity(vacuum_a: float, name: str) -> float:
    if "O I" in name:
        return 900.0 if vacuum_a < 6000 else 250.0
    if "Hg" in name:
        return 120.0
    if "Na" in name:
        return 150.0
    # OH: the Meinel bands brighten to the red
    return 150.0 * (vacuum_a / 7000.0) ** 3


@dataclass
class Sky:
    continuum: np.ndarray
    lines: np.ndarray  # the line part alone (for sky-residual negatives)

    @property
    def total(self) -> np.ndarray:
        return self.continuum + self.lines


def draw_sky(rng: np.random.Generator, lines: SkyLineList, loglam: np.ndarray, wdisp_px: np.ndarray) -> Sky:
    """A sky spectrum (flux density per A) on ``loglam``, lines at the instrument's resolution."""
    lam = 10.0 ** loglam
    moon = rng.uniform(0.0, 1.0) ** 2
    continuum = (3.0 + 3.0 * moon * (lam / 4000.0) ** -2
                 + 4.0 / (1.0 + np.exp(-(lam - 7600.0) / 400.0))) * rng.uniform(0.7, 1.4)
    on = (lam[0] < lines.vacuum_a) & (lines.vacuum_a < lam[-1])
    line_set = LineSet(loglam)
    intensities = []
    for w, base, broad in zip(lines.vacuum_a[on], lines.base_intensity[on], lines.broad[on]):
        pixel = int(np.clip(np.searchsorted(lam, w), 0, lam.size - 1))
        sigma = float(wdisp_px[pixel]) * (3.0 if broad else 1.0)
        line_set.add(w, sigma)
        intensities.append(base * np.exp(rng.normal(0.0, 0.35)))
    return Sky(continuum, line_set.flux_density(np.asarray(intensities)))
