"""OpenAI request bodies -> the graph's typed inputs."""

import json
import re
from dataclasses import dataclass

from ovserve.errors import InvalidRequest
from ovserve.graph.messages import (
    RESERVED_TEMPLATE_VARIABLES,
    ChatInput,
    CompletionInput,
    CompletionPrompts,
    SamplingParams,
)
from ovserve.protocol.image_parts import image_part, message_content
from ovserve.protocol.validation import validate_body

# Known OpenAI fields this server can't honour: rejected with a 400 naming them, never ignored.
_UNSUPPORTED = {
    "chat_completions": {
        "logit_bias": ("a non-empty map", lambda v: bool(v), "the engine has no logit bias"),
        "audio": ("set", lambda v: v is not None, "this server serves text"),
        "modalities": ("other than ['text']", lambda v: v not in (None, ["text"]), "this server serves text"),
        "prediction": ("set", lambda v: v is not None, "predicted outputs are not supported"),
        "functions": ("set", lambda v: bool(v), "the deprecated functions API is not supported; use tools"),
        "function_call": (
            "set",
            lambda v: v is not None,
            "the deprecated functions API is not supported; use tool_choice",
        ),
        "web_search_options": ("set", lambda v: v is not None, "this server has no web search"),
    },
    "completions": {
        "logit_bias": ("a non-empty map", lambda v: bool(v), "the engine has no logit bias"),
        "suffix": ("set", lambda v: v is not None, "insertion (suffix) is not supported"),
        "best_of": ("above 1", lambda v: v not in (None, 1), "best_of is not supported; use n"),
    },
}
MAX_SERVED_TOP_LOGPROBS = 1  # the engine reports the log-probability of the sampled token only


@dataclass(frozen=True)
class StreamOptions:
    stream: bool
    include_usage: bool


def _reject_unsupported(kind, body):
    for name, (what, is_set, why) in _UNSUPPORTED[kind].items():
        if name in body and is_set(body[name]):
            raise InvalidRequest(f"'{name}' {what} is not supported: {why}.", param=name, code="unsupported_parameter")


def _stop_strings(value):
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _response_format(value):
    if not value or value["type"] == "text":
        return None
    if value["type"] == "json_object":
        return ("json_object", None)
    schema = value["json_schema"].get("schema") or {"type": "object"}
    return ("json_schema", json.dumps(schema))


def _structured_outputs(body):
    """vLLM's structured_outputs (and its older guided_* fields) -> ("regex", pattern) or ("json_schema", text)."""
    given = {key: value for key, value in (body.get("structured_outputs") or {}).items() if value is not None}
    for old in ("regex", "choice", "json"):
        if body.get("guided_" + old) is not None:
            given.setdefault(old, body["guided_" + old])
    if not given:
        return None
    if len(given) > 1:
        raise InvalidRequest(
            f"structured_outputs takes one of regex, choice or json, not {' and '.join(sorted(given))}.",
            param="structured_outputs",
        )
    (kind, value), param = next(iter(given.items())), f"structured_outputs.{next(iter(given))}"
    if kind == "json":
        return ("json_schema", json.dumps(value if isinstance(value, dict) else {}))
    pattern = value if kind == "regex" else "|".join(re.escape(option) for option in value)
    try:
        re.compile(pattern)
    except re.error as exc:
        raise InvalidRequest(f"the regular expression does not compile: {exc}.", param=param) from None
    return ("regex", pattern)


def _structured_output(body):
    response_format, constraint = _response_format(body.get("response_format")), _structured_outputs(body)
    if response_format and constraint:
        raise InvalidRequest("Set response_format or structured_outputs, not both.", param="structured_outputs")
    return response_format or constraint


