"""A chat request -> the prompt text, how to read the output (text, tool calls), and any constraint on it.

The chat template renders the messages (with tools and documents when given); tools reach a template
that doesn't know them as instructions in the messages (tool_prompt.py); a forced tool choice becomes a
JSON schema the engine constrains the output to.
"""

import json
from dataclasses import dataclass
from typing import Callable, Optional

from ovserve.errors import InvalidRequest
from ovserve.graph.messages import RESERVED_TEMPLATE_VARIABLES
from ovserve.nodes.llm.chat_template import TemplateError
from ovserve.nodes.llm.schema_guard import check_schema
from ovserve.nodes.llm.tool_calls import ForcedToolCall, PlainOutput, TaggedToolCalls, forced_call_schema
from ovserve.nodes.llm.tool_prompt import with_tool_instructions


@dataclass(frozen=True)
class ChatPrompt:
    text: str
    new_output: Callable  # () -> an output reader (PlainOutput, TaggedToolCalls, ForcedToolCall)
    structured_output: Optional[tuple] = None  # ("json_schema", text) the output must match


class ChatPrompts:
    def __init__(self, template, tool_parser, schema_limits):
        self.template = template
        self.tool_parser = tool_parser
        self.schema_limits = schema_limits

    def render(self, chat_input):
        messages = list(chat_input.messages)
        variables = dict(chat_input.template_kwargs)
        reserved = sorted(RESERVED_TEMPLATE_VARIABLES & variables.keys())
        if reserved:  # a processor node's input: the protocol layer already refuses these
            raise InvalidRequest(
                f"'{reserved[0]}' is a variable the server gives the chat template itself.",
                param=f"chat_template_kwargs.{reserved[0]}",
                code="invalid_value",
            )
        if chat_input.tools:
            variables["tools"] = [dict(tool) for tool in chat_input.tools]
            if not self.template.mentions("tools"):
                messages = with_tool_instructions(messages, chat_input.tools, chat_input.tool_choice)
        if chat_input.documents:
            variables["documents"] = [dict(document) for document in chat_input.documents]
        try:
            rendered = self.template.render(
                messages, add_generation_prompt=chat_input.add_generation_prompt, **variables
            )
        except TemplateError as exc:
            raise InvalidRequest(str(exc), param="messages", code="chat_template_error") from None
        if chat_input.continue_final_message:
            # Cut after the final message's text: the template's end-of-turn must not follow it.
            final = messages[-1]["content"]
            position = rendered.rfind(final) if final else -1
            if position == -1:
                raise InvalidRequest(
                    "The chat template does not reproduce the final message; it can't be continued.",
                    param="continue_final_message",
                )
            rendered = rendered[: position + len(final)]
        return rendered

    def prepare(self, chat_input):
        """The ChatPrompt of a chat request; its tools' parameter schemas are checked first."""
        for index, tool in enumerate(chat_input.tools):
            check_schema(
                tool["function"].get("parameters", {}), f"tools[{index}].function.parameters", self.schema_limits
            )
        text = self.render(chat_input)
        choice = chat_input.tool_choice
        if chat_input.tools and choice not in ("none", "auto"):
            name = None if choice == "required" else choice
            schema = json.dumps(forced_call_schema(chat_input.tools, name))
            return ChatPrompt(text, lambda: ForcedToolCall(name), ("json_schema", schema))
        if chat_input.tools and choice == "auto" and self.tool_parser == "hermes":
            return ChatPrompt(text, lambda: TaggedToolCalls(chat_input.parallel_tool_calls))
        return ChatPrompt(text, PlainOutput)
