"""Preparing the next items of a run while the current one is answered (a bounded queue).

A model that decodes frames and builds processor inputs in the same loop in which it generates
leaves the accelerator idle for the decoding time of every question.  :func:`prepared` moves the
preparation to one background thread that works at most ``depth`` items ahead of the consumer,
so memory stays bounded (``depth`` prepared items plus the one being answered) and the order is
the input order.  An item whose preparation fails is handed over as its exception, in its place,
so the consumer raises it when that item's turn comes (errors still name their question) and the
items before it are answered first.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: How long the consumer waits on one item before checking that the worker is still alive.
_POLL_SECONDS = 1.0


def prepared(items: Sequence[T], prepare: Callable[[T], R], depth: int) -> Iterator[tuple[T, R | BaseException]]:
    """``(item, prepare(item))`` in input order; a failed preparation yields its exception instead.

    ``depth`` 0 prepares each item only when it is asked for (no thread); ``depth`` N >= 1 keeps
    up to N prepared items waiting.  Closing the iterator early (the consumer raised) stops the
    worker after the item it is on.
    """
    if depth <= 0:
        for item in items:
            yield item, _attempt(prepare, item)
        return
    ready: queue.Queue[tuple[T, R | BaseException]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        for item in items:
            outcome = _attempt(prepare, item)
            while not stop.is_set():
                try:
                    ready.put((item, outcome), timeout=_POLL_SECONDS)
                    break
                except queue.Full:
                    continue
            if stop.is_set():
                return

    worker = threading.Thread(target=work, name="humansense-prepare", daemon=True)
    worker.start()
    try:
        for _ in range(len(items)):
            while True:
                try:
                    yield ready.get(timeout=_POLL_SECONDS)
                    break
                except queue.Empty:
                    if not worker.is_alive() and ready.empty():
                        raise RuntimeError("the preparing thread stopped before handing over every item") from None
    finally:
        stop.set()
        worker.join(timeout=30)


def _attempt(prepare: Callable[[T], R], item: T) -> R | BaseException:
    try:
        return prepare(item)
    except Exception as exc:  # noqa: BLE001 - handed to the consumer, raised at the item's turn
        return exc
