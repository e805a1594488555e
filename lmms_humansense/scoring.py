"""Per-item scores, robust and official, and the means lmms-eval reports.

Two scores stand side by side for every item:

* ``acc`` reads the answer with :mod:`lmms_humansense.answers` (never guessing) and gives the
  official partial credit for multi-select items.
* ``acc_official`` re-implements the official scorers' rules exactly (``score.py`` and, for the
  think variant, ``score_think.py`` of antgroup/HumanSense), quirks included: only the first
  character of a plain answer counts, "10" reads as 1, empty answers leave the denominator, so a
  user can put a number next to the paper's.  One deliberate difference: ``score.py`` skips
  ``Abnormal_Recognition`` altogether although the paper reports AC; here AC is scored with the
  same rules as every other single-choice task.

``None`` means "left out of the denominator", as the official scorers do for empty answers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from lmms_humansense.answers import Parsed, parse
from lmms_humansense.catalog import AnswerFormat


def multi_credit(chosen: str, gold: str) -> float:
    """The paper's partial credit: any letter outside gold scores 0, all of gold 1, a part 0.5 (the
    official scorer applies it to raw characters, the robust one to a parsed letter set)."""
    if any(c not in gold for c in chosen):
        return 0.0
    return 1.0 if all(c in chosen for c in gold) else 0.5


@dataclass(frozen=True)
class RobustScore:
    parsed: Parsed
    score: float


def robust_score(response: str, answer_format: AnswerFormat, options: Sequence[str], gold: str) -> RobustScore:
    """Score a response with the robust parser; anything unparsed scores 0 and is reported."""
    parsed = parse(response, answer_format, options)
    if not parsed.ok:
        return RobustScore(parsed, 0.0)
    if answer_format == "multi":
        return RobustScore(parsed, multi_credit(parsed.value, "".join(sorted(gold.upper()))))
    if answer_format == "numeric":
        return RobustScore(parsed, float(int(parsed.value) == int(gold)))
    return RobustScore(parsed, float(parsed.value == gold.strip()[:1].upper()))


def official_score(response: str | None, answer_format: AnswerFormat, gold: str) -> float | None:
    """``score.py``'s rule for one item; ``None`` when score.py leaves it out."""
    if not response:
        return None
    if answer_format == "single":
        return float(gold[0].lower() == response[0].lower())
    if answer_format == "numeric":
        try:
            return float(int(gold) == int(response[0]))
        except ValueError:
            return 0.0
    if answer_format == "multi":
        answer = response.replace(".", "").replace(",", "").lower()
        return multi_credit(answer, gold.lower()) if answer else None
    raise ValueError(f"unknown answer format {answer_format!r}")


def first_answer_tag(response: str) -> str | None:
    """What ``re.search(r"<answer>(.*?)</answer>", response, re.DOTALL)`` captures, in linear time
    (the lazy regex is quadratic on a long reply repeating an unclosed tag; its match is always the
    first ``<answer>`` and the first ``</answer>`` after it)."""
    start = response.find("<answer>")
    if start < 0:
        return None
    end = response.find("</answer>", start + len("<answer>"))
    return None if end < 0 else response[start + len("<answer>") : end]


def _think_single(gold: str, answer: str, gold_option: str) -> float:
    """``score_think.py``'s single-choice rule: a bare letter a-d, "x." prefixed text, or the
    text of the gold option.  (Its letter list stops at d: a bare "e" only scores through the
    option text, as in the original.)"""
    letter = gold[0].strip().lower()
    parts = gold_option.split(".", 1)
    value = parts[1].strip().lower() if len(parts) > 1 else ""
    answer = answer.strip().lower()

    def squash(s: str) -> str:
        return s.strip().replace(".", "").replace(",", "").replace("，", "")

    if answer in ("a", "b", "c", "d"):
        return float(letter == answer)
    if answer.startswith(("a.", "b.", "c.", "d.")):
        head, rest = answer.split(".", 1)
        return float(head.strip() == letter or squash(rest) == squash(value))
    return float(squash(answer) == squash(value))


def _think_multi(answer: str, gold: str, *, drop_newlines: bool) -> float:
    """Without a tag the original also removes newlines from the whole response; inside a tag it
    does not (so "A\nC" in a tag earns 0 there, and here)."""

    def squash(s: str) -> str:
        return s.replace(".", "").replace(",", "").replace("，", "").replace(" ", "").lower()

    answer = squash(answer)
    return multi_credit(answer.replace("\n", "") if drop_newlines else answer, squash(gold))


