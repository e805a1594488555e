"""Tiny real checkpoints (random weights) built offline, for tests and benchmarks.

No model hub is reachable where this package is tested, and a 7B checkpoint would not fit a CI
box anyway.  These builders write a complete, loadable folder -- config, random weights, a real
byte-level BPE tokenizer, processor files, chat template -- for the two architectures the
HumanSense code paths need: Qwen2.5-Omni and Qwen3-Omni-MoE (the ``humansense_omni`` adapter) and Qwen2-VL (the stock
``qwen2_vl`` wrapper of lmms-eval).  Every transformers code path (processor, vision and audio
encoders, M-RoPE, generation) runs for real; only the numbers in the weights are meaningless.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: A chat template in the Qwen style that understands text, image, video and audio content items.
_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for item in message['content'] %}"
    "{% if item['type'] == 'text' %}{{ item['text'] }}"
    "{% elif item['type'] == 'image' %}{{ VISION_BOS }}{{ IMAGE }}{{ VISION_EOS }}"
    "{% elif item['type'] == 'video' %}{{ VISION_BOS }}{{ VIDEO }}{{ VISION_EOS }}"
    "{% elif item['type'] == 'audio' %}{{ AUDIO_BOS }}{{ AUDIO }}{{ AUDIO_EOS }}"
    "{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_CORPUS = [
    "You are an advanced multimodal analysis AI assistant. You have been provided with video content and a question.",
    "Question: Which best describes the person, which one of the following is correct?",
    "Options: A. happy B. angry C. surprised D. calm E. walking waving sitting running laughing",
    "answer one correct letter only, do not include any extra text or explanation:",
    "answer a single Arabic numeral between 0 and 10 0 1 2 3 4 5 6 7 8 9 10",
    "<think> reasoning process here </think><answer> A </answer> system user assistant",
]


def _tokenizer(specials: dict[str, str], extra: list[str]):
    """A byte-level BPE tokenizer (vocab about 500) wrapped as ``Qwen2TokenizerFast``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import Qwen2TokenizerFast

    base = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=500,
        special_tokens=base + extra,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    return Qwen2TokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens=specials,
    )


def _template(**tokens: str) -> str:
    out = _CHAT_TEMPLATE
    for name, value in tokens.items():
        out = out.replace("{{ " + name + " }}", value)
    return out


