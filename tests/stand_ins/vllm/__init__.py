"""A recording stand-in for ``vllm`` (``LLM``, ``SamplingParams``): see ``_stand_in_record``."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from _stand_in_record import ANSWER, openai_parts, record


class SamplingParams:
    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs


class LLM:
    """Records the engine's arguments and every ``chat`` request; answers ``ANSWER``."""

    def __init__(self, **kwargs: Any) -> None:
        record({"engine": "vllm", "call": "LLM", "kwargs": kwargs})

    def chat(
        self, messages: list[Any], sampling_params: Any = None, chat_template: Any = None, **kwargs: Any
    ) -> list[Any]:
        batch = messages if messages and isinstance(messages[0], list) else [messages]
        params = sampling_params if isinstance(sampling_params, list) else [sampling_params] * len(batch)
        for one, p in zip(batch, params, strict=True):
            record({"engine": "vllm", "call": "chat", "parts": openai_parts(one), "params": getattr(p, "kwargs", None)})
        return [SimpleNamespace(outputs=[SimpleNamespace(text=ANSWER)]) for _ in batch]

    def get_metrics(self) -> list[Any]:
        return []
