"""Issue 16 point 11, `casiglo open`: a file that cannot be shown is reported at once with its reason; a
scan table with a non-UTF-8 file name opens (that row's path kept byte for byte)."""
from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

import pytest

from casiglo_gui import app as app_module
from casiglo_gui.core.inspection.queue import read_scan_table
from casiglo_gui.core.detectors.spec import DetectorSpec
from casiglo_gui.core.scan.pipeline import run_scan

DATA = Path(__file__).parent / "data" / "sdss"


def _args(paths, **extra):
    values = dict(paths=[str(p) for p in paths], labels=None, inspector="tester", model=None, no_model=True,
                  screenshot=None, screenshot_part="window", size="600x400", start=None)
    values.update(extra)
    return argparse.Namespace(**values)


def test_screenshot_of_a_bad_file_fails_at_once_with_the_reason(qtbot, tmp_path, capsys):
    Path(os.environ["XDG_CONFIG_HOME"]).mkdir(parents=True, exist_ok=True)
    bad = tmp_path / "BAD.fits"
    bad.write_bytes(b"SIMPLE  = broken" + bytes(2864))
    started = time.monotonic()
    code = app_module.run(_args([bad], labels=str(tmp_path / "l.sqlite3"), screenshot=str(tmp_path / "o.png")))
    took = time.monotonic() - started
    err = capsys.readouterr().err
    assert code == 1 and took < 30
    assert "could not be shown" in err and "BAD.fits: truncated FITS file" in err
    assert "nothing shown" not in err


@pytest.mark.skipif(os.name != "posix", reason="non-UTF-8 file names are a POSIX thing")
def test_scan_table_with_a_non_utf8_file_name_opens(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    odd = os.path.join(os.fsencode(folder), b"spec-caf\xe9.fits")
    shutil.copy(DATA / "spec-3650-55244-0007.fits", odd)
    shutil.copy(DATA / "spec-0266-51602-0013.fits", folder / "spec-plain.fits")
    files = sorted([os.fsdecode(odd), str(folder / "spec-plain.fits")])
    table = tmp_path / "scan.csv"
    run_scan(files, str(table), DetectorSpec("physics"), progress=False)
    items = read_scan_table(table)
    assert len(items) == 2
    assert {os.fsencode(item.path) for item in items} == {odd, os.fsencode(folder / "spec-plain.fits")}
    assert all(Path(item.path).exists() for item in items)
