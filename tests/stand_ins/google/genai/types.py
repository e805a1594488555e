"""The few ``google.genai.types`` lmms-eval's ``gemini`` wrapper builds (stand-in, see the package)."""

from __future__ import annotations

from typing import Any


class Part:
    def __init__(self, summary: dict[str, Any]) -> None:
        self.summary = summary

    @classmethod
    def from_text(cls, text: str) -> Part:
        part = cls({"kind": "text", "text": text[:200]})
        part.text = text
        return part

    @classmethod
    def from_bytes(cls, data: bytes, mime_type: str) -> Part:
        return cls({"kind": "bytes", "mime_type": mime_type, "bytes": len(data)})

    @classmethod
    def from_uri(cls, file_uri: str, mime_type: str) -> Part:
        return cls({"kind": "uri", "mime_type": mime_type, "uri": file_uri})


class Content:
    def __init__(self, role: str, parts: list[Part]) -> None:
        self.role, self.parts = role, parts


class _Options:
    def __init__(self, **kwargs: Any) -> None:
        self.__dict__.update(kwargs)


class GenerateContentConfig(_Options):
    pass


class SafetySetting(_Options):
    pass


class ThinkingConfig(_Options):
    pass
