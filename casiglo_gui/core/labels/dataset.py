"""Experts' labels as training data: graded real spectra with their targets (no TensorFlow here).

Which labels become examples (the consensus of each object, see :mod:`.consensus`):

- **positives**: consensus grade ``probable`` or ``likely`` *with* a confirmed ``z_bg`` (z_bg > z_fg).
  Line targets: 1 for lines the consensus saw, 0 for lines a majority rejected (see
  :func:`rejected_lines`), unknown (to be given zero weight) otherwise.
- **negatives**: consensus grade ``none``: no background line at all (every line target 0, known),
  including the hard negatives experts flagged (sky residuals, foreground emission, cosmic rays).
- ``possible`` is left out (neither a lens nor a clean negative), as are objects waiting for
  adjudication, positives without z_bg, and objects whose spectrum is not found or not usable; each is
  listed in ``skipped`` with the reason.

The held-out part (for old-vs-new evaluation) is chosen by a hash of the object id, so an object
stays on the same side as labels accumulate and never leaks from test to training between runs.

Spectra are matched to labels by object id (as the readers produce it, e.g. ``0266-51602-0013``),
else by the file name of the label's ``source``. Every spectrum goes through the same
:func:`~casiglo_gui.core.preprocessing.to_model_grid` and ``network_input`` as in a scan.
"""
from __future__ import annotations

import dataclasses
import hashlib
from collections import Counter
from pathlib import Path

import numpy as np

from casiglo_gui.core import grid
from casiglo_gui.core.errors import CasigloError
from casiglo_gui.core.labels.consensus import Consensus
from casiglo_gui.core.labels.events import GRADE_VALUE, standing_gradings
from casiglo_gui.core.lines import LINE_INDEX, N_LINES
from casiglo_gui.core.preprocessing import network_input, to_model_grid
from casiglo_gui.core.readers import read_spectra

SPECTRUM_SUFFIXES = (".fits", ".fits.gz", ".fit", ".fit.gz", ".fts")


@dataclasses.dataclass
class LabelDataset:
    """Arrays for training/evaluating on experts' labels (row i = one object).

    Attributes
    ----------
    x : float32 (n, N_PIXELS)
        The network input (``preprocessing.network_input``).
    residual, ivar : float32 (n, N_PIXELS)
        The cleaned model-grid residual and inverse variance (for physics refinement / plots).
    z_fg : float64 (n,)
    is_lens : float32 (n,)
        1 for positives, 0 for negatives.
    z_bg : float64 (n,)
        Confirmed background redshift; NaN for negatives.
    lines : float32 (n, 12)
        Per-line targets (1 present, 0 absent), contract order.
    line_known : bool (n, 12)
        Which line targets are known (others must get zero weight).
    held_out : bool (n,)
        The evaluation part (see the module docstring).
    object_ids, grades, sources : list of str
    skipped : list of (object_id, reason)
    """

    x: np.ndarray
    residual: np.ndarray
    ivar: np.ndarray
    z_fg: np.ndarray
    is_lens: np.ndarray
    z_bg: np.ndarray
    lines: np.ndarray
    line_known: np.ndarray
    held_out: np.ndarray
    object_ids: list[str]
    grades: list[str]
    sources: list[str]
    skipped: list[tuple[str, str]]

    def __len__(self) -> int:
        return len(self.object_ids)

    def subset(self, rows: np.ndarray) -> "LabelDataset":
        """The rows selected by a boolean mask or index array (``skipped`` is kept whole)."""
        index = np.arange(len(self))[rows]
        pick = lambda values: [values[i] for i in index]  # noqa: E731
        return dataclasses.replace(
            self, x=self.x[index], residual=self.residual[index], ivar=self.ivar[index],
            z_fg=self.z_fg[index], is_lens=self.is_lens[index], z_bg=self.z_bg[index],
            lines=self.lines[index], line_known=self.line_known[index], held_out=self.held_out[index],
            object_ids=pick(self.object_ids), grades=pick(self.grades), sources=pick(self.sources))

    def summary(self) -> dict:
        """Counts for a report or a model card."""
        return {
            "n": len(self), "positives": int(self.is_lens.sum()), "negatives": int((self.is_lens == 0).sum()),
            "held_out": int(self.held_out.sum()), "skipped": len(self.skipped),
            "skipped_reasons": dict(Counter(reason.split(":")[0] for _, reason in self.skipped)),
        }


def is_held_out(object_id: str, fraction: float) -> bool:
    """Deterministic split: True for about ``fraction`` of object ids, always the same ones."""
    digest = hashlib.sha256(object_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 < fraction


def index_spectra(spectra_dir: str | Path) -> tuple[dict, dict, list[tuple[str, str]]]:
    """Read every spectrum file under ``spectra_dir`` (recursively).

    Returns
    -------
    by_id : dict object_id -> Spectrum
    by_name : dict file name -> Spectrum (the first spectrum of the file)
    errors : list of (path, reason) for files that could not be read (they are skipped, not fatal)
    """
    root = Path(spectra_dir)
    if not root.is_dir():
        raise CasigloError(f"{root}: not a folder of spectra")
    by_id, by_name, errors = {}, {}, []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name.lower().endswith(SPECTRUM_SUFFIXES)):
        try:
            spectra = read_spectra(path)
        except CasigloError as exc:
            errors.append((str(path), str(exc)))
            continue
        for spectrum in spectra:
            by_id.setdefault(spectrum.object_id, spectrum)
        if spectra:
            by_name.setdefault(path.name, spectra[0])
    return by_id, by_name, errors


