"""Forced tool calls as bare JSON, for a servable whose tool_parser is `none`: tool_choice names a function
or is "required", and the engine's structured output constrains the text to the call's JSON, so the call
is certain. (With a tool parser, forced calls are written in its family's format instead: parsers/.)

ForcedToolCall takes text pieces as they are generated and returns (content text, [ToolCallDelta]).
"""

import json
import uuid

from ovserve.graph.messages import ToolCallDelta


def new_call_id():
    return "call_" + uuid.uuid4().hex[:24]


def forced_call_schema(tools, name):
    """JSON Schema the engine enforces: a named function's arguments, or {name, arguments} of any tool."""
    by_name = {tool["function"]["name"]: tool["function"] for tool in tools}
    if name is not None:
        return by_name[name].get("parameters") or {"type": "object"}
    return {
        "anyOf": [
            {
                "type": "object",
                "required": ["name", "arguments"],
                "additionalProperties": False,
                "properties": {
                    "name": {"const": tool_name},
                    "arguments": function.get("parameters") or {"type": "object"},
                },
            }
            for tool_name, function in by_name.items()
        ]
    }


class ForcedToolCall:
    """With a named function the text *is* its arguments: stream them as they come."""

    def __init__(self, name):
        self.name = name  # None: "required", the text is {"name": ..., "arguments": ...}
        self.started = False
        self.buffer = ""

    def feed(self, text):
        if self.name is None:
            self.buffer += text
            return "", []
        if not text and self.started:
            return "", []
        first = not self.started
        self.started = True
        return "", [ToolCallDelta(0, new_call_id() if first else None, self.name if first else None, text)]

    def finish(self):
        if self.name is not None:
            return "", ([] if self.started else [ToolCallDelta(0, new_call_id(), self.name, "")])
        try:
            call = json.loads(self.buffer)
            return "", [
                ToolCallDelta(0, new_call_id(), call["name"], json.dumps(call["arguments"], ensure_ascii=False))
            ]
        except (ValueError, KeyError, TypeError):
            return self.buffer, []  # cut short (max_tokens): give the text back rather than lose it
