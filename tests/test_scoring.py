"""The official scorers' rules, quirks included, and the aggregations lmms-eval calls."""

from __future__ import annotations

import pytest

from lmms_humansense.scoring import (
    macro_mean,
    mean_score,
    multi_credit,
    official_score,
    official_think_score,
    robust_score,
)

OPTS = ["A. happy", "B. angry", "C. calm", "D. sad"]


@pytest.mark.parametrize(
    ("response", "fmt", "gold", "expected"),
    [
        ("B", "single", "B", 1.0),
        ("b. angry", "single", "B", 1.0),
        ("The answer is B", "single", "B", 0.0),  # first character only
        (" B", "single", "B", 0.0),  # a leading space is the first character
        ("", "single", "B", None),  # empty answers leave the denominator
        ("3", "numeric", "3", 1.0),
        ("10", "numeric", "10", 0.0),  # "10" reads as 1
        ("10", "numeric", "1", 1.0),
        ("three", "numeric", "3", 0.0),  # int("t") fails: scored 0
        ("AC", "multi", "AC", 1.0),
        ("A, C.", "multi", "AC", 0.0),  # the space stays and is not a gold letter
        ("A,C", "multi", "AC", 1.0),
        ("a", "multi", "AC", 0.5),
        ("AB", "multi", "AC", 0.0),
        (".,", "multi", "AC", None),  # nothing left after removing . and ,
    ],
)
def test_official_rules(response: str, fmt: str, gold: str, expected: float | None) -> None:
    assert official_score(response, fmt, gold) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("response", "fmt", "gold", "expected"),
    [
        ("<think>hmm</think><answer>B</answer>", "single", "B", 1.0),
        ("<think>hmm</think><answer>B. angry</answer>", "single", "B", 1.0),
        ("<think>hmm</think><answer>angry</answer>", "single", "B", 1.0),  # the option text
        ("<answer>A. angry</answer>", "single", "B", 1.0),  # wrong letter but the gold text
        ("<answer>E</answer>", "single", "B", 0.0),
        ("B because", "single", "B", 1.0),  # no tag: first character
        ("<answer>A, C</answer>", "multi", "AC", 1.0),  # spaces removed in the think scorer
        ("<answer>A\nC</answer>", "multi", "AC", 0.0),  # a newline inside the tag stays
        ("A\nC", "multi", "AC", 1.0),  # without a tag newlines go
        ("<answer>10</answer>", "numeric", "10", 0.0),
        ("<answer>4</answer>", "numeric", "4", 1.0),
        ("<answer></answer>", "numeric", "4", 0.0),  # the original would crash; scored 0
        ("", "single", "B", None),
    ],
)
def test_official_think_rules(response: str, fmt: str, gold: str, expected: float | None) -> None:
    assert official_think_score(response, fmt, OPTS, gold) == expected  # type: ignore[arg-type]


def test_multi_credit_is_the_papers() -> None:
    assert multi_credit("AC", "AC") == 1.0
    assert multi_credit("C", "AC") == 0.5
    assert multi_credit("ACD", "AC") == 0.0


def test_robust_multi_partial_credit() -> None:
    assert robust_score("The answers are A and C", "multi", OPTS, "AC").score == 1.0
    assert robust_score("A", "multi", OPTS, "AC").score == 0.5
    assert robust_score("A, B", "multi", OPTS, "AC").score == 0.0
    unread = robust_score("I cannot tell", "multi", OPTS, "AC")
    assert unread.score == 0.0 and not unread.parsed.ok


def test_aggregations() -> None:
    items = [{"score": 1.0, "clip": "a"}, {"score": 0.0, "clip": "a"}, {"clip": "b", "excluded": "empty answer"}]
    assert mean_score(items) == 0.5
    assert mean_score([{"clip": "b"}]) is None
    assert macro_mean([0.2, None, 0.4], [100, 50, 300], True) == pytest.approx(0.3)
    assert macro_mean([None]) is None
