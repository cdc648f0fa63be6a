"""ovserve.protocol.requests + validation: OpenAI bodies -> typed inputs, or a 400 naming the parameter."""

import copy

import pytest

from ovserve.errors import InvalidRequest
from ovserve.graph.messages import DEFAULTED_SAMPLING_FIELDS, ChatInput, CompletionInput, SamplingParams
from ovserve.protocol.requests import parse_chat, parse_completion, parse_tokenize
from ovserve.protocol.validation import parameter_name
from tests.unit.conftest import load_fixture


def chat_body(**changes):
    body = load_fixture("payloads", "chat_basic.json")
    body.update(changes)
    return body


def completion_body(**changes):
    body = load_fixture("payloads", "completion_basic.json")
    body.update(changes)
    return body


def invalid(parse, body):
    with pytest.raises(InvalidRequest) as caught:
        parse(body)
    assert caught.value.status == 400
    assert caught.value.error_type == "invalid_request_error"
    return caught.value


# --- happy paths ---------------------------------------------------------------------------------


def test_parse_chat_basic():
    model, chat_input, stream = parse_chat(chat_body(), request_id="req-1")
    assert model == "org/echo-model"
    assert isinstance(chat_input, ChatInput)
    assert chat_input.messages == (
        {"role": "system", "content": "Be brief."},
        {"role": "user", "name": "ada", "content": "Hello"},
    )
    assert chat_input.params == SamplingParams()
    assert chat_input.add_generation_prompt is True
    assert chat_input.request_id == "req-1"
    assert (stream.stream, stream.include_usage) == (False, False)


def test_parse_chat_joins_text_parts_with_newlines_and_null_content_beside_tool_calls_is_empty():
    _, chat_input, _ = parse_chat(load_fixture("payloads", "chat_content_parts.json"))
    assert chat_input.messages == (
        {"role": "user", "content": "first part\nsecond part"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": {}}}],
        },
    )


def test_parse_chat_reads_every_sampling_field():
    _, chat_input, stream = parse_chat(load_fixture("payloads", "chat_all_sampling.json"))
    assert chat_input.params == SamplingParams(
        max_tokens=7,
        max_tokens_param="max_completion_tokens",
        temperature=0.5,
        top_p=0.9,
        top_k=40,
        min_p=0.05,
        seed=1234,
        stop=("END", "###"),
        ignore_eos=True,
        min_tokens=3,
        presence_penalty=0.25,
        frequency_penalty=-0.5,
        repetition_penalty=1.1,
        n=2,
    )
    assert (stream.stream, stream.include_usage) == (True, True)


def test_max_completion_tokens_is_preferred_over_max_tokens():
    assert parse_chat(chat_body(max_tokens=50, max_completion_tokens=7))[1].params.max_tokens == 7
    assert parse_chat(chat_body(max_tokens=50))[1].params.max_tokens == 50
    assert parse_chat(chat_body(max_tokens=50, max_completion_tokens=None))[1].params.max_tokens == 50


@pytest.mark.parametrize(
    "stop, expected",
    [
        ("END", ("END",)),
        (["a", "b"], ("a", "b")),
        ([], ()),
        (None, ()),
    ],
)
def test_stop_as_string_or_list(stop, expected):
    assert parse_chat(chat_body(stop=stop))[1].params.stop == expected


@pytest.mark.parametrize("top_k, expected", [(-1, 0), (0, 0), (5, 5), (None, None)])
def test_top_k_non_positive_means_no_limit(top_k, expected):
    assert parse_chat(chat_body(top_k=top_k))[1].params.top_k == expected


def test_null_values_take_the_defaults():
    body = chat_body(temperature=None, top_p=None, n=None, seed=None, stream=None, stream_options=None)
    _, chat_input, stream = parse_chat(body)
    assert chat_input.params == SamplingParams()
    assert stream.stream is False


