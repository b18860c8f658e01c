"""Give spectra that come without a foreground model a fitted one, recorded as ``model_source = "fitted"``."""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from ..spectrum import (FLAG_NO_FOREGROUND_MODEL, FLAG_NOT_SEARCHED, MODEL_FITTED, MODEL_NONE, Spectrum)
from .fit import fit_foreground
from .templates import sigma_from_wdisp

# Spectra fitted together when a file yields many (spaxels, DESI targets): enough to amortise the
# per-call overhead, small enough to keep a lazily read cube lazy.
ATTACH_BATCH = 64


def needs_fit(spectrum: Spectrum) -> bool:
    """A spectrum that will be searched but has no model to subtract."""
    return (spectrum.model is None and spectrum.grid_shift is not None
            and FLAG_NOT_SEARCHED not in spectrum.flags and spectrum.is_usable)


def fill_redshift(spectrum: Spectrum, z_fg: float | None, origin: str = "--z-fg") -> None:
    """Use ``z_fg`` for a spectrum whose file gave no redshift (recorded in ``meta["z_source"]``)."""
    if z_fg is not None and not np.isfinite(spectrum.z_fg):
        spectrum.z_fg = np.float64(z_fg)
        spectrum.meta["z_source"] = origin


def attach_foreground(spectra: Sequence[Spectrum]) -> None:
    """Fit and attach a foreground model to each spectrum of ``spectra`` that needs one (in place).

    Spectra on the same pixels (same ``grid_shift`` and length) are fitted together. A fitted spectrum
    gets ``model``, ``model_source = "fitted"``, loses the ``no_foreground_model`` flag, has pixels the
    templates do not reach masked, ``model_error`` (the model's fractional uncertainty, which
    :attr:`Spectrum.residual_ivar` folds in), and the fit's chi^2 per pixel in ``meta["foreground_chi2"]``.
    One without a finite ``z_fg`` or with too few good pixels keeps ``model_source = "none"``.
    """
    groups: dict[tuple[int, int], list[Spectrum]] = {}
    for spectrum in spectra:
        if needs_fit(spectrum):
            groups.setdefault((int(spectrum.grid_shift), spectrum.n_pixels), []).append(spectrum)
    for (shift, _), members in groups.items():
        flux = np.stack([s.flux for s in members])
        ivar = np.stack([s.ivar for s in members])
        good = ~np.stack([np.asarray(s.mask, dtype=bool) for s in members])
        z = np.array([s.z_fg for s in members], dtype=np.float64)
        sigma = np.array([sigma_from_wdisp(s.wdisp, g) for s, g in zip(members, good)])
        fit = fit_foreground(flux, ivar, good, z, first_pixel=shift, sigma_px=sigma)
        for k, spectrum in enumerate(members):
            if not fit.fitted[k]:
                spectrum.model_source = MODEL_NONE
                continue
            model = fit.model[k]
            spectrum.model = model
            spectrum.model_source = MODEL_FITTED
            spectrum.mask = np.asarray(spectrum.mask, dtype=bool) | ~np.isfinite(model)
            spectrum.flags.discard(FLAG_NO_FOREGROUND_MODEL)
            spectrum.model_error = float(fit.model_error[k])
            spectrum.meta["foreground_chi2"] = round(float(fit.chi2_per_pixel[k]), 4)


def with_fitted_foreground(spectra: Iterable[Spectrum], z_fg: float | None = None,
                           batch: int = ATTACH_BATCH) -> Iterator[Spectrum]:
    """Yield ``spectra`` in order, each given a fitted model where it needs one (see
    :func:`attach_foreground`); ``z_fg`` fills in missing redshifts first. Reads ahead at most ``batch``."""
    pending: list[Spectrum] = []
    try:
        for spectrum in spectra:
            fill_redshift(spectrum, z_fg)
            pending.append(spectrum)
            if len(pending) >= batch:
                attach_foreground(pending)
                yield from pending
                pending = []
    except Exception:
        # The spectra read before a file turned out damaged still get their rows, then the error.
        attach_foreground(pending)
        yield from pending
        raise
    if pending:
        attach_foreground(pending)
        yield from pending
