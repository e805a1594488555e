"""The committed task folder and README table are what the catalog generates; names are unique."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import REPO, cli_env, overlay_venv, readme_blocks, readme_words, run_results

from lmms_humansense import taskgen
from lmms_humansense.catalog import TASKS, VARIANTS


def test_committed_yamls_match_the_catalog(tmp_path: Path) -> None:
    taskgen.write(tmp_path)
    generated = {p.relative_to(tmp_path).as_posix(): p.read_text() for p in tmp_path.rglob("*") if p.is_file()}
    folder = REPO / "task_yamls"
    committed = {
        p.relative_to(folder).as_posix(): p.read_text()
        for p in folder.rglob("*")
        if p.is_file() and p.name != "__init__.py" and "__pycache__" not in p.parts
    }
    assert committed == generated, "run `python -m lmms_humansense.taskgen` and commit the result"


def test_readme_table_matches_the_catalog() -> None:
    text = (REPO / "README.md").read_text()
    assert f"{taskgen.TABLE_BEGIN}\n{taskgen.task_table()}\n{taskgen.TABLE_END}" in text


def test_catalog_totals_match_the_paper() -> None:
    assert sum(t.paper_count for t in TASKS) == 3882
    assert sum(t.paper_count for t in TASKS if t.has_video) == 3291
    per_level = {lv: sum(t.paper_count for t in TASKS if t.level == lv) for lv in ("L1", "L2", "L3", "L4")}
    assert per_level == {"L1": 1200, "L2": 1041, "L3": 1050, "L4": 591}
    assert sum(t.uses_audio for t in TASKS) == 7 and sum(t.speech_video for t in TASKS) == 5


def test_names_are_unique_and_do_not_collide_with_builtin_tasks() -> None:
    import lmms_eval
    from lmms_eval.tasks import TaskManager

    names = taskgen.all_task_names()
    assert len(names) == len(set(names))
    ours = str(taskgen.tasks_dir())
    manager = TaskManager(include_defaults=True)
    builtin_dir = str(Path(lmms_eval.__file__).parent / "tasks")
    index = manager._task_index
    builtin = {n for n, info in index.items() if str(info.get("yaml_path", "")).startswith(builtin_dir)}
    assert not any(str(info.get("yaml_path", "")).startswith(builtin_dir) for n, info in index.items() if n in names)
    assert all(
        str(index[n].get("yaml_path", ours)).startswith(ours)
        for n in names
        if n in index and index[n].get("yaml_path", -1) != -1
    )
    assert len(builtin) > 1000
    assert not set(names) & builtin


def test_every_task_and_group_builds_through_the_real_task_manager(generated_root: Path, monkeypatch) -> None:
    from lmms_eval.tasks import TaskManager, get_task_dict

    monkeypatch.setenv("HUMANSENSE_ROOT", str(generated_root))
    manager = TaskManager(include_path=str(taskgen.tasks_dir()), include_defaults=False)
    names = taskgen.all_task_names()
    assert set(names) <= set(manager.all_tasks)
    built = get_task_dict([v.prefix for v in VARIANTS.values()], manager)
    assert len(built) == len(VARIANTS)


def readme_wheel_block() -> list[list[str]]:
    """The README's wheel commands: the ```bash block that builds one with `pip wheel`."""
    (block,) = [b for b in readme_blocks() if any(line.startswith("pip wheel") for line in b)]
    return [readme_words(line) for line in block]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built by the README's `pip wheel` line, with the output folder moved out of the checkout and
    no build isolation (offline)."""
    build, install = readme_wheel_block()
    assert build == ["pip", "wheel", "--no-deps", "-w", "dist", "."]
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(REPO)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        pytest.fail(proc.stdout[-2000:] + proc.stderr[-2000:])
    (path,) = out.glob("lmms_humansense-*.whl")
    # the README's install line names the file this build writes, with the models extra
    assert install == ["pip", "install", f"dist/{path.name}[models]"]
    return path


def test_the_wheel_ships_every_yaml_the_template_and_the_sample(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"lmms_humansense/task_yamls/{rel}" for rel in taskgen.render()}
    assert expected <= names, sorted(expected - names)[:5]
    assert "lmms_humansense/task_yamls/_default_template_yaml" in names
    assert "lmms_humansense/sample/HumanSense_VQA.json" in names
    assert any(n.startswith("lmms_humansense/sample/videos/") and n.endswith(".mp4") for n in names)
    assert any(n.startswith("lmms_humansense/sample/audios/") and n.endswith(".wav") for n in names)
    # test scaffolding (generated roots, tiny checkpoints) stays with the tests, out of users' installs
    assert not [n for n in names if "fixture" in n or "tiny" in n or n.startswith("tests/")]
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[lmms_eval.models]" in text and "lmms_humansense.registration:register" in text


def test_an_installed_wheel_runs_with_plain_lmms_eval(wheel: Path, tmp_path: Path) -> None:
    """What a user gets from `pip install .`: the wheel's files, not this checkout, serve the run.

    A fresh venv sees this environment's packages through a .pth line (so nothing is downloaded),
    which does not run their .pth files: the checkout's editable install stays invisible.
    """

    venv = tmp_path / "venv"
    python, purelib = overlay_venv(venv)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(purelib), str(wheel)],
        check=True,
        capture_output=True,
    )
    env = cli_env(tmp_path)
    where = subprocess.run(
        [
            python,
            "-c",
            "import lmms_humansense.taskgen as t, lmms_humansense as r;print(t.tasks_dir()); print(r.sample_root())",
        ],
        env=env,
        cwd=tmp_path,  # not the checkout: `-c` puts the working directory first on sys.path
        capture_output=True,
        text=True,
    )
    assert where.returncode == 0, where.stderr[-2000:]
    where = where.stdout.split()
    assert all(Path(p).is_relative_to(purelib) for p in where), where
    env["HUMANSENSE_ROOT"] = where[1]
    proc = subprocess.run(
        [
            python,
            "-c",
            "import sys; from lmms_eval.cli.dispatch import main; sys.argv[0] = 'lmms-eval'; sys.exit(main())",
            "--tasks",
            "humansense_l4",
            "--model",
            "dummy",
            "--output_path",
            str(tmp_path / "out"),
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = run_results(tmp_path / "out")["results"]
    assert isinstance(data["humansense_l4"]["acc,none"], float) and "humansense_pc" in data
