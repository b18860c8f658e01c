"""Fuzz test (issue 16): a few hundred seeded damaged files through the readers and through `casiglo scan`.

For every case: the readers return spectra or raise SpectrumReadError (anything else is a bug); the scan
writes exactly one row per input, in input order, either ``ok`` with a finite score, line probabilities
and z fields, or ``error: <reason>``; a truncated file is never ``ok``. The larger run (>= 2,000 cases,
printing the counts) is benchmarks/fuzz_scan.py.
"""
from __future__ import annotations

import csv
import math
import os

import numpy as np
import pytest

from casiglo_gui.core.errors import SpectrumReadError
from casiglo_gui.core.readers import read_spectra
from casiglo_gui.core.scan.columns import COLUMNS
from casiglo_gui.core.detectors.spec import DetectorSpec
from casiglo_gui.core.scan.pipeline import run_scan

from fuzz_inputs import KINDS, damaged_inputs

N_CASES = int(os.environ.get("CASIGLO_FUZZ_CASES", 330))
SEED = int(os.environ.get("CASIGLO_FUZZ_SEED", 16))


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    return damaged_inputs(tmp_path_factory.mktemp("fuzz"), N_CASES, SEED)


def check_row(row: dict, truncated: bool) -> str:
    """The row's verdict ('ok' or 'error'); fails the test on a row that breaks the contract."""
    status = row["status"]
    if status == "ok":
        assert not truncated, f"truncated file read as ok: {row['source']}"
        score = float(row["score"])
        assert 0.0 <= score <= 1.0
        for key in COLUMNS:
            if key.startswith("p_"):
                assert math.isfinite(float(row[key])), key
        z_fg = float(row["z_fg"])
        assert math.isfinite(z_fg)
        if row["z_bg"]:
            assert math.isfinite(float(row["z_bg"])) and float(row["z_bg"]) > z_fg
        return "ok"
    assert status.startswith("error: ") and len(status) > len("error: "), status
    reason = status[len("error: "):]
    assert "unexpected" not in reason and "Traceback" not in reason, reason
    assert "FITSIO status" not in reason and "codec can't decode" not in reason, reason
    return "error"


def test_fuzzed_files_through_the_readers(cases):
    for case in cases:
        try:
            spectra = read_spectra(case.path)
        except SpectrumReadError as exc:
            assert exc.path == case.path and exc.reason
            continue
        assert not case.truncated, f"truncated file read: {case.path}"
        for spectrum in spectra:
            assert np.all(np.isfinite(spectrum.wavelength))
            assert spectrum.flux.shape == spectrum.ivar.shape == spectrum.mask.shape
            good = ~spectrum.mask
            assert np.all(np.isfinite(spectrum.flux[good])) and np.all(spectrum.ivar[good] > 0)


def test_fuzzed_files_through_scan(cases, tmp_path):
    out = tmp_path / "fuzz.csv"
    run_scan([c.path for c in cases], str(out), DetectorSpec("physics"), progress=False, chunk_size=16)
    with open(out, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["source"] for r in rows] == [c.path for c in cases]  # one row each, in order
    verdicts = {kind: {"ok": 0, "error": 0} for kind in KINDS}
    for row, case in zip(rows, cases):
        verdicts[case.kind][check_row(row, case.truncated)] += 1
    # The mutations reach both outcomes: intact and gzip files are ok, cut files errors.
    assert verdicts["intact"]["error"] == 0 and verdicts["gzip"]["error"] == 0
    for kind in ("cut", "cut_block", "gzip_cut", "gzip_crc"):
        assert verdicts[kind]["ok"] == 0
    assert sum(v["ok"] for v in verdicts.values()) > len(cases) // 4
