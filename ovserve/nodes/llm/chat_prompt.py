"""A chat request -> the prompt text, how to read the output (reasoning, content, tool calls), and any
constraint on it.

The chat template renders the messages (with tools and documents when given); tools reach a template
that doesn't know them as instructions in the messages (tool_prompt.py). The servable's tool and
reasoning parsers (parsers/, chosen from the template at load: output_parsing.py) read the output; a
forced tool choice becomes a constraint that makes the model write the call in that parser's own format,
which the same parser then reads back.
"""

from dataclasses import dataclass
from typing import Callable, Optional

from ovserve.errors import InvalidRequest
from ovserve.graph.messages import RESERVED_TEMPLATE_VARIABLES
from ovserve.nodes.llm import parsers
from ovserve.nodes.llm.chat_template import TemplateError
from ovserve.nodes.llm.schema_guard import check_schema
from ovserve.nodes.llm.tool_calls import ForcedToolCall, forced_call_schema
from ovserve.nodes.llm.tool_prompt import with_tool_instructions, written_history


@dataclass(frozen=True)
class ChatPrompt:
    text: str
    new_output: Callable  # () -> an output parser: feed(text) / finish() -> parsers.OutputPiece
    structured_output: Optional[dict] = None  # the constraint spec (output_constraints.py) the output must match


class JsonToolCallOutput:
    """tool_parser none and a forced tool choice: the output is the call's JSON (ForcedToolCall)."""

    in_reasoning = False

    def __init__(self, name):
        self.call = ForcedToolCall(name)

    def feed(self, text):
        content, calls = self.call.feed(text)
        return parsers.OutputPiece(content=content, calls=tuple(calls))

    def finish(self):
        content, calls = self.call.finish()
        return parsers.OutputPiece(content=content, calls=tuple(calls))


class ChatPrompts:
    def __init__(self, template, parsing, schema_limits):
        self.template = template
        self.parsing = parsing
        self.schema_limits = schema_limits

    def _variables(self, chat_input):
        variables = dict(chat_input.template_kwargs)
        reserved = sorted(RESERVED_TEMPLATE_VARIABLES & variables.keys())
        if reserved:  # a processor node's input: the protocol layer already refuses these
            raise InvalidRequest(
                f"'{reserved[0]}' is a variable the server gives the chat template itself.",
                param=f"chat_template_kwargs.{reserved[0]}",
                code="invalid_value",
            )
        # Thinking switches as the families' templates read them (Qwen3: enable_thinking; gpt-oss:
        # reasoning_effort); a chat_template_kwargs value the client set itself wins.
        if chat_input.thinking is not None:
            variables.setdefault("enable_thinking", chat_input.thinking)
        if chat_input.reasoning_effort is not None:
            variables.setdefault("reasoning_effort", chat_input.reasoning_effort)
        return variables

    def render(self, chat_input):
        messages = list(chat_input.messages)
        variables = self._variables(chat_input)
        if chat_input.tools:
            variables["tools"] = [dict(tool) for tool in chat_input.tools]
        if chat_input.tools and not self.template.mentions("tools"):
            messages = with_tool_instructions(messages, chat_input.tools, chat_input.tool_choice)
        elif not self.template.mentions("tools"):
            # Earlier calls and results still reach a template that reads only content (a turn after the
            # tools were dropped from the request), or the model can't see what it called.
            messages = written_history(messages)
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
        tools, choice = chat_input.tools, chat_input.tool_choice
        tool_parser = self.parsing.tool_parser if tools and choice != "none" else None
        forced = bool(tools) and choice not in ("none", "auto")
        name = None if choice == "required" else choice
        if forced and tool_parser is None:
            schema = {"json_schema": forced_call_schema(tools, name)}
            return ChatPrompt(text, lambda: JsonToolCallOutput(name), schema)

        # Output constrained from its first token to a call or a JSON document has no thinking in it, even
        # where the prompt opened a <think> (DeepSeek-R1): it must not be read as reasoning.
        json_only = forced or (chat_input.params.structured_output or ("",))[0] in ("json_schema", "json_object")
        reasoning_parser = None if json_only else self.parsing.reasoning_parser

        def new_output():
            return parsers.new_output_parser(
                tool_parser,
                reasoning_parser,
                tools=tools,
                tool_choice=choice,
                parallel_tool_calls=chat_input.parallel_tool_calls,
                prompt_text=text,
                thinking=chat_input.thinking,
            )

        constraint = None
        if forced:
            # One call: let free, a small model repeats calls of a "required" choice until max_tokens (measured
            # on SmolLM2: the same get_time call again and again); a later turn may call again.
            constraint = parsers.forced_format(tool_parser, tools, name, parallel_tool_calls=False)
        return ChatPrompt(text, new_output, constraint)


def plain_output():
    """Completions: the text is the content, whatever the servable's parsers."""
    return parsers.new_output_parser(None, None)
