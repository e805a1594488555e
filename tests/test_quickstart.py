"""The README's first code block, as written: its install line in a fresh venv, then its command on
the bundled sample set with a tiny local Qwen2.5-Omni checkpoint in place of the hub id.

The block is parsed from README.md, so the test fails as soon as the README drifts from what runs.
The fresh venv sees this environment's packages through a .pth line (no download; the install
runs offline with the test environment's torch pin as a constraint), not its editable install of
this checkout: what serves the run is what the README's install line installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, cli_env, overlay_venv, readme_blocks, readme_words
from tiny_models import build_tiny_omni

HUB_ID = "Qwen/Qwen2.5-Omni-7B"


def first_block() -> list[list[str]]:
    """The commands of the README's first ```bash block after the clone (``git clone``, ``cd``:
    the test runs in a copy of the checkout), comments dropped."""
    clone, cd, *rest = [readme_words(line) for line in readme_blocks()[0]]
    assert clone[:2] == ["git", "clone"] and cd[0] == "cd", (clone, cd)
    return rest


def test_the_first_block_installs_the_models_and_runs_the_papers_omni_setting() -> None:
    install, export, run = first_block()
    assert install[:2] == ["pip", "install"] and any(a.startswith(".[") and "models" in a for a in install[2:])
    assert export[0] == "export" and export[1].startswith("HUMANSENSE_ROOT=")
    assert run[0] == "lmms-eval"
    args = dict(zip(run[1::2], run[2::2], strict=False))
    assert args["--model"] == "humansense_omni" and f"pretrained={HUB_ID}" in args["--model_args"]
    assert args["--tasks"] in ("humansense_l4", "humansense")


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the README's install line run in it, from the checkout, as a user would."""
    tmp = tmp_path_factory.mktemp("quickstart")
    venv = tmp / "venv"
    python, purelib = overlay_venv(venv)
    pins = [ln for ln in (REPO / "requirements-test.txt").read_text().splitlines() if ln.startswith("torch")]
    constraints = tmp / "constraints.txt"
    constraints.write_text("\n".join(pins) + "\n")
    install = first_block()[0]
    # A clone of the checkout as a user has it (building in the checkout itself would race the
    # wheel test's build in the same build/ folder).
    clone = tmp / "checkout"
    junk = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "out", ".*_cache")
    shutil.copytree(REPO, clone, ignore=junk)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), *install[1:]]
        + ["--constraint", str(constraints), "--no-index", "--no-build-isolation", "--quiet"],
        cwd=clone,  # the README's `pip install ".[...]"` runs in the checkout
        env=cli_env(tmp, PIP_DISABLE_PIP_VERSION_CHECK="1"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return venv


def test_the_first_block_runs_as_written_in_a_fresh_venv(fresh_venv: Path, tmp_path: Path) -> None:
    python = fresh_venv / "bin" / "python"
    where = subprocess.run(
        [python, "-c", "import lmms_humansense as p; print(p.__file__); print(p.sample_root())"],
        env=cli_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert where.returncode == 0, where.stderr[-2000:]
    package, sample = where.stdout.split()
    assert Path(package).is_relative_to(fresh_venv), "the run must use what the install line installed"
    _, export, run = first_block()
    tiny = build_tiny_omni(tmp_path / "tiny_omni")
    argv = [a.replace(f"pretrained={HUB_ID}", f"pretrained={tiny}") for a in run[1:]]
    assert argv != run[1:]  # the model id is the one thing swapped
    env = cli_env(tmp_path, root=Path(sample))
    assert export[1].split("=", 1)[0] == "HUMANSENSE_ROOT"
    proc = subprocess.run(
        [
            python,
            "-c",
            "import sys; from lmms_eval.cli.dispatch import main; sys.argv[0] = 'lmms-eval'; sys.exit(main())",
        ]
        + argv,
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    table = proc.stdout
    for leaf in ("humansense_es", "humansense_pc"):
        assert re.search(rf"\|\s*-?\s*{leaf}\s*\|.*\|\s*acc\s*\|", table), table[-3000:]
