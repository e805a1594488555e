"""``humansense_openai`` against a real OpenAI-compatible server, through the ``lmms-eval`` CLI.

The server is a real ``transformers serve`` on 127.0.0.1 with a tiny random-weight Qwen2.5-Omni
*thinker* checkpoint built here (the full Omni model's ``generate`` needs a talker on
transformers 5.x; the thinker is a multimodal LM the server feeds images and ``input_audio``).
In front of it sits a recording proxy of these tests' own: it records what each request carried
(images, seconds of WAV sound, the prompt), forwards it, and injects faults (429 with
Retry-After, 500, a hang past the client's per-try time-out, a malformed body, a connection
closed mid-reply) into chosen questions.  That the *server* heard the sound is shown by its own
token count: each audio request, replayed without its ``input_audio`` part, costs the server
fewer prompt tokens.
"""

from __future__ import annotations

import base64
import io
import json
import socket
import subprocess
import threading
import time
import urllib.request
import wave
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import bin_path, cli_env, logged_samples, run_lmms_eval, run_results
from fixture_data import make_root
from tiny_models import build_tiny_omni_thinker

from lmms_humansense.catalog import BY_CODE, TASKS
from lmms_humansense.data.root import AQA_FILE, VQA_FILE

AUDIO_CODES = {t.code for t in TASKS if t.uses_audio}
#: Faults per question (by task code), one per try; a try past the list is forwarded.
FAULTS: dict[str, list[str]] = {
    "AR": ["429"],  # Retry-After: 1
    "ER": ["500", "500"],
    "GR": ["hang"],  # past attempt_timeout
    "PA": ["malformed"],
    "CM": ["drop"],  # connection closed mid-reply
    "TR": ["drop"],  # an audio task recovers too, and its sound still arrives
    "HC": ["500"] * 20,  # permanent: request_failed after max_retries
    "AC": ["400"],  # refused as such (e.g. a part the endpoint does not take): not retried
    "LD": ["hang"] * 20,  # permanent: bounded by timeout=
}
PERMANENT = {"HC", "LD", "AC"}
CANNED = json.dumps(
    {"model": "stand-in", "choices": [{"message": {"content": "A"}, "finish_reason": "stop"}], "usage": {}}
).encode()
ATTEMPT_TIMEOUT, TIMEOUT, MAX_RETRIES = 8, 20, 2  # per try: above the tiny server's worst latency here
HANG_S = ATTEMPT_TIMEOUT + 1.5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wav_seconds(b64: str) -> float:
    with wave.open(io.BytesIO(base64.b64decode(b64))) as w:
        assert (w.getframerate(), w.getnchannels()) == (16000, 1)
        return w.getnframes() / w.getframerate()


