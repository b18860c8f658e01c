"""The per-chunk work every engine runs: read a few files, put them on the grid, detect, make rows.

``process_chunk`` is a plain top-level function of picklable arguments, so the same code runs
in-process, in a spawned process pool and on Dask workers (which read their own files). It never
raises for a bad input: every input gives at least one row, an ``error: <reason>`` row if need be.
"""
from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field

import numpy as np

from .. import grid
from ..errors import SpectrumReadError
from ..preprocessing import clean, place_on_grid
from ..readers import iter_spectra
from ..readers.options import DEFAULT_OPTIONS, ReadOptions
from ..readers.registry import NO_SPECTRUM
from ..spectrum import FLAG_ALL_MASKED, FLAG_NOT_SEARCHED, MODEL_NONE, Spectrum
from .columns import Row, detection_row, error_reason, error_row
from .parts import CubeMapPart, CubePart, item_path
from ..detectors.spec import DetectorSpec, cached_detector


@dataclass(frozen=True)
class ChunkConfig:
    """Everything a worker needs besides the file paths (small and picklable)."""

    detector: DetectorSpec
    batch_size: int = 32
    maps_dir: str | None = None  # write a detection-map FITS per MaNGA cube here
    read_options: ReadOptions = DEFAULT_OPTIONS  # --z-fg, --redshifts


@dataclass
class ChunkResult:
    """Rows of a chunk, grouped per input (in input order), and where the time went."""

    index: int
    rows_per_input: list[list[Row]]
    seconds: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    maps_written: list[str] = field(default_factory=list)
    model_sources: dict[str, int] = field(default_factory=dict)  # searched spectra by foreground model
    # A unit that is one part of a cube (:mod:`.parts`): which part, whether a read error ended its rows,
    # the reason its worker died (error_chunk), and the detection-map values for the scan process.
    part: CubePart | None = None
    read_error: bool = False
    worker_died: str = ""
    cube_map: CubeMapPart | None = None

    @property
    def n_rows(self) -> int:
        return sum(len(rows) for rows in self.rows_per_input)


class _Batch:
    """Spectra waiting for the detector, already on the model grid (preallocated, reused)."""

    def __init__(self, size: int):
        self.size = size
        self.residual = np.zeros((size, grid.N_PIXELS), dtype=np.float32)
        self.ivar = np.zeros((size, grid.N_PIXELS), dtype=np.float32)
        self.mask = np.ones((size, grid.N_PIXELS), dtype=bool)
        self.wdisp = np.zeros((size, grid.N_PIXELS), dtype=np.float32)
        self.sky = np.full((size, grid.N_PIXELS), np.nan, dtype=np.float32)  # NaN: sky unknown
        self.z_fg = np.zeros(size, dtype=np.float64)
        self.has_wdisp = np.zeros(size, dtype=bool)
        self.slots: list[tuple[int, int, Spectrum]] = []  # (input index, row index, spectrum)

    def add(self, spectrum: Spectrum, input_index: int, row_index: int) -> None:
        k = len(self.slots)
        shift = spectrum.grid_shift
        self.residual[k] = place_on_grid(spectrum.residual.astype(np.float32, copy=False), shift, np.float32(0))
        self.ivar[k] = place_on_grid(spectrum.residual_ivar.astype(np.float32, copy=False), shift, np.float32(0))
        self.mask[k] = place_on_grid(np.asarray(spectrum.mask, dtype=bool), shift, True)
        if spectrum.wdisp is not None:
            self.wdisp[k] = place_on_grid(spectrum.wdisp.astype(np.float32, copy=False), shift, np.float32(0))
            self.has_wdisp[k] = True
        else:
            self.wdisp[k] = 0.0
            self.has_wdisp[k] = False
        self.sky[k] = (np.float32(np.nan) if spectrum.sky is None else
                       place_on_grid(spectrum.sky.astype(np.float32, copy=False), shift, np.float32(np.nan)))
        self.z_fg[k] = np.float64(spectrum.z_fg)
        self.slots.append((input_index, row_index, spectrum))

    @property
    def full(self) -> bool:
        return len(self.slots) >= self.size


def _is_cube_spaxel(spectrum: Spectrum) -> bool:
    meta = spectrum.meta
    return spectrum.survey == "manga" and "x" in meta and "y" in meta and "radius_spaxels" not in meta


