"""The report as data (JSON) and as Markdown.

:func:`build` turns runs into one JSON-ready dict holding every number the Markdown shows (and the
pictures draw); :func:`to_markdown` only formats that dict.  So the JSON, the tables and the charts
cannot disagree.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lmms_humansense.catalog import BY_CODE, TASKS
from lmms_humansense.report.load import METRICS, SE_OF, Run
from lmms_humansense.report.paper import HUMAN, TABLE1, PaperRow, find_row
from lmms_humansense.report.stats import task_interval
from lmms_humansense.report.summary import SUMMARY_KEYS, SUMMARY_TITLES, Cell, summarise, summary_codes
from lmms_humansense.scoring import macro_mean

SCHEMA_VERSION = 1
#: A task whose parse-failure rate is above this gets a warning: its accuracy says more about the
#: answer format than about the model.
PARSE_FAILURE_WARNING = 0.05
MISSING = "missing"  # a task of the run's variant with no number
NOT_IN_VARIANT = "n/a"  # a task the run's variant does not cover
NOT_IN_PAPER = "-"  # the paper's own "-": not evaluated


def short_source(path: str) -> str:
    """The file as a reader can find it: relative to the working folder when under it, else its
    last two path parts (a report shared with others should not carry one machine's paths)."""
    p = Path(path)
    try:
        rel = os.path.relpath(p.resolve(), Path.cwd())
    except ValueError:
        rel = ""
    if rel and not rel.startswith(".."):
        return Path(rel).as_posix()
    return "/".join(p.parts[-2:])


def _delta(scores: Mapping[str, float | None], ref: Mapping[str, float | None], codes: Sequence[str]) -> Cell:
    """run - reference over the tasks both have (the difference of their macro means there)."""
    pairs = [(scores.get(c), ref.get(c)) for c in codes]
    diffs = [a - b for a, b in pairs if a is not None and b is not None]
    return Cell(macro_mean(diffs) if diffs else None, len(diffs), len(codes))


def _paper_row(row: PaperRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "avg_published": row.avg,
        "avg_recomputed": row.recomputed_avg(),
        "avg_mismatch": row.avg_mismatch(),
        "note": row.note,
        "scores": dict(row.scores),
        "summary": {k: c.as_dict() for k, c in summarise(row.scores).items()},
    }


def _non_answers(run: Run) -> list[str]:
    """Tasks whose answers are mostly empty or never came: their accuracy measures the wrapper,
    so the report says it before anything else (see :mod:`lmms_humansense.outcomes`)."""
    from lmms_humansense.outcomes import MOSTLY

    out = []
    for code, t in run.tasks.items():
        empty, failed = t.empty or 0, t.not_answered or 0
        if t.n and (empty + failed) / t.n > MOSTLY:
            out.append(f"{code}: {empty} empty and {failed} not answered of {t.n}")
    if not out:
        return []
    return [
        f"`{run.model}` gave no real answer to most questions of {len(out)} task(s) ({'; '.join(out)}): "
        "these numbers measure the wrapper, not the model; its log says why (chat wrappers answer '' when the "
        "model call raises; `[LMMS_EVAL_REQUEST_FAILED` is a refused request). See docs/wrappers.md."
    ]


def _warnings(run: Run) -> list[str]:
    out = _non_answers(run)
    if run.missing:
        out.append(
            f"{len(run.missing)} task(s) of the variant have no result: {', '.join(run.missing)} "
            "(shown as missing; levels and averages are over the tasks present)"
        )
    if run.limit is not None:
        out.append(f"run with --limit {run.limit:g}: part of each task only; not comparable with the paper")
    short = run.short_tasks
    if short and run.limit is None:
        total = sum(t.n or 0 for t in run.tasks.values())
        expected = sum(BY_CODE[c].paper_count for c in run.tasks)
        out.append(
            f"{total:,} of the paper's {expected:,} questions for these tasks ({len(short)} task(s) smaller than "
            "the paper's): a subset such as the sample set, not comparable with the paper"
        )
    failing = [(c, t.parse_failure) for c, t in run.tasks.items() if (t.parse_failure or 0) > PARSE_FAILURE_WARNING]
    if failing:
        listed = ", ".join(f"{c} {v:.0%}" for c, v in failing)
        out.append(f"answers the parser could not read on {listed}: check the answer format before reading accuracy")
    cut = {c: n for c, n in run.sound_cut.items() if n[0]}
    if cut:
        listed = ", ".join(f"{c} ({k} of {n} questions)" for c, (k, n) in cut.items())
        out.append(
            f"sound cut to what the feature extractor keeps on {listed}: those questions were answered on the "
            "first part of their sound only (see `audio_seconds` and `audio_given_seconds` in the logged samples)"
        )
    missing, logged = run.unrecorded
    if missing:
        out.append(
            f"{missing} of {logged} answers from lmms-eval's response cache, inputs not recorded: `--use_cache` "
            "keeps an answer's text only, so what the model was fed (`acc.fed`) is not in their logged samples; "
            "run with `resume=DIR` in `--model_args` to keep each answer with its record (docs/long-runs.md)"
        )
    from lmms_humansense.wrappers import AUDIO_DROPPERS

    heard = [c for c in run.tasks if BY_CODE[c].uses_audio]
    if run.model in AUDIO_DROPPERS and heard:
        out.append(f"the `{run.model}` wrapper passes no audio: {', '.join(heard)} were answered without their sound")
    return out


def _inside(ci: Sequence[float] | None, value: float | None) -> bool | None:
    """Whether a published number lies inside a run's 95 % interval; ``None`` when either is unknown."""
    if not ci or value is None:
        return None
    return bool(ci[0] <= value <= ci[1])


def _run_entry(index: int, run: Run, metric: str, reference: PaperRow | None) -> dict[str, Any]:
    tasks: dict[str, Any] = {}
    for t in TASKS:
        result = run.tasks.get(t.code)
        if result is None:
            tasks[t.code] = None
            continue
        entry: dict[str, Any] = {m: result.metric(m) for m in METRICS}
        for m in SE_OF:
            ci = task_interval(result.metric(m), result.se(m), result.n, result.clips)
            entry.update({f"{m}_se": result.se(m), f"{m}_ci": list(ci) if ci else None})
        entry.update(n=result.n, paper_n=t.paper_count)
        if reference is not None:
            ref = reference.scores.get(t.code)
            value = result.metric(metric)
            entry["delta"] = value - ref if value is not None and ref is not None else None
            entry["paper_inside_ci"] = _inside(entry[f"{metric}_ci"], ref)
        tasks[t.code] = entry
    summary: dict[str, Any] = {}
    per_metric = {
        m: summarise(run.scores(m), run.ses(m), run.sizes(), run.clip_counts())
        if m in SE_OF
        else summarise(run.scores(m))
        for m in METRICS
    }
    ref_summary = summarise(reference.scores) if reference is not None else {}
    for key in SUMMARY_KEYS:
        summary[key] = {m: per_metric[m][key].as_dict() for m in METRICS}
        if reference is not None:
            summary[key]["delta"] = _delta(run.scores(metric), reference.scores, summary_codes(key)).as_dict()
            cell = per_metric[metric][key]
            ref_cell = ref_summary[key]
            comparable = cell.complete and ref_cell.complete
            summary[key]["delta"]["paper_inside_ci"] = (
                _inside(summary[key][metric].get("ci"), ref_cell.value) if comparable else None
            )
    questions = sum(t.n or 0 for t in run.tasks.values())
    return {
        "id": f"R{index}",
        "label": run.label,
        "source": short_source(run.source),
        "variant": run.variant,
        "variant_title": run.variant_title,
        "model": run.model,
        "model_args": run.model_args,
        "settings": dict(run.settings),
        "questions": questions,
        # the paper's size of the tasks the run has, as its warning says (missing tasks are listed apart)
        "paper_questions": sum(BY_CODE[c].paper_count for c in run.tasks),
        "missing": list(run.missing),
        "not_in_variant": [t.code for t in TASKS if t.code not in run.variant_tasks],
        "tasks": tasks,
        "summary": summary,
        "reported_by_lmms_eval": dict(run.reported),
        "warnings": _warnings(run),
        "non_answers": _non_answers(run),
        "counts": {c: {"empty": t.empty, "not_answered": t.not_answered} for c, t in run.tasks.items()},
        "comparable_with_paper": run.limit is None and questions >= sum(BY_CODE[c].paper_count for c in run.tasks),
    }


def build(runs: Sequence[Run], paper_models: Sequence[str] = (), metric: str = "acc") -> dict[str, Any]:
    """Everything the report shows, as one JSON-ready dict.

    ``paper_models`` are Table 1 rows to show next to the runs (names as in the paper; case and
    punctuation ignored); differences (``delta``) are taken against the first.  ``metric`` is the
    run metric compared with the paper (``acc`` or ``acc_official``).
    """
    if metric not in ("acc", "acc_official"):
        raise ValueError(f"metric must be 'acc' or 'acc_official', not {metric!r}")
    rows = []
    for name in paper_models:
        row = find_row(name)
        if row.name not in [r.name for r in rows]:
            rows.append(row)
    reference = next((r for r in rows if r is not HUMAN), None)
    return {
        "schema": SCHEMA_VERSION,
        "metric": metric,
        "paper_models": [r.name for r in rows],
        "reference": reference.name if reference else None,
        "tasks": [
            {
                "code": t.code,
                "name": t.name,
                "level": t.level,
                "modality": t.modality,
                "in_paper_avg": t.in_paper_avg,
                "paper_n": t.paper_count,
            }
            for t in TASKS
        ],
        "summary_rows": {k: {"title": SUMMARY_TITLES[k], "tasks": list(summary_codes(k))} for k in SUMMARY_KEYS},
        "runs": [_run_entry(i, run, metric, reference) for i, run in enumerate(runs, 1)],
        "human": _paper_row(HUMAN),
        "paper": [_paper_row(r) for r in TABLE1],
    }


# --- Markdown ----------------------------------------------------------------------------------------
def fmt(value: float | None, missing: str = MISSING) -> str:
    return missing if value is None else f"{value:.3f}"


def fmt_delta(value: float | None) -> str:
    return "" if value is None else f"{value:+.3f}"


def fmt_ci(value: float | None, ci: Sequence[float] | None, missing: str = MISSING) -> str:
    """A run's number with its 95 % interval, e.g. ``0.512 [0.451, 0.573]``."""
    if value is None:
        return missing
    return f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else fmt(value)


def fmt_inside(delta_text: str, inside: bool | None) -> str:
    """A Δ with what it means: whether the paper's number lies in the run's 95 % interval (a Δ
    whose interval covers the paper's number is no evidence of a difference)."""
    if not delta_text:
        return delta_text
    if inside is None:
        return f"{delta_text} (no interval)"
    return f"{delta_text} ({'paper inside' if inside else 'paper outside'})"


def _not_comparable(run: Mapping[str, Any], text: str) -> str:
    """A subset run's Δ (the sample set, ``--limit``) is marked: its questions are not the paper's."""
    if not text or run.get("comparable_with_paper", True):
        return text
    return f"{text.split(' (')[0]} (subset: not comparable)"


def fmt_cell(cell: Mapping[str, Any], *, delta: bool = False) -> str:
    """A summary cell; a mean over only some of its tasks carries its coverage, e.g. ``(4/5)``;
    a run's cell carries its 95 % interval."""
    value = cell["value"]
    if value is None:
        return "" if delta else MISSING
    if delta:
        text = fmt_inside(fmt_delta(value), cell.get("paper_inside_ci"))
    else:
        text = fmt_ci(value, cell.get("ci"))
    return text if cell["tasks"] == cell["of"] else f"{text} ({cell['tasks']}/{cell['of']})"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> list[str]:
    """A Markdown table; ``align`` has one ``l`` or ``r`` per column (default: all left)."""
    aligns = ["---:" if a == "r" else "---" for a in (align or "l" * len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(aligns) + " |"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return lines


def _date(stamp: str) -> str:
    """lmms-eval's ``20261124_163429`` as ``2026-11-24 16:34``; anything else as given."""
    if len(stamp) == 15 and stamp[8] == "_" and stamp.replace("_", "").isdigit():
        return f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]} {stamp[9:11]}:{stamp[11:13]}"
    return stamp


def _zone_offset(zone: str) -> str:
    """``UTC+08:00`` from ``Asia/Singapore (UTC+08:00)``; the zone as given otherwise."""
    return zone[zone.index("(") + 1 : -1] if zone.endswith(")") and "(" in zone else zone


def _paper_avg_text(row: Mapping[str, Any]) -> str:
    text = fmt(row["avg_published"], NOT_IN_PAPER)
    return f"{text} ⚠" if row["avg_mismatch"] is not None else text


def _task_cell(run: Mapping[str, Any], code: str, metric: str) -> str:
    entry = run["tasks"][code]
    if entry is None:
        return NOT_IN_VARIANT if code in run["not_in_variant"] else MISSING
    return fmt_ci(entry[metric], entry.get(f"{metric}_ci"), "no score")


def _intro(report: Mapping[str, Any], images: Sequence[tuple[str, str]]) -> list[str]:
    lines = [
        "# HumanSense report",
        "",
        "Where each run stands against the paper's Table 1 (HumanSense, arXiv 2508.10576) and the human level. "
        f"Numbers are accuracies from 0 to 1; runs are compared on `{report['metric']}`. "
        f"`{MISSING}` = the task is not in that run (never counted as 0); `{NOT_IN_VARIANT}` = the run's "
        f"variant does not cover the task; `{NOT_IN_PAPER}` = not evaluated in the paper.",
        "",
    ]
    for name, alt in images:
        lines += [f"![{alt}]({name})", ""]
    return lines


def _runs_section(report: Mapping[str, Any]) -> list[str]:
    """Each run's settings, where lmms-eval ran, and every warning (the runs' and the paper's)."""
    runs = report["runs"]
    lines = ["## Runs", ""]
    rows = []
    for run in runs:
        s = run["settings"]
        questions = f"{run['questions']:,} of {run['paper_questions']:,}"
        rows.append(
            [
                run["id"],
                run["label"],
                s.get("variant", run["variant"]),
                f"`{run['model_args']}`" if run["model_args"] else "(none)",
                s.get("frames", ""),
                s.get("audio", ""),
                s.get("generation", ""),
                questions,
                f"{_date(s.get('date', ''))} {_zone_offset(s.get('timezone', ''))}".strip(),
                f"`{run['source']}`",
            ]
        )
    header = ["", "run", "variant", "model args", "frames", "audio", "generation", "questions", "date", "source"]
    lines += markdown_table(header, rows, "l" * len(header))
    # lmms-eval 0.7.3 stores as "lmms_eval_version" the `git describe` of the folder it ran in
    # (utils.get_lmms_eval_version_string), not its own version: the versions come from the tasks.
    lines += ["", "Provenance:", ""]
    for run in runs:
        s = run["settings"]
        parts = [f"{name} `{s[name]}`" for name in ("lmms-humansense", "lmms-eval", "annotations") if s.get(name)]
        if s.get("provenance"):
            parts.append(f"several: `{s['provenance']}`")
        if s.get("git checkout"):
            parts.append(f"run from a git checkout at `{s['git checkout']}`")
        lines.append(f"- {run['id']}: " + ("; ".join(parts) or "not recorded (a file written before provenance was)"))
    lines += ["", "### Warnings", ""]
    warned = [(run["id"], w) for run in runs for w in run["warnings"]]
    lines += [f"- **{rid}**: {w}" for rid, w in warned] or ["- none"]
    flagged = [r for r in report["paper"] if r["avg_mismatch"] is not None]
    lines += [
        f"- **paper**: {r['name']}'s published Avg {r['avg_published']:.3f} is not the mean of its 13 video-task "
        f"cells ({r['avg_recomputed']:.3f}); marked ⚠, and differences use the recomputed value"
        for r in flagged
    ]
    return lines


def _shown_paper_rows(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Human level, then the ``--paper-model`` rows, in the order asked."""
    paper = {r["name"]: r for r in report["paper"]}
    return [report["human"], *(paper[n] for n in report["paper_models"] if n != "Human")]


def _overview_section(report: Mapping[str, Any]) -> list[str]:
    """Levels, overall and the paper Avg: paper rows, the runs, and their Δ to the reference row."""
    metric, runs, ref, shown = report["metric"], report["runs"], report["reference"], _shown_paper_rows(report)
    title = {k: v["title"] for k, v in report["summary_rows"].items()}
    header = ["", *(f"{r['name']}" + ("" if r["name"] == "Human" else " (paper)") for r in shown)]
    header += [run["label"] for run in runs]
    if ref:
        header += [f"Δ {run['id']} − {ref}" for run in runs]
    rows = []
    for key in SUMMARY_KEYS:
        row = [title[key]]
        for r in shown:
            row.append(_paper_avg_text(r) if key == "paper_avg" else fmt_cell(r["summary"][key]))
        row += [fmt_cell(run["summary"][key][metric]) for run in runs]
        if ref:
            row += [_not_comparable(run, fmt_cell(run["summary"][key]["delta"], delta=True)) for run in runs]
        rows.append(row)
    lines = ["", f"## Overview: levels, overall and the paper's Avg (`{metric}`)", ""]
    lines += markdown_table(header, rows, "l" + "r" * (len(header) - 1))
    lines += [
        "",
        "Levels and the overall are macro means (each task counts once), as in results.json; a mean over "
        "only some of its tasks shows how many, e.g. `(4/5)`. Human level was measured on the paper's tiny "
        "subset (about 30 questions per task).",
    ]
    return lines


def _task_delta(run: Mapping[str, Any], code: str) -> str:
    entry = run["tasks"][code] or {}
    return _not_comparable(run, fmt_inside(fmt_delta(entry.get("delta")), entry.get("paper_inside_ci")))


def _tasks_section(report: Mapping[str, Any]) -> list[str]:
    """Task by task: paper rows, the runs (with intervals) and their Δ to the reference row."""
    metric, runs, ref, shown = report["metric"], report["runs"], report["reference"], _shown_paper_rows(report)
    header = ["task", "level", *(r["name"] for r in shown), *(run["id"] for run in runs)]
    if ref:
        header += [f"Δ {run['id']}" for run in runs]
    rows = []
    for t in report["tasks"]:
        row = [f"{t['code']} {t['name']}", t["level"]]
        row += [fmt(r["scores"][t["code"]], NOT_IN_PAPER) for r in shown]
        row += [_task_cell(run, t["code"], metric) for run in runs]
        if ref:
            row += [_task_delta(run, t["code"]) for run in runs]
        rows.append(row)
    lines = ["", f"## By task (`{metric}`)", ""]
    lines += ["Runs: " + "; ".join(f"**{run['id']}** {run['label']}" for run in runs), ""]
    lines += markdown_table(header, rows, "ll" + "r" * (len(header) - 2))
    if ref:
        lines += [
            "",
            f"Δ = the run's `{metric}` minus {ref}'s number in the paper; *paper inside* = the paper's number "
            "lies inside the run's 95 % interval, so the run does not show a difference; *no interval* = the "
            "run has too few clips for one (a subset), so the Δ says nothing.",
        ]
    return lines


def _run_details(report: Mapping[str, Any], run: Mapping[str, Any]) -> list[str]:
    """One run's table: per task n, both metrics with intervals, parse failures; then the summaries."""
    title = {k: v["title"] for k, v in report["summary_rows"].items()}
    rows = []
    for t in report["tasks"]:
        entry = run["tasks"][t["code"]]
        if entry is None:
            cell = NOT_IN_VARIANT if t["code"] in run["not_in_variant"] else MISSING
            rows.append([f"{t['code']} {t['name']}", cell, str(t["paper_n"]), cell, cell, cell])
            continue
        failure = entry["parse_failure"]
        rows.append(
            [
                f"{t['code']} {t['name']}",
                "?" if entry["n"] is None else str(entry["n"]),
                str(t["paper_n"]),
                fmt_ci(entry["acc"], entry.get("acc_ci"), "no score"),
                fmt_ci(entry["acc_official"], entry.get("acc_official_ci"), "no score"),
                "?" if failure is None else f"{failure:.1%}",
            ]
        )
    for key in SUMMARY_KEYS:
        s = run["summary"][key]
        failure = s["parse_failure"]["value"]
        rows.append(
            [
                f"**{title[key]}**",
                "",
                "",
                fmt_cell(s["acc"]),
                fmt_cell(s["acc_official"]),
                "" if failure is None else f"{failure:.1%}",
            ]
        )
    lines = ["", f"### {run['id']}: {run['label']}", ""]
    return lines + markdown_table(["task", "n", "paper n", "acc", "acc_official", "parse failure"], rows, "lrrrrr")


def _details_section(report: Mapping[str, Any]) -> list[str]:
    lines = ["", "## Run details", ""]
    lines += [
        "`acc` reads answers with the robust parser (an unreadable answer scores 0 and counts as a parse "
        "failure); `acc_official` applies the official scorer's rules (first character only, empty answers "
        "left out); `n` is the number of questions scored, `paper n` the full benchmark's.",
    ]
    for run in report["runs"]:
        lines += _run_details(report, run)
    return lines


def _paper_section(report: Mapping[str, Any]) -> list[str]:
    """The paper's Table 1 as published, with its Avg recomputed and mismatches marked."""
    codes = [t["code"] for t in report["tasks"]]
    rows = []
    for r in [*report["paper"], report["human"]]:
        recomputed = fmt(r["avg_recomputed"], NOT_IN_PAPER)
        rows.append([r["name"], _paper_avg_text(r), recomputed, *(fmt(r["scores"][c], NOT_IN_PAPER) for c in codes)])
    lines = ["", "## The paper's Table 1", ""]
    lines += [
        "As published (values read off the paper's table), with its Avg recomputed as the mean of the 13 "
        "video tasks (FR2 and PC excluded). ⚠ marks a published Avg that the row's own cells do not give.",
        "",
    ]
    return lines + markdown_table(["model", "Avg", "Avg recomputed", *codes], rows, "l" + "r" * (len(codes) + 2))


HOW_TO_READ = (
    "",
    "## How to read this report",
    "",
    "- **Human** is the human level the paper measured (on its tiny subset); the paper rows are the models "
    "it tested. A run below the paper's row for the same model usually ran a different setting: frames, "
    "audio, prompt or answer parsing (see Runs).",
    "- **Δ** is the run minus the first `--paper-model` row, task by task; a level's Δ is the mean over the "
    "tasks both have.",
    "- **[low, high]** after a run's number is its 95 % interval: Clopper-Pearson on the effective sample "
    "size (questions over the design effect of their clustering by clip, with a degrees-of-freedom "
    "correction for few clips: Korn and Graubard's interval), levels and averages on the macro mean's "
    "effective size. It keeps 95 % coverage from 3 questions per task to the full set and never has width 0 "
    "(docs/statistics.md). The paper's rows are as published: it gives no interval.",
    "- **acc vs acc_official**: the paper's numbers come from the official scorer; `acc_official` "
    "applies the same rules. When the two differ, the model answers in a form the official scorer "
    "misreads (for example a sentence that starts with another letter).",
    "- **Paper Avg** covers the 13 video tasks, **Overall** all 15; both weigh each task equally.",
    "- A subset (the sample set, `--limit`) gives numbers only to check that everything runs.",
    "",
)


def to_markdown(report: Mapping[str, Any], images: Sequence[tuple[str, str]] = ()) -> str:
    """The report as Markdown; ``images`` are (file name, alt text) pairs shown at the top."""
    lines = _intro(report, images)
    voided = [(run["id"], w) for run in report["runs"] for w in run.get("non_answers", [])]
    if voided:  # right under the title: no number below means anything for these tasks
        block = ["## ⚠ Runs that did not answer", "", *(f"- **{rid}**: {w}" for rid, w in voided), ""]
        lines = lines[:2] + block + lines[2:]
    lines += _runs_section(report)
    lines += _overview_section(report)
    lines += _tasks_section(report)
    lines += _details_section(report)
    lines += _paper_section(report)
    lines += HOW_TO_READ
    return "\n".join(lines)
