"""What a number was computed from: a question's identity and a run's provenance.

A doc id (``ER-VQA00012``) is a position in an annotation file: reorder the file, or take another
data version, and the same id names another question.  A question's identity is therefore a
digest of what it is (its media path, question, options and gold answer); paired comparisons
match on it.  A run's provenance names this package's version, lmms-eval's and a digest of the
two annotation files, so two results files can be told apart by more than their dates.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from lmms_humansense.data.root import ANNOTATION_FILES

#: Hex digits kept of a question's digest (64 bits: no collision among a few thousand questions).
QID_LENGTH = 16


def question_id(doc: Mapping[str, Any]) -> str:
    """The content identity of one question; the same on any root holding the same record."""
    content = [doc.get("task"), doc.get("media_raw") or doc.get("clip"), doc["question"], doc["options"], doc["answer"]]
    text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:QID_LENGTH]


def _version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def annotation_digest(root: Path) -> str:
    """sha256 over the two annotation files of a root (each name and content), first 16 digits."""
    digest = hashlib.sha256()
    for name in ANNOTATION_FILES:
        path = Path(root) / name
        digest.update(name.encode())
        digest.update(path.read_bytes() if path.is_file() else b"<absent>")
    return digest.hexdigest()[:16]


@lru_cache(maxsize=8)
def _provenance(root: str, stamp: tuple[int, ...]) -> str:
    return (
        f"lmms-humansense {_version('lmms-humansense')}; lmms-eval {_version('lmms-eval')}; "
        f"annotations sha256:{annotation_digest(Path(root))}"
    )


def provenance(root: Path) -> str:
    """``lmms-humansense X; lmms-eval Y; annotations sha256:Z`` for a run over ``root``.

    Cached per root and file state, as every task of a run asks for it."""
    stamp = tuple(
        int(v) for name in ANNOTATION_FILES if (Path(root) / name).is_file() for v in _stat(Path(root) / name)
    )
    return _provenance(str(root), stamp)


def _stat(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns
