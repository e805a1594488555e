"""What lmms-eval 0.7.3's model wrappers do with a question's sound: what the run and the report
*say* (every wrapper gets the same media).  Each entry carries its evidence, a test that runs the
wrapper or its code read ("read, not run", and why).
"""

from __future__ import annotations

#: Wrappers that give the model no sound (frames only; FR2/PC answered from the text).
SOUND_DROPPED: dict[str, str] = {
    "qwen2_vl": "run: tests/test_models.py::test_qwen2_vl_gets_frames_and_never_the_sound",
    "qwen2_5_vl": "run (chat, device=cpu,device_map=cpu): tests/test_wrappers.py::test_local_checkpoints_qwen2_5_vl_and_llava_hf",
    "internvl3": "read, not run (CUDA hard-coded, simple/internvl3.py:243-272): no audio input",
    "llava_hf": (
        "run: tests/test_wrappers.py::test_local_checkpoints_qwen2_5_vl_and_llava_hf (--force_simple: frames only, and the run stops at FR2; "
        "chat stops at its first question on transformers 5)"
    ),
    "llava_vid": "read, not run (its `llava` package does not install from the registry)",
    "llava_onevision": "read, not run (its `llava` package does not install from the registry)",
    "videollama3": "read, not run (remote code, .cuda() ~210)",
    "sglang": "stand-in for its engine: tests/test_wrappers.py::test_engine_and_api_stand_ins_and_an_unreachable_server",
}
AUDIO_DROPPERS = frozenset(SOUND_DROPPED)

#: The route that keeps the sound today: this package's Qwen2.5-Omni model (tests/test_models.py).
KEEP_AUDIO_COMMAND = "lmms-eval --model humansense_omni --model_args pretrained=Qwen/Qwen2.5-Omni-7B --tasks humansense"

#: What other wrappers do with the sound, as the warning before the run says it.
SOUND_NOTES: dict[str, str] = {
    "openai": (
        "in chat mode (the default) lmms-eval's `openai` wrapper sends the sound as an `audio_url` part holding "
        "a local file path (tests/test_wrappers.py), a part type the OpenAI Chat Completions API does not define: "
        "such questions come back as `[LMMS_EVAL_REQUEST_FAILED ...]`, counted as `not_answered` and left out "
        "of the scores; with `--force_simple` it sends frames only (the paper's GPT-4o setting, FR2/PC "
        "answered from the text). To keep the audio, run "
        f"`{KEEP_AUDIO_COMMAND}`"
    ),
    "vllm": (
        "lmms-eval's `vllm` chat wrapper hands the engine the sound as an `audio_url` part holding a local file "
        "path (a recording stand-in for the engine, tests/test_wrappers.py); vLLM's media loader takes http(s), "
        "data: and file: URLs, the last only with `--allowed-local-media-path` (vLLM's code read, not run), so "
        "expect the audio tasks to fail or to be answered without their sound. To keep the audio, run "
        f"`{KEEP_AUDIO_COMMAND}`"
    ),
}

#: Every wrapper the task template names in ``lmms_eval_specific_kwargs`` (so the hooks learn it runs).
NAMED_WRAPPERS = frozenset(SOUND_DROPPED) | frozenset(SOUND_NOTES)
