"""`lmms-humansense prepare` and `verify` as a user runs them, on generated roots with planted defects."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import bin_path, cli_env
from fixture_data import write_video

from lmms_humansense import sample_root


def _cli(tmp: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [bin_path("lmms-humansense"), *args, "--no-progress"],
        env=cli_env(tmp, **env),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_prepare_fills_the_cache_the_hooks_read_once(
    root_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proc = _cli(tmp_path, "prepare", "--workers", "2", HUMANSENSE_ROOT=str(root_copy))
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

    again = _cli(tmp_path, "prepare", HUMANSENSE_ROOT=str(root_copy))
    assert again.returncode == 0 and "0 decoded, 7 already cached" in again.stderr


def test_prepare_names_speech_videos_without_audio(root_copy: Path, tmp_path: Path) -> None:
    write_video(root_copy / "videos" / "rr1_000.mp4", audio=False)
    proc = _cli(tmp_path, "prepare", "--root", str(root_copy))
    assert proc.returncode == 1
    assert f"no audio track: {root_copy / 'videos' / 'rr1_000.mp4'} (tasks RR1)" in proc.stderr
    assert "6 decoded" in proc.stderr


def test_prepare_without_a_root_says_where_data_lives(tmp_path: Path) -> None:
    proc = _cli(tmp_path, "prepare")
    assert proc.returncode == 2 and "HUMANSENSE_ROOT" in proc.stderr and "Traceback" not in proc.stderr


def test_verify_passes_the_sample_set(tmp_path: Path) -> None:
    proc = _cli(tmp_path, "verify", "--root", str(sample_root()), "--json", str(tmp_path / "v.json"))
    assert proc.returncode == 0, proc.stdout
    assert "OK: every record can be evaluated" in proc.stdout and "SAMPLE" in proc.stdout
    report = json.loads((tmp_path / "v.json").read_text())
    assert report["ok"] and report["records"] == 45 and report["media_checked"] == 30


def _plant_defects(root: Path) -> dict[str, str]:
    """One defect of each kind; returns file -> the words its problem must carry."""
    videos, audios = root / "videos", root / "audios"
    (videos / "ac_000.mp4").unlink()
    (videos / "gr_000.mp4").write_bytes(b"")
    hc = (videos / "hc_000.mp4").read_bytes()
    (videos / "hc_000.mp4").write_bytes(hc[: len(hc) // 2])  # index at the end: does not open
    cm = write_video(videos / "cm_000.mp4", seconds=6, faststart=True, audio=False).read_bytes()
    (videos / "cm_000.mp4").write_bytes(cm[: len(cm) * 8 // 10])  # index in front: opens, the end is gone
    fr1 = write_video(videos / "fr1_000.mp4", seconds=6, faststart=True).read_bytes()
    (videos / "fr1_000.mp4").write_bytes(fr1[: len(fr1) * 9 // 10])  # frames whole, the sound's end is gone
    write_video(videos / "es_000.mp4", audio=False)
    (audios / "pc_000.wav").write_text("this is not a wav file\n")
    records = json.loads((root / "HumanSense_VQA.json").read_text())
    records[0]["questions"]["task_type"] = "Mystery_Task"
    records[2]["questions"].pop("options")
    (root / "HumanSense_VQA.json").write_text(json.dumps(records))
    return {
        "videos/ac_000.mp4": "no such file",
        "videos/gr_000.mp4": "0 bytes",
        "videos/hc_000.mp4": "cannot be opened",
        "videos/cm_000.mp4": "cut short",
        "videos/fr1_000.mp4": "sound track",
        "videos/es_000.mp4": "has no audio track",
        "audios/pc_000.wav": "cannot be opened",
    }


def test_verify_finds_and_names_every_planted_defect(root_copy: Path, tmp_path: Path) -> None:
    expected = _plant_defects(root_copy)
    out = tmp_path / "verify.json"
    proc = _cli(tmp_path, "verify", "--json", str(out), HUMANSENSE_ROOT=str(root_copy))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    assert not report["ok"]
    problems = report["problems"]
    for rel, words in expected.items():
        hits = [p for p in problems if p["path"].endswith(rel)]
        assert hits, f"{rel} not reported: {proc.stdout}"
        for p in hits:
            assert words in p["message"], p
            assert "record #" in p["record"] and " id " in p["record"]
            assert p["record"] in proc.stdout and words in proc.stdout
    kinds = report["problems_by_kind"]
    assert kinds["missing"] == 2 and kinds["no_audio"] == 2 and kinds["media"] == 10  # 2 records per clip
    assert report["unknown_task_types"] == {"Mystery_Task": {"count": 1, "suggested": None}}
    assert any(p["kind"] == "record" and "questions.options" in p["message"] for p in problems)
    assert "HumanSense_VQA.json record #2" in proc.stdout
    assert report["counts"]["AR"] == {"found": 1, "paper": 300}  # the unmapped and the broken record are not counted
    assert "FAILED" in proc.stdout


def test_verify_names_counts_that_differ_from_the_paper(root_copy: Path, tmp_path: Path) -> None:
    proc = _cli(tmp_path, "verify", "--root", str(root_copy), "--workers", "1")
    assert proc.returncode == 1
    assert "task HC (Human Counting): 2 question(s), the paper has 360" in proc.stdout


def test_the_cache_holds_what_the_official_runner_hears(tmp_path: Path) -> None:
    """The official runner reads sound with librosa.load(path, sr=16000): channel mean, soxr HQ.

    librosa reads a WAV without ffmpeg, so the comparison runs here on a stereo 44.1 kHz file.
    """
    import librosa
    import numpy as np
    import soundfile as sf

    from lmms_humansense.media import decode_audio, load_cached_audio

    t = np.arange(44_100 * 3) / 44_100
    stereo = np.stack([0.3 * np.sin(2 * np.pi * 440 * t), 0.2 * np.sin(2 * np.pi * 660 * t)], axis=1)
    path = tmp_path / "stereo.wav"
    sf.write(str(path), stereo.astype(np.float32), 44_100, subtype="FLOAT")
    official = librosa.load(str(path), sr=16_000)[0]
    ours = decode_audio(path)
    assert ours.shape == official.shape
    assert np.abs(ours - official).max() < 1e-4
    assert np.array_equal(load_cached_audio(path), ours)


def test_every_module_command_is_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    from lmms_humansense.cli import MODULE_COMMANDS, build_parser

    parser = build_parser()
    for name in MODULE_COMMANDS:
        with pytest.raises(SystemExit) as done:
            parser.parse_args([name, "--help"])
        assert done.value.code == 0
        assert f"lmms-humansense {name}" in capsys.readouterr().out
