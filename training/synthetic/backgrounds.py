"""Backgrounds: foreground-subtracted residuals without lens lines, on the model grid.

Three sources (and a flat one for checks) behind one interface, ``draw(rng, n, config) -> (residual, ivar, z_fg)``:

- :class:`RealResidualBackground`: real SDSS/BOSS residuals (flux - foreground model) read with the app's
  readers and ``preprocessing.to_model_grid``; their outliers are cleaned as in the CASIGLO paper (rolling
  200 A window, pixels beyond 3 sigma replaced by a random value within +-sigma) unless real artifacts are
  kept as hard negatives; rescaled to random noise levels.
- :class:`PCABackground`: a PCA model of real residuals (significance) and their noise (log sigma), which
  draws unlimited new backgrounds; saved as ``.npz`` (no pickle).
- :class:`ParametricBackground`: throughput-shaped noise with the BOSS dichroic dip, night-sky lines
  lowering ivar, coverage edges; needs no data at all.

Masked pixels have ivar = 0. Arrays are float32 ``(n, N_PIXELS)``; z_fg is float64.
"""
from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from casiglo_gui.core import grid, preprocessing
from casiglo_gui.core.errors import CasigloError
from casiglo_gui.core.readers import read_spectra
from casiglo_gui.core.skymask import sky_line_wavelengths

from .config import SyntheticConfig

log = logging.getLogger(__name__)
REAL_DATA_DIRS = (Path("/work/shared/data/real/sdss_spec"),)
TESTS_DATA_DIR = Path(__file__).resolve().parents[2] / "tests" / "data" / "sdss"
CLIP_WINDOW_A = 200.0
CLIP_NSIGMA = 3.0
CLIP_PASSES = 3
PCA_FORMAT = "casiglo-pca-background-1"