def build_tiny_omni(target: Path, seed: int = 0, thinker_generation: dict[str, Any] | None = None) -> Path:
    """A loadable Qwen2.5-Omni folder (thinker only, about 80 k parameters, plus ``spk_dict.pt``).

    The talker is left out (``enable_audio_output=False``): HumanSense scores text, and the
    adapter generates through the thinker only, as the official runner's answers are text.
    ``thinker_generation`` (e.g. ``{"do_sample": True, "temperature": 2.0}``) goes into
    ``config.json``'s ``thinker_config``, where a checkpoint states the thinker's decoding (see
    ``decoding=official`` of ``humansense_omni``); transformers refuses to save it there itself.
    """
    import torch
    from transformers import (
        Qwen2_5OmniConfig,
        Qwen2_5OmniForConditionalGeneration,
        Qwen2_5OmniProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
        WhisperFeatureExtractor,
    )

    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    specials = {
        "image_token": "<|IMAGE|>",
        "audio_token": "<|AUDIO|>",
        "video_token": "<|VIDEO|>",
        "vision_bos_token": "<|vision_bos|>",
        "vision_eos_token": "<|vision_eos|>",
        "audio_bos_token": "<|audio_bos|>",
        "audio_eos_token": "<|audio_eos|>",
    }
    tokenizer = _tokenizer(specials, list(specials.values()))
    ids = {k: tokenizer.convert_tokens_to_ids(v) for k, v in specials.items()}
    vocab = len(tokenizer)
    hidden = 32
    thinker = {
        "audio_config": {
            "num_mel_bins": 128,
            "encoder_layers": 1,
            "encoder_attention_heads": 2,
            "encoder_ffn_dim": 32,
            "d_model": 16,
            "output_dim": hidden,
            "n_window": 100,
            "max_source_positions": 1500,
        },
        "vision_config": {
            "depth": 1,
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_heads": 2,
            "out_hidden_size": hidden,
            "fullatt_block_indexes": [0],
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 112,
        },
        "text_config": {
            "vocab_size": vocab,
            "hidden_size": hidden,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "max_position_embeddings": 32768,
            "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        "audio_token_index": ids["audio_token"],
        "image_token_index": ids["image_token"],
        "video_token_index": ids["video_token"],
        "audio_start_token_id": ids["audio_bos_token"],
        "audio_end_token_id": ids["audio_eos_token"],
        "vision_start_token_id": ids["vision_bos_token"],
        "vision_end_token_id": ids["vision_eos_token"],
        "user_token_id": tokenizer.convert_tokens_to_ids("<|im_start|>"),
    }
    config = Qwen2_5OmniConfig(thinker_config=thinker, enable_audio_output=False)
    torch.manual_seed(seed)
    model = Qwen2_5OmniForConditionalGeneration(config).eval()
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(target)
    if thinker_generation:
        config_file = target / "config.json"
        saved = json.loads(config_file.read_text(encoding="utf-8"))
        saved["thinker_config"].update(thinker_generation)
        config_file.write_text(json.dumps(saved, indent=2), encoding="utf-8")
    torch.save({"Chelsie": {"cond": torch.zeros(1), "ref_mel": torch.zeros(1), "bos_token": 0}}, target / "spk_dict.pt")
    template = _template(
        VISION_BOS=specials["vision_bos_token"],
        VISION_EOS=specials["vision_eos_token"],
        IMAGE=specials["image_token"],
        VIDEO=specials["video_token"],
        AUDIO_BOS=specials["audio_bos_token"],
        AUDIO_EOS=specials["audio_eos_token"],
        AUDIO=specials["audio_token"],
    )
    processor = Qwen2_5OmniProcessor(
        image_processor=Qwen2VLImageProcessor(),
        video_processor=Qwen2VLVideoProcessor(),
        feature_extractor=WhisperFeatureExtractor(feature_size=128),
        tokenizer=tokenizer,
        chat_template=template,
    )
    processor.save_pretrained(target)
    return target


def build_tiny_qwen3_omni(target: Path, seed: int = 0) -> Path:
    """A loadable Qwen3-Omni-MoE folder (thinker only, about 100 k parameters).

    The thinker's text model has 2 layers of 4 experts (2 per token), the vision tower 2 blocks of
    patch 16 and merge 2 (the real model's rounding factor, 32), the audio encoder 1 layer; the
    processor is assembled as Qwen3-Omni's is (Qwen2-VL image/video processors at patch 16, a
    128-bin Whisper feature extractor).  No talker (``enable_audio_output=False``).
    """
    import torch
    from transformers import (
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
        Qwen3OmniMoeConfig,
        Qwen3OmniMoeForConditionalGeneration,
        Qwen3OmniMoeProcessor,
        WhisperFeatureExtractor,
    )

    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    specials = {
        "image_token": "<|image_pad|>",
        "audio_token": "<|audio_pad|>",
        "video_token": "<|video_pad|>",
        "vision_bos_token": "<|vision_start|>",
        "vision_eos_token": "<|vision_end|>",
        "audio_bos_token": "<|audio_start|>",
        "audio_eos_token": "<|audio_end|>",
    }
    tokenizer = _tokenizer(specials, list(specials.values()))
    ids = {k: tokenizer.convert_tokens_to_ids(v) for k, v in specials.items()}
    hidden = 32
    thinker = {
        "audio_config": {
            "num_mel_bins": 128,
            "encoder_layers": 1,
            "encoder_attention_heads": 2,
            "encoder_ffn_dim": 32,
            "d_model": 16,
            "output_dim": hidden,
            "n_window": 50,
            "downsample_hidden_size": 8,
        },
        "vision_config": {
            "depth": 2,
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_heads": 2,
            "out_hidden_size": hidden,
            "patch_size": 16,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "deepstack_visual_indexes": [0],
            "num_position_embeddings": 64,
        },
        "text_config": {
            "vocab_size": len(tokenizer),
            "hidden_size": hidden,
            "intermediate_size": 64,
            "moe_intermediate_size": 16,
            "num_experts": 4,
            "num_experts_per_tok": 2,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "head_dim": 16,
            "max_position_embeddings": 32768,
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": 10000.0,
                "mrope_section": [2, 3, 3],
                "mrope_interleaved": True,
            },
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        "audio_token_id": ids["audio_token"],
        "image_token_id": ids["image_token"],
        "video_token_id": ids["video_token"],
        "audio_start_token_id": ids["audio_bos_token"],
        "audio_end_token_id": ids["audio_eos_token"],
        "vision_start_token_id": ids["vision_bos_token"],
        "vision_end_token_id": ids["vision_eos_token"],
        "user_token_id": tokenizer.convert_tokens_to_ids("<|im_start|>"),
    }
    config = Qwen3OmniMoeConfig(thinker_config=thinker, enable_audio_output=False)
    torch.manual_seed(seed)
    model = Qwen3OmniMoeForConditionalGeneration(config).eval()
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(target)
    template = _template(
        VISION_BOS=specials["vision_bos_token"],
        VISION_EOS=specials["vision_eos_token"],
        IMAGE=specials["image_token"],
        VIDEO=specials["video_token"],
        AUDIO_BOS=specials["audio_bos_token"],
        AUDIO_EOS=specials["audio_eos_token"],
        AUDIO=specials["audio_token"],
    )
    processor = Qwen3OmniMoeProcessor(
        image_processor=Qwen2VLImageProcessor(patch_size=16, merge_size=2),
        video_processor=Qwen2VLVideoProcessor(patch_size=16, merge_size=2),
        feature_extractor=WhisperFeatureExtractor(feature_size=128),
        tokenizer=tokenizer,
        chat_template=template,
    )
    processor.save_pretrained(target)
    return target


def _build_tiny_qwen_vl(
    target: Path, seed: int, config_cls: Any, model_cls: Any, processor_cls: Any, vision_config: dict[str, Any]
) -> Path:
    """A loadable Qwen-VL family folder (2 tiny text layers, the given vision tower) with a processor."""
    import torch
    from transformers import Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    specials = {
        "image_token": "<|image_pad|>",
        "video_token": "<|video_pad|>",
        "vision_start_token": "<|vision_start|>",
        "vision_end_token": "<|vision_end|>",
    }
    tokenizer = _tokenizer(specials, list(specials.values()))
    ids = {k: tokenizer.convert_tokens_to_ids(v) for k, v in specials.items()}
    config = config_cls(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": TINY_VL_HIDDEN,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "max_position_embeddings": 32768,
            "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        vision_config=vision_config,
        image_token_id=ids["image_token"],
        video_token_id=ids["video_token"],
        vision_start_token_id=ids["vision_start_token"],
        vision_end_token_id=ids["vision_end_token"],
    )
    torch.manual_seed(seed)
    model = model_cls(config).eval()
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(target)
    template = _template(
        VISION_BOS=specials["vision_start_token"],
        VISION_EOS=specials["vision_end_token"],
        IMAGE=specials["image_token"],
        VIDEO=specials["video_token"],
        AUDIO_BOS="",
        AUDIO_EOS="",
        AUDIO="",
    )
    processor = processor_cls(
        image_processor=Qwen2VLImageProcessor(),
        video_processor=Qwen2VLVideoProcessor(),
        tokenizer=tokenizer,
        chat_template=template,
    )
    processor.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


#: The text width of the tiny Qwen-VL checkpoints (the vision towers project onto it).
TINY_VL_HIDDEN = 32


def build_tiny_qwen2_vl(target: Path, seed: int = 0) -> Path:
    """A loadable Qwen2-VL folder (2 tiny layers) that lmms-eval's stock ``qwen2_vl`` wrapper runs."""
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLProcessor

    vision = {
        "depth": 1,
        "embed_dim": 16,
        "hidden_size": TINY_VL_HIDDEN,
        "num_heads": 2,
        "mlp_ratio": 2,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
    }
    return _build_tiny_qwen_vl(target, seed, Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLProcessor, vision)


def build_tiny_omni_thinker(target: Path, seed: int = 0) -> Path:
    """A servable Qwen2.5-Omni *thinker* folder (``qwen2_5_omni_thinker``), for ``transformers serve``.

    ``transformers serve`` loads a checkpoint through ``AutoModelForMultimodalLM`` and calls its
    ``generate``; the full Qwen2.5-Omni model's ``generate`` fails without a talker on
    transformers 5.x (see environment notes), while the thinker alone is a plain multimodal LM
    that the server treats as audio-capable (image, video and ``input_audio`` parts).
    """
    from transformers import Qwen2_5OmniForConditionalGeneration, Qwen2_5OmniProcessor

    target = Path(target)
    full = build_tiny_omni(target.parent / f"{target.name}_full", seed=seed)
    model = Qwen2_5OmniForConditionalGeneration.from_pretrained(full, enable_audio_output=False)
    thinker = model.thinker
    thinker.config.architectures = ["Qwen2_5OmniThinkerForConditionalGeneration"]
    thinker.generation_config.eos_token_id = model.generation_config.eos_token_id
    thinker.generation_config.pad_token_id = model.generation_config.pad_token_id
    thinker.save_pretrained(target)
    Qwen2_5OmniProcessor.from_pretrained(full).save_pretrained(target)
    return target


def build_tiny_qwen2_5_vl(target: Path, seed: int = 0) -> Path:
    """A loadable Qwen2.5-VL folder (2 tiny layers) that lmms-eval's stock ``qwen2_5_vl`` wrapper runs."""
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor

    vision = {
        "depth": 2,
        "hidden_size": 16,
        "intermediate_size": 32,
        "num_heads": 2,
        "out_hidden_size": TINY_VL_HIDDEN,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "window_size": 56,
        "fullatt_block_indexes": [1],
    }
    return _build_tiny_qwen_vl(
        target, seed, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor, vision
    )


def build_tiny_llava_onevision(target: Path, seed: int = 0) -> Path:
    """A loadable LLaVA-OneVision (``llava_onevision``, the ``-hf`` layout) folder that lmms-eval's
    stock ``llava_hf`` wrapper loads (``LlavaOnevisionForConditionalGeneration``, its ``model_map``):
    a 1-layer SigLIP tower at 28x28 (4 patches) and 2 tiny Qwen2 layers."""
    import torch
    from transformers import (
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        LlavaOnevisionImageProcessor,
        LlavaOnevisionProcessor,
        LlavaOnevisionVideoProcessor,
    )

    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    specials = {"image_token": "<image>", "video_token": "<video>"}
    tokenizer = _tokenizer(specials, list(specials.values()))
    size = 28
    config = LlavaOnevisionConfig(
        vision_config={
            "model_type": "siglip_vision_model",
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": size,
            "patch_size": 14,
        },
        text_config={
            "model_type": "qwen2",
            "vocab_size": len(tokenizer),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "max_position_embeddings": 4096,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        video_token_index=tokenizer.convert_tokens_to_ids("<video>"),
        image_grid_pinpoints=[[size, size], [size, 2 * size], [2 * size, size], [2 * size, 2 * size]],
        vision_feature_select_strategy="full",
    )
    torch.manual_seed(seed)
    model = LlavaOnevisionForConditionalGeneration(config).eval()
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(target)
    template = _template(
        VISION_BOS="", VISION_EOS="", IMAGE="<image>", VIDEO="<video>", AUDIO_BOS="", AUDIO_EOS="", AUDIO=""
    )
    processor = LlavaOnevisionProcessor(
        image_processor=LlavaOnevisionImageProcessor(
            size={"height": size, "width": size}, image_grid_pinpoints=config.image_grid_pinpoints
        ),
        video_processor=LlavaOnevisionVideoProcessor(size={"height": size, "width": size}),
        tokenizer=tokenizer,
        num_image_tokens=(size // 14) ** 2,
        vision_feature_select_strategy="full",
        chat_template=template,
    )
    processor.save_pretrained(target)
    tokenizer.chat_template = template
    tokenizer.save_pretrained(target)
    return target
