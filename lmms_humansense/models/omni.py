"""``humansense_omni``: Qwen2.5-Omni and Qwen3-Omni checkpoints under the official HumanSense protocol.

lmms-eval 0.7.3's own ``qwen2_5_omni`` wrappers cannot reproduce the paper's Omni numbers: the chat
wrapper never reads a video's own sound and caps video at 16 frames of 384x384; the simple wrapper
takes only the first media item, loads the processor from a hard-coded hub id, needs CUDA,
moviepy and qwen_omni_utils, and its ``generate(return_audio=False)`` fails on transformers 5.x.
This adapter does what the official runner (``HumanSense_bench/src/model/Qwen25omini.py``) does:

* the Qwen system message;
* video tasks: frames sampled at 1 / 0.5 / 0.2 fps by the record's ``full_frame_number``
  (<= 300 / < 600 / >= 600), lowered so that no clip yields more than 24 frames, then
  qwen-omni-utils' frame rounding (even count, at least 4) and resizing (multiples of 28 pixels,
  ``max_pixels`` 360x420);
* the video's own sound, interleaved with its frames (``use_audio_in_video``), for the 5 speech
  video tasks, and no sound for the other video tasks; the audio file alone for FR2 and PC;
* text-only, greedy generation through the thinker (``model.thinker.generate``).

The architecture is read from the checkpoint's ``config.json`` (``model_type`` ``qwen2_5_omni`` or
``qwen3_omni_moe``), no flag: Qwen3-Omni's reference reader (qwen-omni-utils with
``image_patch_size=16``) counts pixels in merged patches of 16 x 2 = 32 pixels where Qwen2.5-Omni's
counts 28, so the same budget (360x420 pixels at most, at least 128 merged patches per frame)
gives sides that are multiples of 32; the frame count rule is the same.  ``acc.fed`` records the
architecture and the reader's factor.

Speed without changing an answer: ``--batch_size N`` answers up to N questions of one kind (text
only, frames, frames with their sound, a sound file: one ``use_audio_in_video`` per forward pass)
and one ``max_new_tokens``/``until`` per forward pass, left-padded; under greedy decoding each
answer is the one batch 1 gives (tested for both architectures).  Batches run in the order of
their first question and answers come back one by one in request order
(:meth:`HumanSenseOmni.answers`, where a journal of finished questions can hook in).
``prepare_ahead=N`` (default 2) batches are read, decoded and run through the processor in a
thread (:mod:`lmms_humansense.models.ahead`) while the model answers.  ``device_map=auto``
spreads one checkpoint over the visible GPUs of one process.

Two switches reproduce what the official code does beyond that default, each recorded in
``acc.fed``:

* ``frames=open_r1_16``: the frame reader of the official *training* code (the qwen-omni-utils copy
  vendored under ``Open-R1-Video``), which resamples every fps-based sample to exactly 16 frames
  (``linspace(0, n - 1, 16)`` truncated to integers, so short clips repeat frames) while the pixel
  budget still follows the pre-resampling count ``n``.  The released RL checkpoint was trained
  with it; ``frames=official`` (default) is the PyPI reader the benchmark's runner uses.
* ``decoding=official``: the official runner calls ``model.generate`` with no decoding arguments,
  so the thinker decodes with the generation config the checkpoint gives it and 1,024 new tokens.
  That may sample; each question then gets its own fixed seed (from ``seed=`` and the question
  id), so reruns, and runs with any number of processes, agree.  ``decoding=greedy`` (default)
  ignores the checkpoint's sampling settings.

Under ``accelerate launch`` / ``torchrun`` each process loads the model onto its own device
(``cuda:<LOCAL_RANK>``, or the CPU) and reads its rank from the environment (see
:mod:`lmms_humansense.models.placement`); what a question is fed and answered does not depend on
the process that answers it.

It is a *simple* model on purpose: it reads the whole doc (``self.task_dict[task][split][doc_id]``),
so it sees ``full_frame_number``, ``fps``, the media path and whether the variant gives sound,
which is everything the official runner's frame budget and audio switch need.  A chat model would
only see the content blocks of ``doc_to_messages``, which carry no frame budget.

What it fed the model (frames, frame size, seconds of sound) travels with each answer: the adapter
returns a :class:`FedAnswer` (a ``str`` carrying a ``fed`` dict), and
:func:`lmms_humansense.hooks.process_results` puts that dict into the doc's logged sample
(``acc.fed``).  lmms-eval logs only a model's answer text; riding on the answer needs no shared
state, no output path, and stays with its question in every process of a data-parallel run.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from lmms_eval.api.model import lmms

from lmms_humansense import hooks
from lmms_humansense.catalog import BY_CODE
from lmms_humansense.media import SAMPLE_RATE, MediaError
from lmms_humansense.models.ahead import prepared
from lmms_humansense.models.args import ModelArgValueStop, check_model_args, constructor_args
from lmms_humansense.models.journal import answer_key, open_journal
from lmms_humansense.models.placement import placement
from lmms_humansense.outcomes import MEDIA_ERROR, MEDIA_ERROR_MARKER

#: The system message of the official Qwen2.5-Omni runner.
SYSTEM_PROMPT = (
    "You are Qwen, a virtual human developed by the Qwen Team, Alibaba Group, capable of perceiving auditory "
    "and visual inputs, as well as generating text and speech."
)
#: Official frame budget: at most this many frames per clip.
MAX_FRAMES = 24
#: Official ``max_pixels`` for video frames.
MAX_PIXELS = 360 * 420
# qwen-omni-utils' video constants (the official runner's frame reader).  Pixel limits are counted
# in merged patches of ``factor`` x ``factor`` pixels (patch size x spatial merge): 28 for
# Qwen2.5-Omni; the Qwen3-Omni reader (``image_patch_size=16``) uses 32.
_FACTOR = 28
_FRAME_FACTOR = 2
_MIN_FRAMES = 4
_MAX_FRAMES_CAP = 768
_VIDEO_MIN_TOKENS = 128
_VIDEO_MAX_TOKENS = 768
_MODEL_SEQ_LEN = 128000
#: ``frames=`` readers: the benchmark runner's (PyPI qwen-omni-utils) and the training code's copy.
FRAME_MODES = ("official", "open_r1_16")
#: Frames per clip of the training code's reader (``# XXX max 16 frames``).
OPEN_R1_FRAMES = 16
#: ``decoding=`` modes: reproducible greedy, or what the official runner's ``model.generate`` does.
DECODINGS = ("greedy", "official")
#: ``thinker_max_new_tokens`` of ``Qwen2_5OmniForConditionalGeneration.generate`` (transformers 4.52).
OFFICIAL_MAX_NEW_TOKENS = 1024
#: The decoding settings a checkpoint's ``thinker_config`` may carry.
SAMPLING_KEYS = ("do_sample", "temperature", "top_p", "top_k", "min_p", "typical_p", "repetition_penalty", "num_beams")


def official_fps(full_frame_number: float, native_fps: float) -> float:
    """The sampling rate the official runner asks for: 1 / 0.5 / 0.2 fps by clip length, lowered
    so that the clip yields at most 24 frames (the runner divides by ``int(fps)``)."""
    n = float(full_frame_number)
    fps = 0.5 if 300 < n < 600 else 0.2 if n >= 600 else 1.0
    seconds = n / max(int(native_fps), 1)
    if seconds * fps > MAX_FRAMES:
        fps = MAX_FRAMES / seconds
    return fps


def frame_count(total_frames: int, video_fps: float, fps: float) -> int:
    """qwen-omni-utils' ``smart_nframes``: frames at ``fps``, at least 4, even, within the clip."""
    if total_frames < _FRAME_FACTOR:
        raise MediaError(f"the video has {total_frames} frame(s); at least {_FRAME_FACTOR} are needed")
    min_frames = math.ceil(_MIN_FRAMES / _FRAME_FACTOR) * _FRAME_FACTOR
    max_frames = math.floor(min(_MAX_FRAMES_CAP, total_frames) / _FRAME_FACTOR) * _FRAME_FACTOR
    n = total_frames / video_fps * fps
    n = min(min(max(n, min_frames), max_frames), total_frames)
    return max(_FRAME_FACTOR, math.floor(n / _FRAME_FACTOR) * _FRAME_FACTOR)


