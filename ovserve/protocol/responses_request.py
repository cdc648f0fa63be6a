"""A Responses API request body -> the ChatInput the chat path takes, and what the answer repeats of it.

The input items (messages, function calls and their outputs, reasoning) become chat messages; a stored
earlier response (`previous_response_id`) puts its conversation before them. Everything this server
can't honour is refused with a 400 naming the field, never ignored.
"""

import json
import uuid
from dataclasses import dataclass

from ovserve.errors import InvalidRequest, NotFound
from ovserve.graph.messages import ChatInput, ImagePart
from ovserve.protocol.image_parts import image_part, message_content
from ovserve.protocol.requests import sampling_params
from ovserve.protocol.validation import validate_body

LOGPROBS_INCLUDE = "message.output_text.logprobs"
# Request fields this server can't honour: (what is refused, is it set, why), refused with a 400 naming them.
_UNSUPPORTED = {
    "background": ("true", lambda v: bool(v), "responses are answered while the request is open"),
    "truncation": ("'auto'", lambda v: v == "auto", "the server never drops input items; use 'disabled'"),
    "conversation": ("set", lambda v: v is not None, "there are no conversation objects; use previous_response_id"),
    "prompt": ("set", lambda v: v is not None, "there are no stored prompt templates"),
    "max_tool_calls": ("set", lambda v: v is not None, "the engine can't bound the number of tool calls"),
    "context_management": ("set", lambda v: v is not None, "the server never compacts input"),
}
_TEXT_PARTS = ("input_text", "output_text")
_REFUSED_PARTS = ("input_file", "input_audio")
_EFFORT_OFF = ("none", "minimal")


@dataclass(frozen=True)
class ResponsesRequest:
    """A parsed Responses request: what the servable generates from, what is stored, what is echoed."""

    model: str
    chat_input: ChatInput
    stream: bool
    store: bool
    logprobs: bool
    conversation_items: tuple  # the items before the output: the stored conversation's, then this input's
    echo: dict  # the response object's fields that repeat the request


def new_id(prefix):
    return prefix + uuid.uuid4().hex


def _reject_unsupported(body):
    for name, (what, is_set, why) in _UNSUPPORTED.items():
        if is_set(body.get(name)):
            raise InvalidRequest(f"'{name}' {what} is not supported: {why}.", param=name, code="unsupported_parameter")
    include = body.get("include") or ()
    for index, value in enumerate(include):
        if value != LOGPROBS_INCLUDE:
            raise InvalidRequest(
                f"include '{value}' is not supported; only '{LOGPROBS_INCLUDE}' is.",
                param=f"include[{index}]",
                code="unsupported_value",
            )
    verbosity = (body.get("text") or {}).get("verbosity")
    if verbosity not in (None, "medium"):
        raise InvalidRequest(
            f"text.verbosity '{verbosity}' is not supported: the model's length is not steerable here.",
            param="text.verbosity",
            code="unsupported_value",
        )
    if body.get("stream_options") and not body.get("stream"):
        raise InvalidRequest("'stream_options' is only allowed when 'stream' is true.", param="stream_options")


def _part_text(part, param):
    kind = part["type"]
    if kind in _TEXT_PARTS:
        return part["text"]
    if kind == "refusal" and isinstance(part.get("refusal"), str):
        return part["refusal"]
    why = "this server serves text" if kind in _REFUSED_PARTS else "only input_text and output_text parts are"
    raise InvalidRequest(
        f"content part type '{kind}' is not supported: {why}.", param=f"{param}.type", code="unsupported_content"
    )


def _with_images(content, param):
    """A user message's parts, kept as they are when they hold images (else None): input_text and
    input_image ({"type", "image_url", "detail"}; a file_id is refused: this server keeps no files)."""
    if isinstance(content, str) or not any(part["type"] == "input_image" for part in content):
        return None
    parts = []
    for index, part in enumerate(content):
        where = f"{param}[{index}]"
        if part["type"] != "input_image":
            parts.append({"type": "input_text", "text": _part_text(part, where)})
            continue
        if part.get("file_id"):
            raise InvalidRequest(
                "input_image 'file_id' is not supported: this server keeps no files; send image_url.",
                param=f"{where}.file_id",
                code="unsupported_content",
            )
        image = image_part(part.get("image_url"), f"{where}.image_url", part.get("detail"))
        parts.append({"type": "input_image", "image_url": image.url, "detail": image.detail})
    return parts


def _content_text(content, param):
    if isinstance(content, str):
        return content
    return "".join(_part_text(part, f"{param}[{index}]") for index, part in enumerate(content))


