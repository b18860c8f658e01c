#!/usr/bin/env bash
# Install the app into ./.venv and open the bundled sample spectra (the README's app command). The demo
# grades into its own demo store, never into your label store.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/qt_deps.sh
ensure_qt_debs || exit 1
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e .
exec .venv/bin/casiglo "$@"
