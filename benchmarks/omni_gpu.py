"""``humansense_omni`` at the real Qwen2.5-Omni-7B size on one GPU: questions/s and peak memory at batch 1 / 4 / 8.

    python benchmarks/omni_gpu.py                       # 60 questions, batch 1 4 8, 32 new tokens
    python benchmarks/omni_gpu.py --questions 60 --batches 1 4 8 --new-tokens 32

Nothing is downloaded: the thinker is built with random weights at the dimensions of
Qwen2.5-Omni-7B's published ``config.json`` (text 28 layers x 3584, vision 32 blocks x 1280,
audio 32 layers x 1280; about 8.9 B parameters), in bfloat16, saved to a temporary folder with the
scratch tokenizer of ``tests/tiny_models.py`` and loaded by ``humansense_omni`` as a user's
checkpoint would be.  The questions come from the generated root of the tests (4 per task over
the 15 tasks, clips of 2 s at 96x64), the ``default`` variant.  Random weights rarely emit the
end-of-turn token, so every question runs to ``--new-tokens``: the figures are an upper bound of
generation time per question at that length.  The script needs a CUDA GPU and about 20 GB of
disk for the saved checkpoint; it stays under 10 minutes on one H200-class GPU.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# tests/ replaces this script's folder on the path (benchmarks/multiprocess.py shadows a package).
sys.path[0] = str(Path(__file__).resolve().parent.parent / "tests")

#: Qwen2.5-Omni-7B's published thinker dimensions (config.json of the hub checkpoint).
SEVEN_B = {
    "audio_config": {
        "num_mel_bins": 128,
        "encoder_layers": 32,
        "encoder_attention_heads": 20,
        "encoder_ffn_dim": 5120,
        "d_model": 1280,
        "output_dim": 3584,
        "n_window": 100,
        "max_source_positions": 1500,
    },
    "vision_config": {
        "depth": 32,
        "hidden_size": 1280,
        "intermediate_size": 3420,
        "num_heads": 16,
        "out_hidden_size": 3584,
        "fullatt_block_indexes": [7, 15, 23, 31],
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "window_size": 112,
    },
    "text_config": {
        "vocab_size": 152064,
        "hidden_size": 3584,
        "intermediate_size": 18944,
        "num_hidden_layers": 28,
        "num_attention_heads": 28,
        "num_key_value_heads": 4,
        "max_position_embeddings": 32768,
        "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]},
    },
}


def build_7b(target: Path) -> Path:
    """A Qwen2.5-Omni folder at 7B size: the tiny model's tokenizer and processor, 7B-size random weights."""
    import json

    import torch
    from tiny_models import build_tiny_omni
    from transformers import Qwen2_5OmniConfig, Qwen2_5OmniForConditionalGeneration

    build_tiny_omni(target)  # tokenizer, processor, chat template, spk_dict.pt; its weights are replaced
    tiny = json.loads((target / "config.json").read_text(encoding="utf-8"))["thinker_config"]
    thinker = {**{k: v for k, v in tiny.items() if k.endswith(("_id", "_index"))}, **SEVEN_B}
    thinker["text_config"] = {
        **SEVEN_B["text_config"],
        **{k: tiny["text_config"][k] for k in ("eos_token_id", "pad_token_id")},
    }
    config = Qwen2_5OmniConfig(thinker_config=thinker, enable_audio_output=False)
    for old in target.glob("model*.safetensors*"):
        old.unlink()
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = Qwen2_5OmniForConditionalGeneration(config).to(torch.bfloat16).eval()
    model.generation_config.eos_token_id = tiny["text_config"]["eos_token_id"]
    model.generation_config.pad_token_id = tiny["text_config"]["pad_token_id"]
    model.save_pretrained(target)
    del model
    torch.cuda.empty_cache()
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--new-tokens", type=int, default=32)
    args = parser.parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        print("benchmarks/omni_gpu.py needs a CUDA GPU", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_HOME=str(tmp / "hf"))
        os.environ["HUMANSENSE_CACHE"] = str(tmp / "cache")
        from fixture_data import make_root, stub_dataset

        from lmms_humansense import hooks
        from lmms_humansense.catalog import TASKS
        from lmms_humansense.models.omni import HumanSenseOmni, Question

        root = make_root(tmp / "root", per_task=max(1, -(-args.questions // len(TASKS))))
        os.environ["HUMANSENSE_ROOT"] = str(root)
        docs: list[dict[str, Any]] = []
        for task in TASKS:
            docs += hooks.process_docs(stub_dataset(task.code)).to_list()
        docs = docs[: args.questions]
        gen = {"max_new_tokens": args.new_tokens, "until": ["\n\n"]}
        qs = [Question(i, d, hooks.doc_to_text(d), gen, hooks.question_kind(d)) for i, d in enumerate(docs)]
        start = time.perf_counter()
        path = build_7b(tmp / "omni7b")
        print(f"built and saved the 7B-size checkpoint in {time.perf_counter() - start:.0f} s", flush=True)
        print(f"device: {torch.cuda.get_device_name(0)}; {len(qs)} questions; {args.new_tokens} new tokens each")
        print("| batch | seconds | questions/s | peak GPU memory |")
        print("|---:|---:|---:|---:|")
        model = HumanSenseOmni(pretrained=str(path), device="cuda", dtype="bfloat16")
        for size in args.batches:
            model.batch_size_per_gpu = size  # the same loaded weights for every batch size
            for _ in model.answers(qs[: len(TASKS)]):  # warm-up
                pass
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            start = time.perf_counter()
            answered = sum(1 for _ in model.answers(qs))
            torch.cuda.synchronize()
            took = time.perf_counter() - start
            peak = torch.cuda.max_memory_allocated() / 2**30
            print(f"| {size} | {took:.1f} | {answered / took:.2f} | {peak:.1f} GiB |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
