"""Decoding sound as the official runner hears it, and the cache that keeps it."""

from __future__ import annotations

from pathlib import Path

import pytest


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


def _clip(kind: str, folder: Path) -> Path:
    """Generated clips covering each decoding path: AAC in an mp4 (planar float, mono and stereo,
    resampled), 16-bit PCM (converted to float first), and sound already at 16 kHz."""
    import numpy as np
    import soundfile as sf
    from fixture_data import write_multitrack_video, write_video

    path = folder / kind
    if kind == "2s-mono-aac.mp4":
        return write_video(path, seconds=2.0)
    if kind == "300s-stereo-aac.mp4":
        return write_multitrack_video(path, [("stereo", 0.3, True)], seconds=300.0, fps=1)
    noise = np.random.default_rng(len(kind)).standard_normal((48_000 * 30, 2)) * 0.2
    if kind == "30s-stereo-pcm48k.wav":
        sf.write(str(path), noise, 48_000, subtype="PCM_16")
    else:  # "5s-mono-float16k.wav"
        sf.write(str(path), noise[: 16_000 * 5, 0].astype(np.float32), 16_000, subtype="FLOAT")
    return path


@pytest.mark.parametrize(
    "kind", ["2s-mono-aac.mp4", "5s-mono-float16k.wav", "30s-stereo-pcm48k.wav", "300s-stereo-aac.mp4"]
)
def test_the_model_hears_the_same_samples_as_before_the_single_audio_path(kind: str, tmp_path: Path) -> None:
    """The decoding before it was made one path (tests/media_before.py: the module as it was)
    and the one path now give sample-equal sound, cached or not."""
    import media_before
    import numpy as np
    import soundfile as sf

    from lmms_humansense.media import decode_audio, load_cached_audio

    clip = _clip(kind, tmp_path)
    before_wav = tmp_path / "before.wav"
    media_before._decode_to_wav(str(clip), str(before_wav))
    before, rate = sf.read(str(before_wav), dtype="float32")
    assert rate == 16_000 and before.size
    assert np.array_equal(load_cached_audio(clip), before)
    assert np.array_equal(decode_audio(clip), before)


@pytest.mark.parametrize("fps", [1, 2, 8])
def test_a_silent_copy_keeps_every_frame_at_any_frame_rate(
    fps: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy a question without sound gets is a remux: for a 12 s clip at 1 or 2 fps PyAV 15 opened an x264
    encoder for the copied stream (``avcodec_open2(libx264)`` failed) unless the codec data is copied
    as it is (``opaque=True``)."""
    import av
    from fixture_data import write_multitrack_video

    from lmms_humansense import media

    monkeypatch.setenv("HUMANSENSE_CACHE", str(tmp_path / "cache"))
    clip = write_multitrack_video(tmp_path / "clip.mp4", [("stereo", 0.3, True)], seconds=12.0, fps=fps)
    copy = media.silent_video(clip)
    assert copy != str(clip) and not media.probe_video(copy).has_audio

    def frames(path: str | Path) -> list[bytes]:
        with av.open(str(path)) as container:
            return [f.to_ndarray().tobytes() for f in container.decode(video=0)]

    assert frames(copy) == frames(clip) and len(frames(clip)) == 12 * fps
