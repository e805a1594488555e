"""Re-scoring the official runner's result files (``lmms-humansense score``).

The official runner (``HumanSense_bench/src/eval.py``) writes the benchmark's own JSON back with
each answer stored in the record under the model's name, ``questions["Qwen25-Omni-7B"] = "B"``.
This module scores such files with the package's two scorers, the same functions the lmms-eval
tasks use: ``acc`` (robust parser) and ``acc_official`` (``score.py``'s rules; ``score_think.py``'s
with ``think``), so answers produced outside lmms-eval can be put next to lmms-eval runs and the
paper (``lmms-humansense report`` reads the ``--json`` output).

Counting, per task:

* ``n`` is the number of questions with a non-empty answer: the denominator of ``acc_official``,
  as in ``score.py``, which leaves empty answers out.
* ``n_empty`` answers are empty strings (or ``null``).  ``acc`` counts them as wrong (score 0 and a
  parse failure), as the lmms-eval tasks do, so ``acc``'s denominator is ``n + n_empty``.
* ``n_unanswered`` records carry no answer under the model's name at all (the run did not reach
  them); they are in no denominator and are reported on stderr.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmms_humansense.catalog import BY_CODE, TASKS
from lmms_humansense.data.schema import RawRecord, read_record_list, record_to_doc, unknown_task_types
from lmms_humansense.data.taskmap import TaskMapError, load_task_map, read_spec, unknown_error
from lmms_humansense.scoring import clustered_se, count_clips, score_answer

#: Fields of an official ``questions`` object; any other key holds a model's answer.
RECORD_FIELDS = frozenset(
    {"task_type", "question", "question_pattern", "options", "answer", "full_frame_number", "fps", "asr_en"}
)


@dataclass
class TaskScore:
    """Sums for one task; the means are properties so the counts stay inspectable."""

    robust: float = 0.0
    official: float = 0.0
    failures: int = 0
    n: int = 0  # non-empty answers (acc_official's denominator)
    n_empty: int = 0  # empty answers (in acc's denominator as 0)
    n_unanswered: int = 0  # no answer at all (in no denominator)
    records: list[str] = field(default_factory=list)
    #: (clip, score) of every scored answer, for the clustered standard errors and intervals
    robust_items: list[tuple[str, float]] = field(default_factory=list)
    official_items: list[tuple[str, float]] = field(default_factory=list)

    @property
    def acc(self) -> float | None:
        total = self.n + self.n_empty
        return self.robust / total if total else None

    @property
    def acc_official(self) -> float | None:
        return self.official / self.n if self.n else None

    @property
    def parse_failure(self) -> float | None:
        total = self.n + self.n_empty
        return self.failures / total if total else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "acc": self.acc,
            "acc_official": self.acc_official,
            "n": self.n,
            "n_empty": self.n_empty,
            "n_unanswered": self.n_unanswered,
            "parse_failure": self.parse_failure,
            # the same clustered standard errors and clip count an lmms-eval run records, so the
            # report gives a re-scored file the same intervals
            "acc_se": clustered_se({"value": v, "clip": c} for c, v in self.robust_items),
            "acc_official_se": clustered_se({"value": v, "clip": c} for c, v in self.official_items),
            "clips": count_clips({"clip": c} for c, _ in self.robust_items),
        }


def _read(path: Path) -> list[Any]:
    try:
        return read_record_list(path, "Pass the file the official runner wrote (HumanSense_VQA/AQA.json with answers).")
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path} does not exist; pass the file the official runner wrote (its --output_file)"
        ) from None


def _task_map(paths: Sequence[Path], task_map: str | None) -> tuple[dict[str, str], Path | None]:
    """The catalog's strings, a ``humansense_task_map.json`` in ``$HUMANSENSE_ROOT`` or next to the
    first result file, ``$HUMANSENSE_TASK_MAP``, then ``--task-map`` (later wins)."""
    env_root = os.environ.get("HUMANSENSE_ROOT", "").strip()
    root = Path(env_root).expanduser() if env_root else paths[0].parent
    mapping = load_task_map(root if root.is_dir() else None)
    if task_map:
        mapping.update(read_spec(task_map, "--task-map"))
    return mapping, root


def answers_in(records: Sequence[Any]) -> Counter:
    """The model names found as answer keys in ``questions`` objects, with their counts."""
    names: Counter = Counter()
    for rec in records:
        q = rec.get("questions") if isinstance(rec, Mapping) else None
        if isinstance(q, Mapping):
            names.update(k for k in q if k not in RECORD_FIELDS)
    return names


def unique_files(paths: Sequence[str | Path]) -> tuple[list[Path], list[Path]]:
    """The result files once each, in the order given, and those given more than once.

    A file named twice (``score a.json a.json``, or a shell glob plus the file again) would count
    every record twice and halve no error; it is read once and the repeat is said.
    """
    seen: dict[Path, Path] = {}
    repeated: list[Path] = []
    for p in paths:
        path = Path(p).expanduser()
        key = path.resolve()
        if key in seen:
            repeated.append(path)
        else:
            seen[key] = path
    return list(seen.values()), repeated


def score_files(
    paths: Sequence[str | Path], model: str, *, think: bool = False, task_map: str | None = None
) -> dict[str, TaskScore]:
    """Score every record of the official runner's files for ``model``; task code -> sums.

    Records are validated by the same code that loads the benchmark, so a broken record or an
    unknown ``task_type`` stops with the same error (naming the file, the record and the fix).
    """
    files, _ = unique_files(paths)  # a repeated file is read once (main says so)
    loaded = [(f, _read(f)) for f in files]
    mapping, root = _task_map(files, task_map)
    unknown = unknown_task_types(
        (RawRecord(file.name, index, rec) for file, records in loaded for index, rec in enumerate(records)), mapping
    )
    if unknown:
        err = unknown_error(unknown, root)
        raise TaskMapError(f"{err}\nOr pass the mapping to this command: lmms-humansense score --task-map FILE.")
    found = Counter()
    for _, records in loaded:
        found += answers_in(records)
    if model not in found:
        listed = ", ".join(f"{name!r} ({n})" for name, n in found.most_common()) or "none"
        raise KeyError(
            f"no record in {', '.join(str(f) for f in files)} holds an answer under {model!r}; "
            f"answer keys found: {listed}. Pass --answer-key with the name the official runner stored them under (its --model_name)."
        )
    scores: dict[str, TaskScore] = {}
    for file, records in loaded:
        for index, rec in enumerate(records):
            raw = RawRecord(file.name, index, rec)
            doc = record_to_doc(raw, mapping, root or file.parent)
            entry = scores.setdefault(doc["task"], TaskScore())
            q = rec["questions"]
            if model not in q:
                entry.n_unanswered += 1
                continue
            response = q[model]
            response = "" if response is None else str(response)
            scored = score_answer(response, doc["answer_format"], doc["options"], doc["answer"], think=think)
            entry.robust += scored.robust.score
            entry.robust_items.append((doc["clip"], scored.robust.score))
            entry.failures += 0 if scored.robust.parsed.ok else 1
            official = scored.official
            if official is None:
                entry.n_empty += 1
            else:
                entry.n += 1
                entry.official += official
                entry.official_items.append((doc["clip"], official))
    return {t.code: scores[t.code] for t in TASKS if t.code in scores}


def as_json(scores: Mapping[str, TaskScore]) -> dict[str, dict[str, Any]]:
    """``{"<task code>": {"acc", "acc_official", "n", ...}}``, the format ``lmms-humansense report`` reads."""
    return {code: s.as_dict() for code, s in scores.items()}


def as_table(scores: Mapping[str, TaskScore]) -> str:
    """A plain text table, one task a line, then the macro means the report and the paper use."""
    from lmms_humansense.report.summary import SUMMARY_TITLES, summarise

    def f(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    lines = [f"{'task':<32} {'n':>5} {'empty':>5} {'acc':>6} {'acc_official':>12} {'parse_fail':>10}"]
    for code, s in scores.items():
        name = f"{code} {BY_CODE[code].name}"
        failure = "-" if s.parse_failure is None else f"{s.parse_failure:.1%}"
        lines.append(f"{name:<32} {s.n:>5} {s.n_empty:>5} {f(s.acc):>6} {f(s.acc_official):>12} {failure:>10}")
    acc = summarise({c: s.acc for c, s in scores.items()})
    official = summarise({c: s.acc_official for c, s in scores.items()})
    lines.append("")
    for key, cell in acc.items():
        cover = "" if cell.complete else f"  ({cell.covered}/{cell.total} tasks)"
        lines.append(
            f"{SUMMARY_TITLES[key]:<32} {'':>5} {'':>5} {f(cell.value):>6} {f(official[key].value):>12}{cover}"
        )
    return "\n".join(lines)


def main(
    results: Sequence[str], model: str, *, think: bool = False, task_map: str | None = None, json_out: bool = False
) -> int:
    """The ``score`` sub-command: print the table (or JSON) and what was left out, on stderr."""
    scores = score_files(results, model, think=think, task_map=task_map)
    _, repeated = unique_files(results)
    if repeated:
        print(
            f"note: {len(repeated)} result file(s) were named more than once and read once: "
            f"{', '.join(sorted({str(p) for p in repeated}))}",
            file=sys.stderr,
        )
    print(json.dumps(as_json(scores), indent=1) if json_out else as_table(scores))
    unanswered = {c: s.n_unanswered for c, s in scores.items() if s.n_unanswered}
    empty = {c: s.n_empty for c, s in scores.items() if s.n_empty}
    if unanswered:
        listed = ", ".join(f"{c} {n}" for c, n in unanswered.items())
        print(f"note: records without an answer from {model!r} (in no denominator): {listed}", file=sys.stderr)
    if empty:
        listed = ", ".join(f"{c} {n}" for c, n in empty.items())
        print(
            f"note: empty answers (scored 0 in acc, left out of acc_official as score.py does): {listed}",
            file=sys.stderr,
        )
    return 0
