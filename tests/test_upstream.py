"""`lmms-humansense export-upstream`: the task folder works inside lmms-eval without this package."""

from __future__ import annotations

import filecmp
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import bin_path, cli_env, run_lmms_eval

from lmms_humansense import sample_root
from lmms_humansense.catalog import LEVELS, TASKS, VARIANTS

# lmms-eval's code style: pyproject.toml `[tool.black] line-length = 240`, .pre-commit-config.yaml
# black `--line-length=240` and isort `--profile black` (lmms-eval 0.7.x); in ruff's terms:
LMMS_EVAL_RUFF = 'line-length = 240\n[lint]\nselect = ["E", "F", "W", "I"]\nignore = ["E501"]\n'

#: Blocks `import lmms_humansense` in every Python process that has this folder on PYTHONPATH.
BLOCKER = """
import sys


class _NoPlugin:
    def find_spec(self, name, path=None, target=None):
        if name == "lmms_humansense" or name.startswith("lmms_humansense."):
            raise ImportError("lmms_humansense is blocked in this test")
        return None


sys.meta_path.insert(0, _NoPlugin())
"""


@pytest.fixture(scope="module")
def sample_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("sample_run")
    out = tmp / "out"
    proc = run_lmms_eval(
        ["--model", "dummy", "--model_args", "response=A", "--tasks", "humansense_l4", "--output_path", str(out)],
        cli_env(tmp, sample_root()),
        tmp,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, sample_results: Path) -> Path:
    tmp = tmp_path_factory.mktemp("export")
    target = tmp / "pr"
    proc = subprocess.run(
        [bin_path("lmms-humansense"), "export-upstream", str(target), "--sample-results", str(sample_results)],
        env=cli_env(tmp),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    # a line before the work, then what was written folder by folder and the next step, not every path
    lines = proc.stdout.strip().splitlines()
    n = sum(1 for p in target.rglob("*") if p.is_file())
    assert lines[0].startswith(f"writing {n - 1} files under {target}")  # and PR.md last
    assert f"wrote {n} files under {target}:" in lines
    assert len(lines) <= 10 and lines[-1].startswith("next: copy lmms_eval/ and test/ into a clone of lmms-eval")
    assert "PR.md as its description" in lines[-1]
    return target


@pytest.fixture(scope="module")
def isolated(exported: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A copy of the installed lmms_eval holding the exported folder, and an environment in which
    `import lmms_humansense` fails (so neither its hooks nor its entry point can serve the tasks)."""
    import lmms_eval

    tmp = tmp_path_factory.mktemp("isolated")
    site = tmp / "site"
    installed = Path(lmms_eval.__file__).resolve().parent
    # Everything but the ~200 other task folders (they would only slow the index down).
    shutil.copytree(
        installed,
        site / "lmms_eval",
        ignore=lambda d, names: (
            [
                n
                for n in names
                if Path(d) == installed / "tasks" and (installed / "tasks" / n).is_dir() and not n.startswith("_")
            ]
            + [n for n in names if n == "__pycache__"]
        ),
    )
    shutil.copytree(exported / "lmms_eval" / "tasks" / "humansense", site / "lmms_eval" / "tasks" / "humansense")
    (site / "sitecustomize.py").write_text(BLOCKER, encoding="utf-8")
    env = cli_env(tmp, sample_root(), PYTHONPATH=str(site))
    check = subprocess.run(
        [
            sys.executable,
            "-c",
            "import lmms_eval, sys; print(lmms_eval.__file__)\ntry:\n import lmms_humansense\nexcept ImportError:\n sys.exit(0)\nsys.exit(3)",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0 and check.stdout.strip().startswith(str(site)), check.stdout + check.stderr
    return tmp, env


def test_the_export_holds_the_pull_requests_files(exported: Path) -> None:
    task_dir = exported / "lmms_eval" / "tasks" / "humansense"
    for rel in (
        "_default_template_yaml",
        "utils.py",
        "README.md",
        "humansense.yaml",
        "humansense_l4.yaml",
        "data/schema.py",
    ):
        assert (task_dir / rel).is_file(), rel
    assert (exported / "test" / "eval" / "test_humansense.py").is_file()
    assert "(humansense)" in (exported / "docs" / "advanced" / "current_tasks.humansense.md").read_text()
    code = "\n".join(p.read_text() for p in task_dir.rglob("*.py"))
    assert "import lmms_humansense" not in code and "from lmms_humansense" not in code
    assert "lmms_eval.tasks.humansense.utils.process_docs" in (task_dir / "_default_template_yaml").read_text()


def test_the_yamls_and_modules_come_from_the_plugins_own_sources(exported: Path) -> None:
    """One source: the exported files are the plugin's, with the module path moved."""
    from lmms_humansense import taskgen

    task_dir = exported / "lmms_eval" / "tasks" / "humansense"
    plugin = taskgen.render()
    assert set(plugin) <= {p.relative_to(task_dir).as_posix() for p in task_dir.rglob("*") if p.is_file()}
    for rel, text in plugin.items():
        upstream = (task_dir / rel).read_text()
        assert upstream.split("\n", 1)[1] == text.split("\n", 1)[1].replace(
            "lmms_humansense.hooks", "lmms_eval.tasks.humansense.utils"
        ), rel
    assert "def process_docs(" in (task_dir / "utils.py").read_text()


def test_the_exported_code_points_to_no_file_the_folder_lacks(exported: Path) -> None:
    """A maintainer of lmms-eval has the task folder only: no text of its code names this project's
    docs or README sections (a message names the command or the line to write instead)."""
    task_dir = exported / "lmms_eval" / "tasks" / "humansense"
    for path in task_dir.rglob("*.py"):
        text = path.read_text()
        assert "docs/" not in text and "README's" not in text, path


def test_pr_text_has_validation_sample_and_plugin_explanation(exported: Path) -> None:
    pr = (exported / "PR.md").read_text()
    assert "## Validation" in pr
    line = next(ln for ln in pr.splitlines() if ln.startswith("- `lmms-eval --model dummy"))
    assert "| N=6 " in line and "SAMPLE" in line and line.endswith("| pass")
    assert "`pytest test/eval/test_humansense.py`" in pr
    assert "lmms_eval/__main__.py:638" in pr and "lmms_eval/__main__.py:683" in pr  # lmms-eval 0.7.3
    assert "lmms_eval/evaluator.py:513" in pr and "reordering" in pr


def test_exported_code_passes_lmms_evals_style(exported: Path, tmp_path: Path) -> None:
    config = tmp_path / "ruff.toml"
    config.write_text(LMMS_EVAL_RUFF)
    ruff = bin_path("ruff")
    for args in (["check"], ["format", "--check"]):
        proc = subprocess.run(
            [ruff, *args, "--config", str(config), "--no-cache", str(exported)], capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_export_is_deterministic(exported: Path, sample_results: Path, tmp_path: Path) -> None:
    from lmms_humansense.upstream import export

    again = tmp_path / "again"
    export(again, sample_results=sample_results)
    left = sorted(p.relative_to(exported) for p in exported.rglob("*") if p.is_file())
    right = sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert left == right
    _, mismatch, errors = filecmp.cmpfiles(exported, again, [str(p) for p in left], shallow=False)
    assert not mismatch and not errors


def test_every_task_and_group_builds_without_the_plugin(isolated: tuple[Path, dict[str, str]]) -> None:
    tmp, env = isolated
    names = sorted(
        {v.leaf(t.code) for v in VARIANTS.values() for t in v.tasks()} | {v.prefix for v in VARIANTS.values()}
    )
    names += [f"humansense_{lv.lower()}" for lv in LEVELS]
    code = (
        "import sys, json\n"
        "from lmms_eval.tasks import TaskManager, get_task_dict\n"
        "m = TaskManager('ERROR')\n"
        f"names = {names!r}\n"
        "missing = [n for n in names if n not in m.all_tasks]\n"
        "assert not missing, missing\n"
        "d = get_task_dict(['humansense'] + [n for n in names if n.endswith(('_l4',))], m)\n"
        "assert 'lmms_humansense' not in sys.modules\n"
        "print(len(names))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert int(proc.stdout.split()[-1]) == len(names) >= len(TASKS) + 5


def test_without_the_plugin_data_errors_say_where_the_tools_come_from(isolated: tuple[Path, dict[str, str]]) -> None:
    """Inside lmms-eval the `lmms-humansense` command exists only after `pip install lmms_humansense`."""
    tmp, env = isolated
    env = {k: v for k, v in env.items() if k != "HUMANSENSE_ROOT"} | {"HUMANSENSE_CACHE": str(tmp / "empty_cache")}
    code = (
        "from lmms_eval.tasks.humansense.data.root import DataRootError, resolve_root\n"
        "try:\n    resolve_root()\nexcept DataRootError as exc:\n    print(exc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "`lmms-humansense download` (`pip install lmms_humansense` brings it)" in proc.stdout
    assert "sample-root" not in proc.stdout  # no sample set ships with the upstream folder


def test_the_exported_unit_test_passes_without_the_plugin(
    exported: Path, isolated: tuple[Path, dict[str, str]]
) -> None:
    tmp, env = isolated
    test = tmp / "test_humansense.py"
    shutil.copyfile(exported / "test" / "eval" / "test_humansense.py", test)
    env = {k: v for k, v in env.items() if k != "HUMANSENSE_ROOT"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test)],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "6 passed" in proc.stdout


def test_the_dummy_model_evaluates_l4_through_the_exported_folder(isolated: tuple[Path, dict[str, str]]) -> None:
    tmp, env = isolated
    out = tmp / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lmms_eval",
            "--model",
            "dummy",
            "--model_args",
            "response=B",
            "--tasks",
            "humansense_l4",
            "--output_path",
            str(out),
        ],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (results,) = out.rglob("*_results.json")
    text = results.read_text()
    assert '"humansense_es"' in text and '"humansense_pc"' in text
    assert '"humansense_l4"' in text


def test_passed_results_get_a_validation_line_and_a_table_against_the_paper(
    sample_results: Path, tmp_path: Path
) -> None:
    from lmms_humansense.upstream import export

    export(tmp_path / "pr", results=[sample_results], sample_results=sample_results)
    pr = (tmp_path / "pr" / "PR.md").read_text()
    line = "- `lmms-eval --model dummy --model_args response=A --tasks humansense_l4` | N=6 (of the paper's 591 "
    assert line + "questions for these tasks: a subset such as the bundled sample set, not the full set)" in pr
    assert "(full set)" not in pr
    assert "| this run |" in pr and "| paper: Human |" in pr
    # a run without model args says so instead of an empty code span
    import json

    (source,) = sample_results.rglob("*_results.json")
    data = json.loads(source.read_text())
    data["config"]["model_args"] = ""
    bare = tmp_path / "bare" / source.name
    bare.parent.mkdir()
    bare.write_text(json.dumps(data))
    export(tmp_path / "pr2", results=[bare], sample_results=sample_results)
    pr = (tmp_path / "pr2" / "PR.md").read_text()
    assert "``" not in pr and "(no model args)" in pr


def test_a_run_whose_every_answer_failed_to_parse_does_not_pass(sample_results: Path, tmp_path: Path) -> None:
    """The export as a user types it, with a sample-set run whose answers were all unreadable."""
    import json

    (source,) = sample_results.rglob("*_results.json")
    data = json.loads(source.read_text())
    for entry in data["results"].values():
        entry["parse_failure,none"] = 1.0
        entry["acc,none"] = 0.0
    unread = tmp_path / "unread" / source.name
    unread.parent.mkdir()
    unread.write_text(json.dumps(data))
    target = tmp_path / "pr"
    proc = subprocess.run(
        [bin_path("lmms-humansense"), "export-upstream", "--results", str(unread), str(target)]
        + ["--sample-results", str(sample_results)],
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    sample_line, unread_line = (target / "PR.md").read_text().split("## Validation\n")[1].splitlines()[:2]
    assert sample_line.endswith("| pass") and "bundled SAMPLE set" in sample_line
    assert unread_line.endswith("| FAIL: no answer could be parsed (parse_failure 100 %)")
    assert "a subset such as the bundled sample set, not the full set" in unread_line


def test_a_validation_line_names_the_command_that_ran(sample_results: Path, tmp_path: Path) -> None:
    """The tasks and --limit come from the results file, also from files without the parsed command line."""
    import json

    from lmms_humansense.upstream import _validation

    (source,) = sample_results.rglob("*_results.json")
    data = json.loads(source.read_text())
    assert data["config"]["resolved_cli_args"]["tasks"] == "humansense_l4"  # what lmms-eval 0.7.3 records
    del data["config"]["resolved_cli_args"]
    data["config"]["limit"] = 1.0
    older = tmp_path / "older_results.json"
    older.write_text(json.dumps(data))
    (line,) = _validation(older, sample=False)
    assert line.startswith("- `lmms-eval --model dummy --model_args response=A --tasks humansense_l4 --limit 1`")
    assert "(--limit 1: part of each task)" in line and "full set" not in line


def test_the_runtime_imports_nothing_from_the_tools() -> None:
    """The task runtime (what export-upstream ships) stands alone: the plugin's tools (download,
    prepare, verify, report, score, export, the model adapters) import it, never the reverse."""
    import ast

    from lmms_humansense import upstream

    package = Path(upstream.__file__).resolve().parent
    runtime = {
        "lmms_humansense." + s.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        for s in upstream.RUNTIME_MODULES
    }
    runtime.add("lmms_humansense.data")
    for source in upstream.RUNTIME_MODULES:
        tree = ast.parse((package / source).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lmms_humansense"):
                assert node.module in runtime, f"{source} imports the plugin-only {node.module}"
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("lmms_humansense"):
                        assert alias.name in runtime, f"{source} imports the plugin-only {alias.name}"


def test_why_the_yamls_name_functions_by_their_package_path(tmp_path: Path) -> None:
    """Sibling folders write ``!function utils.fn``; this one writes ``lmms_eval.tasks.humansense.utils.fn``.

    lmms-eval 0.7.3's loader (``lmms_eval.utils.import_function``) looks for ``utils.py`` beside the
    YAML that holds the tag, then imports a top-level module ``utils``.  The variants' group YAMLs
    live in sub-folders (``asr/``, ``think/`` ...) and name aggregation functions, so a bare
    ``utils.fn`` finds no file there and nothing (or another package's ``utils``) on the path; and
    even beside the file, every tag executes ``utils.py`` anew, one module copy per reference.
    """
    from lmms_eval.utils import load_yaml_config

    (tmp_path / "utils.py").write_text("def fn(x):\n    return x\n", encoding="utf-8")
    (tmp_path / "top.yaml").write_text("a: !function utils.fn\nb: !function utils.fn\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "group.yaml").write_text("aggregation: !function utils.fn\n", encoding="utf-8")
    top = load_yaml_config(str(tmp_path / "top.yaml"))
    assert top["a"] is not top["b"] and top["a"].__globals__ is not top["b"].__globals__  # two copies
    with pytest.raises(ImportError, match="Failed to import function 'fn' from module 'utils'"):
        load_yaml_config(str(tmp_path / "sub" / "group.yaml"))
    (tmp_path / "sub" / "dotted.yaml").write_text("aggregation: !function lmms_humansense.hooks.mean_score\n")
    from lmms_humansense import hooks

    assert load_yaml_config(str(tmp_path / "sub" / "dotted.yaml"))["aggregation"] is hooks.mean_score  # one module
