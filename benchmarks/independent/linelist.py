"""Vacuum rest wavelengths for the independent set, taken from the MaNGA DAP emission-line list.

Source: ``mangadap/data/emission_lines/elpmpl11.par`` (sdss/mangadap, BSD-3-Clause; Westfall et al. 2019,
AJ 158, 231; Belfiore et al. 2019, AJ 158, 160): Ritz wavelengths *in vacuum* (its ``waveref`` column
says ``vac``). The SDSS pipeline's ``idlspec2d/etc/emlines.par`` is NOT used: it lists AIR wavelengths
above 2000 A (e.g. H-alpha 6562.801), which would put every line ~1.8 A (~0.8 px) off.

The par file is read when present (``/work/shared/data/real/linelists/mangadap_elpmpl11.par`` or a path
given by the caller); otherwise the table below, copied from that file, is used.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

from casiglo_gui.core.lines import LINE_KEYS

DEFAULT_PAR = "/work/shared/data/real/linelists/mangadap_elpmpl11.par"

# Contract key -> (DAP line name, approximate wavelength to pick the right member of a multiplet).
KEY_TO_DAP: dict[str, tuple[str, float]] = {
    "oii_3727": ("OII", 3727.0), "oii_3730": ("OII", 3730.0), "hdelta": ("Hdel", 4102.0),
    "hgamma": ("Hgam", 4341.0), "hbeta": ("Hb", 4862.0), "oiii_4960": ("OIII", 4960.0),
    "oiii_5008": ("OIII", 5008.0), "nii_6550": ("NII", 6550.0), "halpha": ("Ha", 6564.0),
    "nii_6585": ("NII", 6585.0), "sii_6718": ("SII", 6718.0), "sii_6733": ("SII", 6733.0),
}
# Lines a real star-forming galaxy also shows that are NOT among the 12 keys: injected too (a detector
# must not be thrown by them), never scored.
EXTRA_TO_DAP: dict[str, tuple[str, float]] = {
    "neiii_3870": ("NeIII", 3870.0), "h8_3890": ("Hzet", 3890.0), "hepsilon": ("Heps", 3971.0),
    "hei_5877": ("HeI", 5877.0), "oi_6302": ("OI", 6302.0), "oi_6365": ("OI", 6365.0),
}

# Fallback: the same lines copied from elpmpl11.par (vacuum, Angstrom).
BUILTIN_VACUUM_A: dict[str, float] = {
    "oii_3727": 3727.092, "oii_3730": 3729.875, "hdelta": 4102.8922, "hgamma": 4341.6837,
    "hbeta": 4862.6830, "oiii_4960": 4960.295, "oiii_5008": 5008.240, "nii_6550": 6549.86,
    "halpha": 6564.608, "nii_6585": 6585.27, "sii_6718": 6718.295, "sii_6733": 6732.674,
    "neiii_3870": 3869.86, "h8_3890": 3890.1506, "hepsilon": 3971.1951, "hei_5877": 5877.252,
    "oi_6302": 6302.046, "oi_6365": 6365.536,
}

_DAP_ROW = re.compile(r"^\s*DAPEML\s+\d+\s+(\S+)\s+([0-9.]+)\s+(\S+)")


@dataclass(frozen=True)
class LineList:
    """Rest wavelengths (vacuum, Angstrom) of the 12 contract keys and the extra lines, and their source."""

    wavelengths: dict[str, float]
    source: str

    @property
    def contract(self) -> list[float]:
        """The 12 keys' wavelengths in contract order."""
        return [self.wavelengths[k] for k in LINE_KEYS]


def parse_dap_par(path: str) -> LineList:
    """Read a MaNGA DAP ``DAPEML`` par file; refuse one whose wavelengths are not vacuum.

    Raises
    ------
    ValueError
        If a needed line is missing or a row says it is not in vacuum.
    """
    rows: list[tuple[str, float]] = []
    with open(path, encoding="ascii", errors="replace") as handle:
        for text in handle:
            match = _DAP_ROW.match(text)
            if match is None:
                continue
            name, wave, ref = match.group(1), float(match.group(2)), match.group(3)
            if ref != "vac":
                raise ValueError(f"{path}: line {name} {wave} is given in {ref!r}, not vacuum")
            rows.append((name, wave))
    wavelengths: dict[str, float] = {}
    for key, (name, approx) in {**KEY_TO_DAP, **EXTRA_TO_DAP}.items():
        candidates = [w for n, w in rows if n == name and abs(w - approx) < 5.0]
        if not candidates:
            raise ValueError(f"{path}: no {name} line near {approx} A")
        wavelengths[key] = min(candidates, key=lambda w: abs(w - approx))
    return LineList(wavelengths, f"{os.path.abspath(path)} (MaNGA DAP elpmpl11, vacuum)")


def load_line_list(path: str | None = None) -> LineList:
    """The DAP par file at ``path`` (or the shared copy when present), else the built-in vacuum table."""
    candidate = path or (DEFAULT_PAR if os.path.exists(DEFAULT_PAR) else None)
    if candidate is None:
        return LineList(dict(BUILTIN_VACUUM_A), "built-in copy of MaNGA DAP elpmpl11.par (vacuum)")
    return parse_dap_par(candidate)
