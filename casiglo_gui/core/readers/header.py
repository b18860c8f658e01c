"""FITS header cards, read lazily from the raw header bytes (no FITS library involved).

A header is never parsed as a whole: the structural cards are taken from their standard positions
(BITPIX, NAXIS, NAXISn, PCOUNT, GCOUNT), any other keyword is found by one vectorised comparison of the
cards' first ten bytes, and only the values asked for are converted. Used by the structure check that
every file passes (:mod:`.structure`) and by the direct back-end (:mod:`.direct`).
"""
from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

BLOCK = 2880
CARD = 80
END_CARD = b"END" + b" " * 77
STRING_RE = re.compile(r"'((?:[^']|'')*)'")
# FITS integers and reals (Python's int()/float() would also take '1_000', 'inf' or 'nan').
INT_RE = re.compile(r"[+-]?\d+\Z")
REAL_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[EeDd][+-]?\d+)?\Z")


def parse_value(field: bytes):
    """Value of a FITS card's value field (columns 11-80), comment removed."""
    text = field.decode("ascii", errors="replace").strip()
    if text.startswith("'"):
        m = STRING_RE.match(text)
        # Quotes inside strings are doubled; an unterminated string keeps what there is.
        value = m.group(1) if m else text[1:]
        return value.replace("''", "'").rstrip()
    text = text.split("/", 1)[0].strip()
    if text == "T":
        return True
    if text == "F":
        return False
    if text == "":
        return None
    if INT_RE.match(text):
        return int(text)
    if REAL_RE.match(text):
        return float(text.replace("D", "E").replace("d", "e"))
    return text


def _pattern(key: str) -> bytes | None:
    """The first ten bytes of a card holding a value for ``key`` (None for names no card can have)."""
    key = key.upper()
    if len(key) > 8:
        return None
    return key.encode("ascii", errors="replace").ljust(8) + b"= "


_MISSING = object()  # no default given
_ABSENT = object()  # the header has no such card


class Header(Mapping):
    """Header cards indexed by keyword (first occurrence wins, as in astropy and cfitsio); found on
    demand and parsed on first access, so a 500-card header costs only the cards that are asked for."""

    def __init__(self, raw: bytes):
        self.raw = raw
        self._starts = None  # the first ten bytes of every card, as one numpy array (built on demand)
        self._values: dict[str, object] = {}
        self._found: dict[str, dict] = {}

    def _position(self, key: str, hint: int = -1) -> int:
        """Card number of ``key`` (-1 if absent); ``hint`` is where the standard puts it."""
        pattern = _pattern(key)
        if pattern is None:
            return -1
        raw = self.raw
        # The standard position holds it and no card before it does (a short search of a few cards).
        if 0 <= hint and raw[hint * CARD: hint * CARD + 10] == pattern \
                and raw.find(pattern, 0, hint * CARD + 10) == hint * CARD:
            return hint
        return self._first_position(pattern)

    def _first_position(self, pattern: bytes) -> int:
        if self._starts is None:
            self._starts = np.frombuffer(self.raw, dtype="S10", count=len(self.raw) // 10)[::CARD // 10]
        hits = np.flatnonzero(self._starts == pattern)
        return int(hits[0]) if hits.size else -1

    def value(self, key: str, hint: int = -1, default=_MISSING):
        """Value of ``key``; ``default`` (or KeyError) when absent."""
        key = key.upper()
        value = self._values.get(key, _MISSING)
        if value is _MISSING:
            i = self._position(key, hint)
            value = _ABSENT if i < 0 else parse_value(self.raw[i * CARD + 10: (i + 1) * CARD])
            self._values[key] = value
        if value is _ABSENT:
            if default is _MISSING:
                raise KeyError(key)
            return default
        return value

    def __getitem__(self, key: str):
        return self.value(str(key))

    def get(self, key, default=None):
        return self.value(str(key), default=default)

    def __contains__(self, key) -> bool:
        return self.value(str(key), default=_ABSENT) is not _ABSENT

    def __iter__(self):
        seen = set()
        raw = self.raw
        for k in range(0, len(raw) - CARD + 1, CARD):
            if raw[k + 8: k + 10] == b"= ":
                key = raw[k: k + 8].decode("ascii", errors="replace").strip().upper()
                if key and key not in seen:
                    seen.add(key)
                    yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def find(self, prefix: str) -> dict[int, object]:
        """``{n: value}`` of the keywords ``PREFIXn`` (e.g. all TTYPEn), found by regex, cached."""
        if prefix not in self._found:
            out: dict[int, object] = {}
            if prefix.encode() in self.raw:
                # Keyword padded to 8 columns, "= " in columns 9-10, value and comment in columns 11-80.
                pattern = re.compile(re.escape(prefix.encode()) + rb"(\d{1,3}) *= (.{70})", re.DOTALL)
                for m in pattern.finditer(self.raw):
                    if m.start() % CARD == 0:
                        n = int(m.group(1))
                        if n not in out:
                            out[n] = parse_value(m.group(2))
            self._found[prefix] = out
        return self._found[prefix]


# Table layouts by header bytes: every BOSS file of one pipeline version has the same 236-column SPALL
# header, so a scan parses it once instead of once per file.

_NAXIS_PATTERNS = [f"NAXIS{i:<3d}= ".encode() for i in range(1, 1000)]
_INT_BYTES_RE = re.compile(rb"[+-]?\d+\Z")


def standard_cards(header: Header, primary: bool) -> None:
    """Parse the mandatory cards (BITPIX, NAXIS, NAXISn, then PCOUNT, GCOUNT in an extension) from the
    positions the standard gives them, into the header's value cache.

    Cards are taken in order and each only if every card before it is where the standard puts it, so no
    earlier card can hold the same keyword. At the first departure (or a value that is not a plain
    integer) it stops, and the remaining keywords are searched for like any other.
    """
    raw, values = header.raw, header._values
    expected = [b"BITPIX  = ", b"NAXIS   = "]
    keys = ["BITPIX", "NAXIS"]
    position = 1
    while position <= len(expected):
        start = position * CARD
        if raw[start: start + 10] != expected[position - 1]:
            return
        text = raw[start + 10: start + CARD].split(b"/", 1)[0].strip()
        if not _INT_BYTES_RE.match(text):
            return
        value = int(text)
        values[keys[position - 1]] = value
        if position == 2:  # NAXIS known: the NAXISn follow, then PCOUNT and GCOUNT in extensions
            if not 0 <= value <= 999:
                return
            expected += _NAXIS_PATTERNS[:value]
            keys += [f"NAXIS{i}" for i in range(1, value + 1)]
            if not primary:
                expected += [b"PCOUNT  = ", b"GCOUNT  = "]
                keys += ["PCOUNT", "GCOUNT"]
        position += 1
