"""The report's pictures, which people share without the text around them: what a run is, and labels
that stay readable."""

from __future__ import annotations

import math
from pathlib import Path

from test_report import _write, fake_results

from lmms_humansense.catalog import TASKS
from lmms_humansense.report.load import load_runs
from lmms_humansense.report.plots import rlabel_angle, series
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
