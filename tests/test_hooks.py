"""The hooks on real generated media: what each modality hands to models, and the loud failures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fixture_data import stub_dataset, write_video

from lmms_humansense import hooks, wrappers
from lmms_humansense.media import MediaError, cached_audio_path, placeholder_video, probe_video


@pytest.fixture
def docs(generated_root: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, dict]:
    """One processed doc per task, as lmms-eval hands them to the hooks."""
    monkeypatch.setenv("HUMANSENSE_ROOT", str(generated_root))
    out = {}
    for code in ("AR", "HC", "LD", "TR", "ES", "FR2", "PC"):
        out[code] = hooks.process_docs(stub_dataset(code))[0]
    return out


def test_video_only_tasks_get_a_silent_copy_and_no_sound(docs: dict[str, dict]) -> None:
    """Whatever a wrapper does with a file, it cannot hear a track the protocol withholds."""
    for code in ("AR", "HC", "LD"):
        doc = docs[code]
        (visual,) = hooks.doc_to_visual(doc)
        silent, original = probe_video(visual), probe_video(doc["media"])
        assert visual != doc["media"] and not silent.has_audio and silent.frames == original.frames
        assert hooks.doc_to_audio(doc) is None
        blocks = hooks.doc_to_messages(doc)[0]["content"]
        assert [b["type"] for b in blocks] == ["video", "text"] and blocks[0]["url"] == visual


def test_speech_video_tasks_get_the_tracks_sound_once(docs: dict[str, dict]) -> None:
    """Simple wrappers get the original mp4 (track inside); chat wrappers a silent copy plus the
    sound as its own block, so a wrapper that uploads the file cannot hear it twice."""
    for code in ("TR", "ES"):
        doc = docs[code]
        assert hooks.doc_to_visual(doc) == [doc["media"]]
        media = hooks.question_media(doc, sound_apart=True)
        assert not media.sound_in_video and not probe_video(media.video).has_audio
        audio = hooks.doc_to_audio(doc)
        assert audio is not None and audio["sampling_rate"] == 16000
        assert audio["array"].dtype == np.float32 and audio["array"].ndim == 1
        assert 1.8 < len(audio["array"]) / 16000 < 2.3  # the 2 s clip
        blocks = hooks.doc_to_messages(doc)[0]["content"]
        assert [b["type"] for b in blocks] == ["video", "audio", "text"]
        assert blocks[1]["url"].endswith(".wav") and Path(blocks[1]["url"]).is_file()
        assert blocks[2]["text"] == hooks.doc_to_text(doc)


def test_audio_only_tasks_get_the_audio(docs: dict[str, dict]) -> None:
    for code in ("FR2", "PC"):
        doc = docs[code]
        (visual,) = hooks.doc_to_visual(doc)
        assert isinstance(visual, dict) and visual["sampling_rate"] == 16000
        assert abs(len(visual["array"]) - 32000) < 200
        blocks = hooks.doc_to_messages(doc)[0]["content"]
        assert [b["type"] for b in blocks] == ["audio", "text"]


def test_decoded_sound_is_cached_on_disk(docs: dict[str, dict]) -> None:
    doc = docs["ES"]
    hooks.doc_to_audio(doc)
    wav = cached_audio_path(doc["media"])
    stamp = wav.stat().st_mtime_ns
    again = hooks.doc_to_audio(doc)
    assert wav.stat().st_mtime_ns == stamp  # read back, not decoded again
    assert again is not None and len(again["array"]) > 0


def test_prompt_is_the_official_one(docs: dict[str, dict]) -> None:
    text = hooks.doc_to_text(docs["HC"])
    assert text.startswith("\nYou are an advanced multimodal analysis AI assistant.")
    assert text.endswith(
        "answer a single Arabic numeral between 0 and 10, do not include any extra text or explanation:\n"
    )


def _withheld(doc: dict, said: str) -> str:
    """The question's recorded media error, checked as process_results counts it."""
    error = hooks.media_failure(doc)
    assert error is not None and error.startswith(f"HumanSense doc {doc['id']} ") and said in error, error
    out = hooks.process_results(doc, [doc["answer"]])  # whatever the wrapper answered from the prompt alone
    assert out["acc"]["outcome"] == "media_error" and out["acc"]["error"] == error and "score" not in out["acc"]
    assert out["not_answered"]["outcome"] == "media_error"
    return error


