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
    from lmms_humansense.data.root import sample_root

    print(sample_root())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lmms-humansense", description="HumanSense for lmms-eval")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("tasks-dir", help="print the task folder (for lmms-eval --include_path)")
    p.add_argument("--regenerate", action="store_true", help="rewrite the YAMLs from the catalog first (developers)")
    p.set_defaults(func=_tasks_dir)

    p = sub.add_parser("sample-root", help="print the bundled sample set's folder (use it as HUMANSENSE_ROOT)")
    p.set_defaults(func=_sample_root)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
