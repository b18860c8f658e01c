"""`casiglo scan`: a mixed folder (real spectra, injected lenses, broken files) into the contract table."""
from __future__ import annotations

import csv
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from casiglo_gui import cli
from casiglo_gui.core.readers import open_cube
from casiglo_gui.core.lines import LINE_KEYS, REST_WAVELENGTHS_A
from casiglo_gui.core.scan.inputs import expand_inputs

# The contract's columns, spelled out here (not imported) so a change in the code cannot pass silently.
CONTRACT_COLUMNS = ("source object_id ra dec z_fg z_bg z_bg_err score n_lines status".split()
                    + [f"p_{k}" for k in LINE_KEYS] + [f"snr_{k}" for k in LINE_KEYS])

REAL_SPECS = ["spec-0266-51602-0013.fits", "spec-0266-51602-0107.fits", "spec-3586-55181-0003.fits",
              "spec-3650-55244-0007.fits", "spec-3650-55244-0056.fits", "spec-3651-55247-0054.fits"]
LENS_HOST = "spec-3650-55244-0089.fits"  # a BOSS galaxy at z = 0.200
LENS_Z = (0.512345, 0.634567)


def read_table(path):
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        return header, [dict(zip(header, row)) for row in reader]


def inject_lens(src, dst, z_bg, amplitude_sigma=12.0):
    """Copy a real BOSS spec file, adding a background galaxy's emission lines at ``z_bg`` to its flux.

    Each line is a Gaussian (sigma 1.5 px) whose peak is ``amplitude_sigma`` times the local noise,
    with [OIII] 5008/4960 = 2.98 and [NII] 6585/6550 = 2.95 as physics demands.
    """
    relative = {"oii_3727": 0.8, "oii_3730": 1.0, "hbeta": 0.6, "oiii_4960": 0.5, "oiii_5008": 1.49,
                "nii_6550": 0.3, "halpha": 1.5, "nii_6585": 0.885}
    with fits.open(src) as hdul:
        coadd = hdul[1].data
        loglam = np.asarray(coadd["loglam"], dtype=np.float64)
        ivar = np.asarray(coadd["ivar"], dtype=np.float64)
        noise = 1.0 / np.sqrt(np.median(ivar[ivar > 0]))
        flux = np.asarray(coadd["flux"], dtype=np.float64).copy()
        pixel = np.arange(loglam.size)
        for key, strength in relative.items():
            observed = REST_WAVELENGTHS_A[LINE_KEYS.index(key)] * (1 + z_bg)
            centre = (np.log10(observed) - loglam[0]) / 1e-4
            flux += amplitude_sigma * noise * strength * np.exp(-0.5 * ((pixel - centre) / 1.5) ** 2)
        coadd["flux"] = flux.astype(coadd["flux"].dtype)
        hdul.writeto(dst)


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory):
    data = os.path.join(os.path.dirname(__file__), "data", "sdss")
    folder = tmp_path_factory.mktemp("mixed")
    (folder / "real").mkdir()
    for name in REAL_SPECS:
        shutil.copy(os.path.join(data, name), folder / "real" / name)
    (folder / "lenses").mkdir()
    for k, z in enumerate(LENS_Z):
        inject_lens(os.path.join(data, LENS_HOST), folder / "lenses" / f"spec-lens-{k}.fits", z)
    (folder / "broken").mkdir()
    (folder / "broken" / "empty.fits").write_bytes(b"")
    full = (Path(data) / REAL_SPECS[0]).read_bytes()
    (folder / "broken" / "truncated.fits").write_bytes(full[: len(full) // 2 + 17])
    (folder / "broken" / "text.fits").write_text("this is not a FITS file\n")
    shutil.copy(os.path.join(data, "ppxf_NGC3522_SDSS_DR8.fits"), folder / "broken" / "other.fits")
    (folder / "README.txt").write_text("not a spectrum: folders skip it")
    return folder


@pytest.fixture(scope="module")
def mixed_scan(mixed_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "scan.csv"
    assert cli.main(["scan", str(mixed_folder), "--out", str(out), "--workers", "1",
                     "--detector", "physics", "--no-progress", "--chunk-size", "4"]) == 0
    return out


def test_mixed_folder_rows_statuses_and_order(mixed_folder, mixed_scan):
    header, rows = read_table(mixed_scan)
    assert header == CONTRACT_COLUMNS
    expected_order = ([f"broken/{n}" for n in ("empty.fits", "other.fits", "text.fits", "truncated.fits")]
                      + [f"lenses/spec-lens-{k}.fits" for k in range(2)]
                      + [f"real/{n}" for n in sorted(REAL_SPECS)])
    assert [os.path.relpath(r["source"], mixed_folder) for r in rows] == expected_order
    status = {os.path.relpath(r["source"], mixed_folder): r["status"] for r in rows}
    assert status["broken/empty.fits"] == "error: file is empty (0 bytes)"
    assert status["broken/truncated.fits"].startswith("error: truncated FITS file")
    assert status["broken/text.fits"].startswith("error: not a FITS file")
    assert status["broken/other.fits"].startswith("error: not a recognised spectrum file")
    for key, value in status.items():
        if not key.startswith("broken/"):
            assert value == "ok", (key, value)
    for r in rows:
        if r["status"] == "ok":
            assert 0.0 <= float(r["score"]) <= 1.0
            assert all(0.0 <= float(r[f"p_{k}"]) <= 1.0 for k in LINE_KEYS)
            if r["z_bg"]:
                assert float(r["z_bg"]) > float(r["z_fg"])
    real = {r["object_id"]: r for r in rows if "/real/" in r["source"]}
    assert real["3650-55244-0007"]["ra"] and math.isclose(float(real["3650-55244-0007"]["z_fg"]), 0.18048, abs_tol=1e-4)


def test_injected_lenses_rank_at_the_top_with_their_redshift(mixed_scan):
    _, rows = read_table(mixed_scan)
    ok = [r for r in rows if r["status"] == "ok"]
    ranked = sorted(ok, key=lambda r: -float(r["score"]))
    top_two = ranked[:2]
    assert sorted(os.path.basename(r["source"]) for r in top_two) == ["spec-lens-0.fits", "spec-lens-1.fits"]
    best_real = max(float(r["score"]) for r in ok if "/real/" in r["source"])
    for r in top_two:
        z_true = LENS_Z[int(os.path.basename(r["source"])[-6])]
        assert abs(float(r["z_bg"]) - z_true) < 2e-4
        assert float(r["score"]) > best_real
        assert int(r["n_lines"]) >= 3


def test_summary_on_stderr_counts_statuses_and_lists_top_candidates(mixed_folder, tmp_path, capsys):
    out = tmp_path / "t.csv"
    assert cli.main(["scan", str(mixed_folder / "lenses"), str(mixed_folder / "broken" / "empty.fits"),
                     "--out", str(out), "--workers", "1", "--detector", "physics"]) == 0
    err = capsys.readouterr().err
    assert "detector: physics" in err
    assert "spec/s" in err                       # the progress bar's rate
    assert "2  ok" in err and "1  error: file is empty" in err
    assert "top 2 candidates" in err and "spec-lens-0.fits" in err


def test_parquet_output_has_the_same_rows(mixed_folder, mixed_scan, tmp_path):
    import pandas as pd

    out = tmp_path / "scan.parquet"
    assert cli.main(["scan", str(mixed_folder), "--out", str(out), "--workers", "1", "--detector", "physics",
                     "--no-progress", "--chunk-size", "4"]) == 0
    table = pd.read_parquet(out)
    assert list(table.columns) == CONTRACT_COLUMNS
    _, rows = read_table(mixed_scan)
    assert list(table["source"]) == [r["source"] for r in rows]
    assert list(table["status"]) == [r["status"] for r in rows]
    scores = [float(r["score"]) if r["score"] else np.nan for r in rows]
    np.testing.assert_array_equal(table["score"].to_numpy(), np.array(scores))
    assert not os.path.exists(str(out) + ".partial.csv")


def test_inputs_expand_in_documented_order(tmp_path):
    for rel in ("b/2.fits", "b/10.fits.gz", "a/z.fits", "a/sub/y.fits", "notes.txt", "c.fits"):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    expanded = expand_inputs([str(tmp_path / "c.fits"), str(tmp_path), str(tmp_path / "b" / "*.fits*"),
                              str(tmp_path / "missing.fits")])
    rel = [os.path.relpath(p, tmp_path) for p in expanded.files]
    # named file first; then the folder (sorted, recursive, no duplicates); the glob adds nothing new;
    # a missing named file is kept (it becomes an error row).
    assert rel == ["c.fits", "a/sub/y.fits", "a/z.fits", "b/10.fits.gz", "b/2.fits", "missing.fits"]
    assert [os.path.relpath(p, tmp_path) for p in expanded.skipped] == ["notes.txt"]
    assert expanded.missing == [str(tmp_path / "missing.fits")]


def test_a_named_non_spectrum_file_gets_an_error_row(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    out = tmp_path / "t.csv"
    assert cli.main(["scan", str(notes), str(tmp_path / "gone.fits"), "--out", str(out), "--workers", "1",
                     "--detector", "physics", "--no-progress"]) == 0
    _, rows = read_table(out)
    assert [r["status"] for r in rows] == ["error: not a FITS file (it does not start with 'SIMPLE  =')",
                                           "error: file not found"]


def test_manga_cube_gives_one_row_per_spaxel_and_detection_maps(tmp_path):
    cube = os.path.join(os.path.dirname(__file__), "data", "manga", "manga-test-5x5-LOGCUBE.fits.gz")
    out = tmp_path / "cube.csv"
    maps = tmp_path / "maps"
    # The test cube's header carries no redshift: --z-fg gives the one its foreground model is fitted at.
    assert cli.main(["scan", cube, "--out", str(out), "--maps", str(maps), "--workers", "1",
                     "--detector", "physics", "--no-progress", "--z-fg", "0.03"]) == 0
    _, rows = read_table(out)
    with open_cube(cube) as c:
        has_data = c.has_data_map()
        spaxels = c.spaxels_with_data()
    # one row per spaxel with data, row by row, object_id "PLATE-IFU/x,y"
    assert [r["object_id"] for r in rows] == [f"8131-6102/{x},{y}" for x, y in spaxels]
    with fits.open(maps / "manga-test-5x5-LOGCUBE-CASIGLO-MAPS.fits") as hdul:
        score = hdul["SCORE"].data
        z_bg = hdul["Z_BG"].data
    for r in rows:
        assert r["status"] == "ok" and float(r["z_fg"]) == 0.03
        x, y = (int(v) for v in r["object_id"].split("/")[1].split(","))
        assert score[y, x] == pytest.approx(float(r["score"]), abs=1e-6)
        if r["z_bg"]:
            assert z_bg[y, x] == float(r["z_bg"])
    assert np.isnan(score[~has_data]).all()


@pytest.mark.parametrize("kind", ["combined", "cnn"])
def test_cnn_detectors_plug_into_the_scan(mixed_folder, tmp_path, capsys, kind):
    from cnn_onnx_toy import write_toy_model  # a tiny hand-built ONNX model with the CASIGLO contract

    model = write_toy_model(tmp_path / "toy.onnx")
    out = tmp_path / "t.csv"
    assert cli.main(["scan", str(mixed_folder), "--out", str(out), "--workers", "1", "--detector", kind,
                     "--model", str(model), "--no-progress"]) == 0
    assert f"detector: {kind}" in capsys.readouterr().err
    header, rows = read_table(out)
    assert header == CONTRACT_COLUMNS and len(rows) == 12
    assert sum(r["status"] == "ok" for r in rows) == 8
    for r in rows:
        if r["status"] == "ok":
            # z_bg is empty when nothing was found (no line at 4 sigma), else above z_fg
            assert 0.0 <= float(r["score"]) <= 1.0 and (r["z_bg"] == "" or float(r["z_bg"]) > float(r["z_fg"]))
    assert any(r["z_bg"] != "" for r in rows if r["status"] == "ok")


def test_missing_model_file_is_refused_clearly(tmp_path, capsys):
    spec = os.path.join(os.path.dirname(__file__), "data", "sdss", "spec-3650-55244-0007.fits")
    code = cli.main(["scan", spec, "--out", str(tmp_path / "t.csv"), "--detector", "combined",
                     "--model", str(tmp_path / "nope.onnx")])
    assert code == 2
    assert "model file not found" in capsys.readouterr().err and not (tmp_path / "t.csv").exists()


def test_mismatched_model_is_refused_before_any_table_is_written(tmp_path, capsys):
    from cnn_onnx_toy import good_metadata, write_toy_model

    model = write_toy_model(tmp_path / "old.onnx", metadata=good_metadata(npix="4000"))
    spec = os.path.join(os.path.dirname(__file__), "data", "sdss", "spec-3650-55244-0007.fits")
    code = cli.main(["scan", spec, "--out", str(tmp_path / "t.csv"), "--model", str(model)])
    err = capsys.readouterr().err
    assert code == 2 and "old.onnx" in err
    assert not (tmp_path / "t.csv").exists()


def test_project_synthetic_set_lenses_rank_first(tmp_path):
    """Spectra from the project's generator (`casiglo-train generate --format fits`, truth in the headers):
    the scan ranks lenses above every hard negative at the top, with their redshifts."""
    from training import cli as train_cli

    folder = tmp_path / "synthetic"
    assert train_cli.main(["generate", "--n", "40", "--seed", "3", "--out", str(folder), "--format", "fits",
                           "--no-progress"]) == 0
    out = tmp_path / "syn.csv"
    assert cli.main(["scan", str(folder), "--out", str(out), "--workers", "1", "--detector", "physics",
                     "--no-progress"]) == 0
    _, rows = read_table(out)
    assert len(rows) == 40 and all(r["status"] == "ok" for r in rows)
    truth = {}
    for r in rows:
        header = fits.getheader(r["source"], 0)
        truth[r["source"]] = (header["CSG_KIND"], float(header["CSG_ZBG"]))
    ranked = sorted(rows, key=lambda r: -float(r["score"]))
    assert [truth[r["source"]][0] for r in ranked[:10]] == ["lens"] * 10
    for r in ranked[:5]:
        assert abs(float(r["z_bg"]) - truth[r["source"]][1]) < 1e-3
