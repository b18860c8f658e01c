"""Reading a queue item and running the detectors on it (what the app's worker threads call).

The detectors are optional pieces: the physics line search (``casiglo_gui.core.physics``) and the
CNN (``casiglo_gui.core.inference``). :class:`DetectorSet` finds what is available and says so in
words (``status``), so the app runs in physics-only mode when no model is present or the model does
not match, and still shows spectra when neither is available.
"""
from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..detectors.detection import Detection
from ..errors import CasigloError, ModelMismatchError, SpectrumReadError
from ..detectors import EvidenceDetector
from ..inference import OnnxLineModel, default_model_path
from ..physics import PhysicsDetector
from ..preprocessing import to_model_grid
from ..readers import identify_path, open_cube, read_spectra
from ..spectrum import GriddedSpectrum, Spectrum
from .queue import QueueItem, scan_line_arrays


class DetectorSet:
    """The detectors this session can use, and a one-line status saying which.

    Parameters
    ----------
    model_path : str or None
        An ONNX model to use; None = the default model if one is installed; "" = no model.
    use_physics : bool
        Set False to show spectra without any detection (e.g. tests of the bare viewer).
    """

    def __init__(self, model_path: str | None = None, use_physics: bool = True):
        self.physics = None
        self.combined = None
        self.model_version = ""
        notes = []
        if use_physics:
            self.physics = PhysicsDetector()
        self._load_model(model_path, notes)
        if self.combined is not None:
            mode = f"model {self.model_version} + physics refit"
        elif self.physics is not None:
            mode = "physics-only mode"
        else:
            mode = "no detector: spectra only"
        self.status = mode + (f" ({'; '.join(notes)})" if notes else "")
        self._lock = threading.Lock()

    def _load_model(self, model_path: str | None, notes: list[str]) -> None:
        if model_path == "":
            notes.append("model disabled")
            return
        path = Path(model_path) if model_path is not None else default_model_path()
        if not path.exists():
            notes.append(f"no model installed ({path.parent.name}/{path.name})")
            return
        try:
            model = OnnxLineModel(path)
            self.combined = EvidenceDetector(model)
            self.model_version = model.version
        except ModelMismatchError as exc:
            notes.append(f"model refused: {exc.reason}")
        except (CasigloError, OSError, ValueError, TypeError) as exc:
            notes.append(f"model could not be loaded: {exc}")

    def detect(self, gridded: GriddedSpectrum) -> Detection | None:
        with self._lock:  # onnxruntime sessions and the physics kernels are shared between workers
            if self.combined is not None:
                return self.combined.detect(gridded)
            if self.physics is not None:
                return self.physics.detect(gridded)
        return None

    @property
    def can_refit(self) -> bool:
        return self.physics is not None

    def refine(self, gridded: GriddedSpectrum, z_start: float) -> Detection:
        """Physics refinement of z_bg starting from ``z_start``.

        Raises
        ------
        CasigloError
            When no physics detector is available.
        """
        if self.physics is None:
            raise CasigloError("refit needs the physics line search, which is not installed")
        with self._lock:
            return self.physics.refine(gridded, float(np.float64(z_start)))


@dataclass(frozen=True)
class SyntheticOrigin:
    """A made-up spectrum (real foreground + injected lines, e.g. the demo's sample lenses)."""

    injected_z_bg: float
    made_from: str


def synthetic_origin(path: str) -> SyntheticOrigin | None:
    """What the primary header says when ``path`` is a synthetic spectrum (``CSYNTH`` set), else None."""
    if not path.lower().endswith((".fits", ".fits.gz", ".fit", ".fts")):
        return None
    try:
        import fitsio

        header = fitsio.read_header(path, 0)
    except (OSError, ValueError):
        return None
    if not header.get("CSYNTH", False):
        return None
    z = header.get("CSZBG", float("nan"))
    return SyntheticOrigin(injected_z_bg=float(z) if isinstance(z, (int, float)) else float("nan"),
                           made_from=str(header.get("CSSRC", "")))


@dataclass
class LoadedItem:
    """A queue item read and scored: everything the view needs."""

    item: QueueItem
    spectrum: Spectrum
    gridded: GriddedSpectrum
    detection: Detection | None
    n_in_file: int = 1
    cube: object | None = None
    timings_ms: dict = field(default_factory=dict)
    scan_detection: Detection | None = None
    synthetic: SyntheticOrigin | None = None
    # Read but not yet judged: drawn at once, the detectors' verdict follows (see detect_item); nothing is
    # graded meanwhile, since a grade records the verdict on show.
    detection_pending: bool = False

    @property
    def has_model(self) -> bool:
        return self.detection is not None and bool(self.detection.model_version)


