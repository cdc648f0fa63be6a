"""A tiny random-weight Stable Diffusion pipeline, built at test time and saved as a diffusers folder.

    python -m tests.e2e.tiny_diffusion OUTPUT_FOLDER

No package ships diffusion weights and nothing may be fetched from a hub, so the parts are made here
from small configs (seeded): a UNet, a VAE and a CLIP text encoder of a few narrow layers, a CLIP
tokenizer whose vocabulary is the 512 byte symbols (`ovserve export` converts it with
openvino_tokenizers) and a DDIM scheduler. Its images are noise; it proves the plumbing (export,
engine, routes, PNG sizes, cancellation), never image quality.
"""

import json
import sys
from pathlib import Path

# The VAE halves the size once (two blocks): a 64x64 image is a 32x32 latent.
VAE_SCALE_FACTOR = 2
TEXT_WIDTH = 32


def _byte_symbols():
    """GPT-2's printable stand-ins for the 256 bytes (CLIP's BPE works on these)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return [chr(code) for code in codes]


def write_clip_tokenizer(folder):
    """A CLIP tokenizer with no merges: every byte is a token (word ends are marked with </w>)."""
    from transformers import CLIPTokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    symbols = _byte_symbols()
    vocabulary = symbols + [symbol + "</w>" for symbol in symbols] + ["<|startoftext|>", "<|endoftext|>"]
    (folder / "vocab.json").write_text(json.dumps({token: index for index, token in enumerate(vocabulary)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=77)
    return tokenizer, len(vocabulary)


def build(output):
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    output = Path(output)
    tokenizer, vocabulary_size = write_clip_tokenizer(output.parent / f".{output.name}-tokenizer-source")
    unet = UNet2DConditionModel(
        block_out_channels=(16, 32),
        layers_per_block=1,
        norm_num_groups=8,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=TEXT_WIDTH,
        attention_head_dim=4,
    )
    vae = AutoencoderKL(
        block_out_channels=(16, 32),
        norm_num_groups=8,
        layers_per_block=1,
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        sample_size=64,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=vocabulary_size,
            hidden_size=TEXT_WIDTH,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            max_position_embeddings=77,
            bos_token_id=vocabulary_size - 2,
            eos_token_id=vocabulary_size - 1,
            pad_token_id=vocabulary_size - 1,
        )
    )
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    pipeline = StableDiffusionPipeline(
        vae=vae.eval(),
        text_encoder=text_encoder.eval(),
        tokenizer=tokenizer,
        unet=unet.eval(),
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipeline.save_pretrained(output)
    return output


if __name__ == "__main__":
    build(sys.argv[1])


def export_tiny_diffusion(root, config, name):
    """Build the tiny pipeline under `root` and `ovserve export` it, added to `config` as `name`; return
    the exported folder (for the fixtures of tests/e2e/test_images.py and benchmarks/images.py)."""
    import os
    import subprocess

    repo = Path(__file__).resolve().parents[2]
    source = Path(root) / "sources" / "tiny-sd"
    subprocess.run(
        [sys.executable, "-m", "tests.e2e.tiny_diffusion", str(source)],
        cwd=repo,
        check=True,
        timeout=300,
        capture_output=True,
        env=dict(os.environ, HF_HUB_OFFLINE="1"),
    )
    output = Path(root) / "models" / "tiny-sd"
    command = [sys.executable, "-m", "ovserve", "export", str(source), "--task", "text_to_image"]
    command += ["--weight-format", "fp16", "--output-dir", str(output), "--add-to-config", str(config), "--name", name]
    run = subprocess.run(command, cwd=repo, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, f"ovserve export failed ({run.returncode}):\n{run.stdout[-3000:]}{run.stderr[-3000:]}"
    return output
