"""The Keras CNN: shapes and ranges, z_bg >= z_fg, a smoke fit, and Keras vs onnxruntime parity."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from casiglo_gui.core import grid, lines  # noqa: E402
from casiglo_gui.core.errors import ModelMismatchError  # noqa: E402
from casiglo_gui.core.inference import OnnxLineModel  # noqa: E402
from training import export, fit  # noqa: E402
from training.model import (N_SHIFTS, REST_OFFSETS_PX, ModelConfig, build_model, inference_model,  # noqa: E402
                            shift_of_redshift)

TINY = ModelConfig(conv_filters=[4, 4], conv_dilations=[1, 2], conv_kernel=5, comb_hidden=4)


@pytest.fixture(scope="module")
def tiny_model():
    keras.utils.set_random_seed(0)
    return build_model(TINY)


def _inputs(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, grid.N_PIXELS)).astype(np.float32)
    z_fg = rng.uniform(0.0, 1.2, (n, 1)).astype(np.float32)
    return x, z_fg


def test_outputs_have_contract_shapes_and_ranges(tiny_model):
    x, z_fg = _inputs(5)
    out = tiny_model({"spectrum": x, "z_fg": z_fg})
    assert out["line_prob"].shape == (5, lines.N_LINES)
    assert out["z_bg"].shape == (5, 1)
    p = np.asarray(out["line_prob"])
    assert np.all((p >= 0) & (p <= 1))
    lp = np.asarray(out["shift_logp"])
    np.testing.assert_allclose(np.exp(lp).sum(axis=1), 1.0, rtol=1e-4)


def test_z_bg_never_below_z_fg_and_shift_mask_applies(tiny_model):
    x, z_fg = _inputs(64, seed=1)
    z_fg[:4] = [[0.0], [1.7], [2.5], [0.5]]  # includes z_fg beyond the last allowed shift
    x[3] = 0.0
    out = tiny_model({"spectrum": x, "z_fg": z_fg})
    assert np.all(np.asarray(out["z_bg"]) >= z_fg)
    # all posterior mass sits above the foreground shift (where one is allowed)
    post = np.exp(np.asarray(out["shift_logp"]))
    s_fg = shift_of_redshift(z_fg[:, 0])
    shifts = np.arange(N_SHIFTS)
    for i in range(64):
        if s_fg[i] + TINY.min_shift_px < N_SHIFTS - 1:
            assert post[i, shifts <= s_fg[i] + TINY.min_shift_px].sum() < 1e-6


def test_comb_reads_each_line_at_its_redshifted_pixel():
    """A map with a spike at every line of z=0.3 must peak, in the comb, at the shift of z=0.3."""
    from training.model import RedshiftComb

    z = 0.3
    line_map = np.zeros((1, grid.N_PIXELS, lines.N_LINES), np.float32)
    for c in range(lines.N_LINES):
        p = REST_OFFSETS_PX[c] + shift_of_redshift(z)
        lo = int(np.floor(p))
        line_map[0, lo, c] += 1 - (p - lo)
        line_map[0, lo + 1, c] += p - lo
    comb = np.asarray(RedshiftComb()(line_map)).sum(axis=-1)[0]
    assert abs(int(np.argmax(comb)) - shift_of_redshift(z)) <= 1.0


def test_foreground_veto_ignores_whatever_sits_on_the_foreground_lines():
    """With the veto, anything within veto_px of a line at z_fg (e.g. the lens galaxy's own emission)
    cannot change the outputs; the same change elsewhere does."""
    keras.utils.set_random_seed(3)
    config = ModelConfig(conv_filters=[4, 4], conv_dilations=[1, 2], conv_kernel=5, comb_hidden=4,
                         foreground_veto_px=10.0)
    model = build_model(config)
    x, z_fg = _inputs(2, seed=4)
    z_fg[:] = 0.25
    halpha_fg = int(round(REST_OFFSETS_PX[lines.LINE_INDEX["halpha"]] + shift_of_redshift(0.25)))
    on_line, off_line = x.copy(), x.copy()
    on_line[:, halpha_fg - 3: halpha_fg + 4] += 50.0      # a strong line at the foreground's H-alpha
    off_line[:, halpha_fg - 60: halpha_fg - 53] += 50.0   # the same line 60 px bluer
    base = model({"spectrum": x, "z_fg": z_fg})
    same = model({"spectrum": on_line, "z_fg": z_fg})
    moved = model({"spectrum": off_line, "z_fg": z_fg})
    for name in ("shift_logp", "lens_logit", "line_prob", "z_bg"):
        np.testing.assert_allclose(np.asarray(same[name]), np.asarray(base[name]), atol=1e-6)
    assert np.max(np.abs(np.asarray(moved["shift_logp"]) - np.asarray(base["shift_logp"]))) > 1e-3


def test_foreground_veto_survives_onnx_export(tmp_path):
    keras.utils.set_random_seed(5)
    config = ModelConfig(conv_filters=[4], conv_dilations=[1], conv_kernel=5, comb_hidden=4, foreground_veto_px=8.0)
    model = build_model(config)
    card = {"seed": 0, "data": {}, "command": "test", "model": config.to_dict(), "train": {}}
    ort_model = OnnxLineModel(export.to_onnx(model, export.metadata(card, "veto-test"), tmp_path / "v.onnx"))
    x, z_fg = _inputs(6, seed=6)
    want = export.keras_outputs(inference_model(model), x, z_fg)
    got = ort_model.predict_raw(x, z_fg[:, 0])
    np.testing.assert_allclose(got["lens_logit"], want["lens_logit"][:, 0], atol=1e-4)
    np.testing.assert_allclose(got["line_prob"], want["line_prob"], atol=1e-4)


def test_targets_put_shift_mass_only_on_lenses():
    class Batch:
        line_present = np.array([[True] + [False] * 11, [False] * 12])
        z_bg = np.array([0.5, np.nan])
        z_fg = np.array([0.2, 0.1])
        x = np.zeros((2, grid.N_PIXELS), np.float32)

    t = fit.targets(Batch, N_SHIFTS)
    assert t["shift_logp"][1].sum() == 0
    assert abs(t["shift_logp"][0].sum() - 1.0) < 1e-6
    assert abs(np.dot(t["shift_logp"][0], np.arange(N_SHIFTS)) - shift_of_redshift(0.5)) < 1e-3
    assert t["lens_prob"].ravel().tolist() == [1.0, 0.0]


def test_export_parity_keras_vs_onnxruntime(tiny_model, tmp_path):
    card = {"seed": 0, "data": {"k": 1}, "command": "test", "model": TINY.to_dict(), "train": {}}
    path = export.to_onnx(tiny_model, export.metadata(card, "parity-test"), tmp_path / "m.onnx")
    ort_model = OnnxLineModel(path)
    x, z_fg = _inputs(20, seed=2)
    want = export.keras_outputs(inference_model(tiny_model), x, z_fg)
    got = ort_model.predict_raw(x, z_fg[:, 0], batch_size=8)
    np.testing.assert_allclose(got["line_prob"], want["line_prob"], atol=1e-4)
    np.testing.assert_allclose(got["z_bg"], want["z_bg"][:, 0], atol=1e-4)
    np.testing.assert_allclose(got["lens_prob"], want["lens_prob"][:, 0], atol=1e-4)
    meta = ort_model.metadata
    assert meta["line_keys"].split(",") == list(lines.LINE_KEYS)
    assert json.loads(meta["training_data"]) == {"k": 1}
    assert path.stat().st_size < 5e6


def test_export_refused_by_loader_when_grid_differs(tiny_model, tmp_path):
    card = {"seed": 0, "data": {}, "command": "", "model": {}, "train": {}}
    meta = export.metadata(card, "v")
    meta["npix"] = "4000"
    path = export.to_onnx(tiny_model, meta, tmp_path / "wrong.onnx")
    with pytest.raises(ModelMismatchError, match="grid"):
        OnnxLineModel(path)


def test_smoke_fit_writes_a_loadable_model_and_refuses_to_overwrite(tmp_path):
    from pathlib import Path

    from training.cli import main

    config = Path(__file__).resolve().parent.parent / "training" / "configs" / "smoke.json"
    out = tmp_path / "smoke"
    assert main(["fit", "--config", str(config), "--out", str(out), "--epochs", "1"]) == 0
    card = json.loads((out / "card.json").read_text())
    history = json.loads((out / "history.json").read_text())
    assert card["status"] == "trained" and card["seed"] == 7
    assert card["line_keys"] == list(lines.LINE_KEYS)
    assert card["grid"]["npix"] == grid.N_PIXELS
    assert len(history) == 1 and np.isfinite(history[0]["val_loss"])
    model, _ = fit.load_trained(out)
    x, z_fg = _inputs(3)
    assert np.all(np.asarray(model({"spectrum": x, "z_fg": z_fg})["z_bg"]) >= z_fg)
    before = (out / "model.keras").stat().st_mtime_ns
    assert main(["fit", "--config", str(config), "--out", str(out)]) == 2
    assert (out / "model.keras").stat().st_mtime_ns == before
    onnx_path = tmp_path / "smoke.onnx"
    assert main(["export", "--model", str(out), "--out", str(onnx_path), "--card", str(tmp_path / "card")]) == 0
    assert OnnxLineModel(onnx_path).version == "smoke"
    assert json.loads((tmp_path / "card.json").read_text())["seed"] == 7
    assert "casiglo-train fit" in (tmp_path / "card.md").read_text()
    assert main(["export", "--model", str(out), "--out", str(onnx_path)]) == 2


def test_shipped_keras_folder_and_shipped_onnx_are_the_same_model():
    """models/casiglo-cnn-v3/ (the fine-tuning base) must be the network inside models/casiglo-cnn-v3.onnx."""
    from casiglo_gui.core.inference import default_model_path
    from training.finetune import DEFAULT_BASE

    model, card = fit.load_trained(DEFAULT_BASE)
    ort_model = OnnxLineModel(default_model_path())
    assert ort_model.metadata["model_version"] == card["name"] == "casiglo-cnn-v3"
    x, z_fg = _inputs(16, seed=5)
    want = export.keras_outputs(inference_model(model), x, z_fg)
    got = ort_model.predict_raw(x, z_fg[:, 0], batch_size=8)
    np.testing.assert_allclose(got["line_prob"], want["line_prob"], atol=1e-4)
    np.testing.assert_allclose(got["z_bg"], want["z_bg"][:, 0], atol=1e-4)


def test_train_loop_halves_the_rate_on_a_stall_and_stops_early(tmp_path):
    """The loop's schedule, with scripted validation losses (no network needed)."""
    val_losses = iter([1.0, 0.9, 0.95, 0.96, 0.97, 0.5])

    class ScriptedModel:
        def __init__(self):
            self.optimizer = type("Optimizer", (), {"learning_rate": keras.Variable(0.002)})()
            self.saved: list[str] = []

        def train_on_batch(self, x, y, return_dict):
            return {"loss": 1.0}

        def evaluate(self, x, y, batch_size, verbose, return_dict):
            return {"loss": next(val_losses)}

        def save(self, path):
            self.saved.append(Path(path).name)

    (tmp_path / "checkpoints").mkdir()
    model = ScriptedModel()
    stream = iter(lambda: ({}, {}), None)
    train = {"epochs": 10, "steps_per_epoch": 2, "patience": 3, "max_minutes": None}
    history = fit.train_loop(model, stream, ({}, {}), train, tmp_path, t0=0.0)
    assert [e["val_loss"] for e in history] == [1.0, 0.9, 0.95, 0.96, 0.97]  # stopped after 3 stale epochs
    assert [e["learning_rate"] for e in history] == pytest.approx([0.002, 0.002, 0.002, 0.001, 0.0005])
    assert model.saved.count("model.keras") == 2 and model.saved.count("last.keras") == 5
    assert json.loads((tmp_path / "history.json").read_text()) == history


def test_data_variants_cycle_overrides_over_the_base_recipe():
    base = {"background_sources": ["parametric"], "snr_mu": 4.0}
    assert fit.data_variants(base) == [base]
    variants = fit.data_variants({**base, "cycle": [{}, {"snr_distribution": "wide"}]})
    assert variants == [base, {**base, "snr_distribution": "wide"}]


def test_fit_can_start_from_a_trained_model(tmp_path):
    """``init_from`` + a cycling data recipe: with a zero learning rate (and another seed, so another
    random initialisation) the weights stay the start's."""
    from training.cli import main

    smoke = json.loads((Path(__file__).resolve().parent.parent / "training" / "configs" / "smoke.json").read_text())
    first = tmp_path / "first"
    (tmp_path / "first.json").write_text(json.dumps(smoke))
    assert main(["fit", "--config", str(tmp_path / "first.json"), "--out", str(first), "--epochs", "1"]) == 0
    again = {**smoke, "data": {"cycle": [{}, {"snr_distribution": "wide"}]},
             "train": {**smoke["train"], "seed": 8, "learning_rate": 0.0, "init_from": str(first)}}
    (tmp_path / "again.json").write_text(json.dumps(again))
    assert main(["fit", "--config", str(tmp_path / "again.json"), "--out", str(tmp_path / "again"),
                 "--epochs", "1"]) == 0
    start, _ = fit.load_trained(first)
    trained, card = fit.load_trained(tmp_path / "again")
    assert card["train"]["init_from"] == str(first)
    for a, b in zip(start.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_batch_stream_is_the_same_with_generating_processes():
    """train.data_workers changes who makes the batches, not which batches the network sees."""
    recipe = {"cycle": [{}, {"snr_distribution": "wide"}]}
    serial = fit.batch_stream(8, 11, recipe, N_SHIFTS, workers=0)
    parallel = fit.batch_stream(8, 11, recipe, N_SHIFTS, workers=2)
    for _ in range(3):
        (xs, ys), (xp, yp) = next(serial), next(parallel)
        np.testing.assert_array_equal(xs["spectrum"], xp["spectrum"])
        np.testing.assert_array_equal(ys["line_prob"], yp["line_prob"])
        np.testing.assert_array_equal(ys["shift_logp"], yp["shift_logp"])
