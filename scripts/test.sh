#!/usr/bin/env bash
# Install everything into ./.venv and run the whole test suite (the README's test command).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e ".[all]"
QT_QPA_PLATFORM=offscreen .venv/bin/python -m pytest "$@"
