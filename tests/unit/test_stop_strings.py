"""ovserve.nodes.llm.stop_strings: cut output at stop strings without leaking part of one."""

import pytest

from ovserve.nodes.llm.stop_strings import StopStringMatcher


def feed_all(matcher, pieces):
    return [matcher.feed(piece) for piece in pieces]


def test_stop_string_spanning_several_feeds_is_never_leaked():
    matcher = StopStringMatcher(["<|end|>"])
    emitted = feed_all(matcher, ["Hello <", "|en", "d", "|> ignored"])
    assert emitted == ["Hello ", "", "", ""]
    assert matcher.stopped
    assert matcher.flush() == ""
    assert "<" not in "".join(emitted)


def test_text_after_the_stop_is_dropped_and_later_feeds_emit_nothing():
    matcher = StopStringMatcher(["STOP"])
    assert matcher.feed("abcSTOPdef") == "abc"
    assert matcher.feed("more text") == ""
    assert matcher.flush() == ""


def test_held_back_prefix_is_released_when_it_is_not_a_stop_string():
    matcher = StopStringMatcher(["<|end|>"])
    assert matcher.feed("a <|e") == "a "
    assert matcher.feed("xtra") == "<|extra"
    assert not matcher.stopped


def test_held_back_text_is_released_at_flush():
    matcher = StopStringMatcher(["###"])
    assert matcher.feed("answer ##") == "answer "
    assert matcher.flush() == "##"
    assert matcher.flush() == ""


def test_overlapping_partial_matches_keep_the_right_part():
    matcher = StopStringMatcher(["aab"])
    assert feed_all(matcher, ["xaa", "a", "b"]) == ["x", "a", ""]
    assert matcher.stopped


def test_include_stop_string():
    matcher = StopStringMatcher(["</answer>"], include_stop_string=True)
    assert feed_all(matcher, ["42</ans", "wer> trailing"]) == ["42", "</answer>"]
    assert matcher.stopped


def test_with_several_stops_the_earliest_wins():
    matcher = StopStringMatcher(["world", "lo"])
    assert matcher.feed("hello world") == "hel"


def test_with_several_stops_the_earliest_wins_across_feeds_and_with_include():
    matcher = StopStringMatcher(["STOP", "END"], include_stop_string=True)
    assert feed_all(matcher, ["aE", "ND bSTOP"]) == ["a", "END"]


def test_every_stop_is_held_back_while_it_may_still_match():
    matcher = StopStringMatcher(["abc", "xyz"])
    assert matcher.feed("1ab") == "1"
    assert matcher.feed("2xy") == "ab2"
    assert matcher.feed("z") == ""
    assert matcher.stopped


@pytest.mark.parametrize("stops", [[], [""]])
def test_no_stops_passes_everything_through(stops):
    matcher = StopStringMatcher(stops)
    assert feed_all(matcher, ["<|e", "nd|>", ""]) == ["<|e", "nd|>", ""]
    assert matcher.flush() == ""
    assert not matcher.stopped


@pytest.mark.parametrize("cut", range(1, 12))
def test_any_split_of_the_stream_gives_the_same_output(cut):
    text = "one two STOP three"
    matcher = StopStringMatcher(["STOP"])
    emitted = "".join(feed_all(matcher, [text[:cut], text[cut:]])) + matcher.flush()
    assert emitted == "one two "
