"""Coverage of the report's 95 % intervals, by simulation: how often they contain the truth.

Questions are clustered by clip (1 question per clip, 1-3, or 1-6 with a strong clip effect),
scores drawn from a probit model whose true accuracy is known exactly: a question is answered
correctly when ``mu + clip + question + noise > 0`` (clip ~ N(0, s_c²), question ~ N(0, 0.5²),
noise ~ N(0, 1)), ``mu`` set so that the marginal accuracy is the target.  Each configuration is
drawn ``--replicates`` times and run through the very functions the report uses
(:mod:`lmms_humansense.report.stats`):

* tasks: true accuracy 0.05, 0.15, ..., 0.95 × 3 to 360 questions × three clusterings;
* levels, overall and the paper Avg: 15 tasks of one size, accuracies spread, all low, all high;
* paired B − A: two runs sharing the clip and question effects (so they agree more than chance),
  B 0, 10 or 30 points above A, over the same grid; and two seeds of one chance model
  (independent 1-in-4 guesses): the share of tasks and levels whose interval contains 0.

The figure's own error is ``sqrt(c (1 - c) / R)``: 0.49 points at c = 95 % with R = 2,000.

Run: ``python benchmarks/coverage.py [--replicates 2000] [--parts tasks,macro,paired]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.stats import norm

from lmms_humansense.catalog import TASKS
from lmms_humansense.report.stats import (
    Z95,
    PairedTask,
    clustered_se_arrays,
    macro_interval_arrays,
    paired_macro_interval,
    paired_task_interval,
    task_interval_arrays,
)
from lmms_humansense.report.summary import SUMMARY_KEYS, summary_codes

ACCURACIES = tuple(round(0.05 + 0.1 * i, 2) for i in range(10))
SIZES = (3, 5, 10, 20, 50, 100, 200, 360)
#: (largest clip, clip effect's sd): independent questions, light clustering, strong clustering.
CLUSTERINGS = ((1, 0.0), (3, 1.0), (6, 2.0))
QUESTION_SD = 0.5
CODES = [t.code for t in TASKS]


def clip_index(n: int, largest: int, rng: np.random.Generator) -> np.ndarray:
    """Question -> clip index, clips of 1..largest questions."""
    sizes = []
    while sum(sizes) < n:
        sizes.append(int(rng.integers(1, largest + 1)))
    return np.repeat(np.arange(len(sizes)), sizes)[:n]


def draw(
    accuracies: list[float], clips: np.ndarray, clip_sd: float, reps: int, rng: np.random.Generator, shared: bool = True
) -> list[np.ndarray]:
    """One (reps × questions) 0/1 score table per accuracy, the runs sharing clip and question effects."""
    n = len(clips)
    total_sd = np.sqrt(1 + clip_sd**2 + QUESTION_SD**2) if shared else 1.0
    effect = 0.0
    if shared:
        effect = rng.normal(0, clip_sd, (reps, int(clips.max()) + 1))[:, clips] + rng.normal(0, QUESTION_SD, (reps, n))
    return [(norm.ppf(p) * total_sd + effect + rng.normal(0, 1, (reps, n)) > 0).astype(float) for p in accuracies]


def covered(low: np.ndarray, high: np.ndarray, truth: float | np.ndarray) -> np.ndarray:
    return (low <= truth + 1e-12) & (truth - 1e-12 <= high)


def task_coverage(reps: int, rng: np.random.Generator) -> dict[tuple[float, int, int], tuple[float, float]]:
    """(accuracy, size, clustering) -> (coverage, share of width-0 intervals)."""
    out = {}
    for ci, (largest, sd) in enumerate(CLUSTERINGS):
        for n in SIZES:
            clips = clip_index(n, largest, rng)
            for p, scores in zip(ACCURACIES, draw(list(ACCURACIES), clips, sd, reps, rng), strict=True):
                low, high = task_interval_arrays(
                    scores.mean(axis=1), clustered_se_arrays(scores, clips), n, clips.max() + 1
                )
                out[(p, n, ci)] = (float(covered(low, high, p).mean()), float((high - low <= 0).mean()))
    return out


PROFILES = {
    "spread": np.linspace(0.05, 0.95, 15)[np.random.default_rng(3).permutation(15)],
    "all 0.05": np.full(15, 0.05),
    "all 0.95": np.full(15, 0.95),
    "chance 0.25": np.full(15, 0.25),
}


def macro_coverage(reps: int, rng: np.random.Generator) -> dict[tuple[str, int, int, str], float]:
    """(profile, size, clustering, summary row) -> coverage."""
    out = {}
    for ci, (largest, sd) in enumerate(CLUSTERINGS):
        for n in SIZES:
            for name, truth in PROFILES.items():
                values, ses, counts = np.empty((reps, 15)), np.empty((reps, 15)), np.empty(15)
                for k, p in enumerate(truth):
                    clips = clip_index(n, largest, rng)
                    (scores,) = draw([p], clips, sd, reps, rng)
                    values[:, k], ses[:, k] = scores.mean(axis=1), clustered_se_arrays(scores, clips)
                    counts[k] = clips.max() + 1
                for key in SUMMARY_KEYS:
                    idx = [CODES.index(c) for c in summary_codes(key)]
                    low, high = macro_interval_arrays(values[:, idx], ses[:, idx], np.full(len(idx), n), counts[idx])
                    out[(name, n, ci, key)] = float(covered(low, high, truth[idx].mean()).mean())
    return out


def paired_coverage(reps: int, rng: np.random.Generator) -> tuple[dict, dict]:
    """Coverage of B − A per task (accuracy of A, gap, size, clustering), and per task and summary
    row for two seeds of a chance model (the share of intervals containing 0) and a spread profile."""
    tasks, rows = {}, {}
    for ci, (largest, sd) in enumerate(CLUSTERINGS):
        for n in SIZES:
            clips = clip_index(n, largest, rng)
            for gap in (0.0, 0.1, 0.3):
                for p in ACCURACIES:
                    if p + gap > 0.96:
                        continue
                    a, b = draw([p, p + gap], clips, sd, reps, rng)
                    bounds = paired_task_interval(PairedTask.from_arrays(a, b, clips))
                    if bounds is not None:
                        tasks[(p, gap, n, ci)] = float(covered(*bounds, gap).mean())
            for name, shared in (("chance, two seeds", False), ("spread, B +0.1", True)):
                truth = np.full(15, 0.25) if not shared else PROFILES["spread"] * 0.85
                gap = 0.0 if not shared else 0.1
                parts = []
                for p in truth:
                    kclips = clip_index(n, largest, rng)
                    a, b = draw([p, p + gap], kclips, sd, reps, rng, shared=shared)
                    parts.append(PairedTask.from_arrays(a, b, kclips))
                for key in SUMMARY_KEYS:
                    bounds = paired_macro_interval([parts[CODES.index(c)] for c in summary_codes(key)])
                    if bounds is not None:
                        rows[(name, n, ci, key)] = float(covered(*bounds, gap).mean())
                for code, part in zip(CODES, parts, strict=True):
                    bounds = paired_task_interval(part)
                    if bounds is not None:
                        rows[(name, n, ci, code)] = float(covered(*bounds, gap).mean())
    return tasks, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument(
        "--parts", default="tasks,macro,paired", help="comma-separated: tasks, macro, paired (default: all)"
    )
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    rng = np.random.default_rng(args.seed)
    reps = args.replicates
    start = time.process_time()
    error = 100 * np.sqrt(0.95 * 0.05 / reps)
    print(f"replicates {reps:,}; a coverage figure's own standard error at 95 %: {error:.2f} points (z {Z95:.2f})")

    if "tasks" in parts:
        _print_tasks(task_coverage(reps, rng))
    if "macro" in parts:
        _print_macro(macro_coverage(reps, rng))
    if "paired" in parts:
        _print_paired(*paired_coverage(reps, rng))
    print(f"\nCPU time {time.process_time() - start:.0f} s")


def _print_tasks(tasks: dict) -> None:
    print("\nTasks: coverage, the lowest over the three clusterings (% ; width-0 intervals: none unless said)")
    print("accuracy " + " ".join(f"{n:>6}" for n in SIZES))
    for p in ACCURACIES:
        cells = [min(tasks[(p, n, c)][0] for c in range(len(CLUSTERINGS))) for n in SIZES]
        print(f"{p:>8.2f} " + " ".join(f"{100 * c:>6.1f}" for c in cells))
    zero = max(v[1] for v in tasks.values())
    print(f"lowest task coverage {100 * min(v[0] for v in tasks.values()):.1f} %; largest share of width 0: {zero:.3f}")


def _print_macro(macro: dict) -> None:
    print("\nLevels, overall, paper Avg: the lowest coverage over profiles, sizes and clusterings (%)")
    for key in SUMMARY_KEYS:
        worst = min((v, k) for k, v in macro.items() if k[3] == key)
        print(f"{key:>10}: {100 * worst[0]:.1f}  (at {worst[1][0]}, {worst[1][1]} questions per task)")


def _print_paired(paired_tasks: dict, paired_rows: dict) -> None:
    print(f"\nPaired B − A, tasks: lowest coverage {100 * min(paired_tasks.values()):.1f} %", end="")
    print(f" over {len(paired_tasks)} configurations with an interval (the lowest over accuracies and clusterings)")
    print("size      " + " ".join(f"{n:>6}" for n in SIZES))
    for gap in (0.0, 0.1, 0.3):
        cells = [min(v for k, v in paired_tasks.items() if k[1] == gap and k[2] == n) for n in SIZES]
        print(f"gap {gap:<5} " + " ".join(f"{100 * c:>6.1f}" for c in cells))
    for name in ("chance, two seeds", "spread, B +0.1"):
        summary = [v for k, v in paired_rows.items() if k[0] == name and k[3] in SUMMARY_KEYS]
        task = [v for k, v in paired_rows.items() if k[0] == name and k[3] not in SUMMARY_KEYS]
        print(f"paired {name}: lowest coverage, tasks {100 * min(task):.1f} %, summary rows {100 * min(summary):.1f} %")
    chance = [v for k, v in paired_rows.items() if k[0] == "chance, two seeds"]
    print(
        f"two seeds of one chance model: intervals containing 0, mean over tasks and levels {100 * np.mean(chance):.1f} %"
    )


if __name__ == "__main__":
    main()