def test_undecodable_video_is_withheld_and_named(docs: dict[str, dict], tmp_path: Path) -> None:
    """A stock wrapper reads what the hook hands it with its own decoders, where no hook can catch an
    error: a file that cannot serve its question reaches no wrapper, and the question counts as
    media_error, naming the doc, the file and the fix."""
    doc = dict(docs["AR"])
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 50)
    doc["media"] = str(bad)
    assert hooks.doc_to_visual(doc) == [placeholder_video()]  # one item, as a batch's other questions expect
    assert str(bad) in _withheld(doc, "cannot be opened")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    doc["media"] = str(empty)
    assert hooks.doc_to_messages(doc) == [{"role": "user", "content": [{"type": "text", "text": hooks._prompt(doc)}]}]
    _withheld(doc, "empty")


def test_a_corrupted_middle_is_withheld_until_the_file_is_replaced(docs: dict[str, dict], tmp_path: Path) -> None:
    """Frames are decoded to the end once per clip version (a verdict kept in the cache), so a clip that
    opens but does not decode never reaches a wrapper's reader; a good copy in its place is asked again."""
    doc = dict(docs["AR"])
    clip = write_video(tmp_path / "clip.mp4", seconds=2.0, audio=False)
    good = clip.read_bytes()
    raw = bytearray(good)
    third = len(raw) // 3
    raw[third : 2 * third] = bytes(third)
    clip.write_bytes(bytes(raw))
    doc["media"] = str(clip)
    assert hooks.doc_to_visual(doc) == [placeholder_video()]  # one item, as a batch's other questions expect
    _withheld(doc, "its frames do not decode")
    clip.write_bytes(good)  # the fix: a new version of the file
    assert hooks.media_failure(doc) is None and hooks.doc_to_visual(doc) == [str(clip)]
    assert hooks.process_results(doc, [doc["answer"]])["acc"]["outcome"] == "answered"


def test_a_cache_error_is_withheld_for_this_run_only(docs: dict[str, dict], tmp_path: Path) -> None:
    """A cache that cannot take the decoded sound (here its audio folder is a file) costs the question
    too; unlike a damaged file, the fault may be gone next run, so its record is read once."""
    from lmms_humansense.data.root import cache_home

    doc = docs["TR"]
    audio = cache_home() / "audio16k"
    audio.rename(tmp_path / "audio16k")  # the session's cache, put back below
    try:
        audio.write_text("not a folder")
        blocks = hooks.doc_to_messages(doc)[0]["content"]
        assert [b["type"] for b in blocks] == ["text"]
        out = hooks.process_results(doc, [doc["answer"]])
        assert out["acc"]["outcome"] == "media_error" and "cannot write to the cache folder" in out["acc"]["error"]
        assert hooks.media_failure(doc) is None  # read once: the next run asks again
    finally:
        audio.unlink()
        (tmp_path / "audio16k").rename(audio)


def test_audio_task_video_without_track_is_an_error(docs: dict[str, dict], tmp_path: Path) -> None:
    """The package's models call doc_to_audio and count the error themselves; stock wrappers get nothing."""
    doc = dict(docs["TR"])
    silent = write_video(tmp_path / "silent.mp4", audio=False)
    doc["media"] = str(silent)
    with pytest.raises(MediaError) as err:
        hooks.doc_to_audio(doc)
    assert "has no audio track" in str(err.value) and doc["id"] in str(err.value) and str(silent) in str(err.value)
    for hook in (hooks.doc_to_visual, hooks.doc_to_messages):
        hook(doc)
        assert str(silent) in _withheld(doc, "has no audio track")
    pc = dict(docs["PC"])
    pc["media"] = str(tmp_path / "empty.wav")
    Path(pc["media"]).write_bytes(b"")
    (silence,) = hooks.doc_to_visual(pc)  # an audio task's stand-in is sound: 1 s of silence
    assert silence["sampling_rate"] == 16_000 and not silence["array"].any() and len(silence["array"]) == 16_000
    _withheld(pc, "file is empty")


def test_the_placeholder_video_decodes(docs: dict[str, dict]) -> None:
    info = probe_video(placeholder_video())
    assert (info.frames, info.fps, info.has_audio) == (16, 8.0, False)
    from lmms_humansense.media import frames_problem

    assert frames_problem(placeholder_video()) is None


