"""The real `lmms-eval` command over all 15 tasks of a generated root, with no registration flag."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from conftest import cli_env, logged_samples, run_lmms_eval_several, run_results

from lmms_humansense.catalog import LEVELS, TASKS, paper_avg_codes

LEAVES = [t.leaf for t in TASKS]
GROUPS = ["humansense", *[f"humansense_{lv.lower()}" for lv in LEVELS]]


@pytest.fixture(scope="module")
def e2e_runs(generated_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The module's three CLI runs in one process (``conftest.run_lmms_eval_several``): ``dummy``,
    ``chat`` (the chance baseline, tracing its content blocks) and ``think`` (an answer with a
    reasoning block); each under its own folder of the returned one."""
    tmp = tmp_path_factory.mktemp("e2e_runs")
    runs = {
        "dummy": ["--tasks", "humansense", "--model", "dummy", "--model_args", "response=B"],
        "chat": [
            "--tasks",
            "humansense",
            "--model",
            "humansense_random",
            "--model_args",
            f"trace={tmp / 'trace.jsonl'}",
        ],
        "think": ["--tasks", "humansense_er", "--model", "dummy", "--model_args", "response=<think>x</think>B"],
    }
    spec = [{"argv": [*argv, "--output_path", str(tmp / name), "--log_samples"]} for name, argv in runs.items()]
    proc, logs = run_lmms_eval_several(spec, cli_env(tmp, generated_root), tmp)
    assert proc.returncode == 0 and [rc for rc, _ in logs] == [0, 0, 0], proc.stderr[-3000:]
    return tmp


@pytest.fixture(scope="module")
def dummy_run(e2e_runs: Path) -> Path:
    return e2e_runs / "dummy"


@pytest.fixture(scope="module")
def chat_run(e2e_runs: Path) -> tuple[Path, Path]:
    return e2e_runs / "chat", e2e_runs / "trace.jsonl"


def test_every_task_level_overall_and_avg_are_numbers(dummy_run: Path) -> None:
    res = run_results(dummy_run)["results"]
    for name in LEAVES + GROUPS:
        for metric in ("acc", "acc_official", "parse_failure"):
            assert isinstance(res[name][f"{metric},none"], float), (name, metric)
    assert isinstance(res["humansense"]["paper_avg,none"], float)
    for t in TASKS:
        key = res[t.leaf]["paper_avg,none"]
        assert (key is None) == (not t.in_paper_avg)


def test_groups_are_macro_means_of_their_tasks(dummy_run: Path) -> None:
    res = run_results(dummy_run)["results"]
    accs = {t.code: res[t.leaf]["acc,none"] for t in TASKS}
    assert res["humansense"]["acc,none"] == pytest.approx(sum(accs.values()) / 15)
    video = [accs[c] for c in paper_avg_codes()]
    assert res["humansense"]["paper_avg,none"] == pytest.approx(sum(video) / 13)
    for level in LEVELS:
        members = [accs[t.code] for t in TASKS if t.level == level]
        assert res[f"humansense_{level.lower()}"]["acc,none"] == pytest.approx(sum(members) / len(members))


def test_one_logged_sample_per_doc_with_audit_fields(dummy_run: Path) -> None:
    data = run_results(dummy_run)
    for t in TASKS:
        rows = logged_samples(dummy_run, t.leaf)
        assert len(rows) == 2 == data["n-samples"][t.leaf]["effective"]
        for row in rows:
            audit = row["acc"]
            assert audit["task"] == t.code and audit["level"] == t.level and audit["variant"] == "default"
            assert audit["clip"] and audit["gold"] and audit["parse_outcome"] in ("ok", "unparsed", "invalid")
            assert row["filtered_resps"] == "B" or row["filtered_resps"] == ["B"]


def test_clustered_standard_errors_are_reported(dummy_run: Path) -> None:
    res = run_results(dummy_run)["results"]
    assert "acc_stderr_clustered,none" in res["humansense_es"]


def test_chat_models_get_explicit_content_blocks(chat_run: tuple[Path, Path]) -> None:
    out, trace = chat_run
    rows = [json.loads(line) for line in trace.read_text().splitlines()]
    assert len(rows) == 30
    by_task: dict[str, list[list[str]]] = {}
    for row in rows:
        by_task.setdefault(row["task"], []).append([b["type"] for b in row["blocks"]])
    for t in TASKS:
        kinds = by_task[t.leaf]
        if t.modality == "video":
            assert kinds == [["video", "text"]] * 2, t.code
        elif t.modality == "video+audio":
            assert kinds == [["video", "audio", "text"]] * 2, t.code
        else:
            assert kinds == [["audio", "text"]] * 2, t.code
    res = run_results(out)["results"]
    assert res["humansense"]["parse_failure,none"] == 0.0  # the baseline always answers in form


