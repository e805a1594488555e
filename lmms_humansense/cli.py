"""The ``lmms-humansense`` command: the plugin's tools around an lmms-eval run.

Each sub-command is a small function over the package's modules; heavy imports happen inside
them so ``lmms-humansense tasks-dir`` stays instant.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _tasks_dir(args: argparse.Namespace) -> int:
    from lmms_humansense import taskgen

    if args.regenerate:
        target = taskgen.tasks_dir()
        written = taskgen.write(target)
        print(f"wrote {len(written)} files to {target}", file=sys.stderr)
    print(taskgen.tasks_dir())
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

    try:
        return rescore.main(args.results, args.model, think=args.think, task_map=args.task_map, json_out=args.json)
    except (KeyError, ValueError, FileNotFoundError) as exc:  # TaskMapError and RecordError are ValueErrors
        return _input_error("score", exc)


def _report(args: argparse.Namespace) -> int:
    from lmms_humansense.report import make_report

    try:
        written = make_report(args.results, args.out, args.paper_model, metric=args.metric, plots=not args.no_plots)
    except (KeyError, ValueError) as exc:  # ReportInputError is a ValueError; KeyError: unknown --paper-model
        return _input_error("report", exc)
    for path in written.values():
        print(path)
    return 0


#: Sub-commands that live in their own module: name -> (module, help). Each module defines
#: ``add_arguments(parser)`` and ``run(args) -> int`` and keeps its heavy imports inside ``run``, so
#: building the parser stays cheap and each command is owned by the module that does the work.
MODULE_COMMANDS: dict[str, tuple[str, str]] = {
    "download": ("lmms_humansense.data.download", "fetch and extract the benchmark files (bench_data/ only)"),
    "prepare": ("lmms_humansense.data.prepare", "decode the speech tasks' audio tracks into the cache once"),
    "verify": ("lmms_humansense.data.verify", "check every record's media exists and decodes; counts per task"),
    "export-upstream": ("lmms_humansense.upstream", "write the task folder as an lmms-eval pull request"),
}


def _add_module_commands(sub: argparse._SubParsersAction) -> None:
    import importlib

    for name, (module_name, help_text) in MODULE_COMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=help_text)
        module.add_arguments(p)
        p.set_defaults(func=module.run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lmms-humansense", description="HumanSense for lmms-eval")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("tasks-dir", help="print the task folder (for lmms-eval --include_path)")
    p.add_argument("--regenerate", action="store_true", help="rewrite the YAMLs from the catalog first (developers)")
    p.set_defaults(func=_tasks_dir)

    p = sub.add_parser("sample-root", help="print the bundled sample set's folder (use it as HUMANSENSE_ROOT)")
    p.set_defaults(func=_sample_root)

    p = sub.add_parser("score", help="re-score the official runner's result files (answers stored under a model name)")
    p.add_argument("--results", nargs="+", required=True, metavar="FILE", help="HumanSense_VQA/AQA JSON with answers")
    p.add_argument("--model", required=True, help="the name the answers are stored under (the runner's --model_name)")
    p.add_argument("--think", action="store_true", help="official think rules (score_think.py) for acc_official")
    p.add_argument("--task-map", metavar="FILE", help="task_type -> code mapping (JSON, or String=CODE,...)")
    p.add_argument("--json", action="store_true", help='print {"<task code>": {"acc", "acc_official", "n", ...}}')
    p.set_defaults(func=_score)

    p = sub.add_parser("report", help="tables and charts of lmms-eval results against the paper and human level")
    p.add_argument(
        "results",
        nargs="+",
        metavar="RESULTS",
        help="lmms-eval --output_path folders, *_results.json files, or `lmms-humansense score --json` files",
    )
    p.add_argument("--out", default="humansense_report", help="output folder (default: %(default)s)")
    p.add_argument(
        "--paper-model",
        action="extend",
        nargs="+",
        default=[],
        metavar="NAME",
        help="Table 1 rows to show (e.g. Qwen2.5-Omni-7B; repeatable); differences are taken against the first",
    )
    p.add_argument(
        "--metric", choices=("acc", "acc_official"), default="acc", help="run metric compared (default: acc)"
    )
    p.add_argument("--no-plots", action="store_true", help="tables only")
    p.set_defaults(func=_report)

    _add_module_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
