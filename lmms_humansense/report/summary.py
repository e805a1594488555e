"""Level, overall and paper-Avg summaries of per-task numbers, with their coverage.

Runs, paper rows and the human level are all summarised by this one function, with the same
macro mean lmms-eval's groups use (:func:`lmms_humansense.scoring.macro_mean`), so a level in the
report is the level in results.json.  Each summary keeps how many of its tasks had a number: a
level over 4 of 5 tasks is shown as such, never as if it were complete.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lmms_humansense.catalog import LEVELS, TASKS, paper_avg_codes
from lmms_humansense.scoring import macro_mean

#: Summary rows, in display order: the four levels, all 15 tasks, the paper's Avg (13 video tasks).
SUMMARY_KEYS: tuple[str, ...] = (*LEVELS, "overall", "paper_avg")
SUMMARY_TITLES: dict[str, str] = {
    **{lv: f"{lv} {title}" for lv, title in LEVELS.items()},
    "overall": "Overall (15 tasks)",
    "paper_avg": "Paper Avg (13 video tasks)",
}


@dataclass(frozen=True)
class Cell:
    """A macro mean and the tasks it covers (``covered`` of ``total`` had a number)."""

    value: float | None
    covered: int
    total: int

    @property
    def complete(self) -> bool:
        return self.covered == self.total

    def as_dict(self) -> dict[str, float | int | None]:
        return {"value": self.value, "tasks": self.covered, "of": self.total}


def summary_codes(key: str) -> tuple[str, ...]:
    """The task codes a summary row averages."""
    if key in LEVELS:
        return tuple(t.code for t in TASKS if t.level == key)
    if key == "overall":
        return tuple(t.code for t in TASKS)
    if key == "paper_avg":
        return paper_avg_codes()
    raise KeyError(f"unknown summary row {key!r}; valid: {', '.join(SUMMARY_KEYS)}")


def summarise(scores: Mapping[str, float | None]) -> dict[str, Cell]:
    """Every summary row of per-task scores (task code -> value; absent or ``None`` = no number)."""
    out = {}
    for key in SUMMARY_KEYS:
        codes = summary_codes(key)
        values = [scores.get(c) for c in codes]
        present = [v for v in values if v is not None]
        out[key] = Cell(macro_mean(present) if present else None, len(present), len(codes))
    return out
