"""The report's pictures: radar charts in the paper's style and a per-level bar chart.

Drawn from the report dict of :func:`lmms_humansense.report.render.build`, so every point is a
number of the JSON.  matplotlib runs headless (Agg).  Figure sizes are fixed by
:func:`figure_sizes` (inches, at :data:`DPI`, growing with the legend's lines) and never trimmed,
so a PNG's pixel size is known in advance.  Legends sit outside the data, below the axes.

Up to :data:`MAX_DISTINCT` runs each get a colour and a marker of their own (no two runs share
either); beyond that the pairs still differ.  A task without a number is a break in the line,
never a segment joining its neighbours, and a summary the paper never reported (a paper row's
level or overall) is marked as computed here.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

DPI = 110
#: Task groups of the two radar charts, as in the paper's figure.
RADAR_PANELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("L1 Perception and L2 Complex perception", ("L1", "L2")),
    ("L3 Understanding and L4 Interaction", ("L3", "L4")),
)
HUMAN_COLOR = "#222222"
PAPER_COLORS = ("#8c8c8c", "#b07aa1", "#9c755f", "#76b7b2")
#: Twelve colours told apart by eye (Tableau 10 without its grey, then navy, gold and dark green);
#: none is a paper row's or the human level's.
RUN_COLORS = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#17becf",
    "#e377c2",
    "#bcbd22",
    "#8c564b",
    "#393b79",
    "#e7ba52",
    "#00441b",
)
#: One marker per run colour; paper rows use a small square of their own colour.
RUN_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "p", "h", "<", ">")
#: Runs that get a colour and a marker no other run has.
MAX_DISTINCT = len(RUN_COLORS)
#: Marks a summary computed here from the paper's per-task cells (the paper reports only its Avg).
COMPUTED_MARK = "*"
FORMATS = ("png", "svg")


@dataclass(frozen=True)
class Series:
    """One line (radar) or one bar colour (levels): a run, a paper row or the human level."""

    label: str
    kind: str  # "human", "paper" or "run"
    color: str
    tasks: dict[str, float | None]
    summary: dict[str, dict[str, Any]]  # summary key -> {"value", "tasks", "of"}
    flags: dict[str, str]  # summary key -> a mark to print next to the value (⚠, or * = computed)
    note: str = ""  # what has no number, for the legend
    marker: str | None = None

    @property
    def legend(self) -> str:
        """Wrapped so that two legend columns fit the figure's width (notes can be long)."""
        return textwrap.fill(f"{self.label} ({self.note})" if self.note else self.label, 70)