class Proxy:
    """Records, forwards to ``upstream`` and injects :data:`FAULTS` (or ``status`` for every request).

    Without ``upstream`` it is the server itself, a recording stand-in with a canned answer "A"."""

    def __init__(
        self, upstream: str | None, faults: dict[str, list[str]] | None = None, status: int | None = None
    ) -> None:
        self.upstream, self.faults, self.status = upstream, faults or {}, status
        self.seen: list[dict[str, Any]] = []  # one per try
        self.bodies: dict[str, dict[str, Any]] = {}  # the forwarded body of each task's question
        self.lock = threading.Lock()
        self.release = threading.Event()  # ends the wait of a "hold" fault
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                proxy.handle(self, raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def handle(self, h: BaseHTTPRequestHandler, raw: bytes) -> None:
        body = json.loads(raw)
        parts = body["messages"][-1]["content"]
        text = next(p["text"] for p in parts if p["type"] == "text")
        code = text.split("[task ", 1)[1].split("]", 1)[0]
        audio = [_wav_seconds(p["input_audio"]["data"]) for p in parts if p["type"] == "input_audio"]
        with self.lock:
            tries = sum(1 for s in self.seen if s["code"] == code)
            plan = self.faults.get(code, [])
            fault = plan[tries] if tries < len(plan) else None
            self.seen.append(
                {
                    "code": code,
                    "t": time.monotonic(),
                    "fault": fault,
                    "images": sum(p["type"] == "image_url" for p in parts),
                    "videos": [p["video_url"]["url"] for p in parts if p["type"] == "video_url"],
                    "audio": audio,
                    "types": [p["type"] for p in parts],
                    "text": text,
                    "auth": h.headers.get("Authorization"),
                    "mm_processor_kwargs": body.get("mm_processor_kwargs"),
                }
            )
        if self.status is not None:
            return self._reply(h, self.status, b'{"error": "refused by the test"}')
        if fault == "429":
            return self._reply(h, 429, b'{"error": "slow down"}', {"Retry-After": "1"})
        if fault == "500":
            return self._reply(h, 500, b'{"error": "boom"}')
        if fault == "400":
            return self._reply(h, 400, b'{"error": "unsupported content part"}')
        if fault == "hang":
            time.sleep(HANG_S)
            return self._reply(h, 504, b"{}")
        if fault == "hold":  # no reply until the test releases it (a question in flight when the run is killed)
            self.release.wait(300)
            return self._reply(h, 503, b"{}")
        if fault == "malformed":
            return self._reply(h, 200, b'{"choices": [{"mess')
        if fault == "drop":
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", "4000")
            h.end_headers()
            h.wfile.write(b'{"choices": [')
            h.wfile.flush()
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return None
        if self.upstream is None:
            return self._reply(h, 200, CANNED)
        request = urllib.request.Request(self.upstream + "/chat/completions", raw, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as r:
            reply = r.read()
        with self.lock:
            self.bodies[code] = body
        return self._reply(h, 200, reply)

    @staticmethod
    def _reply(h: BaseHTTPRequestHandler, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            h.send_response(status)
            for k, v in {"Content-Type": "application/json", **(headers or {})}.items():
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        except OSError:  # the client gave up on this try (its time-out)
            pass

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def tagged_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One question per task, each question tagged with its task code so the proxy knows it."""
    root = make_root(tmp_path_factory.mktemp("served_root"), per_task=1)
    for name in (VQA_FILE, AQA_FILE):
        records = json.loads((root / name).read_text())
        for record in records:
            stem = Path(record["video_path"]).stem  # e.g. "tr_000"
            record["questions"]["question"] += f" [task {stem.split('_')[0].upper()}]"
        (root / name).write_text(json.dumps(records))
    return root


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A real ``transformers serve`` on 127.0.0.1 serving the tiny thinker; stopped after the module."""
    tmp = tmp_path_factory.mktemp("serve")
    folder = build_tiny_omni_thinker(tmp / "thinker")
    port = _free_port()
    env = cli_env(tmp, HF_HUB_CACHE=str(tmp / "hub"))
    (tmp / "hub").mkdir()
    log = open(tmp / "serve.log", "w")
    proc = subprocess.Popen(
        ["timeout", "900", bin_path("transformers"), "serve", str(folder)]
        + ["--host", "127.0.0.1", "--port", str(port), "--device", "cpu", "--dtype", "float32"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            urllib.request.urlopen(url + "/health", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"transformers serve did not start: {(tmp / 'serve.log').read_text()[-3000:]}")
            time.sleep(0.5)
    yield {"url": url + "/v1", "model": str(folder)}
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def _run(tmp: Path, root: Path, tasks: str, model_args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_lmms_eval(
        ["--model", "humansense_openai", "--model_args", model_args, "--tasks", tasks]
        + ["--gen_kwargs", "max_new_tokens=4", "--output_path", str(tmp / "out"), "--log_samples"],
        cli_env(tmp, root, **env),
        tmp,
    )


@pytest.fixture(scope="module")
def faulty_run(server: Any, tagged_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("served_run")
    proxy = Proxy(server["url"], FAULTS)
    args = (
        f"base_url={proxy.url},model={server['model']},concurrency=8,timeout={TIMEOUT},"
        f"attempt_timeout={ATTEMPT_TIMEOUT},max_retries={MAX_RETRIES}"
    )
    start = time.monotonic()
    try:
        proc = _run(tmp, tagged_root, "humansense", args, OPENAI_API_KEY="sk-test")
    finally:
        proxy.close()
    wall = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr[-4000:]
    samples = {t.code: logged_samples(tmp / "out", t.leaf) for t in TASKS}
    results = run_results(tmp / "out")["results"]
    return {
        "proxy": proxy,
        "samples": samples,
        "results": results,
        "stderr": proc.stderr,
        "wall": wall,
        "server": server,
    }


def _fed(run: dict[str, Any], code: str) -> dict[str, Any]:
    (sample,) = run["samples"][code]
    return sample["acc"]["fed"]


def _answer(run: dict[str, Any], code: str) -> str:
    (sample,) = run["samples"][code]
    resp = sample["filtered_resps"]
    return resp[0] if isinstance(resp, list) else resp


def test_sound_reaches_the_server_for_exactly_the_seven_audio_tasks(faulty_run: dict[str, Any]) -> None:
    proxy: Proxy = faulty_run["proxy"]
    delivered = {code: body for code, body in proxy.bodies.items()}
    assert set(delivered) == {t.code for t in TASKS} - PERMANENT
    heard = {s["code"] for s in proxy.seen if s["audio"]}
    assert heard == AUDIO_CODES
    for s in proxy.seen:
        if s["audio"]:
            assert len(s["audio"]) == 1 and s["audio"][0] == pytest.approx(2.0, abs=0.05)
        assert s["auth"] == "Bearer sk-test"
    for code in AUDIO_CODES:
        assert _fed(faulty_run, code)["audio_seconds"] == pytest.approx(2.0, abs=0.05)
    # The server's own count: the same request without its sound is shorter by the audio tokens.
    server = faulty_run["server"]
    for code in AUDIO_CODES & set(delivered):
        body = json.loads(json.dumps(delivered[code]))
        with_audio = _prompt_tokens(server["url"], body)
        body["messages"][-1]["content"] = [p for p in body["messages"][-1]["content"] if p["type"] != "input_audio"]
        without = _prompt_tokens(server["url"], body)
        assert with_audio - without >= 40, (code, with_audio, without)  # 2 s of sound: about 50 tokens


def _prompt_tokens(url: str, body: dict[str, Any]) -> int:
    request = urllib.request.Request(
        url + "/chat/completions", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=120) as r:
        return json.loads(r.read())["usage"]["prompt_tokens"]


def test_frames_at_the_official_budget_and_the_record_of_what_was_sent(faulty_run: dict[str, Any]) -> None:
    proxy: Proxy = faulty_run["proxy"]
    for t in TASKS:
        fed = _fed(faulty_run, t.code)
        tries = [s for s in proxy.seen if s["code"] == t.code]
        assert tries and all(not s["videos"] for s in tries)
        if t.has_video:
            # 2 s clips at 8 fps: 1 fps gives 2 frames, qwen-omni-utils' floor makes it 4.
            assert fed["frames"] == 4 and all(s["images"] == 4 for s in tries)
            assert fed["video"] == "frames" and len(fed["frame_size"]) == 2 and fed["video_bytes"] > 0
        else:
            assert fed["frames"] == 0 and all(s["images"] == 0 for s in tries)
            assert fed["audio_source"] == "audio file"
        assert all(s["types"][-1] == "text" for s in tries)
        (sample,) = faulty_run["samples"][t.code]
        assert all(s["text"] == sample["input"] for s in tries)  # the prompt, unchanged
        assert fed["request_bytes"] > 0 and fed["model"] == faulty_run["server"]["model"]
        if t.code not in PERMANENT:
            assert fed["outcome"] == "answered"
            assert fed["server_model"].startswith(faulty_run["server"]["model"])
            assert fed["prompt_tokens"] > 0 and fed["completion_tokens"] > 0 and fed["latency_s"] > 0


def test_retries_recover_from_each_fault(faulty_run: dict[str, Any]) -> None:
    proxy: Proxy = faulty_run["proxy"]
    for code, plan in FAULTS.items():
        if code in PERMANENT:
            continue
        fed = _fed(faulty_run, code)
        assert fed["outcome"] == "answered", (code, fed)
        # The planned faults first; on a loaded machine a try of the tiny server can also pass
        # attempt_timeout (8 s), which is one more retry of the same kind, never another outcome.
        extra = fed["retried"][len(plan) :]
        assert len(fed["retried"]) >= len(plan) and fed["attempts"] == len(fed["retried"]) + 1, (code, fed)
        assert all("no reply within" in reason for reason in extra), (code, fed)
        assert not _answer(faulty_run, code).startswith("[LMMS_EVAL_REQUEST_FAILED")
    ar = [s["t"] for s in proxy.seen if s["code"] == "AR"]
    assert ar[1] - ar[0] >= 0.95  # Retry-After: 1 was honoured
    assert "HTTP 429" in _fed(faulty_run, "AR")["retried"][0]
    assert "no reply within" in _fed(faulty_run, "GR")["retried"][0]
    assert "unreadable reply body" in _fed(faulty_run, "PA")["retried"][0]
    assert "connection failed" in _fed(faulty_run, "CM")["retried"][0]
    for code in set(BY_CODE) - set(FAULTS):
        fed = _fed(faulty_run, code)
        assert fed["attempts"] == len(fed["retried"]) + 1 and all("no reply within" in r for r in fed["retried"]), fed


def test_permanent_failures_are_the_counted_outcome_within_the_bound(faulty_run: dict[str, Any]) -> None:
    proxy: Proxy = faulty_run["proxy"]
    hc, ld = _fed(faulty_run, "HC"), _fed(faulty_run, "LD")
    assert hc["outcome"] == ld["outcome"] == "request_failed"
    assert hc["attempts"] == MAX_RETRIES + 1 == sum(s["code"] == "HC" for s in proxy.seen)
    assert _answer(faulty_run, "HC").startswith(f"[LMMS_EVAL_REQUEST_FAILED after {MAX_RETRIES} retries] HTTP 500")
    assert _answer(faulty_run, "LD").startswith("[LMMS_EVAL_REQUEST_FAILED after ")
    for fed, code in ((hc, "HC"), (ld, "LD")):
        (sample,) = faulty_run["samples"][code]
        assert sample["acc"]["id"] in fed["error"] and "timeout=" in fed["error"] and "concurrency=" in fed["error"]
        assert fed["latency_s"] <= TIMEOUT + 1
    # LD hangs on every try: the run gives up at timeout=, not after max_retries hangs and backoffs.
    assert "bound (timeout=)" in ld["error"] or ld["attempts"] <= MAX_RETRIES + 1
    ac = _fed(faulty_run, "AC")
    assert ac["outcome"] == "request_failed" and ac["attempts"] == 1 and "audio=none" in ac["error"]
    assert _answer(faulty_run, "AC").startswith("[LMMS_EVAL_REQUEST_FAILED after 0 retries] HTTP 400")
    assert "3 of 15 requests failed after retries" in faulty_run["stderr"]
    # scored as the counted outcome: out of every denominator, counted per task, named at the run's end
    for code in ("HC", "LD", "AC"):
        (sample,) = faulty_run["samples"][code]
        assert sample["acc"]["outcome"] == "request_failed"
        task = faulty_run["results"][BY_CODE[code].leaf]
        assert task["not_answered,none"] == 1 and task["acc,none"] is None, task
        assert f"HumanSense task {code}" in faulty_run["stderr"]
    assert faulty_run["results"]["humansense_ar"]["not_answered,none"] == 0
    assert faulty_run["wall"] < 240  # a generous bound against hangs


def test_audio_none_sends_frames_only(server: Any, tagged_root: Path, tmp_path: Path) -> None:
    """The paper's frames-only route (an endpoint without audio): no input_audio, even on speech tasks;
    an audio-only task is refused before anything is sent, naming the 13 video tasks to run."""
    proxy = Proxy(server["url"])
    try:
        proc = _run(
            tmp_path,
            tagged_root,
            "humansense_tr,humansense_ar",
            f"base_url={proxy.url},model={server['model']},audio=none",
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert {s["code"] for s in proxy.seen} == {"TR", "AR"}
        assert all(not s["audio"] and s["images"] == 4 for s in proxy.seen)
        fed = logged_samples(tmp_path / "out", "humansense_tr")[0]["acc"]["fed"]
        assert fed["audio_seconds"] == 0 and fed["audio_source"] == "none"
        proxy.seen.clear()
        (tmp_path / "fr2").mkdir()
        proc = _run(tmp_path / "fr2", tagged_root, "humansense_fr2", f"base_url={proxy.url},model=m,audio=none")
    finally:
        proxy.close()
    assert proc.returncode == 1 and not proxy.seen
    last = proc.stderr.strip().splitlines()[-1]
    assert "task FR2" in last and "audio=none" in last and "humansense_ar," in last and "Traceback" not in proc.stderr


def test_a_refused_key_ends_the_run_naming_the_fix(tagged_root: Path, tmp_path: Path) -> None:
    proxy = Proxy("http://127.0.0.1:9", status=401)
    try:
        proc = _run(tmp_path, tagged_root, "humansense_tr", f"base_url={proxy.url},model=m,api_key=bad")
    finally:
        proxy.close()
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert "HTTP 401" in last and "OPENAI_API_KEY" in last and "api_key=" in last
    assert len(proxy.seen) == 1  # not retried, and no other question was sent


def test_video_url_sends_the_clip_with_its_track_only_where_the_protocol_gives_it(
    tagged_root: Path, tmp_path: Path
) -> None:
    """``video=url,audio=in_video``: the speech task's clip with its own track and no second copy
    of the sound, the video-only task's clip without its track, FR2's file as ``input_audio``.

    Against the recording proxy as the server (a stand-in): ``transformers serve`` 5.23 answers a
    Qwen2.5-Omni ``video_url`` with HTTP 500 here, because its processor then loads the clip's
    sound through torchcodec (``load_audio_from_video``), which is not installed."""
    from lmms_humansense.media import probe_video

    proxy = Proxy(None)
    try:
        proc = _run(
            tmp_path,
            tagged_root,
            "humansense_tr,humansense_ar,humansense_fr2",
            f"base_url={proxy.url},model=m,video=url,audio=in_video,"
            'extra_body={"mm_processor_kwargs": {"use_audio_in_video": true}}',
        )
    finally:
        proxy.close()
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = {s["code"]: s for s in proxy.seen}
    assert set(seen) == {"TR", "AR", "FR2"} and all(s["images"] == 0 for s in seen.values())
    tracks = {}
    for code in ("TR", "AR"):
        (url,) = seen[code]["videos"]
        assert url.startswith("data:video/mp4;base64,") and not seen[code]["audio"]
        clip = tmp_path / f"{code}.mp4"
        clip.write_bytes(base64.b64decode(url.split(",", 1)[1]))
        tracks[code] = probe_video(str(clip)).has_audio
    assert tracks == {"TR": True, "AR": False}
    assert seen["FR2"]["audio"] == [pytest.approx(2.0, abs=0.05)] and not seen["FR2"]["videos"]
    fed = logged_samples(tmp_path / "out", "humansense_tr")[0]["acc"]["fed"]
    assert all(s["mm_processor_kwargs"] == {"use_audio_in_video": True} for s in seen.values())
    assert fed["video"] == "url" and fed["audio_source"] == "in video" and fed["server_model"] == "stand-in"


def _stable(sample: dict[str, Any]) -> dict[str, Any]:
    """A logged sample without what differs between two runs of the same answers: the timings, and
    the endpoint (each run's recording proxy listens on its own port)."""
    sample = json.loads(json.dumps(sample))
    for key in ("latency_s", "prepare_s", "endpoint"):
        sample["acc"]["fed"].pop(key)
    return sample


def test_a_killed_served_run_resumes_asking_only_the_unanswered(
    faulty_run: dict[str, Any], server: Any, tagged_root: Path, tmp_path: Path
) -> None:
    """``resume=DIR`` through the real CLI against the real server: a run killed with SIGKILL while
    one question is in flight (the proxy holds it), then the same command again.  The proxy counts
    what each run asks: the second asks only the question the first never answered, and the results
    and logged samples equal those of an uninterrupted run (the module's run, whose tasks without
    faults are these), timings aside."""
    codes = ["FR1", "FR2", "RR1", "PC"]  # no faults in the module's run; RR1 is held here
    leaves = [BY_CODE[c].leaf for c in codes]
    proxy = Proxy(server["url"], {"RR1": ["hold"]})
    journal = tmp_path / "journal"
    args = f"base_url={proxy.url},model={server['model']},concurrency=4,resume={journal}"
    command = ["--model", "humansense_openai", "--model_args", args, "--tasks", ",".join(leaves)]
    command += ["--gen_kwargs", "max_new_tokens=4", "--log_samples"]
    try:
        killed = subprocess.Popen(
            [bin_path("lmms-eval"), *command, "--output_path", str(tmp_path / "killed")],
            env=cli_env(tmp_path, tagged_root),
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 600
            path = journal / "answers.rank0.jsonl"
            while killed.poll() is None and time.monotonic() < deadline:
                if path.is_file() and len(path.read_bytes().splitlines()) == 1 + 3:  # the header, 3 answers
                    break
                time.sleep(0.05)
            killed.kill()
        finally:
            killed.wait(timeout=60)
        assert killed.returncode == -9
        first = [s["code"] for s in proxy.seen]
        assert sorted(first) == sorted(codes), first  # all four asked, RR1 held unanswered
        proxy.seen.clear()
        proxy.release.set()
        proxy.faults = {}
        again = run_lmms_eval(
            [*command, "--output_path", str(tmp_path / "again")], cli_env(tmp_path, tagged_root), tmp_path
        )
    finally:
        proxy.release.set()
        proxy.close()
    assert again.returncode == 0, again.stderr[-4000:]
    assert [s["code"] for s in proxy.seen] == ["RR1"]  # only the unanswered question was asked again
    results = run_results(tmp_path / "again")["results"]
    for code, leaf in zip(codes, leaves, strict=True):
        numbers = {k: v for k, v in faulty_run["results"][leaf].items() if k != "alias"}  # a group's indent there
        assert {k: v for k, v in results[leaf].items() if k != "alias"} == numbers, leaf
        (sample,) = logged_samples(tmp_path / "again", leaf)
        (whole,) = faulty_run["samples"][code]
        assert _stable(sample) == _stable(whole), leaf
