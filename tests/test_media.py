"""Decoding sound as the official runner hears it, and the cache that keeps it."""

from __future__ import annotations

from pathlib import Path


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