def sampling_params(
    body, max_tokens, logprobs, top_logprobs, max_tokens_param="max_tokens", top_logprobs_param="top_logprobs"
):
    """The SamplingParams of an OpenAI-style body (chat, completions, and Responses, whose sampling fields
    are chat's), the token budget and logprobs already read from the API's own fields."""

    def value(name, default):
        given = body.get(name)
        return default if given is None else given

    def given(name, kind):
        """A field the servable has a default for: None (not given) reaches the node as None."""
        return None if body.get(name) is None else kind(body[name])

    if top_logprobs > MAX_SERVED_TOP_LOGPROBS:
        raise InvalidRequest(
            f"'{top_logprobs_param}' is {top_logprobs}; this server reports the sampled token's "
            f"log-probability only, so at most {MAX_SERVED_TOP_LOGPROBS} alternative is served.",
            param=top_logprobs_param,
            code="unsupported_value",
        )
    top_k = given("top_k", int)
    return SamplingParams(
        max_tokens=max_tokens,
        max_tokens_param=max_tokens_param,
        temperature=given("temperature", float),
        top_p=given("top_p", float),
        top_k=None if top_k is None else max(top_k, 0),  # -1 and 0: no limit
        min_p=given("min_p", float),
        seed=body.get("seed"),
        stop=_stop_strings(body.get("stop")),
        ignore_eos=bool(value("ignore_eos", False)),
        min_tokens=int(value("min_tokens", 0)),
        presence_penalty=given("presence_penalty", float),
        frequency_penalty=given("frequency_penalty", float),
        repetition_penalty=given("repetition_penalty", float),
        n=int(value("n", 1)),
        stop_token_ids=tuple(value("stop_token_ids", ())),
        include_stop_str_in_output=bool(value("include_stop_str_in_output", False)),
        logprobs=logprobs,
        top_logprobs=top_logprobs,
        top_logprobs_param=top_logprobs_param,
        structured_output=_structured_output(body),
        prompt_logprobs=_prompt_logprobs(body),
    )


def _prompt_logprobs(body):
    """vLLM's prompt_logprobs: 0 (each prompt token's own log-probability) is what the engine can give."""
    value = body.get("prompt_logprobs")
    if value not in (None, 0):
        raise InvalidRequest(
            f"'prompt_logprobs' is {value}; this server reports each prompt token's own log-probability only, "
            "not the most likely alternatives (the engine doesn't give them): use 0.",
            param="prompt_logprobs",
            code="unsupported_value",
        )
    return value


def _stream_options(body):
    stream = bool(body.get("stream"))
    options = body.get("stream_options") or {}
    if options and not stream:
        raise InvalidRequest("'stream_options' is only allowed when 'stream' is true.", param="stream_options")
    return StreamOptions(stream, bool(options.get("include_usage")))


def _message_content(message, index):
    """The message's content (see image_parts.message_content) and its images."""
    content = message.get("content")
    if content is None:
        return "", []
    if isinstance(content, str):
        return content, []
    pieces = []
    for part_index, part in enumerate(content):
        where = f"messages[{index}].content[{part_index}]"
        if part["type"] == "text" and "text" not in part:
            raise InvalidRequest(
                "'text' is required in a text content part.", param=f"{where}.text", code="invalid_value"
            )
        if part["type"] == "image_url":
            value = part.get("image_url")
            url, detail = (value.get("url"), value.get("detail")) if isinstance(value, dict) else (value, None)
            pieces.append(image_part(url, f"{where}.image_url", detail))
            continue
        if part["type"] != "text":
            raise InvalidRequest(
                f"content part type '{part['type']}' is not supported; only text and image_url parts are.",
                param=f"{where}.type",
                code="unsupported_content",
            )
        pieces.append(part["text"])
    return message_content(pieces)


def template_tool_calls(tool_calls):
    """Templates expect arguments as objects (HF convention); OpenAI sends them as JSON text."""
    converted = []
    for call in tool_calls:
        arguments = call["function"]["arguments"]
        try:
            arguments = json.loads(arguments)
        except ValueError:
            pass
        converted.append(
            {
                "id": call["id"],
                "type": "function",
                "function": {"name": call["function"]["name"], "arguments": arguments},
            }
        )
    return converted


