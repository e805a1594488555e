"""The benchmark's clips, probed and checked, their sound decoded once into a cached WAV; errors name file and fix."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from lmms_humansense.data.root import cache_home, tool
from lmms_humansense.files import create_once, write_text_atomically

SAMPLE_RATE = 16_000
AUDIO_CACHE_VERSION = 3  # in every cached WAV's name: bump it when decoding or format change (3: soundfile)


class MediaError(RuntimeError):
    """A media file that cannot serve its question; the message names the file and the fix."""


class NoAudioTrackError(MediaError):
    """The file opens but holds no audio stream: ``prepare`` and ``verify`` count these apart."""


class CacheError(MediaError):
    """The cache folder cannot be written: the question gets no media, but the file is not at fault."""


class UnopenableMediaError(MediaError):
    """Media found unusable while the tasks load: the run stops before any question, as for a missing file."""


@dataclass(frozen=True)
class VideoInfo:
    path: str
    frames: int
    fps: float
    duration: float
    has_audio: bool


def replace_from_archive(what: str) -> str:
    return (
        f"Fix: replace {what} with a good copy from the benchmark's archive (videos.zip for an .mp4, audios.zip "
        f"for a .wav; {tool('download')} --force extracts both again), then run {tool('verify')}, which lists "
        "every damaged file."
    )


def _damaged(p: str, problem: str) -> MediaError:
    return MediaError(f"{p}: {problem}. {replace_from_archive('it')}")


def open_media(path: str) -> Any:
    import av

    if not os.path.isfile(path):
        raise MediaError(f"{path}: file does not exist")
    if os.path.getsize(path) == 0:
        raise _damaged(path, "file is empty (0 bytes)")
    try:
        return av.open(path)
    except Exception as exc:  # PyAV raises several error types for broken containers
        raise _damaged(path, f"cannot be opened as a media container ({exc})") from None


def _cache_key(source: str | os.PathLike[str], *extra: object) -> str:
    """The source's path and version (ctime and inode too: ``cp -p`` keeps size and mtime): new file, new entries."""
    p = Path(source).resolve()
    st = p.stat()
    return hashlib.sha1(
        "|".join(map(str, (p, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, *extra))).encode()
    ).hexdigest()[:16]


@lru_cache(maxsize=8192)
def _probe(path: str, version: str) -> VideoInfo:
    with open_media(path) as container:
        if not container.streams.video:
            raise MediaError(f"{path}: has no video stream")
        stream = container.streams.video[0]
        fps, duration = float(stream.average_rate or stream.guessed_rate or 0), video_seconds(container, stream)
        return VideoInfo(
            path, int(stream.frames or round(duration * fps)), fps, duration, bool(container.streams.audio)
        )


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Container-level facts about a video (no frame decoding); cached per file version."""
    p = str(path)
    return _probe(p, _cache_key(p) if os.path.isfile(p) else "")  # no file: open_media says so


def open_problem(path: str, video: bool, audio: bool) -> str | None:
    """Why ``path`` cannot serve its questions, from its container alone (milliseconds), or ``None``."""
    try:
        with open_media(path) as container:
            if video and not container.streams.video:
                return f"{path}: has no video stream, but its task shows frames"
            if audio and audio_stream(container) is None:
                return f"{path}: has no audio track, but its task needs sound"
    except MediaError as exc:
        return str(exc)
    return None


def frames_problem(path: str) -> str | None:
    """Why not every frame of ``path`` decodes, or ``None``: a stock wrapper's reader would fail inside lmms-eval."""
    try:
        with open_media(path) as container:
            if not container.streams.video:
                return f"{path}: has no video stream, but its task shows frames"
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            last = None
            try:
                for last in container.decode(stream):  # noqa: B007 - the last frame is what is kept
                    pass
            except Exception as exc:  # PyAV raises several error types for damaged data
                raise _damaged(path, f"its frames do not decode ({exc}); the file is damaged") from None
            if last is None:
                raise _damaged(path, "no frame decodes; the file is damaged")
            check_reaches_end(path, "frames", frame_shown_until(stream, last, 0.0), video_seconds(container, stream))
    except MediaError as exc:
        return str(exc)
    return None


def _kept_verdict(
    folder: str, judge: Callable[..., str | None], path: str, *extra: object, keep_problems: bool
) -> str | None:
    """``judge(path, *extra)`` kept per file version in the cache's ``folder``, so later questions and runs read it."""
    try:
        marker = cache_home() / folder / _cache_key(path, *extra)
    except OSError:  # no file: the judge names it
        return judge(path, *extra)
    with contextlib.suppress(OSError):  # no verdict yet
        return marker.read_text(encoding="utf-8") or None  # empty: it passed
    problem = judge(path, *extra)
    if problem is None or keep_problems:
        with contextlib.suppress(OSError):  # a shortcut only: the check itself has been made
            write_text_atomically(marker, problem or "")
    return problem


