"""Official annotation records -> flat, validated docs (one type per column, as ``datasets`` needs).
No real record has been seen here, so every field is checked; a failure names the file, the record's
position, its media path, the field and the fix."""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from lmms_humansense.answers import option_letters
from lmms_humansense.catalog import BY_CODE, QUESTION_PATTERNS, TASKS, off_paper_counts
from lmms_humansense.data import taskmap
from lmms_humansense.data.root import ANNOTATION_FILES, AQA_FILE, files_stamp, is_sample, resolve_media, tool
from lmms_humansense.prompts import MAX_COUNT, PromptError, build_prompt

log = logging.getLogger("lmms_humansense")
_REMOVE = "Fix the record or remove it from the file."


class RecordError(ValueError):
    """A record breaks the schema; the message names the record, the field and the fix."""


class MediaMissingError(FileNotFoundError):
    """Records reference media files that are not under the data root."""


class MediaAmbiguousError(ValueError):
    """Records naming different files are resolved to one file of the root (a flattened layout)."""


def _listed(items: list[str]) -> str:
    return "\n  ".join(items[:10]) + (f"\n  ... and {len(items) - 10} more" if len(items) > 10 else "")


def shared_media(uses: Iterable[tuple[str, str, str]]) -> dict[str, list[str]]:
    """Files that records naming different files resolve to (a flattened root), each with its records as
    "record (path)"; ``uses``: (resolved file, path as written, record).  Paths differ in what follows the
    last ``videos``/``audios`` (else a leading ``data``): ``videos/setA/x.mp4`` is not ``videos/setB/x.mp4``."""
    by_file: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    for resolved, raw, where in uses:
        parts = [p for p in Path(raw.replace("\\", "/")).parts if p not in ("/", "", ".")]
        cut = max((i + 1 for i, p in enumerate(parts) if p in ("videos", "audios")), default=int(parts[:1] == ["data"]))
        if resolved:
            by_file.setdefault(resolved, []).append((tuple(parts[cut:]), f"{where} ({raw})"))
    return {f: [w for _, w in rows] for f, rows in by_file.items() if len({k for k, _ in rows}) > 1}


