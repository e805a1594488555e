"""`lmms-humansense report`: the paper as data, hand-built results with known numbers, and the
report of real lmms-eval runs (dummy and the chance baseline) on a generated root."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from conftest import cli_env, run_lmms_eval_several
from PIL import Image

from lmms_humansense import cli
from lmms_humansense.catalog import LEVELS, TASKS, VARIANTS
from lmms_humansense.report import make_report
from lmms_humansense.report.load import ReportInputError, load_runs
from lmms_humansense.report.paper import HUMAN, TABLE1, find_row
from lmms_humansense.report.plots import figure_sizes, pixel_size
from lmms_humansense.report.render import build, to_markdown
from lmms_humansense.scoring import macro_mean

QWEN_OMNI = find_row("Qwen2.5-Omni-7B")


# --- the paper as data ----------------------------------------------------------------------------
def test_paper_avg_recomputes_except_ola_and_ixc() -> None:
    flagged = {row.name: row for row in TABLE1 if row.avg_mismatch() is not None}
    assert set(flagged) == {"Ola-7B", "IXC2.5-OmniLive-7B"}
    assert round(flagged["Ola-7B"].recomputed_avg(), 3) == 0.522
    assert round(flagged["IXC2.5-OmniLive-7B"].recomputed_avg(), 3) == 0.513
    for row in TABLE1:
        assert len(row.scores) == 15
        if row.avg is not None and row.name not in flagged:
            assert row.recomputed_avg() == pytest.approx(row.avg, abs=0.0015), row.name
    assert HUMAN.avg_mismatch() is None and HUMAN.recomputed_avg() == pytest.approx(0.875, abs=0.0005)
    assert find_row("Qwen2-Audio-7B").recomputed_avg() is None  # no video task: no Avg, as in the paper


def test_paper_rows_are_found_by_loose_names() -> None:
    assert find_row("Qwen25-Omni-7B") is QWEN_OMNI  # the official runner's spelling
    assert find_row("qwen2.5-omni-7b") is QWEN_OMNI
    assert find_row("ola").name == "Ola-7B"
    with pytest.raises(KeyError, match="Table 1 has: GPT-4o"):
        find_row("Qwen")  # ambiguous


# --- hand-built results with known numbers --------------------------------------------------------
def fake_results(
    accs: dict[str, float],
    variant: str = "default",
    model: str = "qwen2_5_vl",
    model_args: str = "pretrained=Qwen/Qwen2.5-VL-7B-Instruct,max_num_frames=8",
    n: int | None = None,
    failures: dict[str, float] | None = None,
) -> dict[str, Any]:
    """An lmms-eval 0.7.3 results dict with the keys the README documents."""
    v = VARIANTS[variant]
    results: dict[str, Any] = {}
    counts = {}
    for code, acc in accs.items():
        leaf = v.leaf(code)
        results[leaf] = {
            "alias": leaf,
            "acc,none": acc,
            "acc_stderr,none": "N/A",
            "acc_official,none": round(acc - 0.1, 6),
            "parse_failure,none": (failures or {}).get(code, 0.0),
            "paper_avg,none": acc if code not in ("FR2", "PC") else None,
        }
        expected = next(t.paper_count for t in TASKS if t.code == code)
        counts[leaf] = {"original": n or expected, "effective": n or expected}
    return {
        "results": results,
        "n-samples": counts,
        "configs": {leaf: {"generation_kwargs": {"max_new_tokens": 256, "until": []}} for leaf in counts},
        "config": {"model": model, "model_args": model_args, "limit": None, "gen_kwargs": ""},
        "date": "20260101_120000",
    }


def _write(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture
def known(tmp_path: Path) -> dict[str, Any]:
    """Every task 0.5 except AR 0.8 and PC missing; ER has 20% parse failures."""
    accs = {t.code: 0.5 for t in TASKS if t.code != "PC"}
    accs["AR"] = 0.8
    _write(tmp_path / "out" / "20260101_120000_results.json", fake_results(accs, failures={"ER": 0.2}))
    return build(load_runs([tmp_path / "out"]), ["qwen25-omni-7b", "Ola-7B"])


def test_known_numbers_in_the_json(known: dict[str, Any]) -> None:
    (run,) = known["runs"]
    assert run["label"] == "qwen2_5_vl (Qwen2.5-VL-7B-Instruct) [default]"
    assert known["paper_models"] == ["Qwen2.5-Omni-7B", "Ola-7B"] and known["reference"] == "Qwen2.5-Omni-7B"
    assert run["tasks"]["PC"] is None and run["missing"] == ["PC"]
    assert run["tasks"]["AR"]["acc"] == 0.8 and run["tasks"]["AR"]["acc_official"] == pytest.approx(0.7)
    assert run["tasks"]["AR"]["delta"] == pytest.approx(0.8 - 0.473)
    s = run["summary"]
    assert s["L4"]["acc"] == {"value": 0.5, "tasks": 1, "of": 2}  # ES only: PC is missing, not 0
    assert s["L1"]["acc"]["value"] == pytest.approx((0.8 + 3 * 0.5) / 4)
    assert s["overall"]["acc"] == {"value": pytest.approx((0.8 + 13 * 0.5) / 14), "tasks": 14, "of": 15}
    assert s["paper_avg"]["acc"] == {"value": pytest.approx((0.8 + 12 * 0.5) / 13), "tasks": 13, "of": 13}
    assert s["L4"]["delta"]["value"] == pytest.approx(0.5 - 0.607)  # over the tasks both have
    paper_avg_delta = macro_mean(
        [0.8 - 0.473] + [0.5 - QWEN_OMNI.scores[c] for c in QWEN_OMNI.scores if c not in ("AR", "FR2", "PC")]
    )
    assert s["paper_avg"]["delta"]["value"] == pytest.approx(paper_avg_delta)
    assert run["settings"]["frames"] == "max_num_frames=8"
    assert "dropped by the `qwen2_5_vl` wrapper" in run["settings"]["audio"]
    warnings = " ".join(run["warnings"])
    assert "PC" in warnings and "ER 20%" in warnings and "passes no audio" in warnings
    assert "subset" not in warnings  # full counts
    ola = next(r for r in known["paper"] if r["name"] == "Ola-7B")
    assert ola["avg_published"] == 0.525 and round(ola["avg_recomputed"], 3) == 0.522


def test_markdown_shows_missing_and_the_paper_mismatch(known: dict[str, Any]) -> None:
    md = to_markdown(known)
    pc_row = next(line for line in md.splitlines() if line.startswith("| PC Psychological Chat | L4"))
    cells = [c.strip() for c in pc_row.strip("|").split("|")]
    assert cells[2:6] == ["0.933", "0.399", "0.567", "missing"]  # human, Qwen2.5-Omni, Ola, the run
    l4 = next(line for line in md.splitlines() if line.startswith("| L4 Interaction"))
    assert "0.500 (1/2)" in l4 and "0.000" not in l4
    assert re.search(r"\| Ola-7B \| 0\.525 ⚠ \| 0\.522 \|", md)
    assert re.search(r"\| IXC2\.5-OmniLive-7B \| 0\.544 ⚠ \| 0\.513 \|", md)
    assert "| Qwen2.5-Omni-7B | 0.554 | 0.554 |" in md
    assert "Ola-7B's published Avg 0.525" in md
    assert "Δ R1 − Qwen2.5-Omni-7B" in md


def _numbers(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set().union(*(_numbers(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_numbers(v) for v in value)) if value else set()
    if isinstance(value, float) or (isinstance(value, int) and not isinstance(value, bool)):
        return {f"{value:.3f}", f"{value:+.3f}", f"{value:.1%}", f"{value:.0%}", f"{value:,}", f"{value:g}"}
    return set()


def assert_markdown_numbers_in_json(md: str, report: dict[str, Any]) -> None:
    """Every decimal number the Markdown prints is one of the JSON's numbers."""
    known_numbers = _numbers(report)
    text = re.sub(r"\(\d+/\d+\)|`[^`]*`|arXiv \S+|\d{8}_\d{6}", "", md)  # coverage marks, code, ids, dates
    found = re.findall(r"(?<![\w.])[+-]?\d+\.\d+%?", text)  # not inside names such as Qwen2.5
    assert found
    strays = sorted({n for n in found if n not in known_numbers})
    assert not strays, strays


