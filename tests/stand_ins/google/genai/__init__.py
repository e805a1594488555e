"""A recording stand-in for ``google.genai`` (``Client``: ``files``, ``models.generate_content``):
see ``_stand_in_record``.  An uploaded file is recorded with whether it holds a sound track."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from _stand_in_record import ANSWER, record

from . import types

__all__ = ["Client", "types"]


def _has_sound(path: str) -> bool:
    import av

    with av.open(path) as container:
        return bool(container.streams.audio)


class _Files:
    def __init__(self) -> None:
        self.uploaded: dict[str, str] = {}

    def upload(self, file: str, **kwargs: Any) -> Any:
        name = f"files/{len(self.uploaded)}"
        self.uploaded[name] = file
        record({"engine": "gemini", "call": "files.upload", "path": file, "sound": _has_sound(file)})
        return SimpleNamespace(name=name, uri=f"stand-in://{name}", mime_type="video/mp4", state=None)

    def get(self, name: str) -> Any:
        return SimpleNamespace(name=name, uri=f"stand-in://{name}", mime_type="video/mp4", state=None)

    def delete(self, name: str) -> None:
        return None


class _Models:
    def generate_content(self, model: str, contents: list[Any], config: Any = None) -> Any:
        parts = [p.summary for c in contents for p in c.parts]
        record({"engine": "gemini", "call": "generate_content", "model": model, "parts": parts})
        return SimpleNamespace(text=ANSWER, usage_metadata=None, candidates=[])


class Client:
    """Records every upload and request; answers ``ANSWER``."""

    def __init__(self, **kwargs: Any) -> None:
        self.files = _Files()
        self.models = _Models()
