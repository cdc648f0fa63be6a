"""ovserve.protocol.chat_completions / completions / sse: OpenAI's answers and stream chunks from deltas."""

import json
import re

import pytest

from ovserve.errors import EngineFailure
from ovserve.graph.messages import ChoiceDelta, TokenLogprob, ToolCallDelta
from ovserve.protocol import sse
from ovserve.protocol.chat_completions import ChatWriter
from ovserve.protocol.completions import CompletionWriter
from tests.unit.fakes import FakeGeneration, canned_steps

CHOICE_KEYS_CHAT_CHUNK = {"index", "delta", "logprobs", "finish_reason"}


def parse_events(raw):
    """SSE bytes -> list of payloads (dicts, or the string '[DONE]'); checks the framing on the way."""
    assert raw.endswith(b"\n\n")
    events = []
    for block in raw.split(b"\n\n")[:-1]:
        assert block.startswith(b"data: ") and b"\n" not in block
        data = block[len(b"data: ") :].decode("utf-8")
        events.append(data if data == "[DONE]" else json.loads(data))
    return events


def unary(writer, generation):
    for deltas in generation:
        writer.add(deltas)
    return writer.body(generation)


def streamed(writer, generation):
    """The events a stream of `generation` sends, as the request pipeline asks the writer for them."""
    raw = list(writer.opening(generation))
    for deltas in generation:
        raw += writer.chunks(deltas)
    return parse_events(b"".join(raw + writer.closing(generation)))


def token(text, logprob=-0.5):
    return TokenLogprob(text, logprob, tuple(text.encode()))


# --- sse -----------------------------------------------------------------------------------------------


def test_sse_event_is_compact_utf8_json_and_done_marker():
    assert sse.event({"a": "é😀", "b": [1, 2]}) == 'data: {"a":"é😀","b":[1,2]}\n\n'.encode("utf-8")
    assert sse.DONE == b"data: [DONE]\n\n"


# --- unary ----------------------------------------------------------------------------------------------


def test_unary_chat_completion_shape():
    body = unary(ChatWriter("org/echo-model", 1), FakeGeneration(canned_steps(["Hel", "lo"]), prompt_tokens=3))
    assert re.fullmatch(r"chatcmpl-[0-9a-f]{32}", body["id"])
    assert isinstance(body["created"], int)
    del body["id"], body["created"]
    assert body == {
        "object": "chat.completion",
        "model": "org/echo-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello"},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 3,
            "completion_tokens": 2,
            "total_tokens": 5,
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    }


def test_unary_text_completion_shape_with_several_choices():
    steps = [[ChoiceDelta(1, "B"), ChoiceDelta(0, "A")], [ChoiceDelta(0, "a", "length")], [ChoiceDelta(1, "b", "stop")]]
    body = unary(CompletionWriter("m", 2), FakeGeneration(steps, prompt_tokens=1))
    assert body["id"].startswith("cmpl-")
    assert body["object"] == "text_completion"
    assert body["choices"] == [
        {"index": 0, "text": "Aa", "logprobs": None, "finish_reason": "length"},
        {"index": 1, "text": "Bb", "logprobs": None, "finish_reason": "stop"},
    ]
    assert body["usage"] == {"prompt_tokens": 1, "completion_tokens": 4, "total_tokens": 5}


def test_chat_tool_calls_merge_in_the_unary_answer_and_stream_as_pieces():
    steps = [
        [ChoiceDelta(0, "", tool_calls=(ToolCallDelta(0, "call_1", "get_weather", '{"city":'),))],
        [ChoiceDelta(0, "", "tool_calls", tool_calls=(ToolCallDelta(0, arguments=' "Oslo"}'),))],
    ]
    message = unary(ChatWriter("m", 1), FakeGeneration(steps))["choices"][0]["message"]
    assert message == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}
        ],
    }
    events = streamed(ChatWriter("m", 1), FakeGeneration(steps))
    assert [choice["delta"] for event in events[1:3] for choice in event["choices"]] == [
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":'},
                }
            ]
        },
        {"tool_calls": [{"index": 0, "function": {"arguments": ' "Oslo"}'}}]},
    ]
    assert events[3]["choices"][0]["finish_reason"] == "tool_calls"