def frame_size(height: int, width: int, nframes: int, factor: int = _FACTOR) -> tuple[int, int]:
    """qwen-omni-utils' ``smart_resize`` for a video frame under the official ``max_pixels``.

    ``factor`` is the model's patch size times its spatial merge (28 for Qwen2.5-Omni, 32 for
    Qwen3-Omni): the reader rounds sides to it and counts its pixel limits in it."""
    min_pixels = _VIDEO_MIN_TOKENS * factor * factor
    total_pixels = int(_MODEL_SEQ_LEN * factor * factor * 0.9)
    max_pixels = max(
        min(_VIDEO_MAX_TOKENS * factor * factor, total_pixels / nframes * _FRAME_FACTOR), int(min_pixels * 1.05)
    )
    max_pixels = min(MAX_PIXELS, max_pixels)
    h = max(factor, round(height / factor) * factor)
    w = max(factor, round(width / factor) * factor)
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h = math.floor(height / beta / factor) * factor
        w = math.floor(width / beta / factor) * factor
    elif h * w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h = math.ceil(height * beta / factor) * factor
        w = math.ceil(width * beta / factor) * factor
    return h, w


def frame_indices(total_frames: int, video_fps: float, fps: float, frames: str = "official") -> list[int]:
    """Which frames of the clip the model sees, and in what order (repeats included).

    ``official``: ``n`` = :func:`frame_count` frames spread evenly (``linspace(0, total - 1, n)``,
    rounded).  ``open_r1_16``: those ``n`` frames resampled to 16 with ``linspace(0, n - 1, 16)``
    truncated, as the training code's reader does after its fps sample.
    """
    import torch

    n = frame_count(total_frames, video_fps, fps)
    index = torch.linspace(0, total_frames - 1, n).round().long()
    if frames == "open_r1_16":
        index = index[torch.linspace(0, n - 1, OPEN_R1_FRAMES).long()]
    elif frames != "official":
        raise ValueError(f"frames={frames!r}: use one of {', '.join(FRAME_MODES)}")
    return index.tolist()


