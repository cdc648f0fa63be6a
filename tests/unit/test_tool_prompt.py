"""ovserve.nodes.llm.tool_prompt: tools, and earlier tool calls, for a chat template without tool support."""

import json

import pytest

from ovserve.nodes.llm.chat_template import ChatTemplate, TemplateError
from ovserve.nodes.llm.tool_prompt import example_call, tool_instructions, with_tool_instructions, written_history
from tests.unit.conftest import load_fixture, read_fixture

CONVERSATION = load_fixture("tool_conversations", "weather_two_turns.json")
TOOLS, MESSAGES = CONVERSATION["tools"], CONVERSATION["messages"]


def test_the_two_turn_conversation_renders_calls_and_results_on_the_smollm2_template():
    template = ChatTemplate(read_fixture("chat_templates", "smollm2_chatml.jinja"))
    rendered = template.render(with_tool_instructions(MESSAGES, TOOLS, "auto"))
    assert rendered == read_fixture("tool_conversations", "weather_two_turns.smollm2.txt")


def test_earlier_calls_are_written_into_the_assistant_content_after_its_text():
    assistant = written_history(MESSAGES)[1]
    assert "tool_calls" not in assistant
    text, first, second = assistant["content"].split("\n")
    assert text == "Checking both."
    for line, city in ((first, "Paris"), (second, "Rome")):
        assert line.startswith("<tool_call>") and line.endswith("</tool_call>")
        call = json.loads(line.removeprefix("<tool_call>").removesuffix("</tool_call>"))
        assert call == {"name": "get_weather", "arguments": {"city": city, "unit": "celsius"}}


def test_a_call_without_content_and_with_unparsed_arguments_keeps_them_as_sent():
    calls = [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "not json"}}]
    written = written_history([{"role": "assistant", "content": "", "tool_calls": calls}])
    assert written == [
        {"role": "assistant", "content": '<tool_call>{"name": "f", "arguments": "not json"}</tool_call>'}
    ]


def test_consecutive_results_share_one_user_turn_so_turns_alternate():
    roles = [message["role"] for message in written_history(MESSAGES)]
    assert roles == ["user", "assistant", "user", "assistant", "user"]
    results = written_history(MESSAGES)[2]["content"]
    assert results == "<tool_response>\n18 C, sunny\n</tool_response>\n<tool_response>\n24 C, clear\n</tool_response>"


def test_a_template_that_refuses_other_roles_renders_the_rewritten_conversation():
    source = (
        "{% for message in messages %}{% if message['role'] not in ('system', 'user', 'assistant') %}"
        "{{ raise_exception('unknown role ' + message['role']) }}{% endif %}{{ message['content'] }}{% endfor %}"
    )
    with pytest.raises(TemplateError):
        ChatTemplate(source).render(MESSAGES)
    assert "24 C, clear" in ChatTemplate(source).render(with_tool_instructions(MESSAGES, TOOLS, "auto"))


def test_messages_without_tool_history_are_unchanged():
    plain = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    assert written_history(plain) == plain


def test_the_example_call_is_a_real_tool_with_its_required_parameters_typed():
    assert (
        example_call(TOOLS[0])
        == '<tool_call>{"name": "get_weather", "arguments": {"city": "...", "unit": "celsius"}}</tool_call>'
    )
    # No required parameters: the first ones; a nullable type takes its other type's example value.
    assert example_call(TOOLS[1]) == '<tool_call>{"name": "get_time", "arguments": {"zone": "..."}}</tool_call>'
    bare = {"type": "function", "function": {"name": "ping"}}
    assert example_call(bare) == '<tool_call>{"name": "ping", "arguments": {}}</tool_call>'


def test_instructions_name_no_placeholder_function():
    for choice in ("auto", "required", "get_time"):
        text = tool_instructions(TOOLS, choice)
        assert "FUNCTION_NAME" not in text and "<tool_call>{" in text


def test_a_named_tool_choice_is_the_example_and_is_required():
    text = tool_instructions(TOOLS, "get_time")
    assert "You must call get_time." in text
    assert text.endswith('<tool_call>{"name": "get_time", "arguments": {"zone": "..."}}</tool_call>')
    assert "You must call one of them." in tool_instructions(TOOLS, "required")


def test_tool_choice_none_lists_the_tools_but_teaches_no_call():
    text = tool_instructions(TOOLS, "none")
    assert "get_weather" in text and "<tool_call>" not in text and "Don't call" in text


def test_instructions_join_the_system_message_or_make_one():
    with_system = with_tool_instructions([{"role": "system", "content": "Be brief."}] + MESSAGES, TOOLS, "auto")
    assert with_system[0]["content"].startswith("Be brief.\n\nYou can call these functions:")
    assert with_tool_instructions(MESSAGES, TOOLS, "auto")[0]["role"] == "system"
