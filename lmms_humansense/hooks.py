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
    macro_mean,
    macro_se,
    mean_score,
    official_score,
    official_think_score,
    robust_score,
    se_item,
)

log = logging.getLogger("lmms_humansense")

__all__ = [
    "doc_to_audio",
    "doc_to_messages",
    "doc_to_text",
    "doc_to_visual",
    "clustered_se",
    "macro_mean",
    "macro_se",
    "mean_score",
    "process_docs",
    "process_results",
]


def process_docs(dataset: Any) -> Any:
    """Replace the one-row stub lmms-eval loaded with the task's questions from the data root.

    Each leaf YAML points ``data_files`` at a stub naming its task and variant; the real records
    come from ``$HUMANSENSE_ROOT`` (or a completed download), so one code path serves a local copy
    and the hub download, and nothing is fetched behind the user's back.
    """
    import datasets

    from lmms_humansense.data.root import resolve_root
    from lmms_humansense.data.schema import load_task_docs

    spec = dataset[0]
    code, variant_name = spec["task"], spec["variant"]
    variant = VARIANTS[variant_name]
    task = BY_CODE[code]
    root = resolve_root()
    docs = load_task_docs(root, code)
    if not docs:
        raise ValueError(
            f"HumanSense data root {root} holds no question of task {code} ({task.name}); "
            "check that both HumanSense_VQA.json and HumanSense_AQA.json are there and the task map is right."
        )
    for doc in docs:
        doc["variant"] = variant_name
        doc["with_audio"] = bool(variant.audio and task.uses_audio)
        doc["prompt"] = doc_to_text(doc)  # fail now, naming the record, rather than mid-run
    return datasets.Dataset.from_list(docs)


def doc_to_text(doc: dict[str, Any], lmms_eval_specific_kwargs: dict[str, Any] | None = None) -> str:
    """The official prompt for the doc's question pattern, option count and variant.

    The protocol fixes the prompt (no pre/post prompt is added); the kwargs only carry the running
    wrapper's name (see ``taskgen._model_block``), which lmms-eval passes here for every doc before
    the model reads any media.
    """
    model = (lmms_eval_specific_kwargs or {}).get("run_model")
    if model:
        set_run_model(model)
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


# --- which lmms-eval model is running -------------------------------------------------------------
# lmms-eval builds its TaskManager with ``model_name=<--model>`` (``__main__.py`` and
# ``simple_evaluate``); the registration wrapper of ``TaskManager.initialize_tasks`` records it here,
# and so does ``doc_to_text`` from the per-model ``lmms_eval_specific_kwargs`` of the task template
# (the only way in the upstream task folder, which has no registration code).
# Those are the places lmms-eval states the model to the task side for both the CLI and the Python
# API (parsing ``sys.argv`` would miss the Python API).  ``None`` (a TaskManager built without a
# model name) disables the model-specific behaviour below, nothing else.
_run: dict[str, str | None] = {"model": None}
_warned: set[str] = set()

#: Wrappers that play a video file's own sound track when handed an mp4 (lmms-eval 0.7.3: the
#: simple qwen2_5_omni / qwen3_omni / ola / baichuan_omni / minicpm_o / omnivinci / uni_moe_2_omni
#: read it, gemini uploads the file).  For tasks the protocol gives no sound they get a silent copy.
TRACK_PLAYERS = frozenset(
    {"qwen2_5_omni", "qwen3_omni", "gemini", "ola", "baichuan_omni", "minicpm_o", "omnivinci", "uni_moe_2_omni"}
)
#: Chat wrappers whose video block sends the mp4 file itself, sound track included (lmms-eval
#: 0.7.3 ``chat/gemini.py`` uploads it): a separate audio block would make the model hear the
#: speech tasks' sound twice, so they get none.  Other chat wrappers (``qwen2_5_omni`` chat
#: decodes frames only) need the block.
CHAT_FILE_UPLOADERS = frozenset({"gemini"})
#: Wrappers that give the model no sound at all (frames only; audio items are ignored or unusable).
AUDIO_DROPPERS = frozenset(
    {
        "qwen2_vl",
        "qwen2_5_vl",
        "qwen3_vl",
        "internvl",
        "internvl2",
        "internvl3",
        "internvl3_5",
        "internvl_hf",
        "llava_onevision",
        "llava_onevision1_5",
        "llava_onevision2",
        "llava_vid",
        "llava_hf",
        "videollama3",
        "openai",
        "async_openai",
    }
)
KEEP_AUDIO_COMMAND = "lmms-eval --model humansense_omni --model_args pretrained=Qwen/Qwen2.5-Omni-7B --tasks humansense"


def set_run_model(name: str | None) -> None:
    """Record the ``--model`` of this lmms-eval run (called by the registration wrapper)."""
    _run["model"] = str(name) if name else None


