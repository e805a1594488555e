"""`lmms-humansense prepare` as a user runs it: the cache it fills is the one the hooks read."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import humansense_cli
from fixture_data import write_video


def test_prepare_fills_the_cache_the_hooks_read_once(
    root_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proc = humansense_cli(tmp_path, "prepare", "--workers", "2", HUMANSENSE_ROOT=str(root_copy))
    assert proc.returncode == 0, proc.stderr
    # 5 speech video tasks and the 2 audio-file tasks, one clip each in the generated root
    assert "7 clips with sound" in proc.stderr and "7 decoded, 0 already cached" in proc.stderr

    monkeypatch.setenv("HUMANSENSE_CACHE", str(tmp_path / "humansense_cache"))
    import soundfile as sf

    from lmms_humansense.media import SAMPLE_RATE, cached_audio_path

    for name in ("videos/tr_000.mp4", "videos/es_000.mp4", "audios/pc_000.wav"):
        wav = cached_audio_path(root_copy / name)
        assert wav.is_file(), name
        assert sf.info(str(wav)).samplerate == SAMPLE_RATE and sf.info(str(wav)).channels == 1
    assert not cached_audio_path(root_copy / "videos/ar_000.mp4").exists(), "video-only tasks get no sound"

    again = humansense_cli(tmp_path, "prepare", HUMANSENSE_ROOT=str(root_copy))
    assert again.returncode == 0 and "0 decoded, 7 already cached" in again.stderr


def test_prepare_names_speech_videos_without_audio(root_copy: Path, tmp_path: Path) -> None:
    write_video(root_copy / "videos" / "rr1_000.mp4", audio=False)
    proc = humansense_cli(tmp_path, "prepare", "--root", str(root_copy))
    assert proc.returncode == 1
    assert f"no audio track: {root_copy / 'videos' / 'rr1_000.mp4'} (tasks RR1)" in proc.stderr
    assert "6 decoded" in proc.stderr


def test_prepare_without_a_root_says_where_data_lives(tmp_path: Path) -> None:
    proc = humansense_cli(tmp_path, "prepare")
    assert proc.returncode == 2 and "HUMANSENSE_ROOT" in proc.stderr and "Traceback" not in proc.stderr


def test_prepare_after_verify_does_not_decode_the_audio_files_again(root_copy: Path, tmp_path: Path) -> None:
    """verify decodes the FR2/PC audio files whole, as the run will, into the cache prepare fills."""
    checked = humansense_cli(tmp_path, "verify", "--workers", "1", "--no-progress", HUMANSENSE_ROOT=str(root_copy))
    assert (
        "15 problem(s): per-task counts" in checked.stdout and "FAILED: 15 problem(s)" in checked.stdout
    )  # a small root
    proc = humansense_cli(tmp_path, "prepare", "--workers", "1", HUMANSENSE_ROOT=str(root_copy))
    assert proc.returncode == 0 and "5 decoded, 2 already cached" in proc.stderr  # FR2 and PC's files
