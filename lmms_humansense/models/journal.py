"""``resume=DIR``: every answer of a package model written to disk the moment it exists.

lmms-eval 0.7.3 stores a model's responses (``--use_cache``) only after ``generate_until``
returns for the whole request list, so a run killed after hours keeps nothing.  A journal is one
append-only JSON-lines file per process of a launch (``answers.rank<R>.jsonl``): a header naming
what the answers were computed with (the model, the args that change an answer, the checkpoint,
a digest of the annotation files), then one line per answer with its ``acc.fed`` record, each
written, flushed and fsync'd before the next question is asked.  Started again with the same
command, the model reads every process's file (so a resume may use another process count),
answers the questions it finds there from the journal and asks only the others.  A journal
written with anything else is refused with the fix, as answers of another model or other data
must never mix into one results file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["Journal", "JournalError", "answer_key", "open_journal"]

#: The journal format's version (in every header).
FORMAT = 1


class JournalError(SystemExit):
    """A journal that does not belong to this run (exit status 1, the message alone; see
    :class:`lmms_humansense.models.args.ModelArgsStop` for why a ``SystemExit``)."""


def answer_key(task: str, doc_id: Any, qid: Any) -> str:
    """One question of one task: the lmms-eval task name, the doc's position and its content identity."""
    return f"{task}\t{doc_id}\t{qid}"


def _lines(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The whole lines of ``path`` as JSON and the byte length they cover (a line cut by a kill
    has no newline and is not counted; its question is simply asked again)."""
    data = path.read_bytes()
    whole = data[: data.rfind(b"\n") + 1]
    out = []
    for number, raw in enumerate(whole.splitlines(), 1):
        try:
            out.append(json.loads(raw))
        except json.JSONDecodeError:
            raise JournalError(
                f"HumanSense resume error: {path} line {number} is not a journal line; this folder holds "
                "something else than a resume journal. Fix: give resume= an empty or new folder."
            ) from None
    return out, len(whole)


class Journal:
    """The answers already paid for (every process's), and this process's file to add to."""

    def __init__(self, folder: str | os.PathLike[str], header: Mapping[str, Any], rank: int) -> None:
        self.folder = Path(folder).expanduser()
        self.header = {"journal": FORMAT, **header}
        self.path = self.folder / f"answers.rank{rank}.jsonl"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JournalError(
                f"HumanSense resume error: cannot create the resume folder {self.folder} ({exc}). "
                "Fix: give resume= a folder you can write."
            ) from None
        self.done: dict[str, dict[str, Any]] = {}
        for path in sorted(self.folder.glob("answers.rank*.jsonl")):
            lines, _ = _lines(path)
            if not lines:
                continue
            self._check(path, lines[0])
            for entry in lines[1:]:
                self.done[entry["key"]] = entry
        self._open_own()

    def _check(self, path: Path, found: Mapping[str, Any]) -> None:
        if dict(found) == self.header:
            return
        differ = sorted(k for k in set(found) | set(self.header) if found.get(k) != self.header.get(k))
        said = "; ".join(f"{k}: journal {found.get(k)!r}, this run {self.header.get(k)!r}" for k in differ)
        raise JournalError(
            f"HumanSense resume error: {path} was written by another run ({said}); its answers cannot be mixed "
            f"with this run's. Fix: run with the journal's model args and data again, or give resume= a new "
            f"folder (or delete {self.folder}) to start over."
        )

    def _open_own(self) -> None:
        """Append to this process's file, first cutting a line a kill left unfinished."""
        if self.path.is_file():
            lines, whole = _lines(self.path)
            with open(self.path, "r+b") as fh:
                fh.truncate(whole)
            if lines:
                return
        self._write(self.header)

    def _write(self, entry: Mapping[str, Any]) -> None:
        line = (json.dumps(entry, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise JournalError(
                f"HumanSense resume error: cannot write {self.path} ({exc}); the answers so far are kept there. "
                "Fix: free space or give resume= a writable folder, then run the same command again."
            ) from None

    def get(self, key: str) -> str | None:
        """The journal's answer to ``key`` (a :class:`FedAnswer` when it had a record), or ``None``."""
        from lmms_humansense.models.omni import FedAnswer  # omni imports this module

        entry = self.done.get(key)
        if entry is None:
            return None
        fed = entry.get("fed")
        return FedAnswer(entry["text"], fed) if isinstance(fed, dict) else str(entry["text"])

    def add(self, key: str, answer: str) -> None:
        """Write one answer (and its ``fed`` record, if it has one) before the next is asked."""
        fed = getattr(answer, "fed", None)
        entry = {"key": key, "text": str(answer), "fed": fed if isinstance(fed, dict) else None}
        self._write(entry)
        self.done[key] = entry


def data_digest() -> str:
    """The annotation digest of the run's data root (``$HUMANSENSE_ROOT`` or the download)."""
    from lmms_humansense.data.root import resolve_root
    from lmms_humansense.provenance import annotation_digest

    try:
        return annotation_digest(resolve_root())
    except OSError as exc:  # no data root: the journal could not tell whose answers it holds
        raise JournalError(f"HumanSense resume error: {exc}") from None


def open_journal(folder: str, model: str, args: Mapping[str, Any], checkpoint: str, rank: int) -> Journal | None:
    """The journal of ``resume=folder`` for this process, or ``None`` when no ``resume`` was given."""
    if not folder:
        return None
    header = {"model": model, "args": dict(args), "checkpoint": checkpoint, "annotations": data_digest()}
    return Journal(folder, json.loads(json.dumps(header, default=str)), rank)
