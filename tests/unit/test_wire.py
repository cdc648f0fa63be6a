"""ovserve.runtime.wire: length-prefixed frames of typed messages between workers and engine processes."""

import pytest

from ovserve.nodes.embeddings.messages import EmbeddingRequest
from ovserve.nodes.llm.messages import GenerationRequest, GenerationSettings, TokenUpdate
from ovserve.runtime import wire
from ovserve.runtime.messages import (
    CancelRequest,
    EngineHello,
    EngineStats,
    FailureKind,
    RequestAccepted,
    RequestFailed,
    RequestUpdates,
    SubmitRequest,
)

MESSAGES = [
    EngineHello({"kind": "llm", "eos_token_id": 2}),
    SubmitRequest(
        7,
        GenerationRequest(
            tuple(range(300)), GenerationSettings(max_new_tokens=5, temperature=0.5), '{"type": "object"}'
        ),
        12.5,
    ),
    SubmitRequest(8, EmbeddingRequest(("héllo 👋", "")), 13.0),
    RequestAccepted(7),
    RequestUpdates(
        (
            (7, TokenUpdate(((0, [1, 2, 3], [-0.1, -0.2, -0.3], None),), "running"), False),
            (8, TokenUpdate((), "finished"), True),
        )
    ),
    RequestFailed(9, FailureKind.REJECTED, "bad schema", "response_format"),
    EngineStats({"live_requests": 1}),
    CancelRequest(7),
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
        out = decoder.feed(data[index : index + 1])
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


def test_a_message_travels_as_its_fields_not_as_a_pickled_object():
    """Rebuilt on arrival from plain values: the wire form holds no class of ours."""
    import pickle
    import pickletools

    frame = wire.encode(MESSAGES[4])
    opcodes = {op.name for op, _, _ in pickletools.genops(frame[wire.HEADER.size :])}
    assert not opcodes & {"GLOBAL", "STACK_GLOBAL", "REDUCE", "NEWOBJ", "BUILD"}
    assert pickle.loads(frame[wire.HEADER.size :])[0] == "updates"


def test_failure_kinds_survive_the_wire():
    (failed,) = wire.FrameDecoder().feed(wire.encode(RequestFailed(1, "overloaded", "full")))
    assert failed.kind is FailureKind.OVERLOADED and failed.param is None