def thinker_generation_config(pretrained: str, loaded: Any) -> Any:
    """The thinker's generation config as transformers 4.52 (the official environment) built it.

    4.52 derived the thinker's config from the checkpoint's ``thinker_config`` (then its
    ``text_config``) in ``config.json``, sampling settings included; transformers 5 drops those
    keys on load.  They are read back from the checkpoint's own ``config.json`` here, over the
    loaded config's unset fields.
    """
    import copy

    from transformers import PretrainedConfig

    raw, _ = PretrainedConfig.get_config_dict(pretrained)
    thinker = raw.get("thinker_config") or {}
    text = thinker.get("text_config") or {}
    config = copy.deepcopy(loaded)
    for key in SAMPLING_KEYS:
        value = thinker.get(key, text.get(key))
        if value is not None and getattr(config, key, None) is None:
            setattr(config, key, value)
    return config


def question_seed(seed: int, doc_id: str) -> int:
    """A seed of its own for each question, the same in every run and in every process: the one
    per-question seeding of this package's models (``decoding=official`` sampling, the chance baseline)."""
    return int(hashlib.sha256(f"{int(seed)}:{doc_id}".encode()).hexdigest()[:16], 16)


class FedAnswer(str):
    """An answer that also says what the model was fed for it (read by ``hooks.process_results``)."""

    fed: dict[str, Any]

    def __new__(cls, text: str, fed: dict[str, Any]) -> FedAnswer:
        answer = super().__new__(cls, text)
        answer.fed = fed
        return answer

    def __reduce__(self) -> tuple[Any, ...]:  # pickling (lmms-eval gathers samples across ranks)
        return (FedAnswer, (str(self), self.fed))

    def strip(self, chars: str | None = None) -> FedAnswer:
        # lmms-eval 0.7.3 strips every generate_until answer before process_results
        # (``ConfigurableTask.process_results``, api/task.py ~1587); the record must survive that.
        return FedAnswer(str.strip(self, chars), self.fed)


def media_error_answer(exc: BaseException | str) -> FedAnswer:
    """The counted ``media_error`` outcome of one question whose media, sound or cache failed
    (:mod:`lmms_humansense.outcomes`): the run goes on, the question leaves every denominator, and
    its error (naming the doc, the file and the fix) stays in the logged sample."""
    return FedAnswer(f"{MEDIA_ERROR_MARKER} {exc}", {"outcome": MEDIA_ERROR, "error": str(exc)})


#: What a question's own media can raise while it is prepared: its outcome, not the run's end.
MEDIA_FAILURES = (MediaError, OSError)


@dataclass
class Fed:
    """What one question gave the model; logged with the sample as ``acc.fed``."""

    model: str
    frames: int = 0
    frame_size: list[int] | None = None
    sample_fps: float = 0.0
    audio_seconds: float = 0.0
    audio_source: str = "none"  # "video track", "audio file" or "none"
    video_tokens: int = 0
    audio_tokens: int = 0
    prompt_tokens: int = 0
    new_tokens: int = 0
    seconds: float = 0.0
    frames_mode: str = "official"  # the frame reader: "official" or "open_r1_16"
    decoding: str = "greedy"  # "greedy" or "official" (the checkpoint's thinker generation config)
    seed: int | None = None  # the question's seed ("official" decoding only)
    sampling: dict[str, Any] | None = None  # the decoding settings used ("official" decoding only)
    architecture: str = "qwen2_5_omni"  # the checkpoint's model_type
    reader: str = "qwen-omni-utils, factor 28"  # the frame reader and its rounding factor (patch x merge)
    audio_cut: bool = False  # the feature extractor kept only the first audio_seconds of a longer sound
    audio_given_seconds: float = 0.0  # the sound's own length, before any cut
    batch: int = 1  # how many questions shared the forward pass that answered this one


def checkpoint_identity(model: Any) -> str:
    """Which weights answered: the hub commit transformers resolved, or for a local folder its
    path and the digest of its config and the weight files' names and sizes (hashing gigabytes
    of weights at every start would cost minutes)."""
    config = model.config
    where = str(getattr(config, "_name_or_path", ""))
    commit = getattr(config, "_commit_hash", None)
    folder = Path(where)
    if folder.is_dir():
        digest = hashlib.sha256()
        for file in sorted(folder.iterdir()):
            if file.name == "config.json":
                digest.update(file.read_bytes())
            elif file.suffix in (".safetensors", ".bin"):
                digest.update(f"{file.name}:{file.stat().st_size}".encode())
        return f"{folder.resolve()} sha256:{digest.hexdigest()[:16]}"
    return f"{where}@{commit}" if commit else where