def _normalized_item(item, param):
    """An input item in the one shape the store keeps and the translation reads, with its id."""
    kind = item.get("type", "message")
    if kind == "message":
        with_images = None if item["role"] == "assistant" else _with_images(item["content"], f"{param}.content")
        if with_images:
            return {
                "id": item.get("id") or new_id("msg_"),
                "type": "message",
                "role": item["role"],
                "content": with_images,
                "status": "completed",
            }
        text = _content_text(item["content"], f"{param}.content")
        part = "output_text" if item["role"] == "assistant" else "input_text"
        content = [
            {"type": part, "text": text, "annotations": []} if part == "output_text" else {"type": part, "text": text}
        ]
        return {
            "id": item.get("id") or new_id("msg_"),
            "type": "message",
            "role": item["role"],
            "content": content,
            "status": "completed",
        }
    if kind == "function_call":
        return {
            "id": item.get("id") or new_id("fc_"),
            "type": "function_call",
            "call_id": item["call_id"],
            "name": item["name"],
            "arguments": item["arguments"],
            "status": "completed",
        }
    if kind == "function_call_output":
        return {
            "id": item.get("id") or new_id("fco_"),
            "type": "function_call_output",
            "call_id": item["call_id"],
            "output": _content_text(item["output"], f"{param}.output"),
            "status": "completed",
        }
    if kind == "reasoning":
        texts = [part["text"] for part in item.get("content") or ()]
        texts = texts or [part.get("text", "") for part in item.get("summary") or ()]
        return {
            "id": item.get("id") or new_id("rs_"),
            "type": "reasoning",
            "summary": [],
            "content": [{"type": "reasoning_text", "text": "".join(texts)}],
        }
    raise InvalidRequest(
        f"input item type '{kind}' is not supported: only message, function_call, function_call_output and "
        "reasoning items are.",
        param=f"{param}.type",
        code="unsupported_value",
    )


def _input_items(body):
    value = body["input"]
    if isinstance(value, str):
        value = [{"type": "message", "role": "user", "content": value}]
        return [_normalized_item(value[0], "input")]
    return [_normalized_item(item, f"input[{index}]") for index, item in enumerate(value)]


def _arguments_object(arguments):
    """Templates expect tool call arguments as objects (HF convention); the API sends them as JSON text."""
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments


def _user_content(item, index, first_input, images):
    """A user (system, developer) message's chat content; its images are appended to `images`, named by
    their place in `input` (or in the stored conversation of previous_response_id)."""
    if len(item["content"]) == 1 and item["content"][0]["type"] == "input_text":
        return item["content"][0]["text"]
    pieces = []
    for part_index, part in enumerate(item["content"]):
        if part["type"] != "input_image":
            pieces.append(part["text"])
            continue
        where = (
            f"input[{index - first_input}].content[{part_index}]" if index >= first_input else "previous_response_id"
        )
        pieces.append(ImagePart(part["image_url"], f"{where}.image_url", part.get("detail")))
    content, found = message_content(pieces)
    images.extend(found)
    return content


def chat_messages(items, images=None, first_input=0):
    """Normalized conversation items -> chat messages. Function calls join the assistant turn before
    them; a reasoning item's text becomes the next assistant message's `reasoning_content`. Images are
    appended to `images`; `first_input`: the index of the first item of this request's input."""
    messages, reasoning = [], []
    images = [] if images is None else images

    def assistant_turn():
        last = messages[-1] if messages else None
        if last is None or last["role"] != "assistant" or reasoning:
            last = {"role": "assistant", "content": ""}
            messages.append(last)
        if reasoning:
            last["reasoning_content"] = "".join(reasoning)
            reasoning.clear()
        return last

    for index, item in enumerate(items):
        kind = item["type"]
        if kind == "reasoning":
            reasoning.extend(part["text"] for part in item["content"])
        elif kind == "message" and item["role"] == "assistant":
            text = item["content"][0]["text"]
            turn = assistant_turn()
            turn["content"] += text
        elif kind == "message":
            messages.append({"role": item["role"], "content": _user_content(item, index, first_input, images)})
        elif kind == "function_call":
            call = {
                "id": item["call_id"],
                "type": "function",
                "function": {"name": item["name"], "arguments": _arguments_object(item["arguments"])},
            }
            assistant_turn().setdefault("tool_calls", []).append(call)
        elif kind == "function_call_output":
            messages.append({"role": "tool", "tool_call_id": item["call_id"], "content": item["output"]})
    if reasoning:
        assistant_turn()
    return messages


def _chat_tools(body):
    tools = []
    for index, tool in enumerate(body.get("tools") or ()):
        if tool["type"] != "function":
            raise InvalidRequest(
                f"tool type '{tool['type']}' is not supported: this server runs no built-in tools; "
                "give function tools, which the client runs.",
                param=f"tools[{index}].type",
                code="unsupported_value",
            )
        function = {"name": tool["name"]}
        for name in ("description", "parameters", "strict"):
            if tool.get(name) is not None:
                function[name] = tool[name]
        tools.append({"type": "function", "function": function})
    return tuple(tools)


