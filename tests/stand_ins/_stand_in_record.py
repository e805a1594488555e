"""What a recording stand-in for an engine writes: one JSON line per call, to $HUMANSENSE_TEST_RECORD.

Test scaffolding only (docs/wrappers.md, "stand-in"): the engines and API clients lmms-eval's
``vllm``, ``sglang`` and ``gemini`` wrappers drive cannot be installed on a CPU test machine, so
this folder, put on ``PYTHONPATH`` of an ``lmms-eval`` CLI subprocess, provides modules of those
names that record what the wrapper's own code hands them and answer a fixed text.  lmms-eval
itself is not touched.
"""

from __future__ import annotations

import base64
import io
import json
import os
from typing import Any

RECORD_ENV = "HUMANSENSE_TEST_RECORD"
ANSWER = "A"


def record(entry: dict[str, Any]) -> None:
    with open(os.environ[RECORD_ENV], "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, default=str) + "\n")


def _png_size(url: str) -> list[int] | None:
    """(height, width) of a ``data:image/...;base64,`` URL's picture."""
    if not url.startswith("data:image"):
        return None
    from PIL import Image

    with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as img:
        return [img.height, img.width]


def openai_parts(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each content part of an OpenAI-style message list: its type, an image's size, an audio's url."""
    out = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            out.append({"type": "text", "text": content[:200]})
            continue
        for part in content or []:
            kind = part.get("type")
            item: dict[str, Any] = {"type": kind}
            if kind == "text":
                item["text"] = part["text"][:200]
            elif kind == "image_url":
                item["size"] = _png_size(part["image_url"]["url"])
            elif kind in ("audio_url", "video_url"):
                item["url"] = part[kind]["url"]
            elif kind == "input_audio":
                item["format"] = part["input_audio"].get("format")
            out.append(item)
    return out
