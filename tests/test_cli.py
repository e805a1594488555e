"""`lmms-humansense` as a user types it: conventions (--version, --help, repeatable options, nouns),
bad paths that end in a named error with exit status 2, and hints that match the situation."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, bin_path, cli_env
from test_report import fake_results
from test_rescore import MODEL
from test_rescore import _write as write_answers

from lmms_humansense.catalog import TASKS, VARIANTS


def hs(*args: str | Path, env: dict[str, str] | None = None, tmp: Path) -> subprocess.CompletedProcess[str]:
    """``lmms-humansense ARGS`` in a subprocess, offline and isolated unless ``env`` says otherwise."""
    return subprocess.run(
        [bin_path("lmms-humansense"), *map(str, args)],
        env=env if env is not None else cli_env(tmp),
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=300,
    )


def named_error(proc: subprocess.CompletedProcess[str], command: str) -> str:
    """The error line of a bad input: exit 2, the command's prefix, no traceback."""
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert f"lmms-humansense {command}: error: " in proc.stderr, proc.stderr
    return proc.stderr


@pytest.fixture
def results_file(tmp_path: Path) -> Path:
    path = tmp_path / "run" / "20260101_120000_results.json"
    path.parent.mkdir()
    path.write_text(json.dumps(fake_results({"ES": 0.6, "PC": 0.3})), encoding="utf-8")
    return path


# --- conventions ---------------------------------------------------------------------------------


