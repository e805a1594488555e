"""Opening the benchmark's media: probing videos, decoding sound to 16 kHz mono, caching it.

Every question on a clip needs its sound again, so it is decoded once to a float32 WAV in the cache
(keyed by the source file's version) and read back from there; chat wrappers get that WAV's path.
Every failure names the file and says what is wrong with it, never a silent empty result.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from lmms_humansense.data.root import cache_home, tool
from lmms_humansense.files import create_once, write_text_atomically

SAMPLE_RATE = 16_000


class MediaError(RuntimeError):
    """A media file that cannot serve its question; the message names the file and the fix."""


class NoAudioTrackError(MediaError):
    """The file opens but holds no audio stream (a speech task's video must have one)."""


class CacheError(MediaError):
    """The question cannot get its sound because the audio cache cannot be written (a problem of
    ``HUMANSENSE_CACHE``, not of the media file): a :class:`MediaError` to the run, which counts the
    question as unreadable media, and its own outcome to ``prepare``."""


@dataclass(frozen=True)
class VideoInfo:
    path: str
    frames: int
    fps: float
    duration: float
    has_audio: bool


def open_media(path: str) -> Any:
    import av

    if not os.path.isfile(path):
        raise MediaError(f"{path}: file does not exist")
    if os.path.getsize(path) == 0:
        raise MediaError(f"{path}: file is empty (0 bytes); re-extract it from the benchmark archive")
    try:
        return av.open(path)
    except Exception as exc:  # PyAV raises several error types for broken containers
        raise MediaError(
            f"{path}: cannot be opened as a media container ({exc}); re-extract or re-download it"
        ) from None


@lru_cache(maxsize=8192)
def _probe_cached(path: str, version: tuple[int, int, int, int]) -> VideoInfo:
    del version  # cache key only
    with open_media(path) as container:
        videos = container.streams.video
        if not videos:
            raise MediaError(f"{path}: has no video stream")
        stream = videos[0]
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        duration = float(stream.duration * stream.time_base) if stream.duration else 0.0
        if not duration and container.duration:
            duration = container.duration / 1_000_000
        frames = int(stream.frames or round(duration * fps))
        return VideoInfo(path, frames, fps, duration, bool(container.streams.audio))


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Container-level facts about a video (no frame decoding); cached per file version."""
    p = str(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise MediaError(f"{p}: file does not exist") from None
    return _probe_cached(p, file_version(st))


def open_problem(path: str, video: bool, audio: bool) -> str | None:
    """Why ``path`` cannot serve its questions, judged from its container alone, or ``None``.

    The check the tasks' loading makes of every media file, once per file (clips are shared by
    questions): it opens (a header that reads), and holds a video stream where its task shows
    frames and an audio stream where its task gives sound.  It decodes nothing, so it costs
    milliseconds; a clip that opens but stops early or is corrupted inside is found by
    ``verify`` or, mid-run, costs only its questions.
    """
    try:
        with open_media(path) as container:
            if video and not container.streams.video:
                return f"{path}: has no video stream, but its task shows frames"
            if audio and audio_stream(container) is None:
                return f"{path}: has no audio track, but its task needs sound"
    except MediaError as exc:
        return str(exc)
    return None


def _checked_open_problem(path: str, video: bool, audio: bool) -> str | None:
    """:func:`open_problem`, skipped for a file version that passed it before.

    Opening a 30 s clip costs milliseconds (ffmpeg probes its streams), which adds up to tens of
    seconds over the whole benchmark on every start of a run; a file that passed leaves an empty
    marker in the cache, keyed by its path and version (:func:`file_version`: a replaced file is
    opened again) and by what was asked of it, so the next run only stats it."""
    try:
        marker = cache_home() / "media_opens" / _cache_key(Path(path).resolve(), int(video), int(audio))
    except OSError:  # the file is gone: open_problem names it
        return open_problem(path, video, audio)
    if marker.is_file():
        return None
    problem = open_problem(path, video, audio)
    if problem is None:
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        except OSError:  # only a shortcut for the next run (the cache was found writable just before)
            pass
    return problem


def frames_problem(path: str) -> str | None:
    """Why the video stream of ``path`` does not decode from its first frame to its end, or ``None``.

    lmms-eval's stock wrappers decode a clip's frames with their own readers, outside any hook, so
    a corrupted middle or an mp4 cut short raises inside lmms-eval and ends the whole run.  Every
    frame is decoded (the readers sample frames across the whole clip, so a check of the ends alone
    would miss a damaged middle); the cost is measured in ``benchmarks/media_open.py``.
    """
    try:
        with open_media(path) as container:
            if not container.streams.video:
                return f"{path}: has no video stream, but its task shows frames"
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            last = None
            try:
                for frame in container.decode(stream):
                    last = frame
            except Exception as exc:  # PyAV raises several error types for damaged data
                return f"{path}: its frames do not decode ({exc}); the file is damaged. " + replace_from_archive("it")
            if last is None:
                return f"{path}: no frame decodes; the file is damaged. " + replace_from_archive("it")
            try:
                check_reaches_end(
                    path, "frames", frame_shown_until(stream, last, 0.0), video_seconds(container, stream)
                )
            except MediaError as exc:
                return f"{exc}. " + replace_from_archive("it")
    except MediaError as exc:
        return str(exc)
    return None


def frame_shown_until(stream: Any, last: Any, no_pts: float) -> float:
    """When the video frame ``last`` stops being shown, in seconds (``no_pts`` when it has no time
    stamp): a frame is shown until the next one, so a whole 1-frame clip, or 2 frames at 1 fps, ends
    with its last frame's display time, as the run reads it.  The one rule of ``verify`` and the
    hooks' frame check."""
    tb = stream.time_base
    end = float(last.pts * tb) if last.pts is not None and tb else no_pts
    rate = stream.average_rate or stream.guessed_rate
    return end + (float(last.duration * tb) if last.duration and tb else (1 / float(rate) if rate else 0.0))


