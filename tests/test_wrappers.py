"""What lmms-eval 0.7.3's wrappers really do with HumanSense questions, and the counted non-answers.

Each wrapper runs once through the real ``lmms-eval`` CLI on ``humansense_ar,humansense_tr,
humansense_fr2 --limit 1`` (frames only; frames and the video's sound; an audio file), with a
recorder around what it hands on: here the request body on the wire (``openai``, against a
recording stand-in server of the tests' own on 127.0.0.1); ``qwen2_vl``'s real processor is
recorded in tests/test_models.py (its run there is shared).  docs/wrappers.md cites these tests.
The counted outcomes (``lmms_humansense.outcomes``) are shown with the stock ``dummy`` model, the
``openai`` wrapper against the stand-in, and a model of the tests' own answering through
``simple_evaluate``.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import cli_env, logged_samples, run_lmms_eval, run_results
from wrapper_recorder import openai_stand_in

from lmms_humansense import wrappers

TASKS = "humansense_ar,humansense_tr,humansense_fr2"
LEAVES = TASKS.split(",")
SAMPLE = Path(__file__).resolve().parent.parent / "lmms_humansense" / "sample"


def _run(tmp: Path, args: list[str], **env: str) -> tuple[Path, str]:
    out = tmp / "out"
    full = args + ["--tasks", TASKS, "--limit", "1", "--output_path", str(out), "--log_samples"]
    proc = run_lmms_eval(full, cli_env(tmp, SAMPLE, NO_PROXY="127.0.0.1", no_proxy="127.0.0.1", **env), tmp)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Error during evaluation" not in log, log[-3000:]
    return out, log


def _counts(out: Path) -> dict[str, tuple[Any, Any, Any]]:
    res = run_results(out)["results"]
    return {leaf: (res[leaf]["acc,none"], res[leaf]["empty,none"], res[leaf]["not_answered,none"]) for leaf in LEAVES}


# --- openai: the wire -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def openai_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str, list[dict]]]:
    """Two runs against one stand-in: chat (the default), and --force_simple with a server that answers
    every request with an empty string (the wire shows what is sent, the answers the empty outcome)."""
    runs = {}
    with openai_stand_in() as server:
        port = server.server_address[1]
        for name, prefix, extra in (
            ("chat", "/v1", []),
            ("simple", "/empty/v1", ["--force_simple"]),
        ):
            tmp = tmp_path_factory.mktemp(f"openai_{name}")
            args = f"model_version=gpt-4o,base_url=http://127.0.0.1:{port}{prefix},api_key=none,max_retries=1,retry_backoff_s=0"
            start = len(server.requests)
            out, log = _run(tmp, ["--model", "openai", "--model_args", args, *extra])
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
    for leaf in ("humansense_tr", "humansense_fr2"):
        (audio,) = [p for p in parts[leaf] if p["type"] == "audio_url"]
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
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model returning ``FedAnswer`` with ``fed["outcome"] == "media_error"`` (what the package's
    models will do on unreadable media), through lmms-eval's ``simple_evaluate``."""
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

    results = simple_evaluate(
        model=Fails(), tasks=["humansense_ar", "humansense_tr"], limit=1, task_manager=TaskManager(), log_samples=True
    )
    tr = results["results"]["humansense_tr"]
    assert tr["acc,none"] is None and tr["not_answered,none"] == 1 and tr["empty,none"] == 0
    assert results["results"]["humansense_ar"]["acc,none"] == pytest.approx(
        float(results["samples"]["humansense_ar"][0]["acc"]["score"])
    )
    (sample,) = results["samples"]["humansense_tr"]
    assert sample["acc"]["outcome"] == "media_error" and sample["acc"]["error"] == message
    assert sample["acc"]["fed"]["error"] == message
