"""Every function the HumanSense task YAMLs name: building the docs, their prompt and media, and
scoring the answers.

What a doc gets is decided by the catalog, following the official runner: frames for every video
task, the video's own sound for the 5 speech video tasks, an audio file for FR2 and PC, and no
sound for the rest (LD included).  :func:`question_media` is the one rule for how that reaches a
wrapper; the decoding, prompts and scores live in :mod:`media`, :mod:`prompts` and :mod:`scoring`.

lmms-eval 0.7.3 has no ``doc_to_audio`` YAML key (the task guide's example fails with a
``TypeError``), so :func:`doc_to_audio` is a plain function: :func:`doc_to_visual` calls it for
simple wrappers, and this package's own models call it for their sound.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from lmms_humansense.catalog import BY_CODE, VARIANTS
from lmms_humansense.media import (
    SAMPLE_RATE,
    CacheError,
    MediaError,
    UnopenableMediaError,
    check_cache_writable,
    check_media_opens,
    ensure_cached_audio,
    load_cached_audio,
    probe_video,
    silent_video,
)
from lmms_humansense.outcomes import ANSWERED, NOT_ANSWERED, classify, count_empty, count_not_answered, outcome_item
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

__all__ = [
    "DataLoadStop",
    "doc_to_audio",
    "doc_to_messages",
    "doc_to_text",
    "doc_to_visual",
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

    Why a ``SystemExit``: lmms-eval 0.7.3 wraps ``Task.download``, which calls ``process_docs``, in
    tenacity's ``@retry`` whose default condition retries every ``Exception`` (five attempts, each
    with its traceback), and its CLI catches every ``Exception``, prints it and exits 0.  A
    ``SystemExit`` is neither: the run stops at the first failing task, the process exits with
    status 1 and Python prints the message alone, as the last line.  From ``simple_evaluate`` it
    arrives as this exception; ``error`` holds the original one.
    """

    def __init__(self, error: BaseException) -> None:
        text = str(error)
        super().__init__(text if text.startswith("HumanSense") else f"HumanSense data error: {text}")
        self.error = error


def process_docs(dataset: Any) -> Any:
    """Replace the one-row stub lmms-eval loaded with the task's questions from the data root.

    Each leaf YAML points ``data_files`` at a stub naming its task and variant; the real records
    come from ``$HUMANSENSE_ROOT`` (or a completed download), so one code path serves a local copy
    and the hub download, and nothing is fetched behind the user's back.
    """
    import datasets

    from lmms_humansense.data.root import resolve_root
    from lmms_humansense.data.schema import load_task_docs
    from lmms_humansense.provenance import provenance, question_id

    spec = dataset[0]
    code, variant_name = spec["task"], spec["variant"]
    variant = VARIANTS[variant_name]
    task = BY_CODE[code]
    try:
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
    """The official prompt for the doc's question pattern, option count and variant.

    The protocol fixes the prompt (no pre/post prompt is added).  lmms-eval calls this for every doc
    while it builds the requests, before the model answers anything, with the running wrapper's
    entry of the template's ``lmms_eval_specific_kwargs``: the moment to say, once per task, that
    the wrapper will drop the sound the protocol gives (see :func:`_warn_if_audio_dropped`).
    """
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
        raise MediaError(f"HumanSense doc {doc['id']} (task {doc['task']}): {exc}") from None
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
        raise MediaError(f"HumanSense doc {doc['id']} (task {doc['task']}): {exc}") from None


