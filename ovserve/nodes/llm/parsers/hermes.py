"""Hermes-style calls (Qwen2.5, Qwen3, Hermes, SmolLM3): `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`,
as many blocks as calls, with content before, between and after them. Blank space right after a block is
dropped (it only separates blocks)."""

from ovserve.nodes.llm.parsers.base import ClosingTag, JsonCallAfterMarker
from ovserve.nodes.llm.parsers.forced_formats import tagged_calls

OPEN, CLOSE = "<tool_call>", "</tool_call>"


class HermesToolParser(ClosingTag, JsonCallAfterMarker):
    name = "hermes"
    marker, closing_tag = OPEN, CLOSE
    after_call = "close"

    @staticmethod
    def forced_format(tools, name, parallel_tool_calls):
        return tagged_calls(
            tools, name, parallel_tool_calls, '<tool_call>\n{"name": "%s", "arguments": ', "}\n</tool_call>", "\n"
        )