class BackgroundSource:
    """Interface: something that draws ``n`` background residuals on the model grid."""

    kind: str = "abstract"

    def draw(self, rng: np.random.Generator, n: int, config: SyntheticConfig | None = None
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``residual`` (n, N_PIXELS) float32, ``ivar`` (n, N_PIXELS) float32 (0 = masked) and
        ``z_fg`` (n,) float64."""
        raise NotImplementedError


def _combine(coefficients: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """coefficients (n, k) x basis (k, N_PIXELS). einsum rather than BLAS: no worker threads competing for
    the cores, and the same summation order in every process (same seed, same data)."""
    return np.einsum("nk,kp->np", coefficients, basis)


def _draw_z_fg(rng: np.random.Generator, n: int, config: SyntheticConfig) -> np.ndarray:
    return rng.uniform(*config.z_fg_range, n).astype(np.float64)


# ------------------------------------------------------------------------------------------------ flat
class FlatBackground(BackgroundSource):
    """Constant ivar and optionally no noise at all: for checks of line placement and SNR, and figures."""

    kind = "flat"

    def __init__(self, ivar: float = 1.0, noise: bool = False, z_fg: float | None = None):
        self.ivar_value = float(ivar)
        self.noise = bool(noise)
        self.z_fg = z_fg

    def draw(self, rng, n, config=None):
        config = config or SyntheticConfig()
        ivar = np.full((n, grid.N_PIXELS), self.ivar_value, dtype=np.float32)
        if self.noise:
            residual = rng.standard_normal((n, grid.N_PIXELS), dtype=np.float32) / np.float32(np.sqrt(self.ivar_value))
        else:
            residual = np.zeros((n, grid.N_PIXELS), dtype=np.float32)
        z_fg = np.full(n, self.z_fg) if self.z_fg is not None else _draw_z_fg(rng, n, config)
        return residual, ivar, z_fg


# ----------------------------------------------------------------------------------------- parametric
@lru_cache(maxsize=1)
def sky_template() -> np.ndarray:
    """Night-sky line strength on the model grid (0..1): the listed sky wavelengths convolved with ~1.5 px."""
    lam = grid.WAVELENGTH_A
    template = np.zeros(grid.N_PIXELS)
    pix = grid.pixel_of_wavelength(sky_line_wavelengths())
    pix = pix[(pix > -5) & (pix < grid.N_PIXELS + 5)]
    idx = np.arange(grid.N_PIXELS)
    for p in pix:  # once per process, a few thousand entries
        lo, hi = max(int(p) - 6, 0), min(int(p) + 7, grid.N_PIXELS)
        template[lo:hi] += np.exp(-0.5 * ((idx[lo:hi] - p) / 1.5) ** 2)
    # OH bands get brighter to the red; weight by wavelength so the red end dominates as in real spectra.
    template *= (lam / 6000.0) ** 2
    template /= template.max()
    template.setflags(write=False)
    return template


def _throughput_basis() -> np.ndarray:
    lam = grid.WAVELENGTH_A
    x = (lam - 6500.0) / 3000.0
    blue = -np.exp(-(lam - 3600.0) / 350.0)
    red = -np.exp((lam - 10400.0) / 700.0)
    dichroic = -np.exp(-0.5 * ((lam - 6000.0) / 80.0) ** 2)  # BOSS/SDSS dichroic crossover
    return np.stack([np.ones_like(x), x, x ** 2, blue, red, dichroic]).astype(np.float32)


class ParametricBackground(BackgroundSource):
    """Gaussian noise with a realistic ivar shape; no data needed.

    ivar = 10**level x throughput(lambda)**2 / (1 + a x sky(lambda)), where the throughput has blue and red
    fall-offs and a dip at the ~6000 A dichroic, and sky(lambda) is :func:`sky_template`. Coverage is
    SDSS-like (3800-9200 A) or BOSS-like (3600-10400 A) with jittered edges.
    """

    kind = "parametric"

    def __init__(self, ivar_level_dex: tuple[float, float] = (-0.5, 1.5)):
        self.ivar_level_dex = ivar_level_dex
        self._basis = _throughput_basis()
        strengths = np.geomspace(5.0, 60.0, 24)
        self._log_sky = np.log1p(strengths[:, None] * sky_template()[None, :]).astype(np.float32)

    def _log_ivar(self, rng: np.random.Generator, n: int) -> np.ndarray:
        coeff = np.column_stack([
            rng.uniform(*self.ivar_level_dex, n) * np.log(10.0),
            rng.normal(0, 0.15, n), rng.normal(0, 0.1, n),
            rng.uniform(1.0, 3.0, n), rng.uniform(1.0, 3.0, n), rng.uniform(0.1, 0.6, n),
        ]).astype(np.float32)
        log_ivar = _combine(coeff, self._basis)
        # Sky strength a comes from a fixed ladder of values so log(1 + a sky) is tabulated, not recomputed.
        log_ivar -= self._log_sky[rng.integers(0, self._log_sky.shape[0], n)]
        return log_ivar

    def _coverage(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        boss = rng.random(n) < 0.5
        lo_a = np.where(boss, 3600.0, 3800.0) + rng.uniform(0, 60, n)
        hi_a = np.where(boss, 10400.0, 9200.0) - rng.uniform(0, 100, n)
        return np.searchsorted(grid.WAVELENGTH_A, lo_a), np.searchsorted(grid.WAVELENGTH_A, hi_a)

    def draw(self, rng, n, config=None):
        config = config or SyntheticConfig()
        log_ivar = self._log_ivar(rng, n)
        lo, hi = self._coverage(rng, n)
        residual = rng.standard_normal((n, grid.N_PIXELS), dtype=np.float32)
        # One exp for both: sigma = ivar**-0.5, and ivar = 1 / sigma**2 costs a multiply, not a second exp.
        sigma = np.exp(np.multiply(log_ivar, np.float32(-0.5), out=log_ivar), out=log_ivar)
        residual *= sigma
        ivar = np.reciprocal(np.multiply(sigma, sigma, out=sigma), out=sigma)
        for i in range(n):  # two slice assignments per row: cheaper than full-size boolean masks
            ivar[i, :lo[i]] = 0.0
            ivar[i, hi[i]:] = 0.0
            residual[i, :lo[i]] = 0.0
            residual[i, hi[i]:] = 0.0
        return residual, ivar, _draw_z_fg(rng, n, config)


# ----------------------------------------------------------------------------------------------- real
def rolling_sigma_clip(residual: np.ndarray, ivar: np.ndarray, rng: np.random.Generator,
                       window_a: float = CLIP_WINDOW_A, nsigma: float = CLIP_NSIGMA, passes: int = CLIP_PASSES
                       ) -> tuple[np.ndarray, np.ndarray]:
    """The paper's outlier cleaning: in a rolling ``window_a`` window, pixels beyond ``nsigma`` sigma are
    replaced by a random value within +-sigma of the window mean.

    Applied to the significance residual x sqrt(ivar) rather than the raw flux, so that pixels that are
    merely noisier (low ivar near sky lines) are not mistaken for features; repeated ``passes`` times
    because a strong feature inflates its own window's sigma. Works on one spectrum.

    Returns
    -------
    residual : ndarray
        Cleaned copy (float32).
    replaced : ndarray of bool
        Pixels that were replaced.
    """
    good = ivar > 0
    chi = np.where(good, residual * np.sqrt(np.maximum(ivar, 0)), 0.0).astype(np.float64)
    half = np.maximum(np.rint(0.5 * window_a / (grid.WAVELENGTH_A * grid.LN10 * grid.DLOGLAM)), 1).astype(int)
    idx = np.arange(chi.size)
    lo = np.clip(idx - half, 0, chi.size)
    hi = np.clip(idx + half + 1, 0, chi.size)
    c0 = np.concatenate([[0], np.cumsum(good)])
    count = np.maximum(c0[hi] - c0[lo], 1)
    replaced = np.zeros(chi.size, dtype=bool)
    for _ in range(passes):
        c1 = np.concatenate([[0], np.cumsum(chi)])
        c2 = np.concatenate([[0], np.cumsum(chi ** 2)])
        mean = (c1[hi] - c1[lo]) / count
        std = np.sqrt(np.maximum((c2[hi] - c2[lo]) / count - mean ** 2, 1e-12))
        outlier = good & (np.abs(chi - mean) > nsigma * std)
        if not outlier.any():
            break
        chi[outlier] = mean[outlier] + rng.uniform(-1.0, 1.0, int(outlier.sum())) * std[outlier]
        replaced |= outlier
    out = np.array(residual, dtype=np.float32, copy=True)
    out[replaced] = (chi[replaced] / np.sqrt(ivar[replaced])).astype(np.float32)
    return out, replaced


def default_real_paths() -> list[Path]:
    """Real spec files to use by default: the shared SDSS/BOSS set when present, else the tests' files."""
    env = os.environ.get("CASIGLO_REAL_BACKGROUNDS")
    dirs = [Path(p) for p in env.split(os.pathsep)] if env else list(REAL_DATA_DIRS)
    found: list[Path] = []
    for d in dirs:
        if d.is_dir():
            found.extend(sorted(d.rglob("spec-*.fits")))
    return found or sorted(TESTS_DATA_DIR.glob("spec-*.fits"))


class RealResidualBackground(BackgroundSource):
    """Real foreground-subtracted residuals, cleaned once at load, drawn with replacement.

    Parameters
    ----------
    residual, ivar : (m, N_PIXELS) float32
        Cleaned model-grid residuals (``preprocessing.to_model_grid``).
    z_fg : (m,) float64
        Their foreground redshifts.
    artifacts : (m, N_PIXELS) float32, optional
        What the 3-sigma cleaning removed (raw - cleaned); added back when ``keep_real_artifacts``.
    names : list of str
        Object ids, for provenance.
    """

    kind = "real"

    def __init__(self, residual, ivar, z_fg, artifacts=None, names=None):
        self.residual = np.ascontiguousarray(residual, dtype=np.float32)
        self.ivar = np.ascontiguousarray(ivar, dtype=np.float32)
        self.z_fg = np.asarray(z_fg, dtype=np.float64)
        self.artifacts = (np.zeros_like(self.residual) if artifacts is None
                          else np.ascontiguousarray(artifacts, dtype=np.float32))
        self.names = list(names) if names is not None else [str(i) for i in range(len(self.z_fg))]
        self.skipped: list[str] = []
        if len(self.z_fg) == 0:
            raise ValueError("no real residuals to draw from")

    def __len__(self) -> int:
        return len(self.z_fg)

    @classmethod
    def from_files(cls, paths=None, seed: int = 0, max_files: int | None = None,
                   clip_nsigma: float = CLIP_NSIGMA) -> "RealResidualBackground":
        """Read spec files (or folders of them) with the app's readers; unreadable ones are skipped and
        listed in ``.skipped`` (also logged).

        Spectra without a foreground model, or too few good pixels, are skipped: they have no residual.
        ``clip_nsigma`` is the outlier threshold of the rolling cleaning (paper: 3; note that 3 also trims
        the normal tails of pure noise, a higher value keeps them).
        """
        if paths is None:
            files = default_real_paths()
        else:
            files = []
            for p in ([paths] if isinstance(paths, (str, Path)) else paths):
                p = Path(p)
                files.extend(sorted(p.rglob("spec-*.fits")) if p.is_dir() else [p])
        if max_files is not None:
            files = files[:max_files]
        rng = np.random.default_rng(seed)
        res, iv, art, zs, names, skipped = [], [], [], [], [], []
        for path in files:
            try:
                spectra = read_spectra(str(path))
            except (CasigloError, OSError, ValueError) as exc:
                skipped.append(f"{path}: {exc}")
                continue
            for spec in spectra:
                if spec.model is None or not np.isfinite(spec.z_fg):
                    skipped.append(f"{path}: no foreground model or redshift")
                    continue
                g = preprocessing.to_model_grid(spec)
                if np.count_nonzero(g.ivar > 0) < 1000:
                    skipped.append(f"{path}: fewer than 1000 good pixels")
                    continue
                cleaned, _ = rolling_sigma_clip(g.residual, g.ivar, rng, nsigma=clip_nsigma)
                res.append(cleaned)
                iv.append(g.ivar)
                art.append(g.residual - cleaned)
                zs.append(float(spec.z_fg))
                names.append(spec.object_id)
        for reason in skipped:
            log.info("real background skipped: %s", reason)
        if not res:
            raise ValueError(f"none of {len(files)} file(s) gave a usable residual")
        source = cls(np.stack(res), np.stack(iv), np.array(zs), np.stack(art), names)
        source.skipped = skipped
        return source

    def draw(self, rng, n, config=None):
        config = config or SyntheticConfig()
        pick = rng.integers(0, len(self), n)
        residual = self.residual[pick]
        if config.keep_real_artifacts:
            residual += self.artifacts[pick]
        scale = (10.0 ** rng.uniform(-config.noise_scale_dex, config.noise_scale_dex, n)).astype(np.float32)
        residual *= scale[:, None]
        ivar = self.ivar[pick] / (scale * scale)[:, None]
        z_random = _draw_z_fg(rng, n, config)
        if config.real_z_fg_mode == "file":
            z_fg = self.z_fg[pick]
        elif config.real_z_fg_mode == "random":
            z_fg = z_random
        else:
            z_fg = np.where(rng.random(n) < 0.5, self.z_fg[pick], z_random)
        return residual, ivar, z_fg


# ------------------------------------------------------------------------------------------------ PCA
def _fill_gaps(values: np.ndarray, good: np.ndarray) -> np.ndarray:
    x = np.arange(values.size)
    return np.interp(x, x[good], values[good])


class PCABackground(BackgroundSource):
    """Draws new backgrounds from a PCA of real residuals (significance) and of their log noise.

    significance = mean + sum_k c_k e_k + white noise with the per-pixel variance the components leave;
    log sigma = mean + sum_k d_k f_k; coefficients are Gaussian with the fitted variances; coverage edges
    are copied from a random training spectrum.
    """

    kind = "pca"
    ARRAYS = ("chi_mean", "chi_components", "chi_coeff_std", "chi_white_std",
              "logsig_mean", "logsig_components", "logsig_coeff_std", "coverage_lo", "coverage_hi")

    def __init__(self, **arrays):
        missing = [k for k in self.ARRAYS if k not in arrays]
        if missing:
            raise ValueError(f"PCA background lacks {missing}")
        for key in self.ARRAYS:
            setattr(self, key, np.asarray(arrays[key]))
        self.chi_components = self.chi_components.astype(np.float32)
        self.logsig_components = self.logsig_components.astype(np.float32)

    @classmethod
    def fit(cls, real: RealResidualBackground, n_components: int = 16) -> "PCABackground":
        """Fit on the residuals and ivar of ``real`` (cleaned, without artifacts)."""
        good = real.ivar > 0
        m = len(real)
        k = max(1, min(n_components, m - 1))
        logsig = np.empty((m, grid.N_PIXELS))
        lo = np.empty(m, dtype=np.int64)
        hi = np.empty(m, dtype=np.int64)
        for i in range(m):
            ls = -0.5 * np.log(np.where(good[i], real.ivar[i], 1.0))
            logsig[i] = _fill_gaps(ls, good[i])
            where = np.flatnonzero(good[i])
            lo[i], hi[i] = where[0], where[-1] + 1
        chi = np.where(good, real.residual * np.sqrt(np.maximum(real.ivar, 0)), 0.0).astype(np.float64)
        chi_mean = chi.sum(0) / np.maximum(good.sum(0), 1)
        centred = np.where(good, chi - chi_mean, 0.0)
        _, s, vt = np.linalg.svd(centred, full_matrices=False)
        comps = vt[:k]
        coeff = centred @ comps.T
        left = centred - coeff @ comps
        white = np.sqrt(np.sum(left ** 2, 0) / np.maximum(good.sum(0), 1))
        white = np.where(good.sum(0) > 0, np.maximum(white, 0.3), 1.0)
        ls_mean = logsig.mean(0)
        _, _, vt2 = np.linalg.svd(logsig - ls_mean, full_matrices=False)
        ls_comps = vt2[:k]
        ls_coeff = (logsig - ls_mean) @ ls_comps.T
        return cls(chi_mean=chi_mean.astype(np.float32), chi_components=comps, chi_coeff_std=coeff.std(0),
                   chi_white_std=white.astype(np.float32), logsig_mean=ls_mean.astype(np.float32),
                   logsig_components=ls_comps, logsig_coeff_std=ls_coeff.std(0),
                   coverage_lo=lo, coverage_hi=hi)

    def save(self, path) -> None:
        """Write the model as ``.npz`` (plain arrays only)."""
        np.savez(path, format=np.array(PCA_FORMAT), **{k: getattr(self, k) for k in self.ARRAYS})

    @classmethod
    def load(cls, path) -> "PCABackground":
        """Read a model written by :meth:`save` (``allow_pickle=False``)."""
        with np.load(path, allow_pickle=False) as data:
            fmt = str(data["format"]) if "format" in data.files else ""
            if fmt != PCA_FORMAT:
                raise ValueError(f"{path}: not a PCA background model (format {fmt!r}, expected {PCA_FORMAT!r})")
            return cls(**{k: data[k] for k in cls.ARRAYS})

    def draw(self, rng, n, config=None):
        config = config or SyntheticConfig()
        k = self.chi_components.shape[0]
        c = (rng.standard_normal((n, k)) * self.chi_coeff_std).astype(np.float32)
        chi = _combine(c, self.chi_components)
        chi += self.chi_mean
        chi += rng.standard_normal((n, grid.N_PIXELS), dtype=np.float32) * self.chi_white_std
        d = (rng.standard_normal((n, k)) * self.logsig_coeff_std).astype(np.float32)
        logsig = _combine(d, self.logsig_components)
        logsig += self.logsig_mean
        logsig += np.float32(np.log(10.0) * 0.5) * rng.uniform(-1, 1, n).astype(np.float32)[:, None]
        chi *= np.exp(logsig)
        residual = chi
        logsig *= np.float32(-2.0)
        ivar = np.exp(logsig, out=logsig)
        pick = rng.integers(0, len(self.coverage_lo), n)
        for i, (lo, hi) in enumerate(zip(self.coverage_lo[pick], self.coverage_hi[pick])):
            ivar[i, :lo] = 0.0  # two slices per row: cheaper than full-size boolean masks
            ivar[i, hi:] = 0.0
            residual[i, :lo] = 0.0
            residual[i, hi:] = 0.0
        return residual, ivar, _draw_z_fg(rng, n, config)
