"""Every function the HumanSense task YAMLs name: the docs, their prompt and media, the scores.

What a question gets follows the official runner (frames for every video task, the video's own
sound for the 5 speech video tasks, an audio file for FR2 and PC); :func:`question_media` is the
one rule for how that reaches a wrapper.  lmms-eval has no ``doc_to_audio`` YAML key, so
:func:`doc_to_audio` is a plain function that :func:`doc_to_visual` and this package's models call.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
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
    AnswerScores,
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

__all__ = [
    "DataLoadStop",
    "doc_to_audio",
    "doc_to_messages",
    "doc_to_text",
    "doc_to_visual",
    "media_failure",
    "clustered_se",
    "count_clips",
    "count_empty",
    "count_not_answered",
    "join_provenance",
    "macro_mean",
    "macro_se",
    "mean_score",
    "process_docs",
    "process_results",
]


class DataLoadStop(SystemExit):
    """A data error (no root, an unmapped task_type, a broken record, missing media) ending the run.

    A ``SystemExit`` because lmms-eval retries every ``Exception`` raised while loading a task (five
    tracebacks) and its CLI prints any ``Exception`` and exits 0; this one stops the run with status
    1 and the message as its last line.  ``error`` holds the original exception.
    """

    def __init__(self, error: BaseException) -> None:
        text = str(error)
        super().__init__(text if text.startswith("HumanSense") else f"HumanSense data error: {text}")
        self.error = error


def process_docs(dataset: Any) -> Any:
    """Replace the one-row stub lmms-eval loaded with the task's questions from the data root
    (``$HUMANSENSE_ROOT`` or a completed download: nothing is fetched behind the user's back).

    Every leaf loads the same stub file; its YAML's ``dataset_name`` (the leaf's own task name)
    arrives as the loaded dataset's ``info.config_name`` and says the task and variant.
    """
    import datasets

    from lmms_humansense.data.root import resolve_root
    from lmms_humansense.data.schema import load_task_docs
    from lmms_humansense.provenance import provenance, question_id

    try:
        task, variant = leaf_task(str(dataset.info.config_name))
        code, variant_name = task.code, variant.name
        root = resolve_root()
        docs = load_task_docs(root, code)
        if not docs:
            raise ValueError(
                f"HumanSense data root {root} holds no question of task {code} ({task.name}); "
                "check that both HumanSense_VQA.json and HumanSense_AQA.json are there and the task map is right."
            )
        for i, doc in enumerate(docs):
            doc["variant"] = variant_name
            doc["with_audio"] = bool(variant.audio and task.uses_audio)
            doc["first_of_task"] = i == 0  # where the per-task wrapper warning is said, once per run
            _prompt(doc)  # a record without a prompt fails now, named, rather than mid-run
            doc["qid"] = question_id(doc)  # what the question is; paired comparisons match on it
            doc["provenance"] = provenance(root)
        if variant.media:  # the decoded sound and silent copies go there: a full disk stops the run now
            check_cache_writable()
            check_media_opens(
                (f"doc {d['id']} (video_path={d['media_raw']!r})", d["media"], kind != "audio", kind != "video")
                for d, kind in ((d, question_kind(d)) for d in docs)
            )
    # every loading error of ours is one of these, with its fix
    except (OSError, ValueError, CacheError, UnopenableMediaError) as exc:
        raise DataLoadStop(exc) from exc
    return datasets.Dataset.from_list(docs)


def doc_to_text(doc: dict[str, Any], lmms_eval_specific_kwargs: dict[str, Any] | None = None) -> str:
    """The official prompt for the doc's question pattern, option count and variant (no pre/post
    prompt).  lmms-eval calls it for every doc before the model answers anything: the moment to say
    that the running wrapper drops the sound (:func:`_warn_if_audio_dropped`)."""
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


def _checked_video(doc: dict[str, Any]) -> str:
    path = doc["media"]
    try:
        info = probe_video(path)
    except MediaError as exc:
        raise type(exc)(f"HumanSense doc {doc['id']} (task {doc['task']}): {exc}") from None
    if doc["with_audio"] and not info.has_audio:
        raise MediaError(
            f"HumanSense doc {doc['id']} (task {doc['task']}): {path} has no audio track, but the official "
            "protocol gives this task the video's sound. Re-extract the video, or run the `humansense_noaudio` "
            "variant to evaluate without sound on purpose."
        )
    return path


def _sound(doc: dict[str, Any], read: Callable[[str], T]) -> T | None:
    """``read(media)`` for a doc the protocol gives sound (a video's track only once the video is
    known to have one), else ``None``; a media error names the doc."""
    if not doc["with_audio"]:
        return None
    if BY_CODE[doc["task"]].has_video:
        _checked_video(doc)
    try:
        return read(doc["media"])
    except MediaError as exc:
        raise type(exc)(f"HumanSense doc {doc['id']} (task {doc['task']}): {exc}") from None


def doc_to_audio(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The sound the official protocol gives this doc, as ``{"array", "sampling_rate"}`` (16 kHz
    mono float32), or ``None`` for tasks (and variants) without sound."""
    sound = _sound(doc, load_cached_audio)
    return None if sound is None else {"array": sound, "sampling_rate": SAMPLE_RATE}