def run_style(index: int) -> tuple[str, str]:
    """The (colour, marker) of the run at ``index`` (0-based): both differ between any two of the
    first :data:`MAX_DISTINCT` runs, and the pair differs between any two of the first 144."""
    n = len(RUN_COLORS)
    return RUN_COLORS[index % n], RUN_MARKERS[(index + index // n) % n]


def _paper_summary(row: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """A paper row's summaries and their marks: Table 1's own Avg where it has one (⚠ when its
    cells do not give it), every other summary marked as computed from the per-task cells."""
    summary = dict(row["summary"])
    flags = {key: COMPUTED_MARK for key, cell in summary.items() if cell.get("value") is not None}
    if row["avg_published"] is not None:
        summary["paper_avg"] = {"value": row["avg_published"], "tasks": 13, "of": 13}
        flags.pop("paper_avg", None)
        if row["avg_mismatch"] is not None:
            flags["paper_avg"] = "⚠"
    return summary, flags


def series(report: Mapping[str, Any]) -> list[Series]:
    """Human level first, then the chosen paper rows, then the runs (the legend's order)."""
    metric = report["metric"]
    human = report["human"]
    paper = {r["name"]: r for r in report["paper"]}
    summary, flags = _paper_summary(human)
    out = [Series("Human level (paper, tiny subset)", "human", HUMAN_COLOR, dict(human["scores"]), summary, flags)]
    for i, name in enumerate(n for n in report["paper_models"] if n != "Human"):
        row = paper[name]
        summary, flags = _paper_summary(row)
        gone = [c for c, v in row["scores"].items() if v is None]
        note = f"not evaluated: {', '.join(gone)}" if gone else ""
        color = PAPER_COLORS[i % len(PAPER_COLORS)]
        out.append(Series(f"{name} (paper)", "paper", color, row["scores"], summary, flags, note, "s"))
    for i, run in enumerate(report["runs"]):
        tasks = {c: (e or {}).get(metric) for c, e in run["tasks"].items()}
        summary = {k: v[metric] for k, v in run["summary"].items()}
        notes = []
        if not run.get("comparable_with_paper", True):
            notes.append(_subset_note(run))
        if run["missing"]:
            notes.append(f"missing: {', '.join(run['missing'])}")
        if run["not_in_variant"]:
            covered = [c for c in run["tasks"] if c not in run["not_in_variant"]]
            if len(covered) <= len(run["not_in_variant"]):
                notes.append(f"the variant covers {' '.join(covered)} only")
            else:
                notes.append(f"the variant has no {' '.join(run['not_in_variant'])}")
        color, marker = run_style(i)
        out.append(Series(f"{run['id']} {run['label']}", "run", color, tasks, summary, {}, "; ".join(notes), marker))
    return out


def _subset_note(run: Mapping[str, Any]) -> str:
    """What a picture shared alone must say about a run that is not the benchmark."""
    limit = run["settings"].get("limit")
    if limit:
        return f"{limit.split(':')[0]}: a subset, not comparable with the paper"
    return (
        f"a subset (e.g. the sample set): {run['questions']:,} of {run['paper_questions']:,} questions, not comparable"
    )


def rlabel_angle(angles: Sequence[float], lines: Sequence[Sequence[float | None]], ticks: Sequence[float]) -> float:
    """The angle (radians) for the radius tick labels: the gap between two spokes where the plotted
    lines pass farthest from every tick value, so no label sits on a line.

    A straight segment between radii r1 and r2 on neighbouring spokes (angle d apart) crosses the
    bisector at ``2 r1 r2 cos(d/2) / (r1 + r2)``; lines with a gap there are ignored.
    """
    best, best_gap = 0.0, -1.0
    n = len(angles)
    for i in range(n):
        j = (i + 1) % n
        d = (angles[j] - angles[i]) % (2 * math.pi)
        crossings = []
        for values in lines:
            r1, r2 = values[i], values[j]
            if r1 is None or r2 is None:
                continue
            crossings.append(0.0 if r1 + r2 == 0 else 2 * r1 * r2 * math.cos(d / 2) / (r1 + r2))
        gap = min((abs(c - t) for c in crossings for t in ticks), default=1.0)
        if gap > best_gap:
            best, best_gap = angles[i] + d / 2, gap
    return best


GAP_NOTE = "a break in a line: no number for that task"
PARTIAL_NOTE = "hatched: mean over only some of the group's tasks"
COMPUTED_NOTE = f"{COMPUTED_MARK} computed here from the paper's per-task numbers; the paper reports only its Avg"
MISMATCH_NOTE = "⚠ published Avg differs from its own cells"
INTERVAL_NOTE = "error bars: the run's 95 % interval (questions clustered by clip); the paper gives none"


def legend_height(entries: Sequence[str], columns: int = 2) -> float:
    """Inches the figure legend needs: its taller column (matplotlib fills columns in turn, the
    first ones one entry longer), at about 0.2 inch a text line and 0.1 between entries."""
    per_column = math.ceil(len(entries) / columns)
    heights = [
        sum(0.2 * (e.count("\n") + 1) + 0.1 for e in entries[i : i + per_column])
        for i in range(0, len(entries), per_column)
    ]
    return max(heights, default=0.0)


def _radar_legend(report: Mapping[str, Any], all_series: Sequence[Series]) -> list[str]:
    gaps = any(
        any(s.tasks.get(c) is None for c in panel) and any(s.tasks.get(c) is not None for c in panel)
        for s in all_series
        for panel in ([t["code"] for t in report["tasks"] if t["level"] in levels] for _, levels in RADAR_PANELS)
    )
    return [s.legend for s in all_series] + ([GAP_NOTE] if gaps else [])


def _levels_legend(report: Mapping[str, Any], all_series: Sequence[Series]) -> list[str]:
    cells = [s.summary.get(key) or {} for s in all_series for key in report["summary_rows"]]
    marks = {mark for s in all_series for mark in s.flags.values()}
    notes = [
        (PARTIAL_NOTE, any(c.get("value") is not None and c["tasks"] != c["of"] for c in cells)),
        (COMPUTED_NOTE, COMPUTED_MARK in marks),
        (MISMATCH_NOTE, "⚠" in marks),
        (INTERVAL_NOTE, any(c.get("value") is not None and c.get("ci") for c in cells)),
    ]
    # a run whose file records no interval (an older results file, a re-scored file without clips)
    bare = sorted(
        s.legend
        for s in all_series
        if s.kind == "run"
        and any(
            (c := s.summary.get(key) or {}).get("value") is not None and not c.get("ci")
            for key in report["summary_rows"]
        )
    )
    if bare:
        notes.append((f"no error bar: no interval recorded for {', '.join(bare)}", True))
    return [s.legend for s in all_series] + [textwrap.fill(note, 70) for note, shown in notes if shown]


def figure_sizes(report: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
    """Size in inches of each picture of ``report``: fixed widths, heights that grow with the legend."""
    all_series = series(report)
    return {
        "radar": (14.0, 7.0 + legend_height(_radar_legend(report, all_series))),
        "levels": (12.0, 5.2 + legend_height(_levels_legend(report, all_series))),
    }


def pixel_size(size: tuple[float, float]) -> tuple[int, int]:
    """The PNG size in pixels of a figure of ``size`` inches."""
    return round(size[0] * DPI), round(size[1] * DPI)


def _spoke_label(task: Mapping[str, Any]) -> str:
    name = textwrap.fill(task["name"], 14)
    return f"{name}\n({task['code']}, {task['level']})"


def _line_style(s: Series, run_index: int) -> dict[str, Any]:
    """Human dashed, paper rows dotted, runs solid; earlier runs are drawn wider with bigger markers,
    so a later run with the same numbers lies on top without hiding them.  Never clipped: a marker
    at 1.0 sits on the outer ring, whole."""
    if s.kind == "human":
        return {"linestyle": "--", "linewidth": 2.0, "marker": None, "clip_on": False}
    if s.kind == "paper":
        return {"linestyle": ":", "linewidth": 2.0, "marker": s.marker, "markersize": 4, "clip_on": False}
    return {
        "linestyle": "-",
        "linewidth": max(1.4, 4.2 - 1.2 * run_index),
        "marker": s.marker,
        "markersize": max(5.5, 9.0 - 2.0 * run_index),
        "clip_on": False,
    }


def _radar(report: Mapping[str, Any], all_series: Sequence[Series]) -> Any:
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.lines import Line2D

    fig = plt.figure(figsize=figure_sizes(report)["radar"], dpi=DPI, layout="constrained")
    axes = fig.subplots(1, 2, subplot_kw={"projection": "polar"})
    handles: dict[str, Any] = {}
    runs = [s for s in all_series if s.kind == "run"]
    for ax, (title, levels) in zip(axes, RADAR_PANELS, strict=True):
        tasks = [t for t in report["tasks"] if t["level"] in levels]
        codes = [t["code"] for t in tasks]
        angles = np.linspace(0, 2 * np.pi, len(tasks), endpoint=False)
        ax.set_theta_offset(np.pi / 2)
        ax.set_theta_direction(-1)
        ax.set_ylim(0, 1)
        ticks = [0.2, 0.4, 0.6, 0.8, 1.0]
        ax.set_yticks(ticks)
        for label in ax.set_yticklabels([f"{t:.1f}" for t in ticks], fontsize=8, color="#555555"):
            label.set_bbox({"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 0.6})
        lines = [[s.tasks.get(c) for c in codes] for s in all_series]
        # matplotlib's label position is in degrees, measured like the data (offset pi/2, clockwise)
        ax.set_rlabel_position(math.degrees(rlabel_angle(list(angles), lines, ticks)))
        ax.set_xticks(angles)
        ax.set_xticklabels([])
        ax.grid(color="#cccccc", linewidth=0.8)
        for angle, task in zip(angles, tasks, strict=True):
            x = math.sin(angle)
            ha = "center" if abs(x) < 0.2 else ("left" if x > 0 else "right")
            y = math.cos(angle)
            va = "center" if abs(y) < 0.2 else ("bottom" if y > 0 else "top")
            ax.text(angle, 1.1, _spoke_label(task), ha=ha, va=va, fontsize=9)
        ax.set_title(title, fontsize=12, fontweight="bold", pad=62)
        for s in all_series:
            # a task without a number is a NaN: matplotlib breaks the line there (a gap, not a value)
            values = [s.tasks.get(c) for c in codes]
            arr = np.array([math.nan if v is None else v for v in values] + [math.nan], dtype=float)
            arr[-1] = arr[0]
            closed = np.append(angles, angles[0])
            (line,) = ax.plot(closed, arr, color=s.color, **_line_style(s, runs.index(s) if s in runs else 0))
            if s.kind == "run" and None not in values:
                ax.fill(closed, arr, color=s.color, alpha=0.08)
            handles.setdefault(s.label, line)
    labels = _radar_legend(report, all_series)
    lines = [handles[s.label] for s in all_series]
    lines += [Line2D([], [], color="none")] * (len(labels) - len(lines))  # the gap note
    fig.legend(
        lines,
        labels,
        loc="outside lower center",
        ncol=2,
        fontsize=10,
        frameon=False,
    )
    fig.suptitle(
        f"HumanSense accuracy by task ({report['metric']}; centre = 0, outer ring = 1)", fontsize=14, fontweight="bold"
    )
    return fig


def _levels(report: Mapping[str, Any], all_series: Sequence[Series]) -> Any:
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=figure_sizes(report)["levels"], dpi=DPI, layout="constrained")
    ax = fig.subplots()
    keys = list(report["summary_rows"])
    n = len(all_series)
    width = 0.84 / n
    rotate = n > 4
    for i, s in enumerate(all_series):
        for j, key in enumerate(keys):
            cell = s.summary.get(key) or {"value": None, "tasks": 0, "of": 0}
            _level_bar(ax, j - 0.42 + width * (i + 0.5), width, s, cell, s.flags.get(key, ""), rotate)
    titles = [textwrap.fill(report["summary_rows"][k]["title"], 16) for k in keys]
    _level_axes(ax, titles, rotate, report["metric"])
    labels = _levels_legend(report, all_series)
    fig.legend(
        _level_handles(all_series, labels), labels, loc="outside lower center", ncol=2, fontsize=10, frameon=False
    )
    ax.set_title(
        "HumanSense by level, overall (15 tasks) and the paper's Avg (13 video tasks)", fontsize=13, fontweight="bold"
    )
    return fig


def _level_bar(ax: Any, x: float, width: float, s: Series, cell: Mapping[str, Any], flag: str, rotate: bool) -> None:
    """One series' bar of one row: hatched when it covers part of the row's tasks, with its interval
    and value, or a "missing" / "n/a" note where it has no number."""
    value = cell["value"]
    if value is None:
        note = "missing" if s.kind == "run" else "n/a"
        ax.text(x, 0.01, note, rotation=90, ha="center", va="bottom", fontsize=7, color=s.color)
        return
    partial = cell["tasks"] != cell["of"]
    ax.bar(
        x,
        value,
        width * 0.92,
        color=s.color,
        alpha=0.55 if partial else (0.9 if s.kind != "paper" else 0.75),
        hatch="///" if partial else None,
        edgecolor="white" if not partial else s.color,
        linewidth=0.5,
    )
    ci = cell.get("ci")
    top = value
    if ci:
        yerr = [[value - ci[0]], [ci[1] - value]]
        ax.errorbar(x, value, yerr=yerr, fmt="none", ecolor="#333333", capsize=2, clip_on=False)
        top = ci[1]
    ax.text(
        x,
        top + 0.012,
        f"{value:.3f}{flag}",
        ha="center",
        va="bottom",
        fontsize=7.5 if rotate else 8.5,
        rotation=90 if rotate else 0,
    )


def _level_axes(ax: Any, titles: list[str], rotate: bool, metric: str) -> None:
    ax.set_xticks(range(len(titles)))
    ax.set_xticklabels(titles, fontsize=10)
    ax.set_ylim(0, 1.12 if not rotate else 1.2)
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_ylabel(f"accuracy ({metric})", fontsize=11)
    ax.grid(axis="y", color="#dddddd")
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _level_handles(all_series: Sequence[Series], labels: list[str]) -> list[Any]:
    """A colour patch per series, then the hatched patch of the partial-row note and blanks."""
    from matplotlib.patches import Patch

    handles = [Patch(color=s.color, alpha=0.9) for s in all_series]
    handles += [
        Patch(facecolor="white", edgecolor="#555555", hatch="///")
        if label == textwrap.fill(PARTIAL_NOTE, 70)
        else Patch(color="white")
        for label in labels[len(handles) :]
    ]
    return handles


def save_figure(fig: Any, out_dir: str | Path, name: str) -> list[Path]:
    """Write ``fig`` as ``<name>.png`` and ``<name>.svg`` into ``out_dir`` and close it.

    The SVG carries no date, so a report drawn twice from the same numbers is byte-identical."""
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    try:
        paths = []
        for ext in FORMATS:
            path = out / f"{name}.{ext}"
            fig.savefig(path, dpi=DPI, metadata={"Date": None} if ext == "svg" else None)
            paths.append(path)
    finally:
        plt.close(fig)
    return paths


def write_plots(report: Mapping[str, Any], out_dir: str | Path) -> dict[str, list[Path]]:
    """Draw ``radar`` and ``levels`` as PNG and SVG into ``out_dir``; returns the written files."""
    all_series = series(report)
    return {
        name: save_figure(draw(report, all_series), out_dir, name)
        for name, draw in (("radar", _radar), ("levels", _levels))
    }
