"""The paper's variants: prompts byte-identical to the official runner's flags (golden strings written
out literally from ``PROMPT_TEMPLATE_think.py`` and ``Benchmark.py``), the task sets, the same
results keys in every variant group, and a ``noaudio`` variant that really gives no sound."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import cli_env, logged_samples, run_lmms_eval, run_lmms_eval_several, run_results
from fixture_data import stub_dataset

from lmms_humansense import hooks
from lmms_humansense.catalog import TASKS, VARIANTS
from lmms_humansense.media import probe_video
from lmms_humansense.prompts import apply_variant, build_prompt

OPTS = ["A. happy", "B. angry", "C. surprised", "D. calm", "E. walking"]

THINK_SINGLE = {
    2: "\nYou are an advanced multimodal analysis AI assistant. You have been provided with video content and a question.\n"
    "\nQuestion: Q, which one of the following is correct?\n\nOptions:\nA. happy\nB. angry\n\n"
    "Output the thinking process in <think> </think> and final answer in <answer> </answer> tags, i.e., "
    "<think> reasoning process here </think><answer> answer one correct letter only here </answer>.\n",
    3: "\nYou are an advanced multimodal analysis AI assistant. You have been provided with video content and a question.\n"
    "\nQuestion: Q, which one of the following is correct?\n\nOptions:\nA. happy\nB. angry\nC. surprised\n\n"
    "Output the thinking process in <think> </think> and final answer in <answer> </answer> tags, i.e., "
    "<think> reasoning process here </think><answer> answer one correct letter only here </answer>.\n",
    4: "\nYou are an advanced multimodal analysis AI assistant. You have been provided with video content and a question.\n"
    "\nQuestion: Q, which one of the following is correct?\n\nOptions:\nA. happy\nB. angry\nC. surprised\nD. calm\n\n"
    "Output the thinking process in <think> </think> and final answer in <answer> </answer> tags, i.e., "
    "<think> reasoning process here </think><answer> answer one correct letter only here </answer>.\n",
    5: "\nYou are an advanced multimodal analysis AI assistant. You have been provided with video content and a question.\n"
    "\nQuestion: Q, which one of the following is correct?\n\nOptions:\nA. happy\nB. angry\nC. surprised\nD. calm\n"
    "E. walking\n\n"
    "Output the thinking process in <think> </think> and final answer in <answer> </answer> tags, i.e., "
    "<think> reasoning process here </think><answer> answer one correct letter only here </answer>.\n",
}
THINK_MULTI = (
    "\nYou are an advanced multimodal analysis AI assistant. You have been provided with video content and a question.\n"
    "\nQuestion: Q, Which of the following are correct? (Select all)\n\nOptions:\nA. happy\nB. angry\nC. surprised\n"
    "D. calm\n\n"
    "Output the thinking process in <think> </think> and final answer in <answer> </answer> tags, i.e., "
    "<think> reasoning process here </think><answer> answer correct letters only here </answer>.\n"
)
THINK_NUMERIC = (
    "\nYou are an advanced multimodal analysis AI assistant. You have been provided with video content and a question.\n"
    "\nQuestion: Q\n\n"
    "Output the thinking process in <think> </think> and final answer in <answer> </answer> tags, i.e., "
    "<think> reasoning process here </think><answer> answer a single Arabic numeral between 0 and 10 here </answer>.\n"
)
DEFAULT_SINGLE3 = (
    "\nYou are an advanced multimodal analysis AI assistant. You have been provided with video content and a question.\n"
    "\nQuestion: Q, which one of the following is correct?\n\nOptions:\nA. happy\nB. angry\nC. surprised\n\n"
    "answer one correct letter only, do not include any extra text or explanation:\n"
)
ASR = "The following provides the ASR (Automatic Speech Recognition) text from the video:"
THINK_OMINI = (
    "System Prompt:\n"
    "\n"
    "                    When analyzing the video, focus on identifying:\n"
    "\n"
    "                    Key Characteristics: Recognize notable features, actions, emotions, or behaviors of people.\n"
    "\n"
    "                    Chat Content: Extract relevant dialogue or spoken words.\n"
    "\n"
    "                    Events: Identify significant activities, interactions, or key moments.\n"
    "\n"
    "                    For the following tasks, base your reasoning on the above elements to draw conclusions."
)


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_think_single_choice_is_the_official_think_template(n: int) -> None:
    assert build_prompt("Q", OPTS[:n], "single", think=True) == THINK_SINGLE[n]


def test_think_multi_and_numeric_are_the_official_think_templates() -> None:
    assert build_prompt("Q", OPTS[:4], "multi", think=True) == THINK_MULTI
    assert build_prompt("Q", [], "numeric", think=True) == THINK_NUMERIC


def test_asr_prepends_the_transcript_with_no_separator() -> None:
    prompt = build_prompt("Q", OPTS[:3], "single")
    assert prompt == DEFAULT_SINGLE3
    assert apply_variant(prompt, "asr", "Hello there.") == ASR + "Hello there." + DEFAULT_SINGLE3


def test_enhanced_prepends_the_think_omini_system_text() -> None:
    assert apply_variant(DEFAULT_SINGLE3, "enhanced") == THINK_OMINI + DEFAULT_SINGLE3


def test_variant_task_sets_follow_the_official_flags() -> None:
    codes = {name: set(v.codes) for name, v in VARIANTS.items()}
    assert codes["think"] == {t.code for t in TASKS}
    assert codes["asr"] == {"TR", "FR1", "RR1", "RR2", "ES"}  # --asr: the 5 speech video task types
    assert codes["enhanced"] == {"TR", "FR1", "RR1", "RR2", "ES", "FR2", "PC"}  # --think_omini: the 7 audio types
    assert codes["noaudio"] == {t.code for t in TASKS if t.has_video}
    assert not VARIANTS["noaudio"].audio


@pytest.fixture
def variant_doc(generated_root: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HUMANSENSE_ROOT", str(generated_root))

    def make(code: str, variant: str) -> dict:
        return hooks.process_docs(stub_dataset(code, variant))[0]

    return make


def test_the_hooks_send_the_variant_prompts(variant_doc) -> None:
    asr = variant_doc("TR", "asr")
    assert asr["transcript"] and hooks.doc_to_text(asr).startswith(ASR + asr["transcript"] + "\nYou are an advanced")
    enhanced = variant_doc("FR2", "enhanced")
    assert hooks.doc_to_text(enhanced).startswith(THINK_OMINI + "\nYou are an advanced")
    think = variant_doc("HC", "think")
    assert hooks.doc_to_text(think).endswith(
        "<answer> answer a single Arabic numeral between 0 and 10 here </answer>.\n"
    )


@pytest.mark.parametrize("code", ["TR", "ES", "AR"])
def test_noaudio_gives_no_sound_to_any_wrapper(variant_doc, code: str) -> None:
    doc = variant_doc(code, "noaudio")
    assert doc["with_audio"] is False and hooks.doc_to_audio(doc) is None
    (visual,) = hooks.doc_to_visual(doc)  # simple wrappers: a silent copy, whatever the model
    silent, original = probe_video(visual), probe_video(doc["media"])
    assert not silent.has_audio and original.has_audio and silent.frames == original.frames
    blocks = hooks.doc_to_messages(doc)[0]["content"]
    assert [b["type"] for b in blocks] == ["video", "text"] and blocks[0]["url"] == visual


@pytest.fixture(scope="module")
def variants_run(generated_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("variants_run")
    out = tmp / "out"
    groups = ",".join(v.prefix for v in VARIANTS.values())
    proc = run_lmms_eval(
        ["--tasks", groups, "--model", "dummy", "--model_args", "response=B,read_bytes=64"]
        + ["--output_path", str(out), "--log_samples"],
        cli_env(tmp, generated_root),
        tmp,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_every_variant_group_reports_the_same_keys(variants_run: Path) -> None:
    res = run_results(variants_run)["results"]
    keys = {name: set(res[v.prefix]) for name, v in VARIANTS.items()}
    assert all(k == keys["default"] for k in keys.values()), keys
    for v in VARIANTS.values():
        assert isinstance(res[v.prefix]["acc,none"], float)
        for t in v.tasks():
            assert v.leaf(t.code) in res


def test_variant_samples_carry_their_variant(variants_run: Path) -> None:
    for v in VARIANTS.values():
        t = v.tasks()[0]
        rows = logged_samples(variants_run, v.leaf(t.code))
        assert rows and all(r["acc"]["variant"] == v.name for r in rows)


def test_blind_keeps_the_prompt_byte_identical_and_sends_nothing_else(variant_doc) -> None:
    for code in ("AR", "TR", "FR2"):
        blind, default = variant_doc(code, "blind"), variant_doc(code, "default")
        assert hooks.doc_to_text(blind) == hooks.doc_to_text(default)  # "You have been provided with video content"
        assert hooks.doc_to_visual(blind) == [] and hooks.doc_to_audio(blind) is None
        assert hooks.doc_to_messages(blind) == [
            {"role": "user", "content": [{"type": "text", "text": hooks.doc_to_text(default)}]}
        ]


def test_blind_sends_no_media_to_any_wrapper(generated_root: Path, tmp_path: Path) -> None:
    """Through the lmms-eval CLI, a chat wrapper's trace shows one text block per question and no
    media path, and a simple wrapper that opens every visual it is given (``read_bytes``) runs."""
    trace = tmp_path / "trace.jsonl"
    runs = {"humansense_random": f"trace={trace}", "dummy": "response=B,read_bytes=64"}
    spec = [
        {
            "argv": [
                "--tasks",
                "humansense_blind",
                "--model",
                model,
                "--model_args",
                args,
                "--output_path",
                str(tmp_path / model),
            ]
        }
        for model, args in runs.items()
    ]
    proc, logs = run_lmms_eval_several(spec, cli_env(tmp_path, generated_root), tmp_path)
    assert proc.returncode == 0 and [rc for rc, _ in logs] == [0, 0], proc.stderr[-3000:]
    for model in runs:
        res = run_results(tmp_path / model)["results"]
        assert isinstance(res["humansense_blind"]["acc,none"], float), (model, proc.stderr[-3000:])
        assert isinstance(res["humansense_blind"]["paper_avg,none"], float)
    rows = [json.loads(line) for line in trace.read_text().splitlines()]
    assert len(rows) == 30 and {r["task"] for r in rows} == {VARIANTS["blind"].leaf(t.code) for t in TASKS}
    assert all([b["type"] for b in r["blocks"]] == ["text"] for r in rows), rows[0]
    assert ".mp4" not in trace.read_text() and ".wav" not in trace.read_text()
