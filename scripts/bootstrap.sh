#!/usr/bin/env bash
# Build (or reuse) the project's virtualenv in .venv with the pinned test environment and the
# package installed in editable mode. Safe to run again: it only installs what is missing.
# It says what it does before each long step: pip's own output shows the downloads as they go.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
say() { echo "bootstrap: $*"; }
if [ ! -x .venv/bin/python ]; then
  say "creating the virtualenv .venv with $("$PY" --version 2>&1)"
  "$PY" -m venv .venv
fi
STAMP=.venv/.humansense-deps
WANT="$(cat requirements-test.txt pyproject.toml | sha1sum | cut -c1-16)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
  say "upgrading pip in .venv"
  .venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "is ignored" || true
  # One resolve of the pins and the package's own declared dependencies, so a dependency missing
  # from pyproject.toml fails here and not on a user's machine.
  say "installing requirements-test.txt and this package (editable) into .venv: about 7 GB on disk," \
    "3.2 GB of it the CUDA libraries of the pinned torch build; about 4 minutes on a fast connection," \
    "longer on a slow one. pip lists each download below."
  .venv/bin/python -m pip install -r requirements-test.txt -e . 2> >(grep -v "is ignored" >&2)
  say "checking that torch, torchvision, lmms_eval, lmms_humansense and matplotlib import"
  .venv/bin/python -c "import torch, torchvision, lmms_eval, lmms_humansense, matplotlib"
  echo "$WANT" > "$STAMP"
  say "done: .venv is ready ($(du -sh .venv 2>/dev/null | cut -f1))"
fi
