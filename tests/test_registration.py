"""Zero-config registration through lmms-eval's model entry point, and its guard."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import bin_path, cli_env


def _python(code: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], env=cli_env(tmp), capture_output=True, text=True, timeout=300)


def test_importing_lmms_eval_models_registers_tasks_and_models(tmp_path: Path) -> None:
    proc = _python(
        "import lmms_eval.models as m\n"
        "from lmms_eval.tasks import TaskManager\n"
        "tm = TaskManager()\n"
        "assert 'humansense_l4' in tm.all_tasks and 'humansense_think_es' in tm.all_tasks\n"
        "assert 'mme' in tm.all_tasks  # the defaults are still there\n"
        "print(m.get_model('humansense_random').__name__)\n",
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith("RandomBaseline")


def test_explicit_include_path_is_not_indexed_twice(tmp_path: Path) -> None:
    proc = _python(
        "import lmms_eval.models\n"
        "from lmms_eval.tasks import TaskManager\n"
        "from lmms_humansense.taskgen import tasks_dir\n"
        "tm = TaskManager(include_path=str(tasks_dir()), include_defaults=False)\n"
        "assert 'humansense' in tm.all_tasks and 'mme' not in tm.all_tasks\n",
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_changed_internals_leave_lmms_eval_working_with_one_warning(tmp_path: Path) -> None:
    proc = _python(
        "from lmms_eval.tasks import TaskManager\n"
        "def initialize_tasks(self, paths=None):\n"
        "    return {}\n"
        "TaskManager.initialize_tasks = initialize_tasks  # a future lmms-eval with another signature\n"
        "from lmms_humansense.registration import register\n"
        "print(len(register()))\n",
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "3"  # humansense_random, humansense_omni and humansense_openai
    warnings = [line for line in proc.stderr.splitlines() if "--include_path" in line]
    assert len(warnings) == 1 and "lmms-humansense tasks-dir" in warnings[0]


def test_lmms_eval_models_lists_the_packages_models(tmp_path: Path) -> None:
    proc = subprocess.run(
        [bin_path("lmms-eval"), "models"], env=cli_env(tmp_path), cwd=tmp_path, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {line.split()[0]: line.split()[1] for line in proc.stdout.splitlines() if line.startswith("humansense_")}
    assert rows == {"humansense_omni": "simple", "humansense_openai": "simple", "humansense_random": "chat"}


def test_tasks_dir_command_prints_the_folder(tmp_path: Path) -> None:
    proc = subprocess.run(
        [bin_path("lmms-humansense"), "tasks-dir"], capture_output=True, text=True, env=cli_env(tmp_path)
    )
    assert proc.returncode == 0
    folder = Path(proc.stdout.strip())
    assert (folder / "_default_template_yaml").is_file() and (folder / "humansense_l4.yaml").is_file()


def test_the_installed_filelock_has_what_lmms_eval_imports_at_every_run() -> None:
    """lmms-eval 0.7.3 patches ``filelock._api`` before every evaluation; filelock 4.3 removed it.

    The package's ``filelock<4.3`` bound keeps a fresh install working; this runs lmms-eval's own
    patch so a resolver that picks a newer filelock fails here, by name, and not in a user's run.
    """
    from lmms_eval import evaluator

    evaluator._enable_reentrant_filelocks()
