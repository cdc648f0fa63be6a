"""Anthropic Messages request bodies -> the ChatInput the chat path takes.

Anthropic's conversation is translated into the chat messages OpenAI's chat completions would send, so
the servable, its chat template and its parsers see the same thing whichever API a request came from:
`system` becomes a system message, `tool_use` blocks an assistant message's tool_calls, `tool_result`
blocks `tool` messages, `thinking` blocks the assistant message's reasoning_content.
"""

import json
from dataclasses import dataclass, replace

from ovserve.errors import InvalidRequest
from ovserve.graph.messages import ChatInput, SamplingParams
from ovserve.protocol.image_parts import image_part, message_content
from ovserve.protocol.requests import template_tool_calls
from ovserve.protocol.validation import SCHEMAS, validate_body

# Anthropic fields this server can't honour: a 400 naming them, never ignored (each changes the answer).
_REFUSED_FIELDS = {
    "container": "this server runs no code-execution containers",
    "mcp_servers": "this server connects to no MCP servers",
    "context_management": "this server does not edit the conversation's context",
    "speed": "this server has one speed",
    "inference_geo": "this server runs where it runs",
    "diagnostics": "this server reports no prompt-cache diagnostics",
}
_UNSUPPORTED_BLOCKS = {
    "document": "this server serves text models",
    "search_result": "search results are not supported; send them as text",
    "container_upload": "this server runs no code-execution containers",
}
_BLOCKS_BY_ROLE = {
    "user": ("text", "image", "tool_result"),
    "assistant": ("text", "tool_use", "thinking", "redacted_thinking"),
}
_REQUIRED_BLOCK_FIELDS = {
    "text": ("text",),
    "image": ("source",),
    "tool_use": ("id", "name", "input"),
    "tool_result": ("tool_use_id",),
    "thinking": ("thinking",),
    "redacted_thinking": ("data",),
}
# Anthropic's tool_choice types -> ChatInput's tool_choice (a tool's own name for "tool").
_TOOL_CHOICES = {"auto": "auto", "any": "required", "none": "none"}
TOOL_RESULT_ERROR_PREFIX = "Error: "  # how a tool_result with is_error reaches the template, which has no flag


@dataclass(frozen=True)
class MessagesRequest:
    """A parsed Messages request: what the writer needs besides the ChatInput."""

    model: str
    chat_input: ChatInput
    stream: bool
    omit_thinking: bool = False  # thinking.display "omitted": thinking blocks are sent without their text


def _reject_unknown_fields(kind, body):
    known = SCHEMAS[f"{kind}.json"]["properties"]
    for name in body:
        if name in known:
            continue
        why = _REFUSED_FIELDS.get(name)
        if why is None and kind == "count_tokens" and name in SCHEMAS["messages.json"]["properties"]:
            why = "count_tokens counts the prompt, so it takes no generation settings"
        message = f"'{name}' is not supported: {why}." if why else f"'{name}': extra inputs are not permitted."
        raise InvalidRequest(message, param=name, code="unsupported_parameter")


def _block_param(message_index, block_index, field=None):
    where = f"messages[{message_index}].content[{block_index}]"
    return f"{where}.{field}" if field else where


def _blocks(message, index):
    content = message["content"]
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


def _check_block(role, block, message_index, block_index):
    kind = block["type"]
    if kind in _UNSUPPORTED_BLOCKS:
        raise InvalidRequest(
            f"content block type '{kind}' is not supported: {_UNSUPPORTED_BLOCKS[kind]}.",
            param=_block_param(message_index, block_index, "type"),
            code="unsupported_content",
        )
    if kind not in _BLOCKS_BY_ROLE[role]:
        allowed = ", ".join(_BLOCKS_BY_ROLE[role])
        raise InvalidRequest(
            f"a '{role}' message can't hold a '{kind}' block (it takes: {allowed}).",
            param=_block_param(message_index, block_index, "type"),
            code="invalid_value",
        )
    for field in _REQUIRED_BLOCK_FIELDS[kind]:
        if field not in block:
            raise InvalidRequest(
                f"'{field}' is required in a '{kind}' block.",
                param=_block_param(message_index, block_index, field),
                code="invalid_value",
            )


