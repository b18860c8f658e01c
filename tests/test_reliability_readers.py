"""Issue 16, readers: truncations never read as `ok` (1), overflowing flux (2), reasons that name the
actual damage (10), bounded cost of one input (12), and reader bugs that surface as bugs."""
from __future__ import annotations

import gzip
import resource
import time
import zlib

import numpy as np
import pytest
from astropy.io import fits

from casiglo_gui.core.errors import SpectrumReadError
from casiglo_gui.core.readers import BACKENDS, READERS, read_spectra
from casiglo_gui.core.readers import registry
from casiglo_gui.core.scan.columns import detection_row
from casiglo_gui.core.detectors.detection import Detection

BLOCK = 2880
LITE = "sdss/spec-3651-55247-0054.fits"       # BOSS spec-lite: PRIMARY, COADD, SPALL, SPZLINE
FULL = "sdss/spec-0332-52367-0639_full.fits"  # SDSS-I full: per-exposure HDUs after the first three


def header_offsets(path) -> list[tuple[int, int]]:
    """(header start, data start) of every HDU."""
    with fits.open(path) as hdul:
        return [(hdul.fileinfo(i)["hdrLoc"], hdul.fileinfo(i)["datLoc"]) for i in range(len(hdul))]


def write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def refused(path, backend=None) -> str:
    with pytest.raises(SpectrumReadError) as info:
        read_spectra(path, backend=backend)
    return info.value.reason


def edit_card(raw: bytes, hdu_start: int, keyword: str, value: str) -> bytes:
    """``raw`` with the value field of ``keyword``'s first card in the header at ``hdu_start`` replaced."""
    at = raw.index(keyword.ljust(8).encode() + b"= ", hdu_start)
    data = bytearray(raw)
    data[at + 10: at + 30] = value.encode().rjust(20)
    return bytes(data)


# -- 1: truncations -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [LITE, FULL])
@pytest.mark.parametrize("backend", [None] + list(BACKENDS))
def test_cut_inside_a_later_header_on_a_block_boundary_is_refused(data_dir, tmp_path, name, backend):
    raw = (data_dir / name).read_bytes()
    start, data_start = header_offsets(data_dir / name)[-1]
    assert data_start - start >= 2 * BLOCK, "the last header must span blocks for this cut"
    path = write(tmp_path, "cut.fits", raw[: start + BLOCK])
    assert "truncated" in refused(path, backend)


@pytest.mark.parametrize("backend", [None, "fitsio", "astropy"])
def test_every_block_boundary_cut_of_a_full_file_is_refused(data_dir, tmp_path, backend):
    raw = (data_dir / FULL).read_bytes()
    ends = {start for start, _ in header_offsets(data_dir / FULL)[1:]}  # cuts between HDUs are whole files
    for size in range(BLOCK, len(raw), BLOCK):
        if size in ends:
            continue
        path = write(tmp_path, "cut.fits", raw[:size])
        assert "truncated" in refused(path, backend), size