def run_model() -> str | None:
    return _run["model"]


def _warn_if_audio_dropped(doc: dict[str, Any]) -> None:
    model = _run["model"]
    if model not in AUDIO_DROPPERS or not doc["with_audio"] or model in _warned:
        return
    _warned.add(model)
    log.warning(
        "HumanSense: task %s, like every audio task (TR, FR1, FR2, RR1, RR2, ES, PC), gives the model sound, "
        "but lmms-eval's `%s` wrapper passes no audio to its model: video tasks are answered from frames and "
        "FR2/PC become text-only questions (the paper reports vision-only models on the 13 video tasks without "
        "sound, and '-' for FR2/PC). To keep the audio, run an omni model, e.g. `%s`.",
        doc["task"],
        model,
        KEEP_AUDIO_COMMAND,
    )


def _video_for_wrapper(doc: dict[str, Any]) -> str:
    """The checked mp4, or its silent copy when the protocol gives no sound and the wrapper would
    otherwise play the file's own track (always for ``noaudio``: the ablation must be silent)."""
    path = _checked_video(doc)
    if not doc["with_audio"] and (doc["variant"] == "noaudio" or _run["model"] in TRACK_PLAYERS):
        try:
            return silent_video(path)
        except MediaError as exc:
            raise MediaError(f"HumanSense doc {doc['id']} (task {doc['task']}): {exc}") from None
    return path


# --- what each model receives ------------------------------------------------------------------------
def media_withheld(doc: dict[str, Any]) -> bool:
    """True in the ``blind`` variant: the model gets the prompt text and nothing else."""
    return not VARIANTS[doc["variant"]].media


def doc_to_visual(doc: dict[str, Any]) -> list[Any]:
    """For simple wrappers: the mp4 path for video tasks (wrappers that use a video's sound find it
    in the file; a silent copy when the task gets no sound, see :func:`_video_for_wrapper`), the
    decoded audio dict for the audio-only tasks FR2 and PC; nothing in the ``blind`` variant."""
    if media_withheld(doc):
        return []
    _warn_if_audio_dropped(doc)
    if BY_CODE[doc["task"]].has_video:
        return [_video_for_wrapper(doc)]
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
        return [{"role": "user", "content": [{"type": "text", "text": doc_to_text(doc, lmms_eval_specific_kwargs)}]}]
    _warn_if_audio_dropped(doc)
    content: list[dict[str, Any]] = []
    has_video = BY_CODE[doc["task"]].has_video
    if has_video:
        content.append({"type": "video", "url": _video_for_wrapper(doc)})
    wav = None if has_video and _run["model"] in CHAT_FILE_UPLOADERS else audio_path(doc)
    if wav is not None:
        content.append({"type": "audio", "url": wav})
    content.append({"type": "text", "text": doc_to_text(doc, lmms_eval_specific_kwargs)})
    return [{"role": "user", "content": content}]


def _response(results: Sequence[Any]) -> str:
    if not results:
        return ""
    first = results[0]
    if isinstance(first, (list, tuple)):
        first = first[0] if first else ""
    return "" if first is None else str(first)


_fed: dict[tuple[str, str], dict[str, Any]] = {}


def record_fed(doc: dict[str, Any], fed: dict[str, Any]) -> None:
    """Let a model adapter say what it fed the model for ``doc``; :func:`process_results` puts it
    into the doc's logged sample (``acc.fed``).  lmms-eval logs only a model's response text."""
    _fed[(doc["variant"], doc["id"])] = fed


def process_results(doc: dict[str, Any], results: Sequence[Any]) -> dict[str, Any]:
    """Both scores for one answer, plus what a reader of the logged sample needs to audit it.

    Metric values are dicts with a ``score`` and the ``clip`` id: several questions share a clip,
    and the YAMLs set ``cluster_key: clip`` so lmms-eval reports clustered standard errors.
    """
    response = _response(results)
    fmt = doc["answer_format"]
    robust = robust_score(response, fmt, doc["options"], doc["answer"])
    if doc["variant"] == "think":
        official = official_think_score(response, fmt, doc["options"], doc["answer"])
    else:
        official = official_score(response, fmt, doc["answer"])
    clip = doc["clip"]
    # The audit fields ride in the ``acc`` item: lmms-eval logs every item of this dict with the
    # sample, but a key that is not a declared metric would also show up in results.json as an
    # empty metric (lmms-eval 0.7.3).
    acc = {
        "score": robust.score,
        "clip": clip,
        "id": doc["id"],
        "task": doc["task"],
        "level": doc["level"],
        "variant": doc["variant"],
        "gold": doc["answer"],
        "parsed": robust.parsed.value,
        "parse_outcome": robust.parsed.outcome,
    }
    fed = _fed.pop((doc["variant"], doc["id"]), None)
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
    return out
