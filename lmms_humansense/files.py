"""Files that other processes (a run's ranks) may read or write at once: written under a temporary name renamed
onto the target, so a reader finds the old file or the whole new one; :func:`create_once` builds one once."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_target(target: Path, suffix: str = ".tmp") -> Iterator[str]:
    """A temporary path beside ``target``, renamed onto it when the block ends, removed if it raises."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=suffix)
    os.close(fd)
    try:
        yield tmp
        mask = os.umask(0)  # the mode a plain open() gives: mkstemp's 0600 would shut out a shared folder's users
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text_atomically(target: Path, text: str) -> None:
    with atomic_target(target) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")


def create_once(
    target: Path, write: Callable[[str], object], ready: Callable[[Path], bool] = Path.is_file, suffix: str = ".tmp"
) -> Path:
    """``target``, made by ``write(temporary path)`` unless ``ready``, under ``<target>.lock``: the others wait."""
    from filelock import FileLock

    if not ready(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(f"{target}.lock"):
            if not ready(target):
                with atomic_target(target, suffix) as tmp:
                    write(tmp)
    return target
