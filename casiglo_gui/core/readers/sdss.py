"""SDSS-I/II and BOSS/eBOSS ``spec-PLATE-MJD-FIBER.fits`` files, lite and full.

HDU1 ``COADD``: flux, loglam, ivar, and_mask, wdisp, sky, model. HDU2 ``SPECOBJ`` (SDSS-I/II) or
``SPALL`` (BOSS/eBOSS): Z, PLATE, MJD, FIBERID, PLUG_RA, PLUG_DEC, CLASS. The object position is
PLUG_RA/PLUG_DEC; the primary header's RA/DEC is the plate centre.

Only the COADD columns and the HDU2 cells used are read; the per-exposure HDUs of full files, the
SPZLINE table and the other ~230 HDU2 columns are never touched.
"""
from __future__ import annotations

import numpy as np

from .. import grid
from ..errors import SpectrumReadError
from ..spectrum import FLAG_NO_FOREGROUND_MODEL, FLAG_PARTIAL_COVERAGE, Spectrum
from .fitsfile import FitsSource
from .registry import register_reader

REQUIRED_COLUMNS = ("flux", "loglam", "ivar")
OPTIONAL_COLUMNS = ("and_mask", "model", "wdisp", "sky")
INFO_COLUMNS = ("Z", "PLATE", "MJD", "FIBERID", "PLUG_RA", "PLUG_DEC", "CLASS", "SUBCLASS", "ZWARNING")
INFO_HDU_NAMES = ("SPECOBJ", "SPALL")
# First plate of SDSS-IV eBOSS; BOSS (SDSS-III) plates are below it.
FIRST_EBOSS_PLATE = 7283
# A step further than this fraction of 1e-4 dex from it means a different (e.g. linear) wavelength grid.
MAX_STEP_DEVIATION = 0.05
# A spec file's COADD has one row per pixel (SDSS-I/II ~3,850, BOSS ~4,650) of a few numbers; a table
# declaring more (a damaged NAXIS2, a crafted sparse file) is refused before anything is read, so one
# input never costs more than a few MB.
MAX_COADD_ROWS = 20_000
MAX_COADD_ROW_BYTES = 1024
# No survey covers the whole model grid (SDSS-I/II spectra cover ~84% of it, BOSS ~99.6%); a spectrum is
# flagged partial_coverage when it covers less than this fraction, e.g. spec-1931-53358-0251 (63%).
FULL_COVERAGE_FRACTION = 0.75


def grid_coverage(shift: int, n_pixels: int) -> float:
    """Fraction of the model grid's pixels that a spectrum of ``n_pixels`` at ``shift`` covers."""
    covered = min(shift + n_pixels, grid.N_PIXELS) - max(shift, 0)
    return max(covered, 0) / grid.N_PIXELS


def is_spec_file(source: FitsSource) -> bool:
    return len(source) >= 3 and source.names[1] == "COADD" and source.names[2] in INFO_HDU_NAMES


def _first(values: dict, key: str, default):
    column = values.get(key.lower())
    if column is None or column.shape[0] == 0:
        return default
    value = column[0]
    if isinstance(value, np.ndarray):  # a vector cell where a scalar was expected
        return default
    return value.item() if isinstance(value, np.generic) else value


def _finite_or_nan(value) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return value if np.isfinite(value) else float("nan")


