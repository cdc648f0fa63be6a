"""Llama 3.1 / 3.2 / 3.3 JSON calls: the answer is `{"name": ..., "parameters": {...}}`, optionally after
`<|python_tag|>` (a special token), several separated by `;`. A bare object counts only at the start of the
answer; `<|python_tag|>` opens calls anywhere."""

from ovserve.nodes.llm.parsers.base import JsonCallAfterMarker
from ovserve.nodes.llm.parsers.forced_formats import tagged_calls
from ovserve.nodes.llm.parsers.pieces import EMPTY

PYTHON_TAG = "<|python_tag|>"


class Llama3JsonToolParser(JsonCallAfterMarker):
    name = "llama3_json"
    keeps_special_tokens = True
    first_state = "start"
    marker = PYTHON_TAG
    after_call = "separator"

    def _start(self):
        stripped = self.held.lstrip()
        if not stripped or PYTHON_TAG.startswith(stripped):
            return None
        if stripped.startswith(PYTHON_TAG):
            self.block = self.held[: len(self.held) - len(stripped)] + PYTHON_TAG
            self.held = stripped[len(PYTHON_TAG) :]
            self.state = "object"
        elif stripped[0] == "{":
            self.block, self.held = self.held[: len(self.held) - len(stripped)], stripped
            self.state = "object"
        else:
            self.state = "content"
        return EMPTY

    def _separator(self):
        stripped = self.held.lstrip()
        if not stripped:
            return None
        if stripped[0] == ";":
            self.held = stripped[1:]
            self.state = "object"
        else:
            self.held = stripped
            self.state = "content"
        return EMPTY

    def _finish(self):
        if self.state == "separator":
            self.held = ""
        if self.state == "object" and self.sink.count and not self.held.strip():
            self.block = ""  # a trailing `;`
        return super()._finish()

    @staticmethod
    def forced_format(tools, name, parallel_tool_calls):
        return tagged_calls(tools, name, parallel_tool_calls, '{"name": "%s", "parameters": ', "}", "; ")
