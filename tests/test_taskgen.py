"""The committed task folder and README table are what the catalog generates; names are unique."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import REPO

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
    assert sum(t.expected for t in TASKS) == 3882
    assert sum(t.expected for t in TASKS if t.has_video) == 3291
    per_level = {lv: sum(t.expected for t in TASKS if t.level == lv) for lv in ("L1", "L2", "L3", "L4")}
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


def test_the_wheel_ships_every_yaml_the_template_and_the_sample(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        pytest.fail(proc.stdout[-2000:] + proc.stderr[-2000:])
    (wheel,) = tmp_path.glob("lmms_humansense-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"lmms_humansense/task_yamls/{rel}" for rel in taskgen.render()}
    assert expected <= names, sorted(expected - names)[:5]
    assert "lmms_humansense/task_yamls/_default_template_yaml" in names
    assert "lmms_humansense/sample/HumanSense_VQA.json" in names
    assert any(n.startswith("lmms_humansense/sample/videos/") and n.endswith(".mp4") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[lmms_eval.models]" in text and "lmms_humansense.registration:register" in text
