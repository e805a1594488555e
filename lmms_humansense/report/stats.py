"""Intervals for HumanSense numbers.

HumanSense asks several questions about one clip, so questions are not independent, and tasks are
small enough (3 questions on a subset, 100-360 in full) that a normal interval ``value ± 1.96 se``
fails: it has width 0 whenever all answers agree and covers the truth far less than 95 % of the
time near 0 and 1.  The methods here are the ones made for a clustered mean of scores in [0, 1]
(docs/statistics.md says why and shows their coverage, measured by ``benchmarks/coverage.py``):

* a task: the Korn-Graubard interval, a Clopper-Pearson interval on the effective sample size
  ``n / deff``, the design effect ``deff`` read off the clip-clustered standard error (never
  below 1, and a single clip counts as one question's worth of evidence);
* a macro mean over tasks (levels, overall, the paper Avg): the same interval on the macro mean's
  effective sample size, its variance the sum of the tasks' (each at least that of its own
  interval's binomial counterpart, so a task whose answers all agree still adds its uncertainty);
* a paired difference B − A: Zou and Donner's MOVER interval, built from the two runs' own
  intervals above and the correlation of their means (from the clustered variances of each run and
  of the per-question differences); "N/A, too few clips" with fewer than two clips in a task.

Everything takes numpy arrays as well as numbers, so the coverage simulation runs the very
functions the report uses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as _dist

#: Two-sided 95 % normal quantile.
Z95 = 1.959963984540054
ALPHA = 0.05
#: A paired difference needs at least this many clips in a task for an interval.
MIN_CLIPS = 2
REPLICATES = 2000
SEED = 20250814  # fixed, so a bootstrap check is reproducible
#: What an interval is when it cannot honestly be given.
TOO_FEW_CLIPS = "N/A, too few clips"


def clopper_pearson(x: Any, n: Any, alpha: float = ALPHA) -> tuple[np.ndarray, np.ndarray]:
    """The exact binomial interval for ``x`` successes of ``n`` (both may be fractional, as an
    effective count is): beta quantiles, 0 and 1 at the edges."""
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(x <= 0, 0.0, _dist.beta.ppf(alpha / 2, np.maximum(x, 1e-12), n - x + 1))
        high = np.where(x >= n, 1.0, _dist.beta.ppf(1 - alpha / 2, x + 1, np.maximum(n - x, 1e-12)))
    return np.nan_to_num(low, nan=0.0), np.nan_to_num(high, nan=1.0)


def effective_n(value: Any, se: Any, n: Any, clips: Any = None) -> np.ndarray:
    """``n / deff``: how many independent questions the clustered sample is worth.

    ``deff = se² / (p (1 - p) / n)`` from the clustered standard error, never below 1 (a design
    effect under 1 is estimation noise; trusting it would narrow the interval below the binomial
    one).  Where it cannot be read (all answers agree: ``se`` is 0 and so is ``p (1 - p)``) each
    clip counts as one question (at face value when the clips are not known); ``se`` NaN (fewer than two clips) counts as one question.  With
    the number of clips, Korn and Graubard's degrees-of-freedom correction ``(z / t_{clips-1})²``
    shrinks it further: a design effect read off a few clips is itself uncertain.
    """
    p = np.asarray(value, dtype=float)
    se = np.asarray(se, dtype=float)
    n = np.asarray(n, dtype=float)
    if clips is not None:  # the usual small-sample factor of a cluster-robust variance (CR1)
        c = np.asarray(clips, dtype=float)
        se = se * np.sqrt(np.where(c > 1, c / np.maximum(c - 1, 1), 1.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        from_se = p * (1 - p) / (se * se)
    readable = (p > 0) & (p < 1) & (se > 0)
    # All answers agree: the clustering cannot be read, so assume the worst (each clip one answer).
    agreed = n if clips is None else np.minimum(n, np.asarray(clips, dtype=float))
    out = np.where(readable, np.minimum(n, from_se), agreed)
    out = np.where(np.isnan(se), np.minimum(n, 1.0), out)
    if clips is not None:
        df = np.asarray(clips, dtype=float) - 1
        with np.errstate(invalid="ignore", divide="ignore"):
            shrink = np.where(df >= 1, (Z95 / _dist.t.ppf(1 - ALPHA / 2, np.maximum(df, 1))) ** 2, 1.0)
        out = np.where(np.isnan(se), out, np.maximum(np.minimum(out, 1.0), out * shrink))
    return out


def _se_number(se: float | str | None) -> float | None:
    """A standard error as a float (NaN for "N/A": fewer than two clips), ``None`` when unknown."""
    if isinstance(se, bool):
        return None
    if isinstance(se, (int, float)):
        return float(se)
    if isinstance(se, str) and se.strip().upper() == "N/A":
        return float("nan")
    return None


def task_interval_arrays(values: Any, ses: Any, n: Any, clips: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`task_interval` over arrays (``ses`` NaN: fewer than two clips)."""
    m = effective_n(values, ses, n, clips)
    return clopper_pearson(np.asarray(values, dtype=float) * m, m)