def official_think_score(
    response: str | None, answer_format: AnswerFormat, options: Sequence[str], gold: str
) -> float | None:
    """``score_think.py``'s rule for one item; ``None`` when it leaves the item out.

    Where the original would crash (``int()`` of a non-digit), the item scores 0 as in score.py.
    """
    if not response:
        return None
    gold_option = ""
    index = "abcde".find(gold[:1].lower())
    if 0 <= index < len(options):
        gold_option = options[index]
    tag = first_answer_tag(response)
    answer = tag.strip() if tag is not None else response
    if answer_format == "single":
        return _think_single(gold, answer if tag else response[0], gold_option)
    if answer_format == "multi":
        return _think_multi(answer, gold, drop_newlines=not tag)
    if answer_format == "numeric":
        try:
            return float(int(gold) == int(answer[0]))
        except (ValueError, IndexError):
            return 0.0
    raise ValueError(f"unknown answer format {answer_format!r}")


@dataclass(frozen=True)
class AnswerScores:
    """Both scores of one answer: the robust one (with its parse) and the official one."""

    robust: RobustScore
    official: float | None  # None: the official scorer leaves an empty answer out


def score_answer(
    response: str, answer_format: AnswerFormat, options: Sequence[str], gold: str, *, think: bool
) -> AnswerScores:
    """Score one answer both ways; ``think`` picks ``score_think.py``'s official rules.  The one place
    an answer is scored, for the hooks and for re-scoring the official runner's files alike."""
    robust = robust_score(response, answer_format, options, gold)
    if think:
        official = official_think_score(response, answer_format, options, gold)
    else:
        official = official_score(response, answer_format, gold)
    return AnswerScores(robust, official)


def mean_score(items: Iterable[Any]) -> float | None:
    """Leaf aggregation: the mean ``score`` over the items that have one (an item without one was left
    out of the denominator); ``None`` when nothing was scored."""
    scores = [float(x["score"]) for x in items if isinstance(x, dict) and x.get("score") is not None]
    return sum(scores) / len(scores) if scores else None


def macro_mean(
    metrics: Sequence[float | None], sizes: Sequence[int] = (), weight_by_size: bool = False
) -> float | None:
    """Group aggregation: the unweighted mean over the leaf tasks that reported a number, whatever
    ``weight_by_size`` says (the paper's Avg weighs every task equally); a ``None`` leaf is left out."""
    values = [float(m) for m in metrics if isinstance(m, (int, float))]
    return sum(values) / len(values) if values else None


#: The metrics that get a standard error of their macro means (``<metric>_se`` in results.json).
SE_METRICS: tuple[str, ...] = ("acc", "acc_official", "paper_avg")
#: What a standard error is when it cannot be estimated (fewer than two clips scored), as
#: lmms-eval itself writes it.
NOT_ESTIMABLE = "N/A"


def clustered_se(items: Iterable[Any]) -> float | str | None:
    """Leaf aggregation of ``<metric>_se``: the standard error of the task mean, questions clustered by
    clip (lmms-eval's own formula, under a name its group aggregation sees: it drops keys containing
    ``_stderr``).  Items carry ``value``, not ``score``, so lmms-eval computes no stderr of it.
    ``None`` when nothing was scored, ``"N/A"`` when fewer than two clips were.
    """
    from lmms_eval.api.metrics import clustered_stderr

    pairs = [(float(x["value"]), x.get("clip")) for x in items if isinstance(x, dict) and x.get("value") is not None]
    if not pairs:
        return None
    if len({clip for _, clip in pairs}) < 2:
        return NOT_ESTIMABLE
    return float(clustered_stderr([s for s, _ in pairs], [c for _, c in pairs]))


def macro_se(
    metrics: Sequence[float | str | None], sizes: Sequence[int] = (), weight_by_size: bool = False
) -> float | str | None:
    """Group aggregation of ``<metric>_se``: the standard error of a macro mean over independent tasks
    (lmms-eval's group stderr pools them as one micro mean).  ``None`` leaves are left out; one
    ``"N/A"`` leaf makes the group's ``"N/A"`` rather than an understated figure.
    """
    if any(m == NOT_ESTIMABLE for m in metrics):
        return NOT_ESTIMABLE
    values = [float(m) for m in metrics if isinstance(m, (int, float))]
    return math.sqrt(sum(v * v for v in values)) / len(values) if values else None


def se_item(item: dict[str, Any]) -> dict[str, Any]:
    """The ``<metric>_se`` entry of a logged sample, from the metric's own entry."""
    if item.get("score") is None:
        return {key: value for key, value in item.items() if key in ("clip", "excluded")}
    return {"value": item["score"], "clip": item.get("clip")}


def count_clips(items: Iterable[Any]) -> int | None:
    """Leaf aggregation of ``clips``: how many clips the task's questions come from (the report's
    intervals use ``clips − 1`` degrees of freedom); ``None`` when no question was logged."""
    clips = {str(x.get("clip")) for x in items if isinstance(x, dict)}
    return len(clips) if clips else None


def join_provenance(items: Iterable[Any]) -> str | None:
    """Leaf aggregation of ``provenance``: the package and lmms-eval versions and the annotation
    digest the task's questions were scored under (normally one; several joined by `` | ``)."""
    seen = sorted({str(x["provenance"]) for x in items if isinstance(x, dict) and x.get("provenance")})
    return " | ".join(seen) if seen else None
