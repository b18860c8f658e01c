#!/usr/bin/env bash
# The built wheel on its own: build it, install it into a fresh venv, and from a folder outside the repo
# (nothing of the checkout importable) check `casiglo --version`, `casiglo-train --help`, and that
# `casiglo scan` of the bundled sample set uses the shipped CNN (it says so on stderr).
# Usage: bash scripts/check_wheel.sh [PYTHON]   (PYTHON builds the wheel; default: ./.venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
python=${1:-$repo/.venv/bin/python}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$python" -m pip wheel "$repo" --no-deps -q -w "$work/dist"
wheel=$(ls "$work"/dist/casiglo_inspector-*.whl)
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q "$wheel"

cd "$work"   # outside the repo: only the installed package can be imported
unset PYTHONPATH
"$work/venv/bin/python" - "$repo" <<'PY'
import sys
from pathlib import Path

import casiglo_gui
from casiglo_gui.core.inference import default_model_path

repo = Path(sys.argv[1]).resolve()
package = Path(casiglo_gui.__file__).resolve()
assert repo not in package.parents, f"casiglo_gui imported from the checkout: {package}"
from casiglo_gui.app import SAMPLE_DIR

model = default_model_path()
assert model.is_file() and repo not in model.parents, f"no packaged model: {model}"
assert repo not in SAMPLE_DIR.parents and any(SAMPLE_DIR.glob("*.fits")), f"no packaged sample set: {SAMPLE_DIR}"
print(f"installed package {package.parent}, model {model.name}, sample set {SAMPLE_DIR}")
PY
"$work/venv/bin/casiglo" --version
"$work/venv/bin/casiglo-train" --help > /dev/null
sample=$("$work/venv/bin/python" -c "from casiglo_gui.app import SAMPLE_DIR; print(SAMPLE_DIR)")
"$work/venv/bin/casiglo" scan "$sample" --out "$work/scan.csv" --workers 1 --no-progress 2> "$work/scan.err"
cat "$work/scan.err"
if ! grep -q "^detector: combined (CNN model" "$work/scan.err"; then
  echo "check_wheel: the installed casiglo scan did not use the CNN" >&2
  exit 1
fi
echo "check_wheel: OK ($(basename "$wheel"))"