def _detect(detector, batch: _Batch, rows_per_input: list[list[Row]], seconds: dict[str, float],
            cube_values: dict[int, list] | None = None) -> None:
    n = len(batch.slots)
    if n == 0:
        return
    t0 = time.perf_counter()
    # The spectrum's own sky decides which listed sky lines are masked, exactly as in to_model_grid; a
    # batch without any (MaNGA spaxels, DESI) masks the whole list, which is what an unknown sky gives.
    sky = batch.sky[:n] if np.isfinite(batch.sky[:n]).any() else None
    residual, ivar, _ = clean(batch.residual[:n], batch.ivar[:n], batch.mask[:n], sky=sky)
    wdisp = batch.wdisp[:n] if batch.has_wdisp[:n].any() else None
    t1 = time.perf_counter()
    seconds["preprocess"] = seconds.get("preprocess", 0.0) + (t1 - t0)
    try:
        detections = detector.detect_batch(residual, ivar, batch.z_fg[:n].copy(), wdisp=wdisp)
        if len(detections) != n:
            raise ValueError(f"detector returned {len(detections)} results for {n} spectra")
    except Exception:
        # Find the spectrum that breaks the detector instead of failing the whole batch.
        detections = []
        for k in range(n):
            try:
                detections.append(detector.detect_batch(
                    residual[k:k + 1], ivar[k:k + 1], batch.z_fg[k:k + 1].copy(),
                    wdisp=None if wdisp is None else wdisp[k:k + 1])[0])
            except Exception as exc:  # one bad spectrum must not stop the scan
                detections.append(exc)
    seconds["detect"] = seconds.get("detect", 0.0) + (time.perf_counter() - t1)
    for (i, r, spectrum), det in zip(batch.slots, detections):
        if isinstance(det, Exception):
            row = error_row(spectrum.source, f"detector failed ({type(det).__name__}: {det})",
                            spectrum.object_id, spectrum.ra, spectrum.dec, spectrum.z_fg)
        else:
            if cube_values is not None and _is_cube_spaxel(spectrum):
                cube_values.setdefault(i, []).append((int(spectrum.meta["x"]), int(spectrum.meta["y"]), det))
            try:
                row = detection_row(spectrum.source, spectrum.object_id, spectrum.ra, spectrum.dec,
                                    spectrum.z_fg, det)
            except (TypeError, ValueError) as exc:
                row = error_row(spectrum.source, f"detector output unusable ({exc})",
                                spectrum.object_id, spectrum.ra, spectrum.dec, spectrum.z_fg)
        rows_per_input[i][r] = row
    batch.slots.clear()


def _unusable(spectrum: Spectrum) -> str:
    """Why a spectrum read fine cannot be searched ('' when it can)."""
    if spectrum.grid_shift is None:
        return "spectrum is not on the 1e-4 dex model grid"
    if FLAG_ALL_MASKED in spectrum.flags or bool(np.all(spectrum.mask)):
        return "no usable pixel (every pixel masked)"
    if FLAG_NOT_SEARCHED in spectrum.flags:
        return "not searched: " + str(spectrum.meta.get("not_searched", "the file says it is not a galaxy"))
    if spectrum.model_source == MODEL_NONE:
        # Searching the raw flux turns every galaxy's absorption lines into candidates.
        if not np.isfinite(spectrum.z_fg):
            return ("not searched: no foreground model and no foreground redshift to fit one "
                    "(give --z-fg Z, or --redshifts FILE for a DESI coadd)")
        return "not searched: no foreground model could be fitted (too few good pixels)"
    return ""


def process_chunk(index: int, paths: list, config: ChunkConfig) -> ChunkResult:
    """Score the files ``paths`` (chunk number ``index``); one or more rows per file, in order.

    Parameters
    ----------
    index : int
        Chunk number, echoed back so engines can restore order.
    paths : list of str or CubePart
        Input files of this chunk, or one part of a cube (:mod:`.parts`).
    config : ChunkConfig
        Detector and batch size.

    Returns
    -------
    ChunkResult
        ``rows_per_input[i]`` are the rows of ``paths[i]``: one per spectrum it holds, or one
        ``error: <reason>`` row when it cannot be read. A cube part's rows stop at a read error
        (``read_error``), and a part without spectra has no row (the scan process decides for the cube).
    """
    cpu_start = time.process_time()
    seconds: dict[str, float] = {}
    rows_per_input: list[list[Row]] = [[] for _ in paths]
    detector = cached_detector(config.detector)
    batch = _Batch(max(1, int(config.batch_size)))
    cube_values: dict[int, list] | None = {} if config.maps_dir else None
    model_sources: dict[str, int] = {}
    read_error = False
    for i, item in enumerate(paths):
        path = item_path(item)
        options = config.read_options
        if isinstance(item, CubePart):
            options = dataclasses.replace(options, spaxel_rows=item.rows)
        t0 = time.perf_counter()
        # Lazy: a MaNGA cube is read spaxel by spaxel, never held whole.
        spectra = iter_spectra(path, options=options)
        while True:
            try:
                spectrum = next(spectra)
            except StopIteration:
                if not rows_per_input[i] and not isinstance(item, CubePart):
                    rows_per_input[i].append(error_row(path, NO_SPECTRUM))
                break
            except SpectrumReadError as exc:
                rows_per_input[i].append(error_row(path, exc.reason))
                read_error = True
                break
            except Exception as exc:  # a reader bug on one file must not stop the scan
                rows_per_input[i].append(error_row(path, f"unexpected {type(exc).__name__}: {exc}"))
                read_error = True
                break
            finally:
                seconds["read"] = seconds.get("read", 0.0) + (time.perf_counter() - t0)
            r = len(rows_per_input[i])
            problem = _unusable(spectrum)
            if problem:
                rows_per_input[i].append(error_row(path, problem, spectrum.object_id, spectrum.ra,
                                                   spectrum.dec, spectrum.z_fg))
            else:
                rows_per_input[i].append(None)  # filled in by _detect
                model_sources[spectrum.model_source] = model_sources.get(spectrum.model_source, 0) + 1
                batch.add(spectrum, i, r)
                if batch.full:
                    _detect(detector, batch, rows_per_input, seconds, cube_values)
            t0 = time.perf_counter()
    _detect(detector, batch, rows_per_input, seconds, cube_values)
    # CPU time of this process, less disturbed than wall time by other jobs on a shared machine.
    seconds["cpu"] = time.process_time() - cpu_start
    part = paths[0] if len(paths) == 1 and isinstance(paths[0], CubePart) else None
    result = ChunkResult(index=index, rows_per_input=rows_per_input, seconds=seconds,
                         model_sources=model_sources, part=part, read_error=read_error)
    for i, values in (cube_values or {}).items():
        try:
            cube_map = cube_map_values(paths[i], values)
            if part is not None:
                result.cube_map = cube_map  # the scan process writes the maps from every part
            else:
                result.maps_written.append(write_detection_maps(paths[i], cube_map, config.maps_dir,
                                                                config.detector.kind))
        except Exception as exc:  # a map is a by-product: report it, keep the rows
            result.warnings.append(f"{item_path(paths[i])}: detection maps not written ({type(exc).__name__}: {exc})")
    return result


