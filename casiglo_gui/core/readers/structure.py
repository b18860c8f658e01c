"""The one structure check every input passes before any FITS library sees it.

``inspect_file(path)`` walks the headers of a plain or gzip-compressed FITS file from first to last HDU
and refuses, with a reason naming what is wrong, a file that:

* is missing, a folder, empty, or neither FITS (``SIMPLE  =``) nor gzip;
* is cut short anywhere: inside a header (no END card), inside an HDU's data, off a 2880-byte block, or
  (gzip) a stream that ends before its end marker or fails its CRC;
* has a malformed structural card (BITPIX, NAXIS, NAXISn, PCOUNT, GCOUNT, an unknown XTENSION, a
  binary table with BITPIX other than 8), a header that is not ASCII text, or data after the last HDU
  that is not another extension;
* would cost more than a bounded amount to read: a header over ``MAX_HEADER_BLOCKS`` blocks, or a
  compressed file whose headers declare more than ``MAX_GZIP_FITS_BYTES`` (the FITS libraries
  decompress a gzip file whole into memory; a "gzip bomb" is refused after reading its headers).

A gzip file is decompressed as a stream (flat memory, nothing kept but the headers), so even a large
cube costs one pass of decompression and no memory. The FITS libraries read only the HDUs a reader
asks for and would not notice a file cut inside a later HDU: this walk does, once, for every back-end.
"""
from __future__ import annotations

import gzip
import math
import os
import stat
import zlib
from dataclasses import dataclass

from ..errors import SpectrumReadError
from .header import BLOCK, CARD, END_CARD, Header, standard_cards

FITS_MAGIC = b"SIMPLE  ="
GZIP_MAGIC = b"\x1f\x8b"
# Largest header accepted; a damaged file must not make us read gigabytes looking for END.
MAX_HEADER_BLOCKS = 2000
# Largest uncompressed FITS content a gzip file may declare: a MaNGA LOGCUBE is ~0.5 GB uncompressed, a
# spec file a few MB; fitsio/astropy hold the whole decompressed file in memory.
MAX_GZIP_FITS_BYTES = 2 * 1024 ** 3
# Plain files up to this size (every spec file, lite or full) are read into memory in one call and walked
# there; the direct back-end then uses the same bytes. Larger ones (MaNGA cubes) are walked by seeking.
MAX_IN_MEMORY_BYTES = 4 * 1024 * 1024
# Extension types the readers know; anything else is a damaged XTENSION card.
XTENSIONS = ("IMAGE", "BINTABLE", "TABLE")
BITPIX_VALUES = (8, 16, 32, 64, -32, -64)
_SKIP_PIECE = 1 << 20


@dataclass(frozen=True)
class HduSpan:
    """One HDU as the headers declare it: where its data starts and how many bytes it has."""

    header: Header
    name: str
    xtension: str  # "" for the primary HDU
    data_start: int
    data_size: int

    @property
    def is_table(self) -> bool:
        return self.xtension in ("BINTABLE", "TABLE")

    @property
    def data_end(self) -> int:
        return self.data_start + self.data_size


@dataclass(frozen=True)
class FileLayout:
    """The checked structure of one file: ``size`` is the FITS byte count (decompressed for gzip)."""

    path: str
    compressed: bool
    size: int
    hdus: tuple[HduSpan, ...]
    data: bytes | None = None  # the whole file, when small enough to have been read in one call


# Gzip files checked lately, by (path, inode, size, mtime): a cube is checked by the registry and again
# when the MaNGA reader opens it, and the check costs a full decompression.
_CHECKED_GZIP: dict[tuple, FileLayout] = {}


