"""Real models end to end: ``humansense_omni`` over all 15 tasks and lmms-eval's stock ``qwen2_vl``
over the 13 video tasks, both through the ``lmms-eval`` CLI with tiny random-weight checkpoints
built offline here; plus the official frame budget and what the hooks hand each kind of wrapper."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest
from conftest import cli_env, run_lmms_eval
from fixture_data import make_root
from tiny_models import build_tiny_omni, build_tiny_qwen2_vl

from lmms_humansense import hooks, wrappers
from lmms_humansense.catalog import TASKS
from lmms_humansense.media import probe_video
from lmms_humansense.models.omni import MAX_PIXELS, HumanSenseOmni, frame_count, frame_size, official_fps

VIDEO_LEAVES = [t.leaf for t in TASKS if t.has_video]


@pytest.fixture(scope="session")
def tiny_omni(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_omni(tmp_path_factory.mktemp("tiny_omni"))


@pytest.fixture(scope="session")
def tiny_qwen2_vl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_qwen2_vl(tmp_path_factory.mktemp("tiny_qwen2_vl"))


@pytest.fixture(scope="module")
def small_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One question per task: the CLI runs below generate for real, so keep them few."""
    return make_root(tmp_path_factory.mktemp("small_root"), per_task=1)


def _samples(out: Path, leaf: str) -> list[dict]:
    (path,) = sorted(out.rglob(f"*_samples_{leaf}.jsonl"))
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _response(row: dict) -> str:
    resp = row["filtered_resps"]
    return resp[0] if isinstance(resp, list) else resp


