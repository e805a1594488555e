"""A recording stand-in for ``sglang.Engine``: see ``_stand_in_record``."""

from __future__ import annotations

from typing import Any

from _stand_in_record import ANSWER, record


class Engine:
    """Records the engine's arguments and every ``generate`` call; answers ``ANSWER``."""

    def __init__(self, **kwargs: Any) -> None:
        record({"engine": "sglang", "call": "Engine", "kwargs": kwargs})

    def generate(
        self,
        prompt: Any = None,
        image_data: Any = None,
        video_data: Any = None,
        sampling_params: Any = None,
        **kwargs: Any,
    ) -> list[dict[str, Any]]:
        prompts = prompt if isinstance(prompt, list) else [prompt]
        for i, text in enumerate(prompts):
            record(
                {
                    "engine": "sglang",
                    "call": "generate",
                    "prompt": text,
                    "images": len((image_data or [[]] * len(prompts))[i] or []),
                    "videos": list((video_data or [[]] * len(prompts))[i] or []),
                    "other": sorted(k for k, v in kwargs.items() if v is not None),
                }
            )
        return [{"text": ANSWER, "meta_info": {"completion_tokens": 1}} for _ in prompts]