def test_a_video_only_task_accepts_a_silent_video(docs: dict[str, dict], tmp_path: Path) -> None:
    doc = dict(docs["LD"])
    doc["media"] = str(write_video(tmp_path / "silent.mp4", audio=False))
    assert hooks.doc_to_visual(doc) == [doc["media"]]


def test_process_results_scores_and_audits(docs: dict[str, dict]) -> None:
    doc = docs["ES"]
    out = hooks.process_results(doc, [f"The answer is {doc['answer']}."])
    assert out["acc"]["score"] == 1.0 and out["acc"]["parse_outcome"] == "ok"
    assert out["acc_official"]["score"] == 0.0  # official: first character "T"
    assert {"id", "task", "level", "variant", "gold", "parsed", "clip"} <= set(out["acc"])
    assert out["paper_avg"]["score"] == 1.0
    empty = hooks.process_results(doc, [""])
    assert "score" not in empty["acc_official"] and empty["acc"]["parse_outcome"] == "empty"
    # an empty answer is its own counted outcome: scored 0 in acc, no parse failure of a real answer
    assert empty["acc"]["outcome"] == "empty" and empty["acc"]["score"] == 0.0
    assert empty["parse_failure"] == {"clip": doc["clip"], "excluded": "empty"}
    assert empty["empty"]["outcome"] == "empty" and hooks.count_empty([empty["empty"], out["empty"]]) == 1
    pc = hooks.process_results(docs["PC"], ["A"])
    assert "score" not in pc["paper_avg"]
    json.dumps(out)  # logged samples must serialise


def test_numbers_read_whole(docs: dict[str, dict]) -> None:
    doc = dict(docs["HC"])
    doc["answer"] = "10"
    out = hooks.process_results(doc, ["10"])
    assert out["acc"]["score"] == 1.0
    assert out["acc_official"]["score"] == 0.0  # the official first-character rule reads "1"


def test_the_running_wrapper_is_learned_from_the_templates_kwargs(docs: dict[str, dict]) -> None:
    """No registration code needed (the upstream folder has none): lmms-eval passes the model's
    entry of the template's lmms_eval_specific_kwargs to each hook, which reads it from its own
    arguments and remembers nothing."""
    from lmms_humansense.taskgen import template_yaml

    doc = docs["AR"]
    # every wrapper gets the same media: the name only decides what the run says
    assert hooks.doc_to_visual(doc, {"run_model": None}) == hooks.doc_to_visual(doc, {"run_model": "qwen2_vl"})
    template = template_yaml()
    assert all(f"  {m}:\n    run_model: {m}\n" in template for m in wrappers.NAMED_WRAPPERS)


def _runtime_globals() -> dict[str, object]:
    """Every module-level value of the task runtime (what ``export-upstream`` ships), deep-copied."""
    import copy
    import importlib
    import types

    from lmms_humansense import upstream

    out: dict[str, object] = {}
    for source in upstream.RUNTIME_MODULES:
        name = "lmms_humansense." + source.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        for attr, value in vars(importlib.import_module(name)).items():
            if attr.startswith("__") or attr == "annotations" or callable(value) or isinstance(value, types.ModuleType):
                continue
            try:
                out[f"{name}.{attr}"] = copy.deepcopy(value)
            except Exception:  # a logger or lock: compared by identity below
                out[f"{name}.{attr}"] = value
    return out


def test_the_task_runtime_keeps_no_state_between_calls(docs: dict[str, dict]) -> None:
    """What a run needs reaches the hooks through their arguments; no module global of the runtime
    changes while docs are built, served to two different wrappers and scored, so two runs in one
    process (or a run that never scores) cannot leak into each other."""
    before = _runtime_globals()
    for kwargs in ({"run_model": "qwen2_5_omni"}, {"run_model": "qwen2_vl"}, {"run_model": "gemini"}, None):
        for doc in docs.values():
            hooks.doc_to_text(doc, kwargs)
            hooks.doc_to_visual(doc, kwargs)
            hooks.doc_to_messages(doc, kwargs)
            hooks.process_results(doc, [doc["answer"]])
    after = _runtime_globals()
    assert before.keys() == after.keys()
    changed = [k for k in before if not (before[k] is after[k] or before[k] == after[k])]
    assert not changed, changed
