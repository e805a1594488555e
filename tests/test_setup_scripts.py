"""The set-up scripts say what they do before each long step (a newcomer's first minutes)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from conftest import REPO

# A recording stand-in for the venv's python (pip cannot install anything offline here): it notes
# each call in order, so the test sees which line the script printed before which step.
FAKE_PYTHON = """#!/usr/bin/env bash
echo "CALL python $*"
"""


def test_bootstrap_announces_the_install_with_its_size_and_time_and_shows_pips_output(tmp_path: Path) -> None:
    for name in ("requirements-test.txt", "pyproject.toml"):
        shutil.copy(REPO / name, tmp_path / name)
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "bootstrap.sh", tmp_path / "scripts" / "bootstrap.sh")
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    proc = subprocess.run(
        ["bash", str(tmp_path / "scripts" / "bootstrap.sh")], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    install = next(i for i, line in enumerate(lines) if line.startswith("CALL python -m pip install -r "))
    assert "-q" not in lines[install].split()  # pip's own progress is shown
    announce = [line for line in lines[:install] if line.startswith("bootstrap:")][-1]
    assert announce.startswith("bootstrap: installing requirements-test.txt")
    assert "about 7 GB" in announce and "about 4 minutes" in announce
    assert lines[-1].startswith("bootstrap: done: .venv is ready")
    # a second run with nothing to do installs nothing
    again = subprocess.run(["bash", str(tmp_path / "scripts" / "bootstrap.sh")], capture_output=True, text=True)
    assert again.returncode == 0 and "CALL" not in again.stdout


def test_sample_script_announces_each_step() -> None:
    text = (REPO / "scripts" / "sample.sh").read_text()
    lines = text.splitlines()
    for command in (".venv/bin/lmms-eval ", ".venv/bin/lmms-humansense report "):
        at = next(i for i, line in enumerate(lines) if line.startswith(command))
        before = "\n".join(lines[max(0, at - 3) : at])
        assert 'echo "sample: ' in before, command
