"""Reading runs: lmms-eval output folders or ``*_results.json`` files, and ``lmms-humansense score
--json`` output of the official runner's files.

One results file can hold several variants (``--tasks humansense,humansense_noaudio``); each becomes
its own :class:`Run`, labelled with its variant, because numbers of different protocols must never
share a label.  Tasks are recognised by their exact names from the catalog, not by pattern, so a
task of another benchmark in the same file is ignored and a HumanSense task absent from the run is
reported as missing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmms_humansense.catalog import BY_CODE, LEVELS, TASKS, VARIANTS, Variant

#: The variant name given to scores re-computed from the official runner's files.
OFFICIAL_RUNNER = "official-runner"
METRICS: tuple[str, ...] = ("acc", "acc_official", "parse_failure")
#: The metrics that carry a standard error in a run (``parse_failure`` is a diagnostic).
SE_OF: tuple[str, ...] = ("acc", "acc_official")


class ReportInputError(ValueError):
    """A path given to the report is not a results file the report can read."""


@dataclass(frozen=True)
class TaskResult:
    """One task of one run.  ``n`` is the number of questions scored (lmms-eval's effective
    sample count; for re-scored official files, the questions with a non-empty answer)."""

    acc: float | None
    acc_official: float | None
    parse_failure: float | None
    n: int | None
    #: standard errors of ``acc`` and ``acc_official`` (clip-clustered); ``None`` when not known
    acc_se: float | str | None = None
    acc_official_se: float | str | None = None
    #: counted non-answers (``lmms_humansense.outcomes``); ``None`` in files that predate them
    empty: int | None = None
    not_answered: int | None = None
    #: how many clips the questions come from (the intervals' degrees of freedom); ``None`` in
    #: files written before the ``clips`` metric
    clips: int | None = None

    def metric(self, name: str) -> float | None:
        return getattr(self, name)

    def se(self, name: str) -> float | str | None:
        return getattr(self, f"{name}_se", None)


@dataclass
class Run:
    """One model under one variant, read from one file."""

    source: str
    variant: str  # a catalog variant name, or OFFICIAL_RUNNER
    model: str
    model_args: str
    tasks: dict[str, TaskResult]  # task code -> result, only for tasks present in the run
    settings: dict[str, str] = field(default_factory=dict)  # display name -> value, in display order
    reported: dict[str, float | None] = field(default_factory=dict)  # group numbers in the file (acc)
    limit: float | None = None
    label: str = ""
    command: str = ""  # the lmms-eval command line that produced the file, as far as it says
    #: task code -> (questions whose sound the model's feature extractor cut, questions logged), from
    #: the ``acc.fed`` records of the samples logged next to the results file (empty without them)
    sound_cut: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: (answers served by lmms-eval's response cache, so without their ``acc.fed`` record, answers
    #: logged): see :func:`unrecorded`
    unrecorded: tuple[int, int] = (0, 0)

    @property
    def variant_tasks(self) -> tuple[str, ...]:
        """The task codes this run's variant covers."""
        if self.variant in VARIANTS:
            return VARIANTS[self.variant].codes
        return tuple(t.code for t in TASKS)

    @property
    def missing(self) -> tuple[str, ...]:
        """Tasks of the variant that have no number in this run (shown as missing, never as 0)."""
        return tuple(c for c in self.variant_tasks if c not in self.tasks)

    @property
    def short_tasks(self) -> tuple[str, ...]:
        """Tasks with fewer questions than the paper's: a smaller root (such as the sample set) or ``--limit``."""
        return tuple(c for c, t in self.tasks.items() if t.n is not None and t.n < BY_CODE[c].paper_count)

    @property
    def variant_title(self) -> str:
        if self.variant in VARIANTS:
            return VARIANTS[self.variant].title
        return "the official runner's answers, re-scored by `lmms-humansense score`"

    def scores(self, metric: str) -> dict[str, float | None]:
        return {code: result.metric(metric) for code, result in self.tasks.items()}

    def ses(self, metric: str) -> dict[str, float | str | None]:
        return {code: result.se(metric) for code, result in self.tasks.items()}

    def sizes(self) -> dict[str, int | None]:
        return {code: result.n for code, result in self.tasks.items()}

    def clip_counts(self) -> dict[str, int | None]:
        return {code: result.clips for code, result in self.tasks.items()}


