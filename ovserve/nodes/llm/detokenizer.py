"""Incremental detokenization: text deltas that never split a UTF-8 character.

Decoding each token alone breaks characters made of several byte-level tokens and loses the
spaces some tokenizers attach to a token only in context. So each step decodes a small window
(the previous delta's tokens plus the new ones) and emits what the new tokens added, holding it
back while it ends in an incomplete character (U+FFFD).
"""

import codecs

REPLACEMENT_CHARACTER = "\ufffd"


class IncrementalDetokenizer:
    def __init__(self, decode):
        self._decode = decode  # list[int] -> str, special tokens skipped
        self._ids = []
        self._prefix_offset = 0
        self._read_offset = 0

    def add(self, new_ids):
        """Append token ids; return the text they complete ('' while a character is incomplete)."""
        self._ids.extend(new_ids)
        prefix_text = self._decode(self._ids[self._prefix_offset : self._read_offset])
        full_text = self._decode(self._ids[self._prefix_offset :])
        if len(full_text) > len(prefix_text) and not full_text.endswith(REPLACEMENT_CHARACTER):
            self._prefix_offset = self._read_offset
            self._read_offset = len(self._ids)
            return full_text[len(prefix_text) :]
        return ""

    def flush(self):
        """At the end of generation: whatever is still held back, even an incomplete character."""
        prefix_text = self._decode(self._ids[self._prefix_offset : self._read_offset])
        full_text = self._decode(self._ids[self._prefix_offset :])
        self._prefix_offset = self._read_offset = len(self._ids)
        return full_text[len(prefix_text) :]


class ByteLevelDetokenizer:
    """For tokenizers whose tokens are byte strings (byte-level BPE: GPT-2, Llama 3, SmolLM, Qwen).

    A table lookup and an incremental UTF-8 decoder per token: about a microsecond, against
    ~150 µs for a call of the OpenVINO detokenizer (measured on SmolLM2). The decoder holds back
    a character's first bytes until its last byte arrives, so nothing is split or repeated.
    """

    def __init__(self, table):
        self._table = table  # list: token id -> bytes (b"" for special tokens)
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def add(self, new_ids):
        table = self._table
        return self._utf8.decode(b"".join(table[i] if 0 <= i < len(table) else b"" for i in new_ids))

    def flush(self):
        return self._utf8.decode(b"", final=True)


def byte_table(vocab, special_ids):
    """vocab {bytes: id} -> list id -> bytes, with special tokens mapped to b'' (they are skipped)."""
    table = [b""] * (max(vocab.values()) + 1)
    for token, token_id in vocab.items():
        if token_id not in special_ids:
            table[token_id] = token
    return table
