"""ovserve.protocol.responses + sse: OpenAI's response objects and chunks, unary and streamed."""

import json
import re

import pytest

from ovserve.errors import EngineFailure
from ovserve.graph.messages import ChoiceDelta
from ovserve.protocol import sse
from ovserve.protocol.responses import CHAT, COMPLETION, ResponseWriter
from tests.unit.fakes import FakeGeneration, canned_steps

CHOICE_KEYS_CHAT_CHUNK = {"index", "delta", "logprobs", "finish_reason"}
CHOICE_KEYS_TEXT = {"index", "text", "logprobs", "finish_reason"}


def parse_events(raw):
    """SSE bytes -> list of payloads (dicts, or the string '[DONE]'); checks the framing on the way."""
    assert raw.endswith(b"\n\n")
    events = []
    for block in raw.split(b"\n\n")[:-1]:
        assert block.startswith(b"data: ") and b"\n" not in block
        data = block[len(b"data: "):].decode("utf-8")
        events.append(data if data == "[DONE]" else json.loads(data))
    return events


def streamed(shape, generation, include_usage=False, model="org/echo-model", n=1):
    writer = ResponseWriter(shape, model, n)
    return writer, parse_events(b"".join(writer.stream(generation, include_usage)))


# --- sse -----------------------------------------------------------------------------------------------

def test_sse_event_is_compact_utf8_json_and_done_marker():
    assert sse.event({"a": "é😀", "b": [1, 2]}) == 'data: {"a":"é😀","b":[1,2]}\n\n'.encode("utf-8")
    assert sse.DONE == b"data: [DONE]\n\n"


# --- unary ----------------------------------------------------------------------------------------------

def test_unary_chat_completion_shape():
    generation = FakeGeneration(canned_steps(["Hel", "lo"]), prompt_tokens=3)
    body = ResponseWriter(CHAT, "org/echo-model", 1).unary(generation)
    assert re.fullmatch(r"chatcmpl-[0-9a-f]{32}", body["id"])
    assert isinstance(body["created"], int)
    del body["id"], body["created"]
    assert body == {
        "object": "chat.completion",
        "model": "org/echo-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello"},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }
    assert generation.close_calls == 1


def test_unary_text_completion_shape_with_several_choices():
    steps = [[ChoiceDelta(1, "B"), ChoiceDelta(0, "A")], [ChoiceDelta(0, "a", "length")], [ChoiceDelta(1, "b", "stop")]]
    body = ResponseWriter(COMPLETION, "m", 2).unary(FakeGeneration(steps, prompt_tokens=1))
    assert body["id"].startswith("cmpl-")
    assert body["object"] == "text_completion"
    assert body["choices"] == [
        {"index": 0, "text": "Aa", "logprobs": None, "finish_reason": "length"},
        {"index": 1, "text": "Bb", "logprobs": None, "finish_reason": "stop"},
    ]
    assert body["usage"] == {"prompt_tokens": 1, "completion_tokens": 4, "total_tokens": 5}


def test_unary_closes_the_generation_when_it_fails():
    generation = FakeGeneration(canned_steps(["x"]), fail_with=EngineFailure("engine died"))
    with pytest.raises(EngineFailure):
        ResponseWriter(CHAT, "m", 1).unary(generation)
    assert generation.close_calls == 1


# --- streaming --------------------------------------------------------------------------------------------

def test_chat_stream_shape():
    generation = FakeGeneration(canned_steps(["Hel", "lo"]))
    writer, events = streamed(CHAT, generation)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    for chunk in chunks:
        assert set(chunk) == {"id", "object", "created", "model", "choices"}  # no usage key without include_usage
        assert chunk["id"] == writer.id and chunk["id"].startswith("chatcmpl-")
        assert chunk["object"] == "chat.completion.chunk"
        assert chunk["model"] == "org/echo-model"
        assert all(set(choice) == CHOICE_KEYS_CHAT_CHUNK for choice in chunk["choices"])
    assert [chunk["choices"] for chunk in chunks] == [
        [{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}],
        [{"index": 0, "delta": {"content": "Hel"}, "logprobs": None, "finish_reason": None}],
        [{"index": 0, "delta": {"content": "lo"}, "logprobs": None, "finish_reason": None}],
        [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}],
    ]
    assert generation.close_calls == 1


