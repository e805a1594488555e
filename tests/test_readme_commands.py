"""Every shell command of the README, as a reader copies it: run here, run by a named test, or
listed with the reason it cannot run on a machine without a GPU, the network or a server.

The commands are parsed from README.md's ```bash blocks (:func:`conftest.readme_blocks`) and its
prose's code spans that hold a whole command (:func:`inline_commands`: no placeholder such as
``RUN`` or ``...``), so an edited command is the tested command, and a new one fails
:func:`test_every_readme_command_is_classified` until it is put in one of the three tables below.
The commands that run here run as written, through ``bash``, in a temporary folder (or a copy of
the checkout's set-up files), with ``HUMANSENSE_ROOT`` at the bundled sample set where a command
reads data and this environment's console scripts first on ``PATH`` (an activated venv).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import REPO, cli_env, readme_blocks

#: Commands these tests run as written: command (its comment dropped) -> the test that runs it.
RUN_HERE = {
    "make sample": "test_make_sample_as_written",
    "lmms-humansense prepare": "test_the_data_commands_as_written",
    "lmms-humansense verify --json verify.json": "test_the_data_commands_as_written",
    'export HUMANSENSE_ROOT="$(lmms-humansense sample-root)"': "test_the_inline_commands_as_written",
    "lmms-humansense tasks": "test_the_inline_commands_as_written",
    "lmms-humansense tasks-dir": "test_the_inline_commands_as_written",
    "lmms-humansense sample-root": "test_the_inline_commands_as_written",
}

#: Commands other modules run, with what they change to run offline: command -> "module::test: how".
RUN_ELSEWHERE = {
    'pip install ".[models]"': (
        "test_quickstart.py::test_the_first_block_runs_as_written_in_a_fresh_venv: in a fresh venv, in a copy "
        "of the checkout, offline (--no-index, the test environment's torch pin as a constraint)"
    ),
    "export HUMANSENSE_ROOT=/data/HumanSense": (
        "test_quickstart.py::test_the_first_block_runs_as_written_in_a_fresh_venv: pointed at the sample set"
    ),
    "lmms-eval --model humansense_omni --model_args pretrained=Qwen/Qwen2.5-Omni-7B --tasks humansense_l4": (
        "test_quickstart.py::test_the_first_block_runs_as_written_in_a_fresh_venv: a tiny local checkpoint "
        "for the hub id"
    ),
    "pip wheel --no-deps -w dist .": (
        "test_taskgen.py::test_the_wheel_ships_every_yaml_the_template_and_the_sample: -w a temporary "
        "folder, no build isolation (offline)"
    ),
    'pip install "dist/lmms_humansense-0.1.0-py3-none-any.whl[models]"': (
        "test_taskgen.py::test_an_installed_wheel_runs_with_plain_lmms_eval: --no-deps into a fresh venv "
        "that sees this environment's packages"
    ),
    "lmms-humansense export-upstream ../pr": (
        "test_upstream.py::exported: into a temporary folder's pr/ (the export takes tens of seconds)"
    ),
}

#: Commands no test runs, and why.
NOT_HERE = {
    "git clone https://github.com/OWNER/lmms_humansense.git": (
        "needs the network, and OWNER is a placeholder (pyproject.toml declares no project URL)"
    ),
    "cd lmms_humansense": "enters the clone of the line above; the tests run in a checkout already",
    "make test": "runs this test suite (and ruff): the suite would run itself",
    "lmms-humansense download": "needs the network: 26 GB of archives from the Hugging Face hub",
    "lmms-eval tasks list": (
        "lmms-eval's own listing, named to say it omits these tasks; about 23 s of CPU for its 2,000 lines, "
        "so no test runs it (read from one run: no line holds 'humansense')"
    ),
    "lmms-eval --include_path": "an option named in the prose (the folder `tasks-dir` prints is for it)",
    "lmms-eval --model humansense_omni --model_args pretrained=Qwen/Qwen2.5-Omni-7B --tasks humansense "
    "--output_path out/omni": (
        "needs the hub (Qwen/Qwen2.5-Omni-7B) and a GPU for 3,882 questions; the first block's command, the "
        "same model on humansense_l4, runs in test_quickstart.py with a tiny checkpoint"
    ),
    "lmms-humansense report out/omni --out report --paper-model Qwen2.5-Omni-7B": (
        "reads the run of the line above; `make sample` runs the same command on the sample set's run "
        "(scripts/sample.sh, test_make_sample_as_written)"
    ),
}


def command(line: str) -> str:
    """A README line without its trailing comment (a ``#`` after blanks), as the tables name it."""
    return re.sub(r"\s+#\s.*$", "", line).strip()


#: Words that start a command in a code span of the prose.
COMMAND_WORDS = ("lmms-humansense", "lmms-eval", "export", "make", "pip", "git")


def inline_commands() -> list[str]:
    """The code spans of the README's prose (outside its ```bash blocks) that hold a whole command:
    starting with a command word, without a placeholder (``...``, ``[``, an upper-case word such
    as ``RUN`` that is not a variable being set)."""
    text = re.sub(r"^```.*?^```", "", (REPO / "README.md").read_text(encoding="utf-8"), flags=re.S | re.M)
    spans = re.findall(r"`([^`\n]+)`", text)
    placeholder = re.compile(r"\.\.\.|…|\[|(?<![\w$])[A-Z][A-Z_]+(?![\w=])")
    whole = [s.strip() for s in spans if s.split()[0] in COMMAND_WORDS and not placeholder.search(s)]
    return list(dict.fromkeys(whole))


def block_with(first: str) -> list[str]:
    """The README block holding the command ``first``, each line as written."""
    (block,) = [b for b in readme_blocks() if first in map(command, b)]
    return block


def run_lines(lines: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The lines as one ``bash -e`` script (as pasted into a shell that stops at the first failure)."""
    env = {**env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"}
    return subprocess.run(
        ["bash", "-e", "-c", "\n".join(lines)], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )


def test_every_readme_command_is_classified() -> None:
    found = [command(line) for block in readme_blocks() for line in block] + inline_commands()
    tables = [RUN_HERE, RUN_ELSEWHERE, NOT_HERE]
    assert not set(RUN_HERE) & set(RUN_ELSEWHERE) and not (set(RUN_HERE) | set(RUN_ELSEWHERE)) & set(NOT_HERE)
    unclassified = [c for c in found if not any(c in t for t in tables)]
    assert not unclassified, f"classify these README commands in {Path(__file__).name}: {unclassified}"
    assert "lmms-humansense tasks" in found and "make sample" in found  # prose spans and blocks both read
    stale = sorted(set().union(*tables) - set(found))
    assert not stale, f"no longer in the README: {stale}"
    here = Path(__file__).read_text(encoding="utf-8")
    for name in set(RUN_HERE.values()):
        assert f"def {name}(" in here, name
    for where in RUN_ELSEWHERE.values():
        module, name = where.split(": ", 1)[0].split("::")
        assert f"def {name}(" in (REPO / "tests" / module).read_text(encoding="utf-8"), where


def test_make_sample_as_written(tmp_path: Path) -> None:
    """`make sample` in a copy of the checkout's set-up files whose `.venv` is this environment:
    bootstrap finds it up to date (as on a second `make sample`), then the run and the report."""
    clone = tmp_path / "clone"
    clone.mkdir()
    for name in ("Makefile", "requirements-test.txt", "pyproject.toml"):
        shutil.copy(REPO / name, clone / name)
    shutil.copytree(REPO / "scripts", clone / "scripts")
    venv_bin = clone / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    for name in ("python", "lmms-eval", "lmms-humansense"):
        (venv_bin / name).symlink_to(Path(sys.executable).parent / name)
    (want,) = [ln for ln in (clone / "scripts" / "bootstrap.sh").read_text().splitlines() if ln.startswith("WANT=")]
    stamp = subprocess.run(["bash", "-c", f'{want}\necho "$WANT"'], cwd=clone, capture_output=True, text=True)
    (clone / ".venv" / ".humansense-deps").write_text(stamp.stdout)
    # as a user types it: not as a sub-make of `make test` (MAKELEVEL would add "Leaving directory" lines)
    env = {k: v for k, v in cli_env(tmp_path).items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    proc = run_lines(["make sample"], clone, env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "bootstrap: installing" not in proc.stdout  # the stand-in venv was taken as built
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("open out/sample/report/report.md: "), proc.stdout[-2000:]
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "ends with `open out/sample/report/report.md: …`" in readme
    out = clone / "out" / "sample"
    assert len(list(out.rglob("*_results.json"))) == 1
    assert len(list(out.rglob("*_samples_humansense_*.jsonl"))) == 15 + 13  # one per task: default, noaudio
    # the README's example is this report, but for where and when it was made
    made = json.loads((out / "report" / "report.json").read_text(encoding="utf-8"))
    shown = json.loads((REPO / "docs" / "report_example" / "report.json").read_text(encoding="utf-8"))
    assert _comparable(made) == _comparable(shown), "regenerate docs/report_example with `make sample`"
    assert {(out / "report" / name).is_file() for name in ("report.md", "radar.png", "levels.png")} == {True}


def test_the_data_commands_as_written(tmp_path: Path) -> None:
    """The Data block's `prepare` and `verify` on the bundled sample set (`download` needs the hub;
    a generated root would fail `verify` for its per-task counts, as a partial download should)."""
    from lmms_humansense import sample_root

    block = block_with("lmms-humansense download")
    lines = [line for line in block if command(line) in RUN_HERE]
    assert [command(line) for line in lines] == ["lmms-humansense prepare", "lmms-humansense verify --json verify.json"]
    env = cli_env(tmp_path, root=Path(sample_root()))
    prepare = run_lines(lines[:1], tmp_path, env)
    assert prepare.returncode == 0, prepare.stderr[-3000:]
    assert re.search(r"^lmms-humansense prepare: \d+ decoded, 0 already cached$", prepare.stderr, flags=re.M)
    verify = run_lines(lines[1:], tmp_path, env)
    assert verify.returncode == 0, verify.stdout[-3000:] + verify.stderr[-2000:]
    assert verify.stdout.strip().splitlines()[-1] == "OK: every record can be evaluated"
    assert json.loads((tmp_path / "verify.json").read_text())["problems"] == []


def _comparable(report: dict[str, Any]) -> dict[str, Any]:
    """A report.json without what differs between two makings: where and when it was run."""
    report = json.loads(json.dumps(report))
    for run in report["runs"]:
        run.pop("source")
        for key in ("date", "timezone", "git checkout"):
            run["settings"].pop(key, None)
    return report


def test_the_inline_commands_as_written(tmp_path: Path) -> None:
    """The prose's whole commands: the sample set's root, the task names and the task folder."""
    from lmms_humansense import sample_root

    spans = [s for s in inline_commands() if RUN_HERE.get(s) == "test_the_inline_commands_as_written"]
    assert len(spans) == 4, spans
    env = cli_env(tmp_path)
    for span in spans:
        check = 'echo "$HUMANSENSE_ROOT"' if span.startswith("export ") else ""
        proc = run_lines([span, check], tmp_path, env)
        assert proc.returncode == 0, (span, proc.stderr[-2000:])
        out = proc.stdout
        if span.startswith("export ") or span.endswith("sample-root"):
            assert Path(out.strip()) == Path(sample_root()), span
        elif span.endswith("tasks-dir"):
            folder = Path(out.strip())
            assert (folder / "_default_template_yaml").is_file() and (folder / "humansense_ar.yaml").is_file(), out
        else:
            assert re.search(r"^  humansense_ar\b", out, flags=re.M) and "humansense_noaudio" in out, out[-2000:]