def test_omitted_sampling_fields_reach_the_node_as_not_given():
    """The servable fills them (its defaults); the protocol layer must not put OpenAI's in (temperature 1 was)."""
    params = parse_chat(chat_body())[1].params
    assert {name: getattr(params, name) for name in DEFAULTED_SAMPLING_FIELDS} == dict.fromkeys(
        DEFAULTED_SAMPLING_FIELDS
    )
    given = {
        "max_tokens": 3,
        "temperature": 0,
        "top_p": 1,
        "top_k": -1,
        "min_p": 0,
        "presence_penalty": 0,
        "frequency_penalty": 0,
        "repetition_penalty": 1,
    }
    params = parse_chat(chat_body(**given))[1].params
    assert {name: getattr(params, name) for name in DEFAULTED_SAMPLING_FIELDS} == dict(given, top_k=0)
    assert isinstance(params.temperature, float) and isinstance(params.top_k, int)
    params = parse_completion(completion_body(temperature=0.7))[1].params
    assert (params.temperature, params.top_p, params.repetition_penalty) == (0.7, None, None)


def test_unsupported_fields_at_their_neutral_value_are_accepted():
    body = chat_body(logprobs=False, tools=[], logit_bias={}, tool_choice="none", response_format={"type": "text"})
    assert parse_chat(body)[0] == "org/echo-model"


def test_parse_completion_basic():
    model, prompts, stream = parse_completion(completion_body(), request_id="r2")
    assert model == "org/echo-model"
    assert prompts.inputs == (
        CompletionInput(
            "Once upon a time",
            SamplingParams(max_tokens=16, stop=("\n\n",), top_logprobs_param="logprobs"),
            request_id="r2",
        ),
    )
    assert prompts.choices == 1
    assert stream.stream is False


def test_parse_completion_prompt_as_a_list_of_one():
    _, prompts, stream = parse_completion(load_fixture("payloads", "completion_prompt_list.json"))
    assert [p.prompt for p in prompts.inputs] == ["Once upon a time"]
    assert stream.stream is True and stream.include_usage is False


@pytest.mark.parametrize(
    "prompt, expected",
    [
        (["Once", "Twice"], [("Once", ()), ("Twice", ())]),
        ([1, 2, 3], [("", (1, 2, 3))]),
        ([[1, 2], [3]], [("", (1, 2)), ("", (3,))]),
    ],
)
def test_the_four_prompt_forms(prompt, expected):
    _, prompts, _ = parse_completion(completion_body(prompt=prompt, n=2, echo=True))
    assert [(p.prompt, p.prompt_ids) for p in prompts.inputs] == expected
    assert all(p.echo and p.params.n == 2 for p in prompts.inputs)
    assert prompts.choices == 2 * len(expected)


# --- 400s naming the parameter -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, param, phrase",
    [
        ({"messages": []}, "messages", "non-empty"),
        ({"messages": "hello"}, "messages", "must be of type array"),
        ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role", "'wizard' is not one of"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content", "invalid value 5"),
        ({"temperature": "hot"}, "temperature", "must be of type number or null"),
        ({"temperature": 5}, "temperature", "greater than the maximum of 2"),
        ({"top_p": 0}, "top_p", "less than or equal to the minimum of 0"),
        ({"max_tokens": 0}, "max_tokens", "less than the minimum of 1"),
        ({"max_completion_tokens": 0}, "max_completion_tokens", "less than the minimum of 1"),
        ({"max_tokens": 1.5}, "max_tokens", "must be of type integer"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop", "is too long"),
        ({"stop": 5}, "stop", "invalid value 5"),
        ({"n": 17}, "n", "maximum of 16"),
        ({"stream": "yes"}, "stream", "must be of type boolean"),
        ({"model": ""}, "model", "should be non-empty"),
    ],
)
def test_invalid_chat_values_name_the_parameter(changes, param, phrase):
    error = invalid(parse_chat, chat_body(**changes))
    assert error.param == param
    assert error.code == "invalid_value"
    assert phrase in error.message


def test_messages_missing_is_a_400():
    body = chat_body()
    del body["messages"]
    error = invalid(parse_chat, body)
    assert "'messages' is required" in error.message


def test_messages_missing_names_the_parameter():
    body = chat_body()
    del body["messages"]
    assert invalid(parse_chat, body).param == "messages"


def test_image_content_parts_become_image_parts_in_their_place():
    body = chat_body(
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this?"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "low"}},
                    {"type": "image_url", "image_url": "data:image/png;base64,AAAA"},
                ],
            }
        ]
    )
    _, chat_input, _ = parse_chat(body)
    assert chat_input.messages[0]["content"] == [
        {"type": "text", "text": "what is this?"},
        {"type": "image"},
        {"type": "image"},
    ]
    assert [(image.url, image.param, image.detail) for image in chat_input.images] == [
        ("https://example.com/cat.png", "messages[0].content[1].image_url", "low"),
        ("data:image/png;base64,AAAA", "messages[0].content[2].image_url", None),
    ]


