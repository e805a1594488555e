"""What a number was computed from.  A doc id is a position in an annotation file, which another
file order or data version gives to another question: a question's identity is a digest of what it
is (paired comparisons match on it); a run's provenance names the versions and the annotations.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from lmms_humansense.data.root import ANNOTATION_FILES, annotation_digest, files_stamp

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


@lru_cache(maxsize=8)
def _provenance(root: str, stamp: tuple[tuple[str, int, int, int], ...]) -> str:
    return (
        f"lmms-humansense {_version('lmms-humansense')}; lmms-eval {_version('lmms-eval')}; "
        f"annotations sha256:{annotation_digest(Path(root))}"
    )


def provenance(root: Path) -> str:
    """``lmms-humansense X; lmms-eval Y; annotations sha256:Z``, cached per root and file state."""
    return _provenance(str(root), files_stamp(Path(root), ANNOTATION_FILES))
