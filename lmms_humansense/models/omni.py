"""``humansense_omni``: Qwen2.5-Omni-family checkpoints under the official HumanSense protocol.

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
from dataclasses import asdict, dataclass
from typing import Any

from lmms_eval.api.model import lmms

from lmms_humansense import hooks
from lmms_humansense.catalog import BY_CODE
from lmms_humansense.media import SAMPLE_RATE, MediaError
from lmms_humansense.models.args import check_model_args
from lmms_humansense.models.placement import placement

#: The system message of the official Qwen2.5-Omni runner.
SYSTEM_PROMPT = (
    "You are Qwen, a virtual human developed by the Qwen Team, Alibaba Group, capable of perceiving auditory "
    "and visual inputs, as well as generating text and speech."
)
#: Official frame budget: at most this many frames per clip.
MAX_FRAMES = 24
#: Official ``max_pixels`` for video frames.
MAX_PIXELS = 360 * 420
# qwen-omni-utils' video constants (the official runner's frame reader).
_FACTOR = 28
_FRAME_FACTOR = 2
_MIN_FRAMES = 4
_MAX_FRAMES_CAP = 768
_VIDEO_MIN_PIXELS = 128 * 28 * 28
_VIDEO_MAX_PIXELS = 768 * 28 * 28
_VIDEO_TOTAL_PIXELS = int(128000 * 28 * 28 * 0.9)
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


def frame_size(height: int, width: int, nframes: int) -> tuple[int, int]:
    """qwen-omni-utils' ``smart_resize`` for a video frame under the official ``max_pixels``."""
    max_pixels = max(
        min(_VIDEO_MAX_PIXELS, _VIDEO_TOTAL_PIXELS / nframes * _FRAME_FACTOR), int(_VIDEO_MIN_PIXELS * 1.05)
    )
    max_pixels = min(MAX_PIXELS, max_pixels)
    h = max(_FACTOR, round(height / _FACTOR) * _FACTOR)
    w = max(_FACTOR, round(width / _FACTOR) * _FACTOR)
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h = math.floor(height / beta / _FACTOR) * _FACTOR
        w = math.floor(width / beta / _FACTOR) * _FACTOR
    elif h * w < _VIDEO_MIN_PIXELS:
        beta = math.sqrt(_VIDEO_MIN_PIXELS / (height * width))
        h = math.ceil(height * beta / _FACTOR) * _FACTOR
        w = math.ceil(width * beta / _FACTOR) * _FACTOR
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
    """A seed of its own for each question, the same in every run and in every process."""
    return int(hashlib.sha256(f"{int(seed)}:{doc_id}".encode()).hexdigest()[:8], 16)


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


def read_frames(path: str, fps: float, frames: str = "official") -> tuple[Any, float]:
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
    h, w = frame_size(clip.shape[2], clip.shape[3], n)
    clip = tvf.resize(clip, [h, w], interpolation=InterpolationMode.BICUBIC, antialias=True).float()
    return clip, len(index) / max(total, 1e-6) * native


