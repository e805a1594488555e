"""The 15 HumanSense tasks and 6 variants: the one table the YAMLs, groups, task mapping, media rules
and report are derived from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

AnswerFormat = Literal["single", "multi", "numeric", "yesno"]

#: The official ``question_pattern`` strings and the answer format each one means.
QUESTION_PATTERNS: dict[str, AnswerFormat] = {
    "Multiple-choice question (select one answer choice)": "single",
    "Multiple-choice question (select one or more answer choices)": "multi",
    "Question and answer (Arabic numerals)": "numeric",
    # No runner prompt and no task use it: known so that a record carrying it is refused by name.
    "Judgment question (Yes or No)": "yesno",
}

LEVELS: dict[str, str] = {"L1": "Perception", "L2": "Complex perception", "L3": "Understanding", "L4": "Interaction"}


@dataclass(frozen=True)
class Task:
    """One task.  ``task_type``: the official string where public code spells it out; ``modality``, as the
    runner feeds it: ``video+audio`` the mp4's own sound, ``audio`` an audio file, ``video`` frames only."""

    code: str
    name: str
    level: str
    task_type: str | None
    modality: Literal["video", "video+audio", "audio"]
    answer_format: AnswerFormat
    paper_count: int

    @property
    def leaf(self) -> str:  # the lmms-eval task of the default variant
        return f"humansense_{self.code.lower()}"

    @property
    def has_video(self) -> bool:
        return self.modality != "audio"

    @property
    def uses_audio(self) -> bool:  # the 7 tasks the official runner feeds sound
        return self.modality != "video"

    @property
    def in_paper_avg(self) -> bool:  # the paper's "Avg." is the unweighted mean over the 13 video tasks
        return self.has_video

    @property
    def speech_video(self) -> bool:  # the 5 video tasks whose own sound carries speech (the asr variant's)
        return self.modality == "video+audio"


TASKS: tuple[Task, ...] = (
    Task("AR", "Action Recognition", "L1", None, "video", "multi", 300),
    Task("ER", "Emotion Recognition", "L1", None, "video", "single", 300),
    Task("GR", "Gesture Recognition", "L1", None, "video", "single", 300),
    Task("PA", "Person Appearance", "L1", None, "video", "multi", 300),
    Task("AC", "Abnormal Classification", "L2", "Abnormal_Recognition", "video", "single", 100),
    Task("CM", "Complex Motion", "L2", None, "video", "single", 281),
    Task("HC", "Human Counting", "L2", None, "video", "numeric", 360),
    Task("TR", "Talking-person Recognition", "L2", "Talkingperson_Recognition", "video+audio", "single", 300),
    Task("FR1", "Familiarity Recognition", "L3", "Familiarity_Recognition", "video+audio", "single", 200),
    Task("FR2", "Fraud Recognition", "L3", "Fraud_Recognition", "audio", "single", 300),
    Task("LD", "Lie Detection", "L3", None, "video", "single", 200),
    Task("RR1", "Relation Recognition", "L3", "Relation_Recognition", "video+audio", "single", 150),
    Task("RR2", "Rapport Recognition", "L3", "Rapport_Recognition", "video+audio", "single", 200),
    Task("ES", "Emotion Strategy", "L4", "Emo_Strategy", "video+audio", "single", 300),
    Task("PC", "Psychological Chat", "L4", "Psychological_Chat", "audio", "single", 291),
)

BY_CODE: dict[str, Task] = {t.code: t for t in TASKS}


@dataclass(frozen=True)
class Variant:
    """A way of asking (``default``: the paper's protocol): ``codes``, the tasks it applies to, as the
    runner restricts them; ``audio``, whether sound is given; ``media``, whether anything but text is."""

    name: str
    title: str
    codes: tuple[str, ...] = tuple(t.code for t in TASKS)
    audio: bool = True
    media: bool = True

    @property
    def prefix(self) -> str:
        return "humansense" if self.name == "default" else f"humansense_{self.name}"

    def leaf(self, code: str) -> str:
        return f"{self.prefix}_{code.lower()}"

    def level_group(self, level: str) -> str:  # humansense_asr_l2
        return f"{self.prefix}_{level.lower()}"

    def tasks(self) -> tuple[Task, ...]:
        return tuple(t for t in TASKS if t.code in self.codes)


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("default", "official protocol"),
        Variant("think", "reasoning prompt (<think>/<answer>), think scoring"),
        Variant("asr", "transcript prepended (5 speech video tasks)", tuple(t.code for t in TASKS if t.speech_video)),
        Variant(
            "enhanced", "training-free prompt enhancement (7 audio tasks)", tuple(t.code for t in TASKS if t.uses_audio)
        ),
        Variant(
            "noaudio", "every sound withheld (13 video tasks)", tuple(t.code for t in TASKS if t.has_video), audio=False
        ),
        Variant("blind", "media withheld: question and options only (15 tasks)", audio=False, media=False),
    )
}


def off_paper_counts(counts: Mapping[str, int]) -> list[str]:
    """The tasks whose count (``counts``, by code) differs from the paper's, as "AR 5 (paper 300)"."""
    return [
        f"{t.code} {counts.get(t.code, 0)} (paper {t.paper_count})"
        for t in TASKS
        if counts.get(t.code, 0) != t.paper_count
    ]


def paper_avg_codes() -> tuple[str, ...]:
    return tuple(t.code for t in TASKS if t.in_paper_avg)


def leaf_task(name: str) -> tuple[Task, Variant]:
    """The task and variant of a leaf task name (``humansense_asr_es`` -> ES, asr): what a leaf YAML's
    ``dataset_name`` tells ``process_docs``; a ``ValueError`` listing the valid names otherwise."""
    leaves = {v.leaf(t.code): (t, v) for v in VARIANTS.values() for t in v.tasks()}
    if name not in leaves:
        raise ValueError(
            f"HumanSense: {name!r} names no HumanSense task; a leaf task YAML sets dataset_name to its own task name "
            f"(e.g. {next(iter(leaves))}), which is how process_docs knows which questions to load"
        )
    return leaves[name]
