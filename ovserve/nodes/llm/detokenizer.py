"""Incremental detokenization: text deltas that never split a UTF-8 character.

Decoding each token alone breaks characters made of several byte-level tokens and loses the
spaces some tokenizers attach to a token only in context. So each step decodes a small window
(the previous delta's tokens plus the new ones) and emits what the new tokens added, holding it
back while it ends in an incomplete character (U+FFFD).
"""

REPLACEMENT_CHARACTER = "\ufffd"


class IncrementalDetokenizer:
    def __init__(self, decode):
        self._decode = decode  # list[int] -> str, special tokens skipped
        self._ids = []
        self._prefix_offset = 0
        self._read_offset = 0

    @property
    def token_count(self):
        return len(self._ids)

    def add(self, new_ids):
        """Append token ids; return the text they complete ('' while a character is incomplete)."""
        self._ids.extend(new_ids)
        prefix_text = self._decode(self._ids[self._prefix_offset:self._read_offset])
        full_text = self._decode(self._ids[self._prefix_offset:])
        if len(full_text) > len(prefix_text) and not full_text.endswith(REPLACEMENT_CHARACTER):
            self._prefix_offset = self._read_offset
            self._read_offset = len(self._ids)
            return full_text[len(prefix_text):]
        return ""

    def flush(self):
        """At the end of generation: whatever is still held back, even an incomplete character."""
        prefix_text = self._decode(self._ids[self._prefix_offset:self._read_offset])
        full_text = self._decode(self._ids[self._prefix_offset:])
        self._prefix_offset = self._read_offset = len(self._ids)
        return full_text[len(prefix_text):]