def test_every_markdown_number_is_in_the_json(known: dict[str, Any]) -> None:
    assert_markdown_numbers_in_json(to_markdown(known), known)


def test_variants_in_one_file_and_nested_folders_are_separate_labelled_runs(tmp_path: Path) -> None:
    data = fake_results(
        {"ES": 0.6, "PC": 0.4}, model="humansense_omni", model_args="pretrained=/ckpt/HumanSense_Omni_Reasoning"
    )
    think = fake_results({t.code: 0.7 for t in TASKS}, variant="think")
    data["results"].update(think["results"])
    data["n-samples"].update(think["n-samples"])
    data["results"]["mmmu_val"] = {"acc,none": 0.1}  # another benchmark in the same file is ignored
    # lmms-eval versions that write <output_path>/<model>/<date>_results.json
    _write(tmp_path / "out" / "humansense_omni" / "20260101_120000_results.json", data)
    runs = load_runs([tmp_path / "out"])
    assert [r.label for r in runs] == [
        "humansense_omni (HumanSense_Omni_Reasoning) [default]",
        "humansense_omni (HumanSense_Omni_Reasoning) [think]",
    ]
    assert runs[0].missing == tuple(t.code for t in TASKS if t.code not in ("ES", "PC"))
    assert runs[1].missing == () and runs[1].settings["frames"].startswith("official budget")
    assert runs[1].settings["variant"].startswith("think:")


