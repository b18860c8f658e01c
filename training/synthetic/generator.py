"""Batches of synthetic spectra with labels, model-ready, reproducible by seed.

A batch is generated as a whole with array operations (no per-spectrum Python loop): draw backgrounds,
add the features of each kind (lens lines at z_bg, foreground emission at z_fg, an isolated line, sky
residuals, cosmic rays, foreground mismatch), then run the app's own ``preprocessing.clean`` and
``preprocessing.network_input`` on the final spectra.

Reproducibility: data are made in fixed-size chunks; chunk ``k`` of seed ``s`` uses
``SeedSequence(s, spawn_key=(k,))``, so the same seed gives the same spectra however many processes
share the chunks.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from casiglo_gui.core import grid, preprocessing
from casiglo_gui.core import lines as L
from casiglo_gui.core.skymask import sky_mask_on_grid

from . import negatives, profiles
from .backgrounds import (BackgroundSource, FlatBackground, ParametricBackground, PCABackground,
                          RealResidualBackground)
from .config import BACKGROUND_KINDS, KIND_CODE, KINDS, SyntheticConfig, as_config
from .distributions import draw_line_width, draw_oii_ratio, draw_snr, draw_z_ratio, intrinsic_sigma_a

CHUNK_SIZE = 256
STREAM_KEY = 1_000_003  # spawn-key prefix that keeps stream batches apart from generate() chunks
# A line counts as present when at least this fraction of its flux falls on good pixels.
MIN_VISIBLE_FRACTION = 0.5
# Physically tied pairs: (primary, partner); partner flux = primary flux / ratio.
TIED_PAIRS = (("oiii_5008", "oiii_4960"), ("nii_6585", "nii_6550"), ("halpha", "hbeta"), ("oii_3727", "oii_3730"))
# Case-B Balmer flux ratios to H-beta (Osterbrock & Ferland 2006, 10^4 K; the values core/physics/ratios.py
# checks) and the Cardelli, Clayton & Mathis (1989, R_V = 3.1) extinction k(lambda) of each line: dust that
# raises H-alpha/H-beta to 2.86 d lowers H-gamma/H-beta by d^-(k_g - k_b)/(k_b - k_a), and H-delta likewise.
BALMER_TO_HBETA_CASE_B = {"hgamma": 0.468, "hdelta": 0.259}
BALMER_EXTINCTION_K = {"halpha": 2.53, "hbeta": 3.61, "hgamma": 4.17, "hdelta": 4.44}
# Blue to red along the Balmer series, so that a chain of additions completes in one pass.
WEAKER_TO_STRONGER = (("oiii_4960", "oiii_5008"), ("nii_6550", "nii_6585"), ("hdelta", "hgamma"),
                      ("hgamma", "hbeta"), ("hbeta", "halpha"))
OII_DOUBLET = np.isin(np.arange(L.N_LINES), [L.LINE_INDEX["oii_3727"], L.LINE_INDEX["oii_3730"]])
LENS, EMPTY, FG_EMISSION, SINGLE_LINE, SKY_RESIDUAL, COSMIC_RAY, FG_MISMATCH = (KIND_CODE[k] for k in KINDS)


@dataclass
class SyntheticBatch:
    """A batch of synthetic spectra on the model grid and their truth.

    Attributes
    ----------
    residual, ivar : (n, N_PIXELS) float32
        After ``preprocessing.clean`` (ivar = 0 on masked pixels).
    mask : (n, N_PIXELS) bool
        True = masked.
    x : (n, N_PIXELS) float32
        ``preprocessing.network_input(residual, ivar)``: what the CNN sees.
    z_fg, z_bg : (n,) float64
        z_bg is NaN when there is no background source.
    line_present : (n, 12) bool
        Lens lines injected on good pixels (contract order of ``casiglo_gui.core.lines``).
    line_snr : (n, 12) float32
        Their matched-filter SNR (0 where absent).
    line_sigma_a : (n, 12) float32
        Their observed Gaussian sigma in Angstrom (intrinsic and instrumental in quadrature; 0 where absent).
    kind : (n,) int8
        Index into ``KINDS``.
    background : (n,) int8
        Index into ``BACKGROUND_KINDS``.
    """

    residual: np.ndarray
    ivar: np.ndarray
    mask: np.ndarray
    x: np.ndarray
    z_fg: np.ndarray
    z_bg: np.ndarray
    line_present: np.ndarray
    line_snr: np.ndarray
    line_sigma_a: np.ndarray
    kind: np.ndarray
    background: np.ndarray

    @property
    def is_lens(self) -> np.ndarray:
        return self.kind == LENS

    def __len__(self) -> int:
        return int(self.kind.shape[0])

    @staticmethod
    def concatenate(batches: list["SyntheticBatch"]) -> "SyntheticBatch":
        return SyntheticBatch(**{f.name: np.concatenate([getattr(b, f.name) for b in batches])
                                 for f in fields(SyntheticBatch)})

    def subset(self, index) -> "SyntheticBatch":
        return SyntheticBatch(**{f.name: getattr(self, f.name)[index] for f in fields(SyntheticBatch)})


# --------------------------------------------------------------------------------------- backgrounds
_BUILT_SOURCES: dict = {}


def sources_from_config(config: SyntheticConfig) -> dict[str, BackgroundSource]:
    """The sources named in ``config.background_sources``, built once per process (reading real files
    takes seconds) and cached."""
    key = (tuple(config.background_sources), config.real_dirs, config.pca_model, config.real_clip_nsigma)
    if key not in _BUILT_SOURCES:
        sources: dict[str, BackgroundSource] = {}
        real = None
        if "real" in key[0] or ("pca" in key[0] and not config.pca_model):
            real = RealResidualBackground.from_files(list(config.real_dirs) if config.real_dirs else None,
                                                     clip_nsigma=config.real_clip_nsigma)
        for kind in key[0]:
            if kind == "parametric":
                sources[kind] = ParametricBackground()
            elif kind == "real":
                sources[kind] = real
            elif kind == "pca":
                sources[kind] = PCABackground.load(config.pca_model) if config.pca_model else PCABackground.fit(real)
            elif kind == "flat":
                sources[kind] = FlatBackground()
        _BUILT_SOURCES[key] = sources
    return _BUILT_SOURCES[key]


def resolve_backgrounds(backgrounds, config: SyntheticConfig | None = None) -> dict[str, BackgroundSource]:
    """Accept None (the config's ``background_sources``), one source, a list of sources or a {kind: source} dict."""
    if backgrounds is None:
        return sources_from_config(as_config(config))
    if isinstance(backgrounds, BackgroundSource):
        return {backgrounds.kind: backgrounds}
    if isinstance(backgrounds, dict):
        return dict(backgrounds)
    return {b.kind: b for b in backgrounds}


def _draw_backgrounds(rng, n, config, sources):
    kinds = [k for k in BACKGROUND_KINDS if k in sources]
    weights = np.array([max(config.background_weights.get(k, 0.0), 0.0) for k in kinds])
    if weights.sum() <= 0:
        weights = np.ones(len(kinds))
    counts = rng.multinomial(n, weights / weights.sum())
    residual = np.empty((n, grid.N_PIXELS), dtype=np.float32)
    ivar = np.empty((n, grid.N_PIXELS), dtype=np.float32)
    z_fg = np.empty(n, dtype=np.float64)
    code = np.empty(n, dtype=np.int8)
    order = rng.permutation(n)
    start = 0
    for k, c in zip(kinds, counts):
        if c == 0:
            continue
        rows = order[start:start + c]
        residual[rows], ivar[rows], z_fg[rows] = sources[k].draw(rng, int(c), config)
        code[rows] = BACKGROUND_KINDS.index(k)
        start += c
    return residual, ivar, z_fg, code


# ------------------------------------------------------------------------------------------- lines
def line_stamps(rows, z, width, lsf_px, config):
    """Stamps of all 12 lines for each row at redshift ``z`` (one per row) of galaxies of intrinsic
    widths ``width`` (:func:`distributions.draw_line_width`). Returns pixels, profiles and per-pixel flux
    fractions shaped (len(rows), 12, W), and the observed sigmas (len(rows), 12)."""
    centre = L.REST_WAVELENGTHS_A[None, :] * (1.0 + np.asarray(z, dtype=np.float64))[:, None]
    sigma = profiles.total_sigma_a(centre, intrinsic_sigma_a(width, centre, config), np.asarray(lsf_px)[:, None])
    pixels, prof, mass = profiles.stamps(centre.ravel(), sigma.ravel(), return_mass=True,
                                         half_width=stamp_half_width(centre, sigma, config))
    m = len(rows)
    shape = (m, L.N_LINES, pixels.shape[1])
    return pixels.reshape(shape), prof.reshape(shape), mass.reshape(shape), sigma


def stamp_half_width(centre_a, sigma_a, config) -> int:
    """The fixed stamp half-width fits the paper's widths; velocity widths up to ~300 km/s need wider
    stamps (>= 5 sigma of the broadest line in the batch)."""
    if config.width_velocity_kms is None or np.size(sigma_a) == 0:
        return profiles.STAMP_HALF_WIDTH_PX
    widest_px = float(np.max(np.asarray(sigma_a) / profiles.pixel_width_a(centre_a)))
    return max(profiles.STAMP_HALF_WIDTH_PX, int(np.ceil(5.0 * widest_px)))


def _visibility(weight, rows, pixels, prof, mass):
    """Fraction of each line's flux on good pixels, and its noise-free matched-filter norm sqrt(sum w g^2)."""
    m, nl, wdt = pixels.shape
    rr = np.repeat(rows, nl)
    w = profiles.gather(weight, rr, pixels.reshape(m * nl, wdt)).reshape(m, nl, wdt)
    # Off-grid pixels have w = 0, so a line half off the end of the grid is not "present".
    frac = np.sum(mass * (w > 0), axis=2) / np.sum(mass, axis=2)
    norm = np.sqrt(np.sum(w * prof * prof, axis=2))
    return frac, norm


def _choose_subsets(rng, visible, config, tie):
    """Random line subsets among visible lines, with at least ``config.min_lens_lines`` lines."""
    m = visible.shape[0]
    chosen = rng.random((m, L.N_LINES)) < config.line_probability
    if tie:
        for primary, partner in TIED_PAIRS:
            chosen[:, L.LINE_INDEX[partner]] = chosen[:, L.LINE_INDEX[primary]]
        if config.balmer_case_b:
            for line in BALMER_TO_HBETA_CASE_B:
                chosen[:, L.LINE_INDEX[line]] = chosen[:, L.LINE_INDEX["hbeta"]]
    chosen &= visible
    need = np.minimum(config.min_lens_lines, visible.sum(1))
    priority = rng.random((m, L.N_LINES)) + 2.0 * chosen - 3.0 * ~visible
    rank = np.argsort(np.argsort(-priority, axis=1), axis=1)
    chosen |= (rank < need[:, None]) & visible
    if tie and config.balmer_case_b:
        # A line added to reach the minimum brings its stronger, visible partners: no [OIII] 4960 without
        # 5008, no H-gamma without H-beta and H-alpha.
        for weaker, stronger in WEAKER_TO_STRONGER:
            chosen[:, L.LINE_INDEX[stronger]] |= chosen[:, L.LINE_INDEX[weaker]] & visible[:, L.LINE_INDEX[stronger]]
    return chosen


def inject_line_sets(rng, residual, weight, rows, z, lsf_px, config, tie=None, min_lines=None,
                     intrinsic=None, precomputed=None, allowed=None):
    """Inject random subsets of the 12 lines at redshift ``z[i]`` into ``residual[rows[i]]``.

    Each line's flux is set so that its matched-filter SNR, sum(w r g) / sqrt(sum(w g^2)) with the true
    profile g and the weights w = ``weight`` (cleaned ivar), equals its label (drawn from the configured
    distribution; partners of tied pairs follow from the physical ratio instead).

    ``intrinsic`` (len(rows),) fixes the intrinsic widths (:func:`distributions.draw_line_width`);
    ``precomputed`` passes the ``(pixels, profiles, sigma, fraction, norm)`` already computed for these
    rows, z and widths; ``allowed`` (len(rows), 12) bool limits which lines each row may show (e.g. the
    [OII] doublet alone).

    Returns
    -------
    present : (len(rows), 12) bool
    snr : (len(rows), 12) float32
    sigma_a : (len(rows), 12) float32
        Observed line sigma (Angstrom), 0 where absent.
    """
    rows = np.asarray(rows)
    m = rows.size
    present = np.zeros((m, L.N_LINES), dtype=bool)
    snr = np.zeros((m, L.N_LINES), dtype=np.float32)
    width = np.zeros((m, L.N_LINES), dtype=np.float32)
    if m == 0:
        return present, snr, width
    tie = config.tied_ratios if tie is None else tie
    if min_lines is not None:
        config = _with(config, min_lens_lines=min_lines)
    if precomputed is None:
        # Intrinsic width is one draw per spectrum: the lines of one galaxy share its kinematics.
        if intrinsic is None:
            intrinsic = draw_line_width(rng, m, config)
        pixels, prof, mass, sigma = line_stamps(rows, z, intrinsic, lsf_px, config)
        frac, norm = _visibility(weight, rows, pixels, prof, mass)
    else:
        pixels, prof, sigma, frac, norm = precomputed
    visible = (frac >= MIN_VISIBLE_FRACTION) & (norm > 0)
    if allowed is not None:
        visible &= allowed
    chosen = _choose_subsets(rng, visible, config, tie)
    label = draw_snr(rng, m * L.N_LINES, config).reshape(m, L.N_LINES)
    flux = np.where(chosen, label / np.where(norm > 0, norm, 1.0), 0.0)
    if tie:
        decrement = np.ones(m)  # H-alpha/H-beta over case B, drawn with the pair below
        for primary, partner in TIED_PAIRS:
            i, j = L.LINE_INDEX[primary], L.LINE_INDEX[partner]
            both = chosen[:, i] & chosen[:, j]
            if primary == "halpha":
                ratio = L.HALPHA_TO_HBETA_MIN + rng.exponential(1.0, m)
                decrement = ratio / L.HALPHA_TO_HBETA_MIN
            elif primary == "oii_3727":
                ratio = 1.0 / draw_oii_ratio(rng, m, config)
            elif primary == "oiii_5008":
                ratio = np.full(m, L.OIII_5008_TO_4960)
            else:
                ratio = np.full(m, L.NII_6585_TO_6550)
            flux[:, j] = np.where(both, flux[:, i] / ratio, flux[:, j])
        if config.balmer_case_b:
            _tie_balmer_series(flux, chosen, decrement)
    snr_true = flux * norm
    sel = np.nonzero(chosen)
    profiles.scatter_add(residual, rows[sel[0]], pixels[sel], flux[sel][:, None] * prof[sel])
    present[sel] = True
    snr[sel] = snr_true[sel]
    width[sel] = sigma[sel]
    return present, snr, width


def _tie_balmer_series(flux, chosen, decrement):
    """H-gamma and H-delta at their case-B ratios to H-beta, reddened by the dust of the H-alpha/H-beta
    decrement ``decrement`` (>= 1, per row): the series never brightens towards the blue."""
    hbeta = L.LINE_INDEX["hbeta"]
    k = BALMER_EXTINCTION_K
    for line, case_b in BALMER_TO_HBETA_CASE_B.items():
        j = L.LINE_INDEX[line]
        reddening = decrement ** (-(k[line] - k["hbeta"]) / (k["hbeta"] - k["halpha"]))
        flux[:, j] = np.where(chosen[:, hbeta] & chosen[:, j], flux[:, hbeta] * case_b * reddening, flux[:, j])


def _with(config, **changes):
    from dataclasses import replace
    return replace(config, **changes)


def _z_bg_min(z_fg, min_offset_px):
    return (1.0 + z_fg) * 10.0 ** (min_offset_px * grid.DLOGLAM) - 1.0


# Highest z_bg that still leaves [OII] 3730 a few pixels inside the grid.
Z_BG_MAX = grid.WAVELENGTH_A[-20] / L.rest_wavelength("oii_3730") - 1.0


def draw_oii_only_z_bg(rng, z_fg, config):
    """z_bg of [OII]-only sources: uniform in ``config.oii_only_z_bg_range``, clipped to at least
    ``min_offset_px`` behind z_fg and to the doublet staying on the grid."""
    z_fg = np.asarray(z_fg, dtype=np.float64)
    lo = np.maximum(config.oii_only_z_bg_range[0], _z_bg_min(z_fg, config.min_offset_px))
    hi = np.maximum(min(config.oii_only_z_bg_range[1], Z_BG_MAX), lo)
    return rng.uniform(lo, hi)


def draw_z_bg(rng, z_fg, config):
    """z_bg = ratio x z_fg from the configured ratio distribution, at least ``min_offset_px`` pixels
    behind z_fg and low enough that two lines stay on the grid (redrawn, then clipped)."""
    z_fg = np.asarray(z_fg, dtype=np.float64)
    lo = _z_bg_min(z_fg, config.min_offset_px)
    z = draw_z_ratio(rng, z_fg.size, config) * z_fg
    for _ in range(3):
        bad = (z < lo) | (z > Z_BG_MAX)
        if not bad.any():
            break
        z[bad] = draw_z_ratio(rng, int(bad.sum()), config) * z_fg[bad]
    bad = (z < lo) | (z > Z_BG_MAX)
    z[bad] = rng.uniform(lo[bad], np.maximum(Z_BG_MAX, lo[bad] + 1e-3))
    return z


# -------------------------------------------------------------------------------------- one chunk
@dataclass
class RawSpectra:
    """The spectra before ``preprocessing.clean`` (what a spec file stores) and their line-spread sigma."""

    residual: np.ndarray
    ivar: np.ndarray
    lsf_px: np.ndarray


def generate_chunk(n: int, seed_sequence: np.random.SeedSequence, config: SyntheticConfig,
                   sources: dict[str, BackgroundSource], raw: bool = False):
    """One batch from one seed sequence (the unit of reproducibility).

    Returns a :class:`SyntheticBatch`, or ``(batch, RawSpectra)`` when ``raw`` is true.
    """
    rng = np.random.default_rng(seed_sequence)
    kind = rng.choice(len(KINDS), n, p=config.kind_probabilities()).astype(np.int8)
    residual, ivar, z_fg, background = _draw_backgrounds(rng, n, config, sources)
    lsf_px = rng.uniform(*config.instrumental_sigma_px, n)

    lens = kind == LENS
    artifact = lens & (rng.random(n) < config.lens_artifact_probability)
    artifact_sky = artifact & (rng.random(n) < 0.5)
    negatives.add_sky_residuals(rng, residual, ivar, np.flatnonzero((kind == SKY_RESIDUAL) | artifact_sky))
    negatives.add_cosmic_rays(rng, residual, ivar, np.flatnonzero((kind == COSMIC_RAY) | (artifact & ~artifact_sky)))
    negatives.add_foreground_mismatch(rng, residual, ivar, z_fg, np.flatnonzero(kind == FG_MISMATCH))

    # Backgrounds and features are finite by construction; clean() below re-checks anyway.
    bad = ~(ivar > 0) | sky_mask_on_grid()[None, :]
    weight = np.where(bad, np.float32(0), ivar)

    z_bg = np.full(n, np.nan)
    line_present = np.zeros((n, L.N_LINES), dtype=bool)
    line_snr = np.zeros((n, L.N_LINES), dtype=np.float32)
    line_sigma = np.zeros((n, L.N_LINES), dtype=np.float32)
    rows = np.flatnonzero(lens)
    # Drawn only when asked for, so that configurations without [OII]-only sources keep their data.
    oii_only = (rng.random(rows.size) < config.oii_only_fraction if config.oii_only_fraction > 0
                else np.zeros(rows.size, dtype=bool))
    z_bg[rows] = draw_z_bg(rng, z_fg[rows], config)
    z_bg[rows[oii_only]] = draw_oii_only_z_bg(rng, z_fg[rows[oii_only]], config)
    intrinsic = draw_line_width(rng, rows.size, config)
    # Redraw z_bg where masks or coverage leave too few lines visible (for [OII]-only sources: both
    # doublet components).
    precomputed = None
    for attempt in range(5):
        pixels, prof, mass, sigma = line_stamps(rows, z_bg[rows], intrinsic, lsf_px[rows], config)
        frac, norm = _visibility(weight, rows, pixels, prof, mass)
        visible = (frac >= MIN_VISIBLE_FRACTION) & (norm > 0)
        few = np.where(oii_only, np.sum(visible & OII_DOUBLET, axis=1) < 2,
                       np.sum(visible, axis=1) < config.min_lens_lines)
        if not few.any() or attempt == 4:
            precomputed = (pixels, prof, sigma, frac, norm)
            break
        z_bg[rows[few & ~oii_only]] = draw_z_bg(rng, z_fg[rows[few & ~oii_only]], config)
        z_bg[rows[few & oii_only]] = draw_oii_only_z_bg(rng, z_fg[rows[few & oii_only]], config)
    # An [OII]-only source whose doublet stayed masked keeps whatever lines it has (an ordinary lens).
    allowed = np.where((oii_only & ~few)[:, None], OII_DOUBLET[None, :], True)
    line_present[rows], line_snr[rows], line_sigma[rows] = inject_line_sets(
        rng, residual, weight, rows, z_bg[rows], lsf_px[rows], config, precomputed=precomputed,
        allowed=allowed)
    # A "lens" left with no visible line (e.g. a nearly fully masked spectrum) is honestly an empty one.
    lost = rows[~line_present[rows].any(axis=1)]
    kind[lost] = EMPTY
    z_bg[lost] = np.nan

    rows = np.flatnonzero(kind == FG_EMISSION)
    inject_line_sets(rng, residual, weight, rows, z_fg[rows], lsf_px[rows], config)

    rows = np.flatnonzero(kind == SINGLE_LINE)
    if rows.size:
        pix = negatives.random_good_pixels(rng, weight, rows)
        centre = grid.WAVELENGTH_A[pix] * 10.0 ** (grid.DLOGLAM * rng.uniform(-0.5, 0.5, rows.size))
        intrinsic = intrinsic_sigma_a(draw_line_width(rng, rows.size, config), centre, config)
        sigma = profiles.total_sigma_a(centre, intrinsic, lsf_px[rows])
        pixels, prof = profiles.stamps(centre, sigma, half_width=stamp_half_width(centre, sigma, config))
        w = profiles.gather(weight, rows, pixels)
        norm = np.sqrt(np.sum(w * prof * prof, axis=1))
        # A strong isolated line is the hard case: SNR from the label distribution, boosted (x1-3 by default).
        snr = draw_snr(rng, rows.size, config) * rng.uniform(*config.single_line_snr_boost, rows.size)
        flux = snr / np.where(norm > 0, norm, 1.0)
        profiles.scatter_add(residual, rows, pixels, flux[:, None] * prof)

    cleaned, clean_ivar, mask = preprocessing.clean(residual, ivar, bad)
    x = preprocessing.network_input(cleaned, clean_ivar)
    batch = SyntheticBatch(residual=cleaned, ivar=clean_ivar, mask=mask, x=x, z_fg=z_fg, z_bg=z_bg,
                           line_present=line_present, line_snr=line_snr, line_sigma_a=line_sigma, kind=kind,
                           background=background)
    if raw:
        return batch, RawSpectra(residual=residual, ivar=np.where(ivar > 0, ivar, np.float32(0)), lsf_px=lsf_px)
    return batch


def _chunk_seed(seed, index: int, key_prefix: tuple[int, ...] = ()) -> np.random.SeedSequence:
    entropy = [int(s) for s in seed] if isinstance(seed, (list, tuple, np.ndarray)) else int(seed)
    return np.random.SeedSequence(entropy, spawn_key=(*key_prefix, int(index)))


def chunk_sizes(n: int, chunk_size: int = CHUNK_SIZE) -> list[int]:
    full, rest = divmod(int(n), chunk_size)
    return [chunk_size] * full + ([rest] if rest else [])


def generate(n: int, seed: int, config: SyntheticConfig | None = None, backgrounds=None) -> SyntheticBatch:
    """Generate ``n`` synthetic spectra (single process).

    Parameters
    ----------
    n : int
        Number of spectra.
    seed : int or sequence of int
        Same seed, config and backgrounds give the same data (also through :func:`generate_parallel`).
    config : SyntheticConfig or dict, optional
        Recipe; defaults to ``SyntheticConfig()``; a dict is read with ``SyntheticConfig.from_dict``.
    backgrounds : BackgroundSource, list or dict of them, optional
        Default: the sources named in ``config.background_sources`` (parametric only by default).

    Returns
    -------
    SyntheticBatch
    """
    config = as_config(config)
    sources = resolve_backgrounds(backgrounds, config)
    batches = [generate_chunk(size, _chunk_seed(seed, k), config, sources)
               for k, size in enumerate(chunk_sizes(n))]
    if not batches:
        return generate_chunk(0, _chunk_seed(seed, 0), config, sources)
    return batches[0] if len(batches) == 1 else SyntheticBatch.concatenate(batches)


def stream(batch_size: int, seed: int, config: SyntheticConfig | None = None, backgrounds=None):
    """Endless iterator of :class:`SyntheticBatch` of ``batch_size`` spectra; batch ``b`` depends only on
    (seed, b), so a restarted stream repeats itself."""
    config = as_config(config)
    sources = resolve_backgrounds(backgrounds, config)
    b = 0
    while True:
        yield generate_chunk(batch_size, _chunk_seed(seed, b, (STREAM_KEY,)), config, sources)
        b += 1