def _metric_value(value: Any) -> float | None:
    """A metric value as a float; lmms-eval writes ``"N/A"`` or ``null`` when nothing was scored."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _se(value: Any) -> float | str | None:
    """A standard error, or ``"N/A"`` (fewer than two clips: the interval counts one clip)."""
    return "N/A" if isinstance(value, str) and value.strip().upper() == "N/A" else _metric_value(value)


def _fraction(path: Path, entry: str, name: str, value: Any) -> float | None:
    """A metric that is a fraction of questions (an accuracy, a parse-failure rate), or ``None``.

    Every HumanSense metric lies in [0, 1]; anything else (NaN, infinity, 1.7, a rate of 7.0) means
    the file was edited or written by something else, and a report built on it would rank models on
    an impossible number (and NaN would make report.json invalid JSON), so it is refused.
    """
    number = _metric_value(value)
    if number is not None and not 0.0 <= number <= 1.0:  # also false for NaN
        raise ReportInputError(
            f"{path}: {entry} {name} is {value!r}, outside [0, 1]; every HumanSense metric is a fraction of "
            "questions. Fix: pass the results file lmms-eval wrote, unedited (or re-run the evaluation)."
        )
    return number


def _count(path: Path, entry: str, value: Any) -> int | None:
    """A task's number of scored questions, or ``None``; a negative or fractional count is refused."""
    number = _metric_value(value)
    if number is None:
        return None
    if not (number >= 0 and number == int(number)):  # also false for NaN and infinity
        raise ReportInputError(
            f"{path}: {entry} has {value!r} questions; a question count is a whole number, at least 0. "
            "Fix: pass the results file lmms-eval wrote, unedited."
        )
    return int(number)


def find_results(path: str | Path) -> list[Path]:
    """The result files a path names: the file itself, or every ``*_results.json`` under a folder.

    lmms-eval 0.7.3 writes ``<output_path>/<date>_results.json``; other versions write
    ``<output_path>/<model>/<date>_results.json``; a recursive glob finds both.
    """
    p = Path(path).expanduser()
    if p.is_file():
        return [p]
    if p.is_dir():
        found = sorted(p.rglob("*_results.json"))
        if not found:
            raise ReportInputError(
                f"{p} holds no *_results.json file. Pass the folder given to lmms-eval as --output_path "
                "(after the run finished), a *_results.json file, or a file written by `lmms-humansense score --json`."
            )
        return found
    raise ReportInputError(f"{p} does not exist. Pass an lmms-eval --output_path folder or a results file.")


def model_args_text(value: Any) -> str:
    if isinstance(value, Mapping):
        return ",".join(f"{k}={v}" for k, v in value.items())
    return "" if value in (None, "") else str(value)


def parse_model_args(text: str) -> dict[str, str]:
    """``k=v,k=v`` (lmms-eval's ``--model_args``) as a dict; a bare word maps to ``""``."""
    out = {}
    for part in text.split(","):
        if part.strip():
            key, _, value = part.partition("=")
            out[key.strip()] = value.strip()
    return out


def _frames(model: str, args: Mapping[str, str]) -> str:
    chosen = {k: v for k, v in args.items() if any(w in k.lower() for w in ("frame", "fps", "pixels"))}
    if chosen:
        return ", ".join(f"{k}={v}" for k, v in chosen.items())
    if model == "humansense_omni":
        return "official budget (1/0.5/0.2 fps by length, at most 24 frames)"
    return "the wrapper's default"


