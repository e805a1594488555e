"""Official annotation records -> flat, validated docs (one type per column, as ``datasets`` needs).

No real record has been seen here, so every field is checked, and a failure names the file, the
record's position, its media path, the field and the fix.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from lmms_humansense.answers import option_letters
from lmms_humansense.catalog import BY_CODE, QUESTION_PATTERNS, TASKS, off_paper_counts
from lmms_humansense.data import taskmap
from lmms_humansense.data.root import ANNOTATION_FILES, AQA_FILE, files_stamp, is_sample, resolve_media, tool
from lmms_humansense.prompts import MAX_COUNT, MULTI_OPTION_COUNT, SINGLE_OPTION_COUNTS, PromptError, build_prompt

log = logging.getLogger("lmms_humansense")


class RecordError(ValueError):
    """A record breaks the schema; the message names the record, the field and the fix."""


class MediaMissingError(FileNotFoundError):
    """Records reference media files that are not under the data root."""


class MediaAmbiguousError(ValueError):
    """Records naming different files are resolved to one file of the root (a flattened layout)."""


def _path_key(raw: str) -> tuple[str, ...]:
    """What tells media paths apart: the parts after the last ``videos``/``audios`` (else a leading
    ``data``): ``data/videos/x.mp4`` is ``videos/x.mp4``, ``videos/setA/x.mp4`` not ``videos/setB/x.mp4``."""
    parts = [p for p in Path(raw.replace("\\", "/")).parts if p not in ("/", "", ".")]
    folders = [i for i, p in enumerate(parts) if p in ("videos", "audios")]
    if folders:
        return tuple(parts[folders[-1] + 1 :])
    return tuple(parts[1:] if parts[:1] == ["data"] else parts)


def shared_media(uses: Iterable[tuple[str, str, str]]) -> dict[str, list[str]]:
    """Files that records naming different files all resolve to (a flattened root), each with its
    records as "record (path)"; ``uses``: (resolved file, media path as written, record)."""
    by_file: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    for resolved, raw, where in uses:
        if resolved:
            by_file.setdefault(resolved, []).append((_path_key(raw), f"{where} ({raw})"))
    return {f: [w for _, w in rows] for f, rows in by_file.items() if len({k for k, _ in rows}) > 1}


def _listed(items: list[str], limit: int, sep: str = "\n  ", more: str = "\n  ... and {n} more") -> str:
    """The first ``limit`` items joined, and how many more there are."""
    return sep.join(items[:limit]) + (more.format(n=len(items) - limit) if len(items) > limit else "")


def shared_media_message(file: str, records: list[str]) -> str:
    """The one sentence for a file several different media paths resolve to (loader and verify)."""
    return (
        f"{file} is the only match for {len(records)} records naming different files ({_listed(records, 3, '; ', '; ...')}"
        "): the root's sub-folders were probably flattened. Fix: put each file "
        "where its video_path names it (e.g. videos/setA/x.mp4), as the official runner needs"
    )


@dataclass(frozen=True)
class RawRecord:
    source: str  # annotation file name
    index: int  # position in that file
    record: dict[str, Any]

    def where(self) -> str:
        path = self.record.get("video_path", "?") if isinstance(self.record, dict) else "?"
        return f"{self.source} record #{self.index} (video_path={path!r})"

    def questions(self) -> dict[str, Any] | None:
        """The record's ``questions`` object, ``None`` when it has none (the schema check says so)."""
        q = self.record.get("questions") if isinstance(self.record, dict) else None
        return q if isinstance(q, dict) else None


