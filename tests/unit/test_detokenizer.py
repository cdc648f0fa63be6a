"""ovserve.nodes.llm.detokenizer: text deltas never split a UTF-8 character, nothing lost or repeated."""

import random

import pytest

from ovserve.nodes.llm.detokenizer import (
    REPLACEMENT_CHARACTER,
    ByteLevelDetokenizer,
    IncrementalDetokenizer,
    byte_table,
)

TEXT = "Héllo wörld! 👋🏽 Café — naïve façade, 日本語 😀🇫🇷 ok"


def byte_level_vocabulary(pieces):
    """Token ids 0..n-1 for the given byte strings, and a decode like a byte-level BPE tokenizer's."""
    table = dict(enumerate(pieces))

    def decode(ids):
        return b"".join(table[i] for i in ids).decode("utf-8", errors="replace")

    return list(table), decode


def random_split(data, rng, longest=4):
    pieces, start = [], 0
    while start < len(data):
        end = min(len(data), start + rng.randint(1, longest))
        pieces.append(data[start:end])
        start = end
    return pieces


def stream(detokenizer, ids, rng):
    """Feed the ids in random groups of 1-3, as engine steps would; return deltas then the flush."""
    deltas, position = [], 0
    while position < len(ids):
        size = rng.randint(1, 3)
        deltas.append(detokenizer.add(ids[position : position + size]))
        position += size
    return deltas, detokenizer.flush()


def test_a_character_split_over_three_tokens_is_emitted_once_complete():
    ids, decode = byte_level_vocabulary([b"a", b"\xe2", b"\x82", b"\xac", b"b"])  # a € b
    detokenizer = IncrementalDetokenizer(decode)
    assert [detokenizer.add([i]) for i in ids] == ["a", "", "", "€", "b"]
    assert detokenizer.flush() == ""


def test_a_token_ending_inside_a_character_holds_only_until_completion():
    ids, decode = byte_level_vocabulary(["x👋".encode()[:3], "x👋".encode()[3:], b"!"])
    detokenizer = IncrementalDetokenizer(decode)
    assert [detokenizer.add([i]) for i in ids] == ["", "x👋", "!"]


def test_flush_releases_an_incomplete_trailing_character():
    ids, decode = byte_level_vocabulary([b"ok", "é".encode()[:1]])
    detokenizer = IncrementalDetokenizer(decode)
    assert detokenizer.add(ids) == ""
    assert detokenizer.flush() == "ok" + REPLACEMENT_CHARACTER
    assert detokenizer.flush() == ""


def test_adding_nothing_emits_nothing():
    ids, decode = byte_level_vocabulary([b"hi"])
    detokenizer = IncrementalDetokenizer(decode)
    assert detokenizer.add([]) == ""
    assert detokenizer.add(ids) == "hi"
    assert detokenizer.add([]) == ""


@pytest.mark.parametrize("seed", range(40))
def test_random_splits_never_emit_replacement_characters_and_lose_nothing(seed):
    rng = random.Random(seed)
    ids, decode = byte_level_vocabulary(random_split(TEXT.encode("utf-8"), rng))
    deltas, tail = stream(IncrementalDetokenizer(decode), ids, rng)

    assert all(REPLACEMENT_CHARACTER not in delta for delta in deltas)
    assert "".join(deltas) + tail == decode(ids) == TEXT
    assert tail == ""  # the text ends on a complete character: nothing is left to flush


def test_every_single_byte_token_split():
    data = TEXT.encode("utf-8")
    ids, decode = byte_level_vocabulary([data[i : i + 1] for i in range(len(data))])
    detokenizer = IncrementalDetokenizer(decode)
    deltas = [detokenizer.add([i]) for i in ids]
    assert "".join(deltas) == TEXT
    # one character per delta at most: each one is emitted exactly when its last byte arrives
    assert [delta for delta in deltas if delta] == list(TEXT)


def test_each_step_decodes_a_small_window_not_the_whole_output():
    data = ("word é 👋 " * 40).encode("utf-8")
    ids, decode = byte_level_vocabulary([data[i : i + 1] for i in range(len(data))])
    windows = []

    def recording_decode(token_ids):
        windows.append(len(token_ids))
        return decode(token_ids)

    detokenizer = IncrementalDetokenizer(recording_decode)
    text = "".join(detokenizer.add([i]) for i in ids) + detokenizer.flush()
    assert text == data.decode("utf-8")
    assert max(windows) <= 8  # the previous delta's tokens plus the new ones (a 4-byte emoji at most)


# --- the byte-table detokenizer (byte-level BPE vocabularies) ----------------------------------------


@pytest.mark.parametrize("seed", range(40))
def test_byte_table_random_splits_never_emit_replacement_characters_and_lose_nothing(seed):
    rng = random.Random(1000 + seed)
    pieces = random_split(TEXT.encode("utf-8"), rng)
    deltas, tail = stream(ByteLevelDetokenizer(pieces), list(range(len(pieces))), rng)
    assert all(REPLACEMENT_CHARACTER not in delta for delta in deltas)
    assert "".join(deltas) + tail == TEXT
    assert tail == ""


def test_byte_table_holds_a_split_character_until_its_last_byte():
    detokenizer = ByteLevelDetokenizer([b"a", b"\xe2", b"\x82", b"\xac"])
    assert [detokenizer.add([i]) for i in range(4)] == ["a", "", "", "€"]
    assert detokenizer.flush() == ""


def test_byte_table_flush_releases_an_incomplete_character():
    detokenizer = ByteLevelDetokenizer([b"ok", b"\xc3"])
    assert detokenizer.add([0, 1]) == "ok"
    assert detokenizer.flush() == REPLACEMENT_CHARACTER


def test_byte_table_skips_special_and_unknown_ids():
    table = byte_table({b"<s>": 0, b"hi": 1, b"\xc3\xa9": 2, b"</s>": 4}, special_ids={0, 4})
    assert table == [b"", b"hi", b"\xc3\xa9", b"", b""]
    detokenizer = ByteLevelDetokenizer(table)
    assert detokenizer.add([0, 1, 3, 2, 4, 99, -1]) == "hié"
