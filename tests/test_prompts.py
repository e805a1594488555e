"""The default prompts are byte-identical to the official PROMPT_TEMPLATE.py (literal goldens)."""

from __future__ import annotations

import pytest

from lmms_humansense.prompts import PromptError, build_prompt

HEAD = "\nYou are an advanced multimodal analysis AI assistant. You have been provided with video content and a question.\n\n"
SINGLE_TAIL = "\nanswer one correct letter only, do not include any extra text or explanation:\n"

GOLDEN_SINGLE = {
    2: HEAD
    + "Question: Is she lying, which one of the following is correct?\n\nOptions:\nA. yes\nB. no\n"
    + SINGLE_TAIL,
    3: HEAD
    + "Question: Is she lying, which one of the following is correct?\n\nOptions:\nA. yes\nB. no\nC. unsure\n"
    + SINGLE_TAIL,
    4: HEAD
    + "Question: Is she lying, which one of the following is correct?\n\nOptions:\nA. yes\nB. no\nC. unsure\nD. both\n"
    + SINGLE_TAIL,
    5: HEAD
    + "Question: Is she lying, which one of the following is correct?\n\nOptions:\nA. yes\nB. no\nC. unsure\nD. both\nE. none\n"
    + SINGLE_TAIL,
}
OPTIONS = ["A. yes", "B. no", "C. unsure", "D. both", "E. none"]


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_single_choice_matches_official_template(n: int) -> None:
    assert build_prompt("Is she lying", OPTIONS[:n], "single") == GOLDEN_SINGLE[n]


def test_multi_select_matches_official_template() -> None:
    golden = (
        "\nYou are an advanced multimodal analysis AI assistant. You have been provided with video content and a question.\n"
        "\nQuestion: What is he doing, Which of the following are correct? (Select all)\n"
        "\nOptions:\nA. walking\nB. waving\nC. sitting\nD. running\n"
        "\nanswer correct letters only, do not include any extra text or explanation:\n"
    )
    assert build_prompt("What is he doing", ["A. walking", "B. waving", "C. sitting", "D. running"], "multi") == golden


def test_numeric_matches_official_template() -> None:
    golden = (
        "\nYou are an advanced multimodal analysis AI assistant. You have been provided with video content and a question.\n"
        "\nQuestion: How many people appear\n"
        "\nanswer a single Arabic numeral between 0 and 10, do not include any extra text or explanation:\n"
    )
    assert build_prompt("How many people appear", [], "numeric") == golden


def test_think_single_matches_official_think_template() -> None:
    golden = (
        HEAD + "Question: Q, which one of the following is correct?\n\nOptions:\nA. yes\nB. no\n\n"
        "Output the thinking process in <think> </think> and final answer in <answer> </answer> tags, i.e., "
        "<think> reasoning process here </think><answer> answer one correct letter only here </answer>.\n"
    )
    assert build_prompt("Q", OPTIONS[:2], "single", think=True) == golden


@pytest.mark.parametrize(
    ("options", "fmt"),
    [(OPTIONS[:1], "single"), (OPTIONS + ["F. x"], "single"), (OPTIONS[:3], "multi"), ([], "yesno")],
)
def test_shapes_the_official_runner_cannot_ask_are_refused(options: list[str], fmt: str) -> None:
    with pytest.raises(PromptError):
        build_prompt("Q", options, fmt)  # type: ignore[arg-type]
