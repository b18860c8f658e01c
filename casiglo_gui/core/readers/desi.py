"""DESI DR1 coadds (``coadd-*.fits``) with their Redrock redshifts (``redrock-*.fits``).

Coadd layout: ``FIBERMAP`` (TARGETID, TARGET_RA, TARGET_DEC, ...), and per arm X in B, R, Z:
``X_WAVELENGTH`` (linear, 0.8 A, vacuum), ``X_FLUX``/``X_IVAR``/``X_MASK`` ``(nspec, nwave)`` and
``X_RESOLUTION`` ``(nspec, 11, nwave)`` (diagonals +5..-5, as in desispec ``resolution.py``).
Redrock: ``REDSHIFTS`` (TARGETID, Z, ZWARN, SPECTYPE, SUBTYPE), joined on TARGETID.

Every target gives one :class:`Spectrum` on the model grid (grid_shift 0): the arms are resampled
flux-conservingly (:mod:`.resample`) and combined by inverse variance. Its ``wdisp`` comes from the
resolution matrices. DESI ships no model spectrum: the registry fits one (``model_source = "fitted"``).
Targets Redrock calls something other than a GALAXY, or with ZWARN != 0, are returned flagged
``not_searched`` with the reason: reported, not searched as galaxies.

The Redrock file is ``options.redshifts`` (``--redshifts``) or the file beside the coadd whose name has
``redrock`` for ``coadd``; without one the coadd is refused, saying what is missing.
"""
from __future__ import annotations

import os

import numpy as np

from .. import grid
from ..errors import SpectrumReadError
from ..spectrum import FLAG_NOT_SEARCHED, Spectrum
from .fitsfile import FitsSource
from .options import ReadOptions
from .registry import open_source, register_reader
from .resample import resample_to_grid

ARMS = ("B", "R", "Z")
REDSHIFT_COLUMNS = ("TARGETID", "Z", "ZWARN", "SPECTYPE", "SUBTYPE")
# A coadd pixel is bad when any MASK bit is set (desispec specmask: cosmic, saturation, bad fibre...).
RESOLUTION_DIAGONALS = 11


def _arms(source: FitsSource) -> list[str]:
    return [arm for arm in ARMS
            if all(source.index(f"{arm}_{part}") is not None for part in ("WAVELENGTH", "FLUX", "IVAR"))]


def is_desi_coadd(source: FitsSource) -> bool:
    return bool(_arms(source))


def is_redrock_file(source: FitsSource) -> bool:
    ext = source.index("REDSHIFTS")
    if ext is None or not source.is_table(ext) or is_desi_coadd(source):
        return False
    names = {name.upper() for name in source.column_names(ext)}
    return {"TARGETID", "Z", "ZWARN"} <= names


@register_reader("desi-redrock", is_redrock_file, priority=7)
def refuse_redrock(source: FitsSource, path: str) -> list[Spectrum]:
    raise SpectrumReadError(path, "DESI Redrock redshift file, not spectra: scan its coadd-*.fits (which reads "
                                  "this file when it lies beside it, or give it with --redshifts)")


def redrock_path_beside(coadd_path: str) -> str | None:
    """``redrock-X.fits`` beside ``coadd-X.fits`` (also ``.fits.gz`` either way), or None."""
    folder, name = os.path.split(coadd_path)
    if "coadd" not in name:
        return None
    stem = name.replace("coadd", "redrock", 1)
    candidates = [stem]
    if stem.endswith(".gz"):
        candidates.append(stem[:-3])
    else:
        candidates.append(stem + ".gz")
    for candidate in candidates:
        path = os.path.join(folder, candidate)
        if os.path.isfile(path):
            return path
    return None


def read_redshifts(path: str) -> dict[int, dict]:
    """TARGETID -> {z, zwarn, spectype, subtype} from a Redrock file's REDSHIFTS table."""
    with open_source(path) as source:
        ext = source.index("REDSHIFTS")
        if ext is None or not source.is_table(ext):
            raise SpectrumReadError(path, "not a Redrock file: no REDSHIFTS table")
        columns = source.read_columns(ext, REDSHIFT_COLUMNS)
    missing = [c for c in ("targetid", "z", "zwarn") if c not in columns]
    if missing:
        raise SpectrumReadError(path, f"REDSHIFTS table lacks {', '.join(missing)}")
    n = columns["targetid"].shape[0]
    spectype = columns.get("spectype", np.full(n, ""))
    subtype = columns.get("subtype", np.full(n, ""))
    return {int(t): {"z": float(z), "zwarn": int(w), "spectype": str(s).strip(), "subtype": str(u).strip()}
            for t, z, w, s, u in zip(columns["targetid"], columns["z"], columns["zwarn"], spectype, subtype)}


def _redshift_file(path: str, options: ReadOptions) -> str:
    if options.redshifts:
        return options.redshifts
    beside = redrock_path_beside(path)
    if beside is None:
        folder, name = os.path.split(path)
        expected = os.path.join(folder, name.replace("coadd", "redrock", 1)) if "coadd" in name else "redrock-*.fits"
        raise SpectrumReadError(path, f"DESI coadd without its Redrock redshifts: no {expected} beside it; "
                                      "give the redrock file with --redshifts FILE")
    return beside