def _messages(body, images):
    """The chat messages of the body; their images are appended to `images`."""
    messages = []
    for index, message in enumerate(body["messages"]):
        if message.get("content") is None and not (message["role"] == "assistant" and message.get("tool_calls")):
            # As OpenAI: an empty turn is not a message (a bare user turn used to generate until the context was full).
            needs = (
                "an assistant message needs 'content' or 'tool_calls'"
                if message["role"] == "assistant"
                else f"a '{message['role']}' message needs its text"
            )
            raise InvalidRequest(
                f"'messages[{index}].content' is required: {needs}.",
                param=f"messages[{index}].content",
                code="invalid_value",
            )
        flattened = {key: value for key, value in message.items() if key in ("role", "name", "tool_call_id")}
        flattened["content"], message_images = _message_content(message, index)
        if message_images and message["role"] not in ("user", "system", "developer"):
            raise InvalidRequest(
                f"Only user, system and developer messages can carry images; this one is '{message['role']}'.",
                param=message_images[0].param,
                code="unsupported_content",
            )
        if message_images:
            images.extend(message_images)
        if message.get("tool_calls"):
            flattened["tool_calls"] = template_tool_calls(message["tool_calls"])
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        if reasoning and message["role"] == "assistant":
            flattened["reasoning_content"] = reasoning  # the name reasoning templates (Qwen3, R1) read
        if message["role"] == "tool" and "tool_call_id" not in message:
            raise InvalidRequest(
                "A 'tool' message needs the 'tool_call_id' it answers.",
                param=f"messages[{index}].tool_call_id",
                code="invalid_value",
            )
        messages.append(flattened)
    return messages


def _template_kwargs(body):
    kwargs = body.get("chat_template_kwargs") or {}
    for name in kwargs:
        if name in RESERVED_TEMPLATE_VARIABLES:
            # Each but `self` (Jinja's name for the template) is a request field of its own.
            instead = "." if name == "self" else f"; set the request's own '{name}' field instead."
            raise InvalidRequest(
                f"'{name}' is a variable the server gives the chat template itself, so it can't be "
                f"one of chat_template_kwargs{instead}",
                param=f"chat_template_kwargs.{name}",
                code="invalid_value",
            )
    return tuple(kwargs.items())


def _thinking(body):
    """ChatInput's thinking switches from chat's two ways to say them: reasoning_effort (OpenAI) and
    chat_template_kwargs.enable_thinking (Qwen3's template variable, as vLLM passes it)."""
    effort = body.get("reasoning_effort")
    enable = (body.get("chat_template_kwargs") or {}).get("enable_thinking")
    thinking = None if enable is None else bool(enable)
    if effort in ("none", "minimal"):
        thinking, effort = False if thinking is None else thinking, None
    return {"thinking": thinking, "reasoning_effort": effort}


def _tool_choice(body, tools):
    choice = body.get("tool_choice")
    if choice is None:
        return "auto" if tools else "none"
    if isinstance(choice, dict):
        choice = choice["function"]["name"]
        if choice not in {tool["function"]["name"] for tool in tools}:
            raise InvalidRequest(f"tool_choice names '{choice}', which is not among the tools.", param="tool_choice")
        return choice
    if choice == "required" and not tools:
        raise InvalidRequest("tool_choice 'required' needs at least one tool.", param="tool_choice")
    return choice