def doc_to_audio(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The sound the official protocol gives this doc, as ``{"array", "sampling_rate"}`` (16 kHz
    mono float32), or ``None`` for tasks (and variants) without sound."""
    sound = _sound(doc, load_cached_audio)
    return None if sound is None else {"array": sound, "sampling_rate": SAMPLE_RATE}


def audio_path(doc: dict[str, Any]) -> str | None:
    """The cached 16 kHz WAV of the doc's sound (for chat wrappers), or ``None``."""
    wav = _sound(doc, ensure_cached_audio)
    return None if wav is None else str(wav)


# --- which lmms-eval wrapper is running ----------------------------------------------------------
# The task template gives every wrapper the hooks treat differently its own entry of
# ``lmms_eval_specific_kwargs`` (``run_model: <name>``), and lmms-eval 0.7.3 hands
# the running wrapper's entry to ``doc_to_text``, to ``doc_to_visual`` when it takes two parameters
# and to ``doc_to_messages`` (``lmms_eval/api/task.py``).  So each call learns the wrapper
# from its arguments: nothing is remembered between calls or between runs in one process.


_SAID = "humansense_audio_drop_said"


def _wrapper(lmms_eval_specific_kwargs: dict[str, Any] | None) -> str | None:
    """The running wrapper's name, or ``None`` for one the hooks need not treat differently."""
    name = (lmms_eval_specific_kwargs or {}).get("run_model")
    return str(name) if name else None


def _warn_if_audio_dropped(doc: dict[str, Any], lmms_eval_specific_kwargs: dict[str, Any] | None) -> None:
    """Say once per audio task and run, before the model answers, that the wrapper drops the sound.

    Called from :func:`doc_to_text` while lmms-eval builds the requests.  Two marks keep it to one
    line: ``first_of_task`` (only the task's first doc says it, so one process of a data-parallel
    run speaks, not every rank) and the task's own kwargs dict (lmms-eval also calls this on that
    doc while it builds the task; the dict, one per task and run, remembers the line was said, so
    nothing is kept in a module global that a next run in the process would inherit).
    """
    model = _wrapper(lmms_eval_specific_kwargs)
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

    ``sound_apart=False`` (simple wrappers, one visual per question): a speech video task gets its
    original mp4, track included; a video-only task its silent copy; FR2/PC the sound alone.
    ``sound_apart=True`` (chat wrappers and this package's models): every video is the silent copy
    and the sound, where the protocol gives one, is its own item.  So each consumer hears the
    sound at most once without the hooks knowing what a wrapper does with a file: one that uploads
    the mp4 (``gemini`` chat, read, not run) cannot hear it twice, one that sends a video's frames
    only (``openai`` chat, measured) still gets it.  The cost, documented in docs/wrappers.md:
    a remux per clip (cached, no re-encode), the sound never interleaved with frames by a chat
    wrapper, and a simple wrapper that never reads a video's track (``minicpm_o --force_simple``,
    read, not run) answers the speech tasks without their sound.
    """
    kind = question_kind(doc)
    if kind == "text":
        return QuestionMedia(None, None, False)
    has_video = kind != "audio"
    video = None
    in_video = kind == "video+sound" and not sound_apart
    if has_video:
        path = _checked_video(doc)
        if in_video:
            video = path
        else:
            try:
                video = silent_video(path)
            except MediaError as exc:
                raise MediaError(f"HumanSense doc {doc['id']} (task {doc['task']}): {exc}") from None
    audio = audio_path(doc) if doc["with_audio"] and not in_video else None
    return QuestionMedia(video, audio, in_video)


def doc_to_visual(doc: dict[str, Any], lmms_eval_specific_kwargs: dict[str, Any] | None = None) -> list[Any]:
    """For simple wrappers (see :func:`question_media`): the mp4 path for video tasks, the decoded
    sound ``{"array", "sampling_rate"}`` for the audio-only tasks FR2 and PC; nothing in the
    ``blind`` variant."""
    media = question_media(doc, sound_apart=False)
    if media.video is not None:
        return [media.video]
    if media_withheld(doc):
        return []
    audio = doc_to_audio(doc)
    assert audio is not None, "every variant that gives media covers FR2/PC only with their sound (catalog)"
    return [audio]


def doc_to_messages(
    doc: dict[str, Any], lmms_eval_specific_kwargs: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """For chat wrappers (see :func:`question_media`): a silent video block, the sound as its own
    audio block where the protocol gives one, then the prompt.  The ``blind`` variant sends the
    prompt alone."""
    media = question_media(doc, sound_apart=True)
    content: list[dict[str, Any]] = []
    if media.video is not None:
        content.append({"type": "video", "url": media.video})
    if media.audio is not None:
        content.append({"type": "audio", "url": media.audio})
    content.append({"type": "text", "text": _prompt(doc)})
    return [{"role": "user", "content": content}]


def _answer(results: Sequence[Any]) -> Any:
    """The model's answer for this doc as lmms-eval hands it over (a one-item list, or a list of
    filtered answers in its first item); ``None`` when there is none."""
    first = results[0] if results else None
    if isinstance(first, (list, tuple)):
        first = first[0] if first else None
    return first


def _fed_record(answer: Any) -> dict[str, Any] | None:
    """What the model says it fed the model for this doc, if its answer carries it.

    lmms-eval logs only a model's answer text; an adapter that wants its inputs audited returns a
    ``str`` subclass with a ``fed`` dict.  It reaches this hook because
    the template sets ``reasoning_tags: none`` (lmms-eval 0.7.3 otherwise rebuilds every answer
    without its reasoning blocks); a plain string simply has none.
    """
    fed = getattr(answer, "fed", None)
    return dict(fed) if isinstance(fed, dict) else None


def process_results(doc: dict[str, Any], results: Sequence[Any]) -> dict[str, Any]:
    """Both scores for one answer, its outcome, and what a reader of the logged sample needs to audit it.

    Metric values are dicts with a ``score`` and the ``clip`` id: several questions share a clip,
    and the YAMLs set ``cluster_key: clip`` so lmms-eval reports clustered standard errors.  An
    answer that is not one (see :mod:`lmms_humansense.outcomes`) is counted as such: an empty one
    scores 0 but is no parse failure, a failed request or unreadable media leaves every
    denominator and keeps its error in the sample.
    """
    answer = _answer(results)
    response = "" if answer is None else str(answer)
    fed = _fed_record(answer)
    outcome, error = classify(response, fed)
    scored = score_answer(
        response, doc["answer_format"], doc["options"], doc["answer"], think=doc["variant"] == "think"
    )
    robust, official = scored.robust, scored.official
    clip = doc["clip"]
    # The audit fields ride in the ``acc`` item: lmms-eval logs every item of this dict with the
    # sample, but a key that is not a declared metric would also show up in results.json as an
    # empty metric (lmms-eval 0.7.3).
    acc: dict[str, Any] = {
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
    left_out = {"clip": clip, "excluded": outcome}
    in_avg = BY_CODE[doc["task"]].in_paper_avg
    out: dict[str, Any] = {
        "acc": acc,
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
        del acc["score"]
        acc["excluded"] = outcome
        out["acc_official"] = out["paper_avg"] = left_out
    out.update({f"{metric}_se": se_item(out[metric]) for metric in SE_METRICS})
    out["clips"] = {"clip": clip}
    out["provenance"] = {"clip": clip, "provenance": doc.get("provenance")}
    return out
