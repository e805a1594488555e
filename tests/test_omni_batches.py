"""``humansense_omni`` on Qwen3-Omni-MoE (tiny random-weight checkpoint built here) through the
``lmms-eval`` CLI over all 15 tasks, batches against one question at a time (Qwen2.5-Omni's
batches: tests/test_models.py, against its shared run), the Qwen3-Omni reader's rounding (32) for several clip lengths after the processor,
and what each processor really keeps of a 45 s sound (Qwen2.5-Omni cuts it to 30 s)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import cli_env, logged_samples, run_lmms_eval
from fixture_data import make_root, stub_dataset, write_video
from tiny_models import build_tiny_omni, build_tiny_qwen3_omni

from lmms_humansense import cli, hooks
from lmms_humansense.catalog import BY_CODE, TASKS
from lmms_humansense.models.omni import (
    MAX_PIXELS,
    HumanSenseOmni,
    frame_count,
    frame_size,
    official_fps,
    read_frames,
)

LEAVES = [t.leaf for t in TASKS] + [f"humansense_noaudio_{t.code.lower()}" for t in TASKS if t.has_video]
#: Fields that say how a question was run rather than what the model got.
RUN_ONLY = ("seconds", "batch")


@pytest.fixture(scope="module")
def tiny_qwen3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_qwen3_omni(tmp_path_factory.mktemp("tiny_qwen3_omni"))


@pytest.fixture(scope="module")
def tiny_qwen25(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_omni(tmp_path_factory.mktemp("tiny_omni_b"))


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_root(tmp_path_factory.mktemp("batch_root"), per_task=1)


def _run(tmp: Path, root: Path, model_args: str, batch_size: int = 1) -> Path:
    out = tmp / "out"
    proc = run_lmms_eval(
        ["--model", "humansense_omni", "--model_args", f"{model_args},dtype=float32", "--batch_size", str(batch_size)]
        + ["--tasks", "humansense,humansense_noaudio", "--gen_kwargs", "max_new_tokens=6"]
        + ["--output_path", str(out), "--log_samples"],
        cli_env(tmp, root),
        tmp,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def answers(out: Path) -> dict[str, tuple[str, dict]]:
    """Each task's (one) answer and ``acc.fed`` of a run over ``humansense,humansense_noaudio``."""
    rows = {}
    for leaf in LEAVES:
        (row,) = logged_samples(out, leaf)
        resp = row["filtered_resps"]
        rows[leaf] = (resp[0] if isinstance(resp, list) else resp, row["acc"]["fed"])
    return rows