def check_frames_decode(path: str) -> None:
    """Raise :class:`MediaError` when :func:`frames_problem` finds one, decided once per file version."""
    if problem := _kept_verdict("media_decodes", frames_problem, path, keep_problems=True):
        raise MediaError(problem)


def check_media_opens(questions: Iterable[tuple[str, str, bool, bool]]) -> None:
    """Raise for every (name, file, frames?, sound?) failing :func:`open_problem`, each file opened once per version."""
    questions = list(questions)
    needs: dict[str, tuple[bool, bool]] = {}
    for _, path, video, audio in questions:
        had = needs.get(path, (False, False))
        needs[path] = (had[0] or video, had[1] or audio)
    problems = {
        p: _kept_verdict("media_opens", open_problem, p, int(v), int(a), keep_problems=False)
        for p, (v, a) in needs.items()
    }
    each = " " + replace_from_archive("it")  # said once, below
    broken = [f"{name}: {problems[path].removesuffix(each)}" for name, path, *_ in questions if problems[path]]
    if broken:
        more = f"\n  ... and {len(broken) - 10} more" if len(broken) > 10 else ""
        raise UnopenableMediaError(
            f"{len(broken)} HumanSense question(s) reference media that cannot serve them:\n  "
            + "\n  ".join(broken[:10])
            + f"{more}\n{replace_from_archive('each file')}"
        )


def frame_shown_until(stream: Any, last: Any, no_pts: float) -> float:
    """When frame ``last`` stops being shown (a whole 1-frame clip ends after it), or ``no_pts`` plus its duration."""
    tb, rate = stream.time_base, stream.average_rate or stream.guessed_rate
    end = float(last.pts * tb) if last.pts is not None and tb else no_pts
    return end + (float(last.duration * tb) if last.duration and tb else (1 / float(rate) if rate else 0.0))


def video_seconds(container: Any, stream: Any) -> float:
    return (
        float(stream.duration * stream.time_base)
        if stream.duration and stream.time_base
        else (container.duration or 0) / 1_000_000
    )


def check_reaches_end(p: str, what: str, end: float, duration: float) -> None:
    """Raise when a stream stops short by over 2 s, or a quarter of a short clip: encoders end tracks frames apart."""
    if duration and end < duration - min(2.0, duration / 4):
        raise _damaged(
            p, f"decoding its {what} reaches only {end:.1f} s of {duration:.1f} s; the file is probably cut short"
        )


def check_sound_heard(p: str, container: Any, stream: Any, heard: float) -> None:
    """Whether ``heard`` seconds of sound cover the video: only the length shows a cut file or a late track."""
    duration = video_seconds(container, container.streams.video[0]) if container.streams.video else 0.0  # audio file: 0
    start = float(stream.start_time * stream.time_base) if stream.start_time and stream.time_base else 0.0
    if duration and heard < duration - min(2.0, duration / 4) and start > (duration - heard) / 2:
        late = (
            f"its sound track starts {start:.1f} s after its frames and covers only {heard:.1f} s of {duration:.1f} s"
        )
        raise _damaged(
            p,
            f"{late}, so the model would hear it shifted (re-encoding it with its sound from the start also mends it)",
        )
    check_reaches_end(p, "sound track", heard, duration)


def audio_stream(container: Any) -> Any:
    """The audio stream ffmpeg (so the official ``librosa.load``) picks, or ``None`` (``fftools/ffmpeg_mux_init.c``)."""
    from av.stream import Disposition

    rank = {
        s: (s.channels or 0) + 5_000_000 * bool(s.disposition & Disposition.default) for s in container.streams.audio
    }
    return max(rank, key=rank.__getitem__, default=None)  # the first on a tie


