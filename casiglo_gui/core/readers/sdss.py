"""SDSS-I/II and BOSS/eBOSS ``spec-PLATE-MJD-FIBER.fits`` files, lite and full.

HDU1 ``COADD``: flux, loglam, ivar, and_mask, wdisp, sky, model. HDU2 ``SPECOBJ`` (SDSS-I/II) or
``SPALL`` (BOSS/eBOSS): Z, PLATE, MJD, FIBERID, PLUG_RA, PLUG_DEC, CLASS. The object position is
PLUG_RA/PLUG_DEC; the primary header's RA/DEC is the plate centre.
"""
from __future__ import annotations

import numpy as np
from astropy.io import fits

from .. import grid
from ..errors import SpectrumReadError
from ..spectrum import FLAG_NO_FOREGROUND_MODEL, FLAG_PARTIAL_COVERAGE, Spectrum
from .registry import register_reader

REQUIRED_COLUMNS = ("flux", "loglam", "ivar")


def _is_spec_file(hdul: fits.HDUList) -> bool:
    return (len(hdul) >= 3 and hdul[1].name == "COADD" and hdul[2].name in ("SPECOBJ", "SPALL"))


def _column(table, names_lower: dict[str, str], name: str):
    real = names_lower.get(name)
    if real is None:
        return None
    return np.asarray(table[real]).astype(np.float32 if name != "loglam" else np.float64)


def _scalar(row, names: dict[str, str], key: str, default=np.nan):
    real = names.get(key.lower())
    if real is None:
        return default
    value = row[real]
    if isinstance(value, (bytes, np.bytes_)):
        value = value.decode(errors="replace")
    if isinstance(value, str):
        return value.strip()
    return value


@register_reader("sdss-spec", _is_spec_file, priority=10)
def load_spec(hdul: fits.HDUList, path: str) -> list[Spectrum]:
    coadd = hdul[1].data
    if coadd is None or len(coadd) == 0:
        raise SpectrumReadError(path, "COADD table is empty")
    names = {n.lower(): n for n in coadd.columns.names}
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise SpectrumReadError(path, f"COADD table lacks column(s) {', '.join(missing)}")
    flux = _column(coadd, names, "flux")
    loglam = _column(coadd, names, "loglam")
    ivar = _column(coadd, names, "ivar")
    model = _column(coadd, names, "model")
    wdisp = _column(coadd, names, "wdisp")
    sky = _column(coadd, names, "sky")
    and_mask = names.get("and_mask")
    and_mask = np.asarray(coadd[and_mask]) if and_mask else np.zeros(flux.shape, dtype=np.int32)

    if not np.all(np.isfinite(loglam)):
        raise SpectrumReadError(path, "loglam column has non-finite values")
    if loglam.size > 1 and not np.all(np.diff(loglam) > 0):
        raise SpectrumReadError(path, "loglam column is not increasing")
    try:
        shift = grid.pixel_shift(loglam[0])
        steps = np.diff(loglam)
        if steps.size and np.max(np.abs(steps - grid.DLOGLAM)) > 0.05 * grid.DLOGLAM:
            raise grid.OffGridError("wavelength step differs from 1e-4 dex")
    except grid.OffGridError as exc:
        raise SpectrumReadError(path, f"wavelengths not on the 1e-4 dex model grid: {exc}") from None

    bad = (and_mask != 0) | ~np.isfinite(flux) | ~np.isfinite(ivar) | (ivar <= 0)
    if not np.any(np.isfinite(flux)):
        raise SpectrumReadError(path, "flux is NaN or infinite at every pixel")
    if np.all(bad):
        reason = "ivar is zero at every pixel (dead fibre?)" if not np.any(ivar > 0) else "every pixel is masked"
        raise SpectrumReadError(path, reason)

    info = hdul[2].data
    if info is None or len(info) == 0:
        raise SpectrumReadError(path, f"{hdul[2].name} table is empty")
    inames = {n.lower(): n for n in info.columns.names}
    row = info[0]
    plate = int(_scalar(row, inames, "PLATE", -1))
    mjd = int(_scalar(row, inames, "MJD", -1))
    fiber = int(_scalar(row, inames, "FIBERID", -1))
    z_fg = np.float64(_scalar(row, inames, "Z"))
    ra = float(_scalar(row, inames, "PLUG_RA"))
    dec = float(_scalar(row, inames, "PLUG_DEC"))
    survey = "sdss" if hdul[2].name == "SPECOBJ" else ("eboss" if plate >= 7283 else "boss")

    flags = set()
    if model is None:
        flags.add(FLAG_NO_FOREGROUND_MODEL)
    lo, hi = shift, shift + flux.shape[0]
    if lo > 0 or hi < grid.N_PIXELS:
        flags.add(FLAG_PARTIAL_COVERAGE)
    meta = {
        "plate": plate, "mjd": mjd, "fiber": fiber,
        "class": _scalar(row, inames, "CLASS", ""), "subclass": _scalar(row, inames, "SUBCLASS", ""),
        "zwarning": int(_scalar(row, inames, "ZWARNING", 0)), "hdu2": hdul[2].name,
        "run2d": str(hdul[0].header.get("RUN2D", "")),
    }
    return [Spectrum(
        wavelength=10.0 ** loglam, flux=flux, ivar=np.where(np.isfinite(ivar), ivar, 0).astype(np.float32),
        model=model, mask=bad, object_id=f"{plate:04d}-{mjd:05d}-{fiber:04d}", ra=ra, dec=dec,
        z_fg=z_fg, source=path, survey=survey, grid_shift=shift, wdisp=wdisp, sky=sky,
        flags=flags, meta=meta,
    )]
