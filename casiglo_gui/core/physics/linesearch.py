"""Vectorised redshift scan: matched filters on the log-lambda grid combined at fixed pixel offsets.

On the 1e-4 dex grid the 12 lines of a galaxy at redshift z sit at ``p_k(z) = p_k(0) + s``, with
``s = log10(1 + z) / 1e-4`` the same shift for every line. So the weighted least-squares amplitude of a
Gaussian line at every position is one cross-correlation per trial width (computed by FFT for a whole
batch at once):

    F(p) = sum_j ivar_{p+j} r_{p+j} g(j),   N(p) = sum_j ivar_{p+j} g(j)^2,
    amplitude = F / N,   SNR = F / sqrt(N).

Sub-pixel positions come from kernels shifted by half a pixel (``SUBPIXEL``), giving F and N on a
half-pixel grid. A trial shift then reads the 12 lines' responses at fixed offsets on that grid, and
ties lines into *features* with physical ratios (each feature is one amplitude, one degree of freedom):

    [OII] 3727+3730 (ratio 3730/3727 = 1.1, overlap of the two profiles included), Hdelta, Hgamma,
    Hbeta, [OIII] 5008 + 4960/2.98, [NII] 6585 + 6550/2.95, Halpha, [SII] 6718, [SII] 6733.

The combined significance of a shift is ``S^2 = sum_f max(SNR_f, 0)^2`` (amplitudes are non-negative:
emission only), after dividing every SNR by the robust scatter of the spectrum's SNR map (real
residuals are noisier than their ivar says). Line positions that fall on mostly-masked pixels or near
a line of the foreground galaxy (at z_fg) contribute nothing. The best peaks of S^2 go on to the
partner-evidence score (:mod:`.scoring`) and, when promising, to the least-squares refinement.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .. import grid
from ..lines import (FOREGROUND_EXTRA_LINES_A, LINE_INDEX, N_LINES, NII_6585_TO_6550, OIII_5008_TO_4960,
                     REST_WAVELENGTHS_A)
from .profiles import integrated_gaussian

# Trial widths (Gaussian sigma, pixels). Velocity dispersions of 40-250 km/s plus SDSS/BOSS/MaNGA
# instrumental sigma (wdisp ~ 1.0-1.3 px) give observed sigmas of ~1.1-3.8 px; 1.0 px is the narrowest
# a real line can be, so spikes narrower than the resolution never get a better-matched kernel.
# Adjacent widths differ by 1.6x: the matched-filter SNR lost between them is <= 4%.
TRIAL_SIGMAS_PX: tuple[float, ...] = (1.0, 1.6, 2.6)
SUBPIXEL = 2  # kernel positions per pixel (half pixel: SNR loss from mis-centring <= 2% at sigma = 1 px)
KERNEL_HALF_WIDTH_SIGMAS = 3.5
FFT_LENGTH = 4608  # >= N_PIXELS + kernel width, 2^9 * 3^2 (fast)
CHUNK = 32  # spectra per internal block (keeps the work arrays in cache-sized pieces)

# [OII] 3730/3727 flux ratio used in the scan template (low-density limit ~1.5, typical HII ~1.1-1.3;
# the refinement fits the two amplitudes freely).
OII_SCAN_RATIO = 1.1

# Features: (name, ((line key, weight), ...)). A feature is one amplitude times a fixed-ratio template.
FEATURES: tuple[tuple[str, tuple[tuple[str, float], ...]], ...] = (
    ("oii", (("oii_3727", 1.0), ("oii_3730", OII_SCAN_RATIO))),
    ("hdelta", (("hdelta", 1.0),)),
    ("hgamma", (("hgamma", 1.0),)),
    ("hbeta", (("hbeta", 1.0),)),
    ("oiii", (("oiii_5008", 1.0), ("oiii_4960", 1.0 / OIII_5008_TO_4960))),
    ("nii", (("nii_6585", 1.0), ("nii_6550", 1.0 / NII_6585_TO_6550))),
    ("halpha", (("halpha", 1.0),)),
    ("sii_6718", (("sii_6718", 1.0),)),
    ("sii_6733", (("sii_6733", 1.0),)),
)
FEATURE_NAMES: tuple[str, ...] = tuple(name for name, _ in FEATURES)
N_FEATURES = len(FEATURES)

# A line position counts only if at least this fraction of the pixels within +-2 px is unmasked.
MIN_COVERAGE = 0.6
# Background-line positions within this many pixels (~700 km/s) of a foreground line (at z_fg) are
# vetoed: a strong, broad foreground line (sigma ~3 px) still has significant wings 8-10 px out.
FOREGROUND_VETO_PX = 10.0
# Default start of the search above z_fg (the foreground's own lines sit at shift 0).
DEFAULT_DZ_MARGIN = 0.015

REST_PIXEL: np.ndarray = grid.pixel_of_wavelength(REST_WAVELENGTHS_A)  # fractional, at z = 0
REST_SUB: np.ndarray = np.rint(REST_PIXEL * SUBPIXEL).astype(np.int64)  # in 1/SUBPIXEL px
FOREGROUND_PIXEL: np.ndarray = np.concatenate([REST_PIXEL, grid.pixel_of_wavelength(FOREGROUND_EXTRA_LINES_A)])
OII_SEPARATION_PX = float(REST_PIXEL[LINE_INDEX["oii_3730"]] - REST_PIXEL[LINE_INDEX["oii_3727"]])


def shift_of_redshift(z: np.ndarray | float) -> np.ndarray:
    """Pixel shift of a line at redshift ``z`` relative to its rest position (float64)."""
    return np.log10(1.0 + np.asarray(z, dtype=np.float64)) / grid.DLOGLAM


def redshift_of_shift(shift_px: np.ndarray | float) -> np.ndarray:
    """Redshift whose lines sit ``shift_px`` pixels above their rest positions (float64)."""
    return 10.0 ** (np.asarray(shift_px, dtype=np.float64) * grid.DLOGLAM) - 1.0


def _scipy_fft():
    """``scipy.fft`` (4.6x faster than ``numpy.fft`` here), imported at the first line search: its import
    (~0.4 s, SciPy's array-API layer) would otherwise delay the inspector's first drawn spectrum."""
    import scipy.fft

    return scipy.fft


@functools.cache
def _kernel_spectra() -> tuple[np.ndarray, np.ndarray]:
    """Conjugated FFTs of the kernels g (per sub-pixel phase) and g^2 (integer phase), for correlation;
    computed at the first line search, not at import (they need ``scipy.special``)."""
    n_sigma = len(TRIAL_SIGMAS_PX)
    g_hat = np.empty((n_sigma, SUBPIXEL, FFT_LENGTH // 2 + 1), dtype=np.complex64)
    g2_hat = np.empty((n_sigma, FFT_LENGTH // 2 + 1), dtype=np.complex64)
    for i, sigma in enumerate(TRIAL_SIGMAS_PX):
        half = int(np.ceil(KERNEL_HALF_WIDTH_SIGMAS * sigma)) + 1
        j = np.arange(-half, half + 1)
        for f in range(SUBPIXEL):
            g = integrated_gaussian(j - f / SUBPIXEL, sigma)
            k = np.zeros(FFT_LENGTH)
            k[j % FFT_LENGTH] = g
            g_hat[i, f] = np.conj(np.fft.rfft(k))
            if f == 0:
                k[j % FFT_LENGTH] = g * g
                g2_hat[i] = np.conj(np.fft.rfft(k))
    return g_hat, g2_hat



def matched_filter(residual: np.ndarray, ivar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted line-fit numerators and denominators at every sub-pixel position and trial width.

    Parameters
    ----------
    residual, ivar : float32 arrays (n, N_PIXELS)
        Cleaned model-grid residual and inverse variance (ivar = 0 on masked pixels).

    Returns
    -------
    F, N : float32 arrays (n, n_sigma, SUBPIXEL, N_PIXELS)
        ``[..., f, p]`` is a line centred at pixel ``p + f / SUBPIXEL``. Amplitude = F / N,
        SNR = F / sqrt(N). N between pixels is interpolated (it varies slowly).
    """
    r = np.asarray(residual, dtype=np.float32)
    w = np.asarray(ivar, dtype=np.float32)
    n = r.shape[0]
    n_sigma = len(TRIAL_SIGMAS_PX)
    fft = _scipy_fft()
    g_hat, g2_hat = _kernel_spectra()
    wr_hat = fft.rfft(w * r, n=FFT_LENGTH, axis=-1, workers=1)
    w_hat = fft.rfft(w, n=FFT_LENGTH, axis=-1, workers=1)
    big_f = np.empty((n, n_sigma, SUBPIXEL, grid.N_PIXELS), dtype=np.float32)
    big_n = np.empty_like(big_f)
    for i in range(n_sigma):
        for f in range(SUBPIXEL):
            big_f[:, i, f] = fft.irfft(wr_hat * g_hat[i, f], n=FFT_LENGTH, axis=-1, workers=1)[:, : grid.N_PIXELS]
        n0 = fft.irfft(w_hat * g2_hat[i], n=FFT_LENGTH, axis=-1, workers=1)[:, : grid.N_PIXELS + 1]
        for f in range(SUBPIXEL):
            t = f / SUBPIXEL
            big_n[:, i, f] = (1.0 - t) * n0[:, :-1] + t * n0[:, 1:]
    # FFT round-off leaves ~1e-7 relative noise where ivar is 0: clip so SNRs there are exactly 0.
    floor = 1e-4 * np.max(big_n, axis=(-2, -1), keepdims=True)
    dead = big_n <= floor
    big_f[dead] = 0.0
    big_n[dead] = 0.0
    return big_f, big_n


def usable_pixels(ivar: np.ndarray, z_fg: np.ndarray) -> np.ndarray:
    """Pixels where a background line may count, bool (n, N_PIXELS).

    False where fewer than ``MIN_COVERAGE`` of the pixels within +-2 px are unmasked, or within
    ``FOREGROUND_VETO_PX`` of any of the 12 lines, or of the other strong emission lines
    (``lines.FOREGROUND_EXTRA_LINES_A``), at the foreground redshift.
    """
    good = (np.asarray(ivar) > 0).astype(np.float32)
    n = good.shape[0]
    c = np.zeros((n, grid.N_PIXELS + 5), dtype=np.float32)
    np.cumsum(good, axis=1, out=c[:, 3:grid.N_PIXELS + 3])
    c[:, grid.N_PIXELS + 3:] = c[:, grid.N_PIXELS + 2: grid.N_PIXELS + 3]
    coverage = (c[:, 5:] - c[:, :-5]) / 5.0  # window [p-2, p+2]
    ok = coverage >= MIN_COVERAGE
    z_fg = np.asarray(z_fg, dtype=np.float64)
    finite = np.isfinite(z_fg)
    if np.any(finite):
        fg_pix = FOREGROUND_PIXEL[None, :] + shift_of_redshift(np.where(finite, z_fg, 0.0))[:, None]
        lo = np.clip(np.ceil(fg_pix - FOREGROUND_VETO_PX), 0, grid.N_PIXELS).astype(np.int64)
        hi = np.clip(np.floor(fg_pix + FOREGROUND_VETO_PX) + 1, 0, grid.N_PIXELS).astype(np.int64)
        for i in np.flatnonzero(finite):
            for k in range(fg_pix.shape[1]):
                ok[i, lo[i, k]:hi[i, k]] = False
    return ok


@dataclass
class ScanResult:
    """Combined significance of every trial shift for a batch (see module docstring).

    Attributes
    ----------
    q0 : int
        Shift (in 1/SUBPIXEL px) of column 0 of ``s2``: shift in px = (q0 + column) / SUBPIXEL.
    s2 : float32 (n, n_shift)
        Best (over trial widths) combined significance squared; -1 outside each spectrum's z range.
    best_sigma : int8 (n, n_shift)
        Index into ``TRIAL_SIGMAS_PX`` of the width that gave ``s2``.
    F, N : float32 (n, n_sigma, SUBPIXEL, N_PIXELS)
        Matched-filter arrays with unusable pixels zeroed (for per-line read-out at chosen shifts).
    noise_scale : float32 (n, n_sigma)
        Robust scatter of each spectrum's matched-filter SNR map (>= 1); every SNR is divided by it.
    good : bool (n, N_PIXELS)
        Unmasked pixels (ivar > 0).
    chi : float32 (n, N_PIXELS)
        Per-pixel significance residual x sqrt(ivar) (for the spike test).
    residual, ivar : float32 (n, N_PIXELS)
        The inputs (for fits on pixels).
    partner_s2 : float32 (n, n_shift)
        ``s2`` less its largest single feature term (best over widths): the significance of the
        features beside the strongest one. One bright line read as each of the 12 lines gives 12 high
        ``s2`` peaks but no ``partner_s2``, so peaks of this map are where multi-line sources are.
    """

    q0: int
    s2: np.ndarray
    best_sigma: np.ndarray
    F: np.ndarray
    N: np.ndarray
    noise_scale: np.ndarray
    good: np.ndarray
    chi: np.ndarray
    residual: np.ndarray
    ivar: np.ndarray
    partner_s2: np.ndarray | None = None


def snr_noise_scale(F: np.ndarray, N: np.ndarray) -> np.ndarray:
    """Robust scatter (1.4826 x median |SNR|) of each matched-filter SNR map, floored at 1, (n, n_sigma).

    Real residuals carry correlated template mismatch and under-estimated ivar: their SNR maps scatter by
    1.1-1.7 instead of 1, which a line search over thousands of trial redshifts turns into false peaks.
    Lines cover a tiny fraction of the map, so the median is set by the noise. Never below 1, so an
    ideal spectrum keeps its SNRs.
    """
    f = F[:, :, 0, ::2]
    nn = N[:, :, 0, ::2]
    good = nn > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(good, np.abs(f) / np.sqrt(np.where(good, nn, 1.0)), np.inf)
    a.sort(axis=-1)
    count = good.sum(axis=-1)
    idx = np.maximum(count // 2, 0)[..., None]
    med = np.take_along_axis(a, np.minimum(idx, a.shape[-1] - 1), axis=-1)[..., 0]
    scale = np.where(count >= 50, 1.4826 * med, 1.0)
    return np.maximum(scale, 1.0).astype(np.float32)


def line_arrays_at(F: np.ndarray, N: np.ndarray, sub_index: np.ndarray,
                   sigma_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """F and N of each of the 12 lines at given shifts and widths.

    Parameters
    ----------
    F, N : arrays from :class:`ScanResult`
    sub_index : int array (n, m)
        Shifts in 1/SUBPIXEL px.
    sigma_index : int array (n, m)

    Returns
    -------
    fl, nl : float32 (n, m, 12); 0 where the line is off the grid or unusable.
    """
    n, m = sub_index.shape
    pos = sub_index[:, :, None] + REST_SUB[None, None, :]
    p, f = np.floor_divide(pos, SUBPIXEL), np.mod(pos, SUBPIXEL)
    inside = (p >= 0) & (p < grid.N_PIXELS)
    pc = np.clip(p, 0, grid.N_PIXELS - 1)
    rows = np.arange(n)[:, None, None]
    sig = np.broadcast_to(sigma_index[:, :, None], pos.shape)
    fl = np.where(inside, F[rows, sig, f, pc], 0.0).astype(np.float32)
    nl = np.where(inside, N[rows, sig, f, pc], 0.0).astype(np.float32)
    return fl, nl


def arrays_at_position(F: np.ndarray, N: np.ndarray, position_px: np.ndarray,
                       sigma_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """F and N at fractional pixel positions, linearly interpolated between sub-pixel samples.

    ``position_px`` and ``sigma_index`` broadcast to one shape whose first axis is the spectrum.
    Returns float32 arrays of that shape; 0 off the grid.
    """
    x = np.asarray(position_px, dtype=np.float64) * SUBPIXEL
    lo = np.floor(x).astype(np.int64)
    t = (x - lo).astype(np.float32)
    rows = np.arange(F.shape[0]).reshape((-1,) + (1,) * (x.ndim - 1))
    out_f = np.zeros(x.shape, dtype=np.float32)
    out_n = np.zeros(x.shape, dtype=np.float32)
    for idx, wgt in ((lo, 1.0 - t), (lo + 1, t)):
        p, f = np.floor_divide(idx, SUBPIXEL), np.mod(idx, SUBPIXEL)
        inside = (p >= 0) & (p < grid.N_PIXELS)
        pc = np.clip(p, 0, grid.N_PIXELS - 1)
        out_f += np.where(inside, wgt * F[rows, sigma_index, f, pc], 0.0)
        out_n += np.where(inside, wgt * N[rows, sigma_index, f, pc], 0.0)
    return out_f, out_n


def oii_overlap(sigma_px: np.ndarray | float) -> np.ndarray:
    """Normalised overlap sum(g1 g2) / sqrt(sum g1^2 sum g2^2) of the two [OII] profiles."""
    s = np.asarray(sigma_px, dtype=np.float32)
    return np.exp(-OII_SEPARATION_PX ** 2 / (4.0 * s * s))


def feature_snr(fl: np.ndarray, nl: np.ndarray, sigma_px: np.ndarray | float) -> np.ndarray:
    """Signed SNR of each feature's fixed-ratio template from the 12 lines' F and N (last axis)."""
    out = np.zeros(fl.shape[:-1] + (N_FEATURES,), dtype=np.float32)
    for i, (num, den) in enumerate(_feature_num_den(fl, nl, sigma_px)):
        with np.errstate(divide="ignore", invalid="ignore"):
            out[..., i] = np.where(den > 0, num / np.sqrt(np.where(den > 0, den, 1.0)), 0.0)
    return out


def _feature_num_den(fl, nl, sigma_px):
    for name, members in FEATURES:
        num = 0.0
        den = 0.0
        for key, weight in members:
            k = LINE_INDEX[key]
            num = num + weight * fl[..., k]
            den = den + weight * weight * nl[..., k]
        if name == "oii":
            a, b = LINE_INDEX["oii_3727"], LINE_INDEX["oii_3730"]
            den = den + 2.0 * OII_SCAN_RATIO * oii_overlap(sigma_px) * np.sqrt(nl[..., a] * nl[..., b])
        yield num, den


def _shifted(a: np.ndarray, d: int) -> np.ndarray:
    """``out[:, f, p] = a[:, ff, p + dp]`` with ``(dp, ff) = divmod(f + d, SUBPIXEL)``; zero outside."""
    out = np.zeros_like(a)
    for f in range(SUBPIXEL):
        dp, ff = divmod(f + d, SUBPIXEL)
        if dp >= 0:
            out[:, f, : grid.N_PIXELS - dp] = a[:, ff, dp:]
        else:
            out[:, f, -dp:] = a[:, ff, :dp]
    return out


def line_power(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """chi^2 gain max(num, 0)^2 / den of a matched filter's best non-negative amplitude (0 where den = 0)."""
    p = np.maximum(num, 0.0)
    p *= p
    p /= np.maximum(den, np.float32(1e-30))
    return p


def _feature_power(F: np.ndarray, N: np.ndarray, si: int) -> list[tuple[int, np.ndarray]]:
    """(anchor, max(SNR, 0)^2) of each feature at every sub-pixel anchor position, (n, SUBPIXEL, N_PIXELS).

    The anchor is the feature's first line; partner lines are read at their fixed offset.
    """
    sigma = TRIAL_SIGMAS_PX[si]
    Fs = F[:, si]
    Ns = N[:, si]
    single = None
    out = []
    for name, members in FEATURES:
        anchor = int(REST_SUB[LINE_INDEX[members[0][0]]])
        if len(members) == 1:
            if single is None:
                single = line_power(Fs, Ns)
            out.append((anchor, single))
            continue
        num = Fs.copy()
        den = Ns.copy()
        (_, w0), (key1, w1) = members
        d = int(REST_SUB[LINE_INDEX[key1]]) - anchor
        n1 = _shifted(Ns, d)
        num += np.float32(w1) * _shifted(Fs, d)
        den += np.float32(w1 * w1) * n1
        if name == "oii":
            den += np.float32(2.0 * OII_SCAN_RATIO * oii_overlap(sigma)) * np.sqrt(Ns * n1)
        out.append((anchor, line_power(num, den)))
    return out


def scan(residual: np.ndarray, ivar: np.ndarray, z_fg: np.ndarray, dz_margin: float = DEFAULT_DZ_MARGIN,
         z_max: float | None = None) -> ScanResult:
    """Combined significance over trial redshifts for a batch of spectra.

    Parameters
    ----------
    residual, ivar : float32 arrays (n, N_PIXELS)
        Cleaned model-grid arrays.
    z_fg : float64 array (n,)
        Foreground redshifts; the scan starts at ``z_fg + dz_margin`` (at z = dz_margin when NaN).
    dz_margin : float
        Smallest z_bg - z_fg searched.
    z_max : float, optional
        Largest redshift searched; by default where the bluest line ([OII]) leaves the grid.

    Returns
    -------
    ScanResult
    """
    residual = np.atleast_2d(np.asarray(residual, dtype=np.float32))
    ivar = np.atleast_2d(np.asarray(ivar, dtype=np.float32))
    z_fg = np.atleast_1d(np.asarray(z_fg, dtype=np.float64))
    n = residual.shape[0]
    F, N = matched_filter(residual, ivar)
    usable = usable_pixels(ivar, z_fg)
    F *= usable[:, None, None, :]
    N *= usable[:, None, None, :]
    noise_scale = snr_noise_scale(F, N)
    z_lo = np.where(np.isfinite(z_fg), z_fg, 0.0) + dz_margin
    q_lo_each = np.ceil(shift_of_redshift(z_lo) * SUBPIXEL).astype(np.int64)
    q_hi = SUBPIXEL * grid.N_PIXELS - 1 - int(REST_SUB.min())
    if z_max is not None:
        q_hi = min(q_hi, int(np.floor(shift_of_redshift(z_max) * SUBPIXEL)))
    q0 = int(q_lo_each.min())
    q0 -= q0 % SUBPIXEL  # column c has phase c % SUBPIXEL
    n_t = max(-(-(q_hi - q0 + 1) // SUBPIXEL), 1)
    n_sigma = len(TRIAL_SIGMAS_PX)
    s2 = np.full((n, SUBPIXEL, n_t), -1.0, dtype=np.float32)
    partner_s2 = np.full((n, SUBPIXEL, n_t), -1.0, dtype=np.float32)
    best_sigma = np.zeros((n, SUBPIXEL, n_t), dtype=np.int8)
    total = np.empty((n, SUBPIXEL, n_t), dtype=np.float32)
    top = np.empty((n, SUBPIXEL, n_t), dtype=np.float32)
    for si in range(n_sigma):
        total[:] = 0.0
        top[:] = 0.0
        for anchor, power in _feature_power(F, N, si):
            for phase in range(SUBPIXEL):
                p_start, f = divmod(anchor + q0 + phase, SUBPIXEL)
                length = min(n_t, grid.N_PIXELS - p_start)
                if length > 0:
                    piece = power[:, f, p_start: p_start + length]
                    total[:, phase, :length] += piece
                    np.maximum(top[:, phase, :length], piece, out=top[:, phase, :length])
        scale = (1.0 / noise_scale[:, si] ** 2)[:, None, None]
        total *= scale
        better = total > s2
        np.copyto(s2, total, where=better)
        np.copyto(best_sigma, np.int8(si), where=better)
        np.maximum(partner_s2, total - top * scale, out=partner_s2)
    s2 = s2.transpose(0, 2, 1).reshape(n, SUBPIXEL * n_t)
    partner_s2 = partner_s2.transpose(0, 2, 1).reshape(n, SUBPIXEL * n_t)
    best_sigma = best_sigma.transpose(0, 2, 1).reshape(n, SUBPIXEL * n_t)
    cols = q0 + np.arange(SUBPIXEL * n_t)[None, :]
    outside = (cols < q_lo_each[:, None]) | (cols > q_hi)
    s2[outside] = -1.0
    partner_s2[outside] = -1.0
    return ScanResult(q0=q0, s2=s2, best_sigma=best_sigma, F=F, N=N, noise_scale=noise_scale, good=ivar > 0,
                      chi=residual * np.sqrt(ivar), residual=residual, ivar=ivar, partner_s2=partner_s2)


def top_peaks(s2: np.ndarray, n_peaks: int = 5, exclusion: int = 3 * SUBPIXEL) -> np.ndarray:
    """Column indices of the ``n_peaks`` highest maxima of each row, separated by > ``exclusion``.

    Returns int64 (n, n_peaks); -1 where a row has fewer valid peaks.
    """
    work = s2.copy()
    n, m = work.shape
    out = np.full((n, n_peaks), -1, dtype=np.int64)
    rows = np.arange(n)
    for i in range(n_peaks):
        idx = np.argmax(work, axis=1)
        valid = work[rows, idx] >= 0
        out[:, i] = np.where(valid, idx, -1)
        for r in range(n):
            work[r, max(idx[r] - exclusion, 0): idx[r] + exclusion + 1] = -2.0
    return out
