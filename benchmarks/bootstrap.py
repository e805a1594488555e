"""How long ``report RUN_A RUN_B --paired`` spends on its statistics over the full benchmark.

Two synthetic runs over the paper's 3,882 questions (its per-task counts), 1 to 6 questions per
clip (3.5 on average, as HumanSense asks several questions about one clip), scores 0/1 drawn with a
per-clip difficulty shared by both runs (so the pairing matters), B a few points better than A.
Timed: :func:`lmms_humansense.report.paired.compare` (matching, clustered standard errors and the
MOVER interval of every task and summary row; the file keeps its old name), as CPU time (other
processes on a shared machine do not count), the median of ``--repeat`` calls.

Run: ``python benchmarks/bootstrap.py [--repeat 5]``
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time

import numpy as np

from lmms_humansense.catalog import TASKS
from lmms_humansense.report.paired import Samples, compare


def synthetic_runs(seed: int = 0) -> tuple[Samples, Samples]:
    rng = np.random.default_rng(seed)
    a: dict[tuple[str, str], tuple[str, float | None]] = {}
    b: dict[tuple[str, str], tuple[str, float | None]] = {}
    for t in TASKS:
        done, clip = 0, 0
        while done < t.paper_count:
            size = min(int(rng.integers(1, 7)), t.paper_count - done)
            ease = rng.uniform(0.1, 0.9)
            for _ in range(size):
                key = (t.code, f"{t.code}-{done:05d}")
                name = f"videos/{t.code.lower()}_{clip:04d}.mp4"
                a[key] = (name, float(rng.random() < ease))
                b[key] = (name, float(rng.random() < min(1.0, ease + 0.05)))
                done += 1
            clip += 1
    return Samples("A", "default", "A", a), Samples("B", "default", "B", b)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    a, b = synthetic_runs()
    clips = len({clip for clip, _ in a.scores.values()})
    times = []
    for _ in range(args.repeat):
        start = time.process_time()
        paired = compare(a, b)
        times.append(time.process_time() - start)
    overall = paired["summary"]["overall"]
    print(f"Python {platform.python_version()} on {platform.machine()}, {sys.platform}")
    print(f"{len(a.scores):,} questions over {clips:,} clips, two runs")
    print(
        f"compare(): median {statistics.median(times):.3f} s CPU (min {min(times):.3f}, max {max(times):.3f}) "
        f"over {args.repeat} calls"
    )
    print(
        f"overall B - A = {overall['diff']:+.4f}, 95 % interval [{overall['ci'][0]:+.4f}, {overall['ci'][1]:+.4f}], "
        f"{overall['verdict']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