def test_same_label_twice_is_numbered(tmp_path: Path) -> None:
    a = _write(tmp_path / "a_results.json", fake_results({"ES": 0.6}))
    b = _write(tmp_path / "b_results.json", fake_results({"ES": 0.4}))
    assert [r.label for r in load_runs([a, b])] == [
        "qwen2_5_vl (Qwen2.5-VL-7B-Instruct) [default] #1",
        "qwen2_5_vl (Qwen2.5-VL-7B-Instruct) [default] #2",
    ]


def test_same_model_with_other_args_is_labelled_by_the_args_that_differ(tmp_path: Path) -> None:
    omni = "pretrained=Qwen/Qwen2.5-Omni-7B"
    args = {"a": f"{omni},frames=official,seed=1", "b": f"{omni},frames=open_r1_16,seed=1", "c": f"{omni},seed=1"}
    files = [
        _write(tmp_path / f"{name}_results.json", fake_results({"ES": 0.6}, model="humansense_omni", model_args=a))
        for name, a in args.items()
    ]
    assert [r.label for r in load_runs(files)] == [
        "humansense_omni (Qwen2.5-Omni-7B) [default] with frames=official",
        "humansense_omni (Qwen2.5-Omni-7B) [default] with frames=open_r1_16",
        "humansense_omni (Qwen2.5-Omni-7B) [default] with frames=(default)",
    ]


def test_recorded_git_state_is_not_called_the_lmms_eval_version(tmp_path: Path) -> None:
    """lmms-eval 0.7.3 stores the git describe of the folder it ran in as "lmms_eval_version"."""
    data = fake_results({"ES": 0.6})
    data["lmms_eval_version"] = "main@1a2b3c4"
    md = to_markdown(build(load_runs([_write(tmp_path / "a_results.json", data)]), []))
    assert "- R1: run from a git checkout at `main@1a2b3c4`" in md
    assert "lmms-eval main@" not in md


