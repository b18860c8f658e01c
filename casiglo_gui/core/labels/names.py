"""IAU-style object names from coordinates: ``SDSS Jhhmmss.ss+ddmmss.s``.

The IAU convention truncates (never rounds) the sexagesimal coordinates, so that a name never points
to a neighbouring cell: RA 09h46m29.7799s is ``094629.77`` and Dec -0d30m00.09s is ``-003000.0``.
The sign is that of the declination itself, so a source just south of the equator is ``-000000.0``.
"""
from __future__ import annotations

import math

import astropy.units as u
from astropy.coordinates import Angle, SkyCoord

# A nudge of a millionth of the last digit, so that an exact value stored as 12.3499999999... truncates
# to 12.35 and not 12.34.
_EPSILON = 1e-6


def iau_name(ra_deg: float, dec_deg: float, prefix: str = "SDSS") -> str:
    """The IAU-style name of a position (ICRS degrees), e.g. ``SDSS J094629.77-003000.0``.

    Parameters
    ----------
    ra_deg, dec_deg : float
        Right ascension and declination in degrees (ICRS/J2000).
    prefix : str
        The survey acronym; an empty prefix gives ``J094629.77-003000.0``.
    """
    coord = SkyCoord(ra=ra_deg * u.deg, dec=dec_deg * u.deg, frame="icrs")
    # Truncate to the name's last digit (0.01 s of time, 0.1 arcsec) before formatting, because
    # astropy's to_string rounds.
    ra_centiseconds = math.floor(coord.ra.to_value(u.hourangle) * 360000.0 + _EPSILON)
    dec_decis = math.floor(abs(coord.dec.to_value(u.deg)) * 36000.0 + _EPSILON)
    ra_text = Angle(ra_centiseconds / 360000.0, unit=u.hourangle).to_string(
        unit=u.hourangle, sep="", precision=2, pad=True)
    dec_text = Angle(dec_decis / 36000.0, unit=u.deg).to_string(unit=u.deg, sep="", precision=1, pad=True)
    sign = "-" if coord.dec.to_value(u.deg) < 0 else "+"
    name = f"J{ra_text}{sign}{dec_text}"
    return f"{prefix} {name}" if prefix else name
