"""``lmms-humansense prepare``: decode every clip's sound to 16 kHz once, before the run.

During an evaluation the hooks decode a clip's sound the first time one of its questions is asked
and cache it (:func:`lmms_humansense.media.ensure_cached_audio`); on the full set that first pass
is minutes of decoding spread over a GPU job.  This fills the same cache ahead of time, in
parallel, with the same function, so the run only reads WAVs.  The cache is keyed by each file's
absolute path, size, modification and change times and inode: prepare with the same
``HUMANSENSE_CACHE`` and data root the evaluation will use.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from lmms_humansense.catalog import BY_CODE
from lmms_humansense.data.pool import map_with_progress, worker_count


@dataclass
class PrepareResult:
    decoded: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)  # already in the cache (an earlier run)
    no_audio: list[str] = field(default_factory=list)  # speech-task videos without an audio track
    failed: dict[str, str] = field(default_factory=dict)  # path -> message
    cache_failed: dict[str, str] = field(default_factory=dict)  # path -> message: the cache, not the file

    @property
    def ok(self) -> bool:
        return not self.no_audio and not self.failed and not self.cache_failed


def sound_sources(root: Path) -> dict[str, list[str]]:
    """Every media file whose sound the protocol uses -> the tasks asking about it.

    That is the mp4 of each question of the 5 speech video tasks and the audio file of each FR2
    and PC question (the hooks cache both the same way).
    """
    from lmms_humansense.data.schema import load_all_docs

    sources: dict[str, set[str]] = {}
    for code, docs in load_all_docs(root).items():
        if not BY_CODE[code].uses_audio:
            continue
        for doc in docs:
            sources.setdefault(doc["media"], set()).add(code)
    return {path: sorted(codes) for path, codes in sorted(sources.items())}


def cache_sound(path: str) -> tuple[str, str, str]:
    """(path, outcome, message): ``path``'s sound put in the cache unless it is there; runs in a
    worker process."""
    from lmms_humansense.media import (
        CacheError,
        MediaError,
        NoAudioTrackError,
        cached_audio_path,
        ensure_cached_audio,
    )

    try:
        if cached_audio_path(path).is_file():
            return path, "cached", ""
        ensure_cached_audio(path)
        return path, "decoded", ""
    except NoAudioTrackError as exc:
        return path, "no_audio", str(exc)
    except CacheError as exc:
        return path, "cache", str(exc)
    except MediaError as exc:
        return path, "failed", str(exc)
    except OSError as exc:
        return path, "failed", f"{path}: {exc}"


def prepare(paths: Iterable[str], workers: int = 0, progress: bool = True) -> PrepareResult:
    """Decode ``paths`` into the audio cache with ``workers`` processes (0: one per core)."""
    result = PrepareResult()
    for path, kind, message in map_with_progress(cache_sound, paths, workers, "prepare audio", "clip", progress):
        if kind == "decoded":
            result.decoded.append(path)
        elif kind == "cached":
            result.cached.append(path)
        elif kind == "no_audio":
            result.no_audio.append(path)
        elif kind == "cache":
            result.cache_failed[path] = message
        else:
            result.failed[path] = message
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", help="the data root (default: $HUMANSENSE_ROOT, else the downloaded root)")
    parser.add_argument(
        "--workers", type=worker_count, default=0, help="decoding processes (default: 0, one per CPU core)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from lmms_humansense.data.root import resolve_root
    from lmms_humansense.media import CacheError, cache_dir, check_cache_writable

    def say(message: str) -> None:
        print(f"lmms-humansense prepare: {message}", file=sys.stderr)

    try:
        root = resolve_root(args.root)
        sources = sound_sources(root)
    except (OSError, ValueError) as exc:  # no root, missing media, bad records, unmapped task_types
        say(f"error: {exc}")
        return 2
    try:
        check_cache_writable()
    except CacheError as exc:
        say(f"error: {exc}")
        return 2
    tasks = Counter(code for codes in sources.values() for code in codes)
    say(
        f"{len(sources)} clips with sound in {root} ({', '.join(f'{c} {n}' for c, n in sorted(tasks.items()))}); "
        f"cache: {cache_dir()}"
    )
    result = prepare(sources, workers=args.workers, progress=not args.no_progress)
    say(f"{len(result.decoded)} decoded, {len(result.cached)} already cached")
    for path in result.no_audio:
        say(f"no audio track: {path} (tasks {', '.join(sources[path])}); its questions need the clip's sound")
    for path, message in sorted(result.failed.items()):
        say(f"failed: {message} (tasks {', '.join(sources[path])})")
    for path, message in sorted(result.cache_failed.items()):
        say(f"cache: {message} (tasks {', '.join(sources[path])})")
    if result.cache_failed:
        say(f"{len(result.cache_failed)} clip(s) could not be cached: a problem of the cache folder, not of the media.")
    if result.no_audio or result.failed:
        say(
            f"{len(result.no_audio)} clip(s) without an audio track, {len(result.failed)} failed. Fix: re-extract "
            "those files (`lmms-humansense download --force`); `lmms-humansense verify` checks the whole root."
        )
    return 0 if result.ok else 1
