"""Turning generated text into OpenAI tool calls.

Three ways a choice's text may carry tool calls:
- `PlainOutput`: it doesn't (no tools, or tool_choice "none").
- `ForcedToolCall`: tool_choice names a function or is "required"; the engine's structured output
  constrains the text to the call's JSON, so the call is certain.
- `TaggedToolCalls`: tool_choice "auto"; the model may write Hermes-style
  `<tool_call>{"name": ..., "arguments": {...}}</tool_call>` blocks (Qwen, Hermes, SmolLM3 ...),
  which are cut out of the content and returned as calls.

Each takes text pieces as they are generated and returns (content text, [ToolCallDelta]).
"""

import json
import uuid

from ovserve.graph.messages import ToolCallDelta

TOOL_CALL_OPEN, TOOL_CALL_CLOSE = "<tool_call>", "</tool_call>"


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


class PlainOutput:
    """No tools: the text is the content."""

    def feed(self, text):
        return text, []

    def finish(self):
        return "", []


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


class TaggedToolCalls:
    """Content flows until a `<tool_call>` tag; from there text is buffered and parsed at the end."""

    def __init__(self, parallel=True):
        self.parallel = parallel  # False: only the first call is kept (parallel_tool_calls: false)
        self.held = ""
        self.in_calls = False
        self.calls_text = ""

    def feed(self, text):
        if self.in_calls:
            self.calls_text += text
            return "", []
        pending = self.held + text
        position = pending.find(TOOL_CALL_OPEN)
        if position != -1:
            self.in_calls = True
            self.held = ""
            self.calls_text = pending[position:]
            return pending[:position], []
        keep = next(
            (
                n
                for n in range(min(len(TOOL_CALL_OPEN) - 1, len(pending)), 0, -1)
                if TOOL_CALL_OPEN.startswith(pending[-n:])
            ),
            0,
        )
        self.held = pending[len(pending) - keep :] if keep else ""
        return pending[: len(pending) - keep], []

    def finish(self):
        if not self.in_calls:
            held, self.held = self.held, ""
            return held, []
        calls = []
        for block in self.calls_text.split(TOOL_CALL_OPEN)[1:]:
            body = block.split(TOOL_CALL_CLOSE)[0].strip()
            try:
                call = json.loads(body)
                arguments = call.get("arguments", call.get("parameters", {}))
                calls.append(
                    ToolCallDelta(
                        len(calls),
                        new_call_id(),
                        call["name"],
                        arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False),
                    )
                )
            except (ValueError, KeyError, TypeError, AttributeError):
                return self.calls_text, []  # not a well-formed call: it was text after all
        return "", calls if self.parallel else calls[:1]
