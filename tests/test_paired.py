"""``lmms-humansense report RUN_A RUN_B --paired``: B − A question by question, on real lmms-eval output."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import cli_env, run_lmms_eval_several, run_results
from PIL import Image

from lmms_humansense import cli
from lmms_humansense.catalog import LEVELS, TASKS, paper_avg_codes
from lmms_humansense.report.forest import forest_size
from lmms_humansense.report.paired import compare, load_samples, paired_markdown
from lmms_humansense.report.plots import pixel_size
from lmms_humansense.report.stats import TOO_FEW_CLIPS, PairedTask, paired_difference


@pytest.fixture(scope="module")
def other_runs(clip_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The dummy model on part of the questions, on other tasks, and under the blind variant."""
    tmp = tmp_path_factory.mktemp("paired_runs")
    # Two copies of the root: one with the annotation file's records reversed (the same questions
    # at other doc ids), one where a question's gold answer changed (another data version).
    reordered, changed = tmp / "reordered_root", tmp / "changed_root"
    for root in (reordered, changed):
        shutil.copytree(clip_root, root)
    vqa = json.loads((clip_root / "HumanSense_VQA.json").read_text())
    (reordered / "HumanSense_VQA.json").write_text(json.dumps(vqa[::-1]))
    first_ar = next(r for r in vqa if r["video_path"].split("/")[-1].startswith("ar_"))
    first_ar["questions"]["answer"] = "ABCD" if first_ar["questions"]["answer"] != "ABCD" else "A"
    (changed / "HumanSense_VQA.json").write_text(json.dumps(vqa))
    jobs = {
        "part": (["--tasks", "humansense_ar,humansense_er", "--limit", "4"], clip_root),
        "other": (["--tasks", "humansense_gr", "--limit", "2"], clip_root),
        "blind": (["--tasks", "humansense_blind_ar,humansense_blind_er"], clip_root),
        "reordered": (["--tasks", "humansense_ar,humansense_er"], reordered),
        "changed": (["--tasks", "humansense_ar,humansense_er"], changed),
    }
    # One process for the five runs (wrapper_recorder.run_several): each its own root and cache.
    spec = [
        {
            "argv": [
                *args,
                "--model",
                "dummy",
                "--model_args",
                "response=A",
                "--output_path",
                str(tmp / name / "out"),
                "--log_samples",
            ],
            "env": {"HUMANSENSE_ROOT": str(root), "HUMANSENSE_CACHE": str(tmp / name / "humansense_cache")},
        }
        for name, (args, root) in jobs.items()
    ]
    proc, logs = run_lmms_eval_several(spec, cli_env(tmp), tmp)
    assert proc.returncode == 0 and [rc for rc, _ in logs] == [0] * len(spec), proc.stderr[-3000:]
    return {name: tmp / name / "out" for name in jobs}


