"""Real models end to end: ``humansense_omni`` over all 15 tasks and lmms-eval's stock ``qwen2_vl``
over the 13 video tasks, both through the ``lmms-eval`` CLI with tiny random-weight checkpoints
built offline here; plus the official frame budget and what the hooks hand each kind of wrapper."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import cli_env, logged_samples, run_lmms_eval, run_results
from fixture_data import make_root, stub_dataset, write_video
from tiny_models import build_tiny_omni, build_tiny_qwen2_vl
from wrapper_recorder import RECORD_ENV

from lmms_humansense import hooks, wrappers
from lmms_humansense.catalog import TASKS
from lmms_humansense.media import probe_video
from lmms_humansense.models.args import ModelArgsStop, ModelArgValueStop
from lmms_humansense.models.omni import (
    MAX_PIXELS,
    OFFICIAL_MAX_NEW_TOKENS,
    HumanSenseOmni,
    frame_count,
    frame_indices,
    frame_size,
    official_fps,
    question_seed,
    read_frames,
)

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
def qwen2_vl_run(
    tiny_qwen2_vl: Path, small_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str, list[dict]]:
    """The stock wrapper over the 13 video tasks and FR2, with a recorder around its real processor."""
    tmp = tmp_path_factory.mktemp("qwen2_vl_run")
    out, record = tmp / "out", tmp / "record.jsonl"
    args = ["--model", "qwen2_vl", "--model_args", f"pretrained={tiny_qwen2_vl},device=cpu,device_map=cpu"]
    args += ["--tasks", ",".join([*VIDEO_LEAVES, "humansense_fr2"]), "--gen_kwargs", "max_new_tokens=6"]
    args += ["--output_path", str(out), "--log_samples"]
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).parent / "wrapper_recorder.py"), "Qwen2VLProcessor", "--", *args],
        env=cli_env(tmp, small_root, **{RECORD_ENV: str(record)}),
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=900,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Error during evaluation" not in log, log[-3000:]
    return out, log, [json.loads(line) for line in record.read_text().splitlines()]


def test_omni_adapter_answers_every_task_with_the_official_inputs(omni_run: Path) -> None:
    for t in TASKS:
        (row,) = logged_samples(omni_run, t.leaf)
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
        (row,) = logged_samples(omni_run, f"humansense_noaudio_{t.code.lower()}")
        fed = row["acc"]["fed"]
        assert _response(row).strip() and fed["frames"] == 4
        assert fed["audio_tokens"] == 0 and fed["audio_source"] == "none", t.code


def test_omni_batches_spread_by_device_map_answer_as_one_question_at_a_time(
    omni_run: Path, tiny_omni: Path, small_root: Path, tmp_path: Path
) -> None:
    """Batches of 3 (video, speech-video and audio-only questions of both variants in one run),
    prepared ahead, the model loaded with ``device_map=auto`` (the CPU here): the same answers
    and the same ``acc.fed`` as the one-at-a-time run."""
    from test_omni_batches import answers, same_answers

    out = tmp_path / "out"
    proc = run_lmms_eval(
        ["--model", "humansense_omni", "--model_args", f"pretrained={tiny_omni},device_map=auto,dtype=float32"]
        + ["--batch_size", "3", "--tasks", "humansense,humansense_noaudio", "--gen_kwargs", "max_new_tokens=6"]
        + ["--output_path", str(out), "--log_samples"],
        cli_env(tmp_path, small_root),
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    one, three = answers(omni_run), answers(out)
    same_answers(one, three)
    assert {fed["architecture"] for _, fed in one.values()} == {"qwen2_5_omni"}
    assert {fed["batch"] for _, fed in one.values()} == {1} and max(fed["batch"] for _, fed in three.values()) == 3


def test_omni_run_reports_every_group(omni_run: Path) -> None:
    res = run_results(omni_run)["results"]
    for name in ("humansense", "humansense_noaudio"):
        assert isinstance(res[name]["acc,none"], float)


def test_stock_qwen2_vl_generates_on_every_video_task(qwen2_vl_run: tuple[Path, str, list[dict]]) -> None:
    out, _, _ = qwen2_vl_run
    for leaf in VIDEO_LEAVES:
        (row,) = logged_samples(out, leaf)
        assert _response(row).strip(), f"{leaf}: no generated text"


def test_qwen2_vl_gets_frames_and_never_the_sound(qwen2_vl_run: tuple[Path, str, list[dict]]) -> None:
    """What reaches the real processor (docs/wrappers.md): 4 frames of each 2 s clip, never audio;
    FR2 reaches it as text alone."""
    out, _, calls = qwen2_vl_run
    assert len(calls) == len(VIDEO_LEAVES) + 1 and not any(c["audio"] for c in calls)
    videos = [c["videos"] for c in calls if c["videos"]]
    assert len(videos) == len(VIDEO_LEAVES)
    assert all(len(v) == 1 and v[0][0] == 4 for v in videos)  # a 2 s clip: 2 fps, at least 4 frames
    (text_only,) = [c for c in calls if not c["videos"]]
    assert text_only["images"] == 0
    (row,) = logged_samples(out, "humansense_fr2")
    assert row["acc"]["outcome"] == "answered"


def test_a_wrapper_that_drops_audio_is_named_once_with_the_command_that_keeps_it(
    qwen2_vl_run: tuple[Path, str, list[dict]],
) -> None:
    _, log, _ = qwen2_vl_run
    speech = [t.code for t in TASKS if t.uses_audio and t.code != "PC"]  # the run's audio tasks, FR2 included
    assert log.count("passes no audio to its model") == len(speech)  # once per audio task of the run
    assert all(f"HumanSense task {code}: lmms-eval's `qwen2_vl` wrapper" in log for code in speech)
    assert wrappers.KEEP_AUDIO_COMMAND in log and "--model humansense_omni" in wrappers.KEEP_AUDIO_COMMAND
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


def test_adapter_refuses_unknown_arguments_and_batches_it_cannot_keep() -> None:
    with pytest.raises(ModelArgsStop, match=r"humansense_omni does not take --model_args 'fps'; it takes pretrained, "):
        HumanSenseOmni(pretrained="x", fps=2)
    with pytest.raises(ModelArgValueStop, match="batch_size=0 must be a whole number of at least 1"):
        HumanSenseOmni(pretrained="x", batch_size=0)
    with pytest.raises(ModelArgValueStop, match="decoding=official samples .* use batch_size=1 with it"):
        HumanSenseOmni(pretrained="x", batch_size=4, decoding="official")
    with pytest.raises(ModelArgValueStop, match="prepare_ahead='many' must be a whole number of at least 0"):
        HumanSenseOmni(pretrained="x", prepare_ahead="many")


def test_a_checkpoint_of_another_architecture_is_named(tiny_qwen2_vl: Path) -> None:
    with pytest.raises(
        ModelArgValueStop, match=r"is a 'qwen2_vl' checkpoint; this adapter runs qwen2_5_omni, qwen3_omni_moe"
    ):
        HumanSenseOmni(pretrained=str(tiny_qwen2_vl), device="cpu")


def test_unknown_frame_reader_or_decoding_is_named_with_the_choices(
    small_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.tasks import TaskManager

    from lmms_humansense.taskgen import tasks_dir

    monkeypatch.setenv("HUMANSENSE_ROOT", str(small_root))
    manager = TaskManager(include_path=str(tasks_dir()), include_defaults=False)
    for key, value, hint in (("frames", "r1", "frames=open_r1_16"), ("decoding", "beam", "decoding=official")):
        with pytest.raises(ModelArgValueStop, match=rf"humansense_omni: {key}='{value}' is not .*{hint}"):
            simple_evaluate(
                model="humansense_omni",
                model_args=f"pretrained=/nowhere,{key}={value}",
                tasks=["humansense_ar"],
                task_manager=manager,
            )


# --- frames=open_r1_16: the training code's reader -------------------------------------------------------
@pytest.mark.parametrize(
    ("total", "native"),
    [(16, 8.0), (60, 30.0), (450, 30.0), (900, 30.0), (9000, 30.0), (750, 29.97)],
)
def test_open_r1_16_resamples_the_official_sample_to_16_frames(total: int, native: float) -> None:
    """The documented rule: the official sample of n frames, then ``linspace(0, n - 1, 16)``
    truncated to integers (frames repeat when n < 16)."""
    fps = official_fps(total, native)
    official = frame_indices(total, native, fps)
    r1 = frame_indices(total, native, fps, "open_r1_16")
    n = frame_count(total, native, fps)
    assert len(official) == n and len(r1) == 16
    assert r1[0] == 0 and r1[-1] == total - 1 and r1 == sorted(r1)
    assert set(r1) <= set(official)
    assert len(set(r1)) == min(n, 16)  # every sampled frame kept when n <= 16, 16 distinct ones when more


def test_open_r1_16_on_a_two_second_clip_repeats_each_of_its_4_frames() -> None:
    # 16 frames at 8 fps, 1 fps asked: the official reader takes 4 frames (0, 5, 10, 15); the
    # training reader picks linspace(0, 3, 16) = 0, 0.2, ..., 3 of them, truncated.
    assert frame_indices(16, 8.0, 1.0) == [0, 5, 10, 15]
    assert frame_indices(16, 8.0, 1.0, "open_r1_16") == [0] * 5 + [5] * 5 + [10] * 5 + [15]


@pytest.mark.parametrize(("seconds", "fps", "size"), [(2.0, 8, (96, 64)), (12.0, 10, (160, 90)), (45.0, 8, (64, 96))])
def test_open_r1_16_reads_16_frames_of_the_official_size(
    seconds: float, fps: int, size: tuple[int, int], tmp_path: Path
) -> None:
    path = str(write_video(tmp_path / "clip.mp4", seconds=seconds, fps=fps, size=size, audio=False))
    total = int(round(seconds * fps))
    rate = official_fps(total, fps)
    official, _ = read_frames(path, rate)
    r1, r1_fps = read_frames(path, rate, "open_r1_16")
    n = frame_count(total, fps, rate)
    assert official.shape[0] == n and r1.shape[0] == 16
    # the pixel budget of the n-frame sample, as the training reader keeps it
    assert list(r1.shape[2:]) == list(official.shape[2:]) == list(frame_size(size[1], size[0], n))
    pick = [frame_indices(total, fps, rate).index(i) for i in frame_indices(total, fps, rate, "open_r1_16")]
    assert (r1 == official[pick]).all()  # the same decoded frames, resampled after the fps sample
    assert r1_fps == pytest.approx(16 / total * fps)


@pytest.fixture
def default_docs(generated_root: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, dict]:
    monkeypatch.setenv("HUMANSENSE_ROOT", str(generated_root))
    return {code: hooks.process_docs(stub_dataset(code, "default"))[0] for code in ("AR", "LD", "TR")}


def test_every_wrapper_gets_a_silent_copy_for_video_only_tasks(default_docs: dict[str, dict]) -> None:
    """One rule whatever the wrapper (hooks.question_media): the name changes nothing."""
    for model in ("qwen2_5_omni", "qwen2_vl", None):
        kwargs = {"run_model": model}
        for code in ("AR", "LD"):
            doc = default_docs[code]
            (visual,) = hooks.doc_to_visual(doc, kwargs)
            assert visual != doc["media"] and visual.endswith(".mp4")
            silent, original = probe_video(visual), probe_video(doc["media"])
            assert not silent.has_audio and silent.frames == original.frames
            assert hooks.doc_to_messages(doc, kwargs)[0]["content"][0]["url"] == visual
        tr = default_docs["TR"]
        assert hooks.doc_to_visual(tr, kwargs) == [tr["media"]]  # simple: the speech tasks keep their track


# --- decoding=official: the checkpoint's thinker generation config ----------------------------------------
SAMPLING = {"do_sample": True, "temperature": 5.0, "top_k": 400, "top_p": 1.0}
DECODING_LEAVES = "humansense_ar,humansense_tr,humansense_fr2"  # frames only, frames + track, audio file


@pytest.fixture(scope="session")
def sampling_omni(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny checkpoint of ``tiny_omni`` (same seed, same weights) whose thinker config samples."""
    return build_tiny_omni(tmp_path_factory.mktemp("sampling_omni"), thinker_generation=SAMPLING)


