"""gpt-oss's harmony format, reasoning and tool calls in one parser.

The answer is a run of messages, each `<|channel|>NAME[ to=RECIPIENT][ <|constrain|>json]<|message|>BODY`
ended by `<|end|>`, `<|call|>` or `<|return|>`, the next starting with `<|start|>assistant` (the
recipient may also sit before the channel: `<|start|>assistant to=functions.f<|channel|>commentary`).
The `analysis` channel is reasoning; `final` is content; `commentary` to `functions.NAME` is a call
whose body is its JSON arguments, streamed as they come; `commentary` without a recipient (a preamble)
is content. A call to a function not in the tools is content: its body, as written. Text outside any
message (the markers came as text the model never wrote) is content. The markers are special tokens,
so the decoded text must keep them (`keeps_special_tokens`). Analysis is reasoning even when the request
turned thinking off: gpt-oss always writes it, and it must not reach the answer."""

import re

from ovserve.nodes.llm.parsers.base import StateMachine
from ovserve.nodes.llm.parsers.forced_formats import tagged_calls
from ovserve.nodes.llm.parsers.pieces import EMPTY, CallSink, OutputPiece, held_tail

START, CHANNEL, MESSAGE = "<|start|>", "<|channel|>", "<|message|>"
ENDS = ("<|end|>", "<|call|>", "<|return|>")
HEADER_STARTS = (START, CHANNEL)
RECIPIENT = re.compile(r"to=functions\.([^\s<]+)")


class HarmonyParser(StateMachine):
    name = "harmony"
    keeps_special_tokens = True

    def __init__(self, tools=(), parallel_tool_calls=True):
        self.sink = CallSink(tools, parallel_tool_calls)
        self.held = ""
        self.header = ""
        self.state = "outside"
        self.channel = None

    @property
    def in_reasoning(self):
        return self.state == "body" and self.channel == "analysis"

    def finish(self):
        piece = self.feed("")
        held, self.held = self.held, ""
        if self.state == "header":
            return piece + OutputPiece(content=_unmarked(self.header + held))
        if self.state == "body":
            return piece + self._body_text(held)
        # A marker cut short by the end of the output is the start of a special token, not text.
        held = held[: len(held) - held_tail(held, HEADER_STARTS + ENDS + (MESSAGE,))]
        return piece + OutputPiece(content=_unmarked(held))

    def _outside(self):
        content, marker = self._until_marker(HEADER_STARTS + ENDS)
        if marker is None:
            return OutputPiece(content=content) if content else None
        self.held = self.held[len(marker) :]
        if marker in HEADER_STARTS:
            self.header, self.state = marker, "header"
        return OutputPiece(content=content)

    def _header(self):
        end = self.held.find(MESSAGE)
        if end == -1:
            return None
        self.header += self.held[:end]
        self.held = self.held[end + len(MESSAGE) :]
        channel = re.search(re.escape(CHANNEL) + r"\s*(\w+)", self.header)
        self.channel = channel.group(1) if channel else "final"
        recipient = RECIPIENT.search(self.header)
        self.call_name = recipient.group(1) if recipient else None
        self.state = "body"
        self.calling = self.call_name is not None and self.sink.knows(self.call_name)
        return OutputPiece(calls=self.sink.open(self.call_name)) if self.calling else EMPTY

    def _body(self):
        text, marker = self._until_marker(ENDS + HEADER_STARTS)
        if marker is None:
            return self._body_text(text) if text else None
        if marker in ENDS:
            self.held = self.held[len(marker) :]  # a next header's start stays held: "outside" reads it
        self.state = "outside"
        return self._body_text(text)

    def _body_text(self, text):
        if self.calling:
            return OutputPiece(calls=self.sink.arguments(text))
        if self.channel == "analysis":
            return OutputPiece(reasoning=text)
        return OutputPiece(content=text)

    @staticmethod
    def forced_format(tools, name, parallel_tool_calls):
        begin = "<|channel|>commentary to=functions.%s <|constrain|>json<|message|>"
        return tagged_calls(tools, name, parallel_tool_calls, begin, "<|call|>", "<|start|>assistant")


def _unmarked(text):
    for marker in HEADER_STARTS + ENDS + (MESSAGE,):
        text = text.replace(marker, "")
    return text
