"""What lmms-eval 0.7.3's model wrappers do with a HumanSense doc's media, as far as the task side must know.

The hooks use these tables to give each wrapper what the protocol means it to hear (a silent copy
where a wrapper would play a video's own track, no second audio block where it uploads the file);
the task template lists the same wrappers so lmms-eval tells the hooks which one runs; the report
names runs whose wrapper heard no sound.  One place, read by all three.
"""

from __future__ import annotations

#: Wrappers that play a video file's own sound track when handed an mp4 (lmms-eval 0.7.3: the
#: simple qwen2_5_omni / qwen3_omni / ola / baichuan_omni / minicpm_o / omnivinci / uni_moe_2_omni
#: read it, gemini uploads the file).  For tasks the protocol gives no sound they get a silent copy.
TRACK_PLAYERS = frozenset(
    {"qwen2_5_omni", "qwen3_omni", "gemini", "ola", "baichuan_omni", "minicpm_o", "omnivinci", "uni_moe_2_omni"}
)
#: Chat wrappers whose video block sends the mp4 file itself, sound track included (lmms-eval
#: 0.7.3 ``chat/gemini.py`` uploads it): a separate audio block would make the model hear the
#: speech tasks' sound twice, so they get none.  Other chat wrappers (``qwen2_5_omni`` chat
#: decodes frames only) need the block.
CHAT_FILE_UPLOADERS = frozenset({"gemini"})
#: Wrappers that give the model no sound at all (frames only; audio items are ignored or unusable).
AUDIO_DROPPERS = frozenset(
    {
        "qwen2_vl",
        "qwen2_5_vl",
        "qwen3_vl",
        "internvl",
        "internvl2",
        "internvl3",
        "internvl3_5",
        "internvl_hf",
        "llava_onevision",
        "llava_onevision1_5",
        "llava_onevision2",
        "llava_vid",
        "llava_hf",
        "videollama3",
        "openai",
        "async_openai",
    }
)
KEEP_AUDIO_COMMAND = "lmms-eval --model qwen2_5_omni --model_args pretrained=Qwen/Qwen2.5-Omni-7B --tasks humansense"