def check_frames_decode(path: str) -> None:
    """Raise :class:`MediaError` when :func:`frames_problem` finds one, deciding once per file version
    and machine: the verdict (an empty marker for a clip that decodes, the problem's text for one
    that does not) is kept under ``media_decodes/`` in the cache, keyed as the open check's markers
    are, so the questions sharing a clip and the runs after the first only read it."""
    try:
        marker = cache_home() / "media_decodes" / _cache_key(Path(path).resolve())
    except OSError:  # the file is gone: frames_problem names it
        problem = frames_problem(path)
    else:
        try:
            problem = marker.read_text(encoding="utf-8") or None
        except OSError:
            problem = frames_problem(path)
            try:
                marker.parent.mkdir(parents=True, exist_ok=True)
                write_text_atomically(marker, problem or "")
            except OSError:  # a shortcut only: the check itself has been made
                pass
    if problem:
        raise MediaError(problem)


class UnopenableMediaError(MediaError):
    """Media files that do not open, or lack the stream their questions need, found while the
    tasks load: the run stops there, as for a missing file, before any question is asked."""


def check_media_opens(questions: Iterable[tuple[str, str, bool, bool]]) -> None:
    """Raise :class:`UnopenableMediaError` naming every question whose file fails
    :func:`open_problem`; ``questions`` holds (its name, its file, needs frames, needs sound).

    Each file is opened once, for everything its questions need: a clip serves several
    questions, and opening it per question would multiply the load's cost for nothing.
    """
    needs: dict[str, tuple[bool, bool]] = {}
    named: list[tuple[str, str]] = []
    for name, path, video, audio in questions:
        had = needs.get(path, (False, False))
        needs[path] = (had[0] or video, had[1] or audio)
        named.append((name, path))
    problems = {path: _checked_open_problem(path, *need) for path, need in needs.items()}
    broken = [f"{name}: {problems[path]}" for name, path in named if problems[path]]
    if broken:
        shown = "\n  ".join(broken[:10])
        more = f"\n  ... and {len(broken) - 10} more" if len(broken) > 10 else ""
        raise UnopenableMediaError(
            f"{len(broken)} HumanSense question(s) reference media that cannot serve them:\n  {shown}{more}\n"
            + replace_from_archive("each file")
        )


#: Part of every cached WAV's key: bump it when the decoding or the file format changes, so no
#: stale sound is reused (3: the WAV is written by soundfile).
AUDIO_CACHE_VERSION = 3


