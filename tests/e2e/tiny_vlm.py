"""A tiny random-weight LLaVA, built at test time and saved as a Hugging Face folder.

    python -m tests.e2e.tiny_vlm OUTPUT_FOLDER

No package ships VLM weights and nothing may be fetched from a hub, so the model is made here from a
small config (seeded): a CLIP vision tower of two 32-wide layers on 56x56 images and one 64-wide
Llama layer. The tokenizer is byte-level (every byte a token) with ChatML's tokens and LLaVA's
`<image>`. LLaVA was chosen because optimum-intel 2.2 exports it under transformers 5 (Qwen2-VL,
Qwen2.5-VL, SmolVLM, InternVL and Phi-3-vision stop at transformers 5.0 or 4.57) and openvino_genai's
VLM pipeline runs it. Every image becomes IMAGE_TOKENS tokens whatever its size (CLIP resizes it to
IMAGE_SIZE), so a test tells images apart by the greedy answer, and counts them by the prompt tokens.
Its text is noise: it proves the plumbing, never quality.
"""

import json
import sys
from pathlib import Path

IMAGE_TOKEN = "<image>"
IMAGE_SIZE = 56
PATCH_SIZE = 14
IMAGE_TOKENS = (IMAGE_SIZE // PATCH_SIZE) ** 2  # "default" feature selection drops CLIP's class token
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", IMAGE_TOKEN]

CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<image>\n"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def byte_tokenizer():
    """A byte-level BPE tokenizer without merges (every byte a token, as GPT-2's alphabet), with the
    chat and vision special tokens: small (262 tokens) and convertible by openvino_tokenizers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocabulary = {symbol: index for index, symbol in enumerate(sorted(alphabet))}
    backend = Tokenizer(models.BPE(vocabulary, []))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.add_special_tokens(SPECIAL_TOKENS)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token="<|im_end|>", pad_token="<|endoftext|>", unk_token="<|endoftext|>"
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build(output):
    import torch
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

    torch.manual_seed(0)
    output = Path(output)
    tokenizer = byte_tokenizer()
    width = 64
    config = LlavaConfig(
        text_config=LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=width,
            intermediate_size=128,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=1,
            max_position_embeddings=4096,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            tie_word_embeddings=False,
        ),
        vision_config=CLIPVisionConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=IMAGE_SIZE,
            patch_size=PATCH_SIZE,
            projection_dim=32,
        ),
        image_token_id=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
        image_seq_length=IMAGE_TOKENS,
        tie_word_embeddings=False,
    )
    model = LlavaForConditionalGeneration(config).eval()
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(output)
    tokenizer.save_pretrained(output)
    (output / "chat_template.jinja").write_text(CHAT_TEMPLATE)
    (output / "preprocessor_config.json").write_text(json.dumps(preprocessor_config(), indent=2))
    return output


def preprocessor_config():
    """CLIP's image processor settings (read by transformers and by openvino_genai's C++ side)."""
    return {
        "image_processor_type": "CLIPImageProcessor",
        "processor_class": "LlavaProcessor",
        "do_resize": True,
        "size": {"shortest_edge": IMAGE_SIZE},
        "do_center_crop": True,
        "crop_size": {"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_std": [0.26862954, 0.26130258, 0.27577711],
        "do_convert_rgb": True,
        "resample": 3,
    }


if __name__ == "__main__":
    build(sys.argv[1])
