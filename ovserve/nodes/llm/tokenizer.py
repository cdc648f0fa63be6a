"""The model's tokenizer in an HTTP worker: whole prompts to token ids, ids back to text, token checks.

Loaded in each worker (the engine process has its own copy): the workers template, tokenize and
detokenize, so the engine's only thread does nothing but step.
"""

import logging
from importlib import resources
from pathlib import Path

from ovserve.errors import InvalidRequest
from ovserve.nodes.llm.detokenizer import ByteLevelDetokenizer, IncrementalDetokenizer, byte_table
from ovserve.nodes.llm.long_prompts import cut_length, encode_whole

log = logging.getLogger("ovserve.llm")
MAX_LOADED_TOKENIZERS = 8  # per worker process, beyond the servables that hold theirs
_LOADED = {}  # (model path, its mtime, max_model_len, cuts) -> LLMTokenizer
_RAW = {}  # (model path, its mtime) -> openvino_genai.Tokenizer, the slow part of an LLMTokenizer


def _file_key(models_path):
    path = Path(models_path)
    return str(path.resolve()), path.stat().st_mtime_ns


def _encode_piece(tokenizer, text, add_special_tokens):
    return tokenizer.encode(text, add_special_tokens=add_special_tokens).input_ids.data[0].tolist()


def verified_byte_table(tokenizer):
    """A token->bytes table when it reproduces the model's own detokenizer exactly, else None."""
    vocab = tokenizer.get_vocab()
    if not vocab or not all(isinstance(token, bytes) for token in vocab):
        return None

    def decode(ids):
        return tokenizer.decode(ids, skip_special_tokens=True)

    candidates = {i for t, i in vocab.items() if t.startswith(b"<") and t.endswith(b">")}
    candidates |= {tokenizer.get_eos_token_id(), tokenizer.get_bos_token_id(), tokenizer.get_pad_token_id()}
    special = {i for i in candidates if i in vocab.values() and decode([i]) == ""}
    table = byte_table(vocab, special)
    samples = resources.files("ovserve.nodes.llm").joinpath("data", "detokenizer_check.txt").read_text("utf-8")
    for text in samples.splitlines() + [samples]:
        ids = sorted(special)[:3] + _encode_piece(tokenizer, text, False)
        detokenizer = ByteLevelDetokenizer(table)
        if detokenizer.add(ids) + detokenizer.flush() != decode(ids):
            return None
    return table


