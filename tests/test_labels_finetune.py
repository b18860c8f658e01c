"""The whole loop on small data: grade real spectra, export, fine-tune (tiny), load the new ONNX model."""
from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

import casiglo_gui.core.labels.export  # noqa: E402,F401  (astropy.io.ascii at collection, see test_labels_store)
from casiglo_gui.cli import main as casiglo  # noqa: E402
from casiglo_gui.core import preprocessing  # noqa: E402
from casiglo_gui.core.inference import OnnxLineModel  # noqa: E402
from casiglo_gui.core.labels import LabelStore, grading_event  # noqa: E402
from casiglo_gui.core.readers import read_spectrum  # noqa: E402
from training import fit  # noqa: E402
from training.cli import main as casiglo_train  # noqa: E402
from training.finetune import masked_line_bce, metrics, shift_targets  # noqa: E402
from training.model import N_SHIFTS, ModelConfig, build_model, shift_of_redshift  # noqa: E402

TINY = ModelConfig(conv_filters=[4, 4], conv_dilations=[1, 2], conv_kernel=5, comb_hidden=4)
SPECTRA = ["spec-0266-51602-0013.fits", "spec-0266-51602-0107.fits", "spec-3586-55181-0003.fits",
           "spec-3650-55244-0007.fits", "spec-3650-55244-0056.fits", "spec-3650-55244-0089.fits",
           "spec-3651-55247-0054.fits", "spec-1931-53358-0251.fits"]


@pytest.fixture
def base_model(tmp_path):
    """A tiny 'shipped' model folder as `casiglo-train fit` writes it."""
    keras.utils.set_random_seed(0)
    folder = tmp_path / "models" / "tiny-v1"
    folder.mkdir(parents=True)
    build_model(TINY).save(folder / fit.MODEL_FILE)
    config = {"name": "tiny-v1", "data": {}, "train": dict(fit.DEFAULT_TRAIN, seed=0)}
    card = fit.model_card(config, TINY, ["test"], {"status": "trained", "version": "tiny-v1"})
    (folder / fit.CARD_FILE).write_text(json.dumps(card))
    return folder


@pytest.fixture
def spectra(tmp_path, data_dir):
    folder = tmp_path / "spectra"
    folder.mkdir()
    for name in SPECTRA:
        shutil.copy(data_dir / "sdss" / name, folder / name)
    return folder


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_grade_export_finetune_and_the_app_loads_the_new_model(tmp_path, base_model, spectra, capsys):
    # 1. Grade: two inspectors, through the same helper the app uses.
    db = tmp_path / "labels.sqlite3"
    with LabelStore.open(db) as store:
        for i, name in enumerate(SPECTRA):
            spectrum = read_spectrum(spectra / name)
            if i % 2:  # made-up "lenses" behind the real foreground galaxies
                z_bg = spectrum.z_fg + 0.2 + 0.01 * i
                for inspector in ("alice", "bob"):
                    store.add_event(grading_event(spectrum, "likely", inspector, z_bg=z_bg,
                                                  lines={"oiii_5008": True, "hbeta": True, "halpha": False}))
            else:
                store.add_event(grading_event(spectrum, "none", "alice", flags={"sky_residual"}))
    # 2. Export the labels (the file a collaborator would receive) ...
    export_csv = tmp_path / "labels.csv"
    assert casiglo(["labels", "export", "--db", str(db), "--out", str(export_csv)]) == 0
    # 3. ... and fine-tune from it.
    base_digest = _digest(base_model / fit.MODEL_FILE)
    code = casiglo_train(["finetune", "--labels", str(export_csv), "--spectra", str(spectra),
                          "--base", str(base_model), "--epochs", "2", "--batch-size", "8",
                          "--synthetic", "64", "--synthetic-test", "64", "--held-out", "0.25",
                          "--learning-rate", "1e-2", "--seed", "3"])
    err = capsys.readouterr().err
    assert code == 0, err
    out = base_model.parent / "tiny-v1-ft1"  # versioned folder beside the base
    assert {p.name for p in out.iterdir()} >= {"model.keras", "card.json", "history.json", "evaluation.json",
                                               "tiny-v1-ft1.onnx"}
    assert _digest(base_model / fit.MODEL_FILE) == base_digest  # the base is untouched
    card = json.loads((out / "card.json").read_text())
    assert card["parent"]["name"] == "tiny-v1" and card["version"] == "tiny-v1-ft1"
    assert card["finetune"]["dataset"]["positives"] == 4 and card["finetune"]["dataset"]["negatives"] == 4
    evaluation = json.loads((out / "evaluation.json").read_text())
    held = evaluation["after"]["labels_held_out"]
    assert held["n"] == len(evaluation["held_out_objects"]) > 0
    assert set(evaluation["before"]) == set(evaluation["after"]) == {"labels_held_out", "synthetic_test"}
    synthetic_test = evaluation["after"]["synthetic_test"]
    assert synthetic_test["n"] == 64 and 0 < synthetic_test["n_lenses"] < 64
    assert card["finetune"]["train_rows"] == 4 * (8 - len(evaluation["held_out_objects"])) + 64
    assert "synthetic_test (n=64, old -> new)" in err
    history = json.loads((out / "history.json").read_text())
    assert len(history) == 2 and all(np.isfinite(h["loss"]) for h in history)

    # 4. The app's loader accepts the new model and it runs on a real spectrum.
    model = OnnxLineModel(out / "tiny-v1-ft1.onnx")
    assert model.version == "tiny-v1-ft1"
    assert model.metadata["parent_model_version"] == "tiny-v1"
    gridded = preprocessing.to_model_grid(read_spectrum(spectra / SPECTRA[1]))
    raw = model.predict_raw(preprocessing.network_input(gridded.residual, gridded.ivar), [gridded.z_fg])
    assert raw["line_prob"].shape == (1, 12) and raw["z_bg"][0] >= gridded.z_fg - 1e-6

    # The weights really changed.
    old, _ = fit.load_trained(base_model)
    new, _ = fit.load_trained(out)
    assert any(not np.allclose(a, b) for a, b in zip(old.get_weights(), new.get_weights()))

    # 5. A second run makes ft2, never touching ft1; an explicit existing --out is refused.
    ft1 = _digest(out / "model.keras")
    args = ["finetune", "--labels", str(db), "--spectra", str(spectra), "--base", str(base_model),
            "--epochs", "1", "--synthetic", "0", "--synthetic-test", "0"]
    assert casiglo_train(args + ["--out", str(out)]) == 2
    assert "never overwritten" in capsys.readouterr().err
    assert casiglo_train(args) == 0
    assert (base_model.parent / "tiny-v1-ft2" / "tiny-v1-ft2.onnx").is_file()
    assert _digest(out / "model.keras") == ft1


