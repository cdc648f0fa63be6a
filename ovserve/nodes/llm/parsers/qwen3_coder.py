"""Qwen3-Coder's XML calls:
`<tool_call>\\n<function=get_weather>\\n<parameter=city>\\nParis\\n</parameter>\\n</function>\\n</tool_call>`.

Parameter values are text; each is converted by the type the tool's JSON schema gives it (a string stays
text; numbers, booleans, objects and arrays are read as JSON, falling back to the text when they aren't
valid). The call's id and name are sent once `<function=...>` is complete; its arguments are sent a
parameter at a time, as each `</parameter>` closes, and the closing `}` at `</function>`, so the
arguments stream while staying valid JSON once complete."""

import ast
import json
import re

from ovserve.nodes.llm.parsers.base import ClosingTag
from ovserve.nodes.llm.parsers.forced_formats import tagged_calls
from ovserve.nodes.llm.parsers.pieces import EMPTY, OutputPiece, parameters_of

OPEN, CLOSE = "<tool_call>", "</tool_call>"
FUNCTION = re.compile(r"<function=([^>\n]+)>")
PARAMETER = re.compile(r"<parameter=([^>\n]+)>(.*?)</parameter>", re.DOTALL)
FUNCTION_END = "</function>"


class Qwen3CoderToolParser(ClosingTag):
    name = "qwen3_coder"
    closing_tag = CLOSE

    def _content(self):
        return self._content_until((OPEN,), "function")

    def _function(self):
        if not self._skip_blank():
            return None
        found = FUNCTION.match(self.held)
        if found is None:
            if "<function=".startswith(self.held[:10]) and ">" not in self.held and "\n" not in self.held:
                return None
            return self._skip_block()
        self.call_name = found.group(1).strip()
        if not self.sink.knows(self.call_name):
            return self._skip_block()
        self.held = self.held[found.end() :]
        self.block = ""
        self.parameters = 0
        self.properties = parameters_of(self.tools, self.call_name).get("properties") or {}
        self.state = "parameters"
        return OutputPiece(calls=self.sink.open(self.call_name))

    def _skip_block(self):
        """Not a call of a known tool: the block, to its `</tool_call>`, is content as written."""
        self.state = "unknown_block"
        return EMPTY

    def _unknown_block(self):
        end = self.held.find(CLOSE)
        if end == -1:
            return None
        self.block += self.held[: end + len(CLOSE)]
        self.held = self.held[end + len(CLOSE) :]
        return self._give_back()

    def _parameters(self):
        stripped = self.held.lstrip()
        if stripped.startswith("<parameter="):
            found = PARAMETER.match(stripped)
            if found is None:
                return None
            self.held = stripped[found.end() :]
            key = found.group(1).strip()
            value = convert(found.group(2), (self.properties.get(key) or {}).get("type"))
            text = ("{" if self.parameters == 0 else ", ") + json.dumps(key, ensure_ascii=False) + ": "
            self.parameters += 1
            return OutputPiece(calls=self.sink.arguments(text + json.dumps(value, ensure_ascii=False)))
        if stripped.startswith(FUNCTION_END):
            self.held = stripped[len(FUNCTION_END) :]
            self.state = "close"
            return OutputPiece(calls=self.sink.arguments(self._closing()))
        if not stripped or "<parameter=".startswith(stripped[:11]) or FUNCTION_END.startswith(stripped):
            return None
        # Something else inside the call: the call ends here, the rest is content.
        self.held = stripped
        self.state = "content"
        return OutputPiece(calls=self.sink.arguments(self._closing()))

    def _closing(self):
        return "}" if self.parameters else "{}"

    def _finish(self):
        if self.state == "parameters":
            self.state = "content"
            self.held = ""
            return OutputPiece(calls=self.sink.arguments(self._closing()))
        return super()._finish()

    @staticmethod
    def forced_format(tools, name, parallel_tool_calls):
        return tagged_calls(
            tools,
            name,
            parallel_tool_calls,
            "<tool_call>\n<function=%s>\n",
            "</function>\n</tool_call>",
            "\n",
            content="qwen_xml_parameters",
        )


def convert(text, schema_type):
    """A parameter's text as the value its schema type says."""
    if text.startswith("\n"):
        text = text[1:]
    if text.endswith("\n"):
        text = text[:-1]
    types = schema_type if isinstance(schema_type, list) else [schema_type]
    if types == ["string"]:
        return text
    if "string" in types and not _looks_typed(text):
        return text
    try:
        return json.loads(text)
    except ValueError:
        pass
    if text in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[text]
    if set(types) & {"object", "array"}:
        try:
            value = ast.literal_eval(text)  # Python-style dicts and lists, as models sometimes write them
            json.dumps(value)
            return value
        except (ValueError, SyntaxError, TypeError):
            pass
    return text


def _looks_typed(text):
    return text in ("null", "true", "false")