class LLMTokenizer:
    def __init__(self, tokenizer, max_model_len, cuts_long_texts):
        self._tokenizer = tokenizer
        self.max_model_len = max_model_len
        vocab = tokenizer.get_vocab()
        self.vocab_size = max(vocab.values()) + 1 if vocab else None  # None: ids can't be checked
        # No token covers more characters than the longest in the vocabulary.
        self.max_prompt_chars = max_model_len * max(map(len, vocab), default=0) or None
        self.byte_table = verified_byte_table(tokenizer)
        self._byte_table_with_markers = None  # built when a parser first asks for special tokens
        # Only GGUF tokenizers cut (see long_prompts.py); a probe of 65,536 tokens takes ~10 ms.
        self.cut = (
            cut_length(lambda text: _encode_piece(tokenizer, text, False), max(max_model_len, 2**16))
            if cuts_long_texts
            else None
        )

    @classmethod
    def load(cls, models_path, max_model_len, cuts_long_texts):
        """The tokenizer of a model, made once per worker for each model file and settings. Loading the
        model's own tokenizer holds the worker's GIL for seconds (a GGUF's tokenizer is built from the
        file: 3 s on an idle machine, 10-13 s under load), which pauses every stream of the worker; it is
        kept per model file (`_RAW`), so a servable reloaded with other options, or a second servable of
        the same model, makes only the cheap rest (0.2 s). Tokenizers are read-only once made."""
        key = (*_file_key(models_path), max_model_len, cuts_long_texts)
        loaded = _LOADED.get(key)
        if loaded is None:
            raw = _RAW.get(key[:2])
            if raw is None:
                import openvino_genai  # only here: the supervisor validates configs without loading OpenVINO

                raw = _RAW[key[:2]] = openvino_genai.Tokenizer(str(models_path))
            loaded = cls(raw, max_model_len, cuts_long_texts)
            log.info(
                "tokenizer of %s loaded (%s detokenization)",
                models_path,
                "byte-table" if loaded.byte_table else "windowed",
            )
            _LOADED[key] = loaded
            for cache in (_LOADED, _RAW):
                while len(cache) > MAX_LOADED_TOKENIZERS:  # the oldest first: dicts keep insertion order
                    del cache[next(iter(cache))]
        return loaded

    @staticmethod
    def is_loaded(models_path):
        """Whether this worker holds the model file's own tokenizer already (loading it would pause it)."""
        return _file_key(models_path) in _RAW

    @property
    def chat_template(self):
        return self._tokenizer.chat_template

    @property
    def special_tokens(self):
        return {"bos_token": self._tokenizer.get_bos_token(), "eos_token": self._tokenizer.get_eos_token()}

    def encode(self, text, add_special_tokens, param="messages"):
        """All the tokens of a text, even where the tokenizer would cut it."""
        if self.max_prompt_chars and len(text) > self.max_prompt_chars:
            # Refused before tokenizing, which holds the HTTP worker's loop and the GIL (0.65 s for 15 MB
            # encoded once; more in pieces).
            raise InvalidRequest(
                f"This model's maximum context length is {self.max_model_len} tokens; a prompt of "
                f"{len(text)} characters is longer than any {self.max_model_len} tokens.",
                param=param,
                code="context_length_exceeded",
            )
        return encode_whole(
            lambda piece, special: _encode_piece(self._tokenizer, piece, special),
            text,
            add_special_tokens,
            self.cut,
            param,
        )

    def decode(self, ids):
        return self._tokenizer.decode(ids, skip_special_tokens=True)

    def decode_with_markers(self, ids):
        """Text with the special tokens' marker text kept (<|im_end|>, <|channel|>, ...)."""
        return self._tokenizer.decode(ids, skip_special_tokens=False)

    def known_ids(self, ids, param):
        """Token ids from a request, checked against the vocabulary (the engine must never see others)."""
        if self.vocab_size is None:
            raise InvalidRequest(
                "This model's tokenizer does not list its vocabulary, so token ids can't be checked; "
                "send text instead.",
                param=param,
                code="unsupported_value",
            )
        for position, token in enumerate(ids):
            if not 0 <= token < self.vocab_size:
                raise InvalidRequest(
                    f"token id {token} is outside the vocabulary (0..{self.vocab_size - 1}).",
                    param=f"{param}[{position}]",
                    code="invalid_value",
                )
        return list(ids)

    def new_detokenizer(self, keep_special_tokens=False):
        """An incremental detokenizer. keep_special_tokens: for output parsers whose markers are special
        tokens (gpt-oss's <|channel|>, Mistral's [TOOL_CALLS]); the end-of-sequence tokens still go."""
        if keep_special_tokens:
            if self._byte_table_with_markers is None and self.byte_table is not None:
                vocab = self._tokenizer.get_vocab()
                ends = {self._tokenizer.get_eos_token_id(), self._tokenizer.get_pad_token_id()}
                self._byte_table_with_markers = byte_table(vocab, ends)
            if self._byte_table_with_markers is not None:
                return ByteLevelDetokenizer(self._byte_table_with_markers)
            return IncrementalDetokenizer(self._decode_without_ends)
        if self.byte_table is not None:
            return ByteLevelDetokenizer(self.byte_table)
        return IncrementalDetokenizer(self.decode)

    def _decode_without_ends(self, ids):
        eos = self._tokenizer.get_eos_token_id()
        return self.decode_with_markers([i for i in ids if i != eos])

    def token_text(self, token_id):
        """(text, bytes) of one token, for logprobs; special tokens have no bytes."""
        if self.byte_table is not None:
            raw = self.byte_table[token_id] if 0 <= token_id < len(self.byte_table) else b""
        else:
            raw = self.decode([token_id]).encode("utf-8")
        return raw.decode("utf-8", errors="replace"), tuple(raw)
