#!/usr/bin/env bash
# Install the app into ./.venv and open the bundled sample spectra (the README's app command).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e .
exec .venv/bin/casiglo "$@"
