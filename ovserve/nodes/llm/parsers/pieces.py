"""What every parser shares: the piece of output a feed returns, the calls of one choice (ids, indices,
which names count, parallel_tool_calls), and holding back a tail that may be the start of a marker."""

import json
import uuid
from dataclasses import dataclass

from ovserve.graph.messages import ToolCallDelta


@dataclass(frozen=True)
class OutputPiece:
    """What one feed (or finish) of a choice's text gives: content, reasoning, tool call deltas."""

    content: str = ""
    reasoning: str = ""
    calls: tuple = ()  # ToolCallDelta

    def __add__(self, other):
        return OutputPiece(self.content + other.content, self.reasoning + other.reasoning, self.calls + other.calls)


EMPTY = OutputPiece()


def held_tail(text, markers):
    """How many characters at the end of `text` could begin one of `markers` (a marker split across chunks
    is held back until the next chunk tells)."""
    longest = 0
    for marker in markers:
        for n in range(min(len(marker) - 1, len(text)), longest, -1):
            if marker.startswith(text[-n:]):
                longest = n
                break
    return longest


def tool_names(tools):
    return {tool["function"]["name"] for tool in tools if tool.get("type", "function") == "function"}


def parameters_of(tools, name):
    for tool in tools:
        if tool["function"]["name"] == name:
            return tool["function"].get("parameters") or {"type": "object", "properties": {}}
    raise KeyError(name)


def arguments_text(arguments):
    """Arguments as the JSON text OpenAI's tool calls carry. A JSON *string* that holds the object (some
    models, Gemma among them, write arguments that way) is kept as that string's text, not encoded twice."""
    if isinstance(arguments, str):
        return arguments
    return json.dumps({} if arguments is None else arguments, ensure_ascii=False)


class CallSink:
    """The calls of one choice: which function names are callable, the next index, parallel_tool_calls.

    `open(name)` starts a call and answers its first delta, or None when the name isn't a tool (its text
    stays content) or when parallel_tool_calls is false and a call was already made (`dropped` then
    says the text is swallowed, not content)."""

    def __init__(self, tools, parallel_tool_calls=True):
        self.names = tool_names(tools)
        self.parallel = parallel_tool_calls
        self.count = 0
        self.index = -1
        self.muted = False  # the current call is past the first with parallel_tool_calls false

    def knows(self, name):
        return name in self.names

    def open(self, name):
        """First delta of a call to `name` (known). With parallel_tool_calls false, calls after the first
        are muted: their deltas are swallowed."""
        self.muted = not self.parallel and self.count >= 1
        self.count += 1
        if self.muted:
            return ()
        self.index += 1
        return (ToolCallDelta(self.index, "call_" + uuid.uuid4().hex[:24], name, ""),)

    def arguments(self, text):
        if self.muted or not text:
            return ()
        return (ToolCallDelta(self.index, None, None, text),)

    def whole(self, name, arguments):
        """A call known at once: its first delta and its arguments."""
        return self.open(name) + self.arguments(arguments_text(arguments))
