"""Two runs over the same questions, question by question: ``report RUN_A RUN_B --paired``.

Two runs on the same benchmark share its questions, and most of what makes a task hard for one
model makes it hard for the other: comparing their means as if independent overstates the noise.
Here questions are matched by task and doc id, clips are resampled within each task for both runs
together (:mod:`.stats`), and every task, level, the overall and the paper Avg get B − A, a 95 %
percentile interval and the share of replicates in which B is ahead.  The logged samples
(``--log_samples``) hold the per-question scores; results.json holds only means.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lmms_humansense.catalog import BY_CODE, TASKS, VARIANTS
from lmms_humansense.report.load import (
    ReportInputError,
    find_results,
    model_args_text,
    parse_model_args,
    run_label,
    tell_apart,
)
from lmms_humansense.report.render import markdown_table, short_source
from lmms_humansense.report.stats import (
    REPLICATES,
    SEED,
    TaskClips,
    bootstrap_task_means,
    macro_replicates,
    percentile_interval,
)
from lmms_humansense.report.summary import SUMMARY_KEYS, SUMMARY_TITLES, summary_codes


class PairedInputError(ReportInputError):
    """Two runs that cannot be compared question by question."""


@dataclass(frozen=True)
class Samples:
    """One run's per-question scores: (task code, doc id) -> (clip, score or ``None``)."""

    source: str
    variant: str
    label: str
    scores: dict[tuple[str, str], tuple[str, float | None]]
    model_args: str = ""


def _leaf_codes() -> dict[str, tuple[str, str]]:
    return {v.leaf(t.code): (v.name, t.code) for v in VARIANTS.values() for t in v.tasks()}


def load_samples(path: str | Path, metric: str = "acc") -> Samples:
    """The logged samples of one run (an lmms-eval --output_path folder or its results file)."""
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
    data = json.loads(results.read_text(encoding="utf-8"))
    config = data.get("config") if isinstance(data.get("config"), Mapping) else {}
    model = str(config.get("model") or "run")
    model_args = model_args_text(config.get("model_args"))
    label = f"{run_label(model, parse_model_args(model_args))} [{variant}]"
    scores: dict[tuple[str, str], tuple[str, float | None]] = {}
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
            scores[(code, doc)] = (clip, None if value is None else float(value))
    return Samples(str(results), variant, label, scores, model_args)