@pytest.fixture(scope="module")
def qwen3_runs(tiny_qwen3: Path, root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same 28 questions one at a time, nothing prepared ahead, then 4 per batch, prepared ahead."""
    one = _run(tmp_path_factory.mktemp("q3_b1"), root, f"pretrained={tiny_qwen3},device=cpu,prepare_ahead=0")
    four = _run(tmp_path_factory.mktemp("q3_b4"), root, f"pretrained={tiny_qwen3},device=cpu", batch_size=4)
    return one, four


def test_qwen3_omni_answers_every_task_under_the_official_protocol(qwen3_runs: tuple[Path, Path]) -> None:
    for leaf, (text, fed) in answers(qwen3_runs[0]).items():
        code = leaf.rsplit("_", 1)[1].upper()
        task, noaudio = BY_CODE[code], "noaudio" in leaf
        assert text.strip() and 0 < fed["new_tokens"] <= 6, leaf
        assert fed["architecture"] == "qwen3_omni_moe" and fed["reader"] == "qwen-omni-utils, factor 32"
        if task.has_video:
            # a 2 s clip of 96x64: 4 frames, sides rounded to 32 and raised to the reader's 128 x 32 x 32 floor
            assert fed["frames"] == 4 and fed["frame_size"] == list(frame_size(64, 96, 4, 32)), leaf
            h, w = fed["frame_size"]
            assert h % 32 == 0 and w % 32 == 0 and 128 * 32 * 32 <= h * w <= MAX_PIXELS
            assert fed["video_tokens"] == 4 // 2 * (h // 32) * (w // 32), leaf
        else:
            assert fed["frames"] == 0 and fed["video_tokens"] == 0, leaf
        if task.uses_audio and not noaudio:
            assert 1.9 < fed["audio_seconds"] < 2.2 and fed["audio_tokens"] > 0 and not fed["audio_cut"], leaf
            assert fed["audio_source"] == ("video track" if task.has_video else "audio file")
        else:
            assert fed["audio_tokens"] == 0 and fed["audio_source"] == "none", leaf


def same_answers(one: dict[str, tuple[str, dict]], many: dict[str, tuple[str, dict]]) -> None:
    assert one.keys() == many.keys()
    for leaf in one:
        assert many[leaf][0] == one[leaf][0], leaf
        strip = [{k: v for k, v in fed.items() if k not in RUN_ONLY} for fed in (one[leaf][1], many[leaf][1])]
        assert strip[0] == strip[1], leaf


def test_qwen3_omni_batches_answer_as_one_question_at_a_time(qwen3_runs: tuple[Path, Path]) -> None:
    one, four = answers(qwen3_runs[0]), answers(qwen3_runs[1])
    same_answers(one, four)
    assert {fed["batch"] for _, fed in one.values()} == {1}
    assert max(fed["batch"] for _, fed in four.values()) == 4


@pytest.mark.parametrize(("seconds", "fps", "size"), [(2.0, 8, (96, 64)), (20.0, 4, (96, 64)), (40.0, 4, (320, 180))])
def test_qwen3_reader_frames_and_sizes_survive_the_processor(
    seconds: float, fps: int, size: tuple[int, int], tiny_qwen3: Path, tmp_path: Path
) -> None:
    """1 fps for clips up to 300 frames, at most 24 frames, sides of 32: and the Qwen3-Omni
    processor keeps what the reader chose (its grid is the frames in patches of 16)."""
    from transformers import Qwen3OmniMoeProcessor

    clip = write_video(tmp_path / "clip.mp4", seconds=seconds, fps=fps, size=size, audio=False)
    total = int(round(seconds * fps))
    rate = official_fps(total, fps)
    n = frame_count(total, fps, rate)
    assert n == {2.0: 4, 20.0: 20, 40.0: 24}[seconds]
    frames, _ = read_frames(str(clip), rate, factor=32)
    h, w = frame_size(size[1], size[0], n, 32)
    assert tuple(frames.shape) == (n, 3, h, w) and h % 32 == 0 and w % 32 == 0
    processor = Qwen3OmniMoeProcessor.from_pretrained(tiny_qwen3)
    inputs = processor(text=["<|vision_start|><|video_pad|><|vision_end|>"], videos=[frames], return_tensors="pt")
    assert inputs["video_grid_thw"][0].tolist() == [n // 2, h // 16, w // 16]


@pytest.fixture(scope="module")
def long_sound_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One Fraud Recognition question whose audio file lasts 45 s."""
    return make_root(tmp_path_factory.mktemp("long_sound"), per_task=1, tasks=[BY_CODE["FR2"]], seconds=45.0)


@pytest.mark.parametrize(("builder", "kept"), [("qwen25", 30.0), ("qwen3", 45.0)])
def test_a_45_second_sound_is_recorded_as_the_processor_keeps_it(
    builder: str,
    kept: float,
    long_sound_root: Path,
    tiny_qwen25: Path,
    tiny_qwen3: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Qwen2.5-Omni's processor pads and cuts sound to Whisper's 30 s; Qwen3-Omni's keeps all of it.
    ``acc.fed`` says so, read against the processor's own feature mask (10 ms per frame)."""
    monkeypatch.setenv("HUMANSENSE_ROOT", str(long_sound_root))
    (doc,) = hooks.process_docs(stub_dataset("FR2", "default"))
    path = tiny_qwen25 if builder == "qwen25" else tiny_qwen3
    model = HumanSenseOmni(pretrained=str(path), device="cpu", dtype="float32")
    inputs, _, fed = model.inputs_for(doc, hooks.doc_to_text(doc))
    mask_seconds = float(inputs["feature_attention_mask"].sum()) * model.processor.feature_extractor.hop_length / 16000
    assert mask_seconds == pytest.approx(kept, abs=0.02)
    assert fed.audio_seconds == pytest.approx(kept, abs=0.02) and fed.audio_given_seconds == pytest.approx(45, abs=0.05)
    assert fed.audio_cut is (kept < 45)


def test_the_report_warns_when_sound_was_cut(tiny_qwen25: Path, long_sound_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_lmms_eval(
        ["--model", "humansense_omni", "--model_args", f"pretrained={tiny_qwen25},device=cpu,dtype=float32"]
        + ["--tasks", "humansense_fr2", "--gen_kwargs", "max_new_tokens=4", "--output_path", str(out), "--log_samples"],
        cli_env(tmp_path, long_sound_root),
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (row,) = logged_samples(out, "humansense_fr2")
    assert row["acc"]["fed"]["audio_cut"] is True
    (results,) = sorted(out.rglob("*_results.json"))
    assert cli.main(["report", str(results), "--out", str(tmp_path / "report"), "--no-plots"]) == 0
    text = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert "sound cut to what the feature extractor keeps on FR2 (1 of 1 questions)" in text


def test_an_unreadable_clip_costs_its_question_in_its_turn(
    tiny_qwen3: Path, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prepared ahead and batched, a clip that opens but does not decode becomes its own question's
    ``media_error`` answer (naming the doc and the file) in its turn; the questions around it,
    in the same batch, are answered."""
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.tasks import TaskManager

    from lmms_humansense.models.omni import Question
    from lmms_humansense.taskgen import tasks_dir

    broken = tmp_path / "root"
    shutil.copytree(root, broken)
    records = json.loads((broken / "HumanSense_VQA.json").read_text())
    target = next(r for r in records if "/gr_" in r["video_path"])
    # A faststart mp4 cut at 20 %: its header opens (the load-time check passes), its frames do not decode.
    clip = write_video(broken / target["video_path"].removeprefix("data/"), seconds=2.0, faststart=True)
    clip.write_bytes(clip.read_bytes()[: len(clip.read_bytes()) // 5])
    monkeypatch.setenv("HUMANSENSE_ROOT", str(broken))
    docs = [
        hooks.process_docs(stub_dataset(code, variant))[0]
        for code, variant in (("AR", "default"), ("ER", "default"), ("GR", "default"), ("AR", "noaudio"))
    ]
    questions = [
        Question(i, d, hooks.doc_to_text(d), {"max_new_tokens": 2}, hooks.question_kind(d)) for i, d in enumerate(docs)
    ]
    model = HumanSenseOmni(pretrained=str(tiny_qwen3), device="cpu", dtype="float32", batch_size=4)
    got = [(q.index, answer.fed.get("outcome")) for q, answer in model.answers(questions)]
    assert got == [(0, None), (1, None), (2, "media_error"), (3, None)]
    said = r"HumanSense doc GR-\S+ \(task GR\): .*gr_000\.mp4: frames do not decode"
    manager = TaskManager(include_path=str(tasks_dir()), include_defaults=False)
    results = simple_evaluate(
        model="humansense_omni",
        model_args=f"pretrained={tiny_qwen3},device=cpu,dtype=float32",
        batch_size=4,
        tasks=["humansense_ar", "humansense_gr"],
        task_manager=manager,
        gen_kwargs="max_new_tokens=2",
    )
    assert results["results"]["humansense_ar"]["not_answered,none"] == 0
    bad = [s["acc"] for s in results["samples"]["humansense_gr"] if s["acc"]["outcome"] == "media_error"]
    assert bad and all(re.match(said, a["error"]) for a in bad)