def audio_stream(container: Any) -> Any:
    """The audio stream ffmpeg picks with no ``-map`` (as the official runner's ``librosa.load`` gets
    it), or ``None``: the highest ``channels + 5,000,000 * (disposition "default")``, the first on a
    tie (``map_auto_audio`` in ``fftools/ffmpeg_mux_init.c``).
    """
    import av

    best, best_score = None, -1
    for stream in container.streams.audio:
        default = bool(stream.disposition & av.stream.Disposition.default)
        score = (stream.channels or 0) + 5_000_000 * default
        if score > best_score:
            best, best_score = stream, score
    return best


def _decode_mono(p: str, container: Any) -> tuple[np.ndarray, int]:
    """The stream ffmpeg would pick (:func:`audio_stream`) as (mono float32 samples, native rate).

    Mono is the mean of the channels, as ``librosa.load`` takes it in the official runner; frames
    are converted to planar float (what AAC decodes to) first.
    """
    import av

    stream = audio_stream(container)
    if stream is None:
        raise NoAudioTrackError(f"{p}: has no audio track, but its task needs sound")
    rate = stream.codec_context.sample_rate or stream.rate
    to_float = av.AudioResampler(format="fltp")
    pieces: list[np.ndarray] = []
    try:
        for frame in container.decode(stream):
            for f in (frame,) if frame.format.name == "fltp" else to_float.resample(frame):
                pieces.append(np.mean(f.to_ndarray(), axis=0, dtype=np.float32))
    except Exception as exc:
        raise MediaError(f"{p}: audio does not decode ({exc}); re-extract or re-download it") from None
    mono = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
    if not np.isfinite(mono).all():  # a model handed such a sample computes garbage without an error
        raise MediaError(
            f"{p}: its sound holds NaN or infinite samples, which no model can hear; the file is damaged: "
            "re-extract or re-download it"
        )
    return mono, rate


def decode_audio(path: str | os.PathLike[str], sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A file's sound (an mp4's track as ffmpeg picks it, or an audio file) as mono float32 at
    ``sample_rate``, resampled with soxr's high-quality filter as ``librosa.load`` does: the one
    decoding the run, ``prepare`` and ``verify`` share (through the cache)."""
    import soxr

    p = str(path)
    with open_media(p) as container:
        mono, rate = _decode_mono(p, container)
        if not mono.size:
            raise MediaError(empty_sound(p))
        sound = mono if rate == sample_rate else soxr.resample(mono, rate, sample_rate, quality="HQ")
        check_sound_heard(p, container, audio_stream(container), sound.size / sample_rate)
    return sound


def empty_sound(p: str) -> str:
    """The error of a file whose sound decodes to nothing (an empty WAV, a track cut to nothing),
    with what to do: the file was damaged in extraction or copying, so a good copy replaces it."""
    return (
        f"{p}: audio track holds no samples, so the question has no sound to hear; the file is damaged or was "
        "cut short. " + replace_from_archive("it")
    )


def replace_from_archive(what: str) -> str:
    """The fix for a damaged media file, said once for every error that finds one."""
    return (
        f"Fix: replace {what} with a good copy from the benchmark's archive (videos.zip for an .mp4, audios.zip "
        f"for a .wav; {tool('download')} --force extracts both again), then run {tool('verify')}, which lists "
        "every damaged file."
    )


def check_sound_heard(p: str, container: Any, stream: Any, heard: float) -> None:
    """The one rule for how much of a video's length its sound (``heard`` seconds) must cover: a
    faststart mp4 cut short still decodes up to the cut, and a track starting seconds after the
    frames would be heard shifted; only the length shows either.  Audio files have no frames.
    """
    if not container.streams.video:
        return
    duration = video_seconds(container, container.streams.video[0])
    start = float(stream.start_time * stream.time_base) if stream.start_time and stream.time_base else 0.0
    if duration and heard < duration - min(2.0, duration / 4) and start > (duration - heard) / 2:
        raise MediaError(
            f"{p}: its sound track starts {start:.1f} s after its frames and covers only {heard:.1f} s of "
            f"{duration:.1f} s, so the model would hear it shifted against the frames; re-encode the clip with "
            "its sound from the start (or re-extract it)"
        )
    check_reaches_end(p, "sound track", heard, duration)


def cache_dir() -> Path:
    return cache_home() / "audio16k"


def file_version(st: os.stat_result) -> tuple[int, int, int, int]:
    """What tells one version of a file from the next: size, mtime, ctime and inode (size and mtime
    miss a same-size replacement that kept the old mtime, as ``cp -p`` leaves it)."""
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


def _cache_key(p: Path, *extra: object) -> str:
    """A cache entry's key: the source's absolute path and version (:func:`file_version`; a
    replaced or edited file gets a new entry), plus what else the entry depends on."""
    return hashlib.sha1("|".join(map(str, (p, *file_version(p.stat()), *extra))).encode()).hexdigest()[:16]


def placeholder_video() -> str:
    """A 2 s blank silent mp4 (64x64, 8 fps) in the cache, made once: what a simple wrapper is handed in
    place of a clip that cannot serve its question (the answer is not counted).  Many simple wrappers
    flatten a batch's visuals into one list and take the i-th item for the i-th question, so an empty
    list would shift the other questions' media onto the wrong prompts when ``batch_size`` > 1."""
    import av

    def write(tmp: str) -> None:
        with av.open(tmp, mode="w", format="mp4") as out:
            stream = out.add_stream("libx264", rate=8)
            stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
            for _ in range(16):
                frame = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), dtype=np.uint8), format="rgb24")
                out.mux(stream.encode(frame))
            out.mux(stream.encode())

    return str(create_once(cache_home() / "placeholder" / "blank-2s-64x64.mp4", write, suffix=".mp4"))


