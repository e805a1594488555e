"""The ``lmms-humansense`` command: the plugin's tools around an lmms-eval run.

Each sub-command is a small function over the package's modules.  Building the parser imports the
modules that define the sub-commands' arguments (numpy with them); PyAV, lmms-eval, datasets and
matplotlib are imported only by the command that needs them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def _tasks_dir(args: argparse.Namespace) -> int:
    from lmms_humansense import taskgen

    if args.regenerate:
        target = taskgen.tasks_dir()
        written = taskgen.write(target)
        print(f"wrote {len(written)} files to {target}", file=sys.stderr)
    print(taskgen.tasks_dir())
    return 0


def _tasks(args: argparse.Namespace) -> int:
    """The names to pass to ``--tasks``: ``lmms-eval tasks list`` does not index plugin tasks in 0.7.3."""
    from lmms_humansense.catalog import LEVELS, TASKS, VARIANTS

    default = VARIANTS["default"]
    print("groups (--tasks NAME):")
    print(f"  {default.prefix:<26} all {len(TASKS)} tasks, {default.title}")
    for level, title in LEVELS.items():
        print(f"  {default.level_group(level):<26} {level} {title}")
    print("variant groups (each variant's tasks are <group>_<code>, e.g. humansense_noaudio_ar):")
    for variant in VARIANTS.values():
        if variant is not default:
            print(f"  {variant.prefix:<26} {variant.title}")
    print("tasks:")
    for t in TASKS:
        print(f"  {t.leaf:<26} {t.code}: {t.name} ({t.modality})")
    return 0


def _sample_root(args: argparse.Namespace) -> int:
    from lmms_humansense import sample_root

    print(sample_root())
    return 0


def _input_error(command: str, exc: Exception) -> int:
    """Bad input to score/report: the message (it names the file and the fix), no traceback."""
    message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    print(f"lmms-humansense {command}: error: {message}", file=sys.stderr)
    return 2


def _score(args: argparse.Namespace) -> int:
    from lmms_humansense import rescore

    files = [*args.files, *(args.results_old or [])]
    if args.results_old:
        _deprecated("score", "--results FILE...", "the files as positionals: score FILE... --answer-key NAME")
    if args.model_old:
        _deprecated("score", "--model", "--answer-key (it names the answers' key in the files, not an lmms-eval model)")
    key = args.answer_key or args.model_old
    if not files:
        return _input_error("score", ValueError("no file given: pass the official runner's output files (FILE...)"))
    if not key:
        return _input_error(
            "score", ValueError("--answer-key NAME is required: the name the official runner stored answers under")
        )
    folders = [f for f in files if Path(f).is_dir()]
    if folders:
        return _input_error(
            "score",
            ValueError(
                f"{folders[0]} is a folder; pass the JSON files the official runner wrote in it "
                f"(e.g. {Path(folders[0]) / 'HumanSense_VQA_<model>.json'})"
            ),
        )
    try:
        return rescore.main(files, key, think=args.think, task_map=args.task_map, json_out=args.json)
    except (KeyError, ValueError, FileNotFoundError) as exc:  # TaskMapError and RecordError are ValueErrors
        return _input_error("score", exc)
    except OSError as exc:
        return _input_error("score", ValueError(f"{exc.filename}: {exc.strerror}"))


def _deprecated(command: str, old: str, new: str) -> None:
    print(f"lmms-humansense {command}: warning: {old} is deprecated; use {new}", file=sys.stderr)


def _report(args: argparse.Namespace) -> int:
    from lmms_humansense.report import make_report

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        return _input_error(
            "report", ValueError(f"--out {out} is a file; name a folder (it is created) or move the file away")
        )
    if args.force and not args.paired:
        return _input_error("report", ValueError("--force only applies to --paired (comparing runs of two variants)"))
    try:
        written = make_report(
            args.results,
            out,
            args.paper_model,
            metric=args.metric,
            plots=not args.no_plots,
            paired=args.paired,
            force=args.force,
        )
    except (KeyError, ValueError) as exc:  # ReportInputError is a ValueError; KeyError: unknown --paper-model
        return _input_error("report", exc)
    except OSError as exc:
        return _input_error(
            "report", ValueError(f"cannot write the report into {out}: {exc.strerror} ({exc.filename})")
        )
    for path in written.values():
        print(path)
    print(f"open {written['report.md']}: the overview against the paper first, then each task and the warnings")
    return 0


#: Sub-commands that live in their own module: name -> (module, purpose). Each module defines
#: ``add_arguments(parser)`` and ``run(args) -> int`` and keeps its heavy imports inside ``run``, so
#: building the parser stays cheap and each command is owned by the module that does the work.
MODULE_COMMANDS: dict[str, tuple[str, str]] = {
    "download": ("lmms_humansense.data.download", "fetch and extract the benchmark files (bench_data/ only)"),
    "prepare": (
        "lmms_humansense.data.prepare",
        "decode the sound the tasks read (speech videos' tracks, FR2/PC audio files) into the cache once",
    ),
    "verify": ("lmms_humansense.data.verify", "check every record's media exists and decodes; counts per task"),
    "export-upstream": ("lmms_humansense.upstream", "write the task folder as an lmms-eval pull request"),
}

#: One example per sub-command, shown by its ``--help`` (a newcomer copies it before reading the options).
EXAMPLES: dict[str, str] = {
    "tasks": "lmms-humansense tasks",
    "tasks-dir": 'lmms-eval --include_path "$(lmms-humansense tasks-dir)" --tasks humansense_l4 --model dummy',
    "sample-root": 'export HUMANSENSE_ROOT="$(lmms-humansense sample-root)"',
    "score": "lmms-humansense score HumanSense_VQA_omni.json HumanSense_AQA_omni.json --answer-key Qwen25-Omni-7B",
    "report": "lmms-humansense report out/omni --paper-model Qwen2.5-Omni-7B --out omni_report",
    "download": "lmms-humansense download --root /data/HumanSense",
    "prepare": "HUMANSENSE_ROOT=/data/HumanSense lmms-humansense prepare",
    "verify": "lmms-humansense verify --root /data/HumanSense --json verify.json",
    "export-upstream": "lmms-humansense export-upstream ../pr --results out/omni --results out/qwen2_vl",
}

#: Exit statuses of the whole tool (the README's Command line section lists them too).
EXIT_STATUSES = "exit status: 0 done; 1 the check found problems (verify, prepare); 2 bad input or usage"
#: The sub-commands that end with status 1 when their check finds problems.
CHECKS = ("verify", "prepare")


def exit_statuses(name: str) -> str:
    """The exit statuses ``name`` can end with: only the checks have a 1."""
    if name in CHECKS:
        return "exit status: 0 done; 1 the check found problems; 2 bad input or usage"
    return "exit status: 0 done; 2 bad input or usage"


def _add_command(sub: argparse._SubParsersAction, name: str, purpose: str) -> argparse.ArgumentParser:
    """A sub-command whose ``--help`` starts with its purpose and ends with an example."""
    return sub.add_parser(
        name,
        help=purpose,
        description=purpose[0].upper() + purpose[1:] + ".",
        epilog=f"example:\n  {EXAMPLES[name]}\n\n{exit_statuses(name)}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _add_module_commands(sub: argparse._SubParsersAction) -> None:
    import importlib

    for name, (module_name, purpose) in MODULE_COMMANDS.items():
        module = importlib.import_module(module_name)
        p = _add_command(sub, name, purpose)
        module.add_arguments(p)
        p.set_defaults(func=module.run)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    def of(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    return f"lmms-humansense {of('lmms_humansense')} (lmms-eval {of('lmms_eval')})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lmms-humansense",
        description="The HumanSense benchmark's tools around lmms-eval: data, checks, re-scoring, reports, export.",
        epilog=f"{EXIT_STATUSES}\n`lmms-humansense COMMAND --help` shows each command's options and an example.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_task_commands(sub)
    _add_score_command(sub)
    _add_report_command(sub)
    _add_module_commands(sub)
    return parser


def _add_task_commands(sub: argparse._SubParsersAction) -> None:
    """``tasks``, ``tasks-dir`` and ``sample-root``: where lmms-eval finds the tasks and the sample set."""
    p = _add_command(
        sub, "tasks", "list the HumanSense tasks and groups lmms-eval runs (lmms-eval tasks list omits them)"
    )
    p.set_defaults(func=_tasks)

    p = _add_command(sub, "tasks-dir", "print the task folder (for lmms-eval --include_path)")
    p.add_argument("--regenerate", action="store_true", help="rewrite the YAMLs from the catalog first (developers)")
    p.set_defaults(func=_tasks_dir)

    p = _add_command(sub, "sample-root", "print the bundled sample set's folder (use it as HUMANSENSE_ROOT)")
    p.set_defaults(func=_sample_root)


def _add_score_command(sub: argparse._SubParsersAction) -> None:
    p = _add_command(
        sub, "score", "re-score the official runner's output files (its answers are stored under an answer key)"
    )
    p.add_argument(
        "files", nargs="*", metavar="FILE", help="the official runner's output: HumanSense_VQA/AQA JSON with answers"
    )
    p.add_argument(
        "--answer-key",
        metavar="NAME",
        help="the key each record's answer is stored under: the official runner's --model_name (required)",
    )
    p.add_argument("--results", dest="results_old", action="extend", nargs="+", help=argparse.SUPPRESS)
    p.add_argument("--model", dest="model_old", help=argparse.SUPPRESS)
    p.add_argument("--think", action="store_true", help="official think rules (score_think.py) for acc_official")
    p.add_argument("--task-map", metavar="FILE", help="task_type -> code mapping (JSON, or String=CODE,...)")
    p.add_argument("--json", action="store_true", help='print {"<task code>": {"acc", "acc_official", "n", ...}}')
    p.set_defaults(func=_score)


def _add_report_command(sub: argparse._SubParsersAction) -> None:
    p = _add_command(sub, "report", "tables and charts of lmms-eval results against the paper and human level")
    p.add_argument(
        "results",
        nargs="+",
        metavar="RESULTS",
        help="lmms-eval --output_path folders, *_results.json files, or `lmms-humansense score --json` files",
    )
    p.add_argument("--out", default="humansense_report", help="output folder (default: %(default)s)")
    p.add_argument(
        "--paper-model",
        action="append",
        default=[],
        metavar="NAME",
        help="a Table 1 row to show (e.g. Qwen2.5-Omni-7B); repeat the option for more; "
        "differences are taken against the first",
    )
    p.add_argument(
        "--metric", choices=("acc", "acc_official"), default="acc", help="run metric compared (default: acc)"
    )
    p.add_argument("--no-plots", action="store_true", help="tables only")
    p.add_argument(
        "--paired",
        action="store_true",
        help="RESULTS are two runs A B logged with --log_samples: add B - A per task and level, question by "
        "question (by content identity), with paired intervals and a forest plot",
    )
    p.add_argument("--force", action="store_true", help="with --paired: compare runs of different variants")
    p.set_defaults(func=_report)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