def _run(tmp: Path, root: Path, model_args: str, tasks: str = DECODING_LEAVES, extra: list[str] | None = None) -> Path:
    out = tmp / "out"
    proc = run_lmms_eval(
        ["--model", "humansense_omni", "--model_args", f"{model_args},device=cpu,dtype=float32", "--tasks", tasks]
        + (extra or [])
        + ["--output_path", str(out), "--log_samples"],
        cli_env(tmp, root),
        tmp,
    )
    assert proc.returncode == 0 and list(out.rglob("*_results.json")), proc.stderr[-3000:]
    return out


def _answers(out: Path) -> dict[str, tuple[str, str, dict]]:
    """Per leaf: the question id, the answer and what was fed."""
    rows = {}
    for leaf in DECODING_LEAVES.split(","):
        (row,) = logged_samples(out, leaf)
        fed = dict(row["acc"]["fed"])
        fed.pop("seconds")  # wall time
        rows[leaf] = (row["acc"]["id"], _response(row), fed)
    return rows


def test_greedy_ignores_the_checkpoints_sampling_and_official_follows_it_with_a_seed_per_question(
    sampling_omni: Path, omni_run: Path, small_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp("greedy")
    greedy = _answers(_run(tmp, small_root, f"pretrained={sampling_omni}", extra=["--gen_kwargs", "max_new_tokens=6"]))
    for leaf, (_qid, text, fed) in greedy.items():  # what the same weights answered without a sampling config
        (row,) = logged_samples(omni_run, leaf)
        assert text == _response(row) and fed["decoding"] == "greedy" and fed["seed"] is None, leaf
    official = [
        _answers(
            _run(tmp_path_factory.mktemp(f"official{i}"), small_root, f"pretrained={sampling_omni},decoding=official")
        )
        for i in range(2)
    ]
    assert official[0] == official[1]  # a fixed seed per question: reruns agree, records included
    for qid, _text, fed in official[0].values():
        assert fed["decoding"] == "official" and fed["seed"] == question_seed(0, qid)
        assert {k: fed["sampling"][k] for k in SAMPLING} == SAMPLING
        assert fed["sampling"]["max_new_tokens"] == OFFICIAL_MAX_NEW_TOKENS
    assert any(official[0][leaf][1] != greedy[leaf][1] for leaf in greedy)  # it samples


def test_open_r1_16_through_lmms_eval_feeds_16_frames_and_says_so(
    tiny_omni: Path, small_root: Path, tmp_path: Path
) -> None:
    rows = _answers(
        _run(
            tmp_path,
            small_root,
            f"pretrained={tiny_omni},frames=open_r1_16",
            extra=["--gen_kwargs", "max_new_tokens=4"],
        )
    )
    for leaf, (_qid, text, fed) in rows.items():
        assert text.strip() and fed["frames_mode"] == "open_r1_16", leaf
        assert fed["frames"] == (0 if leaf == "humansense_fr2" else 16), leaf