def test_chat_logprobs_list_the_sampled_token_as_its_one_alternative():
    steps = [[ChoiceDelta(0, "Hi", "stop", logprobs=(token("Hi"),))]]
    expected = {
        "content": [
            {
                "token": "Hi",
                "logprob": -0.5,
                "bytes": [72, 105],
                "top_logprobs": [{"token": "Hi", "logprob": -0.5, "bytes": [72, 105]}],
            }
        ]
    }
    assert (
        unary(ChatWriter("m", 1, logprobs=True, top_logprobs=1), FakeGeneration(steps))["choices"][0]["logprobs"]
        == expected
    )
    events = streamed(ChatWriter("m", 1, logprobs=True, top_logprobs=1), FakeGeneration(steps))
    assert events[1]["choices"][0]["logprobs"] == expected


def test_completion_text_offsets_count_the_echoed_prompt_unary_and_streamed():
    steps = [
        [ChoiceDelta(0, "Say:")],
        [ChoiceDelta(0, " a", logprobs=(token(" a"),))],
        [ChoiceDelta(0, " b", "stop", logprobs=(token(" b"),))],
    ]
    logprobs = unary(CompletionWriter("m", 1, logprobs=True), FakeGeneration(steps))["choices"][0]["logprobs"]
    assert logprobs == {
        "tokens": [" a", " b"],
        "token_logprobs": [-0.5, -0.5],
        "top_logprobs": None,
        "text_offset": [4, 6],
    }
    events = streamed(CompletionWriter("m", 1, logprobs=True), FakeGeneration(steps))
    offsets = [c["logprobs"]["text_offset"] for e in events[:-1] for c in e["choices"] if c["logprobs"]]
    assert offsets == [[4], [6]]


# --- streaming --------------------------------------------------------------------------------------------


def test_chat_stream_shape():
    writer = ChatWriter("org/echo-model", 1)
    events = streamed(writer, FakeGeneration(canned_steps(["Hel", "lo"])))
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


def test_completion_stream_shape():
    writer = CompletionWriter("m", 1)
    events = streamed(writer, FakeGeneration(canned_steps(["Once", " upon"], "length")))
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert {chunk["object"] for chunk in chunks} == {"text_completion"}
    assert all(chunk["id"] == writer.id and chunk["id"].startswith("cmpl-") for chunk in chunks)
    assert [chunk["choices"] for chunk in chunks] == [
        [{"index": 0, "text": "Once", "logprobs": None, "finish_reason": None}],
        [{"index": 0, "text": " upon", "logprobs": None, "finish_reason": None}],
        [{"index": 0, "text": "", "logprobs": None, "finish_reason": "length"}],
    ]


@pytest.mark.parametrize("writer_class", [ChatWriter, CompletionWriter])
def test_usage_chunk_only_with_include_usage(writer_class):
    events = streamed(
        writer_class("m", 1, include_usage=True), FakeGeneration(canned_steps(["a", "b", "c"]), prompt_tokens=7)
    )
    *chunks, usage_chunk, done = events
    assert done == "[DONE]"
    assert usage_chunk["choices"] == []
    usage = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
    if writer_class is ChatWriter:
        usage["completion_tokens_details"] = {"reasoning_tokens": 0}
    assert usage_chunk["usage"] == usage
    assert all(chunk["usage"] is None for chunk in chunks)

    events = streamed(writer_class("m", 1), FakeGeneration(canned_steps(["a", "b", "c"])))
    assert all("usage" not in chunk and chunk["choices"] for chunk in events[:-1])


def test_chat_stream_with_several_choices_starts_every_choice_with_the_role():
    steps = [[ChoiceDelta(0, "x"), ChoiceDelta(1, "y", "stop")], [ChoiceDelta(0, "z", "length")]]
    events = streamed(ChatWriter("m", 2), FakeGeneration(steps))
    first = events[0]["choices"]
    assert [(c["index"], c["delta"]) for c in first] == [
        (0, {"role": "assistant", "content": ""}),
        (1, {"role": "assistant", "content": ""}),
    ]
    finishes = {
        c["index"]: c["finish_reason"] for chunk in events[1:-1] for c in chunk["choices"] if c["finish_reason"]
    }
    assert finishes == {0: "length", 1: "stop"}
    assert [len(chunk["choices"]) for chunk in events[1:3]] == [2, 1]  # contents first, the finish on its own


def test_a_failed_stream_ends_with_openai_s_error_event_then_done():
    events = parse_events(b"".join(ChatWriter("m", 1).failed(EngineFailure("the engine process exited"))))
    assert events == [
        {"error": {"message": "the engine process exited", "type": "engine_error", "param": None, "code": None}},
        "[DONE]",
    ]


def test_every_writer_has_its_own_id():
    assert ChatWriter("m", 1).id != ChatWriter("m", 1).id
