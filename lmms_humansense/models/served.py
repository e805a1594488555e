"""``humansense_openai``: HumanSense through any OpenAI-compatible chat-completions endpoint.

lmms-eval 0.7.3's served clients do not send the protocol: ``openai`` (chat) sends a sound as an
``audio_url`` holding a bare local path (a part type the OpenAI API does not accept, and a URL
vLLM's media loader refuses), and on the 5 speech video tasks too; ``vllm`` has no guard around
its call; ``sglang`` drops every sound; a failed request becomes an answer scored as wrong.  This
client sends each question as one chat-completions request holding what the official runner
gives the model:

* video tasks: the frames the official runner samples (the budget of
  :func:`lmms_humansense.models.omni.official_fps`, its frame count and resizing), as JPEG
  ``image_url`` parts (``video=frames``, default), or the clip itself as one ``video_url`` part
  (``video=url``: a base64 data URL; ``video=file``: a ``file://`` URL, for a server that reads
  the data folder itself, e.g. vLLM's ``--allowed-local-media-path``).  The server then samples
  the frames itself (see ``docs/served-models.md``);
* the sound, as an ``input_audio`` part (base64 16 kHz mono WAV of the whole track), for exactly
  the 7 tasks the protocol gives sound (the 5 speech video tasks and the FR2/PC audio files);
  ``audio=none`` sends none (endpoints without audio: the paper's GPT-4o row, the 13 video tasks
  only); ``audio=in_video`` (with ``video=url|file``) lets the server take the speech tasks' sound
  from the clip's own track (vLLM's ``use_audio_in_video``, passed in ``extra_body``);
* the prompt unchanged, text last; ``extra_body`` (a JSON object) merged into every request.

Many requests are in flight at once (``concurrency=``); each answer stays with its question, in
request order.  A request is retried with exponential backoff on 429, 5xx, time-outs, dropped
connections and unreadable bodies (``Retry-After`` honoured), within ``timeout=`` seconds in all;
one that still fails is answered with lmms-eval's failure marker and ``"outcome":
"request_failed"`` in its record, so scoring can leave it out instead of counting it wrong.
A configuration error the server names for every request (401, 403, 404) ends the run at once.

What was sent travels with each answer as a :class:`~lmms_humansense.models.omni.FedAnswer`
(``acc.fed`` in the logged samples): frames and their size, seconds of sound, bytes, the model the
server names, latency, attempts and tokens.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import logging
import os
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from lmms_eval.api.model import lmms

from lmms_humansense import hooks
from lmms_humansense.catalog import BY_CODE, TASKS
from lmms_humansense.media import SAMPLE_RATE, MediaError, write_wav
from lmms_humansense.models.args import check_model_args, constructor_args
from lmms_humansense.models.journal import answer_key, open_journal
from lmms_humansense.models.omni import (
    MEDIA_FAILURES,
    SYSTEM_PROMPT,
    FedAnswer,
    media_error_answer,
    official_fps,
    read_frames,
)

log = logging.getLogger("lmms_humansense")

VIDEO_MODES = ("frames", "url", "file")
AUDIO_MODES = ("auto", "none", "in_video")
#: HTTP statuses worth another try: the server is busy, restarting, or timed out.
RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
#: Statuses that mean the configuration is wrong for every request (key, model, URL): stop the run.
CONFIG_STATUSES = {
    401: "the server refused the API key: set OPENAI_API_KEY or pass api_key=",
    403: "the server refused the API key: set OPENAI_API_KEY or pass api_key=",
    404: "the server has no such endpoint or model: check base_url= (it ends in /v1) and model=",
}
#: The longest single wait between tries, whatever Retry-After says.
MAX_BACKOFF_S = 60.0
FAILED_MARKER = "[LMMS_EVAL_REQUEST_FAILED after {n} retries] {reason}"


class ServedStop(SystemExit):
    """A configuration error that every request would hit (bad key, model or URL, or a task the
    configuration cannot send).

    A ``SystemExit`` because lmms-eval 0.7.3's CLI catches every ``Exception``, prints it and
    exits 0: the run must end with status 1 and this message as its last line instead.
    """


class RequestFailed(Exception):
    """One attempt failed; ``retry`` says whether another attempt may succeed."""

    def __init__(self, reason: str, retry: bool, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.retry, self.wait = reason, retry, wait


@dataclass
class ServedFed:
    """What one question sent to the server and what came back; logged as ``acc.fed``."""

    model: str
    endpoint: str
    outcome: str = "answered"  # "answered" or "request_failed"
    server_model: str | None = None
    video: str = "none"  # "frames", "url", "file" or "none"
    frames: int = 0
    frame_size: list[int] | None = None
    sample_fps: float = 0.0
    video_bytes: int = 0
    audio_seconds: float = 0.0
    audio_source: str = "none"  # "video track", "audio file", "in video" or "none"
    request_bytes: int = 0
    prepare_s: float = 0.0  # reading and encoding the media into the request
    attempts: int = 0
    latency_s: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    error: str | None = None
    retried: list[str] = field(default_factory=list)


def wav_base64(array: Any, rate: int = SAMPLE_RATE) -> str:
    """A float waveform as a base64 16-bit PCM mono WAV, the ``input_audio`` format every
    endpoint that takes audio reads."""
    import numpy as np

    buf = io.BytesIO()
    write_wav(buf, np.clip(np.asarray(array, dtype=np.float32), -1.0, 1.0), "PCM_16", int(rate))
    return base64.b64encode(buf.getvalue()).decode("ascii")


def jpeg_data_urls(frames: Any, quality: int = 95) -> list[str]:
    """(T, C, H, W) float frames (0-255) as JPEG data URLs, one ``image_url`` each."""
    from PIL import Image

    out = []
    for frame in frames.clamp(0, 255).round().byte().permute(0, 2, 3, 1).numpy():
        buf = io.BytesIO()
        Image.fromarray(frame).save(buf, format="JPEG", quality=quality)
        out.append("data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii"))
    return out


def retry_after(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (a number or an HTTP date), if any."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def backoff(attempt: int, base: float = 0.5) -> float:
    """Exponential backoff with jitter (0.5, 1, 2, 4 ... s, each between half and the full value)."""
    delay = min(MAX_BACKOFF_S, base * (2**attempt))
    return delay * (0.5 + random.random() / 2)


class HumanSenseServed(lmms):
    """The HumanSense protocol through an OpenAI-compatible chat-completions endpoint (simple model).

    ``--model_args base_url=http://HOST:PORT/v1,model=NAME`` and optionally ``api_key=`` (default:
    ``$OPENAI_API_KEY``), ``video=frames|url|file``, ``audio=auto|none|in_video``, ``concurrency=8``,
    ``timeout=600`` (seconds per request, all tries together), ``max_retries=5``,
    ``attempt_timeout=300`` (seconds per try), ``system_prompt=none|qwen``,
    ``extra_body={"mm_processor_kwargs": {"use_audio_in_video": true}}``, ``max_tokens=`` (default:
    the task's ``max_new_tokens``), ``media_cache=16`` (clips whose encoded frames are kept; 0: none).

    A *simple* model, as ``humansense_omni``: it reads the whole doc, which carries the frame budget
    (``full_frame_number``, ``fps``) that a chat model's content blocks do not.
    """

    is_simple = True

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000/v1",
        model: str = "",
        api_key: str | None = None,
        video: str = "frames",
        audio: str = "auto",
        concurrency: int = 8,
        timeout: float = 600.0,
        attempt_timeout: float = 300.0,
        max_retries: int = 5,
        system_prompt: str = "none",
        extra_body: str | dict[str, Any] | None = None,
        max_tokens: int | None = None,
        jpeg_quality: int = 95,
        media_cache: int = 16,
        resume: str = "",
        batch_size: int | str = 1,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        # ``**kwargs`` only catches lmms-eval's own max_batch_size/device; a misspelt key stops here.
        check_model_args("humansense_openai", kwargs, constructor_args(HumanSenseServed))
        if not model:
            raise ServedStop(
                "humansense_openai needs model=<the name the server serves>, e.g. "
                "--model_args base_url=http://127.0.0.1:8000/v1,model=Qwen/Qwen2.5-Omni-7B"
            )
        if video not in VIDEO_MODES:
            raise ServedStop(f"humansense_openai: video={video!r}; use one of {', '.join(VIDEO_MODES)}")
        if audio not in AUDIO_MODES:
            raise ServedStop(f"humansense_openai: audio={audio!r}; use one of {', '.join(AUDIO_MODES)}")
        if audio == "in_video" and video == "frames":
            raise ServedStop(
                "humansense_openai: audio=in_video takes the sound from the clip's own track, so it needs "
                "video=url or video=file (frames carry no sound)"
            )
        split = urlsplit(str(base_url).rstrip("/"))
        if split.scheme not in ("http", "https") or not split.hostname:
            raise ServedStop(
                f"humansense_openai: base_url={base_url!r} is not an http(s) URL such as http://HOST:8000/v1"
            )
        self.base_url, self._split = str(base_url).rstrip("/"), split
        self.endpoint = f"{self.base_url}/chat/completions"
        self.model_name = str(model)
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
        self.video, self.audio = video, audio
        self.concurrency = max(1, int(concurrency))
        self.timeout, self.attempt_timeout = float(timeout), float(attempt_timeout)
        self.max_retries = max(0, int(max_retries))
        self.jpeg_quality = int(jpeg_quality)
        # The encoded frames of the last few clips: the benchmark asks several questions about
        # each clip, and decoding + resizing + JPEG is most of the client's work per question.
        self.media_cache = max(0, int(media_cache))
        self._media: OrderedDict[tuple[str, float, float], tuple[list[str], list[int], float]] = OrderedDict()
        self._media_lock = threading.Lock()
        self.max_tokens = int(max_tokens) if max_tokens is not None else None
        if system_prompt not in ("none", "qwen"):
            raise ServedStop(
                "humansense_openai: system_prompt= is `none` (the server's chat template decides) or `qwen` "
                "(the official Qwen2.5-Omni runner's system message)"
            )
        self.system_prompt = SYSTEM_PROMPT if system_prompt == "qwen" else None
        if isinstance(extra_body, str) and extra_body:
            if len(extra_body) > 1 and extra_body[0] == extra_body[-1] and extra_body[0] in "'\"":
                extra_body = extra_body[1:-1]  # lmms-eval keeps the quotes of a quoted value
            try:
                extra_body = json.loads(extra_body)
            except json.JSONDecodeError as exc:
                raise ServedStop(
                    f"humansense_openai: extra_body is not JSON ({exc}); write a JSON object and quote the whole "
                    "--model_args for the shell, e.g. --model_args "
                    '\'base_url=...,extra_body={"mm_processor_kwargs": {"use_audio_in_video": true}}\''
                ) from None
        if extra_body and not isinstance(extra_body, dict):
            raise ServedStop("humansense_openai: extra_body must be a JSON object")
        self.extra_body: dict[str, Any] = dict(extra_body or {})
        self.batch_size_per_gpu = 1
        identity = {
            "video": video,
            "audio": audio,
            "system_prompt": system_prompt,
            "extra_body": self.extra_body,
            "max_tokens": self.max_tokens,
            "jpeg_quality": self.jpeg_quality,
        }
        served = f"{self.model_name} at {self.base_url}"
        self.journal = open_journal(resume, "humansense_openai", identity, served, self._rank)

    @property
    def batch_size(self) -> int:
        return 1

    # --- what one question sends -------------------------------------------------------------
    def check_doc(self, doc: dict[str, Any]) -> None:
        """Refuse, before anything is sent, a doc this configuration cannot ask as the protocol does."""
        code = doc.get("task")
        if code not in BY_CODE or "media" not in doc:
            raise ServedStop(f"humansense_openai runs the HumanSense tasks only (humansense_*); got a doc of {code!r}")
        if self.audio == "none" and not BY_CODE[code].has_video and doc.get("with_audio"):
            video_tasks = ",".join(t.leaf for t in TASKS if t.has_video)
            raise ServedStop(
                f"humansense_openai: task {code} (doc {doc['id']}) is audio-only, and audio=none sends no sound. "
                "Run the 13 video tasks only, as the paper's frames-only rows do ('-' for FR2/PC): "
                f"--tasks {video_tasks}; or drop audio=none for an endpoint that takes input_audio."
            )

    def content_for(self, doc: dict[str, Any], prompt: str, fed: ServedFed) -> list[dict[str, Any]]:
        """The user message's parts for one doc (media first, prompt last), recording them in ``fed``."""
        parts: list[dict[str, Any]] = []
        kind = hooks.question_kind(doc)  # the protocol's one rule for what this question gets
        if kind == "text":  # the blind variant: the question and options only
            return [{"type": "text", "text": prompt}]
        has_video = kind != "audio"
        sound = kind in ("audio", "video+sound") and doc.get("with_audio") and self.audio != "none"
        if has_video:
            parts.extend(self._video_parts(doc, fed, keep_track=bool(sound and self.audio == "in_video")))
        if sound and not (has_video and self.audio == "in_video"):
            audio = hooks.doc_to_audio(doc)
            if audio is not None:
                fed.audio_seconds = round(len(audio["array"]) / SAMPLE_RATE, 3)
                fed.audio_source = "video track" if has_video else "audio file"
                parts.append(
                    {"type": "input_audio", "input_audio": {"data": wav_base64(audio["array"]), "format": "wav"}}
                )
        elif sound:
            fed.audio_source = "in video"
        parts.append({"type": "text", "text": prompt})
        return parts

    def _video_parts(self, doc: dict[str, Any], fed: ServedFed, keep_track: bool) -> list[dict[str, Any]]:
        path = doc["media"]
        fed.video = self.video
        if self.video != "frames":
            # The clip itself: its own track only where the protocol gives that sound and the
            # server is to take it from the clip; otherwise the silent copy, so nothing is heard
            # that the protocol withholds.
            from lmms_humansense.media import silent_video

            source = path if keep_track else silent_video(path)
            fed.video_bytes = os.path.getsize(source)
            if self.video == "file":
                return [{"type": "video_url", "video_url": {"url": "file://" + os.path.abspath(source)}}]
            with open(source, "rb") as f:
                data = base64.b64encode(f.read()).decode("ascii")
            return [{"type": "video_url", "video_url": {"url": "data:video/mp4;base64," + data}}]
        native = float(doc.get("fps") or 0)
        total = float(doc.get("frames") or 0)
        if native <= 0 or total <= 0:  # records without the fields: the container's own figures
            from lmms_humansense.media import probe_video

            info = probe_video(path)
            native, total = native or info.fps, total or info.frames
        key = (os.path.abspath(path), total, native)
        with self._media_lock:
            hit = self._media.get(key)
            if hit is not None:
                self._media.move_to_end(key)
        if hit is None:
            try:
                frames, sample_fps = read_frames(path, official_fps(total, native))
            except MediaError as exc:
                raise MediaError(f"HumanSense doc {doc['id']} (task {doc['task']}): {exc}") from None
            size = [int(frames.shape[2]), int(frames.shape[3])]
            hit = (jpeg_data_urls(frames, self.jpeg_quality), size, round(sample_fps, 4))
            with self._media_lock:
                self._media[key] = hit
                while len(self._media) > self.media_cache:
                    self._media.popitem(last=False)
        urls, fed.frame_size, fed.sample_fps = hit
        fed.frames, fed.video_bytes = len(urls), sum(len(u) for u in urls)
        return [{"type": "image_url", "image_url": {"url": u}} for u in urls]

    def body_for(self, doc: dict[str, Any], prompt: str, gen_kwargs: dict[str, Any], fed: ServedFed) -> bytes:
        messages: list[dict[str, Any]] = []
        if self.system_prompt:
            messages.append({"role": "system", "content": self.system_prompt})
        messages.append({"role": "user", "content": self.content_for(doc, prompt, fed)})
        body: dict[str, Any] = {
            "model": self.model_name,
            "messages": messages,
            "max_tokens": self.max_tokens or int(gen_kwargs.get("max_new_tokens", 256)),
            "temperature": float(gen_kwargs.get("temperature", 0) or 0),
        }
        until = gen_kwargs.get("until") or []
        until = [until] if isinstance(until, str) else [u for u in until if u]
        if until:
            body["stop"] = until
        body.update(self.extra_body)
        return json.dumps(body).encode("utf-8")

    # --- sending, with retries ----------------------------------------------------------------
    def _attempt(self, payload: bytes, seconds: float) -> tuple[dict[str, Any], str | None]:
        """One POST; the parsed reply, or :class:`RequestFailed` saying whether to try again."""
        split = self._split
        conn_cls = http.client.HTTPSConnection if split.scheme == "https" else http.client.HTTPConnection
        conn = conn_cls(split.hostname, split.port, timeout=max(0.1, seconds))
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        try:
            conn.request("POST", f"{split.path}/chat/completions", body=payload, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        except TimeoutError:
            raise RequestFailed(f"no reply within {seconds:.0f} s", retry=True) from None
        except (ConnectionError, http.client.HTTPException, OSError) as exc:
            raise RequestFailed(f"connection failed ({type(exc).__name__}: {exc})", retry=True) from None
        finally:
            conn.close()
        status = response.status
        if status != 200:
            text = raw[:300].decode("utf-8", "replace").strip()
            if status in CONFIG_STATUSES:
                raise ServedStop(
                    f"humansense_openai: {self.endpoint} answered HTTP {status} ({text}): {CONFIG_STATUSES[status]}"
                )
            retry = status in RETRY_STATUSES or status >= 500
            raise RequestFailed(
                f"HTTP {status}: {text}", retry=retry, wait=retry_after(response.getheader("Retry-After"))
            )
        try:
            reply = json.loads(raw)
            text = reply["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise RequestFailed(f"unreadable reply body ({raw[:120]!r})", retry=True) from None
        return reply, text

    def send(self, payload: bytes, fed: ServedFed) -> str:
        """The answer text, after as many tries as ``max_retries`` and ``timeout`` allow; the
        failure marker (and ``fed.outcome = "request_failed"``) when none succeeded."""
        start = time.monotonic()
        deadline = start + self.timeout
        reason = ""
        tries = 0
        for attempt in range(self.max_retries + 1):
            left = deadline - time.monotonic()
            if left <= 0:
                reason = f"{reason}; gave up at the {self.timeout:.0f} s bound (timeout=)"
                break
            tries = attempt + 1
            try:
                reply, text = self._attempt(payload, min(self.attempt_timeout, left))
            except RequestFailed as exc:
                reason = exc.reason
                fed.retried.append(exc.reason[:200])
                if not exc.retry or attempt == self.max_retries:
                    break
                wait = min(MAX_BACKOFF_S, exc.wait) if exc.wait is not None else backoff(attempt)
                if time.monotonic() + wait >= deadline:
                    reason = f"{reason}; the next try would pass the {self.timeout:.0f} s bound (timeout=)"
                    break
                time.sleep(wait)
                continue
            fed.attempts = tries
            fed.latency_s = round(time.monotonic() - start, 4)
            fed.server_model = reply.get("model")
            usage = reply.get("usage") or {}
            fed.prompt_tokens, fed.completion_tokens = usage.get("prompt_tokens"), usage.get("completion_tokens")
            fed.finish_reason = (reply.get("choices") or [{}])[0].get("finish_reason")
            return text or ""
        fed.attempts = tries
        fed.latency_s = round(time.monotonic() - start, 4)
        fed.outcome = "request_failed"
        fed.error = reason
        return FAILED_MARKER.format(n=max(tries - 1, 0), reason=reason)

    # --- one question, many in flight ---------------------------------------------------------
    def answer(self, doc: dict[str, Any], prompt: str, gen_kwargs: dict[str, Any]) -> FedAnswer:
        """One question: build its request, send it, and return the answer with its record."""
        fed = ServedFed(model=self.model_name, endpoint=self.endpoint)
        start = time.perf_counter()
        try:
            payload = self.body_for(doc, prompt, gen_kwargs, fed)
        except MEDIA_FAILURES as exc:  # this question's media: its outcome, not the run's end
            said = str(exc) if str(exc).startswith("HumanSense doc") else f"HumanSense doc {doc['id']}: {exc}"
            return media_error_answer(said)
        fed.prepare_s = round(time.perf_counter() - start, 5)
        fed.request_bytes = len(payload)
        text = self.send(payload, fed)
        if fed.outcome == "request_failed":
            if fed.retried and fed.retried[-1].startswith("HTTP 4"):  # refused as such: another try cannot help
                fix = (
                    "The server refused the request itself: if its reason names an audio, image or video part, this "
                    "endpoint does not take that input (run audio=none for frames only, or video=frames); otherwise "
                    "check model= and extra_body="
                )
            else:
                fix = (
                    f"Check that the server is up and can take concurrency={self.concurrency}; raise "
                    "timeout=/max_retries=, or lower concurrency=, and rerun"
                )
            fed.error = (
                f"HumanSense doc {doc['id']} (task {doc['task']}): the request to {self.endpoint} failed after "
                f"{fed.attempts} tries: {fed.error}. {fix}."
            )
            log.warning("%s", fed.error)
        return FedAnswer(text, asdict(fed))

    def iter_answers(self, requests: list[Any]) -> Iterator[tuple[int, FedAnswer]]:
        """(index, answer) for every request, as each finishes, ``concurrency`` in flight."""
        docs = []
        for request in requests:
            context, gen_kwargs, _visual, doc_id, task, split = request.args
            doc = self.task_dict[task][split][doc_id]
            self.check_doc(doc)
            docs.append((doc, context, dict(gen_kwargs)))
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="humansense_openai") as pool:
            futures = {pool.submit(self.answer, *item): i for i, item in enumerate(docs)}
            try:
                for future in as_completed(futures):
                    yield futures[future], future.result()
            except BaseException:
                for future in futures:
                    future.cancel()
                raise

    def generate_until(self, requests: list[Any]) -> list[FedAnswer]:
        from tqdm import tqdm

        out: list[Any] = [None] * len(requests)
        keys = []
        for index, request in enumerate(requests):
            _context, _gen_kwargs, _visual, doc_id, task, split = request.args
            keys.append(answer_key(task, doc_id, self.task_dict[task][split][doc_id].get("qid")))
            out[index] = self.journal.get(keys[-1]) if self.journal else None
        pending = [i for i, answer in enumerate(out) if answer is None]
        failed = 0
        answers = self.iter_answers([requests[i] for i in pending])
        for position, answer in tqdm(answers, total=len(pending), desc="humansense_openai"):
            index = pending[position]
            out[index] = answer
            failed += answer.fed["outcome"] == "request_failed"
            if self.journal and answer.fed["outcome"] != "request_failed":  # a failed request is tried again
                self.journal.add(keys[index], answer)
            context, gen_kwargs = requests[index].args[:2]
            if answer.fed.get("outcome") == "answered":
                self.cache_hook.add_partial("generate_until", (context, gen_kwargs), str(answer))
        if failed:
            log.warning(
                "humansense_openai: %d of %d requests failed after retries (outcome request_failed in acc.fed)",
                failed,
                len(requests),
            )
        return [a for a in out if a is not None]

    def loglikelihood(self, requests: list[Any]) -> list[tuple[float, bool]]:
        raise NotImplementedError("humansense_openai only generates answers (HumanSense tasks are generate_until)")

    def generate_until_multi_round(self, requests: list[Any]) -> list[str]:
        raise NotImplementedError("humansense_openai answers single-turn HumanSense questions only")