def test_completion_stream_shape():
    writer, events = streamed(COMPLETION, FakeGeneration(canned_steps(["Once", " upon"], "length")))
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert {chunk["object"] for chunk in chunks} == {"text_completion"}
    assert all(chunk["id"] == writer.id and chunk["id"].startswith("cmpl-") for chunk in chunks)
    assert [chunk["choices"] for chunk in chunks] == [
        [{"index": 0, "text": "Once", "logprobs": None, "finish_reason": None}],
        [{"index": 0, "text": " upon", "logprobs": None, "finish_reason": None}],
        [{"index": 0, "text": "", "logprobs": None, "finish_reason": "length"}],
    ]


@pytest.mark.parametrize("shape", [CHAT, COMPLETION])
def test_usage_chunk_only_with_include_usage(shape):
    _, events = streamed(shape, FakeGeneration(canned_steps(["a", "b", "c"]), prompt_tokens=7), include_usage=True)
    *chunks, usage_chunk, done = events
    assert done == "[DONE]"
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"] == {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
    assert all(chunk["usage"] is None for chunk in chunks)

    _, events = streamed(shape, FakeGeneration(canned_steps(["a", "b", "c"])), include_usage=False)
    assert all("usage" not in chunk and chunk["choices"] for chunk in events[:-1])


def test_chat_stream_with_several_choices_starts_every_choice_with_the_role():
    steps = [[ChoiceDelta(0, "x"), ChoiceDelta(1, "y", "stop")], [ChoiceDelta(0, "z", "length")]]
    _, events = streamed(CHAT, FakeGeneration(steps), n=2)
    first = events[0]["choices"]
    assert [(c["index"], c["delta"]) for c in first] == [(0, {"role": "assistant", "content": ""}),
                                                         (1, {"role": "assistant", "content": ""})]
    finishes = {c["index"]: c["finish_reason"] for chunk in events[1:-1] for c in chunk["choices"] if c["finish_reason"]}
    assert finishes == {0: "length", 1: "stop"}


def test_engine_failure_mid_stream_becomes_an_error_event_then_done():
    generation = FakeGeneration(canned_steps(["partial"], finish_reason=None),
                                fail_with=EngineFailure("the engine process exited"))
    _, events = streamed(CHAT, generation, include_usage=True)
    assert events[-1] == "[DONE]"
    assert events[-2] == {"error": {"message": "the engine process exited", "type": "engine_error",
                                    "param": None, "code": None}}
    assert events[1]["choices"][0]["delta"] == {"content": "partial"}
    assert not any("usage" in event and event["choices"] == [] for event in events[:-2] if isinstance(event, dict))
    assert generation.close_calls == 1


def test_unexpected_exception_mid_stream_is_a_generic_error_event_without_internals():
    generation = FakeGeneration(canned_steps(["x"]), fail_with=KeyError("secret internal detail"))
    _, events = streamed(COMPLETION, generation)
    assert events[-1] == "[DONE]"
    error = events[-2]["error"]
    assert error["type"] == "internal_error"
    assert "secret" not in error["message"]
    assert generation.close_calls == 1


def test_consumer_closing_the_stream_early_closes_the_generation():
    generation = FakeGeneration(canned_steps(["a", "b", "c"]))
    stream = ResponseWriter(CHAT, "m", 1).stream(generation, False)
    next(stream)  # the role chunk
    next(stream)  # "a"
    stream.close()
    assert generation.close_calls == 1


def test_consumer_closing_the_stream_before_reading_closes_the_generation():
    generation = FakeGeneration(canned_steps(["a"]))
    stream = ResponseWriter(CHAT, "m", 1).stream(generation, False)
    stream.close()
    assert generation.close_calls == 1


def test_every_writer_has_its_own_id():
    assert ResponseWriter(CHAT, "m", 1).id != ResponseWriter(CHAT, "m", 1).id
