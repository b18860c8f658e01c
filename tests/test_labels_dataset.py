"""Experts' labels matched to real spectra become training arrays with the right targets."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from casiglo_gui.core import grid
from casiglo_gui.core.labels import LabelEvent, LabelStore
from casiglo_gui.core.labels.dataset import build_label_dataset, is_held_out, rejected_lines
from casiglo_gui.core.lines import LINE_INDEX


@pytest.fixture
def spectra_dir(tmp_path, data_dir):
    folder = tmp_path / "spectra" / "nested"
    folder.mkdir(parents=True)
    for name in ("spec-0266-51602-0013.fits", "spec-0266-51602-0107.fits", "spec-0269-51581-0003.fits",
                 "ppxf_NGC3522_SDSS_DR8.fits"):
        shutil.copy(data_dir / "sdss" / name, folder / name)
    (folder / "broken.fits").write_text("not a FITS file", encoding="utf-8")
    return tmp_path / "spectra"


def test_labels_become_targets_and_unusable_ones_are_explained(tmp_path, spectra_dir):
    with LabelStore.open(tmp_path / "l.sqlite3") as store:
        # A lens candidate (a made-up background at z=0.45 behind the z=0.123 galaxy).
        store.add_event(LabelEvent("0266-51602-0107", "likely", "a", z_bg=0.45,
                                   lines={"oiii_5008": True, "hbeta": True, "halpha": False}))
        store.add_event(LabelEvent("0266-51602-0107", "probable", "b", z_bg=0.4502,
                                   lines={"oiii_5008": True, "halpha": False}))
        store.add_event(LabelEvent("0266-51602-0013", "none", "a", flags={"foreground_emission"}))
        store.add_event(LabelEvent("0269-51581-0003", "none", "a",           # dead fibre: no valid pixel
                                   source="/data/spec-0269-51581-0003.fits"))
        store.add_event(LabelEvent("9999-99999-0001", "likely", "a", z_bg=0.5))  # no spectrum
        store.add_event(LabelEvent("spec-x", "possible", "a", source="/elsewhere/spec-0266-51602-0013.fits"))
        dataset, file_errors = build_label_dataset(store.consensus_table(), spectra_dir,
                                                   rejected=rejected_lines(store))
    assert dataset.object_ids == ["0266-51602-0107", "0266-51602-0013"]
    assert dataset.x.shape == (2, grid.N_PIXELS) and dataset.x.dtype == np.float32
    assert np.all(np.isfinite(dataset.x))
    assert list(dataset.is_lens) == [1.0, 0.0]
    assert dataset.z_bg[0] == pytest.approx(0.4501) and np.isnan(dataset.z_bg[1])
    assert dataset.z_fg[0] == pytest.approx(0.12315, abs=1e-4)
    lens_lines, lens_known = dataset.lines[0], dataset.line_known[0]
    assert lens_lines[LINE_INDEX["oiii_5008"]] == 1 and lens_known[LINE_INDEX["oiii_5008"]]
    assert lens_lines[LINE_INDEX["halpha"]] == 0 and lens_known[LINE_INDEX["halpha"]]  # rejected by both
    assert lens_lines[LINE_INDEX["hbeta"]] == 1  # one saw it, the other did not say: seen
    assert not lens_known[LINE_INDEX["nii_6585"]]  # nobody said: unknown, no weight
    assert dataset.line_known[1].all() and not dataset.lines[1].any()  # 'none': all lines absent
    reasons = dict(dataset.skipped)
    assert reasons["0269-51581-0003"].startswith("spectrum unusable:")
    assert "ivar is zero" in reasons["0269-51581-0003"]
    assert reasons["9999-99999-0001"].startswith("no spectrum")
    assert reasons["spec-x"].startswith("not used: grade possible")  # matched by source file name
    assert {p.split("/")[-1] for p, _ in file_errors} == {"broken.fits", "ppxf_NGC3522_SDSS_DR8.fits",
                                                             "spec-0269-51581-0003.fits"}
    assert dataset.summary()["positives"] == 1


def test_held_out_split_is_stable_and_about_the_right_size():
    ids = [f"{plate:04d}-55555-{fiber:04d}" for plate in range(20) for fiber in range(100)]
    held = [is_held_out(i, 0.2) for i in ids]
    assert 0.17 < np.mean(held) < 0.23
    assert held == [is_held_out(i, 0.2) for i in ids]