def _audio(model: str, variant: Variant) -> str:
    from lmms_humansense.wrappers import AUDIO_DROPPERS, SOUND_NOTES

    if not variant.media:
        return "off: no frames and no sound, the question and options only (blind variant)"
    if not variant.audio:
        return "off: every sound withheld (noaudio variant)"
    if model in AUDIO_DROPPERS:
        return f"given, but dropped by the `{model}` wrapper: audio tasks answered from frames or text"
    if model in SOUND_NOTES:
        return f"given; what `{model}` sends of it, and what then reaches the model: docs/wrappers.md"
    if model == "dummy":
        return "not read (dummy model)"
    return "the protocol's: the video's sound for TR FR1 RR1 RR2 ES, audio files for FR2 PC"


def _generation(configs: Mapping[str, Any], leaves: Iterable[str], gen_kwargs: str) -> str:
    for leaf in leaves:
        kwargs = (configs.get(leaf) or {}).get("generation_kwargs") or {}
        if isinstance(kwargs, Mapping) and kwargs:
            shown = {k: kwargs[k] for k in ("max_new_tokens", "temperature", "do_sample") if k in kwargs}
            text = ", ".join(f"{k}={v}" for k, v in shown.items())
            return f"{text}; --gen_kwargs {gen_kwargs}" if gen_kwargs else text
    return f"--gen_kwargs {gen_kwargs}" if gen_kwargs else "the task's defaults"


def _command(data: Mapping[str, Any], model: str, model_args: str, limit: float | None, gen_kwargs: str) -> str:
    """The lmms-eval command behind a results file, for a pull request's Validation line.

    lmms-eval 0.7.3 records the parsed command line's tasks under ``config.resolved_cli_args``;
    files without it get the groups that no other entry contains, which is what was asked for.
    """
    config = data.get("config") if isinstance(data.get("config"), Mapping) else {}
    cli = config.get("resolved_cli_args") if isinstance(config.get("resolved_cli_args"), Mapping) else {}
    tasks = str(cli.get("tasks") or "")
    if not tasks:
        groups = data.get("group_subtasks") if isinstance(data.get("group_subtasks"), Mapping) else {}
        nested = {name for members in groups.values() if isinstance(members, list) for name in members}
        tasks = ",".join(sorted(name for name in data.get("results", {}) if name not in nested))
    parts = ["lmms-eval", "--model", model]
    if model_args:
        parts += ["--model_args", model_args]
    parts += ["--tasks", tasks]
    if limit is not None:
        parts += ["--limit", f"{limit:g}"]
    if gen_kwargs:
        parts += ["--gen_kwargs", gen_kwargs]
    return " ".join(parts)


