"""The plain fallback: the whole answer is a JSON call object `{"name": ..., "arguments": ...}` or a list
of them, possibly in a ```json fence. Anything else is content."""

import re

from ovserve.nodes.llm.parsers.base import JsonCallList
from ovserve.nodes.llm.parsers.json_call import JsonCallObject
from ovserve.nodes.llm.parsers.pieces import EMPTY, OutputPiece, parameters_of

FENCE = re.compile(r"```(?:json)?[ \t]*\n")
MAYBE_FENCE = re.compile(r"`{1,3}$|```(?:j|js|jso|json)?[ \t]*$")


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
        if self.held[0] == "{":
            self.call = JsonCallObject(self.sink)
            self.state = "single"
            return EMPTY
        if self.held[0] == "[":
            self.state = "list_open"
            return EMPTY
        return self._give_back()

    def _single(self):
        return self._read_call_object("trailer")

    def _trailer(self):
        # After the calls: a closing fence is dropped, the rest is content.
        stripped = self.held.lstrip()
        if not stripped:
            return None
        if self.fenced and "```".startswith(stripped[:3]) and len(stripped) < 3:
            return None
        if self.fenced and stripped.startswith("```"):
            stripped = stripped[3:]
        self.held = stripped
        self.state = "content"
        return EMPTY

    def _list_next(self):
        piece = super()._list_next()
        if self.state == "content" and piece is not None and not piece.content:
            self.state = "trailer"
        return piece

    def _content(self):
        content, self.held = self.held, ""
        return OutputPiece(content=content) if content else None

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


def listed_calls(tools, name, parallel_tool_calls, before, after):
    """Call objects `{"name": ..., "arguments": ...}` between `before` and `after`, separated by ", ".

    With several calls allowed the list is left without its `after`: the engine refuses a sequence with
    anything after an unbounded element ("Only the last element in a sequence can be unlimited"), and the
    parsers read a list that the output ends before it closes."""

    def tag(function_name):
        return {
            "begin": '{"name": "%s", "arguments": ' % function_name,
            "content": {"json_schema": parameters_of(tools, function_name)},
            "end": "}",
        }

    if name is not None:
        calls = {"tag": tag(name)}
    elif not parallel_tool_calls:
        # One call of any tool: a union is bounded (tags_with_separator counts as unbounded even with
        # stop_after_first, so nothing could follow it), and so the list still closes.
        calls = {"union": [{"tag": tag(tool["function"]["name"])} for tool in tools]}
    else:
        calls = {
            "tags_with_separator": {
                "tags": [tag(tool["function"]["name"]) for tool in tools],
                "separator": ", ",
                "at_least_one": True,
                "stop_after_first": not parallel_tool_calls,
            }
        }
    bounded = name is not None or not parallel_tool_calls
    closing = {"const": after} if after and bounded else None
    parts = [spec for spec in ({"const": before} if before else None, calls, closing) if spec]
    return parts[0] if len(parts) == 1 else {"concat": parts}
