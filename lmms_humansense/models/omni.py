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

It is a *simple* model on purpose: it reads the whole doc (``self.task_dict[task][split][doc_id]``),
so it sees ``full_frame_number``, ``fps``, the media path and whether the variant gives sound,
which is everything the official runner's frame budget and audio switch need.  A chat model would
only see the content blocks of ``doc_to_messages``, which carry no frame budget.

What it fed the model (frames, frame size, seconds of sound) is recorded per doc and lands in the
doc's logged sample (``acc.fed``) through :func:`lmms_humansense.hooks.process_results`: lmms-eval
logs only the response of a model, and an in-process record needs no output path, works with
every ``--output_path`` layout and is never left behind as a stale file.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any

from lmms_eval.api.model import lmms

from lmms_humansense import hooks
from lmms_humansense.catalog import BY_CODE
from lmms_humansense.media import SAMPLE_RATE, MediaError

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


def read_frames(path: str, fps: float) -> tuple[Any, float]:
    """The official frame sample of a video as a float (T, C, H, W) tensor, and its sampling rate."""
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
        index = torch.linspace(0, total - 1, n).round().long().tolist()
        frames = torch.from_numpy(reader.get_batch(index).asnumpy()).permute(0, 3, 1, 2)
    except MediaError as exc:
        raise MediaError(f"{path}: {exc}") from None
    except Exception as exc:  # decord raises its own error types for broken files
        raise MediaError(f"{path}: frames do not decode ({exc}); re-extract or re-download it") from None
    h, w = frame_size(frames.shape[2], frames.shape[3], n)
    frames = tvf.resize(frames, [h, w], interpolation=InterpolationMode.BICUBIC, antialias=True).float()
    return frames, n / max(total, 1e-6) * native


class HumanSenseOmni(lmms):
    """The official HumanSense protocol for Qwen2.5-Omni checkpoints (simple lmms-eval model).

    ``--model_args pretrained=<hub id or folder>,device=cpu|cuda|cuda:N,dtype=auto|bfloat16|float16|float32``;
    ``attn_implementation=flash_attention_2`` as the official runner, if installed.
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
        **kwargs: Any,
    ) -> None:
        super().__init__()
        if kwargs:
            raise TypeError(
                f"humansense_omni got unknown model_args {sorted(kwargs)}; it takes pretrained, device, dtype, "
                "batch_size, attn_implementation, system_prompt"
            )
        if int(batch_size) != 1:
            raise ValueError(f"humansense_omni runs one question at a time (batch_size=1), got batch_size={batch_size}")
        import torch
        from transformers import Qwen2_5OmniForConditionalGeneration, Qwen2_5OmniProcessor

        self._device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        torch_dtype: Any = dtype if dtype == "auto" else getattr(torch, str(dtype), None)
        if torch_dtype is None:
            raise ValueError(f"humansense_omni: unknown dtype {dtype!r}; use auto, bfloat16, float16 or float32")
        load: dict[str, Any] = {"dtype": torch_dtype, "enable_audio_output": False}
        if attn_implementation:
            load["attn_implementation"] = attn_implementation
        # Text is all HumanSense scores: the talker is never built (saves ~2 GB on the 7B model).
        model = Qwen2_5OmniForConditionalGeneration.from_pretrained(pretrained, **load)
        self.thinker = model.thinker.to(self._device).eval()
        self.processor = Qwen2_5OmniProcessor.from_pretrained(pretrained)
        self.tokenizer = self.processor.tokenizer
        self.system_prompt = system_prompt
        self.name = str(pretrained)
        self.batch_size_per_gpu = 1
        self._rank, self._world_size = 0, 1

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
            frames, sample_fps = read_frames(path, official_fps(total, native))
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

    def answer(self, doc: dict[str, Any], prompt: str, gen_kwargs: dict[str, Any]) -> tuple[str, Fed]:
        """One greedy, text-only answer and the record of what was fed."""
        import torch

        start = time.perf_counter()
        inputs, use_audio_in_video, fed = self.inputs_for(doc, prompt)
        inputs = inputs.to(self._device)
        dtype = self.thinker.dtype
        for key in ("pixel_values_videos", "input_features"):
            if key in inputs:
                inputs[key] = inputs[key].to(dtype)
        until = gen_kwargs.get("until") or []
        until = [until] if isinstance(until, str) else list(until)
        with torch.inference_mode():
            out = self.thinker.generate(
                **inputs,
                use_audio_in_video=use_audio_in_video,
                max_new_tokens=int(gen_kwargs.get("max_new_tokens", 1024)),
                do_sample=False,
                num_beams=1,
                eos_token_id=self.tokenizer.eos_token_id,
                pad_token_id=self.tokenizer.pad_token_id,
            )
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

    def generate_until(self, requests: list[Any]) -> list[str]:
        from tqdm import tqdm

        out: list[str] = []
        for request in tqdm(requests, desc="humansense_omni", disable=self.rank != 0):
            context, gen_kwargs, _doc_to_visual, doc_id, task, split = request.args
            doc = self.task_dict[task][split][doc_id]
            text, fed = self.answer(doc, context, dict(gen_kwargs))
            hooks.record_fed(doc, asdict(fed))
            self.cache_hook.add_partial("generate_until", (context, gen_kwargs), text)
            out.append(text)
        return out

    def loglikelihood(self, requests: list[Any]) -> list[tuple[float, bool]]:
        raise NotImplementedError("humansense_omni only generates answers (HumanSense tasks are generate_until)")

    def generate_until_multi_round(self, requests: list[Any]) -> list[str]:
        raise NotImplementedError("humansense_omni answers single-turn HumanSense questions only")