def read_record_list(path: Path, fix: str) -> list[Any]:
    """A file's JSON list of records, or the :class:`RecordError` saying what it holds, with ``fix``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise RecordError(f"{path} is not UTF-8 text (byte {exc.start}: {exc.reason}). {fix}") from None
    except json.JSONDecodeError as exc:
        raise RecordError(f"{path} is not valid JSON: {exc}. {fix}") from None
    if not isinstance(data, list):
        raise RecordError(f"{path} must hold a JSON list of records, found {type(data).__name__}. {fix}")
    return data


def read_records(root: Path) -> list[RawRecord]:
    """Both annotation files (either may be absent), as positioned raw records."""
    fix = "Re-download or re-extract the file; if you edited it, save it as UTF-8 JSON."
    files = [name for name in ANNOTATION_FILES if (root / name).is_file()]
    return [RawRecord(name, i, rec) for name in files for i, rec in enumerate(read_record_list(root / name, fix))]


def _field(raw: RawRecord, container: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = container.get(name)
    if value is None or value == "":
        raise RecordError(
            f"{raw.where()}: field questions.{name} is missing. Fix the record or remove it from the file."
        )
    if not isinstance(value, kind):
        raise RecordError(f"{raw.where()}: field questions.{name} should be {kind}, found {value!r}.")
    return value


def _nonnegative_field(raw: RawRecord, q: dict[str, Any], name: str, what: str) -> float:
    """An optional number: 0 when absent, else finite and >= 0 (``"inf"`` would fail mid-run, unnamed)."""
    value = q.get(name)
    if value is None or value == "":
        return 0.0
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or number < 0:
        raise RecordError(
            f"{raw.where()}: field questions.{name} {value!r} must be a finite number >= 0 ({what}). Fix the record."
        )
    return number


def _transcript(raw: RawRecord, q: dict[str, Any], task: Any) -> tuple[str, str]:
    """A speech task's ``asr_en`` and why it cannot be used (else ``""``): only the asr tasks refuse it."""
    value = q.get("asr_en")
    if not task.speech_video:
        return (value if isinstance(value, str) else ""), ""
    if isinstance(value, str) and value.strip():
        return value, ""
    found = "is missing" if value is None else f"is {value!r}"
    return "", (
        f"{raw.where()}: field questions.asr_en (the transcript the asr variant prepends) {found}; a "
        f"{task.code} record needs it as non-empty text for the humansense_asr tasks. Fix the record, or run "
        "the tasks without _asr_"
    )


def _options_and_gold(raw: RawRecord, q: dict[str, Any], fmt: str) -> tuple[list[str], str]:
    """The options and the gold answer as the scorer compares it (letters upper-case, a multi-select's
    sorted; a count as digits), or the :class:`RecordError` naming the field."""
    answer = str(_field(raw, q, "answer", (str, int))).strip()
    options: list[str] = []
    if fmt in ("single", "multi"):
        options = _field(raw, q, "options", list)
        if not options or not all(isinstance(o, str) and o.strip() for o in options):
            raise RecordError(f"{raw.where()}: field questions.options must be a non-empty list of strings.")
        counts = SINGLE_OPTION_COUNTS if fmt == "single" else (MULTI_OPTION_COUNT,)
        if len(options) not in counts:
            raise RecordError(
                f"{raw.where()}: {len(options)} options for a {fmt} question; the official templates take {counts}."
            )
        letters = option_letters(options)
        if repeated := sorted({c for c in letters if letters.count(c) > 1}):
            raise RecordError(
                f"{raw.where()}: option letter(s) {', '.join(repeated)} label more than one option ({letters}); "
                "an answer could not say which one it means. Fix the options' labels."
            )
        gold = answer.upper()
        if not gold or not gold.isalpha() or any(c not in letters for c in gold):
            raise RecordError(
                f"{raw.where()}: field questions.answer {answer!r} is not among the options' letters {letters}."
            )
        if fmt == "single" and len(gold) != 1:
            raise RecordError(f"{raw.where()}: single-choice answer {answer!r} must be one letter.")
        answer = gold if fmt == "single" else "".join(sorted(gold))
    elif fmt == "numeric":
        if not re.fullmatch(r"[0-9]+", answer):  # as the scorer reads it: int() of ASCII digits only
            raise RecordError(
                f"{raw.where()}: field questions.answer {answer!r} must be a whole number written in the digits 0-9."
            )
        if int(answer) > MAX_COUNT:
            raise RecordError(
                f"{raw.where()}: field questions.answer {answer!r} is above {MAX_COUNT}, but the official prompt asks "
                f"for a numeral between 0 and {MAX_COUNT}, so no answer could be right. Fix the record."
            )
    return options, answer


