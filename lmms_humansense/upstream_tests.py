"""HumanSense task folder: registration, prompts, loading and scoring on synthetic docs.

The export's ``test/eval/test_humansense.py``: written against this package and exported with its
imports moved to ``lmms_eval.tasks.humansense`` (the package never imports it).
"""

import json
from pathlib import Path

import datasets
import pytest
from lmms_eval.tasks import TaskManager

import lmms_humansense.hooks as utils
from lmms_humansense.catalog import LEVELS, TASKS, VARIANTS

LEAVES = sorted(v.leaf(t.code) for v in VARIANTS.values() for t in v.tasks())
GROUPS = sorted({v.prefix for v in VARIANTS.values()} | {VARIANTS["default"].level_group(lv) for lv in LEVELS})


def _record(task_type: str, media: str) -> dict:
    return {
        "video_path": media,
        "questions": {
            "task_type": task_type,
            "question": "How does the speaker feel",
            "question_pattern": "Multiple-choice question (select one answer choice)",
            "options": ["A. happy", "B. angry", "C. calm", "D. sad"],
            "answer": "B",
            "full_frame_number": 16,
            "fps": 8,
            "asr_en": "I cannot believe it.",
        },
    }


def _clip(path: Path) -> None:
    """A 1 s mp4 with a video and a sound stream: the load opens every clip and checks its streams."""
    import av
    import numpy as np

    with av.open(str(path), mode="w") as out:
        video, sound = out.add_stream("mpeg4", rate=8), out.add_stream("aac", rate=16000)
        video.width, video.height, video.pix_fmt, sound.layout = 32, 32, "yuv420p", "mono"
        for i in range(8):
            out.mux(video.encode(av.VideoFrame.from_ndarray(np.full((32, 32, 3), 30 * i, np.uint8), format="rgb24")))
        out.mux(video.encode())
        tone = av.AudioFrame.from_ndarray(np.zeros((1, 16000), np.float32), format="fltp", layout="mono")
        tone.sample_rate = 16000
        out.mux(sound.encode(tone))
        out.mux(sound.encode())


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "videos").mkdir()
    _clip(tmp_path / "videos" / "es_000.mp4")
    records = [_record("Emo_Strategy", "data/videos/es_000.mp4")]
    (tmp_path / "HumanSense_VQA.json").write_text(json.dumps(records), encoding="utf-8")
    monkeypatch.setenv("HUMANSENSE_ROOT", str(tmp_path))
    return tmp_path


def _stub(leaf: str) -> datasets.Dataset:
    """The one-row stub as lmms-eval loads it for a leaf: its ``dataset_name`` is the config name."""
    return datasets.Dataset.from_list([{"humansense": "stub"}], info=datasets.DatasetInfo(config_name=leaf))


def test_every_task_and_group_is_registered() -> None:
    manager = TaskManager("ERROR")
    assert not (set(LEAVES) | set(GROUPS)).difference(manager.all_tasks)


def test_docs_load_from_the_data_root(root: Path) -> None:
    docs = utils.process_docs(_stub("humansense_es"))
    assert len(docs) == 1
    doc = docs[0]
    assert doc["task"] == "ES" and doc["answer"] == "B" and doc["with_audio"]
    assert doc["media"] == str(root / "videos" / "es_000.mp4")


def test_prompt_is_the_official_single_choice_template(root: Path) -> None:
    doc = utils.process_docs(_stub("humansense_es"))[0]
    prompt = utils.doc_to_text(doc)
    assert prompt.startswith("\nYou are an advanced multimodal analysis AI assistant.")
    assert "How does the speaker feel" in prompt and "A. happy\nB. angry\nC. calm\nD. sad" in prompt
    assert prompt.endswith("answer one correct letter only, do not include any extra text or explanation:\n")


def test_scoring_reads_answers_without_guessing(root: Path) -> None:
    doc = utils.process_docs(_stub("humansense_es"))[0]
    right = utils.process_results(doc, ["B"])
    wrong = utils.process_results(doc, ["A"])
    unread = utils.process_results(doc, ["Based on the video, I think it is hard to say."])
    assert right["acc"]["score"] == 1.0 and wrong["acc"]["score"] == 0.0
    assert unread["acc"]["score"] == 0.0 and unread["parse_failure"]["score"] == 1.0
    assert utils.mean_score([right["acc"], wrong["acc"]]) == 0.5


def test_missing_media_names_the_record_and_the_fix(root: Path) -> None:
    (root / "videos" / "es_000.mp4").unlink()
    with pytest.raises(utils.DataLoadStop, match="es_000.mp4") as stop:  # a SystemExit: not retried, exits 1
        utils.process_docs(_stub("humansense_es"))
    assert isinstance(stop.value.error, FileNotFoundError)


def test_the_catalog_has_the_papers_question_counts() -> None:
    assert sum(t.paper_count for t in TASKS) == 3882
