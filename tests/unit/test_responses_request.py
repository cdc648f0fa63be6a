"""ovserve.protocol.responses_request: Responses bodies -> ChatInput, the stored conversation, the refusals."""

import pytest

from ovserve.errors import InvalidRequest, NotFound
from ovserve.protocol.responses_request import parse_responses
from ovserve.protocol.responses_store import ResponsesStore, StoreOptions
from tests.unit.conftest import load_fixture

MODEL = "org/echo-model"


def parse(**fields):
    return parse_responses({"model": MODEL, "input": "Hi", **fields}, "req-1")


def refused(param, store=None, **fields):
    with pytest.raises(InvalidRequest) as raised:
        parse_responses({"model": MODEL, "input": "Hi", **fields}, "req-1", store)
    assert raised.value.status == 400 and raised.value.param == param, raised.value.message
    return raised.value


def test_a_string_input_is_one_user_message():
    request = parse(instructions="Be nice.", max_output_tokens=7, temperature=0.5)
    chat = request.chat_input
    assert chat.messages == ({"role": "system", "content": "Be nice."}, {"role": "user", "content": "Hi"})
    assert chat.params.max_tokens == 7 and chat.params.max_tokens_param == "max_output_tokens"
    assert chat.params.temperature == 0.5 and chat.request_id == "req-1"
    assert chat.tools == () and chat.tool_choice == "none"
    assert request.store and not request.stream
    (item,) = request.conversation_items  # the instructions are not an item
    assert item["type"] == "message" and item["content"] == [{"type": "input_text", "text": "Hi"}]


def test_items_become_chat_messages_with_tool_calls_and_reasoning():
    request = parse_responses(load_fixture("requests", "responses_tool_conversation.json"))
    chat = request.chat_input
    assert chat.messages == (
        {"role": "system", "content": "Use the tools."},
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": "",
            "reasoning_content": "Call the tool.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": {"city": "Paris"}},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny"},
        {"role": "assistant", "content": "It is sunny."},
        {"role": "developer", "content": "Be brief. Very."},
    )
    assert chat.tools == (
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}, "strict": True}},
    )
    assert chat.tool_choice == "get_weather" and chat.reasoning_effort == "high" and chat.thinking is None
    assert request.echo["tool_choice"] == {"type": "function", "name": "get_weather"}
    assert request.echo["tools"][0]["name"] == "get_weather" and request.echo["metadata"] == {"k": "v"}
    assert [item["id"][:3] for item in request.conversation_items] == ["msg", "rs_", "fc_", "fco", "msg", "msg"]


@pytest.mark.parametrize(
    "effort,thinking,reasoning_effort", [("none", False, None), ("minimal", False, None), ("low", None, "low")]
)
def test_reasoning_effort_maps_onto_thinking(effort, thinking, reasoning_effort):
    chat = parse(reasoning={"effort": effort}).chat_input
    assert (chat.thinking, chat.reasoning_effort) == (thinking, reasoning_effort)


def test_json_schema_text_format_is_structured_output():
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    request = parse(text={"format": {"type": "json_schema", "name": "A", "schema": schema, "strict": True}})
    kind, text = request.chat_input.params.structured_output
    assert kind == "json_schema" and '"a"' in text
    assert parse(text={"format": {"type": "json_object"}}).chat_input.params.structured_output == ("json_object", None)


def test_include_logprobs_asks_for_logprobs():
    request = parse(include=["message.output_text.logprobs"])
    assert request.logprobs and request.chat_input.params.logprobs


@pytest.mark.parametrize(
    "param,fields",
    [
        ("tools[0].type", {"tools": [{"type": "web_search_preview"}]}),
        ("tools[1].type", {"tools": [{"type": "function", "name": "f"}, {"type": "mcp", "server_label": "x"}]}),
        (
            "input[0].content[0].file_id",
            {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file_1"}]}]},
        ),
        (
            "input[0].content[1].type",
            {"input": [{"role": "user", "content": [{"type": "input_text", "text": "a"}, {"type": "input_file"}]}]},
        ),
        ("input[0].type", {"input": [{"type": "item_reference", "id": "msg_1"}]}),
        ("input[0].call_id", {"input": [{"type": "function_call_output", "output": "x"}]}),
        ("input[0].role", {"input": [{"content": "x"}]}),
        ("input", {"input": []}),
        ("truncation", {"truncation": "auto"}),
        ("background", {"background": True}),
        ("include[1]", {"include": ["message.output_text.logprobs", "file_search_call.results"]}),
        ("tool_choice", {"tool_choice": "required"}),
        (
            "tool_choice.name",
            {"tools": [{"type": "function", "name": "f"}], "tool_choice": {"type": "function", "name": "g"}},
        ),
        ("tool_choice.type", {"tool_choice": {"type": "allowed_tools", "tools": []}}),
        (
            "text.format",
            {
                "tools": [{"type": "function", "name": "f"}],
                "tool_choice": "required",
                "text": {"format": {"type": "json_object"}},
            },
        ),
        ("text.verbosity", {"text": {"verbosity": "low"}}),
        ("reasoning.effort", {"reasoning": {"effort": "extreme"}}),
        ("metadata", {"metadata": {str(i): "v" for i in range(17)}}),
        ("max_output_tokens", {"max_output_tokens": 0}),
        ("stream_options", {"stream_options": {"include_obfuscation": False}}),
        ("conversation", {"conversation": "conv_1"}),
        ("max_tool_calls", {"max_tool_calls": 2}),
    ],
)
def test_what_the_server_cant_honour_is_a_400_naming_the_field(param, fields):
    refused(param, **fields)


def test_previous_response_id_puts_the_stored_conversation_first():
    store = ResponsesStore(StoreOptions(directory=""))
    first = parse_responses({"model": MODEL, "input": "Hi"}, store=store)
    output = [
        {"id": "msg_out", "type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hello"}]}
    ]
    store.save({"id": "resp_1", "output": output}, list(first.conversation_items))
    second = parse_responses({"model": MODEL, "input": "Again", "previous_response_id": "resp_1"}, store=store)
    assert second.chat_input.messages == (
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "Again"},
    )
    assert len(second.conversation_items) == 3 and second.echo["previous_response_id"] == "resp_1"
    with pytest.raises(NotFound) as raised:
        parse_responses({"model": MODEL, "input": "x", "previous_response_id": "resp_2"}, store=store)
    assert raised.value.status == 404 and raised.value.param == "previous_response_id"
