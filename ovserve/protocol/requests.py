"""OpenAI request bodies -> the graph's typed inputs."""

from dataclasses import dataclass

from ovserve.errors import InvalidRequest
from ovserve.graph.messages import ChatInput, CompletionInput, SamplingParams
from ovserve.protocol.validation import validate_body

# Known OpenAI fields that this server does not implement yet: rejected, never silently ignored.
_UNSUPPORTED = {
    "chat_completions": {
        "logprobs": lambda v: v is True, "top_logprobs": lambda v: v is not None,
        "logit_bias": lambda v: bool(v), "tools": lambda v: bool(v),
        "tool_choice": lambda v: v not in (None, "none", "auto"),
        "response_format": lambda v: v is not None and v != {"type": "text"},
        "audio": lambda v: v is not None, "modalities": lambda v: v not in (None, ["text"]),
        "prediction": lambda v: v is not None,
    },
    "completions": {
        "logprobs": lambda v: v is not None, "echo": lambda v: bool(v), "suffix": lambda v: v is not None,
        "best_of": lambda v: v not in (None, 1), "logit_bias": lambda v: bool(v),
    },
}


@dataclass(frozen=True)
class StreamOptions:
    stream: bool
    include_usage: bool


def _reject_unsupported(kind, body):
    for name, is_set in _UNSUPPORTED[kind].items():
        if name in body and is_set(body[name]):
            raise InvalidRequest(f"'{name}' is not supported by this server yet.", param=name, code="unsupported_parameter")


def _stop_strings(value):
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _sampling(body, max_tokens):
    def value(name, default):
        given = body.get(name)
        return default if given is None else given

    return SamplingParams(
        max_tokens=max_tokens,
        temperature=float(value("temperature", 1.0)),
        top_p=float(value("top_p", 1.0)),
        top_k=int(value("top_k", 0)) if value("top_k", 0) > 0 else 0,
        min_p=float(value("min_p", 0.0)),
        seed=body.get("seed"),
        stop=_stop_strings(body.get("stop")),
        ignore_eos=bool(value("ignore_eos", False)),
        min_tokens=int(value("min_tokens", 0)),
        presence_penalty=float(value("presence_penalty", 0.0)),
        frequency_penalty=float(value("frequency_penalty", 0.0)),
        repetition_penalty=float(value("repetition_penalty", 1.0)),
        n=int(value("n", 1)),
    )


def _stream_options(body):
    stream = bool(body.get("stream"))
    options = body.get("stream_options") or {}
    if options and not stream:
        raise InvalidRequest("'stream_options' is only allowed when 'stream' is true.", param="stream_options")
    return StreamOptions(stream, bool(options.get("include_usage")))


def _message_text(message, index):
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts = []
    for part_index, part in enumerate(content):
        if part["type"] == "text" and "text" not in part:
            raise InvalidRequest("'text' is required in a text content part.",
                                 param=f"messages[{index}].content[{part_index}].text", code="invalid_value")
        if part["type"] != "text":
            raise InvalidRequest(f"content part type '{part['type']}' is not supported; only text parts are.",
                                 param=f"messages[{index}].content[{part_index}].type", code="unsupported_content")
        texts.append(part["text"])
    return "\n".join(texts)


def parse_chat(body, request_id=""):
    """Return (model, ChatInput, StreamOptions) or raise InvalidRequest."""
    validate_body("chat_completions", body)
    _reject_unsupported("chat_completions", body)
    messages = []
    for index, message in enumerate(body["messages"]):
        flattened = {key: value for key, value in message.items() if key in ("role", "name")}
        flattened["content"] = _message_text(message, index)
        messages.append(flattened)
    max_tokens = body.get("max_completion_tokens")
    if max_tokens is None:
        max_tokens = body.get("max_tokens")
    chat_input = ChatInput(tuple(messages), _sampling(body, max_tokens), request_id=request_id)
    return body["model"], chat_input, _stream_options(body)


def parse_completion(body, request_id=""):
    """Return (model, CompletionInput, StreamOptions) or raise InvalidRequest."""
    validate_body("completions", body)
    _reject_unsupported("completions", body)
    prompt = body["prompt"] if isinstance(body["prompt"], str) else body["prompt"][0]
    completion_input = CompletionInput(prompt, _sampling(body, body.get("max_tokens")), request_id=request_id)
    return body["model"], completion_input, _stream_options(body)
