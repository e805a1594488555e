"""Every function the HumanSense task YAMLs name (``!function lmms_humansense.hooks.<name>``).

The functions are thin: each delegates to the module that does the job (data, prompts, media,
scoring).  What a doc gets is decided by the catalog, following the official runner: frames for
every video task, the video's own sound for the 5 speech video tasks, an audio file for FR2 and PC,
and no sound for the rest (LD included).

lmms-eval 0.7.3 has no ``doc_to_audio`` YAML key (the task guide's example fails with a
``TypeError``); :func:`doc_to_audio` is therefore a plain hook that :func:`doc_to_visual` (simple
wrappers) and :func:`doc_to_messages` (chat wrappers) call.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from lmms_humansense.catalog import BY_CODE, VARIANTS
from lmms_humansense.media import (
    SAMPLE_RATE,
    MediaError,
    ensure_cached_audio,
    load_cached_audio,
    probe_video,
    silent_video,
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
from lmms_humansense.wrappers import AUDIO_DROPPERS, CHAT_FILE_UPLOADERS, KEEP_AUDIO_COMMAND, TRACK_PLAYERS

log = logging.getLogger("lmms_humansense")

__all__ = [
    "DataLoadStop",
    "doc_to_audio",
    "doc_to_messages",
    "doc_to_text",
    "doc_to_visual",
    "clustered_se",
    "count_clips",
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
            doc["prompt"] = _prompt(doc)  # fail now, naming the record, rather than mid-run
            doc["qid"] = question_id(doc)  # what the question is; paired comparisons match on it
            doc["provenance"] = provenance(root)
    except (OSError, ValueError) as exc:  # every loading error of ours is one of these, with its fix
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


def doc_to_audio(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The sound the official protocol gives this doc, as ``{"array", "sampling_rate"}`` (16 kHz
    mono float32), or ``None`` for tasks (and variants) without sound."""
    if not doc["with_audio"]:
        return None
    if BY_CODE[doc["task"]].has_video:
        _checked_video(doc)
    try:
        return {"array": load_cached_audio(doc["media"]), "sampling_rate": SAMPLE_RATE}
    except MediaError as exc:
        raise MediaError(f"HumanSense doc {doc['id']} (task {doc['task']}): {exc}") from None


def audio_path(doc: dict[str, Any]) -> str | None:
    """The cached 16 kHz WAV of the doc's sound (for chat wrappers), or ``None``."""
    if not doc["with_audio"]:
        return None
    if BY_CODE[doc["task"]].has_video:
        _checked_video(doc)
    try:
        return str(ensure_cached_audio(doc["media"]))
    except MediaError as exc:
        raise MediaError(f"HumanSense doc {doc['id']} (task {doc['task']}): {exc}") from None


# --- which lmms-eval wrapper is running ----------------------------------------------------------
# The task template gives every wrapper the hooks treat differently its own entry of
# ``lmms_eval_specific_kwargs`` (``run_model: <name>``), and lmms-eval 0.7.3 hands
# the running wrapper's entry to ``doc_to_text`` (api/task.py ~1425), to ``doc_to_visual`` when it
# takes two parameters (~1489) and to ``doc_to_messages`` (~1832).  So each call learns the wrapper
# from its arguments: nothing is remembered between calls or between runs in one process.


_SAID = "humansense_audio_drop_said"


def _wrapper(lmms_eval_specific_kwargs: dict[str, Any] | None) -> str | None:
    """The running wrapper's name, or ``None`` for one the hooks need not treat differently."""
    name = (lmms_eval_specific_kwargs or {}).get("run_model")
    return str(name) if name else None


def _warn_if_audio_dropped(doc: dict[str, Any], lmms_eval_specific_kwargs: dict[str, Any] | None) -> None:
    """Say once per audio task and run, before the model answers, that the wrapper drops the sound.

    Called from :func:`doc_to_text` while lmms-eval builds the requests, for the task's first doc
    only (``first_of_task``), so the line comes before the progress bars.  lmms-eval also calls it
    on that doc once while it builds the task (api/task.py ~848); the task's own kwargs dict (one
    per task and run, built from its YAML) remembers that the line was said.  Once per task rather
    than once per run: a run-wide "said it already" would have to live in a module global, which is
    what let one run's wrapper leak into the next.
    """
    model = _wrapper(lmms_eval_specific_kwargs)
    if model not in AUDIO_DROPPERS or not doc["with_audio"] or not doc.get("first_of_task"):
        return
    if lmms_eval_specific_kwargs is None or lmms_eval_specific_kwargs.get(_SAID):
        return
    lmms_eval_specific_kwargs[_SAID] = True
    sound = "frames alone" if BY_CODE[doc["task"]].has_video else "the text alone"
    log.warning(
        "HumanSense task %s: lmms-eval's `%s` wrapper passes no audio to its model, so it answers from %s, "
        "although the protocol gives this task sound (the paper reports vision-only models on the 13 video "
        "tasks, and '-' for FR2/PC). To keep the audio, run an omni model, e.g. `%s`.",
        doc["task"],
        model,
        sound,
        KEEP_AUDIO_COMMAND,
    )


