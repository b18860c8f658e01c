"""MaNGA: DR17 LOGCUBE data cubes, the DAP test-spectra table layout, and refusal of DAP MAPS files.

LOGCUBE layout (DRP, DR17): HDUs ``FLUX``, ``IVAR``, ``MASK`` are 3-D with the spectral axis first in the
FITS array, i.e. numpy shape ``(n_wave, ny, nx)``; ``WAVE`` is the 1-D vacuum wavelength (Angstrom) on the
log grid that *is* the model grid (shift 0). Spaxel ``(x, y)`` is ``FLUX[:, y, x]``: ``x`` is the column
(FITS axis 1), ``y`` the row (FITS axis 2), both 0-based; its object id is ``PLATEIFU/x,y``.

Foreground model: a DAP model cube (its ``MODEL`` HDU, same shape; ``MODEL_MASK`` joins the mask) when one
is given, or when the cube itself carries ``MODEL`` (``model_source = "dap"``). Without one, every spaxel
gets a fitted model (:mod:`casiglo_gui.core.foreground`, ``model_source = "fitted"``), all spaxels of a row
fitted together at the cube's redshift; with no redshift either, spectra are flagged
``no_foreground_model`` (``model_source = "none"``) and the scan does not search them.

Redshift of a cube, first found wins: the caller's ``z_fg``; primary-header ``Z``, ``NSA_Z``, ``NSA_ZDIST``,
``REDSHIFT`` or ``OBJZ`` (DRP cubes normally carry none); ``SCINPVEL`` (DAP input cz, km/s) of the cube or
the model cube; the DAP MAPS file or DRPall catalogue beside the cube, or given as ``--redshifts``
(:mod:`.manga_redshift`); the caller's ``z_fg_default`` (``--z-fg``); else NaN.

Any non-zero ``MASK`` bit counts as bad (DRP3PIXMASK: NOCOV, LOWCOV, DEADFIBER, FORESTAR, DONOTUSE).
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import SpectrumReadError
from ..foreground.attach import attach_foreground
from ..spectrum import FLAG_ALL_MASKED, FLAG_NO_FOREGROUND_MODEL, MODEL_DAP, Spectrum
from .fitsfile import FITS_ERRORS, FitsSource, astropy_fits, native
from .manga_redshift import redshift_beside
from .options import ReadOptions
from .registry import check_file, register_reader
from .sdss import check_loglam

SPEED_OF_LIGHT_KMS = 299792.458
CUBE_Z_KEYWORDS = ("Z", "NSA_Z", "NSA_ZDIST", "REDSHIFT", "OBJZ")
# Planes of the cube processed at once when scanning the whole cube (white light, spaxels with data):
# bounds the temporary memory to a few MB whatever the cube's size.
PLANES_PER_CHUNK = 256
MAPS_HDU_MARKERS = ("SPX_SKYCOO", "BINID", "EMLINE_GFLUX", "STELLAR_VEL")


def _has_spectral_hdus(source: FitsSource) -> bool:
    return all(source.index(name) is not None for name in ("FLUX", "IVAR", "MASK", "WAVE"))


def is_logcube(source: FitsSource) -> bool:
    if not _has_spectral_hdus(source):
        return False
    return len(source.image_shape(source.index("FLUX"))) == 3 and len(source.image_shape(source.index("WAVE"))) == 1


def is_test_spectra_table(source: FitsSource) -> bool:
    if not _has_spectral_hdus(source):
        return False
    return len(source.image_shape(source.index("FLUX"))) == 2 and len(source.image_shape(source.index("WAVE"))) == 1


def is_maps_file(source: FitsSource) -> bool:
    if str(source.header(0).get("DAPTYPE", "")).strip() and source.index("FLUX") is None:
        return True
    return sum(source.index(name) is not None for name in MAPS_HDU_MARKERS) >= 2


def _clean_ivar(ivar: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(ivar) & (ivar > 0), ivar, np.float32(0)).astype(np.float32, copy=False)


def _bad_pixels(flux, ivar, mask, model=None, model_mask=None) -> np.ndarray:
    bad = (mask != 0) | ~np.isfinite(flux) | ~np.isfinite(ivar) | (ivar <= 0)
    if model is not None:
        bad |= ~np.isfinite(model)
    if model_mask is not None:
        bad |= model_mask != 0
    return bad


def _wave_shift(wave: np.ndarray, path: str) -> int:
    wave = np.asarray(wave, dtype=np.float64)
    if wave.ndim != 1 or wave.size < 2:
        raise SpectrumReadError(path, "WAVE is not a 1-D wavelength vector")
    if not np.all(np.isfinite(wave)) or np.any(wave <= 0):
        raise SpectrumReadError(path, "WAVE has non-finite or non-positive wavelengths")
    return check_loglam(np.log10(wave), path)


# --------------------------------------------------------------------------------------------------
# The DAP test-spectra table: WAVE (n_wave), FLUX/IVAR/MASK/SRES (n, n_wave), Z (n)
# --------------------------------------------------------------------------------------------------

def _table_stem(path: str) -> str:
    name = os.path.basename(path)
    for suffix in (".gz", ".fits", ".fit"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name


@register_reader("manga-spectra-table", is_test_spectra_table, priority=5)
def load_test_spectra_table(source: FitsSource, path: str) -> list[Spectrum]:
    """One :class:`Spectrum` per row; a row with no good pixel is returned flagged ``all_masked``.

    Object ids are ``<file stem>[row]`` (the table records no plate-ifu).
    """
    wave = source.read_image(source.index("WAVE")).astype(np.float64)
    shift = _wave_shift(wave, path)
    arrays = {}
    for name in ("FLUX", "IVAR", "MASK"):
        arrays[name] = source.read_image(source.index(name))
        if arrays[name].ndim != 2 or arrays[name].shape[1] != wave.size:
            raise SpectrumReadError(path, f"{name} has shape {arrays[name].shape}, expected (n, {wave.size})")
    n_rows = arrays["FLUX"].shape[0]
    if arrays["IVAR"].shape[0] != n_rows or arrays["MASK"].shape[0] != n_rows:
        raise SpectrumReadError(path, "FLUX, IVAR and MASK have different numbers of rows")
    z = np.full(n_rows, np.nan)
    z_index = source.index("Z")
    if z_index is not None:
        z_values = source.read_image(z_index).astype(np.float64).ravel()
        if z_values.size != n_rows:
            raise SpectrumReadError(path, f"Z has {z_values.size} values for {n_rows} spectra")
        z = np.where(np.isfinite(z_values), z_values, np.nan)
    stem = _table_stem(path)
    drpver = str(source.header(0).get("DRPVER", "")).strip()
    spectra = []
    for row in range(n_rows):
        flux = arrays["FLUX"][row].astype(np.float32)
        ivar = arrays["IVAR"][row].astype(np.float32)
        bad = _bad_pixels(flux, ivar, arrays["MASK"][row])
        flags = {FLAG_NO_FOREGROUND_MODEL}
        if np.all(bad):
            flags.add(FLAG_ALL_MASKED)
        meta = {"row": row, "drpver": drpver, "fits_backend": source.backend}
        if source.warnings:
            meta["fits_warnings"] = list(source.warnings)
        spectra.append(Spectrum(
            wavelength=wave.copy(), flux=flux, ivar=_clean_ivar(ivar), model=None, mask=bad,
            object_id=f"{stem}[{row}]", ra=float("nan"), dec=float("nan"), z_fg=np.float64(z[row]),
            source=path, survey="manga", grid_shift=shift, flags=flags, meta=meta))
    return spectra


@register_reader("manga-maps", is_maps_file, priority=4)
def refuse_maps(source: FitsSource, path: str) -> list[Spectrum]:
    raise SpectrumReadError(path, "MaNGA DAP MAPS file: maps, not spectra (open the LOGCUBE instead)")


# --------------------------------------------------------------------------------------------------
# LOGCUBE
# --------------------------------------------------------------------------------------------------

def _header_float(header, keys) -> float:
    for key in keys:
        if key in header:
            try:
                value = float(header[key])
            except (TypeError, ValueError):
                continue
            if np.isfinite(value):
                return value
    return float("nan")


class MangaCube:
    """A MaNGA DR17 LOGCUBE, read lazily (memory-mapped when uncompressed; ``.fits.gz`` is decompressed).

    Use :func:`open_cube`. Also a context manager; ``close()`` releases the file.

    Attributes
    ----------
    shape : tuple (ny, nx)
        Spatial shape; spaxel ``(x, y)`` has ``0 <= x < nx``, ``0 <= y < ny``.
    wavelength : float64 array
        Vacuum wavelength (Angstrom) of each plane.
    plateifu, ra, dec, z_fg : str, float, float, float64
        From the primary header (OBJRA/OBJDEC); ``z_fg`` as documented in the module.
    has_foreground_model : bool
        Whether a DAP ``MODEL`` cube is attached.
    """

    def __init__(self, path: str | Path, model_cube: str | Path | None = None, z_fg: float | None = None,
                 z_fg_default: float | None = None, fit_foreground: bool = True, redshifts: str | None = None):
        self.path = str(path)
        self.fit_foreground = fit_foreground
        self._z_fg_default = z_fg_default
        self._redshifts = redshifts
        self.warnings: list[str] = []
        self._hdul = None
        self._model_hdul = None
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                self._open(model_cube, z_fg)
            self.warnings.extend(f"{w.category.__name__}: {w.message}" for w in caught)
        except SpectrumReadError:
            self.close()
            raise
        except cube_errors() as exc:
            self.close()
            raise SpectrumReadError(self.path, f"MaNGA cube could not be read ({type(exc).__name__}: {exc})") from None

    # -- opening ---------------------------------------------------------------------------------
    def _open_fits(self, path: str):
        fits = astropy_fits()

        compressed = check_file(path)  # the whole structure, truncation included, for every back-end
        return fits.open(path, memmap=not compressed, lazy_load_hdus=False)

    def _open(self, model_cube, z_fg) -> None:
        self._hdul = self._open_fits(self.path)
        names = [hdu.name.upper() for hdu in self._hdul]
        for name in ("FLUX", "IVAR", "MASK", "WAVE"):
            if name not in names:
                raise SpectrumReadError(self.path, f"not a MaNGA LOGCUBE: no {name} HDU")
        self._flux = self._hdul["FLUX"]
        self._ivar = self._hdul["IVAR"]
        self._mask = self._hdul["MASK"]
        n_wave_ny_nx = self._flux.shape
        if len(n_wave_ny_nx) != 3:
            raise SpectrumReadError(self.path, f"FLUX is not 3-D (shape {n_wave_ny_nx})")
        for hdu in (self._ivar, self._mask):
            if hdu.shape != n_wave_ny_nx:
                raise SpectrumReadError(self.path, f"{hdu.name} shape {hdu.shape} differs from FLUX {n_wave_ny_nx}")
        self.n_wave = n_wave_ny_nx[0]
        self.shape = (int(n_wave_ny_nx[1]), int(n_wave_ny_nx[2]))
        self.wavelength = native(np.array(self._hdul["WAVE"].data), np.float64)
        if self.wavelength.shape != (self.n_wave,):
            raise SpectrumReadError(self.path, f"WAVE has {self.wavelength.size} values for {self.n_wave} planes")
        self.grid_shift = _wave_shift(self.wavelength, self.path)

        self._model = self._model_mask = None
        if "MODEL" in names:
            self._model_hdul = None
            self._attach_model(self._hdul, self.path)
        if model_cube is not None:
            self._model_hdul = self._open_fits(str(model_cube))
            if "MODEL" not in [h.name.upper() for h in self._model_hdul]:
                raise SpectrumReadError(str(model_cube), "not a DAP model cube: no MODEL HDU")
            self._attach_model(self._model_hdul, str(model_cube))

        header = self._hdul[0].header
        self.plateifu = str(header.get("PLATEIFU", "")).strip() or (
            f"{header.get('PLATEID', '?')}-{header.get('IFUDSGN', '?')}")
        self.mangaid = str(header.get("MANGAID", "")).strip()
        self.ra = _header_float(header, ("OBJRA", "IFURA"))
        self.dec = _header_float(header, ("OBJDEC", "IFUDEC"))
        if z_fg is not None:
            self.z_fg, self.z_source = np.float64(z_fg), "caller"
        else:
            self.z_fg, self.z_source = np.float64(np.nan), "none"
            z = _header_float(header, CUBE_Z_KEYWORDS)
            if np.isfinite(z):
                self.z_fg, self.z_source = np.float64(z), "header"
            else:
                for hdul in (self._hdul, self._model_hdul):
                    if hdul is not None:
                        cz = _header_float(hdul[0].header, ("SCINPVEL",))
                        if np.isfinite(cz):
                            self.z_fg, self.z_source = np.float64(cz / SPEED_OF_LIGHT_KMS), "SCINPVEL"
                            break
            if not np.isfinite(self.z_fg):
                found = redshift_beside(self.path, self.plateifu, self._redshifts)
                if found is not None:
                    self.z_fg, self.z_source = np.float64(found[0]), found[1]
            if not np.isfinite(self.z_fg) and self._z_fg_default is not None:
                self.z_fg, self.z_source = np.float64(self._z_fg_default), "--z-fg"
        self._with_data = None

    def _attach_model(self, hdul, path: str) -> None:
        model = hdul["MODEL"]
        if model.shape != (self.n_wave,) + self.shape:
            raise SpectrumReadError(path, f"MODEL shape {model.shape} differs from the cube's "
                                          f"{(self.n_wave,) + self.shape}")
        self._model = model
        names = [h.name.upper() for h in hdul]
        self._model_mask = hdul["MODEL_MASK"] if "MODEL_MASK" in names else None

    # -- basic protocol --------------------------------------------------------------------------
    @property
    def has_foreground_model(self) -> bool:
        return self._model is not None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        for hdul in (self._hdul, self._model_hdul):
            if hdul is not None:
                hdul.close()

    def __repr__(self) -> str:
        return f"MangaCube({self.plateifu!r}, shape={self.shape}, n_wave={self.n_wave})"

    def _check_xy(self, x: int, y: int) -> tuple[int, int]:
        ny, nx = self.shape
        if not (0 <= int(x) < nx and 0 <= int(y) < ny):
            raise IndexError(f"spaxel ({x}, {y}) is outside the {nx} x {ny} cube")
        return int(x), int(y)

    # -- reading ----------------------------------------------------------------------------------
    def _column(self, hdu, x, y, dtype):
        return native(np.array(hdu.data[:, y, x]), dtype)

    def _spaxel_arrays(self, x, y):
        flux = self._column(self._flux, x, y, np.float32)
        ivar = self._column(self._ivar, x, y, np.float32)
        mask = self._column(self._mask, x, y, None)
        model = None if self._model is None else self._column(self._model, x, y, np.float32)
        model_mask = None if self._model_mask is None else self._column(self._model_mask, x, y, None)
        return flux, ivar, mask, model, model_mask

    def _spectrum(self, flux, ivar, bad, model, object_id, meta) -> Spectrum:
        flags = set()
        if model is None:
            flags.add(FLAG_NO_FOREGROUND_MODEL)
        if np.all(bad):
            flags.add(FLAG_ALL_MASKED)
        meta = {"plateifu": self.plateifu, "mangaid": self.mangaid, "z_source": self.z_source, **meta}
        if self.warnings:
            meta["fits_warnings"] = list(self.warnings)
        return Spectrum(
            wavelength=self.wavelength.copy(), flux=flux, ivar=_clean_ivar(ivar), model=model, mask=bad,
            object_id=object_id, ra=self.ra, dec=self.dec, z_fg=self.z_fg, source=self.path,
            survey="manga", grid_shift=self.grid_shift, flags=flags, meta=meta,
            model_source=MODEL_DAP if model is not None else "")

    def _with_foreground(self, spectra: list[Spectrum]) -> list[Spectrum]:
        """Fitted models for spectra without a DAP model (one call for the list: they share z and pixels)."""
        if self.fit_foreground and self._model is None:
            attach_foreground(spectra)
        return spectra

    def spaxel(self, x: int, y: int) -> Spectrum:
        """The spectrum of spaxel ``(x, y)``; an empty spaxel comes back flagged ``all_masked``.

        Raises
        ------
        IndexError
            If ``(x, y)`` is outside the cube.
        """
        x, y = self._check_xy(x, y)
        flux, ivar, mask, model, model_mask = self._spaxel_arrays(x, y)
        bad = _bad_pixels(flux, ivar, mask, model, model_mask)
        spectrum = self._spectrum(flux, ivar, bad, model, f"{self.plateifu}/{x},{y}", {"x": x, "y": y})
        return self._with_foreground([spectrum])[0]

    def aperture(self, x: float, y: float, radius_spaxels: float) -> Spectrum:
        """Summed spectrum of the spaxels with data within ``radius_spaxels`` of ``(x, y)`` (centres).

        Flux (and model) are summed; variances are summed (ivar = 1 / sum of 1/ivar). A wavelength pixel
        is bad when it is bad in any contributing spaxel, so the sum never mixes different spaxel sets.
        """
        if not np.isfinite(radius_spaxels) or radius_spaxels < 0:
            raise ValueError(f"aperture radius must be >= 0 spaxels, got {radius_spaxels}")
        ny, nx = self.shape
        yy, xx = np.mgrid[0:ny, 0:nx]
        inside = (xx - x) ** 2 + (yy - y) ** 2 <= radius_spaxels ** 2 + 1e-9
        members = [(int(i), int(j)) for j, i in zip(*np.nonzero(inside & self.has_data_map()))]
        object_id = f"{self.plateifu}/{x:g},{y:g}/r{radius_spaxels:g}"
        meta = {"x": x, "y": y, "radius_spaxels": radius_spaxels, "n_spaxels": len(members)}
        flux_sum = np.zeros(self.n_wave, dtype=np.float64)
        var_sum = np.zeros(self.n_wave, dtype=np.float64)
        model_sum = None if self._model is None else np.zeros(self.n_wave, dtype=np.float64)
        bad = np.zeros(self.n_wave, dtype=bool) if members else np.ones(self.n_wave, dtype=bool)
        for i, j in members:
            flux, ivar, mask, model, model_mask = self._spaxel_arrays(i, j)
            spaxel_bad = _bad_pixels(flux, ivar, mask, model, model_mask)
            bad |= spaxel_bad
            good = ~spaxel_bad
            flux_sum[good] += flux[good]
            var_sum[good] += 1.0 / ivar[good].astype(np.float64)
            if model_sum is not None:
                model_sum[good] += model[good]
        ivar = np.zeros(self.n_wave, dtype=np.float32)
        ok = ~bad & (var_sum > 0)
        ivar[ok] = (1.0 / var_sum[ok]).astype(np.float32)
        bad |= ~ok
        model = None if model_sum is None else model_sum.astype(np.float32)
        spectrum = self._spectrum(flux_sum.astype(np.float32), ivar, bad, model, object_id, meta)
        return self._with_foreground([spectrum])[0]

    def _planes(self):
        for start in range(0, self.n_wave, PLANES_PER_CHUNK):
            stop = min(start + PLANES_PER_CHUNK, self.n_wave)
            flux = native(np.array(self._flux.data[start:stop]), np.float32)
            ivar = native(np.array(self._ivar.data[start:stop]), np.float32)
            mask = native(np.array(self._mask.data[start:stop]))
            yield flux, ivar, mask

    def has_data_map(self) -> np.ndarray:
        """Boolean ``(ny, nx)`` map: True where the spaxel has at least one good pixel."""
        if self._with_data is None:
            with_data = np.zeros(self.shape, dtype=bool)
            for flux, ivar, mask in self._planes():
                with_data |= np.any(~_bad_pixels(flux, ivar, mask), axis=0)
            self._with_data = with_data
        return self._with_data

    def spaxels_with_data(self) -> list[tuple[int, int]]:
        """``(x, y)`` of every spaxel with at least one good pixel, row by row (y, then x)."""
        ys, xs = np.nonzero(self.has_data_map())
        return [(int(x), int(y)) for y, x in zip(ys, xs)]

    def white_light(self) -> np.ndarray:
        """``(ny, nx)`` float64 map: mean flux over each spaxel's good pixels; NaN where it has none."""
        total = np.zeros(self.shape, dtype=np.float64)
        count = np.zeros(self.shape, dtype=np.int64)
        for flux, ivar, mask in self._planes():
            good = ~_bad_pixels(flux, ivar, mask)
            total += np.where(good, flux, 0).sum(axis=0, dtype=np.float64)
            count += good.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1), np.nan)

    def __iter__(self) -> Iterator[Spectrum]:
        """The spectra of the spaxels with data, row by row (see :meth:`iter_rows`)."""
        return self.iter_rows(0, self.shape[0])

    def iter_rows(self, y_start: int, y_stop: int) -> Iterator[Spectrum]:
        """The spectra of the spaxels with data in rows ``y_start <= y < y_stop``, row by row.

        Reads one spaxel row (all planes) at a time: a strided read per row rather than per spaxel. Which
        spaxels have data is decided from the row itself (as :meth:`has_data_map` does), so a range of
        rows costs a read of those rows only.
        """
        for y in range(max(int(y_start), 0), min(int(y_stop), self.shape[0])):
            rows = [None if hdu is None else native(np.array(hdu.data[:, y, :]))
                    for hdu in (self._flux, self._ivar, self._mask, self._model, self._model_mask)]
            flux_row, ivar_row = (r.astype(np.float32, copy=False) for r in rows[:2])
            xs = np.nonzero(np.any(~_bad_pixels(flux_row, ivar_row, rows[2]), axis=0))[0]
            if xs.size == 0:
                continue
            spectra = []
            for x in xs.tolist():
                flux, ivar, mask, model, model_mask = (
                    None if row is None else np.ascontiguousarray(row[:, x]) for row in rows)
                flux, ivar = flux.astype(np.float32, copy=False), ivar.astype(np.float32, copy=False)
                model = None if model is None else model.astype(np.float32, copy=False)
                bad = _bad_pixels(flux, ivar, mask, model, model_mask)
                spectra.append(self._spectrum(flux, ivar, bad, model, f"{self.plateifu}/{x},{y}", {"x": x, "y": y}))
            yield from self._with_foreground(spectra)

    def __len__(self) -> int:
        return len(self.spaxels_with_data())


