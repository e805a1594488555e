"""What lmms-eval 0.7.3's wrappers really do with HumanSense questions, and the counted non-answers.

Each wrapper runs through the real ``lmms-eval`` CLI on the sample set, one question a task, with a
recorder around what it hands on: the request body on the wire (``openai``, against a recording
stand-in server of the tests' own on 127.0.0.1, on AR, TR and FR2: frames only; frames and the
video's sound; an audio file); the real processor of ``qwen2_5_vl`` and ``llava_hf`` (tiny
checkpoints built offline, TR and FR2); what ``vllm``, ``sglang`` and ``gemini`` hand the recording
stand-ins for their engine or client (``tests/stand_ins``, TR and FR2).  Runs of one group share a
process (``wrapper_recorder.run_several``), one test per group.  ``qwen2_vl``'s real processor is
recorded in tests/test_models.py (its run there is shared).  docs/wrappers.md cites these tests.
The counted outcomes (``lmms_humansense.outcomes``) are shown with the stock ``dummy`` model, the
``openai`` wrapper against the stand-in, and a model of the tests' own answering through
``simple_evaluate``.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import cli_env, logged_samples, run_lmms_eval, run_lmms_eval_several, run_results
from tiny_models import build_tiny_llava_onevision, build_tiny_qwen2_5_vl
from wrapper_recorder import openai_stand_in

from lmms_humansense import wrappers

TASKS = "humansense_ar,humansense_tr,humansense_fr2"
LEAVES = TASKS.split(",")
SAMPLE = Path(__file__).resolve().parent.parent / "lmms_humansense" / "sample"


def _run(tmp: Path, args: list[str], root: Path = SAMPLE, **env: str) -> tuple[Path, str]:
    out = tmp / "out"
    full = args + ["--tasks", TASKS, "--limit", "1", "--output_path", str(out), "--log_samples"]
    proc = run_lmms_eval(full, cli_env(tmp, root, NO_PROXY="127.0.0.1", no_proxy="127.0.0.1", **env), tmp)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Error during evaluation" not in log, log[-3000:]
    return out, log


def _counts(out: Path) -> dict[str, tuple[Any, Any, Any]]:
    res = run_results(out)["results"]
    return {leaf: (res[leaf]["acc,none"], res[leaf]["empty,none"], res[leaf]["not_answered,none"]) for leaf in LEAVES}


# --- openai: the wire -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def openai_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str, list[dict]]]:
    """Two runs against one stand-in: chat (the default) over a copy of the sample whose first FR2 WAV is
    empty, and --force_simple with a server that answers every request with an empty string (the wire
    shows what is sent, the answers the empty outcome)."""
    import soundfile as sf

    damaged = tmp_path_factory.mktemp("openai_root") / "sample"
    shutil.copytree(SAMPLE, damaged)
    sf.write(str(damaged / "audios" / "fr2_000.wav"), np.zeros(0, np.float32), 16_000)  # --limit 1: FR2's question
    runs = {}
    with openai_stand_in() as server:
        port = server.server_address[1]
        for name, prefix, extra, root in (
            ("chat", "/v1", [], damaged),
            ("simple", "/empty/v1", ["--force_simple"], SAMPLE),
        ):
            tmp = tmp_path_factory.mktemp(f"openai_{name}")
            args = f"model_version=gpt-4o,base_url=http://127.0.0.1:{port}{prefix},api_key=none,max_retries=1,retry_backoff_s=0"
            start = len(server.requests)
            out, log = _run(tmp, ["--model", "openai", "--model_args", args, *extra], root)
            runs[name] = (out, log, server.requests[start:])
    return runs


def _parts_per_task(out: Path, requests: list[dict]) -> dict[str, list[dict]]:
    prompts = {logged_samples(out, leaf)[0]["input"]: leaf for leaf in LEAVES}
    found = {}
    for req in requests:
        parts = req["body"]["messages"][-1]["content"]
        text = "".join(p.get("text", "") for p in parts if p.get("type") == "text")
        leaf = next(leaf for prompt, leaf in prompts.items() if prompt.strip() and prompt.strip() in text)
        found.setdefault(leaf, parts)
    return found


def test_openai_chat_sends_the_sound_as_a_local_path_audio_url(openai_runs: dict) -> None:
    out, log, requests = openai_runs["chat"]
    parts = _parts_per_task(out, requests)
    types = {leaf: [p["type"] for p in ps] for leaf, ps in parts.items()}
    assert "audio_url" not in types["humansense_ar"] and types["humansense_ar"].count("image_url") == 10
    (audio,) = [p for p in parts["humansense_tr"] if p["type"] == "audio_url"]
    url = audio["audio_url"]["url"]
    assert "://" not in url and url.endswith(".wav") and Path(url).is_file()  # a local path, no scheme
    # the API refuses it: lmms-eval writes the failure text, the package counts it and leaves it out
    acc, empty, failed = _counts(out)["humansense_tr"]
    assert (acc, empty, failed) == (None, 0, 1)
    assert isinstance(_counts(out)["humansense_ar"][0], float)
    (row,) = logged_samples(out, "humansense_tr")
    assert row["acc"]["outcome"] == "request_failed" and "LMMS_EVAL_REQUEST_FAILED" in row["acc"]["error"]
    assert run_results(out)["results"]["humansense_tr"]["parse_failure,none"] is None  # no real answer to misread
    assert "HumanSense task TR:" in log and "with `openai`" in log and "requests failed" in log
    assert wrappers.SOUND_NOTES["openai"][:40] in log  # the warning said before the run


def test_openai_chat_an_empty_wav_costs_its_question_only(openai_runs: dict) -> None:
    """The stock chat wrapper met FR2's empty WAV: the hook sent the prompt alone, recorded why, and the
    question is counted ``media_error`` with its doc and file named (before, the hook's error ended the
    whole run with "Error during evaluation", no results, exit 0)."""
    out, log, requests = openai_runs["chat"]
    assert [p["type"] for p in _parts_per_task(out, requests)["humansense_fr2"]] == ["text"]
    assert _counts(out)["humansense_fr2"] == (None, 0, 1)
    (row,) = logged_samples(out, "humansense_fr2")
    error = row["acc"]["error"]
    assert row["acc"]["outcome"] == "media_error" and error.startswith(f"HumanSense doc {row['acc']['id']} (task FR2)")
    assert "fr2_000.wav: audio track holds no samples" in error and "Fix: replace it with a good copy" in error
    assert "The question is left out (counted as media_error" in log
    assert "HumanSense task FR2: 0 of 1 answers were empty and 1 were not answered" in log
    assert "the model could not read the media" in log


def test_openai_force_simple_sends_frames_only(openai_runs: dict) -> None:
    out, _, requests = openai_runs["simple"]
    parts = _parts_per_task(out, requests)
    for leaf in ("humansense_ar", "humansense_tr"):
        types = [p["type"] for p in parts[leaf]]
        assert types.count("image_url") == 10 and set(types) == {"text", "image_url"}, leaf
        png = base64.b64decode(parts[leaf][1]["image_url"]["url"].split(",", 1)[1])
        assert png.startswith(b"\x89PNG")
    assert [p["type"] for p in parts["humansense_fr2"]] == ["text"]  # FR2: the text alone


def test_openai_empty_replies_are_counted_and_named_at_the_end(openai_runs: dict) -> None:
    out, log, _ = openai_runs["simple"]
    for leaf, (acc, empty, failed) in _counts(out).items():
        assert (acc, empty, failed) == (0.0, 1, 0), leaf  # in the denominator, scored 0
        (row,) = logged_samples(out, leaf)
        assert row["acc"]["outcome"] == "empty" and row["acc"]["score"] == 0.0
    res = run_results(out)["results"]["humansense_ar"]
    assert res["parse_failure,none"] is None  # an empty answer is no parse failure of a real answer
    assert "1 of 1 answers were empty" in log and "with `openai`" in log
    end = log.rindex("answers were empty")
    assert end > log.index("Model Responding")  # said at the run's end, after the answers


# --- the stock dummy model ---------------------------------------------------------------------------
def test_dummy_failure_text_is_a_request_failure_left_out_of_the_scores(tmp_path: Path) -> None:
    failure = "[LMMS_EVAL_REQUEST_FAILED after 3 retries] Error code: 400"
    out, log = _run(tmp_path, ["--model", "dummy", "--model_args", f"response={failure}"])
    for leaf, (acc, empty, failed) in _counts(out).items():
        assert (acc, empty, failed) == (None, 0, 1), leaf
        res = run_results(out)["results"][leaf]
        assert res["acc_official,none"] is None and res["parse_failure,none"] is None
    assert log.count("answers were empty and 1 were not answered") == 3 and "with `dummy`" in log
    from lmms_humansense.cli import main as humansense_main

    assert humansense_main(["report", str(out), "--out", str(tmp_path / "rep")]) == 0  # in-process: one start-up less
    text = (tmp_path / "rep" / "report.md").read_text()
    assert text.index("Runs that did not answer") < text.index("## Runs")  # first, under the title
    assert "AR: 0 empty and 1 not answered of 1" in text
    entry = json.loads((tmp_path / "rep" / "report.json").read_text())["runs"][0]
    assert entry["counts"]["TR"] == {"empty": 0, "not_answered": 1} and entry["non_answers"]


def test_dummy_cannot_answer_an_empty_string() -> None:
    """lmms-eval 0.7.3's dummy turns ``response=`` into "A" (``simple/dummy.py`` ~80), so an empty
    answer is shown with ``openai`` against the stand-in instead."""
    from lmms_eval.models.simple.dummy import Dummy

    assert Dummy(response="").generate_until([object()]) == ["A"]


# --- a model of this package's kind: the fed record's own outcome ----------------------------------
def test_a_fed_media_error_leaves_the_scores_and_keeps_its_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A model returning ``FedAnswer`` with ``fed["outcome"] == "media_error"`` (what the package's
    models will do on unreadable media), through lmms-eval's ``simple_evaluate``: the end-of-run
    warning names the model object (by its class) although ``simple_evaluate`` passes no CLI args."""
    from lmms_eval.api.model import lmms
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.tasks import TaskManager

    from lmms_humansense.models.omni import FedAnswer

    monkeypatch.setenv("HUMANSENSE_ROOT", str(SAMPLE))
    message = "HumanSense doc X (task TR): /data/tr.mp4 cannot be decoded. Fix: re-extract the video."

    class Fails(lmms):
        def generate_until(self, requests: list[Any]) -> list[str]:
            return [
                FedAnswer("", {"outcome": "media_error", "error": message}) if r.task_name == "humansense_tr" else "A"
                for r in requests
            ]

        def loglikelihood(self, requests: list[Any]) -> list[Any]:
            raise NotImplementedError

        def generate_until_multi_round(self, requests: list[Any]) -> list[str]:
            raise NotImplementedError

    with caplog.at_level("WARNING", logger="lmms_humansense"):
        results = simple_evaluate(
            model=Fails(),
            tasks=["humansense_ar", "humansense_tr"],
            limit=1,
            task_manager=TaskManager(),
            log_samples=True,
        )
    said = [r.getMessage() for r in caplog.records if "HumanSense task TR:" in r.getMessage()]
    assert len(said) == 1 and "1 were not answered" in said[0] and "with `Fails`" in said[0], said
    assert "could not read the media" in said[0] and message in said[0]
    tr = results["results"]["humansense_tr"]
    assert tr["acc,none"] is None and tr["not_answered,none"] == 1 and tr["empty,none"] == 0
    assert results["results"]["humansense_ar"]["acc,none"] == pytest.approx(
        float(results["samples"]["humansense_ar"][0]["acc"]["score"])
    )
    (sample,) = results["samples"]["humansense_tr"]
    assert sample["acc"]["outcome"] == "media_error" and sample["acc"]["error"] == message
    assert sample["acc"]["fed"]["error"] == message