def _video_for_wrapper(doc: dict[str, Any], model: str | None) -> str:
    """The checked mp4, or its silent copy when the protocol gives no sound and the wrapper would
    otherwise play the file's own track (always for ``noaudio``: the ablation must be silent)."""
    path = _checked_video(doc)
    if not doc["with_audio"] and (doc["variant"] == "noaudio" or model in TRACK_PLAYERS):
        try:
            return silent_video(path)
        except MediaError as exc:
            raise MediaError(f"HumanSense doc {doc['id']} (task {doc['task']}): {exc}") from None
    return path


# --- what each model receives ------------------------------------------------------------------------
def media_withheld(doc: dict[str, Any]) -> bool:
    """True in the ``blind`` variant: the model gets the prompt text and nothing else."""
    return not VARIANTS[doc["variant"]].media


def doc_to_visual(doc: dict[str, Any], lmms_eval_specific_kwargs: dict[str, Any] | None = None) -> list[Any]:
    """For simple wrappers: the mp4 path for video tasks (wrappers that use a video's sound find it
    in the file; a silent copy when the task gets no sound, see :func:`_video_for_wrapper`), the
    decoded audio dict for the audio-only tasks FR2 and PC; nothing in the ``blind`` variant."""
    if media_withheld(doc):
        return []
    if BY_CODE[doc["task"]].has_video:
        return [_video_for_wrapper(doc, _wrapper(lmms_eval_specific_kwargs))]
    audio = doc_to_audio(doc)
    if audio is None:
        raise MediaError(
            f"HumanSense doc {doc['id']}: task {doc['task']} is audio-only and the variant withholds audio"
        )
    return [audio]


def doc_to_messages(
    doc: dict[str, Any], lmms_eval_specific_kwargs: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """For chat wrappers: explicit content blocks, video, then the sound as its own audio block
    (wrappers such as ``qwen2_5_omni`` chat never read a video's own track), then the prompt.
    Wrappers that upload the mp4 itself hear its track there and get no second copy.  The
    ``blind`` variant sends the prompt alone."""
    if media_withheld(doc):
        return [{"role": "user", "content": [{"type": "text", "text": _prompt(doc)}]}]
    model = _wrapper(lmms_eval_specific_kwargs)
    content: list[dict[str, Any]] = []
    has_video = BY_CODE[doc["task"]].has_video
    if has_video:
        content.append({"type": "video", "url": _video_for_wrapper(doc, model)})
    wav = None if has_video and model in CHAT_FILE_UPLOADERS else audio_path(doc)
    if wav is not None:
        content.append({"type": "audio", "url": wav})
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
    """Both scores for one answer, plus what a reader of the logged sample needs to audit it.

    Metric values are dicts with a ``score`` and the ``clip`` id: several questions share a clip,
    and the YAMLs set ``cluster_key: clip`` so lmms-eval reports clustered standard errors.
    """
    answer = _answer(results)
    response = "" if answer is None else str(answer)
    scored = score_answer(
        response, doc["answer_format"], doc["options"], doc["answer"], think=doc["variant"] == "think"
    )
    robust, official = scored.robust, scored.official
    clip = doc["clip"]
    # The audit fields ride in the ``acc`` item: lmms-eval logs every item of this dict with the
    # sample, but a key that is not a declared metric would also show up in results.json as an
    # empty metric (lmms-eval 0.7.3).
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
    }
    fed = _fed_record(answer)
    if fed is not None:
        acc["fed"] = fed
    excluded = {"clip": clip, "excluded": "empty answer"}
    out: dict[str, Any] = {
        "acc": acc,
        "acc_official": {"score": official, "clip": clip} if official is not None else excluded,
        "parse_failure": {"score": 0.0 if robust.parsed.ok else 1.0, "clip": clip},
        "paper_avg": {"score": robust.score, "clip": clip}
        if BY_CODE[doc["task"]].in_paper_avg
        else {"clip": clip, "excluded": "audio-only task (the paper's Avg covers the 13 video tasks)"},
    }
    out.update({f"{metric}_se": se_item(out[metric]) for metric in SE_METRICS})
    out["clips"] = {"clip": clip}
    out["provenance"] = {"clip": clip, "provenance": doc.get("provenance")}
    return out
