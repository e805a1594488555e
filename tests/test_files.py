"""Shared files: written whole or not at all, and built once when several processes need them at once."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pytest

from lmms_humansense.files import atomic_target, create_once, write_text_atomically


def _build(args: tuple[str, str]) -> str:
    target, log = args

    def write(tmp: str) -> None:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()}\n")
        time.sleep(0.3)  # long enough for the others to arrive while it writes
        Path(tmp).write_text("whole", encoding="utf-8")

    return str(create_once(Path(target), write))


def test_create_once_builds_a_file_once_for_several_processes(tmp_path: Path) -> None:
    target, log = tmp_path / "cache" / "entry.bin", tmp_path / "writes.log"
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        out = pool.map(_build, [(str(target), str(log))] * 3)
    assert out == [str(target)] * 3 and target.read_text() == "whole"
    assert len(log.read_text().splitlines()) == 1  # one writer; the others waited and found it
    assert not [p for p in target.parent.iterdir() if p.name not in {"entry.bin", "entry.bin.lock"}]


def test_a_failed_write_leaves_neither_the_file_nor_its_temporary(tmp_path: Path) -> None:
    target = tmp_path / "entry.wav"

    def broken(tmp: str) -> None:
        Path(tmp).write_text("half", encoding="utf-8")
        raise RuntimeError("decoder crashed")

    with pytest.raises(RuntimeError, match="decoder crashed"):
        create_once(target, broken)
    assert [p.name for p in tmp_path.iterdir()] == ["entry.wav.lock"]


def test_an_entry_that_is_not_ready_is_built_again(tmp_path: Path) -> None:
    target = tmp_path / "entry.txt"
    write_text_atomically(target, "damaged")
    create_once(target, lambda tmp: Path(tmp).write_text("whole"), ready=lambda p: p.read_text() == "whole")
    assert target.read_text() == "whole"


def test_atomic_files_get_the_mode_a_plain_open_gives(tmp_path: Path) -> None:
    with atomic_target(tmp_path / "a.txt") as tmp:
        Path(tmp).write_text("x")
    plain = tmp_path / "b.txt"
    plain.write_text("x")
    assert (tmp_path / "a.txt").stat().st_mode == plain.stat().st_mode
