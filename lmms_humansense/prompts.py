"""The official HumanSense prompts and the paper's named prompt variants.

The default prompt equals, byte for byte, what the official runner sends (``PROMPT_TEMPLATE.py``,
``PROMPT_TEMPLATE_think.py``; ``tests/test_prompts.py`` holds them literally), assembled from parts
so that each wording is written once.
"""

from __future__ import annotations

from collections.abc import Sequence

from lmms_humansense.catalog import AnswerFormat

HEADER = (
    "You are an advanced multimodal analysis AI assistant. You have been provided with video content and a question."
)

_QUESTION_LINE: dict[str, str] = {
    "single": "Question: {question}, which one of the following is correct?",
    "multi": "Question: {question}, Which of the following are correct? (Select all)",
    "numeric": "Question: {question}",
}

#: What the answer must be, as the plain template's last line and the think template's <answer> say it.
_ASK: dict[str, str] = {
    "single": "answer one correct letter only",
    "multi": "answer correct letters only",
    "numeric": "answer a single Arabic numeral between 0 and 10",
}
_PLAIN_END = ", do not include any extra text or explanation:"

THINK_LINE = (
    "Output the thinking process in <think> </think> and final answer in <answer> </answer> tags, "
    "i.e., <think> reasoning process here </think><answer> {what} </answer>."
)

#: Prepended by the official runner's ``--asr`` flag (no separator before the template's newline).
ASR_PREFIX = "The following provides the ASR (Automatic Speech Recognition) text from the video:"

#: The official runner's ``--think_omini`` system text, the paper's training-free prompt
#: enhancement.  Its odd indentation is part of the string the runner sends.
ENHANCED_PREFIX = (
    "System Prompt:\n"
    "\n"
    "                    When analyzing the video, focus on identifying:\n"
    "\n"
    "                    Key Characteristics: Recognize notable features, actions, emotions, or behaviors of people.\n"
    "\n"
    "                    Chat Content: Extract relevant dialogue or spoken words.\n"
    "\n"
    "                    Events: Identify significant activities, interactions, or key moments.\n"
    "\n"
    "                    For the following tasks, base your reasoning on the above elements to draw conclusions."
)

#: Official option counts: single choice has 2-5 options, multi-select always 4.
SINGLE_OPTION_COUNTS = (2, 3, 4, 5)
MULTI_OPTION_COUNT = 4
#: The largest count the numeric templates allow ("a single Arabic numeral between 0 and 10").
MAX_COUNT = 10


class PromptError(ValueError):
    """A question the official templates cannot express (wrong option count, Yes/No pattern)."""


def build_prompt(question: str, options: Sequence[str], answer_format: AnswerFormat, *, think: bool = False) -> str:
    """The official template for ``answer_format`` filled in; :class:`PromptError` for what the
    official templates cannot ask (Yes/No, other option counts), which would change the protocol."""
    if answer_format == "yesno" or answer_format not in _QUESTION_LINE:
        raise PromptError(f"the official runner has no prompt for answer format {answer_format!r}")
    if answer_format == "single" and len(options) not in SINGLE_OPTION_COUNTS:
        raise PromptError(f"single-choice questions have 2-5 options in the official templates, got {len(options)}")
    if answer_format == "multi" and len(options) != MULTI_OPTION_COUNT:
        raise PromptError(f"multi-select questions have exactly 4 options in the official template, got {len(options)}")
    lines = ["", HEADER, "", _QUESTION_LINE[answer_format].format(question=question), ""]
    if answer_format != "numeric":
        lines += ["Options:", *options, ""]
    ask = _ASK[answer_format]
    lines.append(THINK_LINE.format(what=f"{ask} here") if think else ask + _PLAIN_END)
    return "\n".join(lines) + "\n"


def apply_variant(prompt: str, variant: str, transcript: str = "") -> str:
    """Prefix a built prompt as the official runner's ``--asr`` and ``--think_omini`` do (``think``
    changes the template, ``noaudio`` the media: neither is done here)."""
    if variant == "asr":
        return ASR_PREFIX + transcript + prompt
    if variant == "enhanced":
        return ENHANCED_PREFIX + prompt
    return prompt