def audio_path(doc: dict[str, Any]) -> str | None:
    """The cached 16 kHz WAV of the doc's sound (for chat wrappers), or ``None``."""
    wav = _sound(doc, ensure_cached_audio)
    return None if wav is None else str(wav)


# The template gives each wrapper the hooks treat differently an entry of ``lmms_eval_specific_kwargs``
# (``run_model: <name>``), which lmms-eval hands to ``doc_to_text``: each call learns the wrapper from
# its arguments, nothing is remembered between runs in one process.
_SAID = "humansense_audio_drop_said"


def _warn_if_audio_dropped(doc: dict[str, Any], lmms_eval_specific_kwargs: dict[str, Any] | None) -> None:
    """Say once per audio task and run that the wrapper drops the sound: only on the task's first doc
    (one rank of a data-parallel run), and marked in the task's own kwargs dict (lmms-eval calls
    this twice on that doc), so no module global carries it into the next run."""
    model = (lmms_eval_specific_kwargs or {}).get("run_model")
    known = model in AUDIO_DROPPERS or model in SOUND_NOTES
    if not known or not doc["with_audio"] or not doc.get("first_of_task"):
        return
    if lmms_eval_specific_kwargs is None or lmms_eval_specific_kwargs.get(_SAID):
        return
    lmms_eval_specific_kwargs[_SAID] = True
    if model in SOUND_NOTES:
        log.warning("HumanSense task %s: %s.", doc["task"], SOUND_NOTES[model])
        return
    sound = "frames alone" if BY_CODE[doc["task"]].has_video else "the text alone"
    log.warning(
        "HumanSense task %s: lmms-eval's `%s` wrapper passes no audio to its model, so it answers from %s, "
        "although the protocol gives this task sound (the paper reports vision-only models on the 13 video "
        "tasks, and '-' for FR2/PC). To keep the audio, run `%s`.",
        doc["task"],
        model,
        sound,
        KEEP_AUDIO_COMMAND,
    )


def media_withheld(doc: dict[str, Any]) -> bool:
    """True in the ``blind`` variant: the model gets the prompt text and nothing else."""
    return not VARIANTS[doc["variant"]].media


#: What the protocol gives a question, by :func:`question_kind`.
KINDS = ("text", "video", "video+sound", "audio")


def question_kind(doc: dict[str, Any]) -> str:
    """The one rule for what a question gets, before any file is read: ``text`` (the ``blind``
    variant), ``audio`` (FR2/PC: the sound file alone), ``video+sound`` (frames and the video's own
    track) or ``video`` (frames, no sound).  :func:`question_media` (the wrappers' hooks) and this
    package's models all build their inputs from it."""
    if media_withheld(doc):
        return "text"
    if not BY_CODE[doc["task"]].has_video:
        return "audio"
    return "video+sound" if doc["with_audio"] else "video"


@dataclass(frozen=True)
class QuestionMedia:
    """What the protocol gives one question, in the form one kind of consumer takes it.

    ``video``: the mp4 to show (``None`` for FR2/PC and the ``blind`` variant); it is the original
    file only when ``sound_in_video`` (its own track is the question's sound), otherwise a silent
    copy, so no consumer can hear a track the protocol withholds, whatever it does with a file.
    ``audio``: the cached 16 kHz WAV of the question's sound when it travels as its own item.
    """

    video: str | None
    audio: str | None
    sound_in_video: bool