def test_answers_reach_scoring_as_the_model_gave_them(e2e_runs: Path) -> None:
    """lmms-eval 0.7.3's CLI strips ``<think>`` blocks and surrounding spaces from every answer before
    ``process_results`` unless the task sets ``reasoning_tags: none``; the official scorer reads the
    raw first character, so the template turns that off."""
    out = e2e_runs / "think"
    (path,) = sorted(out.rglob("*_samples_humansense_er.jsonl"))
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for row in rows:
        resp = row["filtered_resps"]
        assert (resp[0] if isinstance(resp, list) else resp) == "<think>x</think>B"
        assert row["acc_official"]["score"] == 0.0  # score.py: first character "<"
        assert row["acc"]["parsed"] == "B"  # the robust parser reads past the reasoning block


def _direct_se(scores: list[float], clips: list[str]) -> float:
    """A task mean's clustered standard error from its definition (see tests/test_scoring.py)."""
    n, mean = len(scores), sum(scores) / len(scores)
    dev = [s - mean for s in scores]
    cross = sum(dev[i] * dev[j] for i in range(n) for j in range(n) if i != j and clips[i] == clips[j])
    return math.sqrt(sum(d * d for d in dev) / (n - 1) / n + cross / n**2)


def test_levels_overall_and_paper_avg_carry_macro_standard_errors(random_runs: tuple[Path, Path]) -> None:
    """Every group's ``<metric>_se`` is sqrt(sum of its tasks' clustered variances) / task count,
    computed here from the logged per-question scores of a real run."""
    out = random_runs[0]
    res = run_results(out)["results"]
    task_se = {}
    for t in TASKS:
        rows = logged_samples(out, t.leaf)
        scores, clips = [r["acc"]["score"] for r in rows], [r["acc"]["clip"] for r in rows]
        assert [r["acc_se"]["value"] for r in rows] == scores
        task_se[t.code] = _direct_se(scores, clips)
        assert res[t.leaf]["acc_se,none"] == pytest.approx(task_se[t.code], abs=1e-12)
        assert res[t.leaf]["acc_se,none"] == pytest.approx(res[t.leaf]["acc_stderr_clustered,none"], abs=1e-12)
    assert any(v > 0 for v in task_se.values())

    def macro(codes: list[str]) -> float:
        return math.sqrt(sum(task_se[c] ** 2 for c in codes)) / len(codes)

    for level in LEVELS:
        codes = [t.code for t in TASKS if t.level == level]
        assert res[f"humansense_{level.lower()}"]["acc_se,none"] == pytest.approx(macro(codes), abs=1e-12)
    assert res["humansense"]["acc_se,none"] == pytest.approx(macro([t.code for t in TASKS]), abs=1e-12)
    assert res["humansense"]["paper_avg_se,none"] == pytest.approx(macro(list(paper_avg_codes())), abs=1e-12)
    assert isinstance(res["humansense"]["acc_official_se,none"], float)


def test_each_task_records_its_clips_provenance_and_question_identities(
    random_runs: tuple[Path, Path], clip_root: Path
) -> None:
    """results.json carries each task's clip count and provenance (this package's and lmms-eval's
    versions and the annotation digest); every logged sample its question's content identity."""
    from importlib.metadata import version

    from lmms_humansense.provenance import annotation_digest

    out = random_runs[0]
    res = run_results(out)["results"]
    expected = (
        f"lmms-humansense {version('lmms-humansense')}; lmms-eval {version('lmms-eval')}; "
        f"annotations sha256:{annotation_digest(clip_root)}"
    )
    for t in TASKS:
        assert res[t.leaf]["clips,none"] == 5  # 6 questions, the first two on one clip
        assert res[t.leaf]["provenance,none"] == expected
        qids = [r["acc"]["qid"] for r in logged_samples(out, t.leaf)]
        assert len(qids) == 6 and len(set(qids)) == 6 and all(len(q) == 16 for q in qids)
    assert "clips,none" not in res["humansense"]  # a count of one task, not a group metric


def test_report_intervals_of_a_real_run_never_have_width_0(random_runs: tuple[Path, Path]) -> None:
    """On 6 questions per task, every task, level, overall and paper Avg interval holds its value
    and has width; the report names the versions, the data digest and the date's zone."""
    from importlib.metadata import version

    from lmms_humansense.report.load import load_runs
    from lmms_humansense.report.render import build, to_markdown

    report = build(load_runs([random_runs[0]]), [])
    (run,) = report["runs"]
    for t in TASKS:
        e = run["tasks"][t.code]
        low, high = e["acc_ci"]
        assert low <= e["acc"] <= high and high - low > 0.1  # 6 questions say little
    for key, cell in run["summary"].items():
        low, high = cell["acc"]["ci"]
        assert low <= cell["acc"]["value"] <= high and high > low, key
    settings = run["settings"]
    assert settings["lmms-eval"] == version("lmms-eval") and settings["lmms-humansense"] == version("lmms-humansense")
    assert settings["annotations"].startswith("sha256:") and settings["timezone"] == "Asia/Singapore (UTC+08:00)"
    md = to_markdown(report)
    assert f"lmms-eval `{version('lmms-eval')}`" in md and "UTC+08:00" in md