class HumanSenseOmni(lmms):
    """The official HumanSense protocol for Qwen2.5-Omni checkpoints (simple lmms-eval model).

    ``--model_args pretrained=<hub id or folder>,device=cpu|cuda|cuda:N,dtype=auto|bfloat16|float16|float32``;
    ``attn_implementation=flash_attention_2`` as the official runner, if installed;
    ``frames=official|open_r1_16``, ``decoding=greedy|official``, ``seed=N`` (see the module notes).
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
        **kwargs: Any,
    ) -> None:
        check_model_args(
            "humansense_omni",
            kwargs,
            (
                "pretrained",
                "device",
                "dtype",
                "batch_size",
                "attn_implementation",
                "system_prompt",
                "frames",
                "decoding",
                "seed",
            ),
        )
        super().__init__()
        if int(batch_size) != 1:
            raise ValueError(f"humansense_omni runs one question at a time (batch_size=1), got batch_size={batch_size}")
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
        import torch
        from transformers import Qwen2_5OmniForConditionalGeneration, Qwen2_5OmniProcessor

        place = placement("humansense_omni", device)
        self._device = place.device
        self.frames, self.decoding, self.seed = frames, decoding, int(seed)
        torch_dtype: Any = dtype if dtype == "auto" else getattr(torch, str(dtype), None)
        if torch_dtype is None:
            raise ValueError(f"humansense_omni: unknown dtype {dtype!r}; use auto, bfloat16, float16 or float32")
        load: dict[str, Any] = {"dtype": torch_dtype, "enable_audio_output": False}
        if attn_implementation:
            load["attn_implementation"] = attn_implementation
        # Text is all HumanSense scores: the talker is never built (saves ~2 GB on the 7B model).
        model = Qwen2_5OmniForConditionalGeneration.from_pretrained(pretrained, **load)
        self.thinker = model.thinker.to(self._device).eval()
        self.official_generation = (
            thinker_generation_config(pretrained, self.thinker.generation_config) if decoding == "official" else None
        )
        self.processor = Qwen2_5OmniProcessor.from_pretrained(pretrained)
        self.tokenizer = self.processor.tokenizer
        self.system_prompt = system_prompt
        self.name = str(pretrained)
        self.batch_size_per_gpu = 1
        self._rank, self._world_size = place.rank, place.world_size

    @property
    def batch_size(self) -> int:
        return 1

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

    def inputs_for(self, doc: dict[str, Any], prompt: str) -> tuple[Any, bool, Fed]:
        """The processor inputs for one doc, whether sound is interleaved with the video, and the record."""
        code = doc.get("task")
        if code not in BY_CODE or "media" not in doc:
            raise ValueError(
                f"humansense_omni runs the HumanSense tasks only (humansense_*); got a doc of task {code!r}"
            )
        fed = Fed(model=self.name)
        if hooks.media_withheld(doc):  # the blind variant: the question and options only
            text = self.processor.apply_chat_template(self._conversation(None, prompt), add_generation_prompt=True)
            return self.processor(text=text, return_tensors="pt", padding=True), False, fed
        audio = hooks.doc_to_audio(doc)
        if not BY_CODE[code].has_video:
            if audio is None:
                raise MediaError(
                    f"HumanSense doc {doc['id']}: task {code} is audio-only and the variant withholds audio"
                )
            fed.audio_seconds = round(len(audio["array"]) / SAMPLE_RATE, 3)
            fed.audio_source = "audio file"
            text = self.processor.apply_chat_template(self._conversation("audio", prompt), add_generation_prompt=True)
            inputs = self.processor(text=text, audio=[audio["array"]], return_tensors="pt", padding=True)
            return inputs, False, fed
        path = doc["media"]
        native = float(doc.get("fps") or 0)
        total = float(doc.get("frames") or 0)
        if native <= 0 or total <= 0:  # records without the fields: use the container's own figures
            from lmms_humansense.media import probe_video

            info = probe_video(path)
            native, total = native or info.fps, total or info.frames
        try:
            frames, sample_fps = read_frames(path, official_fps(total, native), self.frames)
        except MediaError as exc:
            raise MediaError(f"HumanSense doc {doc['id']} (task {code}): {exc}") from None
        fed.frames, fed.frame_size = int(frames.shape[0]), [int(frames.shape[2]), int(frames.shape[3])]
        fed.sample_fps = round(sample_fps, 4)
        text = self.processor.apply_chat_template(self._conversation("video", prompt), add_generation_prompt=True)
        # The official runner passes no fps to the processor (its default, 2.0, sets the temporal
        # positions); the same here, so audio and frames are aligned as in the paper's runs.
        if audio is None:
            inputs = self.processor(text=text, videos=[frames], return_tensors="pt", padding=True)
            return inputs, False, fed
        fed.audio_seconds = round(len(audio["array"]) / SAMPLE_RATE, 3)
        fed.audio_source = "video track"
        inputs = self.processor(
            text=text,
            videos=[frames],
            audio=[audio["array"]],
            audio_from_video_indices=[0],
            load_audio_from_video=True,
            return_tensors="pt",
            padding=True,
        )
        return inputs, True, fed

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

    def answer(self, doc: dict[str, Any], prompt: str, gen_kwargs: dict[str, Any]) -> tuple[str, Fed]:
        """One text-only answer and the record of what was fed."""
        import torch

        start = time.perf_counter()
        inputs, use_audio_in_video, fed = self.inputs_for(doc, prompt)
        fed.frames_mode = self.frames
        decode = self.decoding_kwargs(doc, gen_kwargs, fed)
        inputs = inputs.to(self._device)
        dtype = self.thinker.dtype
        for key in ("pixel_values_videos", "input_features"):
            if key in inputs:
                inputs[key] = inputs[key].to(dtype)
        until = gen_kwargs.get("until") or []
        until = [until] if isinstance(until, str) else list(until)
        with torch.inference_mode():
            out = self.thinker.generate(**inputs, use_audio_in_video=use_audio_in_video, **decode)
        prompt_len = inputs["input_ids"].shape[1]
        ids = inputs["input_ids"][0]
        fed.video_tokens = int((ids == self.processor.video_token_id).sum())
        fed.audio_tokens = int((ids == self.processor.audio_token_id).sum())
        new = out[0, prompt_len:]
        text = self.tokenizer.decode(new, skip_special_tokens=True, clean_up_tokenization_spaces=False)
        for stop in until:
            if stop:
                text = text.split(stop)[0]
        fed.prompt_tokens, fed.new_tokens = int(prompt_len), int(new.shape[0])
        fed.seconds = round(time.perf_counter() - start, 4)
        return text, fed

    def generate_until(self, requests: list[Any]) -> list[FedAnswer]:
        from tqdm import tqdm

        out: list[FedAnswer] = []
        for request in tqdm(requests, desc="humansense_omni", disable=self.rank != 0):
            context, gen_kwargs, _doc_to_visual, doc_id, task, split = request.args
            doc = self.task_dict[task][split][doc_id]
            text, fed = self.answer(doc, context, dict(gen_kwargs))
            self.cache_hook.add_partial("generate_until", (context, gen_kwargs), text)
            out.append(FedAnswer(text, asdict(fed)))
        return out

    def loglikelihood(self, requests: list[Any]) -> list[tuple[float, bool]]:
        raise NotImplementedError("humansense_omni only generates answers (HumanSense tasks are generate_until)")

    def generate_until_multi_round(self, requests: list[Any]) -> list[str]:
        raise NotImplementedError("humansense_omni answers single-turn HumanSense questions only")
