"""Write a Hugging Face copy of the default LLM (SmolLM2-135M-Instruct) from its GGUF file.

    python make_hf_smollm2.py GGUF_FILE OUTPUT_FOLDER

It gives `ovserve export --task text_generation` a real HF LLM without a hub (needs transformers,
accelerate and gguf). transformers dequantizes the weights (bf16); its GGUF tokenizer conversion
is wrong for this model (it loses the spaces), so the tokenizer is rebuilt from the GGUF's own
byte-level BPE vocabulary, merges and chat template.
"""

import sys
from pathlib import Path

import torch
from gguf import GGUFReader
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast


def gguf_strings(reader, name):
    field = reader.fields[name]
    return [bytes(field.parts[index]).decode("utf-8") for index in field.data]


def tokenizer_from_gguf(path):
    reader = GGUFReader(path)
    tokens = gguf_strings(reader, "tokenizer.ggml.tokens")
    merges = [tuple(merge.split(" ", 1)) for merge in gguf_strings(reader, "tokenizer.ggml.merges")]
    backend = Tokenizer(models.BPE({token: index for index, token in enumerate(tokens)}, merges))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.add_special_tokens([token for token in tokens if token.startswith("<|") and token.endswith("|>")])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        unk_token="<|endoftext|>",
        pad_token="<|im_end|>",
    )
    tokenizer.chat_template = gguf_strings(reader, "tokenizer.chat_template")[0]
    return tokenizer


def main(gguf_file, output):
    gguf_file = Path(gguf_file)
    model = AutoModelForCausalLM.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name, dtype=torch.bfloat16)
    model.save_pretrained(output)
    tokenizer_from_gguf(str(gguf_file)).save_pretrained(output)


if __name__ == "__main__":
    main(*sys.argv[1:3])