def media_failure_marker(media: str | os.PathLike[str], *question: object) -> Path:
    """Where the hooks record that ``media``, in its current version, could not serve a question
    (``question``: its id and variant); a replaced file gets a new key, so its questions are asked
    again.  Raises ``OSError`` when the file is gone."""
    return cache_home() / "media_errors" / _cache_key(Path(media).resolve(), *question)


def cached_audio_path(source: str | os.PathLike[str]) -> Path:
    """Where the decoded sound of ``source`` lives in the cache (it may not exist yet)."""
    p = Path(source).resolve()
    return cache_dir() / f"{p.stem}-{_cache_key(p, AUDIO_CACHE_VERSION)}.wav"


def _cache_error(folder: Path, exc: OSError) -> CacheError:
    """The error for a cache folder that cannot be written, naming the variable that chose it."""
    chosen = os.environ.get("HUMANSENSE_CACHE")
    where = f"HUMANSENSE_CACHE={chosen}" if chosen else "the default cache (HUMANSENSE_CACHE is not set)"
    return CacheError(
        f"cannot write to the cache folder {folder} ({exc.strerror or exc}); {where} must name a writable folder. "
        "Fix: set HUMANSENSE_CACHE to a writable directory (the media files themselves are fine)"
    )


#: The least free space a run's cache must have (a floor: a full benchmark's decoded sound takes GBs).
CACHE_MIN_FREE = 100 * 2**20


def check_cache_writable() -> Path:
    """Create the audio cache folder and write a file in it, or raise :class:`CacheError`; run
    before a long job so that a cache problem stops it once, not once per clip."""
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
        free = shutil.disk_usage(folder).free
    except OSError as exc:
        raise _cache_error(folder, exc) from None
    if free < CACHE_MIN_FREE:
        chosen = os.environ.get("HUMANSENSE_CACHE")
        where = f"HUMANSENSE_CACHE={chosen}" if chosen else "the default cache (HUMANSENSE_CACHE is not set)"
        raise CacheError(
            f"the cache folder {folder} has {free / 2**20:.1f} MiB free, less than the "
            f"{CACHE_MIN_FREE // 2**20} MiB a run needs for its decoded sound and silent copies ({where}). "
            "Fix: free space there or set HUMANSENSE_CACHE to a folder on a disk with room"
        )
    return folder


#: libsndfile's ``SFC_SET_ADD_PEAK_CHUNK`` (sndfile.h).
_SFC_SET_ADD_PEAK_CHUNK = 0x1050


