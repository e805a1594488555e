"""The official HumanSense prompts and the paper's named prompt variants: the default equals, byte for
byte, what the official runner sends (``tests/test_prompts.py`` holds it literally), each wording written once."""

from __future__ import annotations

from collections.abc import Sequence

from lmms_humansense.catalog import AnswerFormat

HEADER = (
    "You are an advanced multimodal analysis AI assistant. You have been provided with video content and a question."
)

#: The largest count the numeric template allows.
MAX_COUNT = 10
#: Per answer format: the question line, and what the answer must be (the plain template's last line
#: and the think template's <answer> say it).
_FORMATS: dict[str, tuple[str, str]] = {
    "single": ("Question: {question}, which one of the following is correct?", "answer one correct letter only"),
    "multi": ("Question: {question}, Which of the following are correct? (Select all)", "answer correct letters only"),
    "numeric": ("Question: {question}", f"answer a single Arabic numeral between 0 and {MAX_COUNT}"),
}
THINK_LINE = (
    "Output the thinking process in <think> </think> and final answer in <answer> </answer> tags, "
    "i.e., <think> reasoning process here </think><answer> {what} </answer>."
)

#: Prepended by the official runner's ``--asr`` flag (no separator before the template's newline).
ASR_PREFIX = "The following provides the ASR (Automatic Speech Recognition) text from the video:"

#: The official runner's ``--think_omini`` system text (the paper's training-free prompt enhancement),
#: its odd indentation included.
ENHANCED_PREFIX = "System Prompt:\n\n" + "\n\n".join(
    " " * 20 + line
    for line in (
        "When analyzing the video, focus on identifying:",
        "Key Characteristics: Recognize notable features, actions, emotions, or behaviors of people.",
        "Chat Content: Extract relevant dialogue or spoken words.",
        "Events: Identify significant activities, interactions, or key moments.",
        "For the following tasks, base your reasoning on the above elements to draw conclusions.",
    )
)

#: The official option counts (single choice 2-5, multi-select always 4).
OPTION_COUNTS: dict[str, tuple[int, ...]] = {"single": (2, 3, 4, 5), "multi": (4,)}


class PromptError(ValueError):
    """A question the official templates cannot express (wrong option count, Yes/No pattern)."""


def build_prompt(question: str, options: Sequence[str], answer_format: AnswerFormat, *, think: bool = False) -> str:
    """The official template filled in; :class:`PromptError` for what it cannot ask (Yes/No, other option
    counts): asking it anyway would change the protocol."""
    if answer_format not in _FORMATS:
        raise PromptError(f"the official runner has no prompt for answer format {answer_format!r}")
    if answer_format in OPTION_COUNTS and len(options) not in OPTION_COUNTS[answer_format]:
        raise PromptError(
            f"{len(options)} options for a {answer_format} question; the official templates take {OPTION_COUNTS[answer_format]}"
        )
    line, ask = _FORMATS[answer_format]
    lines = ["", HEADER, "", line.format(question=question), ""]
    if answer_format != "numeric":
        lines += ["Options:", *options, ""]
    lines.append(
        THINK_LINE.format(what=f"{ask} here") if think else f"{ask}, do not include any extra text or explanation:"
    )
    return "\n".join(lines) + "\n"


def apply_variant(prompt: str, variant: str, transcript: str = "") -> str:
    """Prefix a built prompt as the official runner's ``--asr`` and ``--think_omini`` do (``think``
    changes the template, ``noaudio`` the media: neither is done here)."""
    if variant == "asr":
        return ASR_PREFIX + transcript + prompt
    if variant == "enhanced":
        return ENHANCED_PREFIX + prompt
    return prompt
