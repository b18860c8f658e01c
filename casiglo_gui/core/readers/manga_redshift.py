"""A MaNGA cube's redshift from the files that usually lie beside it: its DAP MAPS file (``SCINPVEL``, the
DAP's input cz from the NSA catalogue) or the DRPall catalogue (``NSA_Z``, else ``Z``, by PLATEIFU).

DRP LOGCUBE headers carry no redshift, so without one of these (or ``--z-fg``) a cube's foreground model
cannot be fitted. ``--redshifts FILE`` names either kind of file explicitly.
"""
from __future__ import annotations

import glob
import os

import numpy as np

from ..errors import SpectrumReadError
from .fitsfile import FITS_ERRORS

SPEED_OF_LIGHT_KMS = 299792.458
DRPALL_Z_COLUMNS = ("NSA_Z", "Z")


def _from_maps(path: str, plateifu: str) -> float | None:
    from .registry import open_source

    with open_source(path) as source:
        header = source.header(0)
    if str(header.get("PLATEIFU", "")).strip() not in ("", plateifu):
        return None
    try:
        cz = float(header.get("SCINPVEL"))
    except (TypeError, ValueError):
        return None
    return cz / SPEED_OF_LIGHT_KMS if np.isfinite(cz) else None


def _from_drpall(path: str, plateifu: str) -> float | None:
    from .registry import open_source

    with open_source(path) as source:
        for ext in range(1, len(source)):
            if not source.is_table(ext):
                continue
            columns = source.read_columns(ext, ("PLATEIFU",) + DRPALL_Z_COLUMNS)
            if "plateifu" not in columns:
                continue
            rows = np.nonzero(np.char.strip(columns["plateifu"].astype(str)) == plateifu)[0]
            for name in DRPALL_Z_COLUMNS:
                if rows.size and name.lower() in columns:
                    z = float(columns[name.lower()][rows[0]])
                    if np.isfinite(z) and z > -0.01:
                        return z
    return None


def redshift_from_file(path: str, plateifu: str) -> float | None:
    """The redshift of ``plateifu`` in a MAPS file or a DRPall catalogue; None if it holds none."""
    try:
        return _from_maps(path, plateifu) if "MAPS" in os.path.basename(path).upper() else _from_drpall(path, plateifu)
    except (SpectrumReadError,) + FITS_ERRORS:
        return None


def redshift_beside(cube_path: str, plateifu: str, redshifts: str | None = None) -> tuple[float, str] | None:
    """``(z, source)`` for a cube: from ``redshifts`` when given, else from a MAPS file of the same PLATEIFU
    or a ``drpall*.fits`` catalogue in the cube's folder; None when none of them has it."""
    if redshifts:
        z = redshift_from_file(redshifts, plateifu)
        return None if z is None else (z, os.path.basename(redshifts))
    folder = os.path.dirname(os.path.abspath(cube_path))
    candidates = sorted(glob.glob(os.path.join(folder, f"manga-{glob.escape(plateifu)}-MAPS*.fits*")))
    candidates += sorted(glob.glob(os.path.join(folder, "drpall*.fits*")))
    for candidate in candidates:
        z = redshift_from_file(candidate, plateifu)
        if z is not None:
            return z, os.path.basename(candidate)
    return None
