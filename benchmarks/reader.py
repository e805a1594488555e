"""The answer reader before and after, on a hand-labelled set of realistic answers.

``benchmarks/reader_set.jsonl``: one answer a line, with its answer format, options and the
reading a careful grader gives (``label``; ``null`` where no reading is right: an exclusion, a
hedge, a bound).  For each reader: correct readings (the label, or no reading where the label is
``null``), wrong readings (a value that is not the label: the costly kind, as it can invert what
was said) and misses (no reading where there is one).

The set was written for this comparison from the shapes the reader is known to miss or misread
and a few plain answers; it is not held out from the reader's development, so it measures the
shapes, not a general accuracy.

"Before" is the reader of another git revision (default ``main``), loaded from ``git show``.

Run: ``python benchmarks/reader.py [--before main]``
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from lmms_humansense import answers

HERE = Path(__file__).parent


def load_before(revision: str) -> Callable[..., answers.Parsed]:
    source = subprocess.run(
        ["git", "show", f"{revision}:lmms_humansense/answers.py"], cwd=HERE, capture_output=True, text=True, check=True
    ).stdout
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "answers_before.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location("answers_before", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules["answers_before"] = module
        spec.loader.exec_module(module)
    return module.parse


def score(parse: Callable[..., answers.Parsed], rows: list[dict]) -> tuple[int, list[dict], list[dict]]:
    correct, wrong, missed = 0, [], []
    for row in rows:
        got = parse(row["text"], row["format"], row["options"])
        value = got.value if got.ok else None
        if value == row["label"]:
            correct += 1
        elif value is None:
            missed.append(row)
        else:
            wrong.append({**row, "read": value})
    return correct, wrong, missed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="main", help="git revision of the reader to compare against")
    parser.add_argument("--show", action="store_true", help="list every wrong reading and miss")
    args = parser.parse_args()
    rows = [json.loads(line) for line in (HERE / "reader_set.jsonl").read_text(encoding="utf-8").splitlines() if line]
    print(f"{len(rows)} labelled answers ({sum(r['label'] is None for r in rows)} with no right reading)")
    print("| reader | correct | wrong readings | misses |\n|---|---:|---:|---:|")
    for name, parse in ((f"before ({args.before})", load_before(args.before)), ("after (this tree)", answers.parse)):
        correct, wrong, missed = score(parse, rows)
        n = len(rows)
        print(
            f"| {name} | {correct} ({correct / n:.1%}) | {len(wrong)} ({len(wrong) / n:.1%}) | {len(missed)} ({len(missed) / n:.1%}) |"
        )
        if args.show:
            for w in wrong:
                print(f"    wrong: {w['text']!r} -> {w['read']} (label {w['label']})")
            for m in missed:
                print(f"    missed: {m['text']!r} (label {m['label']})")


if __name__ == "__main__":
    main()
