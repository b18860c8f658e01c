"""The Qt-free core imports, and reads a spectrum, with PyQt6, pyqtgraph and TensorFlow/Keras unavailable."""
from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import casiglo_gui.core

ROOT = Path(__file__).resolve().parents[1]
BLOCKED = ("PyQt6", "PyQt5", "PySide6", "pyqtgraph", "tensorflow", "keras", "tf2onnx")

PROGRAM = r"""
import importlib, sys

BLOCKED = {blocked!r}

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{{name}} is blocked in this test")
        return None

sys.meta_path.insert(0, Blocker())
for name in BLOCKED:
    try:
        importlib.import_module(name)
    except ImportError:
        pass
    else:
        raise SystemExit(f"blocker failed: {{name}} imported")

for module in {modules!r}:
    importlib.import_module(module)

from casiglo_gui.core.readers import read_spectrum
s = read_spectrum({spec!r})
assert s.object_id == "3650-55244-0007", s.object_id
leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
assert not leaked, leaked
print("ok", len({modules!r}))
"""


def core_modules() -> list[str]:
    names = ["casiglo_gui.core"]
    for info in pkgutil.walk_packages(casiglo_gui.core.__path__, prefix="casiglo_gui.core."):
        names.append(info.name)
    return names


def test_every_core_module_imports_without_qt_and_tensorflow():
    modules = core_modules()
    assert "casiglo_gui.core.readers.manga" in modules and "casiglo_gui.core.readers.fitsfile" in modules
    spec = str(ROOT / "tests" / "data" / "sdss" / "spec-3650-55244-0007.fits")
    program = PROGRAM.format(blocked=BLOCKED, modules=modules, spec=spec)
    result = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == f"ok {len(modules)}"


def test_readers_work_without_fitsio():
    """fitsio is a dependency, but a machine without it must still read everything through astropy."""
    program = r"""
import sys
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "fitsio":
            raise ImportError("fitsio is blocked in this test")
sys.meta_path.insert(0, Blocker())
from casiglo_gui.core.readers import BACKENDS, read_spectra, read_spectrum
assert BACKENDS == ("direct", "astropy"), BACKENDS
s = read_spectrum(sys.argv[1])
assert s.object_id == "3650-55244-0007" and s.meta["fits_backend"] == "direct"
rows = read_spectra(sys.argv[2])
assert len(rows) == 8 and rows[0].meta["fits_backend"] == "astropy"
print("ok")
"""
    data = ROOT / "tests" / "data"
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", program, str(data / "sdss" / "spec-3650-55244-0007.fits"),
         str(data / "manga" / "MaNGA_test_spectra.fits.gz")],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "ok"