def read_frames(path: str, fps: float, frames: str = "official", factor: int = _FACTOR) -> tuple[Any, float]:
    """The frame sample of ``frames``' reader as a float (T, C, H, W) tensor, and its sampling rate.

    The frame size is the official reader's for its own ``n`` frames in both modes (the training
    reader resamples to 16 after choosing the pixel budget)."""
    import torch
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as tvf

    try:
        import decord
    except ImportError:
        raise ImportError(
            "humansense_omni reads video frames with decord, as the official runner does; "
            "install it with `pip install 'lmms_humansense[models]'`"
        ) from None
    try:
        reader = decord.VideoReader(path)
        total, native = len(reader), float(reader.get_avg_fps())
        n = frame_count(total, native, fps)
        index = frame_indices(total, native, fps, frames)
        clip = torch.from_numpy(reader.get_batch(index).asnumpy()).permute(0, 3, 1, 2)
    except MediaError as exc:
        raise MediaError(f"{path}: {exc}") from None
    except Exception as exc:  # decord raises its own error types for broken files
        raise MediaError(f"{path}: frames do not decode ({exc}); re-extract or re-download it") from None
    h, w = frame_size(clip.shape[2], clip.shape[3], n, factor)
    clip = tvf.resize(clip, [h, w], interpolation=InterpolationMode.BICUBIC, antialias=True).float()
    return clip, len(index) / max(total, 1e-6) * native


@dataclass(frozen=True)
class Architecture:
    """One omni architecture this adapter runs: its transformers classes and how its audio is cut."""

    model_type: str  # ``model_type`` in the checkpoint's config.json
    title: str
    model_class: str
    processor_class: str
    #: Whether its processor pads/truncates sound to the feature extractor's ``n_samples`` (30 s):
    #: Qwen2.5-Omni's ``_process_audio`` forces ``padding="max_length"`` with Whisper's default
    #: ``truncation=True``; Qwen3-Omni's passes ``truncation=False`` (transformers 5.23, read and
    #: tested in tests/test_omni_batches.py).
    truncates_audio: bool


#: The architectures ``humansense_omni`` reads from a checkpoint's config (no flag needed).
ARCHITECTURES = MappingProxyType(
    {
        "qwen2_5_omni": Architecture(
            "qwen2_5_omni",
            "Qwen2.5-Omni",
            "Qwen2_5OmniForConditionalGeneration",
            "Qwen2_5OmniProcessor",
            truncates_audio=True,
        ),
        "qwen3_omni_moe": Architecture(
            "qwen3_omni_moe",
            "Qwen3-Omni",
            "Qwen3OmniMoeForConditionalGeneration",
            "Qwen3OmniMoeProcessor",
            truncates_audio=False,
        ),
    }
)


def architecture_of(pretrained: str) -> tuple[Architecture, int]:
    """The checkpoint's architecture and its reader's rounding factor (vision patch x spatial merge)."""
    from transformers import PretrainedConfig

    try:
        raw, _ = PretrainedConfig.get_config_dict(pretrained)
    except OSError as exc:
        raise ValueError(
            f"humansense_omni: cannot read the config of pretrained={pretrained} ({exc}); give a local checkpoint "
            "folder with a config.json or a hub id you have downloaded"
        ) from None
    model_type = raw.get("model_type")
    if model_type not in ARCHITECTURES:
        raise ValueError(
            f"humansense_omni: pretrained={pretrained} is a {model_type!r} checkpoint; this adapter runs "
            f"{', '.join(ARCHITECTURES)} (Qwen2.5-Omni and Qwen3-Omni). Other models run through lmms-eval's own wrappers."
        )
    vision = (raw.get("thinker_config") or {}).get("vision_config") or {}
    patch, merge = (
        vision.get("patch_size", 14 if model_type == "qwen2_5_omni" else 16),
        vision.get("spatial_merge_size", 2),
    )
    return ARCHITECTURES[model_type], int(patch) * int(merge)


#: What a question gives the model: the prompt only, frames, frames with their own sound, a sound file.
KINDS = hooks.KINDS


@dataclass
class Question:
    """One request of a run, in the order lmms-eval handed it over."""

    index: int
    doc: dict[str, Any]
    prompt: str
    gen_kwargs: dict[str, Any]
    kind: str
    request: int = -1  # its place in generate_until's request list (questions a journal answers are skipped)

    def group(self) -> tuple[Any, ...]:
        """Questions of one group can share a forward pass (same media layout and decoding)."""
        until = self.gen_kwargs.get("until") or []
        until = (until,) if isinstance(until, str) else tuple(until)
        return (self.kind, self.gen_kwargs.get("max_new_tokens"), until)