@pytest.mark.parametrize(
    "part, role, param",
    [
        ({"type": "image_url"}, "user", "messages[0].content[0].image_url"),
        ({"type": "image_url", "image_url": {"url": 5}}, "user", "messages[0].content[0].image_url"),
        (
            {"type": "image_url", "image_url": {"url": "x", "detail": "max"}},
            "user",
            "messages[0].content[0].image_url.detail",
        ),
        ({"type": "image_url", "image_url": "data:,"}, "assistant", "messages[0].content[0].image_url"),
        ({"type": "input_audio"}, "user", "messages[0].content[0].type"),
    ],
)
def test_bad_image_parts_are_a_400_naming_the_part(part, role, param):
    assert invalid(parse_chat, chat_body(messages=[{"role": role, "content": [part]}])).param == param


def test_text_part_without_text_names_the_missing_text():
    error = invalid(parse_chat, chat_body(messages=[{"role": "user", "content": [{"type": "text"}]}]))
    assert error.param == "messages[0].content[0].text"
    assert "not supported" not in error.message


@pytest.mark.parametrize(
    "changes, param, code",
    [
        ({"logit_bias": {"50256": -100}}, "logit_bias", "unsupported_parameter"),
        ({"logprobs": True, "top_logprobs": 2}, "top_logprobs", "unsupported_value"),
        ({"prediction": {"type": "content", "content": "x"}}, "prediction", "unsupported_parameter"),
        ({"modalities": ["text", "audio"]}, "modalities", "unsupported_parameter"),
    ],
)
def test_unsupported_chat_fields_are_rejected_not_ignored(changes, param, code):
    error = invalid(parse_chat, chat_body(**changes))
    assert error.param == param
    assert error.code == code
    assert f"'{param}'" in error.message


@pytest.mark.parametrize(
    "changes, param",
    [
        ({"top_logprobs": 1}, "top_logprobs"),  # needs logprobs: true
        ({"tool_choice": "required"}, "tool_choice"),  # needs tools
        (
            {
                "tools": [{"type": "function", "function": {"name": "f"}}],
                "tool_choice": {"type": "function", "function": {"name": "g"}},
            },
            "tool_choice",
        ),
        ({"continue_final_message": True}, "continue_final_message"),  # last message is not the assistant's
        ({"response_format": {"type": "json_schema"}}, "response_format"),
        ({"messages": [{"role": "tool", "content": "42"}]}, "messages[0].tool_call_id"),
    ],
)
def test_inconsistent_chat_fields_are_400(changes, param):
    assert invalid(parse_chat, chat_body(**changes)).param == param


TOOL_CALL = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}


@pytest.mark.parametrize(
    "messages, param",
    [
        ([{"role": "user"}], "messages[0].content"),
        ([{"role": "user", "content": None}], "messages[0].content"),
        ([{"role": "system"}, {"role": "user", "content": "Hi"}], "messages[0].content"),
        ([{"role": "developer", "content": None}], "messages[0].content"),
        ([{"role": "user", "content": "Hi"}, {"role": "assistant"}], "messages[1].content"),
        (
            [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": None, "tool_calls": []}],
            "messages[1].content",
        ),
        (
            [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "tool_calls": [TOOL_CALL]},
                {"role": "tool", "tool_call_id": "c1"},
            ],
            "messages[2].content",
        ),
    ],
)
def test_a_message_without_content_is_a_400_naming_it(messages, param):
    error = invalid(parse_chat, chat_body(messages=messages))
    assert (error.param, error.code) == (param, "invalid_value")
    assert f"'{param}' is required" in error.message
    # /v3/tokenize reads messages the same way
    assert invalid(parse_tokenize, {"model": "m", "messages": messages}).param == param


def test_an_assistant_message_with_tool_calls_may_omit_content_and_empty_content_is_content():
    messages = [
        {"role": "user", "content": ""},
        {"role": "assistant", "tool_calls": [TOOL_CALL]},
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
        {"role": "assistant", "content": []},
    ]
    assert [m["content"] for m in parse_chat(chat_body(messages=messages))[1].messages] == ["", "", "42", ""]