def shared_media_message(file: str, records: list[str]) -> str:
    """The one sentence for a file several different media paths resolve to (loader and verify)."""
    return (
        f"{file} is the only match for {len(records)} records naming different files ({'; '.join(records[:3])}{'; ...' if len(records) > 3 else ''}"
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

    def error(self, text: str, fix: str = "Fix the record.") -> RecordError:
        """Every record's error: where it is, what is wrong, the fix."""
        return RecordError(f"{self.where()}: {text} {fix}")

    def questions(self) -> dict[str, Any]:  # {} when there is none (the schema check says so)
        q = self.record.get("questions") if isinstance(self.record, dict) else None
        return q if isinstance(q, dict) else {}


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


def _field(raw: RawRecord, q: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = q.get(name)
    if value is None or value == "":
        raise raw.error(f"field questions.{name} is missing.", _REMOVE)
    if not isinstance(value, kind):
        kinds = " or ".join(
            {str: "text", int: "a whole number", list: "a list"}[k]
            for k in (kind if isinstance(kind, tuple) else (kind,))
        )
        raise raw.error(f"field questions.{name} should be {kinds}, found {value!r}.")
    return value


def _nonnegative(raw: RawRecord, q: dict[str, Any], name: str, what: str) -> float:
    """An optional number, 0 when absent: ``"inf"`` or ``-1`` would fail mid-run, unnamed."""
    value = q.get(name)
    if value is None or value == "":
        return 0.0
    try:
        number = math.nan if isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or number < 0:
        raise raw.error(f"field questions.{name} {value!r} must be a finite number >= 0 ({what}).")
    return number


def _options_and_gold(raw: RawRecord, q: dict[str, Any], question: str, fmt: str) -> tuple[list[str], str]:
    """The options, and the gold as the scorer compares it: letters upper-case (a multi-select's sorted),
    a count in the digits the scorer's ``int()`` reads; the question must be one the run can ask."""
    answer = str(_field(raw, q, "answer", (str, int))).strip()
    options = _field(raw, q, "options", list) if fmt in ("single", "multi") else []
    if fmt in ("single", "multi") and not (options and all(isinstance(o, str) and o.strip() for o in options)):
        raise raw.error("field questions.options must be a non-empty list of strings.")
    try:
        build_prompt(question, options, fmt)
    except PromptError as exc:
        raise raw.error(f"{exc}; this record cannot be asked as the official runner asks it.") from None
    if fmt == "numeric":
        if not re.fullmatch(r"[0-9]+", answer):
            raise raw.error(f"field questions.answer {answer!r} must be a whole number written in the digits 0-9.")
        if int(answer) > MAX_COUNT:
            raise raw.error(
                f"field questions.answer {answer!r} is above {MAX_COUNT}, but the official prompt asks "
                f"for a numeral between 0 and {MAX_COUNT}, so no answer could be right."
            )
        return options, answer
    letters = option_letters(options)
    if repeated := sorted({c for c in letters if letters.count(c) > 1}):
        what = f"option letter(s) {', '.join(repeated)} label more than one option ({letters})"
        raise raw.error(f"{what}; an answer could not say which one it means.", "Fix the options' labels.")
    gold = answer.upper()
    if not gold.isalpha() or any(c not in letters for c in gold):
        raise raw.error(f"field questions.answer {answer!r} is not among the options' letters {letters}.")
    if fmt == "single" and len(gold) != 1:
        raise raw.error(f"single-choice answer {answer!r} must be one letter.")
    return options, gold if fmt == "single" else "".join(sorted(gold))


def record_to_doc(raw: RawRecord, task_map: dict[str, str], root: Path) -> dict[str, Any]:
    """One record as a flat doc with its id, checked field by field; an unresolved media path is an
    empty ``media``, so the caller reports every missing file at once."""
    if not isinstance(raw.record, dict):
        raise raw.error(f"a record must be a JSON object, found {type(raw.record).__name__}.", _REMOVE)
    media = raw.record.get("video_path")
    if not isinstance(media, str) or not media.strip():
        raise raw.error("field video_path (the media file) is missing.")
    if ".." in Path(media.replace("\\", "/")).parts:
        fix = "Fix: put the file under the root's videos/ or audios/ and give its path relative to the root."
        raise raw.error(f"video_path leaves the data root ('..'); media must lie inside {root}.", fix)
    q = raw.record.get("questions")
    if not isinstance(q, dict):
        raise raw.error("field questions is missing or not an object.")
    task_type = _field(raw, q, "task_type", str)
    task = BY_CODE[task_map[task_type]]
    question = _field(raw, q, "question", str)
    pattern = _field(raw, q, "question_pattern", str)
    if pattern not in QUESTION_PATTERNS:
        raise raw.error(
            f"unknown question_pattern {pattern!r}; the official patterns are {', '.join(map(repr, QUESTION_PATTERNS))}."
        )
    fmt = QUESTION_PATTERNS[pattern]
    options, answer = _options_and_gold(raw, q, question, fmt)
    fps = _nonnegative(raw, q, "fps", "the clip's frames per second")
    frames = _nonnegative(raw, q, "full_frame_number", "the clip's frame count")
    transcript, transcript_problem = q.get("asr_en"), ""
    if task.speech_video and not (isinstance(transcript, str) and transcript.strip()):  # only the asr tasks read it
        found = "is missing" if transcript is None else f"is {transcript!r}"
        what = f"field questions.asr_en (the transcript the asr variant prepends) {found}; a {task.code} record"
        fix = "Fix the record, or run the tasks without _asr_"
        transcript_problem = str(raw.error(f"{what} needs it as non-empty text for the humansense_asr tasks.", fix))
    resolved = resolve_media(root, media, "audios" if raw.source == AQA_FILE or task.modality == "audio" else "videos")
    clip = resolved.relative_to(root) if resolved and resolved.is_relative_to(root) else resolved
    return {
        "id": f"{task.code}-{Path(raw.source).stem.split('_')[-1]}{raw.index:05d}",
        "task": task.code,
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
        "clip": clip.as_posix() if clip else media.replace("\\", "/"),  # what clusters questions
        "fps": fps,
        "frames": frames,
        "transcript": transcript if isinstance(transcript, str) and not transcript_problem else "",
        "transcript_problem": transcript_problem,
    }


@dataclass
class RecordScan:
    """One pass over a root's records, for the loader (the first problem) and ``verify`` (all):
    ``entries``, per record of a mapped ``task_type``, hold its doc or the error that refused it."""

    records: list[RawRecord]
    unknown: Counter
    map_error: Exception | None
    duplicates: list[str]
    unknown_where: dict[str, str] = field(default_factory=dict)
    entries: list[tuple[RawRecord, dict[str, Any] | None, RecordError | None]] = field(default_factory=list)


def scan_records(root: Path) -> RecordScan:
    """Every record of ``root`` read, mapped and made a doc, without stopping at a problem (an
    annotation file that is no JSON list still raises :class:`RecordError`)."""
    fix = "Re-download or re-extract the file; if you edited it, save it as UTF-8 JSON."
    files = [name for name in ANNOTATION_FILES if (root / name).is_file()]
    records = [RawRecord(name, i, rec) for name in files for i, rec in enumerate(read_record_list(root / name, fix))]
    first: dict[str, RawRecord] = {}  # records repeating an earlier one: kept (the paper may count them), but said
    repeats = [
        f"{raw.where()} repeats {earlier.where()}"
        for raw in records
        if (earlier := first.setdefault(json.dumps(raw.record, sort_keys=True), raw)) is not raw
    ]
    map_error: Exception | None = None
    try:  # automatic resolution included, so the loader and verify map alike
        task_map = task_map_for(root, records)
    except taskmap.TaskMapError as exc:
        task_map, map_error = taskmap.load_task_map(root), exc
    scan = RecordScan(records, unknown_task_types(records, task_map), map_error, repeats)
    for raw in records:
        task_type = raw.questions().get("task_type")
        if isinstance(task_type, str) and task_type in scan.unknown:
            scan.unknown_where.setdefault(task_type, raw.where())
            continue
        try:
            scan.entries.append((raw, record_to_doc(raw, task_map, root), None))
        except RecordError as exc:
            scan.entries.append((raw, None, exc))
    return scan


@lru_cache(maxsize=8)
def _load_all(root: Path, stamp: tuple[tuple[str, int, int, int], ...]) -> dict[str, list[dict]]:
    """Every doc of a root by task code, or the first problem: the task map's, the first bad record's,
    every missing or shared file; cached per root and file stamp (15 tasks load one root)."""
    del stamp  # only part of the cache key
    scan = scan_records(root)
    if problem := scan.map_error or next((e for _, _, e in scan.entries if e is not None), None):
        raise problem
    docs = [(raw, doc) for raw, doc, _ in scan.entries if doc is not None]
    if missing := [f"{doc['id']} ({raw.where()}): {doc['media_raw']}" for raw, doc in docs if not doc["media"]]:
        raise MediaMissingError(
            f"{len(missing)} HumanSense record(s) reference media that is not under {root}:\n  {_listed(missing)}\n"
            f"Fix: extract videos.zip and audios.zip into the root ({tool('download')} does it), "
            "or point $HUMANSENSE_ROOT at the folder that holds HumanSense_VQA.json and videos/; "
            f"{tool('verify')} lists every problem."
        )
    if shared := shared_media((d["media"], d["media_raw"], d["id"]) for _, d in docs):
        listed = [shared_media_message(f, rs) for f, rs in sorted(shared.items())]
        raise MediaAmbiguousError(
            f"{len(shared)} media file(s) of {root} each stand for records naming different files:\n  "
            f"{_listed(listed)}\n{tool('verify')} lists every problem."
        )
    by_task: dict[str, list[dict]] = {t.code: [] for t in TASKS}
    for _, doc in docs:
        by_task[doc["task"]].append(doc)
    if scan.duplicates:
        log.warning(
            f"HumanSense: {len(scan.duplicates)} record(s) repeat an earlier one (kept; remove the copies if they are "
            f"mistakes; {tool('verify')} lists them all), first: {scan.duplicates[0]}"
        )
    diffs = off_paper_counts({code: len(d) for code, d in by_task.items()})
    if diffs and is_sample(root):  # what a task holds, as a run of a few tasks asks only theirs
        sizes = sorted({len(d) for d in by_task.values()})
        each = f"{sizes[0]}" if len(sizes) == 1 else f"{sizes[0]}-{sizes[-1]}"
        log.warning(
            f"HumanSense: using the bundled SAMPLE set, not the benchmark: {each} questions a task "
            f"({sum(map(len, by_task.values()))} over all {len(by_task)} tasks)"
        )
    elif diffs:
        log.warning(f"HumanSense: per-task question counts differ from the paper's: {', '.join(diffs)}")
    return by_task


def unknown_task_types(records: Iterable[RawRecord], task_map: dict[str, str]) -> Counter:
    """The ``task_type`` strings ``task_map`` does not cover, counted (for the loader, verify, score)."""
    found = (r.questions().get("task_type") for r in records)
    return Counter(t for t in found if isinstance(t, str) and t not in task_map)


def task_map_for(root: Path, records: list[RawRecord]) -> dict[str, str]:
    """The mapping covering every ``task_type`` of ``records``, or the error listing the rest; the
    rest resolved only when certain (``resolve_by_counts``), logged and remembered."""
    task_map = taskmap.load_task_map(root)
    if not (unknown := unknown_task_types(records, task_map)):
        return task_map
    mapped: Counter = Counter()
    formats: dict[str, set[str]] = {}  # the answer formats of each unknown string's question patterns
    for q in (r.questions() for r in records):
        if not isinstance(name := q.get("task_type"), str):  # the record's own error names it
            continue
        if name in task_map:
            mapped[task_map[name]] += 1
        elif name in unknown and q.get("question_pattern") in QUESTION_PATTERNS:
            formats.setdefault(name, set()).add(QUESTION_PATTERNS[q["question_pattern"]])
    resolved, why_not = taskmap.resolve_by_counts(unknown, mapped, formats)
    if resolved is None:
        raise taskmap.unknown_error(unknown, root, f"Not resolved automatically: {why_not}.")
    where = taskmap.remember_resolution(root, resolved)
    saved = f"; written to {where}" if where else "; not written (neither the root nor the cache is writable)"
    log.warning(
        "HumanSense: task_type strings resolved by name, every per-task count equal to the paper's: "
        f"{json.dumps(resolved, sort_keys=True)}{saved}"
    )
    return {**task_map, **resolved}


def load_all_docs(root: Path) -> dict[str, list[dict[str, Any]]]:
    """The validated docs by task (copies, so callers may add fields), cached by what they depend on:
    the annotation files and every task map source."""
    sources = (*ANNOTATION_FILES, taskmap.ROOT_FILE, taskmap.RESOLVED_FILE)
    stamp = ((os.environ.get(taskmap.ENV_VAR, ""), 0, 0, 0), *files_stamp(root, sources))
    return {code: [dict(d) for d in docs] for code, docs in _load_all(root, stamp).items()}


def load_task_docs(root: Path, code: str) -> list[dict[str, Any]]:
    return load_all_docs(root)[BY_CODE[code.upper()].code]