@dataclass
class Batch:
    """Questions answered together, with their processor inputs once prepared."""

    questions: list[Question]
    inputs: Any = None
    feds: list[Fed] | None = None
    errors: dict[int, BaseException] | None = None  # question index -> its preparation error
    seconds: float = 0.0


def plan_batches(questions: list[Question], size: int) -> list[Batch]:
    """Group questions that can share a forward pass, keeping request order within a group.

    A Qwen-Omni forward pass takes one ``use_audio_in_video`` for the whole batch and one set of
    media kinds, so a batch holds one kind (and one ``max_new_tokens``/``until``); batches run in
    the order of their first question, so answers come back in request order with little waiting.
    """
    groups: dict[tuple[Any, ...], list[Question]] = {}
    for q in questions:
        groups.setdefault(q.group(), []).append(q)
    batches = [Batch(members[i : i + size]) for members in groups.values() for i in range(0, len(members), size)]
    return sorted(batches, key=lambda b: b.questions[0].index)


class HumanSenseOmni(lmms):
    """The official HumanSense protocol for Qwen2.5-Omni and Qwen3-Omni checkpoints (simple lmms-eval model).

    ``--model_args pretrained=<hub id or folder>,device=cpu|cuda|cuda:N,dtype=auto|bfloat16|float16|float32``;
    ``device_map=auto`` spreads one checkpoint over the visible GPUs (one process);
    ``--batch_size N`` (lmms-eval's own option) answers N questions of one kind per forward pass (left padding);
    ``prepare_ahead=N`` (default 2, 0 = off) batches are read and processed while the model answers;
    ``attn_implementation=flash_attention_2`` as the official runner, if installed;
    ``frames=official|open_r1_16``, ``decoding=greedy|official``, ``seed=N`` (see the module notes);
    ``resume=DIR`` writes each answer as it exists and, started again, asks only the others
    (:mod:`lmms_humansense.models.journal`).
    Without ``device`` each process of a launch takes ``cuda:<LOCAL_RANK>`` (or the CPU).
    """

    is_simple = True

    def __init__(
        self,
        pretrained: str = "Qwen/Qwen2.5-Omni-7B",
        device: str | None = None,
        dtype: str = "auto",
        batch_size: int | str = 1,
        attn_implementation: str | None = None,
        system_prompt: str = SYSTEM_PROMPT,
        frames: str = "official",
        decoding: str = "greedy",
        seed: int = 0,
        device_map: str | None = None,
        prepare_ahead: int | str = 2,
        resume: str = "",
        **kwargs: Any,
    ) -> None:
        check_model_args("humansense_omni", kwargs, constructor_args(HumanSenseOmni))
        super().__init__()
        try:  # a value it cannot run with stops the run in one line (exit 1), as an unknown key does
            size, ahead = _count("batch_size", batch_size, 1), _count("prepare_ahead", prepare_ahead, 0)
            _check_modes(frames, decoding, size, batch_size)
            place = placement("humansense_omni", device, device_map)
            self.arch, self.factor = architecture_of(str(pretrained))
        except ValueError as exc:
            raise ModelArgValueStop(str(exc)) from None
        import torch
        import transformers

        self._device = place.device
        self.frames, self.decoding, self.seed = frames, decoding, int(seed)
        torch_dtype: Any = dtype if dtype == "auto" else getattr(torch, str(dtype), None)
        if torch_dtype is None:
            raise ModelArgValueStop(f"humansense_omni: unknown dtype {dtype!r}; use auto, bfloat16, float16 or float32")

        load: dict[str, Any] = {"dtype": torch_dtype, "enable_audio_output": False}
        if attn_implementation:
            load["attn_implementation"] = attn_implementation
        if place.device_map:
            load["device_map"] = place.device_map
        # Text is all HumanSense scores: the talker is never built (saves ~2 GB on the 7B model).
        model = getattr(transformers, self.arch.model_class).from_pretrained(pretrained, **load)
        self.thinker = model.thinker.eval() if place.device_map else model.thinker.to(self._device).eval()
        # Inputs go where the thinker's embeddings are (with device_map=auto: its first GPU).
        self._inputs_device = self.thinker.get_input_embeddings().weight.device
        self.official_generation = (
            thinker_generation_config(pretrained, self.thinker.generation_config) if decoding == "official" else None
        )
        self.processor = getattr(transformers, self.arch.processor_class).from_pretrained(pretrained)
        self.tokenizer = self.processor.tokenizer
        self.system_prompt = system_prompt
        self.name = str(pretrained)
        self.batch_size_per_gpu, self.prepare_ahead = size, ahead
        self._rank, self._world_size = place.rank, place.world_size
        # What changes an answer; the device, device_map and prepare_ahead do not (within numerics).
        identity = {
            "dtype": dtype,
            "frames": frames,
            "decoding": decoding,
            "seed": self.seed,
            "batch_size": size,
            "attn_implementation": attn_implementation,
            "system_prompt": system_prompt,
        }
        self.journal = open_journal(resume, "humansense_omni", identity, checkpoint_identity(model), self._rank)

    @property
    def batch_size(self) -> int:
        return self.batch_size_per_gpu

    @property
    def device(self) -> Any:
        return self._device

    @property
    def rank(self) -> int:
        return self._rank

    @property
    def world_size(self) -> int:
        return self._world_size

    def _conversation(self, kind: str | None, prompt: str) -> list[dict[str, Any]]:
        media = [{"type": kind}] if kind else []
        return [
            {"role": "system", "content": [{"type": "text", "text": self.system_prompt}]},
            {"role": "user", "content": [*media, {"type": "text", "text": prompt}]},
        ]

    def _fed(self) -> Fed:
        return Fed(
            model=self.name,
            frames_mode=self.frames,
            architecture=self.arch.model_type,
            reader=f"qwen-omni-utils, factor {self.factor}",
        )

    def materials(self, q: Question) -> tuple[str, Any, Any, Fed]:
        """One question's chat text, frames (or ``None``), sound (or ``None``) and record."""
        doc, code = q.doc, q.doc.get("task")
        fed = self._fed()
        if q.kind == "text":  # the blind variant: the question and options only
            return self._text(None, q.prompt), None, None, fed
        audio = hooks.doc_to_audio(doc)
        if q.kind == "audio":
            if audio is None:
                raise MediaError(
                    f"HumanSense doc {doc['id']}: task {code} is audio-only and the variant withholds audio"
                )
            self._record_sound(fed, audio["array"], "audio file")
            return self._text("audio", q.prompt), None, audio["array"], fed
        path = doc["media"]
        native = float(doc.get("fps") or 0)
        total = float(doc.get("frames") or 0)
        if native <= 0 or total <= 0:  # records without the fields: use the container's own figures
            from lmms_humansense.media import probe_video

            info = probe_video(path)
            native, total = native or info.fps, total or info.frames
        try:
            frames, sample_fps = read_frames(path, official_fps(total, native), self.frames, self.factor)
        except MediaError as exc:
            raise MediaError(f"HumanSense doc {doc['id']} (task {code}): {exc}") from None
        fed.frames, fed.frame_size = int(frames.shape[0]), [int(frames.shape[2]), int(frames.shape[3])]
        fed.sample_fps = round(sample_fps, 4)
        if audio is None:
            return self._text("video", q.prompt), frames, None, fed
        self._record_sound(fed, audio["array"], "video track")
        return self._text("video", q.prompt), frames, audio["array"], fed

    def _text(self, kind: str | None, prompt: str) -> str:
        return self.processor.apply_chat_template(self._conversation(kind, prompt), add_generation_prompt=True)

    def _record_sound(self, fed: Fed, array: Any, source: str) -> None:
        """The seconds of sound the model gets: the feature extractor's ``n_samples`` at most when
        the architecture's processor truncates (Qwen2.5-Omni: 30 s), with the cut flagged."""
        given = len(array)
        kept = min(given, self.processor.feature_extractor.n_samples) if self.arch.truncates_audio else given
        fed.audio_seconds = round(kept / SAMPLE_RATE, 3)
        fed.audio_given_seconds = round(given / SAMPLE_RATE, 3)
        fed.audio_cut = kept < given
        fed.audio_source = source

    def prepare(self, batch: Batch) -> Batch:
        """Read every question's media and build the batch's processor inputs (run ahead, in a thread).

        A question whose media fails is left out and its error kept for its turn; the others
        are still prepared (their answers do not depend on their batch mates)."""
        start = time.perf_counter()
        kept: list[Question] = []
        texts, videos, sounds, feds = [], [], [], []
        errors: dict[int, BaseException] = {}
        for q in batch.questions:
            try:
                text, frames, sound, fed = self.materials(q)
            except Exception as exc:  # noqa: BLE001 - raised when this question's turn comes
                errors[q.index] = exc
                continue
            kept.append(q)
            texts.append(text)
            feds.append(fed)
            if frames is not None:
                videos.append(frames)
            if sound is not None:
                sounds.append(sound)
        batch.questions, batch.feds, batch.errors = kept, feds, errors
        if kept:
            call: dict[str, Any] = {"text": texts, "return_tensors": "pt", "padding": True}
            if videos:
                call["videos"] = videos
            if sounds:
                call["audio"] = sounds
            if videos and sounds:  # each video's own sound, interleaved with its frames
                call["audio_from_video_indices"] = list(range(len(videos)))
                call["load_audio_from_video"] = True
            # The official runner passes no fps to the processor (its default sets the temporal
            # positions); the same here, so audio and frames are aligned as in the paper's runs.
            batch.inputs = self.processor(**call)
        batch.seconds = time.perf_counter() - start
        return batch

    def decoding_kwargs(self, doc: dict[str, Any], gen_kwargs: dict[str, Any], fed: Fed) -> dict[str, Any]:
        """The ``generate`` arguments of this question's decoding (seeding the RNG when it samples)."""
        import torch

        fed.decoding = self.decoding
        if self.decoding == "greedy":
            return {
                "max_new_tokens": int(gen_kwargs.get("max_new_tokens", OFFICIAL_MAX_NEW_TOKENS)),
                "do_sample": False,
                "num_beams": 1,
                "eos_token_id": self.tokenizer.eos_token_id,
                "pad_token_id": self.tokenizer.pad_token_id,
            }
        # As the official runner: no decoding argument but the thinker's token budget; the rest
        # comes from the thinker's own generation config.
        config = self.official_generation
        out: dict[str, Any] = {"max_new_tokens": OFFICIAL_MAX_NEW_TOKENS, "generation_config": config}
        if config.eos_token_id is None:
            out["eos_token_id"] = self.tokenizer.eos_token_id
        if config.pad_token_id is None:
            out["pad_token_id"] = self.tokenizer.pad_token_id
        fed.seed = question_seed(self.seed, str(doc["id"]))
        torch.manual_seed(fed.seed)  # also seeds every CUDA device
        fed.sampling = {key: getattr(config, key, None) for key in SAMPLING_KEYS}
        fed.sampling["max_new_tokens"] = OFFICIAL_MAX_NEW_TOKENS
        return out

    def answer_batch(self, batch: Batch) -> list[tuple[Question, str, Fed]]:
        """Text-only answers of a prepared batch, each with the record of what was fed."""
        import torch

        if not batch.questions:
            return []
        start = time.perf_counter()
        first = batch.questions[0]
        decode = {}
        for q, fed in zip(batch.questions, batch.feds or [], strict=True):
            decode = self.decoding_kwargs(q.doc, q.gen_kwargs, fed)
        inputs = batch.inputs.to(self._inputs_device)
        dtype = self.thinker.dtype
        for key in ("pixel_values_videos", "input_features"):
            if key in inputs:
                inputs[key] = inputs[key].to(dtype)
        until = first.gen_kwargs.get("until") or []
        until = [until] if isinstance(until, str) else list(until)
        with torch.inference_mode():
            out = self.thinker.generate(**inputs, use_audio_in_video=first.kind == "video+sound", **decode)
        width = inputs["input_ids"].shape[1]
        size = len(batch.questions)
        seconds = (batch.seconds + time.perf_counter() - start) / size
        stops = {self.tokenizer.eos_token_id, decode.get("eos_token_id")} - {None}
        answers = []
        for row, (q, fed) in enumerate(zip(batch.questions, batch.feds or [], strict=True)):
            ids = inputs["input_ids"][row]
            fed.video_tokens = int((ids == self.processor.video_token_id).sum())
            fed.audio_tokens = int((ids == self.processor.audio_token_id).sum())
            new = out[row, width:]
            if size > 1:  # a row that stopped early is padded to the longest one: cut after its stop token
                ends = [i for i, t in enumerate(new.tolist()) if t in stops]
                new = new[: ends[0] + 1] if ends else new
            text = self.tokenizer.decode(new, skip_special_tokens=True, clean_up_tokenization_spaces=False)
            for stop in until:
                if stop:
                    text = text.split(stop)[0]
            fed.prompt_tokens = int(inputs["attention_mask"][row].sum()) if size > 1 else int(width)
            fed.new_tokens, fed.batch = int(new.shape[0]), size
            fed.seconds = round(seconds, 4)
            answers.append((q, text, fed))
        return answers

    def inputs_for(self, doc: dict[str, Any], prompt: str) -> tuple[Any, bool, Fed]:
        """One doc's processor inputs, whether its sound is interleaved with its frames, and its record."""
        batch = self.prepare(Batch([Question(0, doc, prompt, {}, hooks.question_kind(doc))]))
        if batch.errors:
            raise batch.errors[0]
        return batch.inputs, batch.questions[0].kind == "video+sound", (batch.feds or [])[0]

    def answer(self, doc: dict[str, Any], prompt: str, gen_kwargs: dict[str, Any]) -> tuple[str, Fed]:
        """One question answered on its own (batch of one): its text and the record of what was fed."""
        batch = self.prepare(Batch([Question(0, doc, prompt, dict(gen_kwargs), hooks.question_kind(doc))]))
        if batch.errors:
            raise batch.errors[0]
        ((_, text, fed),) = self.answer_batch(batch)
        return text, fed

    def answers(self, questions: list[Question]) -> Iterator[tuple[Question, FedAnswer]]:
        """Every question's answer, one at a time and in request order (a journal can follow it).

        Batches are prepared ``prepare_ahead`` ahead in a thread while the model answers; a
        question whose preparation failed raises its own error when its turn comes, after every
        question before it has been answered.  A failure of one question's own media, sound or
        cache (:data:`MEDIA_FAILURES`) becomes its ``media_error`` answer and the run goes on.
        """
        done: dict[int, FedAnswer] = {}
        failed: dict[int, BaseException] = {}
        turn = 0
        batches = plan_batches(questions, self.batch_size_per_gpu)
        stream = prepared(batches, self.prepare, self.prepare_ahead)
        try:
            for batch, ready in stream:
                if isinstance(ready, BaseException):  # the batch's processor call itself failed
                    ids = ", ".join(str(q.doc.get("id")) for q in batch.questions)
                    failed[batch.questions[0].index] = RuntimeError(
                        f"humansense_omni: building the processor inputs of HumanSense docs {ids} failed: {ready}"
                    ).with_traceback(ready.__traceback__)
                else:
                    failed.update(ready.errors or {})
                    for q, text, fed in self.answer_batch(ready):
                        done[q.index] = FedAnswer(text, asdict(fed))
                while turn in done or turn in failed:
                    if turn in failed:
                        error = failed.pop(turn)
                        if not isinstance(error, MEDIA_FAILURES):
                            raise error
                        yield questions[turn], media_error_answer(error)
                    else:
                        yield questions[turn], done.pop(turn)
                    turn += 1
        finally:
            stream.close()

    def generate_until(self, requests: list[Any]) -> list[FedAnswer]:
        from tqdm import tqdm

        out: list[Any] = [None] * len(requests)
        questions, keys = [], []
        for index, request in enumerate(requests):
            context, gen_kwargs, _doc_to_visual, doc_id, task, split = request.args
            doc = self.task_dict[task][split][doc_id]
            code = doc.get("task")
            if code not in BY_CODE or "media" not in doc:
                raise ValueError(
                    f"humansense_omni runs the HumanSense tasks only (humansense_*); got a doc of task {code!r}"
                )
            keys.append(answer_key(task, doc_id, doc.get("qid")))
            out[index] = self.journal.get(keys[-1]) if self.journal else None
            if out[index] is None:
                questions.append(
                    Question(len(questions), doc, context, dict(gen_kwargs), hooks.question_kind(doc), index)
                )
        bar = tqdm(total=len(requests), desc="humansense_omni", disable=self.rank != 0)
        bar.update(len(requests) - len(questions))
        for index, answer in enumerate(out):
            if answer is not None:
                self._cache(requests[index], answer)
        for q, answer in self.answers(questions):
            index = q.request
            if self.journal:
                self.journal.add(keys[index], answer)
            self._cache(requests[index], answer)
            out[index] = answer
            bar.update(1)
        bar.close()
        return out

    def _cache(self, request: Any, answer: str) -> None:
        """Hand an answer to lmms-eval's legacy cache hook (a media error keeps its marker text)."""
        context, gen_kwargs = request.args[:2]
        self.cache_hook.add_partial("generate_until", (context, gen_kwargs), str(answer))

    def loglikelihood(self, requests: list[Any]) -> list[tuple[float, bool]]:
        raise NotImplementedError("humansense_omni only generates answers (HumanSense tasks are generate_until)")

    def generate_until_multi_round(self, requests: list[Any]) -> list[str]:
        raise NotImplementedError("humansense_omni answers single-turn HumanSense questions only")


