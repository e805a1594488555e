"""Writing files that other processes (the ranks of a run) may read, or write, at the same moment:
under a temporary name renamed onto the target, so a reader finds the old file or the whole new
one; :func:`create_once` adds a lock, so N processes build a file once.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def _file_mode() -> int:
    """The mode a plain ``open()`` would give: temporary files are 0600, shared folders need more."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextmanager
def atomic_target(target: Path, suffix: str = ".tmp") -> Iterator[str]:
    """A temporary path beside ``target``, renamed onto it when the block ends, removed if it raises."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=suffix)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, _file_mode())
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
    """``target``, made by ``write(temporary path)`` unless ``ready(target)``, under a lock beside it
    (``<target>.lock``): the other processes and threads wait, then find it ready."""
    from filelock import FileLock

    if ready(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{target}.lock"):
        if not ready(target):
            with atomic_target(target, suffix) as tmp:
                write(tmp)
    return target