def detection_from_scan(item: QueueItem) -> Detection | None:
    """The scan row's verdict as a Detection (probabilities labelled as coming from the scan table)."""
    z_bg = item.scan.get("z_bg", float("nan"))
    if not isinstance(z_bg, float) or not math.isfinite(z_bg):
        return None
    arrays = scan_line_arrays(item.scan)
    prob, snr = arrays if arrays is not None else (np.full(12, np.nan), np.full(12, np.nan))
    n_lines = item.scan.get("n_lines", 0.0)
    return Detection(z_bg=float(z_bg), z_bg_err=float(item.scan.get("z_bg_err", float("nan"))),
                     score=float(item.score) if math.isfinite(item.score) else 0.0,
                     n_lines=int(n_lines) if math.isfinite(n_lines) else 0,
                     line_probability=prob, line_snr=snr, detector="scan")


def read_file(path: str) -> list[Spectrum]:
    """Every spectrum of ``path``, through the readers' default back-end chain (the fast direct FITS
    reader first)."""
    return read_spectra(path)


class SpectrumCache:
    """Files read recently (path -> list of spectra), so moving back and forth does not re-read."""

    def __init__(self, size: int = 64):
        self.size = size
        self._data: OrderedDict[str, list[Spectrum]] = OrderedDict()
        self._lock = threading.Lock()

    def holds(self, path: str) -> bool:
        with self._lock:
            return path in self._data

    def get(self, path: str) -> list[Spectrum]:
        with self._lock:
            if path in self._data:
                self._data.move_to_end(path)
                return self._data[path]
        spectra = read_file(path)
        with self._lock:
            self._data[path] = spectra
            while len(self._data) > self.size:
                self._data.popitem(last=False)
        return spectra


def _open_cube_if_cube(path: str):
    """A MaNGA cube if ``path`` is a LOGCUBE (identified by content), else None."""
    if identify_path(path) != "manga-logcube":
        return None
    return open_cube(path)


def load_item(item: QueueItem, detectors: DetectorSet | None, cache: SpectrumCache | None = None,
              cube=None) -> LoadedItem:
    """Read ``item`` and run the detectors (the scan row's verdict is used when it has one).

    ``cube`` (an already opened cube) skips reopening when picking spaxels of the same cube.

    Raises
    ------
    SpectrumReadError
        When the file cannot be read, or the item's index is beyond the file's spectra.
    """
    return detect_item(read_item(item, detectors, cache, cube), detectors)


def read_item(item: QueueItem, detectors: DetectorSet | None, cache: SpectrumCache | None = None,
              cube=None) -> LoadedItem:
    """Read ``item`` and put it on the model grid, without running the detectors: the result can be drawn
    at once; ``detection_pending`` says whether :func:`detect_item` still has to give the verdict.

    Raises
    ------
    SpectrumReadError
        As :func:`load_item`.
    """
    import time

    t0 = time.perf_counter()
    n_in_file = 1
    if cube is None and (cache is None or not cache.holds(item.path)):
        cube = _open_cube_if_cube(item.path)
    if cube is not None:
        x, y = item.spaxel if item.spaxel is not None else cube_centre(cube)
        spectrum = cube.spaxel(x, y)
    else:
        spectra = cache.get(item.path) if cache is not None else read_file(item.path)
        n_in_file = len(spectra)
        if item.index >= n_in_file:
            raise SpectrumReadError(item.path, f"holds {n_in_file} spectra, no spectrum #{item.index}")
        spectrum = spectra[item.index]
    t1 = time.perf_counter()
    gridded = to_model_grid(spectrum)
    t2 = time.perf_counter()
    scan_detection = detection_from_scan(item) if item.scan else None
    # The app's own model re-scores scan rows (a millisecond): the table records no model version, and a
    # grade must record the model whose verdict was on show. Without a model the scan row's verdict is shown.
    pending = detectors is not None and (scan_detection is None or detectors.combined is not None)
    if not item.object_id:
        item.object_id = spectrum.object_id
    return LoadedItem(item=item, spectrum=spectrum, gridded=gridded,
                      detection=None if pending else scan_detection, n_in_file=n_in_file, cube=cube,
                      timings_ms={"read": 1e3 * (t1 - t0), "grid": 1e3 * (t2 - t1)},
                      scan_detection=scan_detection, synthetic=synthetic_origin(item.path) if cube is None else None,
                      detection_pending=pending)


def detect_item(loaded: LoadedItem, detectors: DetectorSet | None) -> LoadedItem:
    """``loaded`` with the detectors' verdict (itself when none is pending)."""
    import time

    if not loaded.detection_pending:
        return loaded
    t0 = time.perf_counter()
    detection = detectors.detect(loaded.gridded)
    timings = dict(loaded.timings_ms, detect=1e3 * (time.perf_counter() - t0))
    return replace(loaded, detection=detection, detection_pending=False, timings_ms=timings)


def cube_centre(cube) -> tuple[int, int]:
    """The brightest spaxel of the white-light image (the galaxy centre)."""
    image = np.asarray(cube.white_light(), dtype=np.float64)
    if not np.any(np.isfinite(image)):
        return image.shape[1] // 2, image.shape[0] // 2
    iy, ix = np.unravel_index(np.nanargmax(image), image.shape)
    return int(ix), int(iy)