def _media_field(raw: RawRecord, root: Path) -> str:
    """The record's ``video_path``: present, and inside the data root."""
    media = raw.record.get("video_path")
    if not isinstance(media, str) or not media.strip():
        raise RecordError(f"{raw.where()}: field video_path (the media file) is missing. Fix the record.")
    if ".." in Path(media.replace("\\", "/")).parts:
        raise RecordError(
            f"{raw.where()}: video_path leaves the data root ('..'); media must lie inside {root}. "
            "Fix: put the file under the root's videos/ or audios/ and give its path relative to the root."
        )
    return media


def _pattern_format(raw: RawRecord, q: dict[str, Any]) -> tuple[str, str]:
    """The record's question pattern and the answer format it means."""
    pattern = _field(raw, q, "question_pattern", str)
    if pattern not in QUESTION_PATTERNS:
        raise RecordError(
            f"{raw.where()}: unknown question_pattern {pattern!r}; the official patterns are "
            f"{', '.join(repr(p) for p in QUESTION_PATTERNS)}."
        )
    return pattern, QUESTION_PATTERNS[pattern]


def _clip(root: Path, media: str, resolved: Path | None) -> str:
    """What identifies the clip for clustering: its path under the root once resolved."""
    if resolved is None:
        return media.replace("\\", "/")
    return (resolved.relative_to(root) if resolved.is_relative_to(root) else resolved).as_posix()


def record_to_doc(raw: RawRecord, task_map: dict[str, str], root: Path) -> dict[str, Any]:
    """One record as a flat doc with its id, checked field by field (else :class:`RecordError`); an
    unresolved media path is an empty ``media``, so the caller reports every missing file at once."""
    rec = raw.record
    if not isinstance(rec, dict):
        raise RecordError(f"{raw.where()}: a record must be a JSON object, found {type(rec).__name__}.")
    media = _media_field(raw, root)
    q = rec.get("questions")
    if not isinstance(q, dict):
        raise RecordError(f"{raw.where()}: field questions is missing or not an object. Fix the record.")
    task_type = _field(raw, q, "task_type", str)
    code = task_map[task_type]
    task = BY_CODE[code]
    question = _field(raw, q, "question", str)
    pattern, fmt = _pattern_format(raw, q)
    options, answer = _options_and_gold(raw, q, fmt)
    try:  # the prompt the run will ask, so a record verify accepts is one the run can ask
        build_prompt(question, options, fmt)
    except PromptError as exc:
        raise RecordError(
            f"{raw.where()}: {exc}; this record cannot be asked as the official runner asks it."
        ) from None
    fps = _nonnegative_field(raw, q, "fps", "the clip's frames per second")
    frames = _nonnegative_field(raw, q, "full_frame_number", "the clip's frame count")
    transcript, transcript_problem = _transcript(raw, q, task)
    kind = "audios" if raw.source == AQA_FILE or task.modality == "audio" else "videos"
    resolved = resolve_media(root, media, kind)
    return {
        "id": f"{code}-{Path(raw.source).stem.split('_')[-1]}{raw.index:05d}",
        "task": code,
        "task_type": task_type,
        "level": task.level,
        "question": question,
        "options": [o.strip() for o in options],
        "answer": answer,
        "answer_format": fmt,
        "question_pattern": pattern,
        "media": str(resolved) if resolved else "",
        "media_raw": media,
        "modality": task.modality,
        "clip": _clip(root, media, resolved),
        "fps": fps,
        "frames": frames,
        "transcript": transcript,
        "transcript_problem": transcript_problem,
    }


