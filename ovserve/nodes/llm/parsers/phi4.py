"""Phi-4-mini: `functools[{"name": ..., "arguments": {...}}, ...]`."""

from ovserve.nodes.llm.parsers.base import JsonCallList
from ovserve.nodes.llm.parsers.forced_formats import listed_calls

MARKER = "functools"


class Phi4ToolParser(JsonCallList):
    name = "phi4"

    def _content(self):
        return self._content_until((MARKER,), "list_open")

    @staticmethod
    def forced_format(tools, name, parallel_tool_calls):
        return listed_calls(tools, name, parallel_tool_calls, "functools[", "]")
