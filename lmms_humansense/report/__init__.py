"""Where a model stands against the paper and human level: tables (Markdown, JSON) and pictures.

``lmms-humansense report RESULTS...`` reads lmms-eval output (and re-scored official runner
files), and writes ``report.md``, ``report.json``, ``radar.png``/``.svg`` and ``levels.png``/``.svg``
into one folder.  Modules: :mod:`.paper` (Table 1 and the human level as data), :mod:`.load`
(reading runs), :mod:`.summary` (levels and averages), :mod:`.render` (JSON and Markdown),
:mod:`.plots` (matplotlib, headless).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

__all__ = ["make_report"]

IMAGES = (
    ("radar.png", "Radar charts: accuracy per task against human level and the paper"),
    ("levels.png", "Bar chart: accuracy per level, overall and the paper's Avg"),
)


def make_report(
    results: Sequence[str | Path],
    out_dir: str | Path,
    paper_models: Sequence[str] = (),
    metric: str = "acc",
    plots: bool = True,
) -> dict[str, Path]:
    """Read ``results``, write the report into ``out_dir`` and return the written files by name."""
    from lmms_humansense.report.load import load_runs
    from lmms_humansense.report.render import build, to_markdown

    runs = load_runs(results)
    report = build(runs, paper_models, metric)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    if plots:
        from lmms_humansense.report.plots import write_plots

        for name, paths in write_plots(report, out).items():
            for path in paths:
                written[f"{name}.{path.suffix[1:]}"] = path
    markdown = to_markdown(report, IMAGES if plots else ())
    written["report.md"] = out / "report.md"
    written["report.md"].write_text(markdown, encoding="utf-8")
    written["report.json"] = out / "report.json"
    written["report.json"].write_text(
        json.dumps(report, indent=1, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8"
    )
    return written