def test_bad_inputs_say_what_to_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReportInputError, match=r"holds no \*_results.json.*--output_path"):
        load_runs([tmp_path / "empty"])
    other = _write(tmp_path / "x.json", {"hello": 1})
    with pytest.raises(ReportInputError, match="neither an lmms-eval results file"):
        load_runs([other])
    foreign = _write(tmp_path / "f_results.json", {"results": {"mmmu_val": {"acc,none": 0.3}}})
    with pytest.raises(ReportInputError, match="holds no HumanSense task"):
        load_runs([foreign])
    good = _write(tmp_path / "g_results.json", fake_results({"ES": 0.6}))
    assert cli.main(["report", str(good), "--out", str(tmp_path / "r"), "--paper-model", "Qwen9", "--no-plots"]) == 2
    assert "no paper row named 'Qwen9'" in capsys.readouterr().err
    # the file next to the results file in a run's folder (lmms-eval's --log_samples lines)
    samples = tmp_path / "run" / "20260101_120000_samples_humansense_es.jsonl"
    samples.parent.mkdir()
    line = {"doc_id": 0, "target": "B", "resps": [["B"]], "filtered_resps": ["B"], "acc": {"acc": 1.0}}
    samples.write_text(json.dumps(line) + "\n" + json.dumps({**line, "doc_id": 1}) + "\n", encoding="utf-8")
    assert cli.main(["report", str(samples), "--out", str(tmp_path / "r"), "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert f"{samples} is a samples file" in err and f"pass its folder, {samples.parent}" in err
    assert "Extra data" not in err


def test_plots_of_a_run_without_any_l1_l2_task(tmp_path: Path) -> None:
    _write(tmp_path / "r_results.json", fake_results({"FR2": 0.6, "PC": 0.3}, variant="enhanced"))
    written = make_report([tmp_path / "r_results.json"], tmp_path / "rep", ["GPT-4o"])
    report = json.loads(written["report.json"].read_text())
    for name, size in figure_sizes(report).items():
        with Image.open(written[f"{name}.png"]) as im:
            assert im.size == pixel_size(size)
    assert report["runs"][0]["label"].endswith("[enhanced]")
    assert report["runs"][0]["missing"] == ["TR", "FR1", "RR1", "RR2", "ES"]


# --- real lmms-eval output --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_runs(generated_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The dummy model (default and noaudio tasks) and the chance baseline, run side by side."""
    tmp = tmp_path_factory.mktemp("report_runs")
    jobs = {
        "dummy": ["--tasks", "humansense,humansense_noaudio", "--model", "dummy", "--model_args", "response=A"],
        "random": ["--tasks", "humansense", "--model", "humansense_random"],
    }
    spec = [
        {
            "argv": [*args, "--output_path", str(tmp / name / "out")],
            "env": {"HUMANSENSE_CACHE": str(tmp / name / "cache")},
        }
        for name, args in jobs.items()
    ]
    proc, logs = run_lmms_eval_several(spec, cli_env(tmp, generated_root), tmp)
    assert proc.returncode == 0 and [rc for rc, _ in logs] == [0] * len(spec), proc.stderr[-3000:]
    for name in jobs:
        assert list((tmp / name / "out").rglob("*_results.json")), proc.stderr[-3000:]
    return {name: tmp / name / "out" for name in jobs}


@pytest.fixture(scope="module")
def real_report(real_runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("report")
    code = cli.main(
        ["report", str(real_runs["dummy"]), str(real_runs["random"]), "--out", str(out)]
        + ["--paper-model", "Qwen2.5-Omni-7B", "--paper-model", "IXC2.5-OmniLive-7B"]
    )
    assert code == 0
    return {p.name: p for p in out.iterdir()}


def test_real_runs_are_read_with_their_variants(real_runs: dict[str, Path]) -> None:
    runs = load_runs([real_runs["dummy"], real_runs["random"]])
    assert [r.label for r in runs] == ["dummy [default]", "dummy [noaudio]", "humansense_random [default]"]
    assert [r.missing for r in runs] == [(), (), ()]
    assert set(runs[1].tasks) == set(VARIANTS["noaudio"].codes)
    assert runs[1].settings["audio"].startswith("off")
    for run in runs:
        assert all(t.n == 2 for t in run.tasks.values())


def test_real_report_numbers_are_lmms_evals(real_runs: dict[str, Path], real_report: dict[str, Path]) -> None:
    report = json.loads(real_report["report.json"].read_text())
    files = [*sorted(real_runs["dummy"].rglob("*_results.json")), *sorted(real_runs["random"].rglob("*_results.json"))]
    results = [json.loads(f.read_text())["results"] for f in files]
    by_label = {r["label"]: r for r in report["runs"]}
    pairs = [
        (by_label["dummy [default]"], results[0], "humansense"),
        (by_label["dummy [noaudio]"], results[0], "humansense_noaudio"),
        (by_label["humansense_random [default]"], results[1], "humansense"),
    ]
    for run, res, prefix in pairs:
        for code, entry in run["tasks"].items():
            leaf = f"{prefix}_{code.lower()}"
            if entry is None:
                assert leaf not in res
                continue
            for metric in ("acc", "acc_official", "parse_failure"):
                assert entry[metric] == pytest.approx(res[leaf][f"{metric},none"]), (leaf, metric)
        # levels, overall and the paper's Avg are lmms-eval's group numbers
        assert run["summary"]["overall"]["acc"]["value"] == pytest.approx(res[prefix]["acc,none"])
        assert run["summary"]["paper_avg"]["acc"]["value"] == pytest.approx(res[prefix]["paper_avg,none"])
        for level in LEVELS:
            group = f"{prefix}_{level.lower()}"
            assert run["summary"][level]["acc"]["value"] == pytest.approx(res[group]["acc,none"]), group
            assert run["summary"][level]["acc_official"]["value"] == pytest.approx(res[group]["acc_official,none"])
        assert run["reported_by_lmms_eval"]["overall"] == pytest.approx(res[prefix]["acc,none"])


def test_real_report_markdown(real_report: dict[str, Path]) -> None:
    md = real_report["report.md"].read_text()
    report = json.loads(real_report["report.json"].read_text())
    assert "![Radar charts" in md and "(radar.png)" in md and "(levels.png)" in md
    for t in TASKS:
        assert f"| {t.code} {t.name} |" in md
    assert "**R2** dummy [noaudio]" in md
    fr2 = next(line for line in md.splitlines() if line.startswith("| FR2 Fraud Recognition | L3"))
    assert [c.strip() for c in fr2.strip("|").split("|")][6] == "n/a"  # R2 (noaudio) has no FR2 by design
    assert "a subset such as the sample set" in md  # 2 questions per task
    assert "HC 100%" in md  # the dummy's "A" is no number
    assert "IXC2.5-OmniLive-7B's published Avg 0.544" in md
    assert_markdown_numbers_in_json(md, report)


def test_real_report_pictures(real_report: dict[str, Path]) -> None:
    import matplotlib.image as mpimg

    report = json.loads(real_report["report.json"].read_text())
    assert len(report["paper_models"]) + len(report["runs"]) == 2 + 3  # two paper rows, three runs
    for name, size in figure_sizes(report).items():
        png = real_report[f"{name}.png"]
        with Image.open(png) as im:
            assert im.format == "PNG" and im.size == pixel_size(size)
            assert len(im.getcolors(maxcolors=1_000_000) or []) > 20  # something was drawn
        assert mpimg.imread(png).shape[:2] == pixel_size(size)[::-1]
        root = ET.parse(real_report[f"{name}.svg"]).getroot()
        assert root.tag.endswith("svg")


def test_readme_example_is_the_current_rendering() -> None:
    """docs/report_example is what `lmms-humansense report` writes today (regenerate it if this fails:
    `make sample`, then copy out/sample/report/; tests/test_readme_commands.py checks its numbers)."""
    from lmms_humansense.report import IMAGES

    docs = Path(__file__).resolve().parent.parent / "docs" / "report_example"
    report = json.loads((docs / "report.json").read_text(encoding="utf-8"))
    assert (docs / "report.md").read_text(encoding="utf-8") == to_markdown(report, IMAGES)
    for name, size in figure_sizes(report).items():
        with Image.open(docs / f"{name}.png") as im:
            assert im.size == pixel_size(size)
    readme = (docs.parent.parent / "README.md").read_text(encoding="utf-8")
    assert "docs/report_example/radar.png" in readme and "docs/report_example/levels.png" in readme


def test_runs_table_and_warning_count_the_same_questions(tmp_path: Path) -> None:
    """A run of two tasks out of 15: the Runs table, the warning and the legend say "6 of 591"."""
    from lmms_humansense.report.plots import series

    data = fake_results({"ES": 0.5, "PC": 0.5}, n=3)
    report = build(load_runs([_write(tmp_path / "a_results.json", data)]), [])
    paper = sum(t.paper_count for t in TASKS if t.code in ("ES", "PC"))
    md = to_markdown(report)
    row = next(line for line in md.splitlines() if line.startswith("| R1 |"))
    assert f"| 6 of {paper:,} |" in row
    assert f"**R1**: 6 of the paper's {paper:,} questions" in md
    assert f"6 of {paper:,} questions, not comparable" in series(report)[-1].legend.replace("\n", " ")


def test_report_ends_with_the_file_to_open(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _write(tmp_path / "g_results.json", fake_results({"ES": 0.6}))
    assert cli.main(["report", str(good), "--out", str(tmp_path / "r"), "--no-plots"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith(f"open {tmp_path / 'r' / 'report.md'}: the overview")
