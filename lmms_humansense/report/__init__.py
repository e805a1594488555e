"""Where a model stands against the paper and human level: tables (Markdown, JSON) and pictures.

``lmms-humansense report RESULTS...`` reads lmms-eval output (and re-scored official runner
files), and writes ``report.md``, ``report.json``, ``radar.png``/``.svg`` and ``levels.png``/``.svg``
into one folder.  Modules: :mod:`.paper` (Table 1 and the human level as data), :mod:`.load`
(reading runs), :mod:`.summary` (levels and averages), :mod:`.render` (JSON and Markdown),
:mod:`.plots` (matplotlib, headless), :mod:`.stats` (intervals), :mod:`.paired` (two runs
question by question, ``--paired``) and :mod:`.forest` (its picture).
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

#: The paired comparison's picture (``report A B --paired``).
FOREST = "forest.png"


def make_report(
    results: Sequence[str | Path],
    out_dir: str | Path,
    paper_models: Sequence[str] = (),
    metric: str = "acc",
    plots: bool = True,
    paired: bool = False,
    force: bool = False,
) -> dict[str, Path]:
    """Read ``results``, write the report into ``out_dir`` and return the written files by name.

    With ``paired``, ``results`` are two runs A and B, and the report adds their question-by-question
    comparison (:mod:`.paired`): B − A with paired intervals, and a forest plot."""
    from lmms_humansense.report.load import load_runs
    from lmms_humansense.report.render import build, to_markdown

    runs = load_runs(results)
    report = build(runs, paper_models, metric)
    if paired:
        from lmms_humansense.report.paired import paired_report

        report["paired"] = paired_report(list(results), metric, force, runs)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    if plots:
        from lmms_humansense.report.plots import write_plots

        for name, paths in write_plots(report, out).items():
            for path in paths:
                written[f"{name}.{path.suffix[1:]}"] = path
        if paired:
            from lmms_humansense.report.forest import write_forest

            for path in write_forest(report["paired"], out):
                written[path.name] = path
    markdown = to_markdown(report, IMAGES if plots else ())
    if paired:
        from lmms_humansense.report.paired import paired_markdown

        markdown = markdown.rstrip("\n") + "\n\n" + paired_markdown(report["paired"], FOREST if plots else None)
    written["report.md"] = out / "report.md"
    written["report.md"].write_text(markdown, encoding="utf-8")
    written["report.json"] = out / "report.json"
    written["report.json"].write_text(
        json.dumps(report, indent=1, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8"
    )
    return written
