"""Level, overall and paper-Avg summaries of per-task numbers, with their coverage.

Runs, paper rows and the human level are all summarised by this one function, with the same
macro mean lmms-eval's groups use (:func:`lmms_humansense.scoring.macro_mean`), so a level in the
report is the level in results.json.  Each summary keeps how many of its tasks had a number: a
level over 4 of 5 tasks is shown as such, never as if it were complete.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lmms_humansense.catalog import LEVELS, TASKS, paper_avg_codes
from lmms_humansense.report.stats import macro_interval
from lmms_humansense.scoring import macro_mean, macro_se

#: Summary rows, in display order: the four levels, all 15 tasks, the paper's Avg (13 video tasks).
SUMMARY_KEYS: tuple[str, ...] = (*LEVELS, "overall", "paper_avg")
SUMMARY_TITLES: dict[str, str] = {
    **{lv: f"{lv} {title}" for lv, title in LEVELS.items()},
    "overall": "Overall (15 tasks)",
    "paper_avg": "Paper Avg (13 video tasks)",
}


@dataclass(frozen=True)
class Cell:
    """A macro mean and the tasks it covers (``covered`` of ``total`` had a number), with its
    standard error and 95 % interval when every covered task had one (a run's; the paper
    publishes none)."""

    value: float | None
    covered: int
    total: int
    se: float | None = None
    ci: tuple[float, float] | None = None

    @property
    def complete(self) -> bool:
        return self.covered == self.total

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"value": self.value, "tasks": self.covered, "of": self.total}
        if self.se is not None or self.ci is not None:
            out.update(se=self.se, ci=list(self.ci) if self.ci else None)
        return out


def summary_codes(key: str) -> tuple[str, ...]:
    """The task codes a summary row averages."""
    if key in LEVELS:
        return tuple(t.code for t in TASKS if t.level == key)
    if key == "overall":
        return tuple(t.code for t in TASKS)
    if key == "paper_avg":
        return paper_avg_codes()
    raise KeyError(f"unknown summary row {key!r}; valid: {', '.join(SUMMARY_KEYS)}")


def summarise(
    scores: Mapping[str, float | None],
    ses: Mapping[str, float | str | None] | None = None,
    ns: Mapping[str, int | None] | None = None,
    clips: Mapping[str, int | None] | None = None,
) -> dict[str, Cell]:
    """Every summary row of per-task scores (task code -> value; absent or ``None`` = no number).

    With ``ses`` (task code -> standard error), a row whose tasks all have one gets the standard
    error of its macro mean, computed as results.json's groups compute it
    (:func:`lmms_humansense.scoring.macro_se`); with ``ns`` (questions per task) too, its 95 %
    interval (:func:`lmms_humansense.report.stats.macro_interval`)."""
    out = {}
    for key in SUMMARY_KEYS:
        codes = [c for c in summary_codes(key) if scores.get(c) is not None]
        present = [float(scores[c]) for c in codes]  # type: ignore[arg-type]
        errors = [(ses or {}).get(c) for c in codes]
        se = macro_se(errors) if present and ses is not None and None not in errors else None  # type: ignore[arg-type]
        sizes = [(ns or {}).get(c) for c in codes]
        counts = [(clips or {}).get(c) for c in codes]
        known = present and ses is not None and ns is not None
        ci = macro_interval(present, errors, sizes, counts if clips is not None else None) if known else None
        out[key] = Cell(
            macro_mean(present) if present else None,
            len(present),
            len(summary_codes(key)),
            se if isinstance(se, float) else None,
            ci,
        )
    return out
