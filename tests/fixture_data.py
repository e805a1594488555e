"""Generated benchmark roots in the official layout: the shipped sample set and the tests' data.

No real HumanSense file can be had where this package is developed, so the sample set and every
test root are made here: real h264/aac mp4 files and real WAVs written with PyAV (no ffmpeg
program needed), annotation records in the official schema covering every question pattern and
option count the protocol has.  One generator serves both, so the tests run on data shaped exactly
like the sample a user starts with.

The 8 task_type strings no public source spells out are given placeholder names here and mapped
with a ``humansense_task_map.json`` in the root, the mechanism real data needs too.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from lmms_humansense.catalog import TASKS, Task
from lmms_humansense.data.root import AQA_FILE, SAMPLE_MARKER, VQA_FILE
from lmms_humansense.data.taskmap import ROOT_FILE

#: Placeholder task_type strings for the tasks whose official string is not public.
PLACEHOLDER_TASK_TYPES = {
    "AR": "Action_Recognition",
    "ER": "Emotion_Recognition",
    "GR": "Gesture_Recognition",
    "PA": "Appearance_Recognition",
    "CM": "Complex_Motion",
    "HC": "Human_Counting",
    "LD": "Lie_Detection",
}
# Single-choice option counts, rotated over the tasks so every count 2-5 appears.
_SINGLE_COUNTS = {
    "ER": 4,
    "GR": 5,
    "AC": 3,
    "CM": 4,
    "TR": 3,
    "FR1": 4,
    "FR2": 2,
    "LD": 2,
    "RR1": 5,
    "RR2": 3,
    "ES": 4,
    "PC": 4,
}
_WORDS = ["happy", "angry", "surprised", "calm", "walking", "waving", "sitting", "running", "laughing"]


def write_video(
    path: Path,
    seconds: float = 2.0,
    fps: int = 8,
    size: tuple[int, int] = (96, 64),
    audio: bool = True,
    tone_hz: float = 440.0,
    audio_rate: int = 44_100,
    faststart: bool = False,
) -> Path:
    """An h264 mp4 of moving colour bars, with an AAC sine tone unless ``audio`` is False.

    ``faststart`` puts the index at the front, as files prepared for streaming have it; such a
    file cut short still opens, and only decoding its end shows the damage.
    """
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = size
    n_frames = max(1, int(round(seconds * fps)))
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), mode="w", options=options) as container:
        vstream = container.add_stream("libx264", rate=fps)
        vstream.width, vstream.height, vstream.pix_fmt = width, height, "yuv420p"
        vstream.options = {"preset": "ultrafast", "tune": "zerolatency"}
        astream = container.add_stream("aac", rate=audio_rate) if audio else None
        if astream is not None:
            astream.layout = "mono"
        for i in range(n_frames):
            img = np.zeros((height, width, 3), dtype=np.uint8)
            img[:, :, 0] = (np.arange(width) * 4 + i * 16) % 256
            img[:, :, 1] = (i * 32) % 256
            img[:, :, 2] = 128
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            for packet in vstream.encode(frame):
                container.mux(packet)
        for packet in vstream.encode():
            container.mux(packet)
        if astream is not None:
            _encode_tone(container, astream, seconds, tone_hz, audio_rate)
    return path


def write_multitrack_video(
    path: Path, tracks: list[tuple[str, float, bool]], seconds: float = 2.0, fps: int = 8, start: float = 0.0
) -> Path:
    """An h264 mp4 with one AAC track per ``(layout, amplitude, default)``: a 440 Hz tone at that
    amplitude (0 is silence), ``mono`` or ``stereo``, its "default" disposition set or cleared
    (the mp4 muxer marks the first track default unless told otherwise).  ``start`` delays every
    track's first sample, as a late-starting sound has it."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    rate = 44_100
    with av.open(str(path), mode="w") as container:
        vstream = container.add_stream("libx264", rate=fps)
        vstream.width, vstream.height, vstream.pix_fmt = 32, 32, "yuv420p"
        astreams = []
        for layout, amplitude, default in tracks:
            stream = container.add_stream("aac", rate=rate)
            stream.layout = layout
            stream.disposition = (av.stream.Disposition.default if default else av.stream.Disposition(0)).value
            astreams.append((stream, layout, amplitude))
        for i in range(max(1, int(round(seconds * fps)))):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), i * 16 % 256, dtype=np.uint8), format="rgb24")
            for packet in vstream.encode(frame):
                container.mux(packet)
        for packet in vstream.encode():
            container.mux(packet)
        for stream, layout, amplitude in astreams:
            _encode_tone(container, stream, seconds - start, 440.0, rate, amplitude, layout, int(start * rate))
    return path


