"""The report's pictures, which people share without the text around them: what a run is, and labels
that stay readable."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import pytest
from test_report import _write, fake_results

from lmms_humansense.catalog import TASKS, VARIANTS
from lmms_humansense.report.load import load_runs
from lmms_humansense.report.plots import (
    DPI,
    HUMAN_COLOR,
    MAX_DISTINCT,
    PAPER_COLORS,
    RUN_COLORS,
    _levels,
    _radar,
    rlabel_angle,
    run_style,
    series,
)
from lmms_humansense.report.render import build


def _legends(tmp_path: Path, n: int | None, limit: float | None = None) -> list[str]:
    data = fake_results({t.code: 0.5 for t in TASKS}, n=n)
    data["config"]["limit"] = limit
    _write(tmp_path / "out" / "20260101_120000_results.json", data)
    report = build(load_runs([tmp_path / "out"]), ["Qwen2.5-Omni-7B"])
    return [s.legend for s in series(report) if s.kind == "run"]


def test_a_subset_run_says_so_in_the_legend(tmp_path: Path) -> None:
    (sample,) = _legends(tmp_path / "sample", n=3)
    assert "not comparable" in sample and "45 of 3,882 questions" in sample.replace("\n", " ")
    (limited,) = _legends(tmp_path / "limited", n=3, limit=3)
    assert "not comparable" in limited
    (full,) = _legends(tmp_path / "full", n=None)
    assert "not comparable" not in full and "subset" not in full


def test_radius_labels_go_where_no_line_passes_over_a_tick() -> None:
    """Every spoke at 0.4 except a dip between spokes 2 and 3: the labels go into a gap whose lines
    cross the bisector far from every tick value, never onto the 0.4 ring a line runs along."""
    n = 6
    angles = [2 * math.pi * i / n for i in range(n)]
    ticks = [0.2, 0.4, 0.6, 0.8, 1.0]
    line = [0.4, 0.4, 0.3, 0.3, 0.4, 0.4]
    angle = rlabel_angle(angles, [line], ticks)
    i = round((angle - math.pi / n) / (2 * math.pi / n)) % n
    r1, r2 = line[i], line[(i + 1) % n]
    crossing = 2 * r1 * r2 * math.cos(math.pi / n) / (r1 + r2)
    assert min(abs(crossing - t) for t in ticks) >= 0.05


# --- layout with 1 to 12 runs ------------------------------------------------------------------------
def many_runs(tmp_path: Path, n: int) -> dict:
    """A report of ``n`` runs with long labels: every second one a subset (a two-line legend entry),
    R2 ``noaudio`` (no FR2 and PC), R1 1.0 on AR."""
    dirs = []
    for i in range(n):
        variant = "noaudio" if i == 1 else "default"
        rng = random.Random(i)
        accs = {c: round(rng.uniform(0.15, 0.95), 3) for c in VARIANTS[variant].codes}
        if i == 0:
            accs["AR"] = 1.0
        args = f"pretrained=Org/Model-{i}-7B-Instruct,seed={i},trace=/a/long/path/to/traces/run_{i}_trace.jsonl"
        dirs.append(
            _write(
                tmp_path / f"run{i}" / "20260101_120000_results.json",
                fake_results(accs, variant, model_args=args, n=3 if i % 2 else None),
            )
        )
    return build(load_runs(dirs), ["Qwen2.5-Omni-7B"])


def assert_readable(fig: Any, whole_markers: bool = True) -> None:
    """Every text inside the image, no two texts overlapping, the legend over no other text, and
    (``whole_markers``, for charts with a fixed 0-1 range) every line's markers drawn whole (never
    clipped by an axes) and inside the image."""
    from matplotlib.text import Text

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    width, height = fig.bbox.width, fig.bbox.height
    legend_texts = {id(t) for legend in fig.legends for t in legend.get_texts()}
    undrawn = set()  # labels of ticks outside an axis' range, which matplotlib keeps but never draws
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not lo - 1e-9 <= tick.get_loc() <= hi + 1e-9:
                    undrawn |= {id(tick.label1), id(tick.label2)}
    boxes = []
    for text in fig.findobj(Text):
        if text.get_visible() and text.get_text().strip() and id(text) not in undrawn:
            box = text.get_window_extent(renderer)
            assert box.x0 >= -0.5 and box.y0 >= -0.5 and box.x1 <= width + 0.5 and box.y1 <= height + 0.5, (
                text.get_text(),
                box,
            )
            boxes.append((text, box))
    for i, (a, box_a) in enumerate(boxes):
        for b, box_b in boxes[i + 1 :]:
            assert not box_a.overlaps(box_b), (a.get_text(), b.get_text())
    for legend in fig.legends:
        frame = legend.get_window_extent(renderer)
        for text, box in boxes:
            if id(text) not in legend_texts and text not in legend.findobj(Text):
                assert not frame.overlaps(box), text.get_text()
    for ax in fig.axes if whole_markers else ():
        for line in ax.get_lines():
            if len(line.get_xdata()):
                assert not line.get_clip_on()
                box = line.get_window_extent(renderer)
                assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= width and box.y1 <= height


def _run_styles(fig: Any) -> list[tuple[str, str]]:
    """(colour, marker) of each run's legend entry."""
    from matplotlib.colors import to_hex

    (legend,) = fig.legends
    out = []
    for handle, text in zip(legend.legend_handles, legend.get_texts(), strict=True):
        if text.get_text()[:1] == "R" and text.get_text()[1:2].isdigit():
            color = handle.get_color() if hasattr(handle, "get_marker") else handle.get_facecolor()
            out.append((to_hex(color), handle.get_marker() if hasattr(handle, "get_marker") else ""))
    return out


