"""What the loader's open check costs: :func:`lmms_humansense.media.open_problem` per media file.

While the tasks load, every media file of a run is opened once (its header read, its video and
audio streams looked up; nothing decoded).  This times that per file, on generated clips of the
benchmark's kinds and lengths (h264 + AAC mp4s, index at the end and at the front; 16 kHz WAVs),
each copied to ``--files`` distinct files so no file is opened twice, and gives the figure for a
run of the whole benchmark (at most 3,882 files: one per question, fewer as clips are shared).
Then the same files through :func:`lmms_humansense.media.check_media_opens` twice: a first run
(every file opened, a marker left in the cache) and the next run (the markers: a stat per file).

Last, what the hooks' decode check costs (:func:`lmms_humansense.media.check_frames_decode`: every
frame of a clip decoded once per clip version before a wrapper gets it), on ``--decode-files``
copies of each video kind, plus a 1280x720 30 fps clip (the benchmark's clips are 30 fps): the
first run (decoded, the verdict kept in the cache) and the next (the verdict read back).

Run: ``python benchmarks/media_open.py [--files 200] [--decode-files 20]``
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fixture_data import write_video, write_wav  # noqa: E402

from lmms_humansense.media import check_frames_decode, check_media_opens, open_problem  # noqa: E402

QUESTIONS = 3_882


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200, help="distinct files per kind")
    parser.add_argument("--decode-files", type=int, default=20, help="distinct files per kind for the decode check")
    args = parser.parse_args()
    kinds = {
        "mp4 30 s 640x360, index last": lambda p: write_video(p, seconds=30, fps=8, size=(640, 360)),
        "mp4 30 s 640x360, faststart": lambda p: write_video(p, seconds=30, fps=8, size=(640, 360), faststart=True),
        "wav 30 s 16 kHz": lambda p: write_wav(p, seconds=30),
    }
    print(f"{platform.machine()}, Python {platform.python_version()}, {args.files} files per kind")
    with tempfile.TemporaryDirectory() as tmp:
        for name, make in kinds.items():
            suffix = ".wav" if name.startswith("wav") else ".mp4"
            first = make(Path(tmp) / f"source{suffix}")
            files = []
            for i in range(args.files):
                target = Path(tmp) / f"{len(files)}_{i}{suffix}"
                shutil.copyfile(first, target)
                files.append(str(target))
            video, audio = suffix == ".mp4", True
            times = []
            for path in files:
                start = time.perf_counter()
                assert open_problem(path, video, audio) is None
                times.append(time.perf_counter() - start)
            median = statistics.median(times)
            print(
                f"{name}: open_problem median {median * 1e3:.2f} ms per file, max {max(times) * 1e3:.2f} ms; "
                f"{QUESTIONS:,} files: {median * QUESTIONS:.1f} s"
            )
            os.environ["HUMANSENSE_CACHE"] = str(Path(tmp) / f"cache_{suffix[1:]}")
            for run in ("first run", "next run"):
                start = time.perf_counter()
                check_media_opens((p, p, video, audio) for p in files)
                per_file = (time.perf_counter() - start) / len(files)
                print(
                    f"  check_media_opens, {run}: {per_file * 1e3:.3f} ms per file; {QUESTIONS:,} files: "
                    f"{per_file * QUESTIONS:.2f} s"
                )

        decode_check(Path(tmp), args.decode_files)


def decode_check(tmp: Path, count: int) -> None:
    """The hooks' check that every frame decodes: per clip on the first run, and on the next."""
    kinds = {
        "mp4 30 s 640x360 8 fps": lambda p: write_video(p, seconds=30, fps=8, size=(640, 360)),
        "mp4 30 s 1280x720 30 fps": lambda p: write_video(p, seconds=30, fps=30, size=(1280, 720)),
    }
    os.environ["HUMANSENSE_CACHE"] = str(tmp / "cache_decode")
    for name, make in kinds.items():
        first = make(tmp / "decode_source.mp4")
        files = []
        for i in range(count):
            target = tmp / f"decode_{len(name)}_{i}.mp4"
            shutil.copyfile(first, target)
            files.append(str(target))
        for run in ("first run", "next run"):
            times = []
            for path in files:
                start = time.perf_counter()
                check_frames_decode(path)
                times.append(time.perf_counter() - start)
            median = statistics.median(times)
            print(
                f"{name}: check_frames_decode, {run}: median {median * 1e3:.2f} ms per clip, max "
                f"{max(times) * 1e3:.2f} ms; {QUESTIONS:,} clips: {median * QUESTIONS:.1f} s"
            )


if __name__ == "__main__":
    main()