def _encode_tone(
    container: Any,
    stream: Any,
    seconds: float,
    tone_hz: float,
    rate: int,
    amplitude: float = 0.3,
    layout: str = "mono",
    first_pts: int = 0,
) -> None:
    import av

    total = int(seconds * rate)
    t = np.arange(total) / rate
    samples = (amplitude * np.sin(2 * math.pi * tone_hz * t)).astype(np.float32)
    channels = 2 if layout == "stereo" else 1
    frame_size = stream.codec_context.frame_size or 1024
    pts = first_pts
    for start in range(0, total, frame_size):
        chunk = samples[start : start + frame_size]
        packed = np.repeat(chunk, channels).reshape(1, -1)  # interleaved: one sample per channel in turn
        frame = av.AudioFrame.from_ndarray(packed, format="flt", layout=layout)
        frame.sample_rate = rate
        frame.pts = pts
        frame.time_base = Fraction(1, rate)
        pts += chunk.shape[0]
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)


def write_wav(path: Path, seconds: float = 2.0, rate: int = 16_000, tone_hz: float = 330.0) -> Path:
    """A mono 16-bit PCM WAV holding a sine tone."""
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    sf.write(str(path), (0.3 * np.sin(2 * math.pi * tone_hz * t)).astype(np.float32), rate, subtype="PCM_16")
    return path


def task_type_of(task: Task) -> str:
    return task.task_type or PLACEHOLDER_TASK_TYPES[task.code]


def _options(n: int, offset: int) -> list[str]:
    letters = "ABCDE"
    return [f"{letters[i]}. {_WORDS[(offset + i) % len(_WORDS)]}" for i in range(n)]


def make_record(task: Task, index: int, media: str, fps: int, frames: int, answer_index: int = 0) -> dict[str, Any]:
    """One record in the official schema for ``task`` (the question pattern follows the task)."""
    q: dict[str, Any] = {"task_type": task_type_of(task)}
    if task.answer_format == "numeric":
        q.update(
            question=f"How many different people appear in clip {index}",
            question_pattern="Question and answer (Arabic numerals)",
            answer=str((index * 3 + 1) % 11),
        )
    elif task.answer_format == "multi":
        q.update(
            question=f"What does the person do in clip {index}",
            question_pattern="Multiple-choice question (select one or more answer choices)",
            options=_options(4, index),
            answer=["AC", "B", "ABD"][index % 3],
        )
    else:
        n = _SINGLE_COUNTS[task.code]
        q.update(
            question=f"Which best describes the person in clip {index}",
            question_pattern="Multiple-choice question (select one answer choice)",
            options=_options(n, index),
            answer="ABCDE"[(answer_index + index) % n],
        )
    if task.has_video:
        q.update(full_frame_number=frames, fps=fps)
    if task.uses_audio:
        q["asr_en"] = f"Speaker one says hello in clip {index}. Speaker two answers."
    return {"video_path": media, "questions": q}


