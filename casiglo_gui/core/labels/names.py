"""IAU-style object names from coordinates: ``SDSS Jhhmmss.ss+ddmmss.s``.

The IAU convention truncates (never rounds) the sexagesimal coordinates, so that a name never points
to a neighbouring cell: RA 09h46m29.7799s is ``094629.77`` and Dec -0d30m00.09s is ``-003000.0``.
The sign is that of the declination itself, so a source just south of the equator is ``-000000.0``.
"""
from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.coordinates import Angle, SkyCoord

# A nudge of a millionth of the last digit, so that an exact value stored as 12.3499999999... truncates
# to 12.35 and not 12.34.
_EPSILON = 1e-6


def iau_names(ra_deg, dec_deg, prefix: str = "SDSS") -> list[str]:
    """IAU-style names of many positions at once (ICRS degrees), e.g. ``SDSS J094629.77-003000.0``.

    Parameters
    ----------
    ra_deg, dec_deg : array-like of float
        Right ascension and declination in degrees (ICRS/J2000).
    prefix : str
        The survey acronym; an empty prefix gives ``J094629.77-003000.0``.
    """
    ra_deg = np.atleast_1d(np.asarray(ra_deg, dtype=np.float64))
    dec_deg = np.atleast_1d(np.asarray(dec_deg, dtype=np.float64))
    if ra_deg.size == 0:
        return []
    coord = SkyCoord(ra=ra_deg * u.deg, dec=dec_deg * u.deg, frame="icrs")
    # Truncate to the name's last digit (0.01 s of time, 0.1 arcsec) before formatting, because
    # astropy's to_string rounds.
    ra_centiseconds = np.floor(coord.ra.to_value(u.hourangle) * 360000.0 + _EPSILON)
    dec = coord.dec.to_value(u.deg)
    dec_decis = np.floor(np.abs(dec) * 36000.0 + _EPSILON)
    ra_text = Angle(ra_centiseconds / 360000.0, unit=u.hourangle).to_string(
        unit=u.hourangle, sep="", precision=2, pad=True)
    dec_text = Angle(dec_decis / 36000.0, unit=u.deg).to_string(unit=u.deg, sep="", precision=1, pad=True)
    lead = f"{prefix} J" if prefix else "J"
    return [f"{lead}{r}{'-' if d < 0 else '+'}{t}"
            for r, d, t in zip(np.atleast_1d(ra_text), dec, np.atleast_1d(dec_text))]


def iau_name(ra_deg: float, dec_deg: float, prefix: str = "SDSS") -> str:
    """The IAU-style name of one position (see :func:`iau_names`)."""
    return iau_names([ra_deg], [dec_deg], prefix)[0]