def _targets(c: Consensus, z_fg: float) -> tuple[float, float, np.ndarray, np.ndarray] | str:
    lines = np.zeros(N_LINES, dtype=np.float32)
    known = np.zeros(N_LINES, dtype=bool)
    if c.needs_adjudication:
        return "awaiting adjudication"
    if c.grade == "none":
        known[:] = True
        return 0.0, np.nan, lines, known
    if c.grade_value < GRADE_VALUE["probable"]:
        return f"grade {c.grade}: neither a lens nor a clean negative"
    if c.z_bg is None:
        return "no confirmed z_bg"
    if np.isfinite(z_fg) and c.z_bg <= z_fg:
        return f"z_bg {c.z_bg} is not above z_fg {z_fg}"
    for key in c.lines_seen:
        lines[LINE_INDEX[key]] = 1.0
        known[LINE_INDEX[key]] = True
    return 1.0, float(c.z_bg), lines, known


def build_label_dataset(consensuses, spectra_dir: str | Path, held_out_fraction: float = 0.2,
                        rejected: dict[str, set[str]] | None = None) -> tuple[LabelDataset, list]:
    """Match labelled objects to their spectra and build training arrays.

    Parameters
    ----------
    consensuses : iterable of Consensus
        Usually ``store.consensus_table()``.
    spectra_dir : str or Path
        Folder (searched recursively) holding the graded spectra.
    held_out_fraction : float
        Share of objects kept for evaluation (by object-id hash).
    rejected : dict object_id -> set of line keys, optional
        Lines a majority rejected (known absent) for positives; see :func:`rejected_lines`.

    Returns
    -------
    dataset : LabelDataset
    file_errors : list of (path, reason)
        Spectrum files that could not be read.
    """
    by_id, by_name, file_errors = index_spectra(spectra_dir)
    rows, skipped = [], []
    errors_by_name = {Path(path).name: reason for path, reason in file_errors}
    for c in consensuses:
        spectrum = by_id.get(c.object_id) or (by_name.get(Path(c.source).name) if c.source else None)
        if spectrum is None:
            error = errors_by_name.get(Path(c.source).name) if c.source else None
            skipped.append((c.object_id, f"spectrum unusable: {error}" if error
                            else "no spectrum: not found under the spectra folder"))
            continue
        z_fg = float(spectrum.z_fg) if np.isfinite(spectrum.z_fg) else (c.z_fg if c.z_fg is not None else np.nan)
        targets = _targets(c, z_fg)
        if isinstance(targets, str):
            skipped.append((c.object_id, f"not used: {targets}"))
            continue
        try:
            gridded = to_model_grid(spectrum)
        except (ValueError, CasigloError) as exc:
            skipped.append((c.object_id, f"spectrum unusable: {exc}"))
            continue
        if not np.any(gridded.ivar > 0):
            skipped.append((c.object_id, "spectrum unusable: no valid pixel"))
            continue
        is_lens, z_bg, lines, known = targets
        if is_lens and rejected:
            for key in rejected.get(c.object_id, ()):
                lines[LINE_INDEX[key]] = 0.0
                known[LINE_INDEX[key]] = True
        rows.append((c, spectrum, gridded, z_fg, is_lens, z_bg, lines, known))
    n = len(rows)
    stack = lambda values, dtype, shape: (np.stack(values).astype(dtype) if values  # noqa: E731
                                          else np.zeros(shape, dtype=dtype))
    dataset = LabelDataset(
        x=stack([network_input(r[2].residual, r[2].ivar) for r in rows], np.float32, (0, grid.N_PIXELS)),
        residual=stack([r[2].residual for r in rows], np.float32, (0, grid.N_PIXELS)),
        ivar=stack([r[2].ivar for r in rows], np.float32, (0, grid.N_PIXELS)),
        z_fg=np.array([r[3] for r in rows], dtype=np.float64),
        is_lens=np.array([r[4] for r in rows], dtype=np.float32),
        z_bg=np.array([r[5] for r in rows], dtype=np.float64),
        lines=stack([r[6] for r in rows], np.float32, (0, N_LINES)),
        line_known=stack([r[7] for r in rows], bool, (0, N_LINES)),
        held_out=np.array([is_held_out(r[0].object_id, held_out_fraction) for r in rows], dtype=bool),
        object_ids=[r[0].object_id for r in rows], grades=[r[0].grade for r in rows],
        sources=[str(r[1].source) for r in rows], skipped=skipped,
    )
    assert len(dataset) == n
    return dataset, file_errors


def rejected_lines(store) -> dict[str, set[str]]:
    """Lines that more inspectors rejected than saw, per object (standing gradings above ``none``)."""
    out: dict[str, set[str]] = {}
    for object_id, events in store.iter_events_by_object():
        latest, _ = standing_gradings(events)
        votes = Counter()
        for event in latest.values():
            if event.grade_value > 0:
                for key, seen in event.lines.items():
                    votes[key] += 1 if seen else -1
        rejected = {key for key, v in votes.items() if v < 0}
        if rejected:
            out[object_id] = rejected
    return out
