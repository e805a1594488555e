"""The official scorers' rules, quirks included, and the aggregations lmms-eval calls."""

from __future__ import annotations

import math
import random

import pytest

from lmms_humansense.report.stats import TaskClips, bootstrap_se, bootstrap_task_means, macro_replicates
from lmms_humansense.scoring import (
    clustered_se,
    macro_mean,
    macro_se,
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


# --- standard errors of task, level and overall means ----------------------------------------------
def _direct_task_se(scores: list[float], clips: list[str]) -> float:
    """The clustered standard error written out from its definition: the i.i.d. variance of the
    mean plus the within-clip cross products of deviations, over n squared."""
    n = len(scores)
    mean = sum(scores) / n
    dev = [s - mean for s in scores]
    var = sum(d * d for d in dev) / (n - 1) / n
    cross = sum(dev[i] * dev[j] for i in range(n) for j in range(n) if i != j and clips[i] == clips[j])
    return math.sqrt(var + cross / n**2)


def _generated_run(tasks: int = 15, seed: int = 7) -> dict[str, tuple[list[float], list[str]]]:
    """Per-question scores with a clip effect: 60-120 clips per task, 1-5 questions per clip."""
    rng = random.Random(seed)
    run = {}
    for t in range(tasks):
        scores, clips = [], []
        for c in range(rng.randint(60, 120)):
            p = min(max(rng.gauss(0.5, 0.25), 0.0), 1.0)  # clips differ in difficulty
            for _ in range(rng.randint(1, 5)):
                scores.append(float(rng.random() < p))
                clips.append(f"t{t}c{c}")
        run[f"T{t}"] = (scores, clips)
    return run


def test_task_se_is_the_clustered_formula() -> None:
    scores, clips = _generated_run(1)["T0"]
    items = [{"value": s, "clip": c} for s, c in zip(scores, clips, strict=True)]
    assert clustered_se(items) == pytest.approx(_direct_task_se(scores, clips), rel=1e-12)
    assert clustered_se([{"clip": "x", "excluded": "empty answer"}]) is None
    assert clustered_se([{"value": 1.0, "clip": "x"}, {"value": 0.0, "clip": "x"}]) == "N/A"  # one clip


def test_macro_se_is_root_sum_of_task_variances_over_task_count() -> None:
    assert macro_se([0.03, 0.04]) == pytest.approx(0.05 / 2)
    assert macro_se([0.03, None, 0.04]) == pytest.approx(0.05 / 2)  # a task with nothing scored is left out
    assert macro_se([0.03, "N/A"]) == "N/A"  # never an understated figure
    assert macro_se([None, None]) is None


def test_macro_se_agrees_with_a_cluster_bootstrap() -> None:
    """The standard error of the overall macro mean equals a direct computation and agrees within
    10 % with 2,000 bootstrap replicates that resample clips within each task (fixed seed)."""
    run = _generated_run()
    task_ses = [
        clustered_se([{"value": s, "clip": c} for s, c in zip(scores, clips, strict=True)])
        for scores, clips in run.values()
    ]
    figure = macro_se(task_ses)
    direct = math.sqrt(sum(_direct_task_se(*run[code]) ** 2 for code in run)) / len(run)
    assert figure == pytest.approx(direct, rel=1e-12)
    tables = {code: TaskClips.from_scores(clips, [scores]) for code, (scores, clips) in run.items()}
    means = bootstrap_task_means(tables, replicates=2000, seed=1)
    boot = bootstrap_se(macro_replicates(means, list(run))[:, 0])
    assert abs(boot - figure) / figure < 0.10, (boot, figure)


@pytest.mark.parametrize(
    "response",
    [
        "<answer>B</answer>",
        "x<answer> A </answer><answer>C</answer>",
        "<answer><answer>B</answer>",
        "<answer>unclosed",
        "</answer><answer>D</answer>",
        "<answer>a\nb</answer>",
        "no tag",
    ],
)
def test_first_answer_tag_captures_what_the_official_regex_does(response: str) -> None:
    import re

    from lmms_humansense.scoring import first_answer_tag

    m = re.search(r"<answer>(.*?)</answer>", response, re.DOTALL)
    assert first_answer_tag(response) == (m.group(1) if m else None)


def test_score_think_is_linear_on_a_repeated_unclosed_answer_tag() -> None:
    """64 KB of "<answer>" (the regex took seconds); a generous bound against hangs, the figure is
    in benchmarks/README.md (benchmarks/parser.py)."""
    import time

    text = "<answer>" * 8_192
    start = time.process_time()
    for fmt in ("single", "multi", "numeric"):
        official_think_score(text, fmt, OPTS, "A")  # type: ignore[arg-type]
    assert time.process_time() - start < 0.1
