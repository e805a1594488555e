"""``lmms-humansense verify``: is every question of a data root answerable, before a GPU job finds out?

A broken file otherwise stops an evaluation hours in, on whichever question reaches it first.  This
walks every record of both annotation files without stopping at the first problem: the record's
fields (the loader's own checks), its task_type, its media file (exists, opens, first and last
frame decode, sound where the task needs it, an audio file decodes), and the per-task counts
against the paper's.  Each problem names the record and the path; the exit status says whether
anything is wrong.  Media are checked once per file, in parallel processes.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lmms_humansense.catalog import BY_CODE, TASKS
from lmms_humansense.data.pool import map_with_progress, worker_count
from lmms_humansense.media import (
    CacheError,
    MediaError,
    NoAudioTrackError,
    VideoInfo,
    audio_stream,
    check_reaches_end,
    check_sound_heard,
    decode_audio,
    ensure_cached_audio,
    frame_shown_until,
    open_media,
    probe_video,
    video_seconds,
)


@dataclass(frozen=True)
class Problem:
    kind: str  # record | task_type | missing | ambiguous | media | no_audio | count
    record: str  # "<file> record #<n> (id …)", or the task for count problems
    path: str
    message: str


@dataclass
class VerifyReport:
    root: str
    records: int = 0
    media_checked: int = 0
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    unknown_task_types: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    #: Records that repeat an earlier one: kept by the loader too, so reported without failing.
    duplicates: list[str] = field(default_factory=list)
    #: Speech-task records without a usable ``asr_en``: only the asr variant refuses them.
    no_transcript: list[str] = field(default_factory=list)
    sample: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        data["problems_by_kind"] = dict(sorted(Counter(p.kind for p in self.problems).items()))
        return data


@dataclass
class _MediaUse:
    """How the records use one media file: checked once for every way they use it (an mp4 may be
    one task's video and another's audio file), its problems reported for each record."""

    modalities: set[str] = field(default_factory=set)
    needs_sound: bool = False
    records: list[str] = field(default_factory=list)
    raws: list[str] = field(default_factory=list)  # the media path each record wrote


def check_video_decodes(path: str | os.PathLike[str], need_audio: bool) -> VideoInfo:
    """Open a video and decode its first and last frame; raise :class:`MediaError` naming what fails.

    Opening alone misses the commonest damage (a download or extraction cut short keeps a
    readable header and loses the end), so the last second is decoded too; seeking there keeps
    the check to a few frames per clip whatever its length.
    """
    p = str(path)
    with open_media(p) as container:
        if not container.streams.video:
            raise MediaError(f"{p}: has no video stream")
        stream = container.streams.video[0]
        if need_audio and not container.streams.audio:
            raise NoAudioTrackError(f"{p}: has no audio track, but its task needs sound")
        try:
            first = next(container.decode(stream), None)
        except Exception as exc:
            raise MediaError(f"{p}: the first frame does not decode ({exc}); re-extract or re-download it") from None
        if first is None:
            raise MediaError(f"{p}: no frame decodes; re-extract or re-download it")
        duration = video_seconds(container, stream)
        _check_stream_end(container, stream, duration, p, "frames", first)
        if need_audio:
            _check_stream_end(container, audio_stream(container), duration, p, "sound track")
    return probe_video(p)


def _check_stream_end(container: Any, stream: Any, duration: float, p: str, what: str, last: Any = None) -> None:
    """Decode the last second of ``stream`` and check it reaches the end of the file.

    A file cut short may still open and decode its start; for an mp4 it may even keep all its
    frames and lose the end of its sound, so each stream a task uses is checked.  ``last`` is a
    frame already decoded (a clip of one frame has no other to find).
    """
    tb = stream.time_base
    try:
        if tb and (duration > 1.0 or last is None):  # a short clip's other stream: from its start again
            container.seek(int(max(0.0, duration - 1.0) / tb), stream=stream, backward=True)
        for frame in container.decode(stream):
            last = frame
    except Exception as exc:
        raise MediaError(
            f"{p}: the end of its {what} does not decode ({exc}); the file is probably cut short"
        ) from None
    if last is None:
        raise MediaError(f"{p}: the end of its {what} does not decode; the file is probably cut short")
    if getattr(last, "sample_rate", None):  # an audio frame
        end = float(last.pts * tb) if last.pts is not None and tb else duration
        end += last.samples / last.sample_rate
        start = float(stream.start_time * tb) if stream.start_time and tb else 0.0
        check_sound_heard(p, container, stream, end - start)  # the run's rule, on the same measure
        return
    check_reaches_end(p, what, frame_shown_until(stream, last, duration), duration)


def check_media(job: tuple[str, tuple[str, ...], bool]) -> tuple[str, str, str]:
    """(path, kind of problem or "", message) for one media file, checked as each of the
    modalities its tasks read it as (the run's own reads); runs in a worker process."""

    path, modalities, need_audio = job
    try:
        if "audio" in modalities:  # decoded whole, as the run will: into the cache, so prepare need not again
            try:
                ensure_cached_audio(path)
            except CacheError:  # verify checks the media; a cache that cannot be written is prepare's error
                decode_audio(path)
        if any(m != "audio" for m in modalities):
            check_video_decodes(path, need_audio)
    except NoAudioTrackError as exc:
        return path, "no_audio", str(exc)
    except MediaError as exc:
        return path, "media", str(exc)
    except Exception as exc:  # noqa: BLE001 - a decoder crash on one file is that file's problem
        return path, "media", f"{path}: cannot be checked ({type(exc).__name__}: {exc})"
    return path, "", ""


def verify(root: Path, workers: int = 0, progress: bool = True) -> VerifyReport:
    """Check every record of ``root``; never raises for a problem in the data, reports it."""
    from lmms_humansense.data.root import is_sample
    from lmms_humansense.data.schema import RecordError, scan_records

    start = time.perf_counter()
    report = VerifyReport(str(root), sample=is_sample(root))
    try:
        scan = scan_records(root)
    except RecordError as exc:
        report.problems.append(Problem("record", "annotation file", str(root), str(exc)))
    else:
        report.records = len(scan.records)
        report.duplicates = scan.duplicates
        media = _record_problems(root, scan, report)
        _media_problems(media, report, workers, progress)
    report.seconds = time.perf_counter() - start
    return report


def _record_problems(root: Path, scan: Any, report: VerifyReport) -> dict[str, _MediaUse]:
    """The problems of the records themselves (schema, task_type, missing or shared media, counts)
    added to ``report``; returns how the records use each media file found."""
    from lmms_humansense.data.schema import shared_media, shared_media_message
    from lmms_humansense.data.taskmap import suggest_code

    found: Counter[str] = Counter()
    media: dict[str, _MediaUse] = {}
    for raw, doc, error in scan.entries:
        if doc is None:
            path = raw.record.get("video_path", "") if isinstance(raw.record, dict) else ""
            said = str(error).removeprefix(f"{raw.where()}: ")  # printed after its where, once
            report.problems.append(Problem("record", raw.where(), str(path), said))
            continue
        found[doc["task"]] += 1
        if doc["transcript_problem"]:
            report.no_transcript.append(doc["transcript_problem"])
        where = f"{raw.where()} id {doc['id']}"
        if not doc["media"]:
            message = f"{doc['media_raw']}: no such file under {root} (nor under videos/ or audios/)"
            report.problems.append(Problem("missing", where, doc["media_raw"], message))
            continue
        task = BY_CODE[doc["task"]]
        use = media.setdefault(doc["media"], _MediaUse())
        use.modalities.add(task.modality)
        use.needs_sound = use.needs_sound or task.speech_video
        use.records.append(where)
        use.raws.append(doc["media_raw"])
    for name, n in sorted(scan.unknown.items()):
        code = suggest_code(name, n)
        report.unknown_task_types[name] = {"count": n, "suggested": code}
        hint = f"; probably {code} ({BY_CODE[code].name})" if code else ""
        more = f" and {n - 1} more" if n > 1 else ""
        entry = f"{name}={code or 'CODE'}"
        report.problems.append(
            Problem(
                "task_type",
                f"{scan.unknown_where[name]}{more}",
                "",
                f"task_type {name!r} ({n} record(s)) is not mapped to a task{hint}. Fix: map it in "
                f"{root / 'humansense_task_map.json'} ({json.dumps({name: code or 'CODE'})}) or with "
                f"HUMANSENSE_TASK_MAP={shlex.quote(entry)}",
            )
        )
    uses = [(path, raw, where) for path, use in media.items() for raw, where in zip(use.raws, use.records, strict=True)]
    for path, records in sorted(shared_media(uses).items()):
        for where in records:
            report.problems.append(Problem("ambiguous", where, path, shared_media_message(path, records)))
    for t in TASKS:
        report.counts[t.code] = {"found": found[t.code], "paper": t.paper_count}
        if found[t.code] != t.paper_count and not report.sample:
            message = (
                f"{found[t.code]} question(s), the paper has {t.paper_count}: records are missing or mapped to the "
                "wrong task"
            )
            report.problems.append(Problem("count", f"task {t.code} ({t.name})", "", message))
    return media


def _media_problems(media: dict[str, _MediaUse], report: VerifyReport, workers: int, progress: bool) -> None:
    """Each media file checked once, in ``workers`` processes, its problems listed for every record."""
    jobs = [(path, tuple(sorted(use.modalities)), use.needs_sound) for path, use in sorted(media.items())]
    report.media_checked = len(jobs)
    for path, kind, message in map_with_progress(check_media, jobs, workers, "verify media", "file", progress):
        if kind:
            for where in media[path].records:
                report.problems.append(Problem(kind, where, path, message))


_KIND_TITLES = {
    "record": "records that break the schema",
    "task_type": "unmapped task_type strings",
    "missing": "missing media files",
    "ambiguous": "media files standing for records that name different files",
    "media": "media that do not open or decode",
    "no_audio": "speech-task videos without an audio track",
    "count": "per-task counts that differ from the paper's",
}


def render(report: VerifyReport) -> str:
    """The readable summary: the counts table, then every problem, grouped, each on one line."""
    lines = [f"HumanSense data root {report.root}" + (" (the bundled SAMPLE set)" if report.sample else "")]
    lines.append(f"{report.records} records, {report.media_checked} media files checked in {report.seconds:.1f} s")
    lines.append("task  found  paper")
    for code, c in report.counts.items():
        mark = "" if c["found"] == c["paper"] else ("  (sample)" if report.sample else "  <- differs")
        lines.append(f"{code:<5} {c['found']:>5}  {c['paper']:>5}{mark}")
    by_kind: dict[str, list[Problem]] = {}
    for p in report.problems:
        by_kind.setdefault(p.kind, []).append(p)
    for kind, title in _KIND_TITLES.items():
        if kind in by_kind:
            lines.append(f"\n{len(by_kind[kind])} problem(s): {title}")
            lines.extend(f"  {p.record}: {p.message}" for p in by_kind[kind])
    if report.duplicates:
        lines.append(
            f"\n{len(report.duplicates)} record(s) repeat an earlier one (kept; remove the copies if mistaken)"
        )
        lines.extend(f"  {d}" for d in report.duplicates)
    if report.no_transcript:
        lines.append(
            f"\n{len(report.no_transcript)} speech record(s) without a usable asr_en transcript (the default tasks "
            "do not read it; the humansense_asr tasks refuse these records)"
        )
        lines.extend(f"  {d}" for d in report.no_transcript)
    lines.append("\nOK: every record can be evaluated" if report.ok else f"\nFAILED: {len(report.problems)} problem(s)")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", help="the data root (default: $HUMANSENSE_ROOT, else the downloaded root)")
    parser.add_argument("--json", metavar="OUT", help="also write the full report as JSON")
    parser.add_argument(
        "--workers", type=worker_count, default=0, help="checking processes (default: 0, one per CPU core)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _check_json_target(out: Path) -> None:
    """Raise ``OSError`` naming the fix when the ``--json`` report could not be written there.

    Checked before the media are: the whole check takes minutes on the full set, and a write that
    fails after it would end in exit status 1, which means "problems found".
    """
    if out.is_dir():
        raise IsADirectoryError(f"--json {out} is a folder; name the file to write (e.g. {out / 'verify.json'})")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out.parent):
            pass
        if out.exists() and not os.access(out, os.W_OK):
            raise PermissionError(13, "permission denied", str(out))
    except OSError as exc:
        raise OSError(
            f"--json {out} cannot be written ({exc.strerror or exc}); name a file in a writable folder"
        ) from None


def run(args: argparse.Namespace) -> int:
    from lmms_humansense.data.root import resolve_root
    from lmms_humansense.data.taskmap import TaskMapError

    try:
        if args.json:
            _check_json_target(Path(args.json))
        root = resolve_root(args.root)
        report = verify(root, workers=args.workers, progress=not args.no_progress)
    except (OSError, TaskMapError) as exc:  # no root, a --json target that cannot be written, a bad task map
        print(f"lmms-humansense verify: error: {exc}", file=sys.stderr)
        return 2
    print(render(report))
    if args.json:
        try:
            Path(args.json).write_text(json.dumps(report.to_json(), indent=1) + "\n", encoding="utf-8")
        except OSError as exc:  # changed since it was checked
            print(
                f"lmms-humansense verify: error: --json {args.json} cannot be written ({exc.strerror})", file=sys.stderr
            )
            return 2
    return 0 if report.ok else 1