def _logged_accs(path: Path, leaves: Mapping[str, str]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(task code, ``acc``) of every sample logged next to the results file ``path`` (the
    ``<stamp>_samples_<leaf>.jsonl`` files lmms-eval writes with ``--log_samples``); tasks with no
    such file yield nothing, lines that hold no ``acc`` object are skipped."""
    stamp = path.name[: -len("_results.json")] if path.name.endswith("_results.json") else None
    if stamp is None:
        return
    for code, leaf in leaves.items():
        file = path.parent / f"{stamp}_samples_{leaf}.jsonl"
        if not file.is_file():
            continue
        for line in file.read_text(encoding="utf-8").splitlines():
            try:
                acc = json.loads(line)["acc"]
            except (json.JSONDecodeError, KeyError, TypeError):
                continue
            if isinstance(acc, Mapping):
                yield code, acc


def sound_cut(path: Path, leaves: Mapping[str, str]) -> dict[str, tuple[int, int]]:
    """Per task, how many logged questions had their sound cut by the feature extractor (and of how many).

    Read from ``acc.fed.audio_cut`` of the logged samples; tasks with no such file, or models that
    keep no record, are left out (nothing to say, not "no cut")."""
    out: dict[str, tuple[int, int]] = {}
    for code, acc in _logged_accs(path, leaves):
        fed = acc.get("fed")
        if isinstance(fed, Mapping) and "audio_cut" in fed:
            cut, total = out.get(code, (0, 0))
            out[code] = (cut + bool(fed["audio_cut"]), total + 1)
    return out


#: The package's models whose every answer carries its ``acc.fed`` record (``humansense_random``
#: answers with plain text: it is fed nothing worth recording).
RECORDING_MODELS = ("humansense_omni", "humansense_openai")


def unrecorded(path: Path, leaves: Mapping[str, str], model: str) -> tuple[int, int]:
    """(logged answers without an ``acc.fed`` record, logged answers) of a run of one of the
    package's models.  Such a model records every answer it gives, so an answer without one was
    served by lmms-eval's response cache (``--use_cache``), which keeps the answer text only;
    (0, 0) for other models (they keep no record to miss) and runs without logged samples."""
    if model not in RECORDING_MODELS:
        return 0, 0
    missing = total = 0
    for _, acc in _logged_accs(path, leaves):
        total += 1
        missing += not isinstance(acc.get("fed"), Mapping)
    return missing, total


def _task_result(path: Path, leaf: str, res: Any, count: Mapping[str, Any]) -> TaskResult:
    """One leaf task's figures from a results file, each checked (a fraction in [0, 1], a count)."""
    if not isinstance(res, Mapping):
        raise ReportInputError(
            f"{path}: results[{leaf!r}] is {type(res).__name__}, not an object of metrics "
            '({"acc,none": ..., ...}); pass the *_results.json file lmms-eval wrote, unedited.'
        )
    n = count.get("effective", count.get("original"))
    return TaskResult(
        *(_fraction(path, leaf, m, res.get(f"{m},none")) for m in METRICS),
        _count(path, f"n-samples of {leaf}", n),
        # files written before the `_se` metrics carry the same figure as `_stderr_clustered`
        *(_se(res.get(f"{m}_se,none", res.get(f"{m}_stderr_clustered,none"))) for m in SE_OF),
        empty=_count(path, f"empty answers of {leaf}", res.get("empty,none")),
        not_answered=_count(path, f"not-answered questions of {leaf}", res.get("not_answered,none")),
        clips=_count(path, f"clips of {leaf}", res.get("clips,none")),
    )


def _group_figures(path: Path, variant: Variant, results: Mapping[str, Any]) -> dict[str, float | None]:
    """What lmms-eval itself reported for the variant's groups: overall, the paper's Avg, each level."""
    reported: dict[str, float | None] = {}
    top = results.get(variant.prefix)
    if isinstance(top, Mapping):
        reported["overall"] = _fraction(path, variant.prefix, "acc", top.get("acc,none"))
        reported["paper_avg"] = _fraction(path, variant.prefix, "paper_avg", top.get("paper_avg,none"))
    for level in LEVELS:
        name = variant.level_group(level)
        group = results.get(name)
        if isinstance(group, Mapping):
            reported[level] = _fraction(path, name, "acc", group.get("acc,none"))
    return reported


def runs_from_results(path: Path, data: Mapping[str, Any]) -> list[Run]:
    """Every HumanSense variant found in one lmms-eval results file, as one run each."""
    results = data.get("results")
    if not isinstance(results, Mapping):
        raise ReportInputError(f"{path}: no 'results' object; is this an lmms-eval *_results.json file?")
    config = data.get("config") if isinstance(data.get("config"), Mapping) else {}
    configs = data.get("configs") if isinstance(data.get("configs"), Mapping) else {}
    counts = data.get("n-samples") if isinstance(data.get("n-samples"), Mapping) else {}
    model = str(config.get("model") or data.get("model_source") or data.get("model_name") or "unknown model")
    model_args = model_args_text(config.get("model_args"))
    args = parse_model_args(model_args)
    limit = _metric_value(config.get("limit"))
    gen_kwargs = str(config.get("gen_kwargs") or "")
    command = _command(data, model, model_args, limit, gen_kwargs)  # one per file, whatever its variants
    runs = []
    for variant in VARIANTS.values():
        leaves = {code: variant.leaf(code) for code in variant.codes if variant.leaf(code) in results}
        if not leaves:
            continue
        tasks = {}
        provenance: set[str] = set()
        for code, leaf in leaves.items():
            res = results[leaf]
            count = counts.get(leaf) if isinstance(counts.get(leaf), Mapping) else {}
            tasks[code] = _task_result(path, leaf, res, count)
            if res.get("provenance,none"):
                provenance.add(str(res["provenance,none"]))
        reported = _group_figures(path, variant, results)
        settings = {
            "model": model,
            "model args": model_args or "(none)",
            "variant": f"{variant.name}: {variant.title}",
            "frames": _frames(model, args) if variant.media else "none (blind variant)",
            "audio": _audio(model, variant),
            "generation": _generation(configs, leaves.values(), gen_kwargs),
        }
        if limit is not None:
            settings["limit"] = f"--limit {limit:g}: only part of each task was run"
        settings.update(_provenance_settings(data, provenance))
        runs.append(
            Run(
                str(path),
                variant.name,
                model,
                model_args,
                tasks,
                settings,
                reported,
                limit,
                run_label(model, args),
                command,
                sound_cut(path, leaves),
                unrecorded(path, leaves, model),
            )
        )
    if not runs:
        raise ReportInputError(
            f"{path} holds no HumanSense task (looked for humansense_<code> and humansense_<variant>_<code> "
            f"among {len(results)} result entries). Run lmms-eval with --tasks humansense (or a level or variant)."
        )
    return runs


#: lmms-eval 0.7.3 stamps ``date`` in this zone unless ``--timezone`` says otherwise.
LMMS_EVAL_DEFAULT_ZONE = "Asia/Singapore"


def _zone_name(zone: str) -> str:
    """``Asia/Singapore (UTC+08:00)``; the bare name when the zone is unknown here."""
    import datetime
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        offset = datetime.datetime.now(ZoneInfo(zone)).strftime("%z")
    except (ZoneInfoNotFoundError, ValueError):
        return zone
    return f"{zone} (UTC{offset[:3]}:{offset[3:]})"


def _provenance_settings(data: Mapping[str, Any], provenance: set[str]) -> dict[str, str]:
    """Date and its zone, versions and the data digest, as far as the file records them.

    lmms-eval 0.7.3's ``lmms_eval_version`` is ``<branch>@<commit>`` of the git checkout it ran in
    (the user's project, not lmms-eval), so it is kept as ``git checkout``; lmms-eval's own version,
    this package's and the annotation digest come from the ``provenance`` metric this package's
    tasks record (files written before it have none, and say nothing rather than guess).
    """
    out: dict[str, str] = {}
    date = data.get("date")
    if date:
        config = data.get("config") if isinstance(data.get("config"), Mapping) else {}
        cli = config.get("resolved_cli_args") if isinstance(config.get("resolved_cli_args"), Mapping) else {}
        out["date"] = str(date)
        out["timezone"] = _zone_name(str(cli.get("timezone") or LMMS_EVAL_DEFAULT_ZONE))
    if len(provenance) == 1:
        for part in next(iter(provenance)).split("; "):
            name, _, value = part.partition(" ")
            out[name] = value
    elif provenance:
        out["provenance"] = " | ".join(sorted(provenance))  # tasks scored under different versions
    commit = data.get("lmms_eval_version")
    if commit and "unknown" not in str(commit):
        out["git checkout"] = str(commit)
    return out


def run_label(model: str, args: Mapping[str, str]) -> str:
    pretrained = args.get("pretrained") or args.get("model_version") or args.get("model")
    if pretrained:
        return f"{model} ({pretrained.rstrip('/').split('/')[-1]})"
    return model


def is_scores(data: Any) -> bool:
    """True for the ``{"<task code>": {"acc": ..., ...}}`` JSON of ``lmms-humansense score --json``."""
    return (
        isinstance(data, Mapping)
        and bool(data)
        and all(isinstance(k, str) and k in BY_CODE and isinstance(v, Mapping) and "acc" in v for k, v in data.items())
    )


def run_from_scores(path: Path, data: Mapping[str, Any]) -> Run:
    """A run from ``lmms-humansense score --json`` output (labelled by the file's name)."""
    tasks = {
        code: TaskResult(
            *(_fraction(path, code, m, v.get(m)) for m in METRICS),
            _count(path, code, v.get("n")),
            # files written before `score --json` recorded them have no interval (and say so)
            *(_se(v.get(f"{m}_se")) for m in SE_OF),
            clips=_count(path, f"clips of {code}", v.get("clips")),
        )
        for code, v in data.items()
        if v.get("n") or v.get("n_empty")  # a task with no answer at all is missing, not 0
    }
    settings = {
        "model": path.stem,
        "variant": "the official runner's answers, re-scored by `lmms-humansense score`",
        "frames": "as the official runner ran it",
        "audio": "as the official runner ran it (its --audio flag)",
    }
    return Run(str(path), OFFICIAL_RUNNER, path.stem, "", tasks, settings, label=path.stem)


def _is_samples_file(file: Path) -> bool:
    """Whether ``file`` is lmms-eval's ``*_samples_<task>.jsonl`` (``--log_samples``), the file a
    user picks from a run's folder most often after the results file: a JSON object a line."""
    try:
        with file.open(encoding="utf-8") as handle:
            first = json.loads(handle.readline())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(first, Mapping) and "doc_id" in first


def load_runs(paths: Sequence[str | Path]) -> list[Run]:
    """Every run in the given paths, in order, with labels made unique and marked with the variant."""
    runs: list[Run] = []
    for given in paths:
        for file in find_results(given):
            try:
                data = json.loads(file.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                if _is_samples_file(file):
                    raise ReportInputError(
                        f"{file} is a samples file (one logged question a line, from --log_samples), not a "
                        f"results file. Fix: pass its folder, {file.parent}, or the *_results.json file in it."
                    ) from None
                raise ReportInputError(f"{file} cannot be read as JSON ({exc}).") from None
            if isinstance(data, Mapping) and "results" in data:
                runs.extend(runs_from_results(file, data))
            elif is_scores(data):
                runs.append(run_from_scores(file, data))
            else:
                raise ReportInputError(
                    f"{file} is neither an lmms-eval results file (no 'results' key) nor the output of "
                    '`lmms-humansense score --json` ({"<task code>": {"acc": ..., "acc_official": ..., "n": ...}}).'
                )
    if not runs:
        raise ReportInputError("no results given: pass lmms-eval --output_path folders or *_results.json files")
    labels = tell_apart([f"{run.label} [{run.variant}]" for run in runs], [run.model_args for run in runs])
    for run, label in zip(runs, labels, strict=True):
        run.label = label
    return runs


def tell_apart(labels: list[str], model_args: list[str]) -> list[str]:
    """Labels no two runs share, for legends and tables that may be read without the settings.

    Runs of one model usually differ in a model arg (``seed``, ``frames``, ``decoding``); where
    labels collide, each gets the args that differ within its group, and a number only when even
    those are the same.
    """
    groups: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(label, []).append(i)
    out = list(labels)
    for label, members in groups.items():
        if len(members) < 2:
            continue
        args = [parse_model_args(model_args[i]) for i in members]
        keys = list(dict.fromkeys(k for a in args for k in a))
        differ = [k for k in keys if len({a.get(k) for a in args}) > 1]
        suffixes = [", ".join(f"{k}={a.get(k, '(default)')}" for k in differ) for a in args]
        distinct = len(set(suffixes)) == len(suffixes)
        for n, (i, suffix) in enumerate(zip(members, suffixes, strict=True), 1):
            out[i] = f"{label} with {suffix}" if distinct else f"{label} #{n}"
    return out
