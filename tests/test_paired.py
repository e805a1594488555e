"""``lmms-humansense report RUN_A RUN_B --paired``: B − A question by question, on real lmms-eval output."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import bin_path, cli_env, run_results
from PIL import Image

from lmms_humansense import cli
from lmms_humansense.catalog import LEVELS, TASKS, paper_avg_codes
from lmms_humansense.report.forest import forest_size
from lmms_humansense.report.paired import compare, load_samples
from lmms_humansense.report.plots import pixel_size
from lmms_humansense.report.stats import TaskClips, bootstrap_task_means, macro_replicates, percentile_interval


@pytest.fixture(scope="module")
def other_runs(clip_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The dummy model on part of the questions, on other tasks, and under the blind variant."""
    tmp = tmp_path_factory.mktemp("paired_runs")
    jobs = {
        "part": ["--tasks", "humansense_ar,humansense_er", "--limit", "4"],
        "other": ["--tasks", "humansense_gr", "--limit", "2"],
        "blind": ["--tasks", "humansense_blind_ar,humansense_blind_er"],
    }
    procs = {}
    for name, args in jobs.items():
        work = tmp / name
        work.mkdir()
        procs[name] = subprocess.Popen(
            [bin_path("lmms-eval"), *args, "--model", "dummy", "--model_args", "response=A"]
            + ["--output_path", str(work / "out"), "--log_samples"],
            env=cli_env(work, clip_root),
            cwd=work,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    for proc in procs.values():
        _, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err[-3000:]
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
    assert paired["replicates"] == 2000
    for t in TASKS:
        e = paired["tasks"][t.code]
        assert (e["a"], e["b"]) == (pytest.approx(a[t.code]), pytest.approx(b[t.code]))
        assert e["diff"] == pytest.approx(b[t.code] - a[t.code])
        assert (e["questions"], e["clips"]) == (6, 5)
        assert e["ci"][0] <= e["diff"] <= e["ci"][1]
        assert 0 <= e["share_b_better"] <= 1
    res_a, res_b = (_results(r) for r in random_runs)
    for key, group in [*((lv, f"humansense_{lv.lower()}") for lv in LEVELS), ("overall", "humansense")]:
        e = paired["summary"][key]
        assert e["a"] == pytest.approx(res_a[group]["acc,none"]) and e["b"] == pytest.approx(res_b[group]["acc,none"])
    e = paired["summary"]["paper_avg"]
    assert e["tasks"] == e["of"] == len(paper_avg_codes())
    assert e["diff"] == pytest.approx(res_b["humansense"]["paper_avg,none"] - res_a["humansense"]["paper_avg,none"])


def test_paired_interval_is_a_paired_cluster_bootstrap(random_runs: tuple[Path, Path]) -> None:
    """The overall's interval, recomputed here from the logged samples with the same draws."""
    a, b = (load_samples(r) for r in random_runs)
    paired = compare(a, b, replicates=500, seed=7)
    tables = {}
    for t in TASKS:
        keys = sorted(k for k in a.scores if k[0] == t.code)
        tables[t.code] = TaskClips.from_scores(
            [a.scores[k][0] for k in keys], [[a.scores[k][1] for k in keys], [b.scores[k][1] for k in keys]]
        )
    reps = macro_replicates(bootstrap_task_means(tables, 500, 7), [t.code for t in TASKS])
    diff = reps[:, 1] - reps[:, 0]
    assert paired["summary"]["overall"]["ci"] == pytest.approx(list(percentile_interval(diff)))
    assert paired["summary"]["overall"]["share_b_better"] == pytest.approx(float(np.mean(diff > 0)))


def test_identical_runs_differ_by_zero(random_runs: tuple[Path, Path]) -> None:
    a = load_samples(random_runs[0])
    paired = compare(a, a)
    for e in [*paired["tasks"].values(), *paired["summary"].values()]:
        assert e["diff"] == 0 and e["ci"] == [0.0, 0.0] and e["share_b_better"] == 0


def test_a_run_shifted_by_a_known_amount(random_runs: tuple[Path, Path]) -> None:
    """B = A + 0.25 on every question: every replicate's difference is 0.25, so is its interval."""
    a = load_samples(random_runs[0])
    b = replace(a, scores={k: (clip, s + 0.25) for k, (clip, s) in a.scores.items()})
    paired = compare(a, b)
    for e in [*paired["tasks"].values(), *paired["summary"].values()]:
        assert e["diff"] == pytest.approx(0.25)
        assert e["ci"] == pytest.approx([0.25, 0.25])
        assert e["share_b_better"] == 1


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
        f"{e['share_b_better']:.1%}",
        "78 (65)",
    ]
    for t in TASKS:
        assert f"| {t.code} {t.name} | " in md
    assert "### Questions left out\n\n- none" in md
    with Image.open(paired_report["forest.png"]) as im:
        assert im.size == pixel_size(forest_size(len(TASKS) + len(LEVELS) + 2))
        assert len(im.getcolors(maxcolors=1_000_000) or []) > 20
    assert ET.parse(paired_report["forest.svg"]).getroot().tag.endswith("svg")


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
    assert "share no question (matched by task and doc id)" in err
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
