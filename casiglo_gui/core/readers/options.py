"""What a user may tell the readers beyond the file itself (``casiglo scan``/``open`` options)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReadOptions:
    """Options for reading spectra (small and picklable: scan workers receive it).

    Attributes
    ----------
    z_fg : float, optional
        Foreground redshift for spectra whose file gives none (a MaNGA cube without NSA/DRP redshift
        keywords): ``--z-fg``.
    redshifts : str, optional
        A DESI Redrock file to use instead of the ``redrock-*.fits`` beside a coadd: ``--redshifts``.
    fit_foreground : bool
        Fit a foreground model for spectra that come without one (default True).
    spaxel_rows : (int, int), optional
        Read only the spaxel rows ``y0 <= y < y1`` of a MaNGA cube (a scan splits a large cube across its
        workers this way); other files ignore it.
    """

    z_fg: float | None = None
    redshifts: str | None = None
    fit_foreground: bool = True
    spaxel_rows: tuple[int, int] | None = None


DEFAULT_OPTIONS = ReadOptions()