def _tool_result_text(block, message_index, block_index):
    content = block.get("content")
    if content is None:
        text = ""
    elif isinstance(content, str):
        text = content
    else:
        texts = []
        for part_index, part in enumerate(content):
            param = _block_param(message_index, block_index, f"content[{part_index}]")
            if part["type"] != "text":
                raise InvalidRequest(
                    f"tool_result content block type '{part['type']}' is not supported; only text blocks are.",
                    param=param + ".type",
                    code="unsupported_content",
                )
            if "text" not in part:
                raise InvalidRequest("'text' is required in a text block.", param=param + ".text", code="invalid_value")
            texts.append(part["text"])
        text = "\n".join(texts)
    return TOOL_RESULT_ERROR_PREFIX + text if block.get("is_error") else text


def _image_url(block, param):
    """An image block's source as the URL the chat path takes: base64 data becomes a data: URL."""
    source = block["source"]
    if not isinstance(source, dict) or source.get("type") not in ("base64", "url"):
        raise InvalidRequest(
            "An image block's source must be {type: base64, media_type, data} or {type: url, url}.",
            param=f"{param}.source",
            code="invalid_value",
        )
    if source["type"] == "url":
        return image_part(source.get("url"), f"{param}.source.url")
    media_type, data = source.get("media_type"), source.get("data")
    if not isinstance(media_type, str) or not isinstance(data, str):
        raise InvalidRequest(
            "A base64 image source needs its media_type and data (strings).",
            param=f"{param}.source",
            code="invalid_value",
        )
    return image_part(f"data:{media_type};base64,{data}", f"{param}.source")


def _user_messages(message, index, images):
    """A user turn: its tool_result blocks become `tool` messages, its text and images one user message,
    in order (the images are appended to `images` too)."""
    messages, texts = [], []

    def flush():
        content, found = message_content(texts)
        messages.append({"role": "user", "content": content})
        images.extend(found)

    for block_index, block in enumerate(_blocks(message, index)):
        _check_block("user", block, index, block_index)
        if block["type"] == "text":
            texts.append(block["text"])
            continue
        if block["type"] == "image":
            texts.append(_image_url(block, _block_param(index, block_index)))
            continue
        if texts:
            flush()
            texts = []
        messages.append(
            {
                "role": "tool",
                "tool_call_id": block["tool_use_id"],
                "content": _tool_result_text(block, index, block_index),
            }
        )
    if texts or not messages:
        flush()
    return messages


def _assistant_message(message, index):
    texts, thinking, calls = [], [], []
    for block_index, block in enumerate(_blocks(message, index)):
        _check_block("assistant", block, index, block_index)
        if block["type"] == "text":
            texts.append(block["text"])
        elif block["type"] == "thinking":
            thinking.append(block["thinking"])
        elif block["type"] == "tool_use":
            arguments = json.dumps(block["input"], ensure_ascii=False)
            calls.append(
                {"id": block["id"], "type": "function", "function": {"name": block["name"], "arguments": arguments}}
            )
        # redacted_thinking: encrypted thinking of another model, which no template can read
    translated = {"role": "assistant", "content": "\n".join(texts)}
    if calls:
        translated["tool_calls"] = template_tool_calls(calls)
    if thinking:
        translated["reasoning_content"] = "\n".join(thinking)
    return translated


def _system_text(system):
    if system is None:
        return None
    return system if isinstance(system, str) else "\n".join(block["text"] for block in system)


def _chat_messages(body, images):
    system = _system_text(body.get("system"))
    messages = [{"role": "system", "content": system}] if system is not None else []
    for index, message in enumerate(body["messages"]):
        if message["role"] == "user":
            messages.extend(_user_messages(message, index, images))
        else:
            messages.append(_assistant_message(message, index))
    return messages


def _tools(body):
    tools = []
    for index, tool in enumerate(body.get("tools") or ()):
        if tool.get("type") not in (None, "custom"):
            raise InvalidRequest(
                f"tool type '{tool['type']}' is one of Anthropic's server tools, which this server doesn't run; "
                "declare a client tool (name, description, input_schema) and run it yourself.",
                param=f"tools[{index}].type",
                code="unsupported_value",
            )
        if "input_schema" not in tool:
            raise InvalidRequest(
                "'input_schema' is required in a client tool.",
                param=f"tools[{index}].input_schema",
                code="invalid_value",
            )
        function = {"name": tool["name"], "parameters": tool["input_schema"]}
        if tool.get("description") is not None:
            function["description"] = tool["description"]
        if tool.get("strict") is not None:
            function["strict"] = tool["strict"]
        tools.append({"type": "function", "function": function})
    return tuple(tools)


