"""The app-side model loader and the combined detector: onnxruntime only, no TensorFlow."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from casiglo_gui.core import grid, lines
from casiglo_gui.core.errors import ModelMismatchError
from casiglo_gui.core.detectors.cnn import line_snr_at
from casiglo_gui.core.inference import LensCalibration, OnnxLineModel, check_metadata, default_model_path

from cnn_onnx_toy import good_metadata, write_toy_model

REPO = Path(__file__).resolve().parent.parent


def test_loads_a_matching_model_and_predicts_by_name(tmp_path):
    model = OnnxLineModel(write_toy_model(tmp_path / "ok.onnx"))
    x = np.zeros((70, grid.N_PIXELS), np.float32)
    x[3, 100] = 10.0
    z_fg = np.linspace(0.01, 0.6, 70)
    prob, z_bg = model.predict(x, z_fg, batch_size=16)  # 70 = 4 full batches + a partial one
    assert prob.shape == (70, lines.N_LINES) and z_bg.shape == (70,)
    assert prob[3, 0] > 0.99 and prob[0, 0] < 0.05
    np.testing.assert_allclose(z_bg, 2 * z_fg + 0.1, rtol=1e-6)
    assert model.version == "toy-1"


def test_big_endian_input_is_accepted(tmp_path):
    model = OnnxLineModel(write_toy_model(tmp_path / "ok.onnx"))
    x = np.zeros((2, grid.N_PIXELS), ">f4")
    x[0, 5] = 10.0
    prob, _ = model.predict(x, np.array([0.1, 0.2], ">f8"))
    assert np.all(np.isfinite(prob)) and prob[0, 0] > 0.99


@pytest.mark.parametrize("override, words", [
    ({"npix": "4000"}, "grid"),
    ({"dloglam": "0.0001001"}, "grid"),
    ({"line_keys": ",".join(reversed(lines.LINE_KEYS))}, "line keys"),
    ({"preprocessing_version": "casiglo-pre-0"}, "preprocessing"),
    ({"casiglo_format": "something-else"}, "not a CASIGLO model"),
])
def test_refuses_mismatched_metadata_naming_the_file(tmp_path, override, words):
    path = write_toy_model(tmp_path / "bad.onnx", good_metadata(**override))
    with pytest.raises(ModelMismatchError) as info:
        OnnxLineModel(path)
    assert info.value.path == str(path)
    assert words in info.value.reason
    assert str(path) in str(info.value)


def test_refuses_model_without_metadata(tmp_path):
    path = write_toy_model(tmp_path / "bare.onnx", {})
    with pytest.raises(ModelMismatchError, match="not a CASIGLO model"):
        OnnxLineModel(path)


def test_refuses_garbage_bytes_and_missing_file(tmp_path):
    path = tmp_path / "garbage.onnx"
    path.write_bytes(b"\x00\x01this is not protobuf" * 50)
    with pytest.raises(ModelMismatchError) as info:
        OnnxLineModel(path)
    assert info.value.path == str(path) and "not a readable ONNX model" in info.value.reason
    with pytest.raises(ModelMismatchError, match="not found"):
        OnnxLineModel(tmp_path / "nowhere.onnx")


def test_check_metadata_accepts_exact_contract():
    check_metadata("x.onnx", good_metadata())


def test_calibration_is_monotone_and_bounded():
    cal = LensCalibration(a=0.7, b=-1.0)
    p = cal(np.array([-1e4, -3.0, 0.0, 3.0, 1e4]))
    assert np.all(np.diff(p) >= 0) and np.all(np.diff(p[1:4]) > 0)
    assert p[0] == 0.0 and p[-1] == 1.0
    assert LensCalibration.from_json(json.dumps({"a": 2, "b": 1})).a == 2.0


def test_line_snr_at_measures_an_injected_line():
    rng = np.random.default_rng(3)
    residual = rng.standard_normal((2, grid.N_PIXELS)).astype(np.float32)
    ivar = np.ones_like(residual)
    z = 0.4
    centre = grid.pixel_of_wavelength(lines.REST_WAVELENGTHS_A[lines.LINE_INDEX["hbeta"]] * (1 + z))
    p = np.arange(grid.N_PIXELS)
    sigma = 1.5
    amp = 10.0 / np.sqrt(np.sqrt(np.pi) * sigma)  # matched-filter SNR 10 in unit noise
    residual[0] += amp * np.exp(-0.5 * ((p - centre) / sigma) ** 2)
    snr = line_snr_at(residual, ivar, np.array([z, np.nan]))
    assert abs(snr[0, lines.LINE_INDEX["hbeta"]] - 10.0) < 1.5
    assert np.all(np.isnan(snr[1]))
    # [OII] at z=0.4 is on the grid; at z=1.9 every line is off it
    assert np.all(np.isnan(line_snr_at(residual[:1], ivar[:1], np.array([1.9]))))


def test_default_model_path_points_at_the_shipped_file_name():
    path = default_model_path()
    assert path.name == "casiglo-cnn-v3.onnx"


def test_core_inference_imports_and_runs_without_tensorflow_or_qt(tmp_path):
    model_path = write_toy_model(tmp_path / "ok.onnx")
    code = textwrap.dedent(f"""
        import sys, importlib.abc
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split('.')[0] in ('tensorflow', 'keras', 'tf2onnx', 'PyQt6', 'pyqtgraph'):
                    raise ImportError('blocked ' + name)
        sys.meta_path.insert(0, Block())
        import numpy as np
        from casiglo_gui.core.inference import OnnxLineModel
        m = OnnxLineModel({str(model_path)!r})
        p, z = m.predict(np.zeros((3, {grid.N_PIXELS}), np.float32), np.array([0.1, 0.2, 0.3]))
        assert p.shape == (3, 12)
        print('ok')
    """)
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"


def _spectrum_with_lines(z, keys=("hbeta", "oiii_5008", "halpha"), snr=15.0, seed=5):
    rng = np.random.default_rng(seed)
    residual = rng.standard_normal(grid.N_PIXELS).astype(np.float32)
    p = np.arange(grid.N_PIXELS)
    sigma = 1.3
    for key in keys:
        centre = grid.pixel_of_wavelength(lines.REST_WAVELENGTHS_A[lines.LINE_INDEX[key]] * (1 + z))
        residual += snr / np.sqrt(np.sqrt(np.pi) * sigma) * np.exp(-0.5 * ((p - centre) / sigma) ** 2)
    return residual, np.ones(grid.N_PIXELS, np.float32)


def test_combined_detector_refines_the_cnn_redshift_and_reads_its_weights_from_the_model(tmp_path):
    from casiglo_gui.core.detectors import EvidenceDetector, EvidenceFusion

    fusion = EvidenceFusion(w_x=0.2, w_cnn=0.5, w_0=-1.0, lens_threshold_1pct=0.9)
    meta = good_metadata(evidence_fusion=fusion.to_json(), lens_score_calibration=json.dumps({"a": 1.0, "b": 10.0}))
    model = OnnxLineModel(write_toy_model(tmp_path / "fused.onnx", meta))
    z_fg = 0.15
    z_true = 2 * z_fg + 0.1 + 5e-5   # the toy CNN proposes 2 z_fg + 0.1, ~0.2 px off the truth
    with_lines, ivar = _spectrum_with_lines(z_true)
    empty, _ = _spectrum_with_lines(z_true, keys=())
    detector = EvidenceDetector(model)
    assert detector.fusion == fusion and detector.lens_threshold_1pct == 0.9
    lens, blank = detector.detect_batch(np.stack([with_lines, empty]), np.stack([ivar, ivar]), np.array([z_fg, z_fg]))
    assert lens.detector == "combined" and lens.model_version == "toy-1"
    assert abs(lens.z_bg - z_true) < 3e-5 and np.isfinite(lens.z_bg_err)
    assert lens.line_snr[lines.LINE_INDEX["halpha"]] > 10
    assert lens.line_probability[lines.LINE_INDEX["halpha"]] > 0.99
    assert lens.score > 0.9 > 0.5 > blank.score
    assert lens.n_lines >= 3 and blank.n_lines == 0


def test_cnn_detector_is_the_network_alone(tmp_path):
    from casiglo_gui.core.detectors import CnnDetector

    model = OnnxLineModel(write_toy_model(tmp_path / "toy.onnx", good_metadata()))
    z_fg = 0.15
    with_lines, ivar = _spectrum_with_lines(2 * z_fg + 0.1 + 5e-5)
    det = CnnDetector(model).detect_batch(with_lines[None], ivar[None], np.array([z_fg]))[0]
    assert det.detector == "cnn" and det.z_bg == pytest.approx(2 * z_fg + 0.1, abs=1e-6)  # not refined
    assert np.isnan(det.z_bg_err) and det.n_lines >= 3


def test_refuses_malformed_fusion_metadata(tmp_path):
    from casiglo_gui.core.detectors import EvidenceDetector

    model = OnnxLineModel(write_toy_model(tmp_path / "badfusion.onnx", good_metadata(evidence_fusion='{"w_x": -1')))
    with pytest.raises(ModelMismatchError, match="evidence_fusion"):
        EvidenceDetector(model)
    negative = good_metadata(evidence_fusion=json.dumps({"w_x": -1.0, "w_cnn": 1.0, "w_0": 0.0}))
    with pytest.raises(ModelMismatchError, match="evidence_fusion"):
        EvidenceDetector(OnnxLineModel(write_toy_model(tmp_path / "negative.onnx", negative)))