@dataclass
class RecordScan:
    """One pass over a root's records, for the loader (the first problem) and ``verify`` (all):
    ``entries``, per record of a mapped ``task_type``, hold its doc or the error that refused it."""

    records: list[RawRecord]
    task_map: dict[str, str]
    unknown: Counter
    unknown_where: dict[str, str]
    map_error: Exception | None
    entries: list[tuple[RawRecord, dict[str, Any] | None, RecordError | None]]
    duplicates: list[str]

    def docs(self) -> list[tuple[RawRecord, dict[str, Any]]]:
        return [(raw, doc) for raw, doc, _ in self.entries if doc is not None]


def scan_records(root: Path) -> RecordScan:
    """Every record of ``root`` read, mapped and made a doc, without stopping at a problem (an
    annotation file that is no JSON list still raises :class:`RecordError`)."""
    records = read_records(root)
    map_error: Exception | None = None
    try:  # automatic resolution included, so the loader and verify map alike
        task_map = task_map_for(root, records)
    except taskmap.TaskMapError as exc:
        task_map, map_error = taskmap.load_task_map(root), exc
    unknown = unknown_task_types(records, task_map)
    unknown_where: dict[str, str] = {}
    entries: list[tuple[RawRecord, dict[str, Any] | None, RecordError | None]] = []
    for raw in records:
        task_type = (raw.questions() or {}).get("task_type")
        if isinstance(task_type, str) and task_type in unknown:
            unknown_where.setdefault(task_type, raw.where())
            continue
        try:
            entries.append((raw, record_to_doc(raw, task_map, root), None))
        except RecordError as exc:
            entries.append((raw, None, exc))
    return RecordScan(records, task_map, unknown, unknown_where, map_error, entries, duplicates(records))


def _first_problem(root: Path, scan: RecordScan) -> Exception | None:
    """The loader's error: the task map's, the first bad record's, every missing or shared file."""
    if scan.map_error is not None:
        return scan.map_error
    if error := next((e for _, _, e in scan.entries if e is not None), None):
        return error
    docs = scan.docs()
    missing = [f"{doc['id']} ({raw.where()}): {doc['media_raw']}" for raw, doc in docs if not doc["media"]]
    if missing:
        return MediaMissingError(
            f"{len(missing)} HumanSense record(s) reference media that is not under {root}:\n  {_listed(missing, 10)}\n"
            f"Fix: extract videos.zip and audios.zip into the root ({tool('download')} does it), "
            "or point $HUMANSENSE_ROOT at the folder that holds HumanSense_VQA.json and videos/; "
            f"{tool('verify')} lists every problem."
        )
    shared = shared_media((d["media"], d["media_raw"], d["id"]) for _, d in docs)
    if shared:
        listed = [shared_media_message(f, rs) for f, rs in sorted(shared.items())]
        return MediaAmbiguousError(
            f"{len(shared)} media file(s) of {root} each stand for records naming different files:\n  "
            f"{_listed(listed, 10)}\n{tool('verify')} lists every problem."
        )
    return None


@lru_cache(maxsize=8)
def _load_all(root: Path, stamp: tuple[tuple[str, int, int, int], ...]) -> dict[str, list[dict]]:
    """Every doc of a root by task code; cached per root and file stamp (15 tasks load one root)."""
    del stamp  # only part of the cache key
    scan = scan_records(root)
    if (problem := _first_problem(root, scan)) is not None:
        raise problem
    by_task: dict[str, list[dict]] = {t.code: [] for t in TASKS}
    for _, doc in scan.docs():
        by_task[doc["task"]].append(doc)
    if scan.duplicates:
        log.warning(
            f"HumanSense: {len(scan.duplicates)} record(s) repeat an earlier one (kept; remove the copies if they are "
            f"mistakes; {tool('verify')} lists them all), first: {scan.duplicates[0]}"
        )
    _report_counts(root, by_task)
    return by_task


def duplicates(records: Iterable[RawRecord]) -> list[str]:
    """Records repeating an earlier one exactly: kept (the paper's counts may include them), but said."""
    first: dict[str, RawRecord] = {}
    out = []
    for raw in records:
        if (earlier := first.setdefault(json.dumps(raw.record, sort_keys=True), raw)) is not raw:
            out.append(f"{raw.where()} repeats {earlier.where()}")
    return out


