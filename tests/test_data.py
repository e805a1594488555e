"""Loading a root: layout, path resolution, task mapping, and every malformed-record error."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from lmms_humansense import sample_root
from lmms_humansense.catalog import TASKS
from lmms_humansense.data.root import DataRootError, resolve_media, resolve_root
from lmms_humansense.data.schema import MediaMissingError, RecordError, load_all_docs, load_task_docs
from lmms_humansense.data.taskmap import TaskMapError, suggest_code


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


def test_root_from_env_and_folder_above_data(
    generated_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUMANSENSE_ROOT", str(generated_root))
    assert resolve_root() == generated_root.resolve()
    (tmp_path / "data").symlink_to(generated_root)
    monkeypatch.setenv("HUMANSENSE_ROOT", str(tmp_path))
    assert resolve_root() == (tmp_path / "data").resolve() or resolve_root().name == "data"


def test_without_root_the_error_says_where_the_data_lives() -> None:
    with pytest.raises(DataRootError) as err:
        resolve_root()
    text = str(err.value)
    assert "HUMANSENSE_ROOT" in text and "antgroup/HumanSense_Benchmark" in text and "sample-root" in text


def test_root_without_annotations_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataRootError, match="holds neither"):
        resolve_root(tmp_path)


@pytest.mark.parametrize(
    "raw", ["data/videos/es_000.mp4", "videos/es_000.mp4", "es_000.mp4", "x/y/data/videos/es_000.mp4"]
)
def test_media_paths_resolve_whatever_prefix(generated_root: Path, raw: str) -> None:
    assert resolve_media(generated_root, raw, "videos") == generated_root / "videos" / "es_000.mp4"


def test_absolute_media_path(generated_root: Path) -> None:
    target = generated_root / "videos" / "es_000.mp4"
    assert resolve_media(generated_root, str(target), "videos") == target


def test_sample_set_ships_and_is_marked() -> None:
    root = sample_root()
    assert (root / "HumanSense_VQA.json").is_file() and (root / "SAMPLE.md").is_file()
    docs = load_all_docs(root)
    assert all(len(v) >= 2 for v in docs.values())
    fmts = {(d["answer_format"], len(d["options"])) for v in docs.values() for d in v}
    assert {("single", 2), ("single", 3), ("single", 4), ("single", 5), ("multi", 4), ("numeric", 0)} <= fmts


def test_unknown_task_types_are_listed_with_counts_and_suggestions(root_copy: Path) -> None:
    (root_copy / "humansense_task_map.json").unlink()
    with pytest.raises(TaskMapError) as err:
        load_task_docs(root_copy, "AR")
    text = str(err.value)
    assert "'Action_Recognition': 2 record(s) -> probably AR" in text
    assert "'Human_Counting': 2 record(s) -> probably HC" in text
    assert "humansense_task_map.json" in text and "HUMANSENSE_TASK_MAP" in text
    assert text.count("record(s)") == 7


def test_mapping_from_environment(root_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mapping = json.loads((root_copy / "humansense_task_map.json").read_text())
    (root_copy / "humansense_task_map.json").unlink()
    monkeypatch.setenv("HUMANSENSE_TASK_MAP", ",".join(f"{k}={v}" for k, v in mapping.items()))
    assert len(load_task_docs(root_copy, "LD")) == 2
    file = root_copy.parent / "map.json"
    file.write_text(json.dumps(mapping))
    monkeypatch.setenv("HUMANSENSE_TASK_MAP", str(file))
    assert len(load_task_docs(root_copy, "GR")) == 2


def test_mapping_to_an_unknown_code_is_refused(root_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUMANSENSE_TASK_MAP", "Action_Recognition=XX")
    with pytest.raises(TaskMapError, match="not a task code"):
        load_task_docs(root_copy, "AR")


def test_suggestions_by_name() -> None:
    assert suggest_code("Lie_Detection") == "LD"
    assert suggest_code("Person_Appearance") == "PA"
    assert suggest_code("zzzz") is None


def test_count_differences_are_reported(root_copy: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="lmms_humansense"):
        load_task_docs(root_copy, "AR")
    assert "AR 2 (paper 300)" in caplog.text


def _break(root: Path, task_type: str, mutate) -> None:
    records = _records(root)
    for rec in records:
        if rec["questions"]["task_type"] == task_type:
            mutate(rec)
            break
    _write(root, records)


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
