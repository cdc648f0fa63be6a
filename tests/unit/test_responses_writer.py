"""ovserve.protocol.responses_writer and responses_output: the response object and its typed events,
checked by the official openai client's own stream accumulator."""

import json

import httpx
from openai import OpenAI

from ovserve.errors import RequestTimeout
from ovserve.graph.messages import ChoiceDelta, TokenLogprob, ToolCallDelta
from ovserve.protocol.responses_request import parse_responses
from ovserve.protocol.responses_store import ResponsesStore, StoreOptions
from ovserve.protocol.responses_writer import ResponsesWriter
from tests.unit.fakes import FakeGeneration

STEPS = [
    [ChoiceDelta(0, "", reasoning="Think")],
    [ChoiceDelta(0, "", reasoning="ing.")],
    [ChoiceDelta(0, "Hel")],
    [ChoiceDelta(0, "lo")],
    [ChoiceDelta(0, "", tool_calls=(ToolCallDelta(0, "call_a", "get_weather", '{"city": '),))],
    [ChoiceDelta(0, "", tool_calls=(ToolCallDelta(0, arguments='"Paris"}'),), finish_reason="tool_calls")],
]


def writer(responses_store=None, **fields):
    request = parse_responses({"model": "m", "input": "Hi", **fields}, store=responses_store)
    return ResponsesWriter(request, responses_store)


def counts():
    generation = FakeGeneration([], prompt_tokens=5)
    generation.completion_tokens, generation.reasoning_tokens = 6, 2
    return generation


def streamed(writer_, steps, fail_with=None):
    events = list(writer_.opening(counts()))
    for step in steps:
        events += writer_.chunks(step)
    events += writer_.failed(fail_with) if fail_with else writer_.closing(counts())
    return b"".join(events)


def sdk_stream(raw):
    """The SSE bytes read by openai's own `responses.stream` helper."""
    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, headers={"content-type": "text/event-stream"}, content=raw)
    )
    client = OpenAI(base_url="http://test/v3", api_key="x", http_client=httpx.Client(transport=transport))
    return client.responses.stream(model="m", input="Hi")


def test_unary_output_items_in_the_order_the_model_produced_them():
    answer = writer()
    for step in STEPS:
        answer.add(step)
    body = answer.body(counts())
    assert [item["type"] for item in body["output"]] == ["reasoning", "message", "function_call"]
    reasoning, message, call = body["output"]
    assert reasoning["content"] == [{"type": "reasoning_text", "text": "Thinking."}] and reasoning["summary"] == []
    assert message["content"][0]["text"] == "Hello" and message["id"].startswith("msg_")
    assert call["call_id"] == "call_a" and call["arguments"] == '{"city": "Paris"}' and call["id"].startswith("fc_")
    assert body["status"] == "completed" and body["usage"]["output_tokens_details"] == {"reasoning_tokens": 2}
    assert body["usage"]["total_tokens"] == 11


def test_a_cut_answer_is_incomplete():
    answer = writer(max_output_tokens=2)
    answer.add([ChoiceDelta(0, "Hi", finish_reason="length")])
    body = answer.body(counts())
    assert body["status"] == "incomplete" and body["incomplete_details"] == {"reason": "max_output_tokens"}
    assert body["output"][0]["status"] == "incomplete"


def test_an_empty_answer_is_an_empty_message():
    answer = writer()
    answer.add([ChoiceDelta(0, "", finish_reason="stop")])
    assert [item["content"][0]["text"] for item in answer.body(counts())["output"]] == [""]


def test_the_sdk_assembles_the_stream_into_the_unary_object():
    raw = streamed(writer(), STEPS)
    with sdk_stream(raw) as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert final.output_text == "Hello"
    assert [item.type for item in final.output] == ["reasoning", "message", "function_call"]
    kinds = [event.type for event in events]
    for kind in (
        "response.reasoning_text.delta",
        "response.reasoning_text.done",
        "response.output_text.done",
        "response.content_part.done",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
    ):
        assert kind in kinds
    assert raw.startswith(b"event: response.created\ndata: {")


def test_logprobs_reach_the_text_deltas_and_the_part():
    answer = writer(include=["message.output_text.logprobs"])
    entry = TokenLogprob("Hi", -0.5, (72, 105))
    raw = streamed(answer, [[ChoiceDelta(0, "Hi", logprobs=(entry,), finish_reason="stop")]])
    events = [json.loads(line[6:]) for line in raw.decode().splitlines() if line.startswith("data: ")]
    (delta,) = [event for event in events if event["type"] == "response.output_text.delta"]
    assert delta["logprobs"] == [{"token": "Hi", "logprob": -0.5, "bytes": [72, 105], "top_logprobs": []}]
    assert events[-1]["response"]["output"][0]["content"][0]["logprobs"] == delta["logprobs"]


def test_a_failed_stream_tells_the_error_and_is_not_stored():
    store = ResponsesStore(StoreOptions(directory=""))
    answer = writer(store)
    raw = streamed(answer, STEPS[:2], fail_with=RequestTimeout("too slow"))
    events = [json.loads(line[6:]) for line in raw.decode().splitlines() if line.startswith("data: ")]
    assert [event["type"] for event in events[-2:]] == ["error", "response.failed"]
    assert events[-1]["response"]["status"] == "failed" and events[-1]["response"]["error"]["message"] == "too slow"
    assert store.get(answer.id) is None


def test_a_completed_stream_is_stored_unless_store_is_false():
    store = ResponsesStore(StoreOptions(directory=""))
    kept, unkept = writer(store), writer(store, store=False)
    streamed(kept, STEPS)
    streamed(unkept, STEPS)
    assert store.get(kept.id).response["output"][1]["content"][0]["text"] == "Hello"
    assert store.get(unkept.id) is None