def _check_modes(frames: str, decoding: str, size: int, batch_size: int | str) -> None:
    """Refuse a frame reader or decoding this adapter does not have, or a batch ``decoding=official``
    cannot keep, with the choices."""
    if frames not in FRAME_MODES:
        raise ValueError(
            f"humansense_omni: frames={frames!r} is not a frame reader; use frames=official (the benchmark "
            "runner's, default) or frames=open_r1_16 (the training code's 16-frame reader)"
        )
    if decoding not in DECODINGS:
        raise ValueError(
            f"humansense_omni: decoding={decoding!r} is not a decoding; use decoding=greedy (default) or "
            "decoding=official (the checkpoint's thinker generation config, 1,024 new tokens, seeded per question)"
        )
    if decoding == "official" and size != 1:
        raise ValueError(
            f"humansense_omni: decoding=official samples with a seed of its own per question, which a batch "
            f"cannot keep; use batch_size=1 with it (got batch_size={batch_size}), or decoding=greedy to batch"
        )


def _count(name: str, value: int | str, least: int) -> int:
    """A whole-number model arg, refused with the fix when it is not one."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = least - 1
    if number < least:
        given = "--batch_size N on the lmms-eval command line" if name == "batch_size" else f"{name}=N in --model_args"
        raise ValueError(f"humansense_omni: {name}={value!r} must be a whole number of at least {least} ({given})")
    return number