def decode_audio(path: str | os.PathLike[str], sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A file's sound as the official ``librosa.load`` hears it (channel mean, soxr HQ), for run, prepare and verify."""
    import av
    import soxr

    p = str(path)
    with open_media(p) as container:
        stream = audio_stream(container)
        if stream is None:
            raise NoAudioTrackError(f"{p}: has no audio track, but its task needs sound")
        rate = stream.codec_context.sample_rate or stream.rate
        to_float = av.AudioResampler(format="fltp")  # planar float, what AAC decodes to
        pieces = [np.zeros(0, dtype=np.float32)]
        try:
            for frame in container.decode(stream):
                for f in (frame,) if frame.format.name == "fltp" else to_float.resample(frame):
                    pieces.append(np.mean(f.to_ndarray(), axis=0, dtype=np.float32))
        except Exception as exc:  # PyAV raises several error types for damaged data
            raise _damaged(p, f"audio does not decode ({exc}); the file is damaged") from None
        mono = np.concatenate(pieces)
        if not np.isfinite(mono).all():  # a model handed such a sample computes garbage without an error
            raise _damaged(p, "its sound holds NaN or infinite samples, which no model can hear; the file is damaged")
        if not mono.size:
            raise _damaged(p, "audio track holds no samples, so the question has no sound to hear; the file is damaged")
        sound = mono if rate == sample_rate else soxr.resample(mono, rate, sample_rate, quality="HQ")
        check_sound_heard(p, container, stream, sound.size / sample_rate)
    return sound


def cache_dir() -> Path:
    return cache_home() / "audio16k"


def _unwritable(folder: Path, exc: OSError) -> CacheError:
    chosen = os.environ.get("HUMANSENSE_CACHE")
    where = f"HUMANSENSE_CACHE={chosen}" if chosen else "the default cache (HUMANSENSE_CACHE is not set)"
    return CacheError(
        f"cannot write to the cache folder {folder} ({exc.strerror or exc}); {where} must name a writable folder "
        "with room. Fix: set HUMANSENSE_CACHE to one, or free space there (the media files themselves are fine)"
    )


def check_cache_writable() -> Path:
    """Raise :class:`CacheError` unless the audio cache is writable, before a job meets it once per clip."""
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
        if (free := shutil.disk_usage(folder).free) < 100 * 2**20:  # a floor: the full benchmark's sound takes GBs
            raise OSError(f"{free / 2**20:.1f} MiB free, less than the 100 MiB a run needs")
    except OSError as exc:
        raise _unwritable(folder, exc) from None
    return folder


def _cached(target: Path, write: Callable[[str], object]) -> Path:
    try:  # made once, whole, so reads trust it
        return create_once(target, write, suffix=target.suffix)
    except OSError as exc:  # the cache's: bad media raise MediaError
        raise _unwritable(target.parent, exc) from None


def media_failure_marker(media: str | os.PathLike[str], *question: object) -> Path:
    """Where the hooks record that this version of ``media`` failed ``question``; ``OSError`` if it is gone."""
    return cache_home() / "media_errors" / _cache_key(media, *question)


def cached_audio_path(source: str | os.PathLike[str]) -> Path:
    p = Path(source).resolve()
    return cache_dir() / f"{p.stem}-{_cache_key(p, AUDIO_CACHE_VERSION)}.wav"


def write_wav(target: Any, sound: np.ndarray, subtype: str = "FLOAT", rate: int = SAMPLE_RATE) -> None:
    """The one WAV writer, without libsndfile's time-stamped ``PEAK`` chunk: equal sound, equal bytes."""
    import soundfile as sf

    with sf.SoundFile(target, "w", rate, 1, subtype, format="WAV") as out:
        with contextlib.suppress(AttributeError):  # no public call: without soundfile's internals the chunk stays
            sf._snd.sf_command(out._file, 0x1050, sf._ffi.NULL, 0)  # SFC_SET_ADD_PEAK_CHUNK (sndfile.h): off
        out.write(sound)


def ensure_cached_audio(source: str | os.PathLike[str]) -> Path:
    if not os.path.isfile(source):
        raise MediaError(f"{source}: file does not exist")
    return _cached(cached_audio_path(source), lambda tmp: write_wav(tmp, decode_audio(source)))


def load_cached_audio(source: str | os.PathLike[str]) -> np.ndarray:
    import soundfile as sf

    wav = ensure_cached_audio(source)
    try:
        return sf.read(str(wav), dtype="float32", always_2d=False)[0]
    except (OSError, RuntimeError) as exc:  # removed or damaged from outside since it was written
        raise MediaError(f"{wav}: the cached sound of {source} cannot be read ({exc}); delete it to rebuild") from None


def silent_video(source: str | os.PathLike[str]) -> str:
    """``source`` without its sound, for a question the protocol gives none: a cached remux, no re-encoding."""
    import av

    src = str(source)
    if not probe_video(src).has_audio:
        return src
    p = Path(src).resolve()

    def remux(tmp: str) -> None:
        with open_media(src) as inp:
            try:
                with av.open(tmp, mode="w", format=inp.format.name.split(",")[0]) as out:
                    out_stream = out.add_stream_from_template(inp.streams.video[0], opaque=True)
                    for packet in inp.demux(inp.streams.video[0]):
                        if packet.dts is not None:  # None: the demuxer's final flush packet
                            packet.stream = out_stream
                            out.mux(packet)
            except Exception as exc:
                raise _damaged(src, f"cannot copy its video stream without sound ({exc})") from None

    return str(_cached(cache_home() / "silent" / f"{p.stem}-{_cache_key(p)}{p.suffix or '.mp4'}", remux))


def placeholder_video() -> str:
    """A 2 s blank mp4 for a bad clip's place: simple wrappers give a batch's i-th visual to its i-th question."""
    import av

    def write(tmp: str) -> None:
        with av.open(tmp, mode="w", format="mp4") as out:
            stream = out.add_stream("libx264", rate=8, width=64, height=64, pix_fmt="yuv420p")
            black = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), dtype=np.uint8), format="rgb24")
            for frame in [black] * 16 + [None]:  # None: the encoder's flush
                out.mux(stream.encode(frame))

    return str(_cached(cache_home() / "placeholder" / "blank-2s-64x64.mp4", write))