def question_media(doc: dict[str, Any], sound_apart: bool) -> QuestionMedia:
    """The one rule for what a question gets: frames, the video's own track or a silent copy, the sound
    as its own item.

    ``sound_apart=False`` (simple wrappers): a speech video task gets its original mp4, track
    included; a video-only task its silent copy; FR2/PC the sound alone.  ``sound_apart=True`` (chat
    wrappers, this package's models): every video is the silent copy and the sound its own item.
    Either way a consumer hears the sound at most once, whatever it does with a file (the costs:
    docs/wrappers.md).

    Before anything is handed over, what the wrapper will read with its own decoders is checked, the
    same whatever the wrapper: the question's sound decodes (into the cache, also when it travels
    inside the mp4) and every frame of the video decodes to its end (:func:`check_frames_decode`,
    once per clip version): an error there would be raised inside lmms-eval, past every hook.
    """
    kind = question_kind(doc)
    if kind == "text":
        return QuestionMedia(None, None, False)
    has_video = kind != "audio"
    path = _checked_video(doc) if has_video else doc["media"]
    audio = audio_path(doc) if doc["with_audio"] else None
    if not has_video:
        return QuestionMedia(None, audio, False)
    try:
        check_frames_decode(path)
    except MediaError as exc:
        raise type(exc)(f"HumanSense doc {doc['id']} (task {doc['task']}): {exc}") from None
    if kind == "video+sound" and not sound_apart:
        return QuestionMedia(path, None, True)
    try:
        return QuestionMedia(silent_video(path), audio, False)
    except MediaError as exc:
        raise type(exc)(f"HumanSense doc {doc['id']} (task {doc['task']}): {exc}") from None


def doc_to_visual(doc: dict[str, Any], lmms_eval_specific_kwargs: dict[str, Any] | None = None) -> list[Any]:
    """For simple wrappers (see :func:`question_media`): the mp4 path for video tasks, the decoded
    sound ``{"array", "sampling_rate"}`` for the audio-only tasks FR2 and PC; nothing in the
    ``blind`` variant; a stand-in for media that cannot serve the question (:func:`_withhold`)."""
    try:
        media = question_media(doc, sound_apart=False)
        if media.video is not None:
            return [media.video]
        if media_withheld(doc):
            return []
        audio = doc_to_audio(doc)
    except MediaError as exc:
        return _withhold(doc, exc, *_stand_in(doc))
    assert audio is not None, "every variant that gives media covers FR2/PC only with their sound (catalog)"
    return [audio]


