"""Loading records into docs: every task loads, counts against the paper, and every malformed-record error."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from lmms_humansense.catalog import TASKS
from lmms_humansense.data.schema import MediaMissingError, RecordError, load_all_docs, load_task_docs


def _break(root: Path, task_type: str, mutate) -> None:
    records = _records(root)
    for rec in records:
        if rec["questions"]["task_type"] == task_type:
            mutate(rec)
            break
    _write(root, records)


def _records(root: Path, name: str = "HumanSense_VQA.json") -> list[dict]:
    return json.loads((root / name).read_text())


def _write(root: Path, records: list[dict], name: str = "HumanSense_VQA.json") -> None:
    (root / name).write_text(json.dumps(records))


def test_every_task_loads_flat_docs(generated_root: Path) -> None:
    docs = load_all_docs(generated_root)
    assert set(docs) == {t.code for t in TASKS}
    assert all(len(v) == 2 for v in docs.values())
    doc = docs["ES"][0]
    assert doc["task"] == "ES" and doc["level"] == "L4" and doc["modality"] == "video+audio"
    assert Path(doc["media"]).is_file() and doc["clip"] == "videos/es_000.mp4"
    assert doc["fps"] == 8 and doc["frames"] == 16 and doc["transcript"].startswith("Speaker one")
    assert doc["answer_format"] == "single" and doc["answer"] in "ABCD"
    assert docs["ES"][0]["id"] != docs["ES"][1]["id"]
    assert docs["ES"][0]["clip"] == docs["ES"][1]["clip"]  # two questions on one clip
    assert docs["PC"][0]["media"].endswith(".wav") and docs["HC"][0]["answer_format"] == "numeric"
    assert docs["AR"][0]["answer"] == "".join(sorted(docs["AR"][0]["answer"]))


def test_count_differences_are_reported(root_copy: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="lmms_humansense"):
        load_task_docs(root_copy, "AR")
    assert "AR 2 (paper 300)" in caplog.text


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r["questions"].pop("options"), "questions.options is missing"),
        (lambda r: r["questions"].update(options=[]), "questions.options must be a non-empty list"),
        (lambda r: r["questions"].update(answer="E"), "is not among the options' letters"),
        (lambda r: r["questions"].update(question_pattern="Essay question"), "unknown question_pattern"),
        (lambda r: r.pop("video_path"), "field video_path"),
        (lambda r: r["questions"].pop("question"), "questions.question is missing"),
        (lambda r: r["questions"].update(options=["A. x"]), "1 options for a single question"),
    ],
)
def test_malformed_records_name_record_and_field(root_copy: Path, mutate, message: str) -> None:
    _break(root_copy, "Emo_Strategy", mutate)
    with pytest.raises(RecordError) as err:
        load_task_docs(root_copy, "ES")
    text = str(err.value)
    assert message in text
    assert "HumanSense_VQA.json record #" in text


def test_missing_media_names_every_record_and_the_fix(root_copy: Path) -> None:
    (root_copy / "videos" / "es_000.mp4").unlink()
    with pytest.raises(MediaMissingError) as err:
        load_task_docs(root_copy, "AR")
    text = str(err.value)
    assert "2 HumanSense record(s)" in text and "data/videos/es_000.mp4" in text and "ES-VQA" in text
    assert "lmms-humansense verify" in text
