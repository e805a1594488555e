"""How the answer parser's time grows with the answer's length.

A linear parser takes about 4x the time for 4x the text.  Each shape repeats a fragment that makes
one of the parser's steps work hard (letter runs with separators, declarations, number words,
unclosed tags, label lines, a run of spaces between a few words) up to 1, 4, 16 and 64 KB, for
every answer format, and the official
think rule (``score --think``) on a repeated unclosed ``<answer>`` up to 128 KB; the figure is the
median CPU time of ``--repeat`` calls (CPU time, so other processes on a shared machine do not
count).

Run: ``python benchmarks/parser.py [--repeat 5]``
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time

from lmms_humansense.answers import parse
from lmms_humansense.scoring import official_think_score

OPTIONS = ["A. happy", "B. sad", "C. angry", "D. calm"]
SHAPES = {
    "letter runs `A and `": "A and ",
    "declarations `the answer is A. `": "the answer is A. ",
    "number words `one `": "one ",
    "digits `1 `": "1 ",
    "unclosed `<think>`": "<think>",
    "label lines `A.\\n`": "A.\n",
    "negated letters `not A `": "not A ",
    "prose `The woman looks happy. `": "The woman looks happy. ",
    "exclusions `rules out A and C `": "rules out A and C ",
    "sentences `B would be rude. `": "B would be rude. ",
    # (head, fragment, tail): a run of spaces between a few words
    "spaces `A` … `xy`": ("A", " ", "xy"),
    "spaces `all` … `x`": ("all", " ", "x"),
    "spaces `yes no A` … `x`": ("yes no A", " ", "x"),
}
SIZES_KB = (1, 4, 16, 64)
FORMATS = ("single", "multi", "numeric")


def cpu_ms(text: str, answer_format: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.process_time()
        parse(text, answer_format, OPTIONS)
        times.append(time.process_time() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"Python {platform.python_version()} on {platform.machine()}; median of {args.repeat}, CPU ms")
    print("| shape | " + " | ".join(f"{kb} KB" for kb in SIZES_KB) + " | 64 KB / 16 KB |")
    print("|---|" + "---:|" * (len(SIZES_KB) + 1))
    for name, fragment in SHAPES.items():
        row = []
        head, fragment, tail = fragment if isinstance(fragment, tuple) else ("", fragment, "")
        for kb in SIZES_KB:
            text = head + fragment * (kb * 1024 // len(fragment)) + tail
            row.append(max(cpu_ms(text, f, args.repeat) for f in FORMATS))  # the slowest format
        print(f"| {name} | " + " | ".join(f"{ms:.1f}" for ms in row) + f" | {row[-1] / max(row[-2], 1e-9):.1f}x |")
    print("\n`score --think` (score_think.py's rule), a repeated unclosed `<answer>`, CPU ms:")
    for kb in (16, 64, 128):
        text = "<answer>" * (kb * 1024 // len("<answer>"))
        times = []
        for _ in range(args.repeat):
            start = time.process_time()
            for f in FORMATS:
                official_think_score(text, f, OPTIONS, "A")
            times.append(time.process_time() - start)
        print(f"| {kb} KB | {statistics.median(times) * 1000:.1f} |")
    short = max(cpu_ms("B", f, 200) for f in FORMATS)
    print(f"\na one-letter answer: {short * 1000:.0f} µs", file=sys.stdout)


if __name__ == "__main__":
    main()