def resolution_sigma_px(resolution: np.ndarray) -> np.ndarray:
    """Gaussian-equivalent sigma (native pixels) of DESI resolution rows ``(nspec, 11, nwave)``."""
    offsets = np.arange(RESOLUTION_DIAGONALS // 2, -(RESOLUTION_DIAGONALS // 2) - 1, -1, dtype=np.float64)
    r = np.clip(np.asarray(resolution, dtype=np.float64), 0.0, None)
    total = r.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.einsum("nkw,k->nw", r, offsets) / total
        second = np.einsum("nkw,k->nw", r, offsets ** 2) / total
    return np.sqrt(np.clip(second - mean ** 2, 0.0, None))


@register_reader("desi-coadd", is_desi_coadd, priority=7, takes_options=True)
def load_coadd(source: FitsSource, path: str, options: ReadOptions) -> list[Spectrum]:
    """One :class:`Spectrum` per target of a DESI coadd, on the model grid."""
    if source.index("FIBERMAP") is None:
        raise SpectrumReadError(path, "DESI coadd without a FIBERMAP: its spectra have no TARGETID, so they "
                                      "cannot be matched to Redrock redshifts (a stripped coadd); scan the full "
                                      "coadd-*.fits with its redrock-*.fits")
    fibermap = source.read_columns(source.index("FIBERMAP"), ("TARGETID", "TARGET_RA", "TARGET_DEC"))
    if "targetid" not in fibermap:
        raise SpectrumReadError(path, "DESI coadd FIBERMAP has no TARGETID column")
    targetid = fibermap["targetid"].astype(np.int64)
    n = targetid.size
    redshifts = read_redshifts(_redshift_file(path, options))

    flux_sum = np.zeros((n, grid.N_PIXELS))
    ivar_sum = np.zeros((n, grid.N_PIXELS))
    sigma_a = np.zeros((n, grid.N_PIXELS))
    sigma_weight = np.zeros((n, grid.N_PIXELS))
    for arm in _arms(source):
        wave = source.read_image(source.index(f"{arm}_WAVELENGTH")).astype(np.float64).ravel()
        flux = np.atleast_2d(source.read_image(source.index(f"{arm}_FLUX")).astype(np.float64))
        ivar = np.atleast_2d(source.read_image(source.index(f"{arm}_IVAR")).astype(np.float64))
        if flux.shape != (n, wave.size) or ivar.shape != flux.shape:
            raise SpectrumReadError(path, f"{arm}_FLUX/{arm}_IVAR have shape {flux.shape}/{ivar.shape}, "
                                          f"expected ({n}, {wave.size})")
        if wave.size < 2 or not np.all(np.diff(wave) > 0):
            raise SpectrumReadError(path, f"{arm}_WAVELENGTH is not an increasing wavelength vector")
        good = np.ones(flux.shape, dtype=bool)
        mask_ext = source.index(f"{arm}_MASK")
        if mask_ext is not None:
            good &= np.atleast_2d(source.read_image(mask_ext)) == 0
        arm_flux, arm_ivar = resample_to_grid(wave, flux, ivar, good)
        flux_sum += arm_flux * arm_ivar
        ivar_sum += arm_ivar
        res_ext = source.index(f"{arm}_RESOLUTION")
        if res_ext is not None:
            sigma = resolution_sigma_px(source.read_image(res_ext)) * np.gradient(wave)[None, :]
            on_grid = np.stack([np.interp(grid.WAVELENGTH_A, wave, row, left=np.nan, right=np.nan)
                                for row in sigma])
            use = np.isfinite(on_grid) & (arm_ivar > 0)
            sigma_a += np.where(use, on_grid * arm_ivar, 0.0)
            sigma_weight += np.where(use, arm_ivar, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        flux = np.where(ivar_sum > 0, flux_sum / ivar_sum, 0.0)
        # Instrumental sigma in model-grid pixels, plus the resampling's box of one pixel (1/12 px^2).
        sigma_px = np.where(sigma_weight > 0, sigma_a / sigma_weight, np.nan) / (
            grid.WAVELENGTH_A * grid.LN10 * grid.DLOGLAM)
        wdisp = np.sqrt(sigma_px ** 2 + 1.0 / 12.0)

    ra = fibermap.get("target_ra", np.full(n, np.nan)).astype(np.float64)
    dec = fibermap.get("target_dec", np.full(n, np.nan)).astype(np.float64)
    header = source.header(0)
    spectra = []
    for k in range(n):
        tid = int(targetid[k])
        info = redshifts.get(tid)
        meta = {"targetid": tid, "tileid": header.get("TILEID"), "fits_backend": source.backend}
        flags = set()
        z = np.float64(np.nan)
        if info is None:
            flags.add(FLAG_NOT_SEARCHED)
            meta["not_searched"] = "no Redrock redshift for this TARGETID"
        else:
            z = np.float64(info["z"])
            meta.update(spectype=info["spectype"], subtype=info["subtype"], zwarn=info["zwarn"], z_source="redrock")
            if info["spectype"].upper() != "GALAXY":
                flags.add(FLAG_NOT_SEARCHED)
                meta["not_searched"] = f"Redrock SPECTYPE {info['spectype'] or '?'} (only galaxies are searched)"
            elif info["zwarn"] != 0:
                flags.add(FLAG_NOT_SEARCHED)
                meta["not_searched"] = f"Redrock ZWARN={info['zwarn']} (redshift not reliable)"
        bad = ivar_sum[k] <= 0
        spectra.append(Spectrum(
            wavelength=grid.WAVELENGTH_A.copy(), flux=flux[k].astype(np.float32),
            ivar=ivar_sum[k].astype(np.float32), model=None, mask=bad, object_id=str(tid),
            ra=float(ra[k]), dec=float(dec[k]), z_fg=z, source=path, survey="desi", grid_shift=0,
            wdisp=np.where(np.isfinite(wdisp[k]), wdisp[k], 0.0).astype(np.float32), flags=flags, meta=meta))
    return spectra