def _tool_choice(body, tools):
    """(ChatInput tool_choice, parallel_tool_calls)."""
    choice = body.get("tool_choice")
    if choice is None:
        return ("auto" if tools else "none"), True
    parallel = not choice.get("disable_parallel_tool_use")
    if choice["type"] in ("any", "tool") and not tools:
        raise InvalidRequest(f"tool_choice '{choice['type']}' needs at least one tool.", param="tool_choice.type")
    if choice["type"] != "tool":
        return _TOOL_CHOICES[choice["type"]], parallel
    name = choice.get("name")
    if name is None:
        raise InvalidRequest("tool_choice 'tool' needs the tool's 'name'.", param="tool_choice.name")
    if name not in {tool["function"]["name"] for tool in tools}:
        raise InvalidRequest(f"tool_choice names '{name}', which is not among the tools.", param="tool_choice.name")
    return name, parallel


def _thinking(body, max_tokens):
    """ChatInput's `thinking`: True, False, or None (the template's default)."""
    thinking = body.get("thinking")
    if thinking is None or thinking["type"] == "adaptive":
        return None
    if thinking["type"] == "disabled":
        return False
    budget = thinking.get("budget_tokens")
    if budget is None:
        raise InvalidRequest(
            "'thinking.budget_tokens' is required when thinking is enabled.", param="thinking.budget_tokens"
        )
    if max_tokens is not None and budget >= max_tokens:
        raise InvalidRequest(
            f"'thinking.budget_tokens' ({budget}) must be less than max_tokens ({max_tokens}): thinking counts within it.",
            param="thinking.budget_tokens",
        )
    return True


def _output_config(body):
    """(structured_output, reasoning_effort)."""
    config = body.get("output_config") or {}
    output_format = config.get("format")
    structured = ("json_schema", json.dumps(output_format["schema"])) if output_format else None
    return structured, config.get("effort")


def _chat_input(body, max_tokens, request_id):
    tools = _tools(body)
    tool_choice, parallel = _tool_choice(body, tools)
    structured, effort = _output_config(body)
    if tool_choice not in ("none", "auto") and structured is not None:
        raise InvalidRequest(
            "A forced tool_choice can't be combined with output_config.format.", param="output_config.format"
        )
    images = []
    messages = _chat_messages(body, images)
    prefill = body["messages"][-1]["role"] == "assistant"  # Anthropic continues a last assistant turn
    given = body.get
    top_k = given("top_k")
    params = SamplingParams(
        max_tokens=max_tokens,
        temperature=None if given("temperature") is None else float(given("temperature")),
        top_p=None if given("top_p") is None else float(given("top_p")),
        top_k=top_k,
        stop=tuple(given("stop_sequences") or ()),
        structured_output=structured,
    )
    return ChatInput(
        tuple(messages),
        params,
        add_generation_prompt=not prefill,
        continue_final_message=prefill,
        tools=tools if tool_choice != "none" else (),
        tool_choice=tool_choice,
        parallel_tool_calls=parallel,
        request_id=request_id,
        thinking=_thinking(body, max_tokens),
        reasoning_effort=effort,
        images=tuple(images),
    )


def parse_messages(body, request_id=""):
    """POST /v1/messages -> MessagesRequest, or raise InvalidRequest."""
    validate_body("messages", body)
    _reject_unknown_fields("messages", body)
    chat_input = _chat_input(body, body["max_tokens"], request_id)
    omit = (body.get("thinking") or {}).get("display") == "omitted"
    return MessagesRequest(body["model"], chat_input, bool(body.get("stream")), omit_thinking=omit)


def parse_count_tokens(body):
    """POST /v1/messages/count_tokens -> (model, ChatInput): the prompt the same Messages request would get."""
    validate_body("count_tokens", body)
    _reject_unknown_fields("count_tokens", body)
    chat_input = _chat_input(body, None, "")
    return body["model"], replace(chat_input, params=SamplingParams())
