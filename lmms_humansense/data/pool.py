"""The process pool with a progress bar that ``prepare`` and ``verify`` share."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

J = TypeVar("J")
R = TypeVar("R")


def worker_count(text: str) -> int:
    """``--workers``: a whole number >= 0 (0: one per core), else argparse's usage error (a negative
    count reached ``ProcessPoolExecutor`` and ended in its traceback)."""
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of processes; give 1 or more, or 0 for one per core"
        )
    return n


def map_with_progress(
    work: Callable[[J], R], jobs: Iterable[J], workers: int, desc: str, unit: str, progress: bool = True
) -> Iterator[R]:
    """``work`` over ``jobs`` in order, in ``workers`` processes (0: one per core; 1, or fewer than
    8 jobs: in this process, where starting a pool costs more than it saves), a bar counting them."""
    from tqdm import tqdm

    todo = list(jobs)
    workers = workers or os.cpu_count() or 1
    with tqdm(total=len(todo), unit=unit, desc=desc, disable=not progress) as bar:
        if workers == 1 or len(todo) < 8:
            results: Iterable[R] = map(work, todo)
            for result in results:
                bar.update()
                yield result
            return
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for result in pool.map(work, todo, chunksize=4):
                bar.update()
                yield result
