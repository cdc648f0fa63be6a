"""Anthropic's Messages API: its answers, and its own error object and statuses (529: overloaded)."""

from ovserve.http.openapi.operations import ERROR_STATUSES, described_errors, post_operation


def anthropic_schemas():
    return {
        "AnthropicError": {
            "title": "Anthropic error object",
            "type": "object",
            "required": ["type", "error"],
            "properties": {
                "type": {"const": "error"},
                "error": {
                    "type": "object",
                    "required": ["type", "message"],
                    "properties": {
                        "type": {"type": "string", "description": "e.g. invalid_request_error, not_found_error."},
                        "message": {"type": "string", "description": "What went wrong, naming the field."},
                    },
                },
            },
        },
        "AnthropicMessage": {
            "type": "object",
            "required": ["id", "type", "role", "model", "content", "stop_reason", "usage"],
            "description": "Anthropic's Message: content blocks (thinking, text, tool_use), stop_reason, usage. With "
            '"stream": true, Anthropic\'s named events: message_start, ping, content_block_start/delta/stop, '
            "message_delta, message_stop (an `error` event ends a failed stream).",
            "properties": {
                "id": {"type": "string"},
                "type": {"const": "message"},
                "role": {"const": "assistant"},
                "model": {"type": "string"},
                "content": {"type": "array", "items": {"type": "object"}},
                "stop_reason": {"enum": ["end_turn", "max_tokens", "stop_sequence", "tool_use"]},
                "stop_sequence": {"type": ["string", "null"]},
                "usage": {"type": "object"},
            },
        },
        "InputTokens": {
            "type": "object",
            "required": ["input_tokens"],
            "properties": {"input_tokens": {"type": "integer", "minimum": 0}},
        },
    }


def anthropic_paths(prefix, secured):
    statuses = {**ERROR_STATUSES, "529": "Overloaded: at capacity (see Retry-After)."}
    statuses["503"] = "The model is loading or restarting, or the server is draining."
    if secured:
        statuses["401"] = "Missing or incorrect API key (Authorization: Bearer, or x-api-key)."
    errors = described_errors(statuses, "AnthropicError")
    paths = {}
    for path, operation_id, summary, request, response, streams in (
        (
            "messages",
            "createMessage",
            "Anthropic Messages (unary or streamed)",
            "AnthropicMessagesRequest",
            "AnthropicMessage",
            True,
        ),
        (
            "messages/count_tokens",
            "countMessageTokens",
            "Anthropic's token count of a Messages request",
            "AnthropicCountTokensRequest",
            "InputTokens",
            False,
        ),
    ):
        operation = post_operation(operation_id, summary, "anthropic", request, response, secured, streams)
        operation["responses"] = {"200": operation["responses"]["200"], **errors}
        paths[f"{prefix}/{path}"] = {"post": operation}
    return paths