def inspect_file(path: str) -> FileLayout:
    """Check the whole structure of ``path`` (see the module docstring) and return its layout.

    Raises
    ------
    SpectrumReadError
        With a reason naming the problem; nothing else for damaged input.
    """
    path = str(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise SpectrumReadError(path, "file not found") from None
    except OSError as exc:
        raise SpectrumReadError(path, f"cannot be opened ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise SpectrumReadError(path, "is a folder, not a file")
    if info.st_size == 0:
        raise SpectrumReadError(path, "file is empty (0 bytes)")
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(FITS_MAGIC))
            if head.startswith(GZIP_MAGIC):
                key = (path, info.st_ino, info.st_size, info.st_mtime_ns)
                layout = _CHECKED_GZIP.get(key)
                if layout is None:
                    handle.seek(0)
                    layout = _walk_gzip(path, handle)
                    if len(_CHECKED_GZIP) >= 16:
                        _CHECKED_GZIP.pop(next(iter(_CHECKED_GZIP)))
                    _CHECKED_GZIP[key] = layout
                return layout
            if head != FITS_MAGIC:
                raise SpectrumReadError(path, "not a FITS file (it does not start with 'SIMPLE  =')")
            if info.st_size % BLOCK != 0:
                raise SpectrumReadError(path, f"truncated FITS file ({info.st_size} bytes is not a whole "
                                              "number of 2880-byte FITS blocks)")
            handle.seek(0)
            if info.st_size <= MAX_IN_MEMORY_BYTES:  # a spec file: read once, walked and kept for the reader
                data = handle.read()
                return _walk(path, _MemoryStream(data), compressed=False, data=data)
            return _walk(path, _PlainStream(handle, info.st_size), compressed=False)
    except OSError as exc:
        raise SpectrumReadError(path, f"cannot be read ({exc.strerror or exc})") from None


class _PlainStream:
    def __init__(self, handle, size: int):
        self.handle, self.size, self.position = handle, size, 0

    def read(self, n: int) -> bytes:
        data = self.handle.read(n)
        self.position += len(data)
        return data

    def skip(self, n: int) -> int:
        """Skip up to ``n`` bytes; return how many there were."""
        n = max(0, min(n, self.size - self.position))
        self.handle.seek(n, os.SEEK_CUR)
        self.position += n
        return n

    def at_end(self) -> bool:
        return self.position >= self.size


class _MemoryStream:
    def __init__(self, data: bytes):
        self.data, self.position = data, 0

    def read(self, n: int) -> bytes:
        piece = self.data[self.position: self.position + n]
        self.position += len(piece)
        return piece

    def skip(self, n: int) -> int:
        n = max(0, min(n, len(self.data) - self.position))
        self.position += n
        return n


class _GzipStream:
    def __init__(self, path: str, handle):
        self.path = path
        self.file = gzip.GzipFile(fileobj=handle, mode="rb")
        self.position = 0

    def read(self, n: int) -> bytes:
        try:
            data = self.file.read(n)
        except EOFError:
            raise SpectrumReadError(self.path, "truncated gzip file (the compressed stream ends before its "
                                               f"end marker, after {self.position} bytes of FITS data)") from None
        except (gzip.BadGzipFile, zlib.error) as exc:
            raise SpectrumReadError(self.path, f"damaged gzip file ({_gzip_reason(exc)} after "
                                               f"{self.position} bytes of FITS data)") from None
        self.position += len(data)
        return data

    def skip(self, n: int) -> int:
        skipped = 0
        while skipped < n:
            piece = self.read(min(_SKIP_PIECE, n - skipped))
            if not piece:
                break
            skipped += len(piece)
        return skipped


def _gzip_reason(exc: BaseException) -> str:
    text = str(exc).lower()
    if "crc" in text:
        return "CRC check failed"
    if "length" in text:
        return "stored length does not match"
    if "magic" in text or "not a gzipped" in text:
        return "bad gzip header"
    return "corrupt compressed data"


def _walk_gzip(path: str, handle) -> FileLayout:
    # The walk reads to the end of the stream, so a cut or corrupt tail is seen (end marker, CRC).
    return _walk(path, _GzipStream(path, handle), compressed=True)


def _read_header(path: str, stream, index: int, first: bytes) -> bytes:
    """The header of HDU ``index`` (``first`` is its first block, already read) up to its END card,
    checked to be ASCII text."""
    blocks, block = [], first
    while len(blocks) < MAX_HEADER_BLOCKS:
        if len(block) < BLOCK:
            raise SpectrumReadError(path, f"truncated FITS file: the header of HDU {index} has no END card "
                                          "(the file ends inside it)")
        blocks.append(block)
        end = _end_card(block)
        if end >= 0:
            raw = b"".join(blocks)[: (len(blocks) - 1) * BLOCK + end]
            bad = _non_ascii(raw)
            if bad >= 0:
                raise SpectrumReadError(path, f"damaged FITS header: HDU {index} card {bad // CARD + 1} holds "
                                              "bytes that are not printable ASCII")
            return raw
        block = stream.read(BLOCK)
    raise SpectrumReadError(path, f"damaged FITS file: the header of HDU {index} has no END card within "
                                  f"{MAX_HEADER_BLOCKS} blocks")


def _end_card(block: bytes) -> int:
    """Offset of the END card in a header block (card-aligned), or -1."""
    at = block.find(END_CARD)
    while at >= 0 and at % CARD:
        at = block.find(END_CARD, at + 1)
    return at


def _non_ascii(raw: bytes) -> int:
    """Offset of the first byte outside printable ASCII (32-126), or -1."""
    stripped = raw.translate(None, _PRINTABLE)
    if not stripped:
        return -1
    return min(raw.find(stripped[:1]), len(raw))


_PRINTABLE = bytes(range(32, 127))


def _walk(path: str, stream, compressed: bool, data: bytes | None = None) -> FileLayout:
    hdus: list[HduSpan] = []
    while True:
        block = stream.read(BLOCK)
        if not block and hdus:
            break
        if hdus and not block.startswith(b"XTENSION= "):
            raise SpectrumReadError(path, f"damaged FITS file: data after HDU {len(hdus) - 1} does not start "
                                          "a FITS extension (no XTENSION card where the next header belongs)")
        if not hdus and block[:len(FITS_MAGIC)] != FITS_MAGIC:
            raise SpectrumReadError(path, "not a FITS file (the decompressed data does not start with "
                                          "'SIMPLE  =')")
        raw = _read_header(path, stream, len(hdus), block)
        hdu = describe(path, Header(raw), len(hdus), data_start=stream.position)
        if compressed and max(hdu.data_end, stream.position) > MAX_GZIP_FITS_BYTES:
            raise SpectrumReadError(path, f"gzip file declares more than {MAX_GZIP_FITS_BYTES:,} bytes of FITS "
                                          "data (a compressed input is decompressed whole in memory)")
        padded = _padded(hdu.data_size)
        got = stream.skip(padded)
        if got < hdu.data_size:
            what = "gzip data" if compressed else "file"
            raise SpectrumReadError(path, f"truncated FITS file: HDU {len(hdus)} declares {hdu.data_size:,} "
                                          f"bytes of data, the {what} ends after {got:,}")
        if got < padded:
            raise SpectrumReadError(path, f"truncated FITS file: the last block of HDU {len(hdus)} is cut "
                                          "short")
        hdus.append(hdu)
    return FileLayout(path=path, compressed=compressed, size=stream.position, hdus=tuple(hdus), data=data)


def _padded(size: int) -> int:
    return -(-size // BLOCK) * BLOCK


def describe(path: str, header: Header, index: int, data_start: int) -> HduSpan:
    """The span of HDU ``index`` from its structural cards, refusing malformed ones by name."""
    primary = index == 0
    standard_cards(header, primary)
    where = f"HDU {index}"
    bitpix = header.value("BITPIX", default=None)
    naxis = header.value("NAXIS", default=None)
    if bitpix not in BITPIX_VALUES or type(bitpix) is not int:
        raise SpectrumReadError(path, f"damaged FITS header: {where} has BITPIX = {bitpix!r} "
                                      "(not 8, 16, 32, 64, -32 or -64)")
    if type(naxis) is not int or not 0 <= naxis <= 999:
        raise SpectrumReadError(path, f"damaged FITS header: {where} has NAXIS = {naxis!r}")
    dims = [header.value(f"NAXIS{i}", default=None) for i in range(1, naxis + 1)]
    for i, d in enumerate(dims, 1):
        if type(d) is not int or d < 0:
            raise SpectrumReadError(path, f"damaged FITS header: {where} has NAXIS{i} = {d!r}")
    xtension = "" if primary else str(header.value("XTENSION", 0, "")).strip().upper()
    name = str(header.value("EXTNAME", default="") or "").strip().upper() or ("PRIMARY" if primary else "")
    label = f"{where} ({name})" if name and not primary else where
    if not primary and xtension not in XTENSIONS:
        raise SpectrumReadError(path, f"damaged FITS header: {label} has XTENSION = "
                                      f"{header.value('XTENSION', 0, '')!r}, not one of {', '.join(XTENSIONS)}")
    if xtension in ("BINTABLE", "TABLE") and (bitpix != 8 or naxis != 2):
        raise SpectrumReadError(path, f"damaged FITS header: {label} is a {xtension} with BITPIX = {bitpix} "
                                      f"and NAXIS = {naxis} (a table has BITPIX = 8, NAXIS = 2)")
    if primary and not (dims and dims[0] == 0 and header.value("GROUPS", default=False) is True):
        pcount, gcount = 0, 1  # only random-groups primary HDUs have parameters (as in cfitsio)
    else:
        pcount = header.value("PCOUNT", default=0)
        gcount = header.value("GCOUNT", default=1)
    if type(pcount) is not int or type(gcount) is not int or pcount < 0 or gcount < 0:
        raise SpectrumReadError(path, f"damaged FITS header: {label} has PCOUNT = {pcount!r}, "
                                      f"GCOUNT = {gcount!r}")
    size = abs(bitpix) // 8 * gcount * (pcount + (math.prod(dims) if dims else 0))
    return HduSpan(header=header, name=name, xtension=xtension, data_start=data_start, data_size=size)
