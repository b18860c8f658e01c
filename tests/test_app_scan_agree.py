"""The app and `casiglo scan` give the same verdict for the same file: one pipeline from spectrum to detection."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from casiglo_gui.core.detectors import resolve_spec
from casiglo_gui.core.inspection.loading import DetectorSet, load_item
from casiglo_gui.core.inspection.queue import QueueItem
from casiglo_gui.core.scan import run_scan

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted((ROOT / "resources" / "sample").glob("*.fits")) + sorted((ROOT / "tests" / "data" / "sdss").glob("*.fits"))


def _same(a: float, b: float, tol: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= tol


@pytest.mark.parametrize("detector", ["combined", "physics"])
def test_app_and_scan_agree_on_every_sample_and_test_file(tmp_path, detector):
    spec, _ = resolve_spec(detector, None)
    table = tmp_path / "scan.csv"
    run_scan([str(f) for f in FILES], str(table), spec, workers=1, progress=False)
    rows = pd.read_csv(table)
    assert len(rows) == len(FILES)
    detectors = DetectorSet(model_path=None if detector == "combined" else "")
    compared = 0
    for path, row in zip(FILES, rows.itertuples()):
        if row.status != "ok":
            continue  # unreadable in both: the app shows its no-spectrum state (tested with the window)
        det = load_item(QueueItem(path=str(path)), detectors).detection
        assert det is not None, path.name
        where = f"{path.name}: app {det.z_bg}, {det.score}, {det.n_lines}; scan {row.z_bg}, {row.score}, {row.n_lines}"
        # The scan writes floats in their shortest round-trip form; batches of one and of many agree to
        # float32 precision in the network.
        assert _same(det.z_bg, float(row.z_bg), 1e-7), where
        assert _same(det.score, float(row.score), 1e-5), where
        assert det.n_lines == int(row.n_lines), where
        p_app = np.asarray(det.line_probability, float)
        p_scan = np.array([getattr(row, c) for c in rows.columns if c.startswith("p_")], float)
        assert np.allclose(np.nan_to_num(p_app, nan=0.0), np.nan_to_num(p_scan, nan=0.0), atol=1e-5), where
        compared += 1
    assert compared >= 10