@pytest.fixture(scope="module")
def omni_run(tiny_omni: Path, small_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("omni_run")
    out = tmp / "out"
    proc = run_lmms_eval(
        ["--model", "humansense_omni", "--model_args", f"pretrained={tiny_omni},device=cpu,dtype=float32"]
        + ["--tasks", "humansense,humansense_noaudio", "--gen_kwargs", "max_new_tokens=6"]
        + ["--output_path", str(out), "--log_samples"],
        cli_env(tmp, small_root),
        tmp,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def qwen2_vl_run(tiny_qwen2_vl: Path, small_root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    tmp = tmp_path_factory.mktemp("qwen2_vl_run")
    out = tmp / "out"
    proc = run_lmms_eval(
        ["--model", "qwen2_vl", "--model_args", f"pretrained={tiny_qwen2_vl},device=cpu,device_map=cpu"]
        + ["--tasks", ",".join(VIDEO_LEAVES), "--gen_kwargs", "max_new_tokens=6"]
        + ["--output_path", str(out), "--log_samples"],
        cli_env(tmp, small_root),
        tmp,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc.stdout + proc.stderr


def test_omni_adapter_answers_every_task_with_the_official_inputs(omni_run: Path) -> None:
    for t in TASKS:
        (row,) = _samples(omni_run, t.leaf)
        assert _response(row).strip(), f"{t.code}: no generated text"
        fed = row["acc"]["fed"]
        assert fed["new_tokens"] > 0 and fed["prompt_tokens"] > 0
        if t.has_video:
            # a 2 s clip of 16 frames: 1 fps asks for 2 frames, the reader's minimum makes it 4
            assert fed["frames"] == 4 and fed["video_tokens"] > 0, t.code
            h, w = fed["frame_size"]
            assert h % 28 == 0 and w % 28 == 0 and h * w <= MAX_PIXELS
        else:
            assert fed["frames"] == 0 and fed["video_tokens"] == 0, t.code
        if t.uses_audio:
            assert 1.9 < fed["audio_seconds"] < 2.2 and fed["audio_tokens"] > 0, t.code
            assert fed["audio_source"] == ("video track" if t.has_video else "audio file")
        else:
            assert fed["audio_seconds"] == 0 and fed["audio_tokens"] == 0 and fed["audio_source"] == "none", t.code


def test_omni_adapter_withholds_sound_in_the_noaudio_variant(omni_run: Path) -> None:
    for t in TASKS:
        if not t.has_video:
            continue
        (row,) = _samples(omni_run, f"humansense_noaudio_{t.code.lower()}")
        fed = row["acc"]["fed"]
        assert _response(row).strip() and fed["frames"] == 4
        assert fed["audio_tokens"] == 0 and fed["audio_source"] == "none", t.code


def test_omni_run_reports_every_group(omni_run: Path) -> None:
    (path,) = sorted(omni_run.rglob("*_results.json"))
    res = json.loads(path.read_text())["results"]
    for name in ("humansense", "humansense_noaudio"):
        assert isinstance(res[name]["acc,none"], float)


def test_stock_qwen2_vl_generates_on_every_video_task(qwen2_vl_run: tuple[Path, str]) -> None:
    out, _ = qwen2_vl_run
    for leaf in VIDEO_LEAVES:
        (row,) = _samples(out, leaf)
        assert _response(row).strip(), f"{leaf}: no generated text"


def test_a_wrapper_that_drops_audio_is_named_once_with_the_command_that_keeps_it(
    qwen2_vl_run: tuple[Path, str],
) -> None:
    _, log = qwen2_vl_run
    speech = [t.code for t in TASKS if t.has_video and t.uses_audio]
    assert log.count("passes no audio to its model") == len(speech)  # once per audio task of the run
    assert all(f"HumanSense task {code}: lmms-eval's `qwen2_vl` wrapper" in log for code in speech)
    assert wrappers.KEEP_AUDIO_COMMAND in log
    # said while the requests are built, before the model answers: not inside a progress line
    assert log.index("passes no audio") < log.index("Model Responding")


@pytest.mark.parametrize(
    ("frames", "native", "fps"),
    [
        (240, 30, 1.0),  # <= 300 frames: 1 fps
        (300, 30, 1.0),
        (450, 30, 0.5),  # 300 < n < 600: 0.5 fps
        (900, 30, 0.2),  # >= 600: 0.2 fps (30 s -> 6 frames)
        (9000, 30, 24 / 300),  # 300 s at 0.2 fps would be 60 frames: capped to 24
        (750, 29.97, 0.2),  # the runner divides by int(fps)
    ],
)
def test_official_frame_rate(frames: int, native: float, fps: float) -> None:
    assert official_fps(frames, native) == pytest.approx(fps)


def test_frame_count_and_size_follow_the_official_reader() -> None:
    assert frame_count(9000, 30.0, official_fps(9000, 30)) == 24
    assert frame_count(16, 8.0, 1.0) == 4  # at least 4
    assert frame_count(3, 8.0, 1.0) == 2  # never more than the clip has, even
    h, w = frame_size(720, 1280, 24)
    assert h % 28 == 0 and w % 28 == 0 and h * w <= 360 * 420 and abs(w / h - 16 / 9) < 0.1


def test_adapter_refuses_unknown_arguments_and_batches() -> None:
    with pytest.raises(TypeError, match="unknown model_args"):
        HumanSenseOmni(pretrained="x", fps=2)
    with pytest.raises(ValueError, match="batch_size=1"):
        HumanSenseOmni(pretrained="x", batch_size=4)


@pytest.fixture
def default_docs(generated_root: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, dict]:
    monkeypatch.setenv("HUMANSENSE_ROOT", str(generated_root))
    return {
        code: hooks.process_docs(datasets.Dataset.from_list([{"task": code, "variant": "default"}]))[0]
        for code in ("AR", "LD", "TR")
    }


def test_track_playing_wrappers_get_a_silent_copy_for_video_only_tasks(default_docs: dict[str, dict]) -> None:
    omni = {"run_model": "qwen2_5_omni"}
    for code in ("AR", "LD"):
        doc = default_docs[code]
        (visual,) = hooks.doc_to_visual(doc, omni)
        assert visual != doc["media"] and visual.endswith(".mp4")
        silent, original = probe_video(visual), probe_video(doc["media"])
        assert not silent.has_audio and silent.frames == original.frames
        assert hooks.doc_to_messages(doc, omni)[0]["content"][0]["url"] == visual
    tr = default_docs["TR"]
    assert hooks.doc_to_visual(tr, omni) == [tr["media"]]  # the 5 speech tasks keep their track
    # a vision-only wrapper: no copy is made
    assert hooks.doc_to_visual(default_docs["AR"], {"run_model": "qwen2_vl"}) == [default_docs["AR"]["media"]]


def test_two_runs_in_one_process_each_get_their_own_media_rules_and_warnings(
    tiny_omni: Path,
    tiny_qwen2_vl: Path,
    small_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Nothing about a run outlives it: a vision-only wrapper, then the omni adapter, in one process.

    The first run is warned that its wrapper drops the sound and logs no fed record; the second
    gets the track and its own fed records, and no warning meant for the first.
    """
    import logging

    from lmms_eval.evaluator import simple_evaluate

    monkeypatch.setenv("HUMANSENSE_ROOT", str(small_root))
    tasks = ["humansense_ar", "humansense_tr"]

    def run(model: str, model_args: str) -> dict:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="lmms_humansense"):
            out = simple_evaluate(
                model=model, model_args=model_args, tasks=tasks, gen_kwargs="max_new_tokens=4", log_samples=True
            )
        return out

    vl = run("qwen2_vl", f"pretrained={tiny_qwen2_vl},device=cpu,device_map=cpu")
    assert "HumanSense task TR: lmms-eval's `qwen2_vl` wrapper passes no audio" in caplog.text
    assert caplog.text.count("passes no audio") == 1  # AR gets no sound: nothing dropped there
    assert all("fed" not in s["acc"] for leaf in tasks for s in vl["samples"][leaf])

    omni = run("humansense_omni", f"pretrained={tiny_omni},device=cpu,dtype=float32")
    assert "passes no audio" not in caplog.text
    (ar,) = omni["samples"]["humansense_ar"]
    (tr,) = omni["samples"]["humansense_tr"]
    assert ar["acc"]["fed"]["audio_source"] == "none" and tr["acc"]["fed"]["audio_source"] == "video track"
    assert tr["acc"]["fed"]["audio_seconds"] > 0
