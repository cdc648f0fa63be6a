"""ovserve.runtime.wire: length-prefixed frames between workers and engine processes."""

import pytest

from ovserve.runtime import wire

MESSAGES = [
    ("hello", {"kind": "llm", "eos_token_id": 2}),
    ("submit", 7, {"prompt_ids": list(range(300)), "text": "héllo 👋"}),
    ("updates", [(7, {"sequences": [(0, [1, 2, 3], None, None)]}, False)]),
    ("cancel", 7),
]


def test_each_message_round_trips():
    for message in MESSAGES:
        assert wire.FrameDecoder().feed(wire.encode(message)) == [message]


def test_several_frames_in_one_chunk():
    data = b"".join(wire.encode(message) for message in MESSAGES)
    assert wire.FrameDecoder().feed(data) == MESSAGES


def test_frames_split_at_every_byte_boundary():
    data = b"".join(wire.encode(message) for message in MESSAGES)
    for cut in range(len(data) + 1):
        decoder = wire.FrameDecoder()
        assert decoder.feed(data[:cut]) + decoder.feed(data[cut:]) == MESSAGES, f"cut at byte {cut}"


def test_one_byte_at_a_time_yields_each_message_exactly_when_its_frame_completes():
    frames = [wire.encode(message) for message in MESSAGES]
    decoder = wire.FrameDecoder()
    received, ends, position = [], [], 0
    for frame in frames:
        position += len(frame)
        ends.append(position)
    data = b"".join(frames)
    for index in range(len(data)):
        out = decoder.feed(data[index:index + 1])
        if out:
            received.extend(out)
            assert index + 1 in ends
        else:
            assert index + 1 not in ends
    assert received == MESSAGES


def test_empty_feed_and_partial_header_yield_nothing():
    decoder = wire.FrameDecoder()
    assert decoder.feed(b"") == []
    assert decoder.feed(b"\x00\x00") == []


def test_oversized_frame_is_rejected_from_its_header():
    decoder = wire.FrameDecoder()
    with pytest.raises(ValueError, match="exceeds the limit"):
        decoder.feed(wire.HEADER.pack(wire.MAX_FRAME + 1))


def test_frame_of_exactly_the_limit_is_accepted_as_pending(monkeypatch):
    monkeypatch.setattr(wire, "MAX_FRAME", 64)
    decoder = wire.FrameDecoder()
    assert decoder.feed(wire.HEADER.pack(64) + b"\x00" * 10) == []
    with pytest.raises(ValueError):
        wire.FrameDecoder().feed(wire.HEADER.pack(65))
