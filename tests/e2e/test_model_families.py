"""Tool calls and reasoning in each model family's own format, end to end on the real engine.

No package ships a model of each family, so each servable of tests/fixtures/e2e/families/config.json is the
default model (SmolLM2) with a family's real chat template (tests/fixtures/unit/chat_templates/families),
its parsers chosen from that template as in production. Constrained decoding makes the model write what a
model of that family writes: `structured_outputs.regex` (tests/fixtures/e2e/families/outputs.json) for the
free ("auto") path, the family's own forced format for tool_choice "required" / named. The parsers must
read it back, unary and streamed alike (the servables are deterministic, so both see the same tokens).
"""

import json
import re

import pytest
from openai import OpenAI

from tests.e2e.server import FIXTURES, RunningServer

FAMILIES = FIXTURES / "families"
OUTPUTS = json.loads((FAMILIES / "outputs.json").read_text())
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "description": "The local time in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "format": {"enum": ["12h", "24h"]}},
                "required": ["city"],
            },
        },
    },
]
QUESTION = [{"role": "user", "content": "What is the weather in Paris?"}]
# The parsers each servable must end up with: its template's family (option "auto"), or the options'.
EXPECTED_PARSERS = {
    "family-qwen3": ("hermes", "qwen3"),
    "family-llama3-json": ("llama3_json", None),
    "family-llama3-pythonic": ("pythonic", None),
    "family-mistral": ("mistral", None),
    "family-qwen3-coder": ("qwen3_coder", None),
    "family-gpt-oss": ("harmony", "harmony"),
    "family-phi4-mini": ("phi4", None),
    "family-deepseek-r1": ("hermes", "deepseek_r1"),
    "family-default-template-named-parsers": ("json", "qwen3"),
}


@pytest.fixture(scope="module")
def families_server(tmp_path_factory):
    log = tmp_path_factory.mktemp("families") / "server.log"
    running = RunningServer(FAMILIES / "config.json", log_path=log)
    try:
        yield running.wait_ready()
    finally:
        assert running.stop() == 0, running.log_text()[-3000:]


@pytest.fixture(scope="module")
def families(families_server):
    return OpenAI(base_url=families_server.base + "/v3", api_key="unused", max_retries=0, timeout=120)


def ask(client, model, stream, **kwargs):
    """(reasoning, content, [(name, arguments)], finish_reason, arguments fragments per call) of one answer."""
    kwargs = dict(model=model, messages=QUESTION, temperature=0, max_tokens=120, **kwargs)
    if not stream:
        choice = client.chat.completions.create(**kwargs).choices[0]
        message = choice.model_extra or {}
        calls = [(call.function.name, call.function.arguments) for call in choice.message.tool_calls or ()]
        reasoning = (choice.message.model_extra or {}).get("reasoning_content") or ""
        assert reasoning == ((choice.message.model_extra or {}).get("reasoning") or "")
        del message
        return reasoning, choice.message.content or "", calls, choice.finish_reason, None
    reasoning, content, calls, fragments, finish = "", "", {}, {}, None
    for chunk in client.chat.completions.create(stream=True, **kwargs):
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        extra = delta.model_extra or {}
        assert extra.get("reasoning_content") == extra.get("reasoning")
        reasoning += extra.get("reasoning_content") or ""
        content += delta.content or ""
        for piece in delta.tool_calls or ():
            name, arguments = calls.get(piece.index, (None, ""))
            calls[piece.index] = (name or piece.function.name, arguments + (piece.function.arguments or ""))
            fragments[piece.index] = fragments.get(piece.index, 0) + bool(piece.function.arguments)
        finish = chunk.choices[0].finish_reason or finish
    return reasoning, content, [calls[i] for i in sorted(calls)], finish, [fragments[i] for i in sorted(fragments)]


def test_each_servable_takes_its_templates_parsers(families, families_server):
    listed = {model.id: model.model_extra for model in families.models.list().data}
    for name, (tool_parser, reasoning_parser) in EXPECTED_PARSERS.items():
        assert (listed[name].get("tool_parser"), listed[name].get("reasoning_parser")) == (
            tool_parser,
            reasoning_parser,
        ), name
    assert "tool parser hermes (chat template), reasoning parser qwen3 (chat template)" in families_server.log_text()


@pytest.mark.parametrize("model", sorted(OUTPUTS["calls"]))
def test_a_call_in_the_familys_format_is_read_back_unary_and_streamed(families, model):
    expected = OUTPUTS["calls"][model]
    constraint = {"structured_outputs": {"regex": expected["regex"]}}
    unary = ask(families, model, False, tools=TOOLS, extra_body=constraint)
    streamed = ask(families, model, True, tools=TOOLS, extra_body=constraint)
    assert unary[:4] == streamed[:4], "the stream and the answer read the same tokens differently"
    reasoning, content, calls, finish, _ = unary
    assert re.fullmatch(expected.get("reasoning", ""), reasoning), reasoning
    assert re.fullmatch(expected["content"], content), content
    ((name, arguments),) = calls
    assert [name, sorted(json.loads(arguments))] == expected["call"]
    assert finish == "tool_calls"


