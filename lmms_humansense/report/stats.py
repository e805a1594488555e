"""Intervals for HumanSense numbers: normal intervals from standard errors, and the cluster
bootstrap behind paired comparisons.

HumanSense asks several questions about one clip, so questions are not independent; every
resampling here draws whole clips, within each task (tasks hold different clips), and summaries
are macro means over tasks, as in results.json.  Runs compared together are resampled with the
same draws (paired), so what two runs have in common cancels out of their difference.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

#: Two-sided 95 % normal quantile.
Z95 = 1.959963984540054
REPLICATES = 2000
SEED = 20250814  # fixed, so a report is reproducible


def interval(value: float | None, se: float | str | None) -> tuple[float, float] | None:
    """The 95 % normal interval ``value ± 1.96 se`` of an accuracy, cut to [0, 1] (where an
    accuracy lives); ``None`` when either is unknown."""
    if value is None or not isinstance(se, (int, float)) or isinstance(se, bool) or se != se:
        return None
    return (max(0.0, value - Z95 * se), min(1.0, value + Z95 * se))


@dataclass(frozen=True)
class TaskClips:
    """One task's questions, summed per clip: ``sums[r, c]`` is run ``r``'s total score on clip
    ``c``, ``counts[c]`` the number of questions of clip ``c`` (the same for every run)."""

    sums: np.ndarray
    counts: np.ndarray

    @classmethod
    def from_scores(cls, clips: Sequence[str], scores: Sequence[Sequence[float]]) -> TaskClips:
        """``clips[i]`` is question ``i``'s clip, ``scores[r][i]`` run ``r``'s score on it."""
        names, index = np.unique(np.asarray(clips, dtype=object).astype(str), return_inverse=True)
        table = np.asarray(scores, dtype=float)
        sums = np.zeros((table.shape[0], len(names)))
        for r in range(table.shape[0]):
            np.add.at(sums[r], index, table[r])
        return cls(sums, np.bincount(index, minlength=len(names)).astype(float))


def bootstrap_task_means(
    tasks: Mapping[str, TaskClips], replicates: int = REPLICATES, seed: int = SEED
) -> dict[str, np.ndarray]:
    """Replicate means per task: code -> array (replicates, runs), clips resampled with
    replacement within each task, the same draw for every run."""
    rng = np.random.default_rng(seed)
    out = {}
    for code in sorted(tasks):
        clips = tasks[code]
        c = len(clips.counts)
        weights = rng.multinomial(c, np.full(c, 1.0 / c), size=replicates).astype(float)
        questions = weights @ clips.counts
        out[code] = (weights @ clips.sums.T) / questions[:, None]
    return out


def macro_replicates(means: Mapping[str, np.ndarray], codes: Sequence[str]) -> np.ndarray | None:
    """Replicates of the macro mean over ``codes`` (those present); ``None`` when none is."""
    present = [means[c] for c in codes if c in means]
    return np.mean(present, axis=0) if present else None


def bootstrap_se(replicates: np.ndarray) -> float:
    return float(np.std(replicates, ddof=1))


def percentile_interval(replicates: np.ndarray) -> tuple[float, float]:
    low, high = np.percentile(replicates, [2.5, 97.5])
    return float(low), float(high)