def test_finetune_refuses_without_usable_labels_or_base(tmp_path, base_model, spectra, capsys):
    db = tmp_path / "labels.sqlite3"
    with LabelStore.open(db) as store:
        store.add_event(grading_event(read_spectrum(spectra / SPECTRA[0]), "possible", "alice"))
    args = ["finetune", "--labels", str(db), "--spectra", str(spectra), "--synthetic", "0",
            "--synthetic-test", "0"]
    assert casiglo_train(args + ["--base", str(base_model)]) == 2
    assert "no usable labelled spectrum" in capsys.readouterr().err
    assert not (base_model.parent / "tiny-v1-ft1").exists()
    assert casiglo_train(args + ["--base", str(tmp_path / "nowhere")]) == 2
    assert "not a model folder" in capsys.readouterr().err
    assert casiglo_train(["finetune", "--labels", str(tmp_path / "missing.sqlite3"), "--spectra",
                          str(spectra), "--base", str(base_model)]) == 2
    assert "no such label database" in capsys.readouterr().err


def test_finetune_ignores_withdrawn_gradings(tmp_path, base_model, spectra, capsys):
    from casiglo_gui.core.labels import withdrawal_of

    db = tmp_path / "labels.sqlite3"
    with LabelStore.open(db) as store:
        spectrum = read_spectrum(spectra / SPECTRA[1])
        graded = store.add_event(grading_event(spectrum, "likely", "alice", z_bg=spectrum.z_fg + 0.3,
                                               lines={"oiii_5008": True}))
        store.add_event(withdrawal_of(graded))           # an undone first grade: not a label
    code = casiglo_train(["finetune", "--labels", str(db), "--spectra", str(spectra), "--base", str(base_model),
                          "--synthetic", "0", "--synthetic-test", "0"])
    err = capsys.readouterr().err
    assert code == 2 and "labels: 2 events, 0 objects" in err and "no usable labelled spectrum" in err


def test_masked_line_loss_ignores_unknown_lines():
    loss = masked_line_bce(2.0)
    pred = np.full((2, 12), 0.9, np.float32)
    known_only = np.full((1, 12), -1.0, np.float32)
    known_only[0, 0] = 1.0
    assert float(np.asarray(loss(known_only, pred[:1]))[0]) == pytest.approx(-2.0 * np.log(0.9), rel=1e-5)
    nothing_known = np.full((1, 12), -1.0, np.float32)
    assert float(np.asarray(loss(nothing_known, pred[:1]))[0]) == 0.0


def test_shift_targets_and_metrics():
    t = shift_targets(np.array([0.5, np.nan]), N_SHIFTS)
    assert t[1].sum() == 0 and t[0].sum() == pytest.approx(1.0)
    assert np.dot(t[0], np.arange(N_SHIFTS)) == pytest.approx(shift_of_redshift(0.5), abs=1e-3)
    targets = {"lens_prob": np.array([[1.0], [0.0], [1.0]]),
               "line_prob": np.array([[1.0] + [-1.0] * 11, [0.0] * 12, [-1.0] * 12])}
    pred = {"lens_prob": np.array([[0.9], [0.2], [0.4]]), "line_prob": np.full((3, 12), 0.6),
            "z_bg": np.array([[0.5001], [0.3], [0.7]])}
    m = metrics(pred, targets, np.array([0.5, np.nan, 0.6]))
    assert m["lens_accuracy"] == pytest.approx(2 / 3) and m["lens_auc"] == 1.0
    assert m["n_line_targets"] == 13 and m["line_accuracy"] == pytest.approx(1 / 13)
    assert m["dz_median"] == pytest.approx((1e-4 + 0.1) / 2) and m["dz_lt_1e-3"] == 0.5