@pytest.mark.parametrize("n", [1, 3, 9, 12])
def test_pictures_stay_readable_with_1_to_12_runs(tmp_path: Path, n: int) -> None:
    import matplotlib.pyplot as plt

    report = many_runs(tmp_path, n)
    all_series = series(report)
    for draw in (_radar, _levels):
        fig = draw(report, all_series)
        try:
            assert_readable(fig)
            styles = _run_styles(fig)
            assert len(styles) == n
            # no two runs share a colour (nor, on the radar, a marker)
            assert len({c for c, _ in styles}) == n and len({m for _, m in styles}) == (n if draw is _radar else 1)
            # the legend's room is added to the figure, never taken from the charts
            assert min(ax.get_window_extent().height for ax in fig.axes) >= 4.0 * DPI
        finally:
            plt.close(fig)


def test_run_styles_never_repeat() -> None:
    styles = [run_style(i) for i in range(144)]
    assert len(set(styles)) == 144
    first = styles[:MAX_DISTINCT]
    assert len({c for c, _ in first}) == len({m for _, m in first}) == MAX_DISTINCT == 12
    assert not set(PAPER_COLORS + (HUMAN_COLOR,)) & set(RUN_COLORS)


def test_a_task_without_a_number_is_a_gap_and_paper_levels_are_marked_computed(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    report = many_runs(tmp_path, 3)
    all_series = series(report)
    radar = _radar(report, all_series)
    try:
        ax = radar.axes[1]  # L3 and L4: FR2 and PC are missing from R2 (noaudio)
        codes = [t["code"] for t in report["tasks"] if t["level"] in ("L3", "L4")]
        r2 = ax.get_lines()[3]  # human, the paper row, R1, R2
        assert r2.get_color() == run_style(1)[0]
        ydata = list(r2.get_ydata())
        assert math.isnan(ydata[codes.index("FR2")]) and math.isnan(ydata[codes.index("PC")])
        assert "a break in a line: no number for that task" in [t.get_text() for t in radar.legends[0].get_texts()]
    finally:
        plt.close(radar)
    levels = _levels(report, all_series)
    try:
        texts = [t.get_text() for t in levels.axes[0].texts]
        paper = next(s for s in all_series if s.kind == "paper")
        overall = paper.summary["overall"]["value"]
        assert f"{overall:.3f}*" in texts  # the paper never reported an overall over 15 tasks
        assert f"{paper.summary['paper_avg']['value']:.3f}" in texts  # its Avg it did (Table 1)
        legend = [t.get_text() for t in levels.legends[0].get_texts()]
        assert any(t.startswith("* computed here from the paper's per-task numbers") for t in legend)
    finally:
        plt.close(levels)


def test_the_example_report_with_intervals_and_a_variant_is_readable() -> None:
    """docs/report_example: error bars, hatched partial means, the computed and interval notes."""
    import json

    import matplotlib.pyplot as plt
    from conftest import REPO

    report = json.loads((REPO / "docs" / "report_example" / "report.json").read_text(encoding="utf-8"))
    for draw in (_radar, _levels):
        fig = draw(report, series(report))
        try:
            assert_readable(fig)
        finally:
            plt.close(fig)