def compare(
    a: Samples, b: Samples, *, force: bool = False, replicates: int = REPLICATES, seed: int = SEED
) -> dict[str, Any]:
    """B − A per task and summary row, with paired cluster-bootstrap intervals, as a JSON-ready dict."""
    if a.variant != b.variant and not force:
        raise PairedInputError(
            f"the runs come from different variants ({a.variant} in {a.source}, {b.variant} in {b.source}); "
            "their questions are asked differently. Pass --force to compare them anyway (e.g. default against blind)."
        )
    shared = sorted(set(a.scores) & set(b.scores))
    if not shared:
        raise PairedInputError(
            f"{a.source} and {b.source} share no question (matched by task and doc id): "
            "they were run on different data roots or different tasks."
        )
    only_a = sorted(set(a.scores) - set(b.scores))
    only_b = sorted(set(b.scores) - set(a.scores))
    unscored = [k for k in shared if a.scores[k][1] is None or b.scores[k][1] is None]
    kept = [k for k in shared if a.scores[k][1] is not None and b.scores[k][1] is not None]
    tables: dict[str, TaskClips] = {}
    counts: dict[str, tuple[int, int]] = {}
    for t in TASKS:
        keys = [k for k in kept if k[0] == t.code]
        if not keys:
            continue
        clips = [a.scores[k][0] for k in keys]
        tables[t.code] = TaskClips.from_scores(clips, [[a.scores[k][1] for k in keys], [b.scores[k][1] for k in keys]])
        counts[t.code] = (len(keys), len(set(clips)))
    means = bootstrap_task_means(tables, replicates, seed)
    point = {code: (tab.sums.sum(axis=1) / tab.counts.sum()) for code, tab in tables.items()}

    def entry(codes: list[str]) -> dict[str, Any] | None:
        present = [c for c in codes if c in tables]
        if not present:
            return None
        reps = macro_replicates(means, present)
        diff = reps[:, 1] - reps[:, 0]
        value_a = sum(float(point[c][0]) for c in present) / len(present)
        value_b = sum(float(point[c][1]) for c in present) / len(present)
        low, high = percentile_interval(diff)
        return {
            "a": value_a,
            "b": value_b,
            "diff": value_b - value_a,
            "ci": [low, high],
            "share_b_better": float((diff > 0).mean()),
            "tasks": len(present),
            "of": len(codes),
            "questions": sum(counts[c][0] for c in present),
            "clips": sum(counts[c][1] for c in present),
        }

    def listed(keys: list[tuple[str, str]]) -> list[str]:
        return [f"{code}:{doc}" for code, doc in keys]

    return {
        "a": {"label": a.label, "variant": a.variant, "source": short_source(a.source)},
        "b": {"label": b.label, "variant": b.variant, "source": short_source(b.source)},
        "metric_note": "B − A; 95 % interval and share from a paired cluster bootstrap (clips resampled within tasks)",
        "replicates": replicates,
        "seed": seed,
        "tasks": {t.code: entry([t.code]) for t in TASKS},
        "summary": {key: entry(list(summary_codes(key))) for key in SUMMARY_KEYS},
        "questions_compared": len(kept),
        "only_in_a": listed(only_a),
        "only_in_b": listed(only_b),
        "unscored_in_either": listed(unscored),
    }


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
        f"{paired['questions_compared']:,} questions scored in both runs, matched by task and doc id. The interval "
        f"is the 2.5-97.5 % range of B − A over {paired['replicates']:,} paired cluster-bootstrap replicates "
        f"(seed {paired['seed']}): clips resampled within each task, the same draw for both runs, levels and "
        "averages as macro means over their tasks. *B > A* is the share of replicates in which B is ahead; "
        "an interval that contains 0 shows no difference.",
        "",
    ]
    if a["variant"] != b["variant"]:
        lines += [f"Different variants ({a['variant']} and {b['variant']}), compared with --force.", ""]
    if image:
        lines += [f"![Forest plot: B − A with its 95 % interval per task and level]({image})", ""]
    header = ["", "A", "B", "B − A", "95 % interval", "B > A", "questions (clips)"]
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
                f"[{e['ci'][0]:+.3f}, {e['ci'][1]:+.3f}]",
                f"{e['share_b_better']:.1%}",
                f"{e['questions']:,} ({e['clips']:,})",
            ]
        )
    lines += markdown_table(header, rows, "l" + "r" * (len(header) - 1))
    left = [
        ("only in A", paired["only_in_a"]),
        ("only in B", paired["only_in_b"]),
        ("not scored in one of the runs", paired["unscored_in_either"]),
    ]
    lines += ["", "### Questions left out", ""]
    lines += [f"- {len(keys):,} {what}: {_listed(keys)}" for what, keys in left if keys] or ["- none"]
    return "\n".join(lines) + "\n"


def paired_report(results: list[str | Path], metric: str = "acc", force: bool = False) -> dict[str, Any]:
    """The ``paired`` entry of report.json for ``report RUN_A RUN_B --paired``."""
    if len(results) != 2:
        raise PairedInputError(
            f"--paired compares two runs, A then B; {len(results)} given. Pass exactly two --output_path folders."
        )
    a, b = load_samples(results[0], metric), load_samples(results[1], metric)
    label_a, label_b = tell_apart([a.label, b.label], [a.model_args, b.model_args])
    return compare(replace(a, label=label_a), replace(b, label=label_b), force=force)