def cube_map_values(item, values: list) -> CubeMapPart:
    """The detection-map values of a cube's (or a part's) spaxels: ``values`` are ``(x, y, Detection)``."""
    from ..readers import open_cube

    with open_cube(item_path(item), fit_foreground=False) as cube:
        shape, plateifu = cube.shape, cube.plateifu
    compact = []
    for x, y, det in values:
        snr = np.asarray(det.line_snr, dtype=np.float64)
        best = np.nanmax(snr) if np.any(np.isfinite(snr)) else np.nan
        compact.append((x, y, float(det.score), float(best), float(det.z_bg), int(det.n_lines)))
    return CubeMapPart(shape, plateifu, compact)


def maps_path(source: str, maps_dir: str) -> str:
    """Where the detection maps of cube ``source`` go: ``<maps_dir>/<file stem>-CASIGLO-MAPS.fits``."""
    name = os.path.basename(source)
    for suffix in (".gz", ".fz", ".fits", ".fit"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return os.path.join(maps_dir, f"{name}-CASIGLO-MAPS.fits")


def write_detection_maps(source: str, cube_map: CubeMapPart, maps_dir: str, detector_kind: str) -> str:
    """Write the per-spaxel detection maps of one MaNGA cube (image HDUs ``(ny, nx)``, NaN = no data).

    HDUs: ``SCORE`` (lens score), ``SNR_BEST`` (highest line SNR at z_bg), ``Z_BG`` and ``N_LINES``.
    A lensed arc shows up as a patch of neighbouring spaxels with a high score at a common z_bg.
    """
    from astropy.io import fits

    # z_bg needs float64 (1e-5 precision); the others are fine in float32.
    maps = {name: np.full(cube_map.shape, np.nan, dtype=np.float64 if name == "Z_BG" else np.float32)
            for name in ("SCORE", "SNR_BEST", "Z_BG", "N_LINES")}
    for x, y, score, snr_best, z_bg, n_lines in cube_map.values:
        maps["SCORE"][y, x] = score
        maps["SNR_BEST"][y, x] = snr_best
        maps["Z_BG"][y, x] = z_bg
        maps["N_LINES"][y, x] = n_lines
    primary = fits.PrimaryHDU()
    primary.header["SOURCE"] = (os.path.basename(source), "scanned MaNGA cube")
    primary.header["PLATEIFU"] = cube_map.plateifu
    primary.header["DETECTOR"] = detector_kind
    hdus = [primary]
    for name, image in maps.items():
        hdu = fits.ImageHDU(image, name=name)
        hdu.header["BUNIT"] = {"SCORE": "", "SNR_BEST": "", "Z_BG": "", "N_LINES": "count"}[name]
        hdus.append(hdu)
    os.makedirs(maps_dir, exist_ok=True)
    path = maps_path(source, maps_dir)
    tmp = path + ".tmp"
    fits.HDUList(hdus).writeto(tmp, overwrite=True)
    os.replace(tmp, path)
    return path


def error_chunk(index: int, paths: list, reason: str) -> ChunkResult:
    """Rows for a chunk whose worker died (e.g. killed for memory): every input gets an error row."""
    part = paths[0] if len(paths) == 1 and isinstance(paths[0], CubePart) else None
    return ChunkResult(index=index, rows_per_input=[[error_row(item_path(p), error_reason(reason))] for p in paths],
                       part=part, worker_died=reason)