def doc_to_messages(
    doc: dict[str, Any], lmms_eval_specific_kwargs: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """For chat wrappers (see :func:`question_media`): a silent video block, the sound as its own
    audio block where the protocol gives one, then the prompt.  The ``blind`` variant sends the
    prompt alone, and so does a question whose media cannot serve it (:func:`_withhold`)."""
    content: list[dict[str, Any]] = []
    try:
        media = question_media(doc, sound_apart=True)
    except MediaError as exc:
        media = _withhold(doc, exc, QuestionMedia(None, None, False), "the prompt alone")
    if media.video is not None:
        content.append({"type": "video", "url": media.video})
    if media.audio is not None:
        content.append({"type": "audio", "url": media.audio})
    content.append({"type": "text", "text": _prompt(doc)})
    return [{"role": "user", "content": content}]


def _stand_in(doc: dict[str, Any]) -> tuple[list[Any], str]:
    """What a simple wrapper gets in place of media that cannot serve the question: one item of the kind
    it expects (1 s of silence for FR2/PC, a blank placeholder video otherwise), so a wrapper that
    flattens a batch's visuals keeps every other question's media on its own prompt
    (:func:`lmms_humansense.media.placeholder_video`); nothing when even that cannot be made."""
    if question_kind(doc) == "audio":
        return [{"array": np.zeros(SAMPLE_RATE, dtype=np.float32), "sampling_rate": SAMPLE_RATE}], "1 s of silence"
    try:
        return [placeholder_video()], "a 2 s blank placeholder video"
    except (MediaError, OSError):
        return [], "no media"


def _withhold(doc: dict[str, Any], exc: MediaError, stand_in: T, given: str) -> T:
    """What a wrapper gets for a question whose media cannot serve it: ``stand_in`` (``given`` says what
    it is), never the damaged file, which a wrapper's own reader would meet inside lmms-eval and end the
    run with; the failure is recorded for :func:`process_results`, which makes the question the counted
    outcome ``media_error`` whatever the wrapper answers.

    The hooks are called inside the wrapper's ``generate_until``, and ``process_results`` gets only
    the answer text: the record is a marker in the cache (:func:`lmms_humansense.media.media_failure_marker`,
    keyed by the question and its file's version), seen by every process of a ``torchrun`` launch and
    by a later run over the same file, and not by a run after the file is replaced.  When even that
    cannot be written, the error is raised as before (lmms-eval ends the run) rather than let a
    text-only answer count.
    """
    error = (
        str(exc) if str(exc).startswith("HumanSense doc") else f"HumanSense doc {doc['id']} (task {doc['task']}): {exc}"
    )
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
    """The media error recorded for this question and this version of its file (:func:`_withhold`),
    or ``None``.  A cache error's record is read once and removed: it is a fault of the cache that
    the next run may not have, where a damaged file stays damaged until it is replaced."""
    if media_withheld(doc):
        return None
    try:
        marker = media_failure_marker(doc["media"], doc.get("qid"), doc["variant"])
        record = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # no record (or a file gone since the question was asked)
        return None
    if record.get("cache"):
        marker.unlink(missing_ok=True)
    return str(record.get("error") or "HumanSense: the question's media could not be read")


def _answer(results: Sequence[Any]) -> Any:
    """The model's answer for this doc as lmms-eval hands it over (a one-item list, or a list of
    filtered answers in its first item); ``None`` when there is none."""
    first = results[0] if results else None
    if isinstance(first, (list, tuple)):
        first = first[0] if first else None
    return first


def _fed_record(answer: Any) -> dict[str, Any] | None:
    """What the adapter says it fed the model: a ``str`` answer subclass with a ``fed`` dict (it reaches
    this hook because the template sets ``reasoning_tags: none``); a plain string has none."""
    fed = getattr(answer, "fed", None)
    return dict(fed) if isinstance(fed, dict) else None


def process_results(doc: dict[str, Any], results: Sequence[Any]) -> dict[str, Any]:
    """Both scores for one answer, its outcome, and what a reader of the logged sample needs to audit it.

    Metric values are dicts with a ``score`` and the ``clip`` id (the YAMLs set ``cluster_key: clip``
    for clustered standard errors).  An answer that is not one (:mod:`lmms_humansense.outcomes`) is
    counted as such: an empty one scores 0 but is no parse failure, a failed request or unreadable
    media leaves every denominator and keeps its error in the sample.
    """
    answer = _answer(results)
    response = "" if answer is None else str(answer)
    fed = _fed_record(answer)
    outcome, error = classify(response, fed)
    if fed is None and outcome != MEDIA_ERROR:  # a stock wrapper, handed a stand-in by _withhold
        failure = media_failure(doc)
        if failure is not None:
            outcome, error = MEDIA_ERROR, failure
    scored = score_answer(
        response, doc["answer_format"], doc["options"], doc["answer"], think=doc["variant"] == "think"
    )
    out = _metric_items(doc, scored, outcome, error, _audit(doc, scored, outcome, error, fed))
    out.update({f"{metric}_se": se_item(out[metric]) for metric in SE_METRICS})
    out["clips"] = {"clip": doc["clip"]}
    out["provenance"] = {"clip": doc["clip"], "provenance": doc.get("provenance")}
    return out


def _metric_items(
    doc: dict[str, Any], scored: AnswerScores, outcome: str, error: str | None, audit: dict[str, Any]
) -> dict[str, Any]:
    """Each metric's item for one answer (``acc`` carries the ``audit``), with what its outcome leaves
    out of which denominator."""
    robust, official, clip = scored.robust, scored.official, doc["clip"]
    left_out = {"clip": clip, "excluded": outcome}
    in_avg = BY_CODE[doc["task"]].in_paper_avg
    out: dict[str, Any] = {
        "acc": {"score": robust.score, "clip": clip, **audit},
        "acc_official": {"score": official, "clip": clip}
        if official is not None
        else {"clip": clip, "excluded": "empty answer"},
        "parse_failure": {"score": 0.0 if robust.parsed.ok else 1.0, "clip": clip},
        "paper_avg": {"score": robust.score, "clip": clip}
        if in_avg
        else {"clip": clip, "excluded": "audio-only task (the paper's Avg covers the 13 video tasks)"},
        "empty": outcome_item(outcome, error, clip, doc["task"]),
        "not_answered": outcome_item(outcome, error, clip, doc["task"]),
    }
    if outcome != ANSWERED:  # not a reply the parser failed to read
        out["parse_failure"] = left_out
    if outcome in NOT_ANSWERED:  # never asked or never heard: out of every denominator
        del out["acc"]["score"]
        out["acc"]["excluded"] = outcome
        out["acc_official"] = out["paper_avg"] = left_out
    return out


def _audit(
    doc: dict[str, Any], scored: AnswerScores, outcome: str, error: str | None, fed: dict[str, Any] | None
) -> dict[str, Any]:
    """What the logged sample's ``acc`` item carries for an audit: lmms-eval logs every item with the
    sample, while a key that is not a declared metric would show up in results.json as an empty metric."""
    audit: dict[str, Any] = {
        "id": doc["id"],
        "qid": doc.get("qid"),
        "task": doc["task"],
        "level": doc["level"],
        "variant": doc["variant"],
        "gold": doc["answer"],
        "parsed": scored.robust.parsed.value,
        "parse_outcome": scored.robust.parsed.outcome,
        "outcome": outcome,
    }
    if error:
        audit["error"] = error
    if fed is not None:
        audit["fed"] = fed
    return audit
