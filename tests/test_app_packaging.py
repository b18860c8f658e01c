"""Packaging and command-line hygiene: the package list, the model as package data, the SPDX licence,
--version, casiglo-train --help, help texts without reStructuredText quotes, dependencies the code uses.
(The built wheel itself is installed and run by scripts/check_wheel.sh in CI.)"""
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_python_package_and_data_folder_is_in_the_wheels_package_list():
    setuptools = PYPROJECT["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for top in ("casiglo_gui", "training")
               for p in (ROOT / top).rglob("__init__.py")}
    assert on_disk <= listed, f"packages missing from pyproject.toml: {sorted(on_disk - listed)}"
    assert setuptools["package-dir"]["casiglo_gui.models"] == "models"
    shipped = [p for p in (ROOT / "models").glob("*.onnx")]
    assert shipped and "*.onnx" in setuptools["package-data"]["casiglo_gui.models"]
    for package, patterns in setuptools["package-data"].items():
        folder = ROOT / setuptools.get("package-dir", {}).get(package, package.replace(".", "/"))
        assert any(any(folder.glob(pattern)) for pattern in patterns), f"{package}: {patterns} match nothing"
    for data_package in ("casiglo_gui.core.data", "casiglo_gui.resources", "casiglo_gui.resources.sample"):
        folder = ROOT / setuptools["package-dir"].get(data_package, data_package.replace(".", "/"))
        patterns = setuptools["package-data"][data_package]
        for path in (p for p in folder.iterdir() if p.is_file()):   # e.g. the eigenspectra of core/data
            assert any(path.match(pattern) for pattern in patterns), f"{path} would not be in the wheel"


def test_licence_is_an_spdx_expression():
    assert PYPROJECT["project"]["license"] == "BSD-3-Clause"


def _run(*args):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_version_and_help_texts():
    from casiglo_gui import __version__

    done = _run("-m", "casiglo_gui.cli", "--version")
    assert done.returncode == 0 and done.stdout.strip() == f"casiglo {__version__}"
    train = _run("-m", "training.cli", "--help")
    assert train.returncode == 0 and "usage: casiglo-train" in train.stdout
    for args in ([], ["open"], ["scan"], ["labels"]):
        text = _run("-m", "casiglo_gui.cli", *args, "--help").stdout
        assert text.startswith("usage:") and "``" not in text, args
    assert "``" not in train.stdout


def test_open_and_labels_name_the_label_store_db():
    assert "--db DB" in _run("-m", "casiglo_gui.cli", "open", "--help").stdout
    assert "--db DB" in _run("-m", "casiglo_gui.cli", "labels", "export", "--help").stdout


@pytest.mark.parametrize("module", ["h5py", "onnx"])
def test_training_only_dependencies_are_not_runtime_dependencies(module):
    runtime = " ".join(PYPROJECT["project"]["dependencies"])
    assert not re.search(rf"\b{module}\b", runtime)
    pattern = re.compile(rf"^\s*(import|from) {module}(\.| |$)", re.M)
    assert not any(pattern.search(p.read_text()) for p in (ROOT / "casiglo_gui").rglob("*.py"))


def test_missing_qt_libraries_are_named_with_the_install_command(monkeypatch, capsys):
    from casiglo_gui import app as app_module

    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    missing = app_module.missing_qt_packages(lambda name: None if name == "xcb-cursor" else f"lib{name}.so")
    assert missing == ["libxcb-cursor0"]
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert app_module.missing_qt_packages(lambda name: None) == []
    monkeypatch.setattr(app_module, "missing_qt_packages", lambda: ["libxcb-cursor0", "libegl1"])
    args = app_module.argparse.Namespace(screenshot=None, paths=[])
    assert app_module.run(args) == 1
    assert "sudo apt-get install libxcb-cursor0 libegl1" in capsys.readouterr().err