def _int_or(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return default


def _integer(values: dict, key: str, header, header_key: str, path: str) -> int:
    value = _first(values, key, None)
    if value is None:
        value = header.get(header_key)
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise SpectrumReadError(path, f"{key} is missing from HDU2 and the primary header") from None


def check_loglam(loglam: np.ndarray, path: str) -> int:
    """Validate a log10-wavelength column and return its model-grid shift.

    Raises
    ------
    SpectrumReadError
        Non-finite or non-increasing values, a step other than 1e-4 dex, an offset from the grid's
        pixel centres, or no overlap with the model grid.
    """
    if not np.all(np.isfinite(loglam)):
        raise SpectrumReadError(path, "loglam column has non-finite values")
    if loglam.size > 1:
        steps = np.diff(loglam)
        if not np.all(steps > 0):
            raise SpectrumReadError(path, "loglam column is not increasing")
        worst = float(np.max(np.abs(steps - grid.DLOGLAM)))
        if worst > MAX_STEP_DEVIATION * grid.DLOGLAM:
            raise SpectrumReadError(
                path, f"wrong loglam step: expected {grid.DLOGLAM:g} dex per pixel, found steps up to "
                      f"{worst + grid.DLOGLAM:.3g} dex off (not on the model grid)")
    try:
        shift = grid.pixel_shift(loglam[0])
    except grid.OffGridError as exc:
        raise SpectrumReadError(path, f"wavelengths not on the 1e-4 dex model grid: {exc}") from None
    if shift >= grid.N_PIXELS or shift + loglam.size <= 0:
        raise SpectrumReadError(path, f"spectrum ({10 ** loglam[0]:.0f}-{10 ** loglam[-1]:.0f} A) does not "
                                      "overlap the model grid")
    return shift


# SPPIXMASK bits (idlspec2d sdssMaskbits.par) that make a pixel's value untrustworthy. Left out on purpose:
# fibre-level notes such as MANYBADCOLUMNS (4) and MANYREJECTED (5), which the pipeline sets on every pixel of a
# camera (half an SDSS-I spectrum, e.g. spec-0266-51602-0013), and mild ones (NEARBADPIXEL, LOWFLAT,
# PARTIALREJECT, SCATTEREDLIGHT, CROSSTALK, BADFLUXFACTOR) that do not corrupt a line.
BAD_PIXEL_BITS = {
    0: "NOPLUG", 1: "BADTRACE", 2: "BADFLAT", 3: "BADARC", 8: "NEARWHOPPER", 9: "WHOPPER",
    18: "FULLREJECT", 22: "NOSKY", 23: "BRIGHTSKY", 24: "NODATA", 25: "COMBINEREJ",
    27: "BADSKYCHI", 28: "REDMONSTER",
}
BAD_PIXEL_MASK = sum(1 << bit for bit in BAD_PIXEL_BITS)


# Largest |flux|, |model| (1e-17 erg/s/cm^2/A) and ivar taken as data: far beyond any object SDSS observes
# unsaturated, and small enough that ivar * flux**2 stays finite in float32. A larger value is damage
# (e.g. a flipped exponent bit), masked rather than allowed to overflow the line fit into NaN scores.
MAX_ABS_VALUE = 1e10


def pixel_mask(flux: np.ndarray, ivar: np.ndarray, and_mask: np.ndarray | None,
               model: np.ndarray | None) -> np.ndarray:
    """True = bad: a bad-pixel bit of and_mask (``BAD_PIXEL_BITS``), ivar <= 0, or a non-finite or
    non-physical (beyond ``MAX_ABS_VALUE``) value."""
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(flux) <= MAX_ABS_VALUE) | ~(ivar <= MAX_ABS_VALUE) | ~(ivar > 0)
        if and_mask is not None:
            bad |= (np.asarray(and_mask).astype(np.int64) & BAD_PIXEL_MASK) != 0
        if model is not None:
            bad |= ~(np.abs(model) <= MAX_ABS_VALUE)
    return bad


def refuse_unusable(flux: np.ndarray, ivar: np.ndarray, bad: np.ndarray, path: str) -> None:
    """Raise for a single-spectrum file that has nothing usable in it, saying why."""
    if not np.any(np.isfinite(flux)):
        raise SpectrumReadError(path, "flux is NaN or infinite at every pixel")
    if not np.any(np.isfinite(ivar) & (ivar > 0)):
        raise SpectrumReadError(path, _no_positive_ivar(ivar))
    if np.all(bad):
        raise SpectrumReadError(path, "every pixel is masked (and_mask, ivar or non-finite values)")


def _no_positive_ivar(ivar: np.ndarray) -> str:
    """Why no pixel has a usable ivar, naming what the values are."""
    negative = int(np.count_nonzero(ivar < 0))
    zero = int(np.count_nonzero(ivar == 0))
    other = ivar.size - negative - zero
    if zero == ivar.size:
        return "ivar is zero at every pixel (dead or unplugged fibre)"
    parts = [f"{count} {what}" for count, what in ((negative, "negative"), (zero, "zero"), (other, "NaN or infinite"))
             if count]
    return f"ivar has no positive value ({', '.join(parts)} of {ivar.size} pixels): not an inverse variance"