def test_version_names_the_package_and_lmms_eval(tmp_path: Path) -> None:
    from importlib.metadata import version

    proc = hs("--version", tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"lmms-humansense {version('lmms_humansense')} (lmms-eval {version('lmms_eval')})"


def test_every_sub_command_help_has_a_purpose_and_an_example(tmp_path: Path) -> None:
    from lmms_humansense.cli import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    assert {"tasks", "score", "report", "download", "prepare", "verify", "export-upstream"} <= set(sub.choices)
    for name in sub.choices:
        proc = hs(name, "--help", tmp=tmp_path)
        assert proc.returncode == 0, proc.stderr
        purpose = proc.stdout.split("\n\n")[1].strip()
        assert purpose and "\n" not in purpose and purpose.endswith("."), (name, purpose)
        example = proc.stdout.split("example:\n", 1)[1].splitlines()[0].strip()
        assert f"lmms-humansense {name}" in example or "lmms-humansense" in example, (name, example)
        status = proc.stdout.split("exit status: ", 1)[1].split("\n")[0]
        # only the checks end with 1; the other commands' help does not list it
        assert status.startswith("0 done; 1 the check found problems; 2") == (name in ("verify", "prepare")), name
        assert "2 bad input or usage" in status
    prepare = hs("prepare", "--help", tmp=tmp_path).stdout
    assert "speech videos' tracks, FR2/PC audio files" in prepare


def test_tasks_lists_every_name_lmms_eval_accepts(tmp_path: Path) -> None:
    proc = hs("tasks", tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr
    names = {line.split()[0] for line in proc.stdout.splitlines() if line.startswith("  ")}
    assert {t.leaf for t in TASKS} <= names
    assert {v.prefix for v in VARIANTS.values()} | {"humansense_l1", "humansense_l4"} <= names


def test_repeatable_options_leave_the_positionals_alone(results_file: Path, tmp_path: Path) -> None:
    # report: --paper-model before the folder, twice
    out = tmp_path / "rep"
    proc = hs(
        "report", "--paper-model", "Qwen2.5-Omni-7B", "--paper-model", "GPT-4o", results_file.parent, "--out", out,
        "--no-plots", tmp=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["paper_models"] == ["Qwen2.5-Omni-7B", "GPT-4o"] and report["reference"] == "Qwen2.5-Omni-7B"
    # export-upstream: --results before the folder, twice
    target = tmp_path / "pr"
    proc = hs(
        "export-upstream", "--results", results_file, "--results", results_file.parent, target,
        "--sample-results", results_file, tmp=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    validation = (target / "PR.md").read_text().split("## Validation\n")[1].split("\n\n")[0]
    assert validation.count("- `lmms-eval --model qwen2_5_vl") == 3  # the sample line and both --results


def test_score_takes_files_as_positionals_and_an_answer_key(tmp_path: Path) -> None:
    paths = write_answers(tmp_path, {"ER": ["A", "B"], "PC": ["A"]})
    proc = hs("score", *paths, "--answer-key", MODEL, "--json", tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr
    scores = json.loads(proc.stdout)
    assert scores["ER"]["n"] == 2 and scores["PC"]["n"] == 1
    # the old spelling still works, and says what replaces it
    old = hs("score", "--results", *paths, "--model", MODEL, "--json", tmp=tmp_path)
    assert old.returncode == 0, old.stderr
    assert json.loads(old.stdout) == scores
    assert "--results FILE... is deprecated" in old.stderr and "--model is deprecated; use --answer-key" in old.stderr
    err = named_error(hs("score", *paths, tmp=tmp_path), "score")
    assert "--answer-key NAME is required" in err


def test_score_reads_a_file_named_twice_once(tmp_path: Path) -> None:
    paths = write_answers(tmp_path, {"ER": ["A", "B"], "PC": ["A"]})
    proc = hs("score", *paths, paths[0], "--answer-key", MODEL, "--json", tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr
    scores = json.loads(proc.stdout)
    assert scores["ER"]["n"] == 2 and scores["PC"]["n"] == 1
    assert f"note: 1 result file(s) were named more than once and read once: {paths[0]}" in proc.stderr


# --- bad paths: a named error and exit status 2 ----------------------------------------------------


def test_report_out_naming_a_file(results_file: Path, tmp_path: Path) -> None:
    taken = tmp_path / "report.md"
    taken.write_text("mine")
    err = named_error(hs("report", results_file, "--out", taken, tmp=tmp_path), "report")
    assert f"--out {taken} is a file" in err and taken.read_text() == "mine"


def test_report_results_entry_that_is_not_an_object(results_file: Path, tmp_path: Path) -> None:
    data = json.loads(results_file.read_text())
    data["results"]["humansense_es"] = 0.6
    results_file.write_text(json.dumps(data))
    err = named_error(hs("report", results_file, "--out", tmp_path / "rep", tmp=tmp_path), "report")
    assert f"{results_file}: results['humansense_es'] is float, not an object of metrics" in err


def test_score_given_a_folder(tmp_path: Path) -> None:
    paths = write_answers(tmp_path, {"ER": ["A"]})
    err = named_error(hs("score", tmp_path, "--answer-key", MODEL, tmp=tmp_path), "score")
    assert f"{tmp_path} is a folder; pass the JSON files the official runner wrote in it" in err
    assert paths[0].is_file()


def test_download_root_naming_a_file(tmp_path: Path) -> None:
    taken = tmp_path / "root"
    taken.write_text("mine")
    err = named_error(hs("download", "--root", taken, "--no-space-check", tmp=tmp_path), "download")
    assert f"{taken} is a file; pass --root a folder" in err and taken.read_text() == "mine"


def test_export_upstream_dir_naming_a_file(results_file: Path, tmp_path: Path) -> None:
    taken = tmp_path / "pr"
    taken.write_text("mine")
    err = named_error(hs("export-upstream", taken, "--sample-results", results_file, tmp=tmp_path), "export-upstream")
    assert f"{taken} is a file; name a folder for the export" in err and taken.read_text() == "mine"


def test_export_upstream_refuses_a_folder_holding_files_unless_forced(results_file: Path, tmp_path: Path) -> None:
    from lmms_humansense.upstream import TASK_DIR, TEST_FILE

    target = tmp_path / "pr"
    mine = target / TASK_DIR / "notes.md"
    mine.parent.mkdir(parents=True)
    mine.write_text("mine")
    (target / "PR.md").write_text("my text")
    err = named_error(hs("export-upstream", target, "--sample-results", results_file, tmp=tmp_path), "export-upstream")
    assert f"{target} already holds 2 file(s) where the export writes" in err and "--force" in err
    assert (target / "PR.md").read_text() == "my text" and not (target / TEST_FILE).exists()
    proc = hs("export-upstream", target, "--sample-results", results_file, "--force", tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert mine.read_text() == "mine" and (target / "PR.md").read_text() != "my text" and (target / TEST_FILE).is_file()
    assert "1 file(s) in the task folder were not written by this export and were kept" in proc.stderr


def _json_target(tmp: Path, kind: str) -> Path:
    if kind == "a folder":
        (tmp / "reports").mkdir()
        return tmp / "reports"
    if kind == "under a file":
        (tmp / "taken").write_text("mine")
        return tmp / "taken" / "verify.json"
    return Path("/proc/humansense-verify.json")  # not writable, whoever runs the test


@pytest.mark.parametrize("kind", ["a folder", "under a file", "unwritable"])
def test_verify_checks_the_json_target_before_the_media(kind: str, tmp_path: Path) -> None:
    from lmms_humansense import sample_root

    target = _json_target(tmp_path, kind)
    proc = hs("verify", "--root", sample_root(), "--json", target, "--no-progress", tmp=tmp_path)
    err = named_error(proc, "verify")
    assert f"--json {target}" in err and "records," not in proc.stdout  # stopped before the check
    if kind == "under a file":
        assert (tmp_path / "taken").read_text() == "mine"


@pytest.mark.parametrize("command", ["verify", "prepare"])
@pytest.mark.parametrize("value", ["-1", "many"])
def test_workers_must_be_a_count(command: str, value: str, tmp_path: Path) -> None:
    from lmms_humansense import sample_root

    proc = hs(command, "--root", sample_root(), "--workers", value, "--no-progress", tmp=tmp_path)
    err = named_error(proc, command)
    assert f"argument --workers: {value!r} is not a number of processes" in err


# --- hints that match the situation ----------------------------------------------------------------


@pytest.mark.parametrize("command", ["verify", "prepare"])
def test_a_missing_root_from_the_option_is_not_blamed_on_the_variable(command: str, tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent"
    err = named_error(hs(command, "--root", missing, tmp=tmp_path), command)
    assert f"HumanSense data root {missing} (from --root) is not a folder" in err
    assert "$HUMANSENSE_ROOT)" not in err
    env = cli_env(tmp_path, root=missing)
    err = named_error(hs(command, env=env, tmp=tmp_path), command)
    assert f"HumanSense data root {missing} (from $HUMANSENSE_ROOT) is not a folder" in err


def test_download_without_network_advises_what_applies(tmp_path: Path) -> None:
    """No hub (a closed local port), HF_HUB_OFFLINE unset: no advice to unset it; set: that advice."""
    env = cli_env(tmp_path, HF_ENDPOINT="http://127.0.0.1:9")
    del env["HF_HUB_OFFLINE"]
    args = ("download", "--root", tmp_path / "root", "--no-space-check", "--no-progress")
    err = named_error(hs(*args, env=env, tmp=tmp_path), "download")
    assert "the hub cannot be reached" in err and "HF_HUB_OFFLINE" not in err
    err = named_error(hs(*args, tmp=tmp_path), "download")
    assert "HF_HUB_OFFLINE is set" in err and "unset HF_HUB_OFFLINE" in err


def test_the_sample_script_finds_results_with_and_without_a_model_folder(tmp_path: Path) -> None:
    """lmms-eval 0.7.3 writes into --output_path, or into <output_path>/<model>/ with pretrained=."""
    (line,) = [ln for ln in (REPO / "scripts" / "sample.sh").read_text().splitlines() if ln.startswith("LATEST=")]
    flat = tmp_path / "flat"
    nested = tmp_path / "nested" / "Qwen__Qwen2.5-Omni-7B"
    for folder in (flat, nested):
        folder.mkdir(parents=True)
        (folder / "20260101_000000_results.json").write_text("{}")
    for out, want in ((flat, flat), (tmp_path / "nested", nested)):
        proc = subprocess.run(
            ["bash", "-c", f'{line}\necho "$LATEST"'], env={"OUT": str(out), "PATH": "/usr/bin:/bin"},
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert proc.stdout.strip() == str(want / "20260101_000000_results.json")


def test_every_module_command_is_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    from lmms_humansense.cli import MODULE_COMMANDS, build_parser

    parser = build_parser()
    for name in MODULE_COMMANDS:
        with pytest.raises(SystemExit) as done:
            parser.parse_args([name, "--help"])
        assert done.value.code == 0
        assert f"lmms-humansense {name}" in capsys.readouterr().out
