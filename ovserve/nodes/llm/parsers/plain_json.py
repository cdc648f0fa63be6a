"""The plain fallback: the whole answer is a JSON call object `{"name": ..., "arguments": ...}` or a list
of them, possibly in a ```json fence. Anything else is content."""

import re

from ovserve.nodes.llm.parsers.base import JsonCallList
from ovserve.nodes.llm.parsers.forced_formats import listed_calls
from ovserve.nodes.llm.parsers.pieces import EMPTY

FENCE = re.compile(r"```(?:json)?[ \t]*\n")
MAYBE_FENCE = re.compile(r"`{1,3}$|```(?:j|js|jso|json)?[ \t]*$")
FENCE_END = "```"


class PlainJsonToolParser(JsonCallList):
    name = "json"
    first_state = "start"

    def _start(self):
        stripped = self.held.lstrip()
        if not stripped:
            return None
        self.fenced = stripped.startswith("`")
        if self.fenced:
            fence = FENCE.match(stripped)
            if fence is None:
                if MAYBE_FENCE.match(stripped):
                    return None  # a fence not yet whole
                self.state = "content"
                return EMPTY
            self.block = self.held[: len(self.held) - len(stripped)] + fence.group(0)
            self.held = stripped[fence.end() :]
        else:
            self.block, self.held = self.held[: len(self.held) - len(stripped)], stripped
        self.state = "opening"
        return EMPTY

    def _opening(self):
        if not self._skip_blank():
            return None
        if self.held[0] == "[":
            self.state = "list_open"
            return EMPTY
        return self._start_call_object("single")

    def _single(self):
        return self._read_call_object("trailer")

    def _trailer(self):
        # After the calls: a closing fence is dropped, the rest is content.
        return self._past_closing(FENCE_END if self.fenced else "", "content")

    def _list_next(self):
        piece = super()._list_next()
        if self.state == "content" and piece is not None and not piece.content:
            self.state = "trailer"
        return piece

    def _finish(self):
        if self.state == "single":
            return self._finish_call_object()
        if self.state == "trailer":
            self.held = ""
        return super()._finish()

    @staticmethod
    def forced_format(tools, name, parallel_tool_calls):
        if name is not None or not parallel_tool_calls:
            return listed_calls(tools, name, False, "", "")
        return listed_calls(tools, name, True, "[", "]")
