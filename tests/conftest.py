"""Shared fixtures: an isolated, offline environment and generated benchmark roots."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fixture_data import make_root

REPO = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    """A line per finished test module (:mod:`progress`), for ``make test``."""
    import progress

    progress.pytest_configure(config)


#: The modules whose lmms-eval runs take minutes, started first: `make test` hands each module to
#: one of its two processes whole (``--dist loadscope``, so a module's runs are made once, not once per
#: process), and a long module met last would leave the other process idle at the end
#: (``--no-loadscope-reorder``: by default pytest-xdist orders the modules by their number of tests).
SLOW_FIRST = (
    "test_long_runs.py",
    "test_wrappers.py",
    "test_multiprocess.py",
    "test_served.py",
    "test_paired.py",
    "test_models.py",
    "test_e2e.py",
    "test_omni_batches.py",
    "test_variants.py",
    "test_report.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Order the modules: :data:`SLOW_FIRST` first, the rest as collected (a stable sort)."""
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test reaches a hub, and no test writes to the user's caches."""
    base = tmp_path_factory.getbasetemp()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(base / "hf_home"))
    monkeypatch.setenv("HUMANSENSE_CACHE", str(base / "humansense_cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(base / "xdg_cache"))
    monkeypatch.delenv("HUMANSENSE_ROOT", raising=False)
    monkeypatch.delenv("HUMANSENSE_TASK_MAP", raising=False)


@pytest.fixture(scope="session")
def generated_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root in the official layout: 2 questions per task, the first two sharing a clip."""
    return make_root(tmp_path_factory.mktemp("root"), per_task=2)


@pytest.fixture(scope="session")
def clip_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 questions per task over 5 clips: enough clips for standard errors and intervals."""
    return make_root(tmp_path_factory.mktemp("clip_root"), per_task=6)


@pytest.fixture(scope="session")
def random_runs(clip_root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two runs of the chance baseline (seeds 0 and 1) over ``clip_root``, samples logged."""
    tmp = tmp_path_factory.mktemp("random_runs")
    outs = [tmp / f"seed{seed}" / "out" for seed in (0, 1)]
    spec = [
        {
            "argv": [
                "--tasks",
                "humansense",
                "--model",
                "humansense_random",
                "--model_args",
                f"seed={seed}",
                "--output_path",
                str(out),
                "--log_samples",
            ]
        }
        for seed, out in enumerate(outs)
    ]
    proc, logs = run_lmms_eval_several(spec, cli_env(tmp, clip_root), tmp)
    assert proc.returncode == 0 and [rc for rc, _ in logs] == [0, 0], proc.stderr[-3000:]
    return outs[0], outs[1]


@pytest.fixture
def root_copy(generated_root: Path, tmp_path: Path) -> Path:
    """A private copy of the generated root that a test may break."""
    target = tmp_path / "root"
    shutil.copytree(generated_root, target)
    return target


def cli_env(tmp: Path, root: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment for an lmms-eval or lmms-humansense subprocess: offline, isolated."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUMANSENSE_", "HF_"))}
    env.update(
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        HF_HOME=str(tmp / "hf_home"),
        HUMANSENSE_CACHE=str(tmp / "humansense_cache"),
        XDG_CACHE_HOME=str(tmp / "xdg_cache"),
        PYTHONHASHSEED="0",
    )
    if root is not None:
        env["HUMANSENSE_ROOT"] = str(root)
    env.update(extra)
    return env


def readme_blocks() -> list[list[str]]:
    """The README's ```bash blocks, in order: each block's command lines as written (trailing
    comments kept; blank lines and whole-line comments dropped).  The one parser of the README's
    commands, so a test runs the text a reader copies."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M)
    return [[ln.strip() for ln in b.splitlines() if ln.strip() and not ln.lstrip().startswith("#")] for b in blocks]


def readme_words(line: str) -> list[str]:
    """A README command line as the shell splits it, its comment dropped."""
    return shlex.split(line, comments=True)


def bin_path(name: str) -> str:
    """A console script of the running interpreter's environment (what a user types)."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def run_lmms_eval(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([bin_path("lmms-eval"), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=900)


def run_lmms_eval_several(
    spec: list[dict[str, Any]], env: dict[str, str], cwd: Path
) -> tuple[subprocess.CompletedProcess[str], list[tuple[int | None, str]]]:
    """Several lmms-eval CLI runs in one process (``wrapper_recorder.run_several``: about 13 CPU-s of
    imports and task indexing saved per run): the process, and (exit status, log) of each run."""
    from wrapper_recorder import split_log

    (cwd / "runs.json").write_text(json.dumps(spec))
    recorder = Path(__file__).with_name("wrapper_recorder.py")
    proc = subprocess.run(
        [sys.executable, str(recorder), "--runs", str(cwd / "runs.json")],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return proc, split_log(proc.stdout, proc.stderr)


def run_results(out: Path) -> dict[str, Any]:
    """The one results file an lmms-eval run wrote under ``out`` (in either folder layout), parsed."""
    (path,) = sorted(out.rglob("*_results.json"))
    return json.loads(path.read_text())


def logged_samples(out: Path, leaf: str) -> list[dict[str, Any]]:
    """The logged samples of one task of the run under ``out`` (``--log_samples``), in file order."""
    (path,) = sorted(out.rglob(f"*_samples_{leaf}.jsonl"))
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def overlay_venv(venv: Path) -> tuple[Path, Path]:
    """A venv without pip that sees this environment's packages (through a .pth file) but not its
    editable install of the checkout: (its python, its site-packages).  What gets installed into it
    is then what a user's install would add."""
    import site
    import sysconfig

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # every site-packages folder this interpreter sees, also one a .pth file added (a venv layered
    # over another): the lines of base_env.pth are plain paths, whose own .pth files do not run
    seen = [p for p in sys.path if Path(p).name == "site-packages"]
    here = [sysconfig.get_paths()["purelib"], *site.getsitepackages(), *seen]
    (purelib / "base_env.pth").write_text("\n".join(dict.fromkeys(here)) + "\n")
    return python, purelib


def humansense_cli(tmp: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``lmms-humansense ARGS --no-progress`` as a user types it, offline and isolated."""
    return subprocess.run(
        [bin_path("lmms-humansense"), *args, "--no-progress"],
        env=cli_env(tmp, **env),
        capture_output=True,
        text=True,
        timeout=300,
    )