@pytest.mark.parametrize("model", sorted(OUTPUTS["answers"]))
def test_reasoning_is_separated_from_the_answer(families, model):
    expected = OUTPUTS["answers"][model]
    constraint = {"structured_outputs": {"regex": expected["regex"]}}
    unary = ask(families, model, False, extra_body=constraint)
    streamed = ask(families, model, True, extra_body=constraint)
    assert unary[:4] == streamed[:4]
    reasoning, content, calls, finish, _ = unary
    assert re.fullmatch(expected["reasoning"], reasoning), reasoning
    assert re.fullmatch(expected["content"], content), content
    assert "think>" not in content and "<|" not in content and not calls and finish == "stop"
    usage = families.chat.completions.create(
        model=model, messages=QUESTION, temperature=0, max_tokens=120, extra_body=constraint
    ).usage
    assert 0 < usage.completion_tokens_details.reasoning_tokens < usage.completion_tokens


@pytest.mark.parametrize("model", sorted(EXPECTED_PARSERS))
@pytest.mark.parametrize("tool_choice", ["required", {"type": "function", "function": {"name": "get_time"}}])
def test_forced_calls_are_written_in_the_familys_format(families, model, tool_choice):
    unary = ask(families, model, False, tools=TOOLS, tool_choice=tool_choice)
    streamed = ask(families, model, True, tools=TOOLS, tool_choice=tool_choice)
    assert unary[:4] == streamed[:4]
    _, _, calls, finish, _ = unary
    ((name, arguments),) = calls
    tools = {tool["function"]["name"]: tool["function"]["parameters"] for tool in TOOLS}
    assert name in tools and (tool_choice == "required" or name == "get_time")
    assert set(json.loads(arguments)) <= set(tools[name]["properties"])
    assert finish == "tool_calls"
    if model != "family-llama3-pythonic" and model != "family-qwen3-coder":
        # JSON arguments stream as they are generated; pythonic and XML ones are converted first
        assert streamed[4][0] > 1


@pytest.mark.parametrize("model", sorted(OUTPUTS["unknown_function"]))
def test_a_call_of_a_function_not_in_tools_stays_text(families, model):
    constraint = {"structured_outputs": {"regex": OUTPUTS["unknown_function"][model]}}
    for stream in (False, True):
        _, content, calls, finish, _ = ask(families, model, stream, tools=TOOLS, extra_body=constraint)
        assert not calls and "launch_rockets" in content and finish == "stop"


def test_thinking_can_be_switched_off_where_the_template_can(families_server, http):
    def prompt(**fields):
        body = {"model": "family-qwen3", "messages": QUESTION, **fields}
        return http.post(families_server.base + "/v3/tokenize", json=body).json()["tokens"]

    def text(ids):
        body = {"model": "family-qwen3", "tokens": ids}
        return http.post(families_server.base + "/v3/detokenize", json=body).json()["prompt"]

    thinking = text(prompt())
    assert "</think>" not in thinking
    for off in ({"reasoning_effort": "none"}, {"chat_template_kwargs": {"enable_thinking": False}}):
        assert text(prompt(**off)).endswith("<think>\n\n</think>\n\n"), off


def test_a_stop_string_never_lands_in_the_reasoning(families):
    expected = OUTPUTS["answers"]["family-qwen3"]
    constraint = {"structured_outputs": {"regex": expected["regex"]}}
    for stream in (False, True):
        reasoning, content, _, finish, _ = ask(
            families, "family-qwen3", stream, stop=["</think>"], extra_body=constraint
        )
        assert re.fullmatch(expected["reasoning"], reasoning) and "think>" not in reasoning
        assert content == "" and finish == "stop"


# DeepSeek-R1's template opens <think> in the prompt, so what the model writes first is its reasoning:
# the other APIs' reasoning output, on the real engine, without constraining the output.
R1 = "family-deepseek-r1"


def test_anthropic_messages_return_thinking_blocks(families_server):
    anthropic = pytest.importorskip("anthropic")
    client = anthropic.Anthropic(base_url=families_server.base, api_key="unused", max_retries=0)
    request = dict(
        model=R1,
        max_tokens=24,
        messages=[{"role": "user", "content": "Why is the sky blue?"}],
        extra_body={"temperature": 0},  # greedy, so the stream and the answer are the same text
    )
    message = client.messages.create(**request)
    thinking = message.content[0]
    assert thinking.type == "thinking" and thinking.thinking.strip() and thinking.signature
    assert "<think>" not in thinking.thinking and message.stop_reason in ("max_tokens", "end_turn")
    with client.messages.stream(**request) as stream:
        deltas = [
            event.delta.thinking
            for event in stream
            if event.type == "content_block_delta" and event.delta.type == "thinking_delta"
        ]
        final = stream.get_final_message()
    assert len(deltas) > 1 and "".join(deltas) == final.content[0].thinking == thinking.thinking


def test_responses_return_reasoning_items(families):
    request = dict(model=R1, input="Why is the sky blue?", max_output_tokens=24, temperature=0)
    response = families.responses.create(**request)
    reasoning = response.output[0]
    assert reasoning.type == "reasoning" and reasoning.content[0].text.strip()
    assert response.usage.output_tokens_details.reasoning_tokens > 0
    with families.responses.stream(**request) as stream:
        deltas = [event.delta for event in stream if event.type == "response.reasoning_text.delta"]
    assert len(deltas) > 1 and "".join(deltas) == reasoning.content[0].text