def parse_chat(body, request_id=""):
    """Return (model, ChatInput, StreamOptions) or raise InvalidRequest."""
    validate_body("chat_completions", body)
    _reject_unsupported("chat_completions", body)
    logprobs = bool(body.get("logprobs"))
    top_logprobs = body.get("top_logprobs") or 0
    if top_logprobs and not logprobs:
        raise InvalidRequest("'top_logprobs' needs 'logprobs': true.", param="top_logprobs")
    max_tokens, max_tokens_param = body.get("max_completion_tokens"), "max_completion_tokens"
    if max_tokens is None:
        max_tokens, max_tokens_param = body.get("max_tokens"), "max_tokens"
    tools = tuple(body.get("tools") or ())
    tool_choice = _tool_choice(body, tools)
    continue_final = bool(body.get("continue_final_message"))
    add_generation_prompt = body.get("add_generation_prompt")
    if continue_final and add_generation_prompt:
        raise InvalidRequest(
            "'continue_final_message' and 'add_generation_prompt' can't both be true.", param="continue_final_message"
        )
    images = []
    messages = _messages(body, images)
    if continue_final and messages[-1]["role"] != "assistant":
        raise InvalidRequest(
            "'continue_final_message' needs a last message with role 'assistant'.", param="continue_final_message"
        )
    if tool_choice not in ("none", "auto") and body.get("response_format") not in (None, {"type": "text"}):
        raise InvalidRequest("A forced tool_choice can't be combined with response_format.", param="response_format")
    if tool_choice not in ("none", "auto") and _structured_outputs(body):
        raise InvalidRequest(
            "A forced tool_choice can't be combined with structured_outputs.", param="structured_outputs"
        )
    chat_input = ChatInput(
        tuple(messages),
        sampling_params(body, max_tokens, logprobs, top_logprobs, max_tokens_param),
        add_generation_prompt=not continue_final if add_generation_prompt is None else bool(add_generation_prompt),
        continue_final_message=continue_final,
        tools=tools if tool_choice != "none" else (),
        tool_choice=tool_choice,
        parallel_tool_calls=body.get("parallel_tool_calls") is not False,
        documents=tuple(body.get("documents") or ()),
        template_kwargs=_template_kwargs(body),
        request_id=request_id,
        **_thinking(body),
        images=tuple(images),
    )
    return body["model"], chat_input, _stream_options(body)


def _prompts(value):
    """OpenAI's four prompt forms -> [(text, token ids)]: a string, a list of strings, a list of token
    ids, a list of token id lists."""
    if isinstance(value, str):
        return [(value, ())]
    if all(isinstance(item, int) for item in value):
        return [("", tuple(value))]
    return [(item, ()) if isinstance(item, str) else ("", tuple(item)) for item in value]


def parse_completion(body, request_id=""):
    """Return (model, CompletionPrompts, StreamOptions) or raise InvalidRequest."""
    validate_body("completions", body)
    _reject_unsupported("completions", body)
    logprobs = body.get("logprobs")
    sampling = sampling_params(
        body, body.get("max_tokens"), logprobs is not None, logprobs or 0, top_logprobs_param="logprobs"
    )
    echo = bool(body.get("echo"))
    if body.get("max_tokens") == 0 and not echo:
        raise InvalidRequest(
            "'max_tokens' is 0, which only scores the prompt: it needs 'echo': true.", param="max_tokens"
        )
    inputs = tuple(
        CompletionInput(text, sampling, echo=echo, request_id=request_id, prompt_ids=ids)
        for text, ids in _prompts(body["prompt"])
    )
    return body["model"], CompletionPrompts(inputs), _stream_options(body)


def parse_tokenize(body):
    """Return (model, ChatInput or None, text or None, add_special_tokens)."""
    validate_body("tokenize", body)
    if "messages" in body:
        tools = tuple(body.get("tools") or ())
        add_generation_prompt = body.get("add_generation_prompt")
        images = []
        chat_input = ChatInput(
            tuple(_messages(body, images)),
            tools=tools,
            add_generation_prompt=True if add_generation_prompt is None else add_generation_prompt,
            template_kwargs=_template_kwargs(body),
            **_thinking(body),
            images=tuple(images),
        )
        return body["model"], chat_input, None, False
    add_special_tokens = body.get("add_special_tokens")
    return body["model"], None, body["prompt"], True if add_special_tokens is None else add_special_tokens


def parse_detokenize(body):
    validate_body("detokenize", body)
    return body["model"], body["tokens"]
