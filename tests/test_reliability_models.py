"""Issue 16 point 9, bad models: malformed metadata JSON or a missing calibration field refuses the model
with a clear message; `casiglo scan` then runs physics-only (the installed model) or stops with the
message (a model or detector named on the command line), never with a traceback; the app's detector set falls back to physics-only."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from casiglo_gui import cli
from casiglo_gui.core.errors import ModelMismatchError
from casiglo_gui.core.inference import OnnxLineModel

from cnn_onnx_toy import good_metadata, write_toy_model

SPEC = str(Path(__file__).parent / "data" / "sdss" / "spec-3650-55244-0007.fits")
BAD_METADATA = {
    "calibration-json": {"lens_score_calibration": "{not json"},
    "calibration-missing-key": {"lens_score_calibration": json.dumps({"a": 1.5})},
    "calibration-wrong-type": {"lens_score_calibration": json.dumps([1, 2])},
    "metrics-json": {"metrics": "{\"auc\": 0.9,"},
    "metrics-not-an-object": {"metrics": "[1, 2]"},
}


@pytest.fixture(params=sorted(BAD_METADATA))
def bad_model(request, tmp_path):
    key = request.param
    return key, write_toy_model(tmp_path / f"{key}.onnx", good_metadata(**BAD_METADATA[key]))


def test_bad_metadata_refuses_the_model_naming_the_key(bad_model):
    key, path = bad_model
    with pytest.raises(ModelMismatchError) as info:
        OnnxLineModel(path)
    assert str(path) in str(info.value)
    assert ("lens_score_calibration" if key.startswith("calibration") else "metrics") in info.value.reason


def test_scan_with_a_bad_installed_model_runs_physics_only(bad_model, tmp_path, capsys, monkeypatch):
    from casiglo_gui.core import inference

    _, path = bad_model
    monkeypatch.setattr(inference, "default_model_path", lambda: Path(path))
    out = tmp_path / "out.csv"
    code = cli.main(["scan", SPEC, "--out", str(out), "--workers", "1", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 0 and "Traceback" not in err
    assert "model refused" in err and "physics-only" in err
    assert ",ok," in out.read_text()


@pytest.mark.parametrize("detector", [[], ["--detector", "cnn"]])
def test_scan_with_a_named_bad_model_stops_with_the_message(bad_model, tmp_path, capsys, detector):
    _, path = bad_model
    out = tmp_path / "o.csv"
    code = cli.main(["scan", SPEC, "--out", str(out), "--model", str(path), *detector,
                     "--workers", "1", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "invalid" in err and str(path) in err
    assert not out.exists()


def test_the_apps_detector_set_falls_back_to_physics_only(bad_model):
    from casiglo_gui.core.inspection import DetectorSet

    _, path = bad_model
    detectors = DetectorSet(model_path=str(path))
    assert detectors.combined is None and detectors.physics is not None
    assert detectors.status.startswith("physics-only mode") and "model refused: invalid" in detectors.status