def _no_peak_chunk(out: Any) -> None:
    """Leave out the ``PEAK`` chunk libsndfile adds to float WAVs: it holds the time of writing, so
    the same sound written by two processes (a data-parallel run) would differ in bytes.  soundfile
    has no public call for it; without its internals the chunk stays (the samples are the same)."""
    try:
        from soundfile import _ffi, _snd

        _snd.sf_command(out._file, _SFC_SET_ADD_PEAK_CHUNK, _ffi.NULL, 0)
    except (ImportError, AttributeError):
        pass


def write_wav(target: Any, sound: np.ndarray, subtype: str = "FLOAT", rate: int = SAMPLE_RATE) -> None:
    """The one WAV writer (soundfile): mono ``sound`` into ``target`` (a path or a binary file), float32
    for the cache, ``PCM_16`` for a request; no time-stamped ``PEAK`` chunk, so equal sound gives equal bytes."""
    import soundfile as sf

    with sf.SoundFile(target, "w", rate, 1, subtype, format="WAV") as out:
        _no_peak_chunk(out)
        out.write(sound)


def ensure_cached_audio(source: str | os.PathLike[str]) -> Path:
    """Decode ``source``'s sound to the cache once and return the WAV's path.

    The entry is written under a temporary name and renamed into place (:func:`create_once`), so
    a WAV at that path is whole: it is not checked again on reads.
    """
    src = Path(source)
    if not src.is_file():
        raise MediaError(f"{src}: file does not exist")
    target = cached_audio_path(src)
    try:
        return create_once(target, lambda tmp: write_wav(tmp, decode_audio(src)), suffix=".wav")
    except OSError as exc:  # decoding errors are MediaErrors: an OSError here is the cache's
        raise _cache_error(target.parent, exc) from None


def load_cached_audio(source: str | os.PathLike[str]) -> np.ndarray:
    """The 16 kHz mono float32 samples of ``source``, decoded at most once per file version."""
    import soundfile as sf

    wav = ensure_cached_audio(source)
    try:
        data, _ = sf.read(str(wav), dtype="float32", always_2d=False)
    except (OSError, RuntimeError) as exc:  # removed or damaged from outside since it was written
        raise MediaError(f"{wav}: the cached sound of {source} cannot be read ({exc}); delete it to rebuild") from None
    return data


def silent_video_path(source: str | os.PathLike[str]) -> Path:
    """Where the audio-stripped copy of ``source`` lives in the cache (it may not exist yet)."""
    p = Path(source).resolve()
    return cache_home() / "silent" / f"{p.stem}-{_cache_key(p)}{p.suffix or '.mp4'}"


def silent_video(source: str | os.PathLike[str]) -> str:
    """``source`` without its sound, for a question the protocol gives none: a cached remux of the
    video stream alone (no re-encoding); a file without an audio track is returned as is."""
    import av

    src = str(source)
    if not probe_video(src).has_audio:
        return src
    target = silent_video_path(src)

    def remux(tmp: str) -> None:
        try:
            with open_media(src) as inp, av.open(tmp, mode="w", format=inp.format.name.split(",")[0]) as out:
                in_stream = inp.streams.video[0]
                out_stream = out.add_stream_from_template(in_stream)
                for packet in inp.demux(in_stream):
                    if packet.dts is None:  # the demuxer's final flush packet
                        continue
                    packet.stream = out_stream
                    out.mux(packet)
        except MediaError:
            raise
        except Exception as exc:
            raise MediaError(f"{src}: cannot copy its video stream without sound ({exc}); re-extract it") from None

    try:
        return str(create_once(target, remux, suffix=target.suffix))
    except OSError as exc:  # remuxing errors are MediaErrors: an OSError here is the cache's
        raise _cache_error(target.parent, exc) from None


def video_seconds(container: Any, stream: Any) -> float:
    """A video's length as its index states it (the stream's, else the container's)."""
    tb = stream.time_base
    return float(stream.duration * tb) if stream.duration and tb else (container.duration or 0) / 1_000_000


def check_reaches_end(p: str, what: str, end: float, duration: float) -> None:
    """Raise when a stream stops short of the video's length: by more than a quarter of a short
    clip, or more than 2 s of a long one (encoders end tracks a few frames apart, never seconds)."""
    if duration and end < duration - min(2.0, duration / 4):
        raise MediaError(
            f"{p}: decoding its {what} reaches only {end:.1f} s of {duration:.1f} s; the file is probably cut short, "
            "re-extract it"
        )
