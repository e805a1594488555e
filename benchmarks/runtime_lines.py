"""Lines of the exported runtime: the Python files of the task folder exactly as
``lmms-humansense export-upstream`` writes them (imports moved, formatted with lmms-eval's settings).

Run: ``python benchmarks/runtime_lines.py``. Prints a line per file (all lines, then lines that are
neither blank nor a comment) and the totals; a figure for ``benchmarks/README.md``, asserted nowhere.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from lmms_humansense import upstream


def exported_python() -> dict[str, str]:
    """Task-folder path -> text of each exported Python file, formatted as the export formats it."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sources = {rel: text for rel, text in upstream.task_files().items() if rel.endswith(".py")}
        for rel, text in sources.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(text, encoding="utf-8")
        upstream.format_python(folder)
        return {rel: (folder / rel).read_text(encoding="utf-8") for rel in sorted(sources)}


def counts(text: str) -> tuple[int, int]:
    """(all lines, lines neither blank nor a ``#`` comment)."""
    lines = text.splitlines()
    return len(lines), sum(1 for line in lines if line.strip() and not line.strip().startswith("#"))


def main() -> None:
    total = code = 0
    for rel, text in exported_python().items():
        n, c = counts(text)
        total, code = total + n, code + c
        print(f"{rel:24} {n:6} {c:6}")
    print(f"{'total':24} {total:6} {code:6}")


if __name__ == "__main__":
    main()