@register_reader("sdss-spec", is_spec_file, priority=10)
def load_spec(source: FitsSource, path: str) -> list[Spectrum]:
    """Read one ``spec-*.fits`` file (lite or full) into a :class:`Spectrum`."""
    n = source.nrows(1)
    if n <= 0:
        raise SpectrumReadError(path, "COADD table is empty")
    if n > MAX_COADD_ROWS:
        raise SpectrumReadError(path, f"COADD table declares {n:,} rows; a spec file has one per pixel, a few "
                                      f"thousand (at most {MAX_COADD_ROWS:,} accepted)")
    row_bytes = source.header(1).get("NAXIS1", 0)
    if not isinstance(row_bytes, int) or row_bytes > MAX_COADD_ROW_BYTES:
        raise SpectrumReadError(path, f"COADD rows declare {row_bytes!r} bytes each (at most "
                                      f"{MAX_COADD_ROW_BYTES} accepted: a row holds a few numbers per pixel)")
    columns = source.read_columns(1, REQUIRED_COLUMNS + OPTIONAL_COLUMNS)
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise SpectrumReadError(path, f"COADD table lacks required column(s) {', '.join(missing)}")
    for name, column in columns.items():
        if column.ndim != 1:
            raise SpectrumReadError(path, f"COADD column {name} is not one value per pixel")
        if column.dtype.kind not in "fiub":
            raise SpectrumReadError(path, f"COADD column {name} holds {column.dtype} values, not real numbers")
    flux = columns["flux"].astype(np.float32, copy=False)
    loglam = columns["loglam"].astype(np.float64)
    ivar = columns["ivar"].astype(np.float32, copy=False)
    model = columns.get("model")
    model = None if model is None else model.astype(np.float32, copy=False)
    wdisp = columns.get("wdisp")
    wdisp = None if wdisp is None else wdisp.astype(np.float32, copy=False)
    sky = columns.get("sky")
    sky = None if sky is None else sky.astype(np.float32, copy=False)
    and_mask = columns.get("and_mask")

    shift = check_loglam(loglam, path)
    bad = pixel_mask(flux, ivar, and_mask, model)
    refuse_unusable(flux, ivar, bad, path)
    ivar = np.where(np.isfinite(ivar) & (ivar > 0), ivar, np.float32(0)).astype(np.float32, copy=False)

    hdu2 = source.names[2]
    if source.nrows(2) <= 0:
        raise SpectrumReadError(path, f"{hdu2} table is empty")
    info = source.read_columns(2, INFO_COLUMNS, rows=[0])
    if "z" not in info:
        raise SpectrumReadError(path, f"{hdu2} table lacks the Z column (pipeline redshift)")
    primary = source.header(0)
    plate = _integer(info, "PLATE", primary, "PLATEID", path)
    mjd = _integer(info, "MJD", primary, "MJD", path)
    fiber = _integer(info, "FIBERID", primary, "FIBERID", path)
    z_fg = np.float64(_finite_or_nan(_first(info, "Z", np.nan)))
    if not np.isfinite(z_fg):  # the lens search looks behind the foreground: it needs its redshift
        raise SpectrumReadError(path, f"{hdu2} Z (pipeline redshift) is not a finite number")
    survey = "sdss" if hdu2 == "SPECOBJ" else ("eboss" if plate >= FIRST_EBOSS_PLATE else "boss")

    flags = set()
    if model is None:
        flags.add(FLAG_NO_FOREGROUND_MODEL)
    coverage = grid_coverage(shift, n)
    if coverage < FULL_COVERAGE_FRACTION:
        flags.add(FLAG_PARTIAL_COVERAGE)
    meta = {
        "plate": plate, "mjd": mjd, "fiber": fiber,
        "class": str(_first(info, "CLASS", "")), "subclass": str(_first(info, "SUBCLASS", "")),
        "zwarning": _int_or(_first(info, "ZWARNING", 0), -1),
        "hdu2": hdu2, "run2d": str(primary.get("RUN2D", "")).strip(),
        "grid_coverage": round(coverage, 4), "fits_backend": source.backend,
    }
    if source.warnings:
        meta["fits_warnings"] = list(source.warnings)
    return [Spectrum(
        wavelength=10.0 ** loglam, flux=flux, ivar=ivar, model=model, mask=bad,
        object_id=f"{plate:04d}-{mjd:05d}-{fiber:04d}",
        ra=_finite_or_nan(_first(info, "PLUG_RA", np.nan)), dec=_finite_or_nan(_first(info, "PLUG_DEC", np.nan)),
        z_fg=z_fg, source=path, survey=survey, grid_shift=shift, wdisp=wdisp, sky=sky,
        flags=flags, meta=meta,
    )]
