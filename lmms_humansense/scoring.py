"""Per-item scores and the means lmms-eval reports.  ``acc`` reads the answer with :mod:`lmms_humansense.answers`
(never guessing); ``acc_official`` keeps the official scorers' quirks (the first character counts) so a number sits
next to the paper's, but scores AC, which ``score.py`` skips.  ``None``: out of the denominator (an empty answer)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from lmms_humansense.answers import Parsed, parse
from lmms_humansense.catalog import AnswerFormat


def multi_credit(chosen: str, gold: str) -> float:
    """The paper's partial credit: a letter outside gold 0, all of gold 1, a part 0.5."""
    if any(c not in gold for c in chosen):
        return 0.0
    return 1.0 if all(c in chosen for c in gold) else 0.5


@dataclass(frozen=True)
class RobustScore:
    parsed: Parsed
    score: float


def robust_score(response: str, answer_format: AnswerFormat, options: Sequence[str], gold: str) -> RobustScore:
    """Anything unparsed scores 0, and is reported as unparsed."""
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
        return _first_digit(response, gold)
    if answer_format == "multi":
        answer = response.replace(".", "").replace(",", "").lower()
        return multi_credit(answer, gold.lower()) if answer else None
    raise ValueError(f"unknown answer format {answer_format!r}")


def first_answer_tag(response: str) -> str | None:
    """What ``re.search(r"<answer>(.*?)</answer>", response, re.DOTALL)`` captures, in linear time
    (the regex is quadratic on a long reply repeating an unclosed tag)."""
    start = response.find("<answer>")
    end = response.find("</answer>", start + len("<answer>")) if start >= 0 else -1
    return None if end < 0 else response[start + len("<answer>") : end]


#: What score_think.py deletes before comparing texts (the multi-select rule: spaces too).
_PUNCT = str.maketrans("", "", ".,，")
_PUNCT_SPACE = str.maketrans("", "", ".,， ")


def official_think_score(
    response: str | None, answer_format: AnswerFormat, options: Sequence[str], gold: str
) -> float | None:
    """``score_think.py``'s rule; ``None`` where it leaves the item out, 0 where it would crash."""
    if not response:
        return None
    index = "abcde".find(gold[:1].lower())
    tag = first_answer_tag(response)
    answer = tag.strip() if tag is not None else response
    if answer_format == "single":  # a letter a-d (not e), "x." and text, or the gold option's text
        letter, answer = gold[0].strip().lower(), (answer if tag else response[0]).strip().lower()
        parts = (options[index] if 0 <= index < len(options) else "").split(".", 1)
        value = (parts[1].strip().lower() if len(parts) > 1 else "").translate(_PUNCT)
        if answer in ("a", "b", "c", "d"):
            return float(letter == answer)
        if answer.startswith(("a.", "b.", "c.", "d.")):
            head, rest = answer.split(".", 1)
            return float(head.strip() == letter or rest.strip().translate(_PUNCT) == value)
        return float(answer.translate(_PUNCT) == value)
    if answer_format == "multi":  # newlines go only without a tag, as there ("A\nC" in a tag earns 0)
        answer = answer.translate(_PUNCT_SPACE).lower()
        return multi_credit(answer if tag else answer.replace("\n", ""), gold.translate(_PUNCT_SPACE).lower())
    if answer_format == "numeric":
        return _first_digit(answer, gold)
    raise ValueError(f"unknown answer format {answer_format!r}")


def _first_digit(answer: str, gold: str) -> float:
    """Both official scorers' count rule: the answer's first character as a number ("10" reads as 1)."""
    try:
        return float(int(gold) == int(answer[0]))
    except (ValueError, IndexError):
        return 0.0


@dataclass(frozen=True)
class AnswerScores:
    robust: RobustScore
    official: float | None  # None: the official scorer leaves an empty answer out


def score_answer(
    response: str, answer_format: AnswerFormat, options: Sequence[str], gold: str, *, think: bool
) -> AnswerScores:
    """The one place an answer is scored, both ways (``think``: ``score_think.py``'s rules), for the
    hooks and for re-scoring the official runner's files alike."""
    official = (
        official_think_score(response, answer_format, options, gold)
        if think
        else official_score(response, answer_format, gold)
    )
    return AnswerScores(robust_score(response, answer_format, options, gold), official)


def mean_score(items: Iterable[Any]) -> float | None:
    """Leaf aggregation: the mean ``score`` of the items that have one; ``None`` when none has."""
    scores = [float(x["score"]) for x in items if isinstance(x, dict) and x.get("score") is not None]
    return sum(scores) / len(scores) if scores else None


def macro_mean(
    metrics: Sequence[float | None], sizes: Sequence[int] = (), weight_by_size: bool = False
) -> float | None:
    """Group aggregation: the unweighted mean of the leaves that reported a number, whatever
    ``weight_by_size`` says (the paper's Avg weighs every task equally)."""
    values = [float(m) for m in metrics if isinstance(m, (int, float))]
    return sum(values) / len(values) if values else None


#: The metrics that get a standard error of their macro means (``<metric>_se`` in results.json).
SE_METRICS: tuple[str, ...] = ("acc", "acc_official", "paper_avg")
#: A standard error that cannot be estimated (fewer than two clips), as lmms-eval writes it.
NOT_ESTIMABLE = "N/A"


def clustered_se(items: Iterable[Any]) -> float | str | None:
    """Leaf aggregation of ``<metric>_se``: the task mean's clip-clustered standard error (lmms-eval's
    formula; its groups drop ``_stderr`` keys, and ``value`` items get no stderr of lmms-eval's own)."""
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
    (lmms-eval pools them as one micro mean); one ``"N/A"`` leaf makes the group's ``"N/A"``."""
    if any(m == NOT_ESTIMABLE for m in metrics):
        return NOT_ESTIMABLE
    values = [float(m) for m in metrics if isinstance(m, (int, float))]
    return math.sqrt(sum(v * v for v in values)) / len(values) if values else None


def se_item(item: dict[str, Any]) -> dict[str, Any]:
    """A logged sample's ``<metric>_se`` entry, from the metric's own."""
    if item.get("score") is None:
        return {key: value for key, value in item.items() if key in ("clip", "excluded")}
    return {"value": item["score"], "clip": item.get("clip")}


def count_clips(items: Iterable[Any]) -> int | None:
    """Leaf aggregation of ``clips``."""
    return len(clips) if (clips := {str(x.get("clip")) for x in items if isinstance(x, dict)}) else None


def join_provenance(items: Iterable[Any]) -> str | None:
    """Leaf aggregation of ``provenance``: what the questions were scored under (several joined by `` | ``)."""
    seen = sorted({str(x["provenance"]) for x in items if isinstance(x, dict) and x.get("provenance")})
    return " | ".join(seen) if seen else None
