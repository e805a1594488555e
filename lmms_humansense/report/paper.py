"""The paper's Table 1 and the human level, as data, with the Avg column checked.

Values are those of HumanSense (arXiv 2508.10576), Table 1 (the full set; read off the published
table) and the human level measured on the "HumanSense (tiny)" subset (about 30 questions per
task).  ``None`` is the paper's "-" (not evaluated).  The paper's "Avg." is the unweighted mean of
the 13 video tasks (FR2 and PC excluded); :func:`recomputed_avg` recomputes it so a report can
show where the published column disagrees with its own rows (Ola-7B and IXC2.5-OmniLive-7B)
instead of silently trusting either number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lmms_humansense.catalog import TASKS, paper_avg_codes
from lmms_humansense.scoring import macro_mean

#: Column order of Table 1 (the catalog's order).
CODES: tuple[str, ...] = tuple(t.code for t in TASKS)

#: A published Avg and the mean recomputed from the row's 3-decimal cells may differ by rounding
#: alone (at most 0.0005 from the Avg's own rounding plus the cells' rounding, averaged); anything
#: beyond this is a real mismatch.
AVG_TOLERANCE = 0.0015


@dataclass(frozen=True)
class PaperRow:
    """One row of the paper's table: a model (or the human level) and its per-task accuracy."""

    name: str
    avg: float | None  # the published "Avg." (None: "-")
    scores: dict[str, float | None]  # task code -> accuracy, None for "-"
    note: str = ""

    def recomputed_avg(self) -> float | None:
        """The unweighted mean over the 13 video tasks, as the paper defines Avg."""
        return recomputed_avg(self.scores)

    def avg_mismatch(self) -> float | None:
        """published - recomputed when they differ beyond rounding, else ``None``."""
        recomputed = self.recomputed_avg()
        if self.avg is None or recomputed is None:
            return None
        diff = self.avg - recomputed
        return diff if abs(diff) > AVG_TOLERANCE else None


def recomputed_avg(scores: dict[str, float | None]) -> float | None:
    """The paper's Avg from per-task numbers: the macro mean over the 13 video tasks.

    ``None`` unless all 13 are present: a mean over fewer tasks is not the paper's Avg.
    """
    values = [scores.get(code) for code in paper_avg_codes()]
    if any(v is None for v in values):
        return None
    return macro_mean(values)


def _row(name: str, avg: float | None, cells: str, note: str = "") -> PaperRow:
    values = cells.split()
    if len(values) != len(CODES):
        raise ValueError(f"paper row {name}: {len(values)} cells for {len(CODES)} tasks")
    return PaperRow(name, avg, {c: None if v == "-" else float(v) for c, v in zip(CODES, values, strict=True)}, note)


#: Table 1, in the paper's row order.  Cells in the catalog's task order:
#: AR ER GR PA AC CM HC TR FR1 FR2 LD RR1 RR2 ES PC.
TABLE1: tuple[PaperRow, ...] = (
    _row("GPT-4o", 0.557, ".548 .282 .620 .517 .750 .776 .536 .570 .735 - .310 .480 .535 .587 -"),
    _row("LLaVA-Next-Video-7B", 0.479, ".500 .480 .263 .583 .440 .413 .264 .487 .665 - .505 .560 .500 .577 -"),
    _row("Qwen2-VL-7B", 0.507, ".473 .470 .307 .322 .600 .591 .424 .537 .665 - .515 .627 .495 .570 -"),
    _row("Qwen2.5-VL-7B", 0.512, ".540 .497 .267 .448 .550 .644 .461 .523 .480 - .545 .627 .485 .590 -"),
    _row("VideoLLaMA3-7B", 0.520, ".543 .463 .323 .517 .530 .694 .561 .493 .610 - .515 .587 .400 .530 -"),
    _row("LLaVA-OneVision-7B", 0.521, ".545 .510 .400 .592 .620 .676 .268 .503 .600 - .530 .560 .430 .543 -"),
    _row("InternVL3-8B", 0.561, ".393 .483 .387 .547 .670 .751 .630 .567 .735 - .555 .527 .490 .557 -"),
    _row("Qwen2-Audio-7B", None, "- - - - - - - - - .437 - - - - .399"),
    _row("Ola-7B", 0.525, ".557 .463 .263 .573 .320 .420 .371 .597 .785 .733 .565 .653 .640 .577 .567"),
    _row("IXC2.5-OmniLive-7B", 0.544, ".508 .467 .257 .338 .660 .584 .544 .533 .780 .415 .500 .560 .470 .463 .324"),
    _row("Qwen2.5-Omni-7B", 0.554, ".473 .513 .303 .350 .600 .630 .438 .600 .770 .740 .550 .713 .650 .607 .399"),
)

#: The human level (HumanSense tiny subset, about 30 questions per task; not the full set).
HUMAN: PaperRow = _row(
    "Human",
    0.875,
    ".917 .933 .767 .933 .967 .967 .889 .900 .900 .800 .533 .967 .833 .867 .933",
    note="measured on the HumanSense (tiny) subset, about 30 questions per task",
)


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def find_row(name: str) -> PaperRow:
    """A Table 1 row (or ``Human``) by name, ignoring case and punctuation, so the official
    runner's ``Qwen25-Omni-7B`` finds ``Qwen2.5-Omni-7B``; an unknown name lists the valid ones."""
    wanted = _key(name)
    for row in (*TABLE1, HUMAN):
        if _key(row.name) == wanted:
            return row
    matches = [row for row in TABLE1 if wanted and wanted in _key(row.name)]
    if len(matches) == 1:
        return matches[0]
    raise KeyError(
        f"no paper row named {name!r}; Table 1 has: {', '.join(r.name for r in TABLE1)} "
        "(case and punctuation are ignored)"
    )
