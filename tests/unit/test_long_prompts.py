"""ovserve.nodes.llm.long_prompts: every token of a prompt, with a tokenizer that keeps only its last N tokens
(as openvino_genai's GGUF tokenizer does at 8,192)."""

import re

import pytest

from ovserve.errors import InvalidRequest
from ovserve.nodes.llm.long_prompts import cut_length, encode_whole, pieces, word_boundary

BOS = 0
WORDS = "the quick brown fox jumps over a lazy dog while 3 cats nap, and it's 12:30 — café time".split(" ")


def pre_tokens(text):
    """A byte-level-BPE-like pre-tokenizer: ' word', digits alone, punctuation runs, whitespace runs."""
    return re.findall(r"'s|'t| ?[^\W\d_]+| ?\d| ?[^\s\w]+|\s+(?!\S)|\s+", text)


def cutting_encoder(cut_at, calls=None):
    def encode(text, add_special_tokens=False):
        if calls is not None:
            calls.append(len(text))
        ids = [BOS] * add_special_tokens + [hash(token) % 1000 + 1 for token in pre_tokens(text)]
        return ids[-cut_at:]  # the start of a long text is silently dropped

    return encode


def long_text(words):
    return " ".join(WORDS[i % len(WORDS)] for i in range(words))


@pytest.mark.parametrize("text", [long_text(9000), long_text(9000).replace("dog", "chien édenté")])
def test_a_text_past_the_cut_is_counted_whole_with_the_same_tokens_in_one_more_pass(text):
    whole = cutting_encoder(10**6)(text, True)
    assert len(cutting_encoder(8192)(text, True)) == 8192  # what /v3/tokenize used to answer
    calls = []
    assert encode_whole(cutting_encoder(8192, calls), text, True, 8192) == whole
    assert len(whole) > 9000 and whole.count(BOS) == 1  # special tokens once, at the start
    assert sum(calls[1:]) == len(text)  # the first try, then each character once more


def test_pieces_cover_the_text_and_stay_within_the_bytes_where_words_allow():
    text = long_text(500).replace("fox", "狐狸")
    parts = list(pieces(text, 40))
    assert "".join(parts) == text and all(len(part.encode()) <= 40 for part in parts)
    assert all(part.startswith(" ") for part in parts[1:])
    assert list(pieces("1" * 100 + " ab cd", 10)) == ["1" * 100 + " ab", " cd"]  # longer where words are far apart


def test_a_text_below_the_cut_is_encoded_once():
    calls = []
    assert len(encode_whole(cutting_encoder(8192, calls), long_text(100), False, 8192)) < 8192
    assert len(calls) == 1


def test_a_tokenizer_that_does_not_cut_is_trusted():
    calls = []
    encode_whole(cutting_encoder(10**6, calls), long_text(9000), False, None)
    assert len(calls) == 1


@pytest.mark.parametrize(
    "text, near, expected",
    [
        ("ab cd", 2, 2),
        ("ab  cd ef", 3, 6),  # not inside a run of spaces
        ("a1 2b cd", 2, 5),  # not next to a digit
        ("ab, cd ef", 2, 6),  # not after punctuation
        ("été où", 2, 3),  # letters of any script
        ("ab12 34cd", 4, None),
    ],
)
def test_pieces_split_only_before_a_space_between_two_letters(text, near, expected):
    assert word_boundary(text, near) == expected


def test_a_long_stretch_without_word_breaks_is_a_400_not_a_wrong_count():
    with pytest.raises(InvalidRequest) as caught:
        encode_whole(cutting_encoder(100), "1" * 500, False, 100, param="prompt")
    assert (caught.value.param, caught.value.code) == ("prompt", "context_length_exceeded")


def test_the_cut_is_measured():
    assert cut_length(cutting_encoder(8192), 65536) == 8192
    assert cut_length(cutting_encoder(10**6), 65536) is None