def task_interval(
    value: float | None, se: float | str | None, n: int | None, clips: int | None = None
) -> tuple[float, float] | None:
    """A task's 95 % interval (Korn-Graubard); ``None`` when the value, the standard error or the
    question count is unknown.  ``clips`` (when known) adds the degrees-of-freedom correction."""
    number = _se_number(se)
    if value is None or number is None or not n:
        return None
    low, high = task_interval_arrays(value, number, n, clips)
    return float(low), float(high)


def floor_variance(value: Any, se: Any, n: Any, clips: Any = None) -> np.ndarray:
    """A task mean's variance for combining tasks: the clustered one, but never below the binomial
    variance of a shrunk estimate ``(x + 1) / (n_eff + 2)`` at the effective size, so a task whose
    answers all agree (se 0) still contributes its uncertainty to a macro mean."""
    p = np.asarray(value, dtype=float)
    se = np.asarray(se, dtype=float)
    m = effective_n(p, se, n, clips)
    shrunk = (p * m + 1) / (m + 2)
    floor = shrunk * (1 - shrunk) / m
    return np.where(np.isnan(se), floor, np.maximum(np.nan_to_num(se) ** 2, floor))


def macro_interval_arrays(
    values: np.ndarray, ses: np.ndarray, ns: np.ndarray, clips: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The 95 % interval of the unweighted mean over the last axis (tasks): Clopper-Pearson on
    the macro mean's effective size ``M (1 - M) / Var(M)``, at most the questions it covers."""
    values = np.asarray(values, dtype=float)
    k = values.shape[-1]
    mean = values.mean(axis=-1)
    parts = floor_variance(values, ses, ns, clips)
    var = parts.sum(axis=-1) / (k * k)
    total = np.asarray(ns, dtype=float).sum(axis=-1)
    each = effective_n(values, ses, ns, clips).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        m = np.where((mean > 0) & (mean < 1), np.minimum(total, mean * (1 - mean) / var), each)
        if clips is not None:  # Korn-Graubard's correction, degrees of freedom by Welch-Satterthwaite
            df = parts.sum(axis=-1) ** 2 / (parts * parts / np.maximum(np.asarray(clips, float) - 1, 1)).sum(axis=-1)
            m = np.maximum(np.minimum(m, 1.0), m * (Z95 / _dist.t.ppf(1 - ALPHA / 2, np.maximum(df, 1))) ** 2)
    return clopper_pearson(mean * m, m)


def macro_interval(
    values: Sequence[float],
    ses: Sequence[float | str | None],
    ns: Sequence[int | None],
    clips: Sequence[int | None] | None = None,
) -> tuple[float, float] | None:
    """A level's, the overall's or the paper Avg's 95 % interval from its tasks' numbers; ``None``
    when a task's standard error or question count is unknown."""
    numbers = [_se_number(s) for s in ses]
    if not values or any(s is None for s in numbers) or any(not n for n in ns):
        return None
    known = clips is not None and all(c for c in clips)
    low, high = macro_interval_arrays(
        np.asarray(values), np.asarray(numbers), np.asarray(ns), np.asarray(clips) if known else None
    )
    return float(low), float(high)


def clustered_se_arrays(scores: np.ndarray, clips: np.ndarray) -> np.ndarray:
    """lmms-eval's clustered standard error (its ``clustered_stderr``) of each row of ``scores``
    (replicates × questions), ``clips[i]`` question ``i``'s clip index; NaN with fewer than two
    clips, as :func:`lmms_humansense.scoring.clustered_se` says "N/A"."""
    scores = np.atleast_2d(np.asarray(scores, dtype=float))
    n = scores.shape[-1]
    if n < 2 or len(np.unique(clips)) < 2:
        return np.full(scores.shape[0], np.nan)
    dev = scores - scores.mean(axis=-1, keepdims=True)
    onehot = np.zeros((n, int(clips.max()) + 1))
    onehot[np.arange(n), clips] = 1.0
    squares = (dev * dev).sum(axis=-1)
    cross = ((dev @ onehot) ** 2).sum(axis=-1) - squares
    return np.sqrt(np.maximum(squares / (n - 1) / n + cross / (n * n), 0.0))


@dataclass(frozen=True)
class Difference:
    """B − A on one task or a macro mean of tasks, with its 95 % interval (``None``: too few clips)."""

    a: float
    b: float
    ci: tuple[float, float] | None

    @property
    def diff(self) -> float:
        return self.b - self.a

    @property
    def verdict(self) -> str:
        if self.ci is None:
            return TOO_FEW_CLIPS
        if self.ci[0] > 0:
            return "B ahead"
        if self.ci[1] < 0:
            return "A ahead"
        return "no difference shown"


def mover(pa: Any, la: Any, ua: Any, pb: Any, lb: Any, ub: Any, r: Any) -> tuple[np.ndarray, np.ndarray]:
    """Zou and Donner's MOVER interval of ``pb − pa`` from each run's own interval and the
    correlation ``r`` of the two estimates: it inherits the runs' intervals' asymmetry near 0 and
    1, where a symmetric interval of the difference undercovers."""
    pa, la, ua, pb, lb, ub, r = (np.asarray(v, dtype=float) for v in (pa, la, ua, pb, lb, ub, r))
    d = pb - pa
    low = d - np.sqrt(np.maximum((pb - lb) ** 2 + (ua - pa) ** 2 - 2 * r * (pb - lb) * (ua - pa), 0.0))
    high = d + np.sqrt(np.maximum((ub - pb) ** 2 + (pa - la) ** 2 - 2 * r * (ub - pb) * (pa - la), 0.0))
    return np.maximum(low, -1.0), np.minimum(high, 1.0)


def _correlation(var_a: Any, var_b: Any, var_d: Any) -> np.ndarray:
    """The correlation of two means from their variances and their difference's."""
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (var_a + var_b - var_d) / (2 * np.sqrt(var_a * var_b))
    return np.clip(np.nan_to_num(r, nan=0.0, posinf=0.0, neginf=0.0), -1.0, 1.0)


@dataclass(frozen=True)
class PairedTask:
    """One task's two runs over the same questions, as arrays over replicates (the report has one):
    the means, clustered standard errors of each and of the difference, questions and clips."""

    a: np.ndarray
    b: np.ndarray
    se_a: np.ndarray
    se_b: np.ndarray
    se_d: np.ndarray
    n: int
    clips: int

    @classmethod
    def from_arrays(cls, a: Any, b: Any, clips: np.ndarray) -> PairedTask:
        a, b = np.atleast_2d(np.asarray(a, dtype=float)), np.atleast_2d(np.asarray(b, dtype=float))
        c, n = len(np.unique(clips)), a.shape[-1]
        # The difference's variance never below that of ``q / n``, ``q`` the shrunk share of
        # questions where the runs differ: a few clips on which the runs happen to agree must not
        # read as a correlation of 1 (an interval of width 0).
        disagree = (np.abs(b - a).sum(axis=-1) + 1) / (n + 2)
        se_d = np.fmax(clustered_se_arrays(b - a, clips) * np.sqrt(c / max(c - 1, 1)), np.sqrt(disagree / n))
        return cls(
            a.mean(axis=-1), b.mean(axis=-1), clustered_se_arrays(a, clips), clustered_se_arrays(b, clips), se_d, n, c
        )

    @classmethod
    def from_scores(cls, a: Sequence[float], b: Sequence[float], clips: Sequence[str]) -> PairedTask:
        _, index = np.unique(np.asarray(clips, dtype=object).astype(str), return_inverse=True)
        return cls.from_arrays(a, b, index)


def paired_task_interval(t: PairedTask) -> tuple[np.ndarray, np.ndarray] | None:
    """B − A's 95 % interval on one task (MOVER over the runs' Korn-Graubard intervals); ``None``
    with fewer than :data:`MIN_CLIPS` clips, where no interval is honest."""
    if t.clips < MIN_CLIPS:
        return None
    la, ua = task_interval_arrays(t.a, t.se_a, t.n, t.clips)
    lb, ub = task_interval_arrays(t.b, t.se_b, t.n, t.clips)
    r = _correlation(t.se_a**2, t.se_b**2, t.se_d**2)
    return mover(t.a, la, ua, t.b, lb, ub, r)


def paired_macro_interval(parts: Sequence[PairedTask]) -> tuple[np.ndarray, np.ndarray] | None:
    """B − A's 95 % interval on a macro mean of tasks: MOVER over the runs' macro intervals, the
    correlation from the summed task variances (tasks hold different clips, so they add)."""
    if not parts or any(t.clips < MIN_CLIPS for t in parts):
        return None
    stack = {f: np.stack([getattr(t, f) for t in parts], axis=-1) for f in ("a", "b", "se_a", "se_b", "se_d")}
    ns = np.array([t.n for t in parts])
    clips = np.array([t.clips for t in parts])
    la, ua = macro_interval_arrays(stack["a"], stack["se_a"], ns, clips)
    lb, ub = macro_interval_arrays(stack["b"], stack["se_b"], ns, clips)
    r = _correlation(*((stack[f] ** 2).sum(axis=-1) for f in ("se_a", "se_b", "se_d")))
    return mover(stack["a"].mean(axis=-1), la, ua, stack["b"].mean(axis=-1), lb, ub, r)


def paired_difference(parts: Sequence[PairedTask]) -> Difference:
    """B − A on one task (one part) or a macro mean of tasks, for the report (one replicate)."""
    bounds = paired_task_interval(parts[0]) if len(parts) == 1 else paired_macro_interval(parts)
    a = float(np.mean([t.a[0] for t in parts]))
    b = float(np.mean([t.b[0] for t in parts]))
    return Difference(a, b, None if bounds is None else (float(bounds[0][0]), float(bounds[1][0])))


# The cluster bootstrap: a check on the standard errors above (tests compare them), resampling
# whole clips within each task, the same draw for every run compared.


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
