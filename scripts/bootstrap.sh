#!/usr/bin/env bash
# Build (or reuse) the project's virtualenv in .venv with the pinned test environment and the
# package installed in editable mode. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
STAMP=.venv/.humansense-deps
WANT="$(cat requirements-test.txt pyproject.toml | sha1sum | cut -c1-16)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
  .venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "is ignored" || true
  # One resolve of the pins and the package's own declared dependencies, so a dependency missing
  # from pyproject.toml fails here and not on a user's machine.
  .venv/bin/python -m pip install -q -r requirements-test.txt -e . 2>&1 | grep -v "is ignored" || true
  .venv/bin/python -c "import torch, torchvision, lmms_eval, lmms_humansense, matplotlib" 
  echo "$WANT" > "$STAMP"
fi