@pytest.mark.parametrize("name", ["messages", "add_generation_prompt", "self", "tools", "documents"])
def test_chat_template_kwargs_that_the_server_sets_are_a_400_naming_the_key(name):
    error = invalid(parse_chat, chat_body(chat_template_kwargs={"enable_thinking": False, name: []}))
    assert (error.param, error.code) == (f"chat_template_kwargs.{name}", "invalid_value")
    assert f"'{name}'" in error.message


def test_other_chat_template_kwargs_reach_the_input():
    _, chat, _ = parse_chat(chat_body(chat_template_kwargs={"enable_thinking": False, "bos_token": "<s>"}))
    assert dict(chat.template_kwargs) == {"enable_thinking": False, "bos_token": "<s>"}


def test_chat_features_reach_the_input():
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    _, chat, _ = parse_chat(
        chat_body(
            tools=tools,
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
            logprobs=True,
            top_logprobs=1,
            stop_token_ids=[7],
            include_stop_str_in_output=True,
            messages=[
                {"role": "user", "content": "Weather?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
            ],
        )
    )
    assert chat.tool_choice == "get_weather" and chat.tools == tuple(tools)
    assert chat.messages[1]["tool_calls"][0]["function"]["arguments"] == {"city": "Oslo"}
    assert chat.messages[2]["tool_call_id"] == "c1"
    assert chat.params.logprobs and chat.params.top_logprobs == 1
    assert chat.params.stop_token_ids == (7,) and chat.params.include_stop_str_in_output
    _, chat, _ = parse_chat(
        chat_body(response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}})
    )
    assert chat.params.structured_output == ("json_schema", '{"type": "object"}')
    _, chat, _ = parse_chat(
        chat_body(
            messages=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hel"}],
            continue_final_message=True,
        )
    )
    assert chat.continue_final_message and not chat.add_generation_prompt


@pytest.mark.parametrize(
    "changes, param",
    [
        ({"logprobs": 2}, "logprobs"),
        ({"suffix": "!"}, "suffix"),
        ({"best_of": 2}, "best_of"),
        ({"logit_bias": {"1": 1}}, "logit_bias"),
    ],
)
def test_unsupported_completion_fields_are_rejected(changes, param):
    assert invalid(parse_completion, completion_body(**changes)).param == param


def test_completion_echo_and_logprobs():
    _, prompts, _ = parse_completion(completion_body(echo=True, logprobs=1))
    assert prompts.inputs[0].echo and prompts.params.logprobs and prompts.params.top_logprobs == 1
    _, prompts, _ = parse_completion(completion_body(logprobs=0))
    assert prompts.params.logprobs and prompts.params.top_logprobs == 0


def test_stream_options_without_stream_is_rejected():
    error = invalid(parse_chat, chat_body(stream_options={"include_usage": True}))
    assert error.param == "stream_options"
    error = invalid(parse_completion, completion_body(stream=False, stream_options={"include_usage": True}))
    assert error.param == "stream_options"


@pytest.mark.parametrize("body", [[], "text", 42, None, [{"model": "m"}]])
def test_body_must_be_an_object(body):
    error = invalid(parse_chat, body)
    assert error.param is None
    assert error.message == "The request body must be a JSON object."


@pytest.mark.parametrize(
    "prompt, param",
    [
        ([], "prompt"),
        (7, "prompt"),
        (["a", 1], "prompt"),
        ([-1], "prompt[0]"),
        ([[]], "prompt[0]"),
        ([True], "prompt"),
        (["a"] * 129, "prompt"),
    ],
)
def test_invalid_completion_prompts(prompt, param):
    assert invalid(parse_completion, completion_body(prompt=prompt)).param == param


def test_parsing_does_not_modify_the_body():
    body = load_fixture("payloads", "chat_content_parts.json")
    snapshot = copy.deepcopy(body)
    parse_chat(body)
    assert body == snapshot


def test_parameter_name_rendering():
    assert parameter_name([]) is None
    assert parameter_name(["temperature"]) == "temperature"
    assert parameter_name(["messages", 0, "content", 1, "type"]) == "messages[0].content[1].type"