def _echoed_tools(tools):
    return [
        {
            "type": "function",
            "name": tool["function"]["name"],
            "description": tool["function"].get("description"),
            "parameters": tool["function"].get("parameters"),
            "strict": tool["function"].get("strict", True),
        }
        for tool in tools
    ]


def _tool_choice(body, tools):
    choice = body.get("tool_choice")
    if choice is None:
        return "auto" if tools else "none"
    if isinstance(choice, dict):
        if choice["name"] not in {tool["function"]["name"] for tool in tools}:
            raise InvalidRequest(
                f"tool_choice names '{choice['name']}', which is not among the tools.", param="tool_choice.name"
            )
        return choice["name"]
    if choice == "required" and not tools:
        raise InvalidRequest("tool_choice 'required' needs at least one tool.", param="tool_choice")
    return choice


def _response_format(text_format):
    """text.format (flat) -> the chat API's response_format, which the chat path turns into structured output."""
    if not text_format or text_format["type"] != "json_schema":
        return text_format
    schema = {key: text_format[key] for key in ("name", "schema", "strict", "description") if key in text_format}
    return {"type": "json_schema", "json_schema": schema}


def _thinking(reasoning):
    effort = (reasoning or {}).get("effort")
    if effort is None:
        return None, None
    if effort in _EFFORT_OFF:
        return False, None
    return None, effort


def _previous_items(body, store):
    previous_id = body.get("previous_response_id")
    if previous_id is None:
        return []
    stored = store.get(previous_id) if store is not None else None
    if stored is None:
        raise NotFound(
            f"Previous response with id '{previous_id}' not found: it was never stored (store: false), was "
            "deleted, or expired.",
            param="previous_response_id",
            code="previous_response_not_found",
        )
    return stored.input_items + stored.response["output"]


def _echo(body, tools, tool_choice):
    text_format = (body.get("text") or {}).get("format") or {"type": "text"}
    reasoning = body.get("reasoning") or {}
    named = isinstance(body.get("tool_choice"), dict)
    return {
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": None,
        "metadata": body.get("metadata") or {},
        "parallel_tool_calls": body.get("parallel_tool_calls") is not False,
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "store": body.get("store") is not False,
        "temperature": body.get("temperature"),
        "text": {"format": text_format, "verbosity": "medium"},
        "tool_choice": {"type": "function", "name": tool_choice} if named else tool_choice,
        "tools": _echoed_tools(tools),
        "top_logprobs": body.get("top_logprobs") or 0,
        "top_p": body.get("top_p"),
        "truncation": "disabled",
        "user": body.get("user"),
        "background": False,
        "service_tier": "default",
    }


def parse_responses(body, request_id="", store=None):
    """Return a ResponsesRequest or raise InvalidRequest (NotFound for an unknown previous_response_id)."""
    validate_body("responses", body)
    _reject_unsupported(body)
    tools = _chat_tools(body)
    tool_choice = _tool_choice(body, tools)
    text_format = (body.get("text") or {}).get("format")
    if tool_choice not in ("none", "auto") and text_format not in (None, {"type": "text"}):
        raise InvalidRequest("A forced tool_choice can't be combined with text.format.", param="text.format")
    previous = _previous_items(body, store)
    items = previous + _input_items(body)
    if not items:
        raise InvalidRequest("'input' needs at least one item.", param="input", code="invalid_value")
    instructions = body.get("instructions")
    images = []
    messages = ([{"role": "system", "content": instructions}] if instructions else []) + chat_messages(
        items, images, len(previous)
    )
    top_logprobs = body.get("top_logprobs") or 0
    logprobs = LOGPROBS_INCLUDE in (body.get("include") or ()) or top_logprobs > 0
    sampling = {"temperature": body.get("temperature"), "top_p": body.get("top_p")}
    sampling["response_format"] = _response_format(text_format)
    thinking, effort = _thinking(body.get("reasoning"))
    chat_input = ChatInput(
        tuple(messages),
        sampling_params(sampling, body.get("max_output_tokens"), logprobs, top_logprobs, "max_output_tokens"),
        tools=tools if tool_choice != "none" else (),
        tool_choice=tool_choice,
        parallel_tool_calls=body.get("parallel_tool_calls") is not False,
        request_id=request_id,
        thinking=thinking,
        reasoning_effort=effort,
        images=tuple(images),
    )
    return ResponsesRequest(
        model=body["model"],
        chat_input=chat_input,
        stream=bool(body.get("stream")),
        store=body.get("store") is not False,
        logprobs=logprobs,
        conversation_items=tuple(items),
        echo=_echo(body, tools, tool_choice),
    )
