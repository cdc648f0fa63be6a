"""ovserve.protocol.anthropic_requests: Anthropic Messages bodies -> the ChatInput of the chat path."""

import json
from pathlib import Path

import pytest

from ovserve.errors import InvalidRequest
from ovserve.protocol.anthropic_requests import TOOL_RESULT_ERROR_PREFIX, parse_count_tokens, parse_messages

PAYLOADS = Path(__file__).resolve().parents[1] / "fixtures" / "unit" / "payloads"
HELLO = [{"role": "user", "content": "Hello"}]


def body(**fields):
    return {"model": "m", "max_tokens": 16, "messages": HELLO, **fields}


def refused(request_body):
    with pytest.raises(InvalidRequest) as caught:
        parse_messages(request_body)
    return caught.value


def test_a_tool_round_trip_becomes_the_chat_messages_openai_would_send():
    request = parse_messages(json.loads((PAYLOADS / "anthropic_tool_round_trip.json").read_text()))
    chat = request.chat_input
    assert list(chat.messages) == json.loads((PAYLOADS / "anthropic_tool_round_trip.chat.json").read_text())
    assert chat.tool_choice == "get_weather" and chat.parallel_tool_calls is False
    (tool,) = chat.tools
    assert tool["type"] == "function" and tool["function"]["parameters"]["required"] == ["city"]
    assert chat.params.stop == ("\n\n",) and chat.params.max_tokens == 64
    assert chat.params.temperature == 0.5 and chat.params.top_k == 40
    assert chat.add_generation_prompt and not chat.continue_final_message
    assert request.model == "m" and not request.stream


def test_tool_choice_maps_onto_the_chat_choices():
    tools = [{"name": "f", "input_schema": {"type": "object"}}]
    choices = {
        None: "auto",
        "auto": "auto",
        "any": "required",
        "none": "none",
    }
    for given, expected in choices.items():
        tool_choice = None if given is None else {"type": given}
        chat = parse_messages(body(tools=tools, tool_choice=tool_choice)).chat_input
        assert chat.tool_choice == expected and chat.parallel_tool_calls
        assert bool(chat.tools) == (expected != "none")
    assert parse_messages(body()).chat_input.tool_choice == "none"


