"""`lmms-humansense score`: the official runner's files, re-scored with known answers."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fixture_data import PLACEHOLDER_TASK_TYPES, make_record

from lmms_humansense import cli
from lmms_humansense.catalog import BY_CODE, TASKS
from lmms_humansense.data.root import AQA_FILE, VQA_FILE
from lmms_humansense.data.taskmap import TaskMapError, unknown_error
from lmms_humansense.report.load import load_runs
from lmms_humansense.rescore import score_files

MODEL = "Qwen25-Omni-7B"


def _records(answers: dict[str, list[Any]]) -> tuple[list[dict], list[dict]]:
    """Official-schema records with the model's answers stored as the official runner stores them.

    ``answers[code][i]`` is the i-th record's answer; ``...`` (Ellipsis) leaves the key out (the
    runner never reached the question).  Media files need not exist to score.
    """
    vqa, aqa = [], []
    for code, given in answers.items():
        task = BY_CODE[code]
        for i, answer in enumerate(given):
            folder = "videos" if task.has_video else "audios"
            rec = make_record(task, i, f"data/{folder}/{code.lower()}_{i:03d}.mp4", 8, 16)
            if answer is not ...:
                rec["questions"][MODEL] = answer
            (vqa if task.has_video else aqa).append(rec)
    return vqa, aqa


def _write(tmp: Path, answers: dict[str, list[Any]], with_map: bool = True) -> list[Path]:
    vqa, aqa = _records(answers)
    paths = []
    for name, records in ((VQA_FILE, vqa), (AQA_FILE, aqa)):
        if records:
            path = tmp / f"{Path(name).stem}_{MODEL}_audio.json"
            path.write_text(json.dumps(records), encoding="utf-8")
            paths.append(path)
    if with_map:
        (tmp / "humansense_task_map.json").write_text(json.dumps({v: k for k, v in PLACEHOLDER_TASK_TYPES.items()}))
    return paths


def _gold(code: str, i: int) -> str:
    return make_record(BY_CODE[code], i, "x.mp4", 8, 16)["questions"]["answer"]


def test_known_answers_give_known_scores(tmp_path: Path) -> None:
    # ER (single choice, 4 options): right, right but in a sentence, wrong, empty, not reached
    er = [_gold("ER", 0), f"The answer is {_gold('ER', 1)}", "Z", "", ...]
    # HC (numeric): "10" where the gold is 10 reads as 1 for the official scorer
    hc = [_gold("HC", 0), "10", "three"]
    assert _gold("HC", 2) == "7" and _gold("HC", 3) == "10"
    hc.append("10")
    # AR (multi-select): partial credit 0.5 for a subset, 0 for a wrong letter
    ar = [_gold("AR", 0)[:1], "D"]
    assert _gold("AR", 0) == "AC" and _gold("AR", 1) == "B"
    paths = _write(tmp_path, {"ER": er, "HC": hc, "AR": ar, "PC": [_gold("PC", 0)]})
    scores = score_files(paths, MODEL)
    assert list(scores) == ["AR", "ER", "HC", "PC"]  # catalog order, only the tasks present
    e = scores["ER"]
    # "Z" is not an option letter: wrong for the official rule, unreadable for the parser
    assert (e.n, e.n_empty, e.n_unanswered) == (3, 1, 1)
    assert e.acc == pytest.approx(2 / 4)  # empty answers count as 0 in acc
    assert e.acc_official == pytest.approx(1 / 3)  # first character only; the empty one left out
    assert e.parse_failure == pytest.approx(2 / 4)  # "Z" and the empty answer
    h = scores["HC"]
    assert h.acc == pytest.approx(2 / 4)  # gold, "10"=10 for the robust reader
    assert h.acc_official == pytest.approx(1 / 4)  # "10" reads as 1 (twice wrong), "three" scores 0
    a = scores["AR"]
    assert a.acc == pytest.approx(0.25) and a.acc_official == pytest.approx(0.25)
    assert scores["PC"].acc == 1.0 and scores["PC"].n == 1


def test_think_rules_read_the_answer_tag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gold = _gold("ES", 0)
    paths = _write(tmp_path, {"ES": [f"<think>the second person smiles</think><answer>{gold}</answer>"]})
    assert score_files(paths, MODEL)["ES"].acc_official == 0.0  # score.py reads "<"
    assert score_files(paths, MODEL, think=True)["ES"].acc_official == 1.0
    assert cli.main(["score", *map(str, paths), "--answer-key", MODEL, "--think", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {
        "ES": {
            "acc": 1.0,
            "acc_official": 1.0,
            "n": 1,
            "n_empty": 0,
            "n_unanswered": 0,
            "parse_failure": 0.0,
            "acc_se": "N/A",  # one clip: no standard error, as lmms-eval writes it
            "acc_official_se": "N/A",
            "clips": 1,
        }
    }


def test_json_is_what_the_report_reads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    answers = {t.code: [_gold(t.code, 0), ""] for t in TASKS if t.code != "LD"}
    answers["LD"] = [..., ...]  # never reached: missing in the report, not 0
    paths = _write(tmp_path, answers)
    assert cli.main(["score", *map(str, paths), "--answer-key", MODEL, "--json"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert set(data) == {t.code for t in TASKS}
    assert data["AR"] == {
        "acc": 0.5,
        "acc_official": 1.0,
        "n": 1,
        "n_empty": 1,
        "n_unanswered": 0,
        "parse_failure": 0.5,
        "acc_se": 0.5,  # clip-clustered over the two answers' clips, as an lmms-eval run records it
        "acc_official_se": "N/A",  # one non-empty answer
        "clips": 2,
    }
    assert data["LD"]["n"] == 0 and data["LD"]["acc"] is None
    assert "without an answer" in captured.err and "LD 2" in captured.err
    assert "empty answers" in captured.err
    scores_file = tmp_path / "scores_Qwen25-Omni-7B.json"
    scores_file.write_text(captured.out)
    (run,) = load_runs([scores_file])
    assert run.variant == "official-runner" and run.label == "scores_Qwen25-Omni-7B [official-runner]"
    assert run.missing == ("LD",)
    assert run.tasks["AR"].acc_official == 1.0 and run.tasks["AR"].n == 1
    assert (run.tasks["AR"].acc_se, run.tasks["AR"].clips) == (0.5, 2)
    from lmms_humansense.report.render import build

    entry = build([run], [])["runs"][0]["tasks"]["AR"]
    assert (
        entry["acc_ci"] is not None and entry["acc_ci"][0] <= 0.5 <= entry["acc_ci"][1]
    )  # re-scored files get intervals


def test_plain_output_has_every_task_and_the_averages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = _write(tmp_path, {"ER": [_gold("ER", 0)], "FR2": ["A"]})
    assert cli.main(["score", *map(str, paths), "--answer-key", MODEL]) == 0
    out = capsys.readouterr().out
    assert "ER Emotion Recognition" in out and "FR2 Fraud Recognition" in out
    assert "Paper Avg (13 video tasks)" in out and "(1/13 tasks)" in out


def test_unknown_task_type_is_the_loading_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = _write(tmp_path, {"ER": ["A", "B"], "TR": ["A"]}, with_map=False)
    with pytest.raises(TaskMapError) as info:
        score_files(paths, MODEL)
    expected = str(unknown_error(Counter({PLACEHOLDER_TASK_TYPES["ER"]: 2}), tmp_path))
    assert str(info.value).startswith(expected)
    assert "--task-map FILE" in str(info.value)
    # the CLI prints it without a traceback and exits 2
    assert cli.main(["score", *map(str, paths), "--answer-key", MODEL]) == 2
    assert "'Emotion_Recognition': 2 record(s)" in capsys.readouterr().err
    # --task-map FILE fixes it
    mapping = tmp_path / "elsewhere.json"
    mapping.write_text(json.dumps({"Emotion_Recognition": "ER"}))
    assert score_files(paths, MODEL, task_map=str(mapping))["ER"].n == 2


def test_wrong_model_name_lists_the_names_found(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = _write(tmp_path, {"ER": ["A"]})
    assert cli.main(["score", *map(str, paths), "--answer-key", "Qwen2.5-Omni"]) == 2
    err = capsys.readouterr().err
    assert "'Qwen25-Omni-7B' (1)" in err and "--answer-key" in err


def test_a_broken_record_names_the_file_and_record(tmp_path: Path) -> None:
    paths = _write(tmp_path, {"ER": ["A", "B"]})
    data = json.loads(paths[0].read_text())
    del data[1]["questions"]["question"]
    paths[0].write_text(json.dumps(data))
    with pytest.raises(ValueError, match=re.escape(paths[0].name) + r" record #1 .*questions.question is missing"):
        score_files(paths, MODEL)