def test_simple_evaluate_names_a_registered_wrapper_at_the_end(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """``simple_evaluate(model="dummy")`` (no CLI args reach the aggregation): the warning names `dummy`."""
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.tasks import TaskManager

    monkeypatch.setenv("HUMANSENSE_ROOT", str(SAMPLE))
    failure = "[LMMS_EVAL_REQUEST_FAILED after 1 retries] Connection error."
    with caplog.at_level("WARNING", logger="lmms_humansense"):
        results = simple_evaluate(
            model="dummy",
            model_args=f"response={failure}",
            tasks=["humansense_ar"],
            limit=1,
            task_manager=TaskManager(),
        )
    assert results["results"]["humansense_ar"]["not_answered,none"] == 1
    (said,) = [r.getMessage() for r in caplog.records if "HumanSense task AR:" in r.getMessage()]
    assert "with `dummy`" in said and "requests failed" in said and failure in said


# --- several wrappers, each a real CLI run, one process per group (the imports paid once) ----------
SOUND_TASKS = "humansense_tr,humansense_fr2"  # the video's own sound; an audio file
STAND_INS = Path(__file__).resolve().parent / "stand_ins"


def _several(tmp: Path, runs: dict[str, tuple[str | None, list[str]]], **env: str) -> dict[str, tuple]:
    """Each named run (a processor class to record, or none; the CLI arguments) on TR and FR2 of the
    sample set, through ``wrapper_recorder.run_several``: {name: (exit status, log, output dir, records)}."""
    spec = [
        {
            "processor": processor,
            "record": str(tmp / f"{name}.jsonl"),
            "argv": [*argv, "--tasks", SOUND_TASKS, "--limit", "1", "--output_path", str(tmp / name), "--log_samples"],
        }
        for name, (processor, argv) in runs.items()
    ]
    proc, logs = run_lmms_eval_several(
        spec, cli_env(tmp, SAMPLE, NO_PROXY="127.0.0.1", no_proxy="127.0.0.1", **env), tmp
    )
    assert proc.returncode == 0 and len(logs) == len(spec), proc.stderr[-3000:]
    found = {}
    for (name, _), (rc, log), one in zip(runs.items(), logs, spec, strict=True):
        record = Path(one["record"])
        calls = [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []
        found[name] = (rc, log, tmp / name, calls)
    return found


def _no_results(out: Path) -> bool:
    return not list(out.rglob("*_results.json"))


@pytest.fixture(scope="module")
def tiny_qwen2_5_vl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_qwen2_5_vl(tmp_path_factory.mktemp("tiny_qwen2_5_vl"))


def test_local_checkpoints_qwen2_5_vl_and_llava_hf(
    tiny_qwen2_5_vl: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """``qwen2_5_vl`` (chat, ``device=cpu,device_map=cpu``) and ``llava_hf`` (a LLaVA-OneVision-hf
    checkpoint, ``--force_simple`` and chat) with a recorder around their real processors."""
    tmp = tmp_path_factory.mktemp("local_wrappers")
    onevision = build_tiny_llava_onevision(tmp / "tiny_llava_onevision")
    cpu = "device=cpu,device_map=cpu"
    gen = ["--gen_kwargs", "max_new_tokens=6"]
    runs = _several(
        tmp,
        {
            "qwen2_5_vl": (
                "Qwen2_5_VLProcessor",
                ["--model", "qwen2_5_vl", "--model_args", f"pretrained={tiny_qwen2_5_vl},{cpu}", *gen],
            ),
            "llava_hf_simple": (
                "LlavaOnevisionProcessor",
                ["--model", "llava_hf", "--force_simple", "--model_args", f"pretrained={onevision},{cpu}", *gen],
            ),
            "llava_hf_chat": (
                "LlavaOnevisionProcessor",
                ["--model", "llava_hf", "--model_args", f"pretrained={onevision},{cpu}", *gen],
            ),
        },
    )
    # qwen2_5_vl chat: min(32, the clip's 16 frames), no audio; FR2 reaches the processor as text alone
    rc, log, out, calls = runs["qwen2_5_vl"]
    assert rc == 0 and "Error during evaluation" not in log, log[-3000:]
    assert len(calls) == 2 and not any(c["audio"] for c in calls), calls
    (video,) = [c["videos"] for c in calls if c["videos"]]
    assert video == [[16, 3, 392, 560]]  # 16 frames, upscaled to the 256*28*28 pixel floor
    (text_only,) = [c for c in calls if not c["videos"]]
    assert text_only["images"] == 0
    for leaf in LEAVES[1:]:
        (row,) = logged_samples(out, leaf)
        assert row["acc"]["outcome"] == "answered", leaf
    assert "HumanSense task TR: lmms-eval's `qwen2_5_vl` wrapper passes no audio" in log
    # llava_hf --force_simple: 32 frames by linspace over a 16-frame clip (repeats), native size, no
    # audio; at FR2 a stale task_type sends the audio dict to the video loader and the run dies
    rc, log, out, calls = runs["llava_hf_simple"]
    assert calls[0]["videos"] == [[32, 64, 96, 3]] and not any(c["audio"] for c in calls), calls
    assert len(calls) == 2 and calls[1]["videos"] == [None]  # FR2: the audio dict handed on as a video
    assert 'simple/llava_hf.py", line 350' in log and "KeyError: 0" in log
    assert rc == 0 and "Error during evaluation" in log and _no_results(out)  # lmms-eval exits 0, writes nothing
    # llava_hf chat: the processor gets the path and images=[]; transformers 5 raises outside any try
    rc, log, out, calls = runs["llava_hf_chat"]
    assert calls and calls[0]["videos"] == [None] and calls[0]["images"] == 0, calls
    assert 'chat/llava_hf.py", line 68' in log and "IndexError: list index out of range" in log
    assert rc == 0 and "Error during evaluation" in log and _no_results(out)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_engine_and_api_stand_ins_and_an_unreachable_server(
    tiny_qwen2_5_vl: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """``vllm``, ``sglang`` and ``gemini`` with recording stand-ins for their engine or client
    (tests/stand_ins on PYTHONPATH); the stock ``openai`` wrapper against a port nothing listens on."""
    tmp = tmp_path_factory.mktemp("stand_in_wrappers")
    unreachable = f"base_url=http://127.0.0.1:{_closed_port()}/v1,api_key=none,max_retries=1,retry_backoff_s=0"
    runs = _several(
        tmp,
        {
            "vllm": (None, ["--model", "vllm", "--model_args", "model=Qwen/Qwen2.5-VL-7B-Instruct,nframes=8"]),
            "vllm_default": (None, ["--model", "vllm", "--model_args", "model=Qwen/Qwen2.5-VL-7B-Instruct"]),
            "sglang": (None, ["--model", "sglang", "--model_args", f"model={tiny_qwen2_5_vl}"]),
            "gemini": (None, ["--model", "gemini", "--model_args", "model_version=gemini-2.0-flash,api_key=none"]),
            "openai": (None, ["--model", "openai", "--model_args", f"model_version=gpt-4o,{unreachable}"]),
        },
        PYTHONPATH=str(STAND_INS),
    )
    # vllm chat: frames as PNG image_url parts, the sound as a local-path audio_url, max_tokens >= 4096
    rc, log, out, calls = runs["vllm"]
    assert rc == 0 and "Error during evaluation" not in log, log[-3000:]
    chats = [c for c in calls if c["call"] == "chat"]
    tr = next(c["parts"] for c in chats if any(p["type"] == "image_url" for p in c["parts"]))
    fr2 = next(c["parts"] for c in chats if not any(p["type"] == "image_url" for p in c["parts"]))
    assert [p["size"] for p in tr if p["type"] == "image_url"] == [[56, 84]] * 8
    for parts in (tr, fr2):
        (audio,) = [p for p in parts if p["type"] == "audio_url"]
        assert "://" not in audio["url"] and audio["url"].endswith(".wav")
    assert {c["params"]["max_tokens"] for c in chats} == {4096}
    assert wrappers.SOUND_NOTES["vllm"][:40] in log  # said before the run
    # vllm's default nframes=32 on a clip of 16 frames: qwen-vl-utils raises, its fallback reader is gone
    rc, log, out, _ = runs["vllm_default"]
    assert (
        "nframes should in interval [2, 16], but got 32" in log
        and "torchvision.io' has no attribute 'read_video'" in log
    )
    assert rc == 0 and "Error during evaluation" in log and _no_results(out)
    # sglang: the video path handed to the engine, no audio of any kind
    rc, log, out, calls = runs["sglang"]
    assert rc == 0 and "Error during evaluation" not in log, log[-3000:]
    gens = [c for c in calls if c["call"] == "generate"]
    assert sorted(len(c["videos"]) for c in gens) == [0, 1] and not any(c["other"] for c in gens)
    (video,) = [v for c in gens for v in c["videos"]]
    assert "/silent/" in video  # the silent copy: the sound of TR reaches no one
    # gemini chat: the silent mp4 uploaded, the sound once as inline audio/wav; FR2 the wav alone
    rc, log, out, calls = runs["gemini"]
    assert rc == 0 and "Error during evaluation" not in log, log[-3000:]
    (upload,) = [c for c in calls if c["call"] == "files.upload"]
    assert upload["sound"] is False
    kinds = sorted(
        [(p["kind"], p.get("mime_type")) for p in c["parts"] if p["kind"] != "text"]
        for c in calls
        if c["call"] == "generate_content"
    )
    assert kinds == [[("bytes", "audio/wav")], [("uri", "video/mp4"), ("bytes", "audio/wav")]]
    # openai against nothing: every question a request failure, counted, named at the end, exit 0
    rc, log, out, _ = runs["openai"]
    assert rc == 0
    res = run_results(out)["results"]
    for leaf, code in (("humansense_tr", "TR"), ("humansense_fr2", "FR2")):
        assert (res[leaf]["acc,none"], res[leaf]["empty,none"], res[leaf]["not_answered,none"]) == (None, 0, 1), leaf
        (row,) = logged_samples(out, leaf)
        assert row["acc"]["outcome"] == "request_failed" and "Connection error" in row["acc"]["error"]
        assert f"HumanSense task {code}: 0 of 1 answers were empty and 1 were not answered" in log
    assert "with `openai`" in log and "server that is not reachable" in log


def test_every_test_the_wrapper_evidence_cites_exists() -> None:
    """docs/wrappers.md and ``lmms_humansense.wrappers`` name their evidence as ``tests/X.py::test_y``:
    each named test is there, so a renamed test cannot leave a statement without its evidence."""
    import re

    repo = Path(__file__).resolve().parent.parent
    text = (repo / "docs" / "wrappers.md").read_text() + "\n".join(
        [*wrappers.SOUND_DROPPED.values(), *wrappers.SOUND_NOTES.values()]
    )
    cited = set(re.findall(r"(tests/\w+\.py)::(\w+)", text))
    assert len(cited) >= 6
    for path, name in sorted(cited):
        assert f"def {name}(" in (repo / path).read_text(), f"{path}::{name}"
