"""Every function the HumanSense task YAMLs name: the docs, their prompt and media, the scores.

:func:`question_media` is the one rule for what reaches a wrapper.  lmms-eval has no ``doc_to_audio``
YAML key: the sound travels in :func:`doc_to_visual`'s list, the mp4 or a chat audio block.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from lmms_humansense.catalog import BY_CODE, VARIANTS, leaf_task
from lmms_humansense.files import write_text_atomically
from lmms_humansense.media import (
    SAMPLE_RATE,
    CacheError,
    MediaError,
    UnopenableMediaError,
    check_cache_writable,
    check_frames_decode,
    check_media_opens,
    ensure_cached_audio,
    load_cached_audio,
    media_failure_marker,
    placeholder_video,
    probe_video,
    silent_video,
)
from lmms_humansense.outcomes import (
    ANSWERED,
    MEDIA_ERROR,
    NOT_ANSWERED,
    classify,
    count_empty,
    count_not_answered,
    outcome_item,
)
from lmms_humansense.prompts import apply_variant, build_prompt
from lmms_humansense.scoring import (
    SE_METRICS,
    clustered_se,
    count_clips,
    join_provenance,
    macro_mean,
    macro_se,
    mean_score,
    score_answer,
    se_item,
)
from lmms_humansense.wrappers import AUDIO_DROPPERS, KEEP_AUDIO_COMMAND, SOUND_NOTES

log = logging.getLogger("lmms_humansense")
T = TypeVar("T")
#: What the protocol gives a question, by :func:`question_kind`.
KINDS = ("text", "video", "video+sound", "audio")
#: The mark in a task's own kwargs dict that its wrapper warning was said.
_SAID = "humansense_audio_drop_said"
# the hooks the YAMLs name, the aggregations they name, and what this package's models call
__all__ = ["process_docs", "doc_to_text", "doc_to_visual", "doc_to_messages", "process_results"]
__all__ += ["clustered_se", "count_clips", "count_empty", "count_not_answered", "join_provenance"]
__all__ += ["macro_mean", "macro_se", "mean_score", "DataLoadStop", "doc_to_audio", "media_failure"]


class DataLoadStop(SystemExit):
    """A data error ending the run with status 1 (``error`` holds it).  Not an ``Exception``, which
    lmms-eval retries while loading a task and its CLI prints before exiting 0."""

    def __init__(self, error: BaseException) -> None:
        text = str(error)
        super().__init__(text if text.startswith("HumanSense") else f"HumanSense data error: {text}")
        self.error = error


def process_docs(dataset: Any) -> Any:
    """The task's questions from the data root, nothing fetched, in place of the one-row stub every leaf
    loads (its ``dataset_name``, the leaf's name, arrives as ``info.config_name``)."""
    import datasets

    from lmms_humansense.data.root import resolve_root
    from lmms_humansense.data.schema import load_task_docs
    from lmms_humansense.provenance import provenance, question_id

    try:
        task, variant = leaf_task(str(dataset.info.config_name))
        root = resolve_root()
        docs = load_task_docs(root, task.code)
        if not docs:
            raise ValueError(
                f"HumanSense data root {root} holds no question of task {task.code} ({task.name}); "
                "check that both HumanSense_VQA.json and HumanSense_AQA.json are there and the task map is right."
            )
        for i, doc in enumerate(docs):
            doc["variant"] = variant.name
            doc["with_audio"] = bool(variant.audio and task.uses_audio)
            doc["first_of_task"] = i == 0  # where the wrapper warning is said, once per task and run
            _prompt(doc)  # a record without a prompt fails now, named, rather than mid-run
            doc["qid"] = question_id(doc)  # what the question is; paired comparisons match on it
            doc["provenance"] = provenance(root)
        if variant.media:  # the decoded sound and silent copies go there: a full disk stops the run now
            check_cache_writable()
            check_media_opens(
                (f"doc {d['id']} (video_path={d['media_raw']!r})", d["media"], kind != "audio", kind != "video")
                for d, kind in ((d, question_kind(d)) for d in docs)
            )
    except (OSError, ValueError, CacheError, UnopenableMediaError) as exc:  # each of ours says its fix
        raise DataLoadStop(exc) from exc
    return datasets.Dataset.from_list(docs)


def doc_to_text(doc: dict[str, Any], lmms_eval_specific_kwargs: dict[str, Any] | None = None) -> str:
    """The official prompt (no pre/post prompt).  lmms-eval calls it for every doc before any answer:
    the moment to say what the running wrapper does with the sound."""
    _warn_if_audio_dropped(doc, lmms_eval_specific_kwargs)
    return _prompt(doc)


def _prompt(doc: dict[str, Any]) -> str:
    if doc["variant"] == "asr" and doc.get("transcript_problem"):
        from lmms_humansense.data.schema import RecordError

        raise RecordError(doc["transcript_problem"])
    try:
        prompt = build_prompt(doc["question"], doc["options"], doc["answer_format"], think=doc["variant"] == "think")
    except ValueError as exc:
        raise ValueError(f"HumanSense doc {doc['id']} ({doc['media_raw']}): {exc}") from None
    return apply_variant(prompt, doc["variant"], doc.get("transcript", ""))


def _warn_if_audio_dropped(doc: dict[str, Any], kwargs: dict[str, Any] | None) -> None:
    """Say once per audio task and run what the wrapper (the template's ``run_model``) does with the
    sound: on the task's first doc, marked in the kwargs dict lmms-eval hands to both of its calls
    there, so nothing outlives the run."""
    model = (kwargs or {}).get("run_model")
    known = model in AUDIO_DROPPERS or model in SOUND_NOTES
    if not known or not doc["with_audio"] or not doc.get("first_of_task") or kwargs is None or kwargs.get(_SAID):
        return
    kwargs[_SAID] = True
    if model in SOUND_NOTES:
        log.warning("HumanSense task %s: %s.", doc["task"], SOUND_NOTES[model])
        return
    log.warning(
        "HumanSense task %s: lmms-eval's `%s` wrapper passes no audio to its model, so it answers from %s, "
        "although the protocol gives this task sound (the paper reports vision-only models on the 13 video "
        "tasks, and '-' for FR2/PC). To keep the audio, run `%s`.",
        doc["task"],
        model,
        "frames alone" if BY_CODE[doc["task"]].has_video else "the text alone",
        KEEP_AUDIO_COMMAND,
    )


@contextmanager
def _naming(doc: dict[str, Any]) -> Iterator[None]:
    """A media error raised inside names the doc, once (these nest)."""
    try:
        yield
    except MediaError as exc:
        if str(exc).startswith("HumanSense doc"):
            raise
        raise type(exc)(f"HumanSense doc {doc['id']} (task {doc['task']}): {exc}") from None


def _checked_video(doc: dict[str, Any]) -> str:
    """The doc's video once it opens and, where the protocol gives its sound, holds a track."""
    path = doc["media"]
    info = probe_video(path)
    if doc["with_audio"] and not info.has_audio:
        raise MediaError(
            f"{path} has no audio track, but the official protocol gives this task the video's sound. Re-extract "
            "the video, or run the `humansense_noaudio` variant to evaluate without sound on purpose."
        )
    return path


def doc_to_audio(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The sound the protocol gives the doc as ``{"array", "sampling_rate"}`` (16 kHz mono float32), or
    ``None``; a video's only once it is known to have a track."""
    if not doc["with_audio"]:
        return None
    with _naming(doc):
        if BY_CODE[doc["task"]].has_video:
            _checked_video(doc)
        return {"array": load_cached_audio(doc["media"]), "sampling_rate": SAMPLE_RATE}


def question_kind(doc: dict[str, Any]) -> str:
    """What a question gets, before any file is read: ``text`` (``blind``), ``audio`` (FR2/PC),
    ``video+sound`` (frames and the video's track) or ``video``; every consumer builds from it."""
    if not VARIANTS[doc["variant"]].media:
        return "text"
    if not BY_CODE[doc["task"]].has_video:
        return "audio"
    return "video+sound" if doc["with_audio"] else "video"


@dataclass(frozen=True)
class QuestionMedia:
    """``video`` is the original mp4 only when ``sound_in_video``, otherwise a silent copy, so no consumer
    hears a track the protocol withholds; ``audio`` is the cached WAV when the sound travels apart."""

    video: str | None
    audio: str | None
    sound_in_video: bool


def question_media(doc: dict[str, Any], sound_apart: bool) -> QuestionMedia:
    """What a question gets: simple wrappers (``sound_apart=False``) a speech video with its track,
    chat wrappers and this package's models every video silent and the sound apart (at most once
    either way).  What a wrapper's own decoders will read is checked first (the sound
    decodes to the cache, every frame to the end, once per clip version): an error there would be raised
    inside lmms-eval, past every hook."""
    kind = question_kind(doc)
    if kind == "text":
        return QuestionMedia(None, None, False)
    with _naming(doc):
        path = doc["media"] if kind == "audio" else _checked_video(doc)
        audio = str(ensure_cached_audio(path)) if doc["with_audio"] else None
        if kind == "audio":
            return QuestionMedia(None, audio, False)
        check_frames_decode(path)
        if kind == "video+sound" and not sound_apart:
            return QuestionMedia(path, None, True)
        return QuestionMedia(silent_video(path), audio, False)


def doc_to_visual(doc: dict[str, Any], lmms_eval_specific_kwargs: dict[str, Any] | None = None) -> list[Any]:
    """For simple wrappers: the mp4, FR2/PC's decoded sound, nothing for ``blind``.  Media that cannot
    serve the question gets one stand-in of the kind expected (1 s of silence, a blank video), so a
    wrapper that flattens a batch's visuals keeps every other question's media on its own prompt."""
    try:
        media = question_media(doc, sound_apart=False)
        if media.video is not None:
            return [media.video]
        if question_kind(doc) == "text":
            return []
        audio = doc_to_audio(doc)
    except MediaError as exc:
        if question_kind(doc) == "audio":
            silence = {"array": np.zeros(SAMPLE_RATE, dtype=np.float32), "sampling_rate": SAMPLE_RATE}
            stand_in, given = [silence], "1 s of silence"
        else:
            try:
                stand_in, given = [placeholder_video()], "a 2 s blank placeholder video"
            except (MediaError, OSError):
                stand_in, given = [], "no media"
        return _withhold(doc, exc, stand_in, given)
    assert audio is not None, "every variant that gives media covers FR2/PC only with their sound (catalog)"
    return [audio]


def doc_to_messages(
    doc: dict[str, Any], lmms_eval_specific_kwargs: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """For chat wrappers: a silent video block, the sound as its own block, then the prompt; the prompt
    alone for ``blind`` and for media that cannot serve the question."""
    try:
        media = question_media(doc, sound_apart=True)
    except MediaError as exc:
        media = _withhold(doc, exc, QuestionMedia(None, None, False), "the prompt alone")
    content = [
        {"type": kind, "url": url} for kind, url in (("video", media.video), ("audio", media.audio)) if url is not None
    ]
    content.append({"type": "text", "text": _prompt(doc)})
    return [{"role": "user", "content": content}]


def _withhold(doc: dict[str, Any], exc: MediaError, stand_in: T, given: str) -> T:
    """``stand_in`` (``given`` says what) and never the file, whose error inside lmms-eval would end the
    run.  :func:`process_results` gets only the answer text, so the failure goes to a marker in the
    cache, keyed by question and file version (every rank of a launch and later runs see it); when that
    cannot be written the error is raised rather than let a text-only answer count."""
    error = str(exc)  # named by _naming
    try:
        marker = media_failure_marker(doc["media"], doc.get("qid"), doc["variant"])
        marker.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomically(marker, json.dumps({"error": error, "cache": isinstance(exc, CacheError)}))
    except OSError:
        raise exc from None
    log.warning(
        "%s. The question is left out (counted as media_error, not in any denominator); the wrapper gets %s (its answer is not counted).",
        error.rstrip("."),
        given,
    )
    return stand_in


def media_failure(doc: dict[str, Any]) -> str | None:
    """The media error :func:`_withhold` recorded for this question and file version, or ``None``.  A
    cache error's is read once and removed: the next run's cache may not have the fault."""
    if question_kind(doc) == "text":
        return None
    try:
        marker = media_failure_marker(doc["media"], doc.get("qid"), doc["variant"])
        record = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # no record (or a file gone since the question was asked)
        return None
    if record.get("cache"):
        marker.unlink(missing_ok=True)
    return str(record.get("error") or "HumanSense: the question's media could not be read")


def process_results(doc: dict[str, Any], results: Sequence[Any]) -> dict[str, Any]:
    """Both scores, the outcome (:mod:`lmms_humansense.outcomes`), and in ``acc`` the audit of the logged
    sample (an undeclared key would show in results.json as an empty metric).  Items carry the ``clip``
    for clustered standard errors; a failed request or unreadable media leaves every denominator."""
    answer = results[0] if results else None
    if isinstance(answer, (list, tuple)):  # lmms-eval's filtered answers
        answer = answer[0] if answer else None
    response = "" if answer is None else str(answer)
    fed = getattr(answer, "fed", None)  # what this package's models fed the model (reasoning_tags: none)
    fed = dict(fed) if isinstance(fed, dict) else None
    outcome, error = classify(response, fed)
    if fed is None and outcome != MEDIA_ERROR:  # a stock wrapper, handed a stand-in by _withhold
        failure = media_failure(doc)
        if failure is not None:
            outcome, error = MEDIA_ERROR, failure
    scored = score_answer(
        response, doc["answer_format"], doc["options"], doc["answer"], think=doc["variant"] == "think"
    )
    robust, official, clip = scored.robust, scored.official, doc["clip"]
    acc = {
        "score": robust.score,
        "clip": clip,
        "id": doc["id"],
        "qid": doc.get("qid"),
        "task": doc["task"],
        "level": doc["level"],
        "variant": doc["variant"],
        "gold": doc["answer"],
        "parsed": robust.parsed.value,
        "parse_outcome": robust.parsed.outcome,
        "outcome": outcome,
    }
    if error:
        acc["error"] = error
    if fed is not None:
        acc["fed"] = fed

    def item(score: float | None, excluded: str) -> dict[str, Any]:
        return {"score": score, "clip": clip} if score is not None else {"clip": clip, "excluded": excluded}

    unread = float(not robust.parsed.ok) if outcome == ANSWERED else None  # only a reply can fail to parse
    in_avg = robust.score if BY_CODE[doc["task"]].in_paper_avg else None
    out: dict[str, Any] = {
        "acc": acc,
        "acc_official": item(official, "empty answer"),
        "parse_failure": item(unread, outcome),
        "paper_avg": item(in_avg, "audio-only task (the paper's Avg covers the 13 video tasks)"),
        "empty": outcome_item(outcome, error, clip, doc["task"]),
        "not_answered": outcome_item(outcome, error, clip, doc["task"]),
    }
    if outcome in NOT_ANSWERED:  # never asked or never heard: out of every denominator
        del acc["score"]
        acc["excluded"] = outcome
        out["acc_official"] = out["paper_avg"] = item(None, outcome)
    out.update({f"{metric}_se": se_item(out[metric]) for metric in SE_METRICS})
    out["clips"] = {"clip": clip}
    out["provenance"] = {"clip": clip, "provenance": doc.get("provenance")}
    return out
