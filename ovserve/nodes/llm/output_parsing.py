"""Which parsers read a servable's output: the node options `tool_parser` and `reasoning_parser`, where
"auto" (the default) means the one the chat template implies, as OVMS chooses them.

A template with no tool syntax of its own gets its tools as instructions in the Hermes format
(tool_prompt.py), so the Hermes parser reads them back.
"""

from dataclasses import dataclass
from typing import Optional

from ovserve.nodes.llm import parsers

AUTO, OFF = "auto", "none"
INSTRUCTED_TOOL_FORMAT = "hermes"  # the format tool_prompt.py teaches


@dataclass(frozen=True)
class OutputParsing:
    """The servable's parsers: names from parsers.TOOL_PARSERS / REASONING_PARSERS, or None (off), and
    where each choice came from ("option", "chat template", "tool instructions"), for the load log."""

    tool_parser: Optional[str] = None
    reasoning_parser: Optional[str] = None
    tool_parser_from: str = "option"
    reasoning_parser_from: str = "option"

    @property
    def keeps_special_tokens(self):
        """Whether the parsers' markers are special tokens that detokenizing must keep."""
        return parsers.keeps_special_tokens(self.tool_parser, self.reasoning_parser)

    def describe(self):
        return {"tool_parser": self.tool_parser, "reasoning_parser": self.reasoning_parser}

    def log_line(self):
        return (
            f"tool parser {self.tool_parser or 'none'} ({self.tool_parser_from}), "
            f"reasoning parser {self.reasoning_parser or 'none'} ({self.reasoning_parser_from})"
        )


def resolve(tool_option, reasoning_option, template):
    """OutputParsing for the node options and the ChatTemplate the servable renders with."""
    detected_tool, detected_reasoning = parsers.detect_parsers(template.source)
    tool, tool_from = tool_option, "option"
    if tool_option == AUTO:
        tool, tool_from = detected_tool, "chat template"
        if tool is None:
            tool, tool_from = (
                INSTRUCTED_TOOL_FORMAT,
                "chat template" if template.mentions("tools") else "tool instructions",
            )
    reasoning, reasoning_from = reasoning_option, "option"
    if reasoning_option == AUTO:
        reasoning, reasoning_from = detected_reasoning, "chat template"
    return OutputParsing(
        None if tool == OFF else tool,
        None if reasoning == OFF else reasoning,
        tool_from,
        reasoning_from,
    )
