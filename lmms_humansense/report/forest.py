"""The paired comparison's picture: a forest plot of B − A with its 95 % interval per task and level.

Drawn from report.json's ``paired`` entry (:mod:`.paired`), so every point and whisker is a number
of the JSON.  A difference reads against the zero line: a whisker that crosses it shows no
difference.  The figure's size depends only on the number of rows, so the PNG's pixel size is known.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lmms_humansense.report.paired import paired_rows
from lmms_humansense.report.plots import DPI, save_figure
from lmms_humansense.report.stats import TOO_FEW_CLIPS

TASK_COLOR = "#1f77b4"
SUMMARY_COLOR = "#d62728"
#: Characters of an 11-point title line that fit the figure's 10 inches with room to spare.
TITLE_CHARS = 90


def forest_size(n_rows: int) -> tuple[float, float]:
    """Figure size in inches for ``n_rows`` compared rows (tasks and summaries); halves of an inch
    are whole pixels at :data:`DPI`, so the PNG is exactly :func:`~.plots.pixel_size` of it."""
    return 10.0, 2.0 + 0.5 * n_rows


def _forest(paired: Mapping[str, Any]) -> Any:
    import matplotlib.pyplot as plt

    rows = paired_rows(paired)
    fig = plt.figure(figsize=forest_size(len(rows)), dpi=DPI, layout="constrained")
    ax = fig.subplots()
    n = len(rows)
    for i, (key, _, e) in enumerate(rows):
        y = n - 1 - i
        summary = key not in paired["tasks"]
        color = SUMMARY_COLOR if summary else TASK_COLOR
        if e["ci"] is None:  # no honest interval: the point, hollow, and the reason
            ax.plot(e["diff"], y, "D" if summary else "o", markerfacecolor="none", color=color, markersize=6)
            ax.annotate(f"  {TOO_FEW_CLIPS}", (e["diff"], y), fontsize=8, va="center", color="#555555")
            continue
        low, high = e["ci"]
        ax.errorbar(
            e["diff"],
            y,
            xerr=[[e["diff"] - low], [high - e["diff"]]],
            fmt="D" if summary else "o",
            color=color,
            markersize=7 if summary else 5,
            capsize=3,
            linewidth=2 if summary else 1.2,
        )
    labels = [title for _, title, _ in rows]
    ax.set_yticks(range(n - 1, -1, -1))
    ax.set_yticklabels(labels, fontsize=9)
    for tick, (key, _, _) in zip(ax.get_yticklabels(), rows, strict=True):
        if key not in paired["tasks"]:
            tick.set_fontweight("bold")
    tasks = sum(1 for key, _, _ in rows if key in paired["tasks"])
    if 0 < tasks < n:
        ax.axhline(n - tasks - 0.5, color="#999999", linewidth=0.8)
    ax.axvline(0, color="#333333", linewidth=1, linestyle="--")
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlabel("B − A (accuracy; 95 % interval, questions clustered by clip)", fontsize=10)
    ax.grid(axis="x", color="#dddddd")
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    # The run labels carry model args (a trace path, a long checkpoint name): each on its own lines,
    # wrapped to the figure's width, so the title never runs off the image.
    lines = ["B − A per task and level"]
    for name in ("a", "b"):
        lines += textwrap.wrap(f"{name.upper()} = {paired[name]['label']}", TITLE_CHARS, subsequent_indent="      ")
    shared = f"{paired['questions_compared']:,} shared questions"
    if paired.get("subset"):
        shared = f"a subset: {paired['questions_compared']:,} of {paired['paper_questions']:,} questions"
    lines.append(shared)
    fig.suptitle("\n".join(lines), fontsize=11)
    return fig


def write_forest(paired: Mapping[str, Any], out_dir: str | Path) -> list[Path]:
    """Draw ``forest.png`` and ``forest.svg`` into ``out_dir``; returns the written files."""
    return save_figure(_forest(paired), out_dir, "forest")