def open_cube(path: str | Path, model_cube: str | Path | None = None, z_fg: float | None = None,
              z_fg_default: float | None = None, fit_foreground: bool = True,
              redshifts: str | None = None) -> MangaCube:
    """Open a MaNGA LOGCUBE.

    Parameters
    ----------
    path : str or Path
        ``manga-PLATE-IFU-LOGCUBE.fits`` or ``.fits.gz`` (identified by content, not name).
    model_cube : str or Path, optional
        A DAP model cube (``...LOGCUBE-<DAPTYPE>.fits.gz``) whose ``MODEL`` becomes the foreground model.
    z_fg : float, optional
        Foreground redshift overriding whatever the headers say.
    z_fg_default : float, optional
        Foreground redshift used when nothing else gives one (``--z-fg``).
    redshifts : str, optional
        A MAPS file or DRPall catalogue to take the redshift from (``--redshifts``), instead of looking for
        one beside the cube (:mod:`.manga_redshift`).
    fit_foreground : bool
        Fit a foreground model per spaxel when no DAP model is attached (default True).

    Raises
    ------
    SpectrumReadError
        Missing, damaged or non-LOGCUBE file, or a model cube that does not match.
    """
    return MangaCube(path, model_cube=model_cube, z_fg=z_fg, z_fg_default=z_fg_default,
                     fit_foreground=fit_foreground, redshifts=redshifts)


def cube_errors() -> tuple[type[BaseException], ...]:
    """Exceptions astropy raises on damaged cubes (imported late: the fitsio path does not need astropy)."""
    return FITS_ERRORS + (astropy_fits().verify.VerifyError, AssertionError)


@register_reader("manga-logcube", is_logcube, priority=6, takes_options=True)
def load_logcube(source: FitsSource, path: str, options: ReadOptions) -> Iterator[Spectrum]:
    """Every spaxel with data, row by row, read lazily."""
    with open_cube(path, z_fg_default=options.z_fg, fit_foreground=options.fit_foreground,
                   redshifts=options.redshifts) as cube:
        try:
            yield from (cube if options.spaxel_rows is None else cube.iter_rows(*options.spaxel_rows))
        except cube_errors() as exc:
            raise SpectrumReadError(path, f"MaNGA cube could not be read ({type(exc).__name__}: {exc})") from None

