"""Two runs over the same questions, question by question: ``report RUN_A RUN_B --paired``.

Two runs on the same benchmark share its questions, and most of what makes a task hard for one
model makes it hard for the other: comparing their means as if independent overstates the noise.
Here questions are matched by what they are (the content identity each logged sample carries, see
:mod:`lmms_humansense.provenance`), never by position alone; every task, level, the overall and the
paper Avg get B − A and a 95 % interval that keeps its coverage at any size (:mod:`.stats`:
MOVER over the runs' clustered intervals), or "N/A, too few clips" where none would be honest.
The logged samples (``--log_samples``) hold the per-question scores; results.json holds only means.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lmms_humansense.catalog import BY_CODE, TASKS, VARIANTS
from lmms_humansense.report.load import (
    ReportInputError,
    Run,
    find_results,
    load_runs,
    parse_model_args,
    run_label,
    tell_apart,
)
from lmms_humansense.report.render import markdown_table, short_source
from lmms_humansense.report.stats import TOO_FEW_CLIPS, PairedTask, paired_difference
from lmms_humansense.report.summary import SUMMARY_KEYS, SUMMARY_TITLES, summary_codes

log = logging.getLogger("lmms_humansense")


class PairedInputError(ReportInputError):
    """Two runs that cannot be compared question by question."""


@dataclass(frozen=True)
class Samples:
    """One run's per-question scores: (task code, question key) -> (clip, score or ``None``).

    The key is the question's content identity (``qid``; a repeated identical question gets
    ``#2``, ``#3``), or its doc id for files written before samples carried one
    (``by_identity`` false).  ``docs`` maps each key to its doc id, for listing and for telling
    a different data version (same position, other question) from a shorter run."""

    source: str
    variant: str
    label: str
    scores: dict[tuple[str, str], tuple[str, float | None]]
    model_args: str = ""
    docs: dict[tuple[str, str], str] = field(default_factory=dict)
    by_identity: bool = True


def _leaf_codes() -> dict[str, tuple[str, str]]:
    return {v.leaf(t.code): (v.name, t.code) for v in VARIANTS.values() for t in v.tasks()}


def load_samples(path: str | Path, metric: str = "acc", runs: Sequence[Run] = ()) -> Samples:
    """The logged samples of one run (an lmms-eval --output_path folder or its results file).

    ``runs``: runs already read (the report's); the results file is parsed again only when none
    of them comes from it."""
    files = find_results(path)
    if len(files) != 1:
        raise PairedInputError(
            f"{path} holds {len(files)} results files; --paired compares two runs: pass one *_results.json each."
        )
    results = files[0]
    stamp = results.name[: -len("_results.json")]
    leaves = _leaf_codes()
    found: dict[str, list[Path]] = {}
    for sample in sorted(results.parent.glob(f"{stamp}_samples_*.jsonl")):
        leaf = sample.name[len(f"{stamp}_samples_") : -len(".jsonl")]
        if leaf in leaves:
            found.setdefault(leaves[leaf][0], []).append(sample)
    if not found:
        raise PairedInputError(
            f"{results} has no logged HumanSense samples next to it ({stamp}_samples_<task>.jsonl). "
            "A paired comparison needs each question's score: run lmms-eval with --log_samples."
        )
    if len(found) > 1:
        raise PairedInputError(
            f"{results} holds several variants ({', '.join(sorted(found))}); --paired compares one variant per run. "
            "Run the variants to separate --output_path folders."
        )
    ((variant, samples),) = found.items()
    run = next((r for r in runs if Path(r.source) == results), None) or load_runs([results])[0]
    model_args = run.model_args
    label = f"{run_label(run.model, parse_model_args(model_args))} [{variant}]"
    rows: list[tuple[str, str, str | None, str, float | None]] = []
    for file in samples:
        code = leaves[file.name[len(f"{stamp}_samples_") : -len(".jsonl")]][1]
        for n, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                audit, item = row["acc"], row[metric]
                clip, doc = str(audit["clip"]), str(audit["id"])
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise PairedInputError(
                    f"{file} line {n} is not a HumanSense logged sample ({exc!r}); re-run with this package's tasks."
                ) from None
            value = item.get("score") if isinstance(item, Mapping) else None
            qid = audit.get("qid")
            rows.append((code, doc, str(qid) if qid else None, clip, None if value is None else float(value)))
    by_identity = all(qid for _, _, qid, _, _ in rows)
    scores: dict[tuple[str, str], tuple[str, float | None]] = {}
    docs: dict[tuple[str, str], str] = {}
    seen: dict[tuple[str, str], int] = {}
    for code, doc, qid, clip, value in sorted(rows, key=lambda r: (r[0], r[1])):
        base = (code, qid if by_identity and qid else doc)
        seen[base] = seen.get(base, 0) + 1
        key = base if seen[base] == 1 else (code, f"{base[1]}#{seen[base]}")
        scores[key] = (clip, value)
        docs[key] = doc
    return Samples(str(results), variant, label, scores, model_args, docs, by_identity)


def compare(a: Samples, b: Samples, *, force: bool = False) -> dict[str, Any]:
    """B − A per task and summary row with 95 % intervals (or "N/A, too few clips"), as a JSON-ready dict."""
    a, b, how = _matching(a, b, force)
    shared, only_a, only_b, different = _shared_questions(a, b, how, force)
    unscored = [k for k in shared if a.scores[k][1] is None or b.scores[k][1] is None]
    kept = [k for k in shared if a.scores[k][1] is not None and b.scores[k][1] is not None]
    tables = _paired_tables(a, b, kept)
    paper_total = sum(t.paper_count for t in TASKS)
    return {
        "a": {"label": a.label, "variant": a.variant, "source": short_source(a.source)},
        "b": {"label": b.label, "variant": b.variant, "source": short_source(b.source)},
        "metric_note": (
            "B − A; 95 % interval: MOVER over each run's clustered Korn-Graubard interval "
            "(docs/statistics.md); N/A with fewer than two clips"
        ),
        "matched_by": how,
        "tasks": {t.code: _entry(tables, [t.code]) for t in TASKS},
        "summary": {key: _entry(tables, list(summary_codes(key))) for key in SUMMARY_KEYS},
        "questions_compared": len(kept),
        "paper_questions": paper_total,
        "subset": len(kept) < paper_total,
        "only_in_a": _listed_keys(only_a, a),
        "only_in_b": _listed_keys(only_b, b),
        "different_data": different,
        "unscored_in_either": _listed_keys(unscored, a),
    }


def _matching(a: Samples, b: Samples, force: bool) -> tuple[Samples, Samples, str]:
    """The two runs keyed alike (by question identity, or by doc id when either lacks it) and how;
    runs of different variants are refused unless ``force``."""
    if a.variant != b.variant and not force:
        raise PairedInputError(
            f"the runs come from different variants ({a.variant} in {a.source}, {b.variant} in {b.source}); "
            "their questions are asked differently. Pass --force to compare them anyway (e.g. default against blind)."
        )
    if a.by_identity and b.by_identity:
        return a, b, "question identity (record content)"
    old = [s.source for s in (a, b) if not s.by_identity]
    log.warning(
        "%s: logged samples without a question identity (written before it was recorded); "
        "questions matched by task and doc id, which cannot tell a reordered or changed annotation file",
        ", ".join(old),
    )
    return _by_doc(a), _by_doc(b), "task and doc id (older files)"


def _shared_questions(
    a: Samples, b: Samples, how: str, force: bool
) -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[tuple[str, str]], list[str]]:
    """The questions both runs hold, those only one holds, and (listed) those where the runs hold
    different questions at one task and doc id: different data versions, refused unless ``force``."""
    shared = sorted(set(a.scores) & set(b.scores))
    only_a = sorted(set(a.scores) - set(b.scores))
    only_b = sorted(set(b.scores) - set(a.scores))
    # Same task and position, another question: different data versions (a shorter run is not).
    places_b = {(k[0], b.docs.get(k, k[1])) for k in only_b}
    differ_a = [k for k in only_a if (k[0], a.docs.get(k, k[1])) in places_b]
    places_a = {(k[0], a.docs.get(k, k[1])) for k in only_a}
    differ_b = [k for k in only_b if (k[0], b.docs.get(k, k[1])) in places_a]
    if (differ_a or differ_b) and not force:
        raise PairedInputError(
            f"{len(differ_a):,} questions of A ({a.source}) differ from the question B ({b.source}) holds at the same "
            f"task and doc id ({len(shared):,} are the same): the runs used different data versions. "
            "Re-run both on one data root, or pass --force to compare only the questions both hold (the rest are listed)."
        )
    if not shared:
        raise PairedInputError(
            f"{a.source} and {b.source} share no question (matched by {how}): "
            "they were run on different data roots or different tasks."
        )
    return shared, only_a, only_b, _listed_keys(differ_a, a) + _listed_keys(differ_b, b)


def _paired_tables(a: Samples, b: Samples, kept: list[tuple[str, str]]) -> dict[str, tuple[PairedTask, int, int]]:
    """Per task with questions both runs scored: its paired scores, its question and clip counts."""
    tables: dict[str, tuple[PairedTask, int, int]] = {}
    for t in TASKS:
        keys = [k for k in kept if k[0] == t.code]
        if not keys:
            continue
        clips = [a.scores[k][0] for k in keys]
        table = PairedTask.from_scores(
            [a.scores[k][1] for k in keys],  # type: ignore[misc]
            [b.scores[k][1] for k in keys],  # type: ignore[misc]
            clips,
        )
        tables[t.code] = (table, len(keys), len(set(clips)))
    return tables


def _entry(tables: Mapping[str, tuple[PairedTask, int, int]], codes: list[str]) -> dict[str, Any] | None:
    """One row of the comparison (a task, or a summary over ``codes``); ``None`` with nothing compared."""
    present = [c for c in codes if c in tables]
    if not present:
        return None
    d = paired_difference([tables[c][0] for c in present])
    questions = sum(tables[c][1] for c in present)
    paper = sum(BY_CODE[c].paper_count for c in codes)
    return {
        "a": d.a,
        "b": d.b,
        "diff": d.diff,
        "ci": list(d.ci) if d.ci else None,
        "verdict": d.verdict,
        "tasks": len(present),
        "of": len(codes),
        "questions": questions,
        "clips": sum(tables[c][2] for c in present),
        "paper_questions": paper,
        "subset": questions < paper,
    }


def _listed_keys(keys: list[tuple[str, str]], s: Samples) -> list[str]:
    return [f"{code}:{s.docs.get((code, key), key)}" for code, key in keys]


def _by_doc(s: Samples) -> Samples:
    """The same run keyed by doc id (when the other run's samples carry no identity)."""
    if not s.by_identity:
        return s
    scores = {(k[0], s.docs[k]): v for k, v in s.scores.items()}
    return replace(s, scores=scores, docs={k: k[1] for k in scores}, by_identity=False)


def subset_note(paired: Mapping[str, Any]) -> str:
    """One sentence saying the comparison covers part of the benchmark, or ``""`` when it is whole."""
    if not paired.get("subset"):
        return ""
    return (
        f"A subset: {paired['questions_compared']:,} of the benchmark's {paired['paper_questions']:,} questions; "
        "differences and intervals are those of this subset, not of the full benchmark."
    )


def task_name(code: str) -> str:
    return f"{code} {BY_CODE[code].name}"


#: How many left-out questions report.md lists by name (report.json lists them all).
LISTED = 30


def paired_rows(paired: Mapping[str, Any]) -> list[tuple[str, str, Mapping[str, Any]]]:
    """(key, title, entry) of every compared row: tasks first, then levels, overall and paper Avg;
    rows with no shared scored question are left out.  The table and the forest plot both use it."""
    rows = [(code, task_name(code), e) for code, e in paired["tasks"].items() if e is not None]
    rows += [(key, SUMMARY_TITLES[key], e) for key, e in paired["summary"].items() if e is not None]
    return rows


def _listed(keys: list[str]) -> str:
    shown = ", ".join(f"`{k}`" for k in keys[:LISTED])
    return shown + (f" and {len(keys) - LISTED} more (all in report.json)" if len(keys) > LISTED else "")


def paired_markdown(paired: Mapping[str, Any], image: str | None = None) -> str:
    """The paired comparison as a report.md section (the figures are report.json's ``paired``)."""
    a, b = paired["a"], paired["b"]
    lines = [
        "## Paired comparison: B − A, question by question",
        "",
        f"- **A**: {a['label']} (`{a['source']}`)",
        f"- **B**: {b['label']} (`{b['source']}`)",
        "",
        f"{paired['questions_compared']:,} questions scored in both runs, matched by {paired['matched_by']}. "
        "The interval is 95 % (MOVER over each run's clip-clustered Korn-Graubard interval, levels and averages "
        "as macro means over their tasks; docs/statistics.md); an interval that contains 0 shows no difference; "
        f"*{TOO_FEW_CLIPS}*: a task with fewer than two clips, where no interval would be honest.",
        "",
    ]
    note = subset_note(paired)
    if note:
        lines += [f"**{note}**", ""]
    if a["variant"] != b["variant"]:
        lines += [f"Different variants ({a['variant']} and {b['variant']}), compared with --force.", ""]
    if image:
        lines += [f"![Forest plot: B − A with its 95 % interval per task and level]({image})", ""]
    header = ["", "A", "B", "B − A", "95 % interval", "reading", "questions (clips)"]
    rows = []
    for key, title, e in paired_rows(paired):
        name = title if key in BY_CODE else f"**{title}**"
        cover = "" if e["tasks"] == e["of"] else f" ({e['tasks']}/{e['of']} tasks)"
        rows.append(
            [
                name + cover,
                f"{e['a']:.3f}",
                f"{e['b']:.3f}",
                f"{e['diff']:+.3f}",
                f"[{e['ci'][0]:+.3f}, {e['ci'][1]:+.3f}]" if e["ci"] else TOO_FEW_CLIPS,
                e["verdict"],
                f"{e['questions']:,} ({e['clips']:,})" + (f" of {e['paper_questions']:,}" if e["subset"] else ""),
            ]
        )
    lines += markdown_table(header, rows, "l" + "r" * (len(header) - 1))
    left = [
        ("only in A", paired["only_in_a"]),
        ("only in B", paired["only_in_b"]),
        ("not scored in one of the runs", paired["unscored_in_either"]),
        ("different questions at the same task and doc id (--force)", paired.get("different_data", [])),
    ]
    lines += ["", "### Questions left out", ""]
    lines += [f"- {len(keys):,} {what}: {_listed(keys)}" for what, keys in left if keys] or ["- none"]
    return "\n".join(lines) + "\n"


def paired_report(
    results: list[str | Path], metric: str = "acc", force: bool = False, runs: Sequence[Run] = ()
) -> dict[str, Any]:
    """The ``paired`` entry of report.json for ``report RUN_A RUN_B --paired`` (``runs``: the report's,
    so no results file is parsed twice)."""
    if len(results) != 2:
        raise PairedInputError(
            f"--paired compares two runs, A then B; {len(results)} given. Pass exactly two --output_path folders."
        )
    a, b = load_samples(results[0], metric, runs), load_samples(results[1], metric, runs)
    label_a, label_b = tell_apart([a.label, b.label], [a.model_args, b.model_args])
    return compare(replace(a, label=label_a), replace(b, label=label_b), force=force)
