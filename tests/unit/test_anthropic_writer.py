"""ovserve.protocol.anthropic_writer: Anthropic's Message and its event stream from deltas. The stream is
read back with the anthropic SDK's own accumulator, which must rebuild the unary answer."""

import json

import pytest
from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import Message

from ovserve.errors import EngineFailure, Overloaded
from ovserve.graph.messages import ChoiceDelta, ToolCallDelta
from ovserve.protocol.anthropic_errors import anthropic_error, anthropic_status
from ovserve.protocol.anthropic_writer import MessageWriter, thinking_signature
from tests.unit.fakes import FakeGeneration, canned_steps

EVENT_ORDER_HEAD = ["message_start", "ping"]
EVENT_ORDER_TAIL = ["message_delta", "message_stop"]


def parse_named_events(raw):
    """Anthropic's SSE bytes -> [(event name, payload)]; checks the framing on the way."""
    assert raw.endswith(b"\n\n")
    events = []
    for block in raw.split(b"\n\n")[:-1]:
        name_line, data_line = block.decode("utf-8").split("\n")
        name, data = name_line.removeprefix("event: "), json.loads(data_line.removeprefix("data: "))
        assert name_line.startswith("event: ") and data["type"] == name
        events.append((name, data))
    return events


def unary(steps, **writer_options):
    writer = MessageWriter("m", **writer_options)
    generation = FakeGeneration(steps, prompt_tokens=7)
    for deltas in generation:
        writer.add(deltas)
    return writer.body(generation)


def streamed(steps, **writer_options):
    writer = MessageWriter("m", **writer_options)
    generation = FakeGeneration(steps, prompt_tokens=7)
    raw = list(writer.opening(generation))
    for deltas in generation:
        raw += writer.chunks(deltas)
    return parse_named_events(b"".join(raw + writer.closing(generation)))


def rebuilt(events):
    snapshot, buffers = None, {}
    for _name, payload in events:
        snapshot = accumulate_event(event=payload, current_snapshot=snapshot, json_bufs=buffers)
    return snapshot


THINKING_TEXT_TOOL = [
    [ChoiceDelta(0, "", reasoning="Need ")],
    [ChoiceDelta(0, "", reasoning="weather.")],
    [ChoiceDelta(0, "Checking.")],
    [ChoiceDelta(0, "", tool_calls=(ToolCallDelta(0, "call_abc", "get_weather", ""),))],
    [ChoiceDelta(0, "", tool_calls=(ToolCallDelta(0, None, None, '{"city": '),))],
    [ChoiceDelta(0, "", tool_calls=(ToolCallDelta(0, None, None, '"Oslo"}'),), finish_reason="tool_calls")],
]


def test_unary_message_has_the_blocks_in_order_and_validates_as_the_sdk_type():
    message = unary(THINKING_TEXT_TOOL)
    Message.model_validate(message)
    assert message["id"].startswith("msg_") and message["type"] == "message" and message["role"] == "assistant"
    thinking, text, tool = message["content"]
    assert thinking == {
        "type": "thinking",
        "thinking": "Need weather.",
        "signature": thinking_signature("Need weather."),
    }
    assert text == {"type": "text", "text": "Checking."}
    assert tool == {"type": "tool_use", "id": "toolu_abc", "name": "get_weather", "input": {"city": "Oslo"}}
    assert message["stop_reason"] == "tool_use" and message["stop_sequence"] is None
    assert message["usage"]["input_tokens"] == 7 and message["usage"]["output_tokens"] == 6


@pytest.mark.parametrize(
    "finish_reason, stop_string, expected",
    [("stop", None, "end_turn"), ("stop", "\n\n", "stop_sequence"), ("length", None, "max_tokens")],
)
def test_stop_reasons(finish_reason, stop_string, expected):
    steps = canned_steps(["Hel", "lo"], finish_reason)
    steps[-1][-1].stop_string = stop_string
    message = unary(steps)
    assert message["stop_reason"] == expected
    assert message["stop_sequence"] == (stop_string if expected == "stop_sequence" else None)
    events = streamed(steps)
    assert events[-2][1]["delta"] == {"stop_reason": expected, "stop_sequence": message["stop_sequence"]}


def test_stream_event_order_and_the_sdk_rebuilds_the_unary_answer():
    events = streamed(THINKING_TEXT_TOOL)
    names = [name for name, _ in events]
    assert names[:2] == EVENT_ORDER_HEAD and names[-2:] == EVENT_ORDER_TAIL
    blocks = [(payload["index"], name) for name, payload in events if name.startswith("content_block_")]
    # each block starts, gets its deltas and stops before the next one starts
    opened = [index for index, name in blocks if name == "content_block_start"]
    assert opened == [0, 1, 2]
    for index in opened:
        own = [name for i, name in blocks if i == index]
        assert own[0] == "content_block_start" and own[-1] == "content_block_stop"
        assert set(own[1:-1]) == {"content_block_delta"}
    deltas = [payload["delta"]["type"] for name, payload in events if name == "content_block_delta"]
    assert deltas == ["thinking_delta", "thinking_delta", "signature_delta", "text_delta"] + ["input_json_delta"] * 2
    assert events[0][1]["message"]["usage"]["input_tokens"] == 7
    assert events[-2][1]["usage"]["output_tokens"] == 6
    final = rebuilt(events).model_dump(exclude_none=True)
    expected = Message.model_validate(unary(THINKING_TEXT_TOOL)).model_dump(exclude_none=True)
    assert {**final, "id": None} == {**expected, "id": None}


def test_a_text_only_stream():
    events = streamed(canned_steps(["Hel", "lo", "!"]))
    assert [name for name, _ in events] == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert rebuilt(events).content[0].text == "Hello!"


def test_omitted_thinking_keeps_the_block_and_its_signature_without_the_text():
    message = unary(THINKING_TEXT_TOOL, omit_thinking=True)
    assert message["content"][0]["thinking"] == "" and message["content"][0]["signature"]
    events = streamed(THINKING_TEXT_TOOL, omit_thinking=True)
    assert not [p for n, p in events if n == "content_block_delta" and p["delta"]["type"] == "thinking_delta"]


def test_a_failure_after_the_headers_is_an_error_event_that_ends_the_stream():
    writer = MessageWriter("m")
    (event,) = parse_named_events(b"".join(writer.failed(EngineFailure("the engine failed"))))
    assert event == ("error", {"type": "error", "error": {"type": "api_error", "message": "the engine failed"}})


def test_error_types_and_statuses_are_anthropics():
    assert anthropic_status(Overloaded("busy")) == 529
    assert anthropic_error(Overloaded("busy"))["error"]["type"] == "overloaded_error"
    assert anthropic_error(EngineFailure("x"))["error"]["type"] == "api_error"
