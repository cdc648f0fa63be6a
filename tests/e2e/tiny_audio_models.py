"""Tiny random-weight audio models built at test time (no hub): a Whisper for transcription/translation and
a SpeechT5 (+ HiFi-GAN vocoder) for speech, each saved as a Hugging Face folder that `ovserve export` converts.

Their outputs are noise; what they give the tests is the real pipelines' shapes, formats and failure paths.
The tokenizers are made from files written here: Whisper's is byte-level BPE over the 256 byte symbols plus
Whisper's special tokens (languages, tasks, timestamps), which its pipeline looks up by name; SpeechT5's is
a small SentencePiece model trained on a few sentences.
"""

import json
from pathlib import Path

WHISPER_LANGUAGES = ("en", "de", "fr", "es", "it")
SAMPLE_TEXT = (
    "the quick brown fox jumps over the lazy dog. speech synthesis and recognition on a small machine. "
    "hello world, this is a test of the audio servables. one two three four five six seven eight nine ten."
)


def _byte_symbols():
    """GPT-2's byte -> printable character map (byte-level BPE's alphabet)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    codes, extra = printable[:], 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return [chr(code) for _, code in sorted(zip(printable, codes))]


def whisper_special_tokens():
    tokens = ["<|endoftext|>", "<|startoftranscript|>"]
    tokens += [f"<|{language}|>" for language in WHISPER_LANGUAGES]
    tokens += ["<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nocaptions|>"]
    tokens += ["<|notimestamps|>"]
    tokens += [f"<|{step * 0.02:.2f}|>" for step in range(1501)]
    return tokens


def build_tiny_whisper(folder):
    """A 1-layer, 16-wide Whisper with its tokenizer, feature extractor and generation config."""
    import torch
    from transformers import (
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperTokenizer,
    )

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab = {symbol: index for index, symbol in enumerate(_byte_symbols())}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    special = whisper_special_tokens()
    ids = {token: len(vocab) + index for index, token in enumerate(special)}
    tokenizer = WhisperTokenizer(
        str(folder / "vocab.json"),
        str(folder / "merges.txt"),
        unk_token="<|endoftext|>",
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
    )
    tokenizer.add_special_tokens({"additional_special_tokens": special[1:]})
    vocab_size = len(vocab) + len(special)
    config = WhisperConfig(
        vocab_size=vocab_size,
        num_mel_bins=80,
        encoder_layers=1,
        encoder_attention_heads=2,
        decoder_layers=1,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        d_model=16,
        max_source_positions=1500,
        max_target_positions=448,
        pad_token_id=ids["<|endoftext|>"],
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|endoftext|>"],
        decoder_start_token_id=ids["<|startoftranscript|>"],
        suppress_tokens=[],
        begin_suppress_tokens=[ids["<|endoftext|>"]],
    )
    torch.manual_seed(0)
    model = WhisperForConditionalGeneration(config).eval()
    generation = model.generation_config
    generation.decoder_start_token_id = ids["<|startoftranscript|>"]
    generation.eos_token_id = ids["<|endoftext|>"]
    generation.pad_token_id = ids["<|endoftext|>"]
    generation.no_timestamps_token_id = ids["<|notimestamps|>"]
    generation.prev_sot_token_id = ids["<|startofprev|>"]
    generation.lang_to_id = {f"<|{language}|>": ids[f"<|{language}|>"] for language in WHISPER_LANGUAGES}
    generation.task_to_id = {"transcribe": ids["<|transcribe|>"], "translate": ids["<|translate|>"]}
    generation.is_multilingual = True
    generation.max_initial_timestamp_index = 50
    generation.return_timestamps = False
    generation.suppress_tokens = []
    generation.begin_suppress_tokens = [ids["<|endoftext|>"]]
    generation.max_length = 448
    generation._from_model_config = False  # else the export rebuilds it from config.json, dropping lang_to_id
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    WhisperFeatureExtractor(feature_size=80).save_pretrained(folder)
    return folder


def build_tiny_speecht5(folder, vocoder_folder):
    """A 1-layer SpeechT5 text-to-speech model (character SentencePiece tokenizer) and a tiny HiFi-GAN vocoder."""
    import sentencepiece
    import torch
    from transformers import (
        SpeechT5Config,
        SpeechT5FeatureExtractor,
        SpeechT5ForTextToSpeech,
        SpeechT5HifiGan,
        SpeechT5HifiGanConfig,
        SpeechT5Processor,
        SpeechT5Tokenizer,
    )

    folder, vocoder_folder = Path(folder), Path(vocoder_folder)
    folder.mkdir(parents=True, exist_ok=True)
    corpus = folder / "corpus.txt"
    corpus.write_text("\n".join(SAMPLE_TEXT.split(". ")))
    # SpeechT5's own tokenizer is a character model with <s>=0, <pad>=1, </s>=2, <unk>=3.
    sentencepiece.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(folder / "spm_char"),
        model_type="char",
        vocab_size=40,
        bos_id=0,
        pad_id=1,
        eos_id=2,
        unk_id=3,
        character_coverage=1.0,
        minloglevel=2,
    )
    corpus.unlink()
    tokenizer = SpeechT5Tokenizer(str(folder / "spm_char.model"))
    processor = SpeechT5Processor(SpeechT5FeatureExtractor(), tokenizer)
    config = SpeechT5Config(
        vocab_size=tokenizer.vocab_size + 1,
        hidden_size=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        speech_decoder_prenet_units=16,
        speech_decoder_postnet_layers=1,
        speech_decoder_postnet_units=16,
        speaker_embedding_dim=512,
        num_mel_bins=80,
        reduction_factor=2,
        max_speech_positions=600,
        max_text_positions=200,
    )
    torch.manual_seed(0)
    SpeechT5ForTextToSpeech(config).eval().save_pretrained(folder)
    processor.save_pretrained(folder)
    vocoder_config = SpeechT5HifiGanConfig(
        model_in_dim=80,
        upsample_initial_channel=16,
        upsample_rates=[4, 4, 4, 4],
        upsample_kernel_sizes=[8, 8, 8, 8],
        resblock_kernel_sizes=[3],
        resblock_dilation_sizes=[[1, 3]],
        sampling_rate=16000,
    )
    SpeechT5HifiGan(vocoder_config).eval().save_pretrained(vocoder_folder)
    return folder, vocoder_folder


def write_speaker_embedding(path, seed=0):
    """A speaker embedding file as Text2SpeechPipeline takes it: 512 float32 values, raw little-endian."""
    import numpy

    values = numpy.random.default_rng(seed).standard_normal(512).astype("<f4") * 0.1
    Path(path).write_bytes(values.tobytes())
    return Path(path)


if __name__ == "__main__":  # python tests/e2e/tiny_audio_models.py whisper|speecht5 FOLDER
    import sys

    kind, target = sys.argv[1], Path(sys.argv[2])
    if kind == "whisper":
        build_tiny_whisper(target)
    else:
        build_tiny_speecht5(target / "speecht5", target / "hifigan")