@pytest.fixture(scope="module")
def paired_report(random_runs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("paired_report")
    a, b = random_runs
    # the option before the positionals: it takes no value, so A stays a run
    assert cli.main(["report", "--paired", str(a), str(b), "--out", str(out)]) == 0
    return {p.name: p for p in out.iterdir()}


def _results(out: Path) -> dict[str, Any]:
    return run_results(out)["results"]


def _task_means(run: Path) -> dict[str, float]:
    return {t.code: _results(run)[t.leaf]["acc,none"] for t in TASKS}


def test_paired_figures_are_the_runs_numbers(random_runs: tuple[Path, Path], paired_report: dict[str, Path]) -> None:
    paired = json.loads(paired_report["report.json"].read_text())["paired"]
    a, b = (_task_means(r) for r in random_runs)
    assert paired["questions_compared"] == 6 * len(TASKS)
    assert paired["only_in_a"] == paired["only_in_b"] == paired["unscored_in_either"] == []
    assert paired["matched_by"] == "question identity (record content)"
    assert paired["subset"] is True and paired["paper_questions"] == sum(t.paper_count for t in TASKS)
    for t in TASKS:
        e = paired["tasks"][t.code]
        assert (e["a"], e["b"]) == (pytest.approx(a[t.code]), pytest.approx(b[t.code]))
        assert e["diff"] == pytest.approx(b[t.code] - a[t.code])
        assert (e["questions"], e["clips"], e["subset"]) == (6, 5, True)
        assert e["ci"][0] <= e["diff"] <= e["ci"][1] and e["ci"][1] - e["ci"][0] > 0
        assert e["verdict"] in ("A ahead", "B ahead", "no difference shown")
    res_a, res_b = (_results(r) for r in random_runs)
    for key, group in [*((lv, f"humansense_{lv.lower()}") for lv in LEVELS), ("overall", "humansense")]:
        e = paired["summary"][key]
        assert e["a"] == pytest.approx(res_a[group]["acc,none"]) and e["b"] == pytest.approx(res_b[group]["acc,none"])
    e = paired["summary"]["paper_avg"]
    assert e["tasks"] == e["of"] == len(paper_avg_codes())
    assert e["diff"] == pytest.approx(res_b["humansense"]["paper_avg,none"] - res_a["humansense"]["paper_avg,none"])


def test_two_seeds_of_one_chance_model_show_no_difference(paired_report: dict[str, Path]) -> None:
    """The chance baseline under two seeds: the same model, so at least 95 % of the 15 tasks and 6
    summary rows must show no difference (at most one of 21 may, by chance)."""
    paired = json.loads(paired_report["report.json"].read_text())["paired"]
    rows = [*paired["tasks"].values(), *paired["summary"].values()]
    shown = [e for e in rows if e["ci"][0] > 0 or e["ci"][1] < 0]
    assert len(rows) == 21 and len(shown) <= 1, shown


def test_paired_interval_is_the_stats_modules(random_runs: tuple[Path, Path]) -> None:
    """The overall's interval, recomputed here from the logged samples with the stats functions."""
    a, b = (load_samples(r) for r in random_runs)
    paired = compare(a, b)
    parts = []
    for t in TASKS:
        keys = sorted(k for k in a.scores if k[0] == t.code)
        parts.append(
            PairedTask.from_scores(
                [a.scores[k][1] for k in keys], [b.scores[k][1] for k in keys], [a.scores[k][0] for k in keys]
            )
        )
    d = paired_difference(parts)
    assert paired["summary"]["overall"]["ci"] == pytest.approx(list(d.ci))
    assert paired["summary"]["overall"]["diff"] == pytest.approx(d.diff)


def test_identical_runs_differ_by_zero_with_an_interval_of_width(random_runs: tuple[Path, Path]) -> None:
    """Runs that agree on every one of 6 questions do not prove a difference of exactly 0."""
    a = load_samples(random_runs[0])
    paired = compare(a, a)
    for e in [*paired["tasks"].values(), *paired["summary"].values()]:
        assert e["diff"] == 0 and e["ci"][0] < 0 < e["ci"][1] and e["verdict"] == "no difference shown"


def test_a_run_better_on_every_question(random_runs: tuple[Path, Path]) -> None:
    """B right wherever A is wrong: the difference is the share A got wrong, and it is shown."""
    a = load_samples(random_runs[0])
    b = replace(a, scores={k: (clip, 1.0) for k, (clip, _) in a.scores.items()})
    paired = compare(a, b)
    overall = paired["summary"]["overall"]
    assert overall["diff"] == pytest.approx(1 - overall["a"])
    assert overall["ci"][0] > 0 and overall["verdict"] == "B ahead"


def test_one_clip_per_task_has_no_interval(random_runs: tuple[Path, Path], tmp_path: Path) -> None:
    """With every question of a task on one clip, no interval is honest: N/A, in JSON and Markdown."""
    a = load_samples(random_runs[0])
    one = replace(a, scores={k: ("the-clip", s) for k, (_, s) in a.scores.items()})
    b = load_samples(random_runs[1])
    b = replace(b, scores={k: ("the-clip", s) for k, (_, s) in b.scores.items()})
    paired = compare(one, b)
    for e in [*paired["tasks"].values(), *paired["summary"].values()]:
        assert e["ci"] is None and e["verdict"] == TOO_FEW_CLIPS
    assert f"| {TOO_FEW_CLIPS} | {TOO_FEW_CLIPS} |" in paired_markdown(paired)


def test_paired_markdown_and_forest_plot(paired_report: dict[str, Path]) -> None:
    md = paired_report["report.md"].read_text()
    paired = json.loads(paired_report["report.json"].read_text())["paired"]
    assert "## Paired comparison: B − A, question by question" in md
    assert "![Forest plot" in md and "(forest.png)" in md
    assert "## Overview" in md  # the runs' own report is still there
    e = paired["summary"]["paper_avg"]
    section = md.split("## Paired comparison")[1]
    row = next(line for line in section.splitlines() if line.startswith("| **Paper Avg (13 video tasks)**"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:] == [
        f"{e['a']:.3f}",
        f"{e['b']:.3f}",
        f"{e['diff']:+.3f}",
        f"[{e['ci'][0]:+.3f}, {e['ci'][1]:+.3f}]",
        e["verdict"],
        f"78 (65) of {e['paper_questions']:,}",
    ]
    assert f"**A subset: {6 * len(TASKS)} of the benchmark's 3,882 questions;" in section
    assert "matched by question identity (record content)" in section
    for t in TASKS:
        assert f"| {t.code} {t.name} | " in md
    assert "### Questions left out\n\n- none" in md
    with Image.open(paired_report["forest.png"]) as im:
        assert im.size == pixel_size(forest_size(len(TASKS) + len(LEVELS) + 2))
        assert len(im.getcolors(maxcolors=1_000_000) or []) > 20
    svg = paired_report["forest.svg"].read_text()
    assert ET.parse(paired_report["forest.svg"]).getroot().tag.endswith("svg")
    assert f"a subset: {6 * len(TASKS)} of 3,882 questions" in svg


def test_two_runs_of_one_model_are_told_apart_by_the_args_that_differ(paired_report: dict[str, Path]) -> None:
    """The two runs are ``humansense_random`` with seed 0 and 1: "A" and "B" alone would read alike."""
    paired = json.loads(paired_report["report.json"].read_text())["paired"]
    assert paired["a"]["label"] == "humansense_random [default] with seed=0"
    assert paired["b"]["label"] == "humansense_random [default] with seed=1"
    assert "- **B**: humansense_random [default] with seed=1 (" in paired_report["report.md"].read_text()


def test_questions_in_one_run_only_are_listed_and_left_out(
    random_runs: tuple[Path, Path], other_runs: dict[str, Path], tmp_path: Path
) -> None:
    assert cli.main(["report", str(random_runs[0]), str(other_runs["part"]), "--paired", "--out", str(tmp_path)]) == 0
    paired = json.loads((tmp_path / "report.json").read_text())["paired"]
    assert paired["questions_compared"] == 8
    assert paired["only_in_b"] == []
    assert len(paired["only_in_a"]) == 6 * len(TASKS) - 8
    assert "AR:AR-VQA00005" in paired["only_in_a"]
    assert paired["tasks"]["GR"] is None
    assert paired["summary"]["L1"]["tasks"] == 2 and paired["summary"]["L1"]["of"] == 4
    md = (tmp_path / "report.md").read_text()
    assert f"- {6 * len(TASKS) - 8} only in A: `AC:" in md and "`AR:AR-VQA00004`" in md
    assert "more (all in report.json)" in md
    assert "| **L1 Perception** (2/4 tasks) |" in md


def _error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lmms-humansense report: error: "), err
    return err


def test_refusals(
    random_runs: tuple[Path, Path], other_runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, out = str(random_runs[0]), ["--out", str(tmp_path / "r"), "--no-plots"]
    err = _error(["report", str(other_runs["part"]), str(other_runs["other"]), "--paired", *out], capsys)
    assert "share no question (matched by question identity (record content))" in err
    err = _error(["report", a, str(other_runs["blind"]), "--paired", *out], capsys)
    assert "different variants (default in" in err and "blind in" in err and "Pass --force" in err
    err = _error(["report", a, "--paired", *out], capsys)
    assert "--paired compares two runs, A then B; 1 given" in err
    err = _error(["report", a, a, "--force", *out], capsys)
    assert "--force only applies to --paired" in err
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(next(random_runs[0].rglob("*_results.json")), bare)
    err = _error(["report", a, str(bare), "--paired", *out], capsys)
    assert "no logged HumanSense samples" in err and "--log_samples" in err


def test_different_variants_with_force(
    random_runs: tuple[Path, Path], other_runs: dict[str, Path], tmp_path: Path
) -> None:
    argv = ["report", str(random_runs[0]), str(other_runs["blind"]), "--paired", "--force", "--out", str(tmp_path)]
    assert cli.main(argv) == 0
    paired = json.loads((tmp_path / "report.json").read_text())["paired"]
    assert (paired["a"]["variant"], paired["b"]["variant"]) == ("default", "blind")
    assert paired["questions_compared"] == 12
    assert "Different variants (default and blind), compared with --force." in (tmp_path / "report.md").read_text()


def test_unreadable_inputs_are_named(
    random_runs: tuple[Path, Path], other_runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, out = str(random_runs[0]), ["--out", str(tmp_path / "r"), "--no-plots"]
    both = tmp_path / "both"
    for i, run in enumerate(random_runs):
        shutil.copytree(run, both / f"run{i}")
    err = _error(["report", a, str(both), "--paired", *out], capsys)
    assert f"{both} holds 2 results files" in err and "pass one *_results.json each" in err
    broken = tmp_path / "broken"
    shutil.copytree(random_runs[1], broken)
    samples = next(broken.rglob("*_samples_humansense_er.jsonl"))
    lines = samples.read_text().splitlines()
    samples.write_text("\n".join([lines[0], "{not json", *lines[2:]]) + "\n")
    err = _error(["report", a, str(broken), "--paired", *out], capsys)
    assert f"{samples} line 2 is not a HumanSense logged sample" in err
    mixed = tmp_path / "mixed"
    shutil.copytree(random_runs[1], mixed)
    stamp = next(mixed.rglob("*_results.json")).name[: -len("_results.json")]
    blind = next(other_runs["blind"].rglob("*_samples_humansense_blind_ar.jsonl"))
    shutil.copy(blind, mixed / f"{stamp}_samples_humansense_blind_ar.jsonl")
    err = _error(["report", a, str(mixed), "--paired", *out], capsys)
    assert "holds several variants (blind, default)" in err


def test_forest_title_stays_inside_the_image_with_long_model_args(paired_report: dict[str, Path]) -> None:
    import matplotlib.pyplot as plt
    from test_plots import assert_readable

    from lmms_humansense.report.forest import _forest

    paired = json.loads(paired_report["report.json"].read_text())["paired"]
    for side in ("a", "b"):
        paired[side]["label"] += ",trace=/a/rather/long/path/to/the/traces/of/this/run/" + "x" * 80 + ".jsonl"
    fig = _forest(paired)
    try:
        assert_readable(fig, whole_markers=False)  # its x range follows the data
    finally:
        plt.close(fig)


def test_a_reordered_annotation_file_is_matched_by_content(
    random_runs: tuple[Path, Path], other_runs: dict[str, Path], tmp_path: Path
) -> None:
    """Run B's root holds the same records in reverse order: every doc id names another question,
    yet each question is matched with itself."""
    a, b = load_samples(other_runs["part"]), load_samples(other_runs["reordered"])
    paired = compare(a, b)
    assert paired["questions_compared"] == 8 and paired["different_data"] == []
    assert len(paired["only_in_b"]) == 4  # the 2 of 6 per task that --limit 4 left out of A
    assert {a.docs[k] for k in a.scores} != {b.docs[k] for k in a.scores}  # other positions
    assert paired["tasks"]["AR"]["diff"] == 0 and paired["tasks"]["ER"]["diff"] == 0  # same dummy answer


def test_a_different_data_version_is_refused_in_one_line(
    other_runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    b = str(other_runs["changed"])
    out = ["--out", str(tmp_path / "r"), "--no-plots"]
    err = _error(["report", str(other_runs["part"]), b, "--paired", *out], capsys)
    assert "1 questions of A (" in err and "differ from the question B (" in err and "--force" in err
    assert cli.main(["report", str(other_runs["part"]), b, "--paired", "--force", *out]) == 0
    paired = json.loads((tmp_path / "r" / "report.json").read_text())["paired"]
    assert paired["questions_compared"] == 7 and paired["different_data"] == ["AR:AR-VQA00000", "AR:AR-VQA00000"]
    md = (tmp_path / "r" / "report.md").read_text()
    assert "- 2 different questions at the same task and doc id (--force): `AR:AR-VQA00000`" in md


def test_older_samples_without_identity_are_matched_by_doc_id(random_runs: tuple[Path, Path], tmp_path: Path) -> None:
    """Samples written before the question identity: matched by task and doc id, and said so."""
    old = tmp_path / "old"
    shutil.copytree(random_runs[1], old)
    for file in old.rglob("*_samples_*.jsonl"):
        rows = [json.loads(line) for line in file.read_text().splitlines() if line.strip()]
        for row in rows:
            row["acc"].pop("qid", None)
        file.write_text("".join(json.dumps(r) + "\n" for r in rows))
    paired = compare(load_samples(random_runs[0]), load_samples(old))
    assert paired["matched_by"] == "task and doc id (older files)"
    assert paired["questions_compared"] == 6 * len(TASKS)


def test_the_paired_report_reads_each_results_file_once(
    random_runs: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report's runs give the paired comparison its models and args: no results file is read twice."""
    from lmms_humansense.report import make_report

    reads: list[str] = []
    read_text = Path.read_text

    def counted(self: Path, *args: Any, **kwargs: Any) -> str:
        if self.name.endswith("_results.json"):
            reads.append(str(self))
        return read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", counted)
    make_report(list(random_runs), tmp_path, plots=False, paired=True)
    assert len(reads) == len(set(reads)) == 2, reads