def task_types(records: Iterable[RawRecord]) -> Counter:
    """How often each ``task_type`` string occurs (records without a string one are the schema check's)."""
    found = ((r.questions() or {}).get("task_type") for r in records)
    return Counter(t for t in found if isinstance(t, str))


def unknown_task_types(records: Iterable[RawRecord], task_map: dict[str, str]) -> Counter:
    """The ``task_type`` strings ``task_map`` does not cover, counted (for the loader, verify, score)."""
    return Counter({name: n for name, n in task_types(records).items() if name not in task_map})


def pattern_formats(records: Iterable[RawRecord], names: set[str]) -> dict[str, set[str]]:
    """The answer formats the question patterns of each ``task_type`` in ``names`` mean."""
    out: dict[str, set[str]] = {}
    for r in records:
        q = r.questions()
        if q and q.get("task_type") in names and q.get("question_pattern") in QUESTION_PATTERNS:
            out.setdefault(q["task_type"], set()).add(QUESTION_PATTERNS[q["question_pattern"]])
    return out


def task_map_for(root: Path, records: list[RawRecord]) -> dict[str, str]:
    """The mapping covering every ``task_type`` of ``records``, or the error listing the rest; the
    rest resolved only when certain (``resolve_by_counts``), logged and remembered."""
    task_map = taskmap.load_task_map(root)
    unknown = unknown_task_types(records, task_map)
    if not unknown:
        return task_map
    mapped = Counter()
    for name, n in task_types(records).items():
        if name in task_map:
            mapped[task_map[name]] += n
    resolved, why_not = taskmap.resolve_by_counts(unknown, mapped, pattern_formats(records, set(unknown)))
    if resolved is None:
        raise taskmap.unknown_error(unknown, root, f"Not resolved automatically: {why_not}.")
    where = taskmap.remember_resolution(root, resolved)
    saved = f"; written to {where}" if where else "; not written (neither the root nor the cache is writable)"
    resolution = json.dumps(resolved, sort_keys=True)
    log.warning(
        f"HumanSense: task_type strings resolved by name, every per-task count equal to the paper's: {resolution}{saved}"
    )
    return {**task_map, **resolved}


def _report_counts(root: Path, by_task: dict[str, list[dict]]) -> None:
    """Per-task counts that differ from the paper's; for the sample, once per root whatever the run's
    tasks, what a task holds (not a total)."""
    diffs = off_paper_counts({code: len(docs) for code, docs in by_task.items()})
    if diffs and is_sample(root):
        sizes = sorted({len(docs) for docs in by_task.values()})
        each = f"{sizes[0]}" if len(sizes) == 1 else f"{sizes[0]}-{sizes[-1]}"
        total = sum(map(len, by_task.values()))
        log.warning(
            f"HumanSense: using the bundled SAMPLE set, not the benchmark: {each} questions a task ({total} over all {len(by_task)} tasks)"
        )
    elif diffs:
        log.warning(f"HumanSense: per-task question counts differ from the paper's: {', '.join(diffs)}")


def _docs(root: Path) -> dict[str, list[dict]]:
    """The cached docs, keyed by what they depend on: the annotation files and every task map source."""
    sources = (*ANNOTATION_FILES, taskmap.ROOT_FILE, taskmap.RESOLVED_FILE)
    return _load_all(root, ((os.environ.get(taskmap.ENV_VAR, ""), 0, 0, 0), *files_stamp(root, sources)))


def load_task_docs(root: Path, code: str) -> list[dict[str, Any]]:
    """The validated docs of one task (copies, so callers may add fields)."""
    return [dict(d) for d in _docs(root)[BY_CODE[code.upper()].code]]


def load_all_docs(root: Path) -> dict[str, list[dict[str, Any]]]:
    return {k: [dict(d) for d in v] for k, v in _docs(root).items()}