@pytest.mark.parametrize(
    "fields, param",
    [
        ({"tool_choice": {"type": "any"}}, "tool_choice.type"),
        ({"tools": [{"name": "f", "input_schema": {}}], "tool_choice": {"type": "tool"}}, "tool_choice.name"),
        (
            {"tools": [{"name": "f", "input_schema": {}}], "tool_choice": {"type": "tool", "name": "g"}},
            "tool_choice.name",
        ),
        ({"tools": [{"name": "f"}]}, "tools[0].input_schema"),
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools[0].type"),
        ({"tools": [{"type": "bash_20250124", "name": "bash"}]}, "tools[0].type"),
        ({"thinking": {"type": "enabled"}}, "thinking.budget_tokens"),
        ({"thinking": {"type": "enabled", "budget_tokens": 2048}}, "thinking.budget_tokens"),
        ({"thinking": {"type": "enabled", "budget_tokens": 100}, "max_tokens": 4096}, "thinking.budget_tokens"),
        ({"container": "c-1"}, "container"),
        ({"mcp_servers": [{"type": "url", "url": "https://x", "name": "x"}]}, "mcp_servers"),
        ({"context_management": {"edits": []}}, "context_management"),
        ({"frequency_penalty": 1}, "frequency_penalty"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"temperature": 1.5}, "temperature"),
        ({"messages": [{"role": "system", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user"}]}, "messages[0].content"),
        ({"system": [{"type": "image"}]}, None),
    ],
)
def test_what_the_server_cannot_honour_is_a_400_naming_the_field(fields, param):
    request_body = body(**fields)
    if "max_tokens" in fields and fields["max_tokens"] is None:
        del request_body["max_tokens"]
    error = refused(request_body)
    if param is not None:
        assert error.param == param, error.message


def test_max_tokens_is_required():
    request_body = body()
    del request_body["max_tokens"]
    assert refused(request_body).param == "max_tokens"


@pytest.mark.parametrize(
    "message, param",
    [
        ({"role": "user", "content": [{"type": "image", "source": {}}]}, "messages[0].content[0].source"),
        (
            {"role": "user", "content": [{"type": "image", "source": {"type": "base64", "data": "AAAA"}}]},
            "messages[0].content[0].source",
        ),
        ({"role": "assistant", "content": [{"type": "image", "source": {}}]}, "messages[0].content[0].type"),
        ({"role": "user", "content": [{"type": "document", "source": {}}]}, "messages[0].content[0].type"),
        (
            {"role": "user", "content": [{"type": "tool_use", "id": "a", "name": "f", "input": {}}]},
            "messages[0].content[0].type",
        ),
        (
            {"role": "assistant", "content": [{"type": "tool_result", "tool_use_id": "a"}]},
            "messages[0].content[0].type",
        ),
        ({"role": "user", "content": [{"type": "text"}]}, "messages[0].content[0].text"),
        (
            {"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "f"}]},
            "messages[0].content[0].input",
        ),
        ({"role": "user", "content": [{"type": "tool_result"}]}, "messages[0].content[0].tool_use_id"),
        (
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a", "content": [{"type": "image"}]}]},
            "messages[0].content[0].content[0].type",
        ),
    ],
)
def test_blocks_the_server_cannot_read_are_a_400_naming_the_block(message, param):
    assert refused(body(messages=[message])).param == param


def test_a_failed_tool_result_is_marked_for_the_template():
    result = {"type": "tool_result", "tool_use_id": "a", "content": "boom", "is_error": True}
    chat = parse_messages(body(messages=[{"role": "user", "content": [result]}])).chat_input
    assert list(chat.messages) == [{"role": "tool", "tool_call_id": "a", "content": TOOL_RESULT_ERROR_PREFIX + "boom"}]


def test_a_last_assistant_turn_is_continued_as_anthropic_prefill():
    messages = [*HELLO, {"role": "assistant", "content": "The answer is"}]
    chat = parse_messages(body(messages=messages)).chat_input
    assert chat.continue_final_message and not chat.add_generation_prompt


def test_thinking_maps_onto_the_chat_input():
    assert parse_messages(body()).chat_input.thinking is None
    assert parse_messages(body(thinking={"type": "adaptive"})).chat_input.thinking is None
    assert parse_messages(body(thinking={"type": "disabled"})).chat_input.thinking is False
    enabled = parse_messages(body(max_tokens=4096, thinking={"type": "enabled", "budget_tokens": 1024}))
    assert enabled.chat_input.thinking is True and not enabled.omit_thinking
    omitted = body(max_tokens=4096, thinking={"type": "enabled", "budget_tokens": 1024, "display": "omitted"})
    assert parse_messages(omitted).omit_thinking


def test_output_config_maps_onto_structured_output_and_effort():
    config = {"effort": "low", "format": {"type": "json_schema", "schema": {"type": "object"}}}
    chat = parse_messages(body(output_config=config)).chat_input
    assert chat.params.structured_output == ("json_schema", '{"type": "object"}')
    assert chat.reasoning_effort == "low"
    forced = body(
        output_config=config,
        tools=[{"name": "f", "input_schema": {}}],
        tool_choice={"type": "any"},
    )
    assert refused(forced).param == "output_config.format"


def test_accepted_fields_that_do_not_change_the_answer():
    chat = parse_messages(body(service_tier="auto", metadata={"user_id": "x"}, cache_control={"type": "ephemeral"}))
    assert chat.chat_input.messages == ({"role": "user", "content": "Hello"},)


def test_count_tokens_gets_the_same_prompt_without_generation_settings():
    request_body = json.loads((PAYLOADS / "anthropic_tool_round_trip.json").read_text())
    generation = parse_messages(request_body).chat_input
    for field in ("max_tokens", "stop_sequences", "temperature", "top_k", "metadata"):
        del request_body[field]
    model, counted = parse_count_tokens(request_body)
    assert model == "m"
    assert counted.messages == generation.messages and counted.tools == generation.tools
    assert counted.tool_choice == generation.tool_choice
    with pytest.raises(InvalidRequest) as caught:
        parse_count_tokens({**request_body, "max_tokens": 5})
    assert caught.value.param == "max_tokens"
