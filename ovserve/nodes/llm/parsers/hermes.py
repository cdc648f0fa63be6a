"""Hermes-style calls (Qwen2.5, Qwen3, Hermes, SmolLM3): `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`,
as many blocks as calls, with content before, between and after them. Blank space right after a block is
dropped (it only separates blocks)."""

from ovserve.nodes.llm.parsers.base import ToolParser
from ovserve.nodes.llm.parsers.json_call import JsonCallObject
from ovserve.nodes.llm.parsers.pieces import EMPTY, parameters_of

OPEN, CLOSE = "<tool_call>", "</tool_call>"


class HermesToolParser(ToolParser):
    name = "hermes"

    def _content(self):
        return self._content_until((OPEN,), "body")

    def _body(self):
        if not self._skip_blank():
            return None
        if self.held[0] != "{":
            return self._give_back()
        self.call = JsonCallObject(self.sink)
        self.state = "call"
        return EMPTY

    def _call(self):
        return self._read_call_object("close")

    def _close(self):
        stripped = self.held.lstrip()
        if not stripped:
            return None
        if stripped.startswith(CLOSE):
            self.held = stripped[len(CLOSE) :]
            self.state = "after_block"
        elif not CLOSE.startswith(stripped):
            self.held = stripped  # the closing tag was left out: what follows is content
            self.state = "content"
        else:
            return None
        return EMPTY

    def _finish(self):
        if self.state == "call":
            return self._finish_call_object()
        if self.state in ("close", "after_block"):
            self.held = ""
        return self._held_as_content()

    @staticmethod
    def forced_format(tools, name, parallel_tool_calls):
        return tagged_calls(
            tools, name, parallel_tool_calls, '<tool_call>\n{"name": "%s", "arguments": ', "}\n</tool_call>", "\n"
        )


def tagged_calls(tools, name, parallel_tool_calls, begin, end, separator):
    """Calls as tags around each function's arguments schema: one named call, or at least one of any."""

    def tag(function_name):
        return {
            "tag": {
                "begin": begin % function_name,
                "content": {"json_schema": parameters_of(tools, function_name)},
                "end": end,
            }
        }

    if name is not None:
        return tag(name)
    return {
        "tags_with_separator": {
            "tags": [tag(tool["function"]["name"])["tag"] for tool in tools],
            "separator": separator,
            "at_least_one": True,
            "stop_after_first": not parallel_tool_calls,
        }
    }