def make_root(
    target: Path,
    per_task: int = 2,
    tasks: Iterable[Task] = TASKS,
    seconds: float = 2.0,
    fps: int = 8,
    size: tuple[int, int] = (96, 64),
    sample: bool = False,
    share_clips: bool = True,
) -> Path:
    """A benchmark root in the official layout with ``per_task`` questions per task.

    With ``share_clips`` the first two questions of a task ask about the same clip, as the real
    benchmark does (several questions per video), so clustered standard errors have clusters.
    """
    target.mkdir(parents=True, exist_ok=True)
    vqa: list[dict[str, Any]] = []
    aqa: list[dict[str, Any]] = []
    frames = int(round(seconds * fps))
    for task in tasks:
        for i in range(per_task):
            clip_no = 0 if (share_clips and i == 1) else i
            stem = f"{task.code.lower()}_{clip_no:03d}"
            if task.has_video:
                rel = f"data/videos/{stem}.mp4"
                file = target / "videos" / f"{stem}.mp4"
                if not file.exists():
                    write_video(file, seconds=seconds, fps=fps, size=size, audio=True, tone_hz=220 + 40 * clip_no)
                vqa.append(make_record(task, i, rel, fps, frames))
            else:
                rel = f"data/audios/{stem}.wav"
                file = target / "audios" / f"{stem}.wav"
                if not file.exists():
                    write_wav(file, seconds=seconds, tone_hz=300 + 30 * clip_no)
                aqa.append(make_record(task, i, rel, fps, frames))
    (target / VQA_FILE).write_text(json.dumps(vqa, indent=1), encoding="utf-8")
    (target / AQA_FILE).write_text(json.dumps(aqa, indent=1), encoding="utf-8")
    mapping = {PLACEHOLDER_TASK_TYPES[t.code]: t.code for t in tasks if t.code in PLACEHOLDER_TASK_TYPES}
    (target / ROOT_FILE).write_text(json.dumps(mapping, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    if sample:
        (target / SAMPLE_MARKER).write_text(SAMPLE_TEXT, encoding="utf-8")
    return target


def make_paper_root(
    target: Path, spellings: dict[str, str] | None = None, counts: dict[str, int] | None = None
) -> Path:
    """A root with the paper's 15 per-task counts (3,882 records) over one short clip per task.

    ``spellings`` gives task codes the ``task_type`` strings the data should use, ``counts``
    overrides a task's number of records.  No task map is written: the strings the catalog does not
    know are what the real files will hold.
    """
    make_root(target, per_task=1, size=(32, 32), share_clips=False)
    (target / ROOT_FILE).unlink()
    spellings = spellings or {}
    counts = counts or {}
    files: dict[str, list[dict[str, Any]]] = {VQA_FILE: [], AQA_FILE: []}
    for task in TASKS:
        media = f"data/{'videos' if task.has_video else 'audios'}/{task.code.lower()}_000.{'mp4' if task.has_video else 'wav'}"
        for i in range(counts.get(task.code, task.paper_count)):
            record = make_record(task, i, media, 8, 16)
            record["questions"]["task_type"] = spellings.get(task.code, task_type_of(task))
            files[VQA_FILE if task.has_video else AQA_FILE].append(record)
    for name, records in files.items():
        (target / name).write_text(json.dumps(records), encoding="utf-8")
    return target


SAMPLE_TEXT = """# HumanSense sample set (generated; not the benchmark)

A few questions per task in the official layout, with generated media (colour bars and sine tones),
for the quick start and the tests. Scores on it say nothing about a model. The placeholder
task_type strings of the 7 tasks whose official strings are not public are mapped in
humansense_task_map.json, the same way real data is mapped.
Regenerated in a clone of the source repository (the installed package has no tests/ folder):
`python tests/fixture_data.py`.
"""


def main() -> None:
    """Rebuild the shipped sample set in place."""
    import shutil

    from lmms_humansense import sample_root

    root = sample_root()
    for sub in ("videos", "audios"):
        shutil.rmtree(root / sub, ignore_errors=True)
    make_root(root, per_task=3, sample=True)
    print(f"sample set written to {root}")


if __name__ == "__main__":
    main()


#: The commit hash the generated hub cache pretends the dataset is at.
FAKE_COMMIT = "0" * 32 + "c0ffee42"


def make_archives(root: Path, target: Path, top_folder: dict[str, bool] | None = None) -> Path:
    """``bench_data/`` as the hub holds it, built from a generated root: the two JSON files and two zips.

    ``top_folder`` says per archive whether its entries sit under ``videos/`` (``audios/``) or
    lie flat; the real archives' inner layout is not documented, so the download accepts both.
    """
    import shutil
    import zipfile

    top_folder = top_folder or {"videos": True, "audios": False}
    target.mkdir(parents=True, exist_ok=True)
    for name in (VQA_FILE, AQA_FILE):
        shutil.copyfile(root / name, target / name)
    for folder, nested in top_folder.items():
        with zipfile.ZipFile(target / f"{folder}.zip", "w", compression=zipfile.ZIP_STORED) as zf:
            if nested:
                zf.writestr(zipfile.ZipInfo(f"{folder}/"), "")
            for file in sorted((root / folder).glob("*")):
                zf.write(file, f"{folder}/{file.name}" if nested else file.name)
    return target


def make_hub_cache(hf_home: Path, root: Path, commit: str = FAKE_COMMIT, revision: str = "main") -> Path:
    """A Hugging Face hub cache holding the dataset's ``bench_data/`` as a download would have left it.

    The layout is the hub cache's own (``datasets--<org>--<name>/{refs,snapshots,trees}``), so the
    real ``huggingface_hub`` code resolves it with ``HF_HUB_OFFLINE=1``.  The cached tree listing
    also names ``train_data/`` files that are absent: a fetch asking for more than ``bench_data/``
    finds the snapshot incomplete and fails, which is how the tests prove it never asks.
    """
    from lmms_humansense.data.root import HUB_REPO

    repo = hf_home / "hub" / f"datasets--{HUB_REPO.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    make_archives(root, snapshot / "bench_data")
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / revision).write_text(commit, encoding="utf-8")
    files = {
        f.relative_to(snapshot).as_posix(): {"size": f.stat().st_size, "blob_id": f"{i:040x}"}
        for i, f in enumerate(sorted(snapshot.rglob("*")))
        if f.is_file()
    }
    files["train_data/train.zip"] = {"size": 19_000_000_000, "blob_id": "f" * 40}
    (repo / "trees").mkdir(exist_ok=True)
    (repo / "trees" / f"{commit}.json").write_text(
        json.dumps({"format_version": 1, "files": files}, indent=1), encoding="utf-8"
    )
    return repo


def stub_dataset(code: str, variant: str = "default") -> Any:
    """The one-row stub lmms-eval loads for a leaf task: the leaf's ``dataset_name`` arrives as the
    dataset's config name, which is what ``process_docs`` reads."""
    import datasets

    from lmms_humansense.catalog import VARIANTS

    info = datasets.DatasetInfo(config_name=VARIANTS[variant].leaf(code))
    return datasets.Dataset.from_list([{"humansense": "stub"}], info=info)
