"""Mistral: `[TOOL_CALLS]` (a special token) then a list `[{"name": ..., "arguments": {...}}, ...]`
(Mistral 7B v0.3, Nemo, Small 3.x), or the newer `[TOOL_CALLS]name[ARGS]{...}`, once per call (Magistral,
Devstral, Mistral Small 3.2+), whose arguments stream as they come."""

import re

from ovserve.nodes.llm.parsers.base import JsonCallList
from ovserve.nodes.llm.parsers.forced_formats import listed_calls
from ovserve.nodes.llm.parsers.json_call import JsonValue
from ovserve.nodes.llm.parsers.pieces import EMPTY, OutputPiece

MARKER, ARGS = "[TOOL_CALLS]", "[ARGS]"
NAMED = re.compile(r"([A-Za-z0-9_.\-]+)\[ARGS\]")
NAME_SO_FAR = re.compile(r"[A-Za-z0-9_.\-]*(\[(A(R(G(S)?)?)?)?)?$")


class MistralToolParser(JsonCallList):
    name = "mistral"
    keeps_special_tokens = True

    def _content(self):
        return self._content_until((MARKER,), "after_marker")

    def _after_marker(self):
        if not self._skip_blank():
            return None
        if self.held[0] == "[":
            self.state = "list_open"
            return EMPTY
        named = NAMED.match(self.held)
        if named is None:
            if NAME_SO_FAR.match(self.held):
                return None
            return self._give_back()
        self.block += named.group(0)
        self.held = self.held[named.end() :]
        self.call_name = named.group(1)
        self.arguments = JsonValue()
        self.state = "named_arguments"
        return EMPTY

    def _named_arguments(self):
        if not self.arguments.raw and not self._skip_blank():
            return None
        if not self.held:
            return None
        known = self.sink.knows(self.call_name)
        deltas = ()
        if not self.arguments.raw:
            if self.held[0] != "{":
                return self._give_back()
            if known:
                deltas = self.sink.open(self.call_name)
        text, used = self.arguments.feed(self.held)
        self.held = self.held[used:]
        if known:
            deltas += self.sink.arguments(text)
        else:
            self.block += text
        if self.arguments.done:
            self.state = "content"
            if not known:
                return OutputPiece(calls=deltas) + self._give_back()
            self.block = ""
        return OutputPiece(calls=deltas) if deltas or self.arguments.done else None

    def _finish(self):
        if self.state == "named_arguments" and self.arguments.raw and self.sink.knows(self.call_name):
            self.block = ""
        return super()._finish()

    @staticmethod
    def forced_format(tools, name, parallel_tool_calls):
        return listed_calls(tools, name, parallel_tool_calls, "[TOOL_CALLS][", "]")