def test_cut_gzip_stream_is_refused(data_dir, tmp_path):
    packed = gzip.compress((data_dir / LITE).read_bytes(), compresslevel=9, mtime=0)
    for cut in (len(packed) - 3000, len(packed) - 9, len(packed) // 2):
        path = write(tmp_path, "cut.fits.gz", packed[:cut])
        assert "truncated gzip file" in refused(path)


def test_gzip_with_a_wrong_crc_is_refused(data_dir, tmp_path):
    packed = bytearray(gzip.compress((data_dir / LITE).read_bytes(), mtime=0))
    packed[-6] ^= 0xFF  # inside the CRC-32 of the trailer
    assert "CRC" in refused(write(tmp_path, "crc.fits.gz", bytes(packed)))


# -- 2: flux that overflows the fit ---------------------------------------------------------------------

@pytest.mark.parametrize("value", [1e38, 3e38])
def test_huge_flux_pixels_are_masked_not_propagated(data_dir, tmp_path, value):
    with fits.open(data_dir / LITE) as hdul:
        hdul[1].data["flux"][1000:1050] = value
        hdul.writeto(tmp_path / "huge.fits")
    spectrum = read_spectra(tmp_path / "huge.fits")[0]
    assert spectrum.mask[1000:1050].all()
    assert not spectrum.mask[990:1000].all()


def test_detection_row_refuses_non_finite_scores():
    probability = np.full(12, 0.1)
    probability[3] = np.nan
    detection = Detection(z_bg=0.5, z_bg_err=0.001, score=0.2, n_lines=1, line_probability=probability, line_snr=np.zeros(12))
    with pytest.raises(ValueError, match="non-finite"):
        detection_row("x.fits", "id", 1.0, 2.0, 0.1, detection)
    nan_score = Detection(z_bg=0.5, z_bg_err=0.001, score=float("nan"), n_lines=1, line_probability=np.zeros(12), line_snr=np.zeros(12))
    with pytest.raises(ValueError, match="non-finite"):
        detection_row("x.fits", "id", 1.0, 2.0, 0.1, nan_score)


# -- 10: reasons that name the damage -------------------------------------------------------------------

@pytest.mark.parametrize("backend", [None] + list(BACKENDS))
def test_coadd_table_with_bitpix_16_is_named(data_dir, tmp_path, backend):
    raw = (data_dir / LITE).read_bytes()
    start, _ = header_offsets(data_dir / LITE)[1]
    reason = refused(write(tmp_path, "b16.fits", edit_card(raw, start, "BITPIX", "16")), backend)
    assert "BITPIX = 16" in reason and "HDU 1 (COADD)" in reason


@pytest.mark.parametrize("backend", [None] + list(BACKENDS))
def test_misspelt_xtension_is_named(data_dir, tmp_path, backend):
    raw = (data_dir / LITE).read_bytes()
    path = write(tmp_path, "bintabl.fits", raw.replace(b"XTENSION= 'BINTABLE'", b"XTENSION= 'BINTABL '", 1))
    assert "XTENSION = 'BINTABL'" in refused(path, backend)


def test_negative_ivar_is_named(data_dir, tmp_path):
    with fits.open(data_dir / LITE) as hdul:
        hdul[1].data["ivar"][:] = -1.0
        hdul.writeto(tmp_path / "neg.fits")
    reason = refused(tmp_path / "neg.fits")
    assert "negative" in reason and "zero" not in reason.split("(")[0]


@pytest.mark.parametrize("backend", [None] + list(BACKENDS))
def test_non_ascii_header_bytes_are_named_not_a_decode_error(data_dir, tmp_path, backend):
    raw = bytearray((data_dir / LITE).read_bytes())
    start, _ = header_offsets(data_dir / LITE)[2]
    raw[start + 80 * 12 + 15] = 0xE9
    reason = refused(write(tmp_path, "latin.fits", bytes(raw)), backend)
    assert "not printable ASCII" in reason and "HDU 2" in reason
    assert "Decode" not in reason and "position" not in reason


@pytest.mark.parametrize("backend", [None] + list(BACKENDS))
def test_invalid_column_cards_are_named_not_an_unrecognised_file(data_dir, tmp_path, backend):
    # fitsio silently stops at an HDU whose column cards it cannot parse (then: "HDUs: PRIMARY").
    raw = (data_dir / LITE).read_bytes()
    start, _ = header_offsets(data_dir / LITE)[1]
    reason = refused(write(tmp_path, "tform.fits", edit_card(raw, start, "TFORM1", "'QQ      '")), backend)
    assert "HDU 1" in reason and "not a recognised" not in reason
    assert "FITSIO status" not in reason and "Invalid column format" not in reason


# -- 12: bounded cost of one input ----------------------------------------------------------------------

def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_header_consistent_sparse_spec_file_is_refused_cheaply(data_dir, tmp_path):
    raw = (data_dir / LITE).read_bytes()
    (h0, _), (h1, d1), (h2, _), *_ = header_offsets(data_dir / LITE)
    naxis1 = fits.getheader(data_dir / LITE, 1)["NAXIS1"]
    rows = 3_200_000_000 // naxis1
    header1 = edit_card(raw[h1:d1], 0, "NAXIS2", str(rows))
    data_bytes = -(-rows * naxis1 // BLOCK) * BLOCK
    path = tmp_path / "sparse.fits"
    with open(path, "wb") as out:  # PRIMARY, a COADD header declaring 3.2 GB, a hole, then the rest
        out.write(raw[h0:h1] + header1)
        out.seek(data_bytes, 1)
        out.write(raw[h2:])
    before, t0 = _peak_rss_mb(), time.perf_counter()
    reason = refused(str(path))
    assert "rows" in reason and "COADD" in reason
    assert time.perf_counter() - t0 < 10
    assert _peak_rss_mb() - before < 200


def _gzip_stream(header: bytes, zeros: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [compressor.compress(header)]
    piece = bytes(1 << 20)
    for _ in range(zeros >> 20):
        parts.append(compressor.compress(piece))
    parts.append(compressor.flush())
    return b"".join(parts)


def _primary_header(naxis1: int) -> bytes:
    cards = ["SIMPLE  =                    T", "BITPIX  =                    8", "NAXIS   =                    1",
             f"NAXIS1  = {naxis1:>20d}", "END"]
    return "".join(c.ljust(80) for c in cards).ljust(BLOCK).encode()


@pytest.mark.parametrize("declared", [3 * 1024 ** 3, 0])
def test_gzip_bomb_is_refused_in_bounded_time_and_memory(tmp_path, declared):
    # Header-consistent (declares more than the limit) or not (declares nothing, then 64 MB of zeros).
    path = write(tmp_path, "bomb.fits.gz", _gzip_stream(_primary_header(declared), 64 << 20))
    before, t0 = _peak_rss_mb(), time.perf_counter()
    reason = refused(path)
    assert ("more than" in reason) if declared else ("does not start a FITS extension" in reason)
    assert time.perf_counter() - t0 < 10
    assert _peak_rss_mb() - before < 100


# -- reader bugs surface ------------------------------------------------------------------------------

def test_a_bug_in_a_loader_is_not_reported_as_a_damaged_file(data_dir, monkeypatch):
    sdss = next(r for r in READERS if r.name == "sdss-spec")

    def buggy(source, path):
        raise AttributeError("'NoneType' object has no attribute 'shape'")

    monkeypatch.setattr(registry, "READERS", [registry.Reader(sdss.name, sdss.identify, buggy, sdss.priority)])
    with pytest.raises(AttributeError):
        read_spectra(data_dir / LITE)
