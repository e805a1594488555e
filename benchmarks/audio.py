"""The audio path side by side, and `verify`'s throughput, on generated clips.

Per clip length (5 s, 30 s, 150 s: the lengths of the speech tasks), the median of several runs of:

- cached load: what every question after the first on a clip costs here (read the cached 16 kHz WAV);
- first-time extraction: decode + resample to 16 kHz mono + atomic WAV write (what `prepare` does);
- raw decodes, no resampling, no writing: PyAV, decord's AudioReader, an ffmpeg process to a pipe;
  the fastest of them is the yardstick for the extraction;
- the official runner's path: ``librosa.load(mp4, sr=16000)`` as ``qwen_omni_utils`` calls it
  (soundfile cannot read mp4, so librosa falls back to audioread, which runs the ffmpeg program).

Needs an ``ffmpeg`` program for the last two: the one on PATH, else the binary of the
``imageio-ffmpeg`` wheel (``pip install -r benchmarks/requirements.txt``).

Run: ``python benchmarks/audio.py [--repeat 5] [--verify-clips 30]``
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

# The generated roots and tiny checkpoints are test scaffolding (tests/), not part of the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

LENGTHS = (5, 30, 150)


def _ffmpeg_on_path(tmp: Path) -> str | None:
    """An ``ffmpeg`` command audioread can find: the system's, else imageio-ffmpeg's binary."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    link = tmp / "bin" / "ffmpeg"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(imageio_ffmpeg.get_ffmpeg_exe())
    os.environ["PATH"] = f"{link.parent}{os.pathsep}{os.environ['PATH']}"
    return str(link)


def _medians(
    fns: dict[str, Callable[[], object]], repeat: int, before: dict[str, Callable[[], None]]
) -> dict[str, float]:
    """Median seconds of each function, run in turn within every round.

    Interleaving puts each contender under the same passing load of a shared machine (timed one
    after the other in blocks, the ratios moved by up to 25 % between identical runs), and the
    order turns every round so none always follows the heavy ffmpeg and librosa runs.
    """
    names = list(fns)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(repeat):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:  # each goes first in turn
            if name in before:
                before[name]()
            start = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def _raw_pyav(path: Path) -> int:
    """Decode and keep the decoder's samples (one copy, no conversion): the least any reader does."""
    import av

    kept = bytearray()
    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.audio[0]):
            for plane in frame.planes:
                kept += memoryview(plane)[: frame.samples * 4]
    return len(kept)


def _raw_decord(path: Path) -> int:
    from decord import AudioReader

    return AudioReader(str(path), sample_rate=-1, mono=False).shape[1]


def _raw_ffmpeg(path: Path, ffmpeg: str) -> int:
    out = subprocess.run(
        [ffmpeg, "-v", "error", "-i", str(path), "-vn", "-f", "s16le", "-"], capture_output=True, check=True
    ).stdout
    return len(out)


def _official(path: Path) -> int:
    import librosa

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # librosa warns that it falls back to audioread for mp4
        return len(librosa.load(str(path), sr=16000)[0])


def audio_table(clips: dict[int, Path], repeat: int, ffmpeg: str | None) -> list[str]:
    from lmms_humansense.media import cached_audio_path, ensure_cached_audio, load_cached_audio

    rows = [
        "| clip | cached load | first-time extraction | raw PyAV | raw decord | raw ffmpeg pipe | official "
        "(librosa via audioread+ffmpeg) | official / cached | extraction / fastest raw |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    if ffmpeg:
        _official(clips[min(clips)])  # librosa's one-time start-up (numba compilation) is not counted
    for seconds, clip in clips.items():
        wav = cached_audio_path(clip)
        contenders: dict[str, Callable[[], object]] = {
            "first": lambda c=clip: ensure_cached_audio(c),
            "PyAV": lambda c=clip: _raw_pyav(c),
            "decord": lambda c=clip: _raw_decord(c),  # native rate, as decoded
        }
        took = _medians(contenders, repeat, before={"first": lambda w=wav: w.unlink(missing_ok=True)})
        if ffmpeg:  # a run that starts an ffmpeg process slows whatever runs next: a group of their own
            spawning: dict[str, Callable[[], object]] = {
                "ffmpeg": lambda c=clip: _raw_ffmpeg(c, ffmpeg),
                "official": lambda c=clip: _official(c),
            }
            took.update(_medians(spawning, repeat, before={}))
        ensure_cached_audio(clip)
        cached = _medians({"cached": lambda c=clip: load_cached_audio(c)}, repeat * 4, before={})["cached"]
        first, official = took.pop("first"), took.pop("official", float("nan"))
        raw = took
        fastest = min(raw.values())
        rows.append(
            f"| {seconds} s | {cached * 1e3:.2f} ms | {first * 1e3:.1f} ms | {raw['PyAV'] * 1e3:.1f} ms | "
            f"{raw['decord'] * 1e3:.1f} ms | {raw.get('ffmpeg', float('nan')) * 1e3:.1f} ms | "
            f"{official * 1e3:.1f} ms | **{official / cached:.0f}x** | **{first / fastest:.2f}** |"
        )
    return rows


def verify_line(n_clips: int, tmp: Path) -> str:
    from fixture_data import make_root

    from lmms_humansense.catalog import TASKS
    from lmms_humansense.data.verify import verify

    per_task = max(1, round(n_clips / len(TASKS)))
    root = make_root(tmp / "verify_root", per_task=per_task, seconds=30, fps=25, size=(640, 360), share_clips=False)
    verify(root, workers=1, progress=False)  # warm the page cache: measure decoding, not the disk
    start = time.perf_counter()
    report = verify(root, progress=False)
    took = time.perf_counter() - start
    rate = report.media_checked / took
    return (
        f"verify: {report.media_checked} files (30 s 640x360 25 fps h264+AAC clips and WAVs), {report.records} records, "
        f"{os.cpu_count()} workers: {took:.2f} s = **{rate:.1f} files/s**; the full set's "
        f"~3,900 records would take about {3900 / rate / 60:.1f} min at this rate (fewer files than records)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--verify-clips", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        os.environ["HUMANSENSE_CACHE"] = str(tmp / "cache")  # never the user's cache
        from fixture_data import write_video

        ffmpeg = _ffmpeg_on_path(tmp)
        clips = {
            s: write_video(tmp / f"clip_{s}s.mp4", seconds=s, fps=25, size=(320, 240), tone_hz=440.0) for s in LENGTHS
        }
        print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
        print(f"ffmpeg: {ffmpeg or 'not found: official path and ffmpeg pipe not measured'}")
        print("clips: h264 320x240 25 fps + AAC mono 44.1 kHz, generated; medians of", args.repeat, "runs\n")
        print("\n".join(audio_table(clips, args.repeat, ffmpeg)))
        print()
        print(verify_line(args.verify_clips, tmp))
    sys.exit(0)


if __name__ == "__main__":
    main()
