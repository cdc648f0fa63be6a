"""Pythonic calls (Llama 3.2 / 4, some Gemma fine-tunes): the answer is a Python list of calls,
`[get_weather(city="Paris"), f(x=1)]`, optionally between Llama 4's `<|python_start|>` and `<|python_end|>`.

The answer counts as calls when it opens with `[` and a known function's name and `(`; otherwise it is
content. Arguments are Python literals, turned into JSON when each call's `)` closes, so each call is sent
whole at its end (a Python literal can't be sent as JSON before it is complete). A call of an unknown
function, or one that isn't literal keyword arguments, is given back as content."""

import ast
import json
import re

from ovserve.nodes.llm.parsers.base import ToolParser
from ovserve.nodes.llm.parsers.pieces import EMPTY, OutputPiece, parameters_of

START, END = "<|python_start|>", "<|python_end|>"
OPENING = re.compile(r"\[\s*([A-Za-z_][\w.]*)\s*\(")
MAYBE_OPENING = re.compile(r"\[?\s*[A-Za-z_]?[\w.]*\s*$")


class PythonicToolParser(ToolParser):
    name = "pythonic"
    first_state = "start"

    def _start(self):
        stripped = self.held.lstrip()
        if stripped.startswith(START):
            stripped = stripped[len(START) :].lstrip()
        elif stripped and START.startswith(stripped):
            return None
        if not stripped:
            return None
        opening = OPENING.match(stripped)
        if opening is None and stripped[0] == "[" and MAYBE_OPENING.fullmatch(stripped):
            return None  # maybe a call's name, not yet whole
        if opening is None or not self.sink.knows(opening.group(1)):
            self.state = "content"
            return EMPTY
        self.held = stripped[1:]
        self.between = "["  # the list's text before the current call, given back with a call that fails
        self.failed = False
        self.state = "call_start"
        return EMPTY

    def _call_start(self):
        if not self._skip_blank():
            return None
        self.between += self.block
        self.block = ""
        self.depth, self.quote, self.escaped = 0, None, False
        self.scanned = 0
        self.state = "call"
        return EMPTY

    def _call(self):
        # Scan to the `)` that closes this call, minding strings and nested brackets.
        for position in range(self.scanned, len(self.held)):
            char = self.held[position]
            if self.quote:
                if self.escaped:
                    self.escaped = False
                elif char == "\\":
                    self.escaped = True
                elif char == self.quote:
                    self.quote = None
            elif char in "\"'":
                self.quote = char
            elif char in "([{":
                self.depth += 1
            elif char in ")]}":
                self.depth -= 1
                if self.depth == 0 and char == ")":
                    text, self.held = self.held[: position + 1], self.held[position + 1 :]
                    self.state = "between"
                    return self._call_piece(text)
                if self.depth < 0:  # the list closed without a call
                    self.state = "content"
                    self.held = self.held[position + 1 :]
                    return EMPTY
        self.scanned = len(self.held)
        return None

    def _call_piece(self, text):
        call = python_call(text)
        between, self.between = self.between, ""
        self.failed = call is None or not self.sink.knows(call[0])
        if self.failed:
            return OutputPiece(content=between + text)
        return OutputPiece(calls=self.sink.whole(*call))

    def _between(self):
        stripped = self.held.lstrip()
        if not stripped:
            return None
        char = stripped[0]
        self.held = stripped[1:]
        if char == ",":
            self.state = "call_start"
        elif char == "]":
            self.state = "end"
            if self.failed:
                return OutputPiece(content="]")
        else:
            self.held = stripped
            self.state = "content"
        return EMPTY

    def _end(self):
        return self._past_closing(END, "content")

    def _finish(self):
        if self.state == "start":
            return OutputPiece(content=self.held)
        if self.state in ("between", "end", "call_start"):
            self.held = self.held if self.held.strip() else ""
        return super()._finish()

    @staticmethod
    def forced_format(tools, name, parallel_tool_calls):
        calls = [
            call_pattern(tools, tool["function"]["name"]) for tool in tools if name in (None, tool["function"]["name"])
        ]
        one = "(?:" + "|".join(calls) + ")"
        many = one if name is not None or not parallel_tool_calls else one + "(?:, " + one + ")*"
        return {"regex": r"\[" + many + r"\]"}


# Unbounded repetitions: the engine compiles a bounded one ({0,200}) into a grammar so large that the
# first step of a forced call took 10 s (measured on SmolLM2), holding every other stream.
STRING = r'"[^"\\\n]*"'
VALUES = {
    "string": STRING,
    "integer": r"-?[0-9]+",
    "number": r"-?[0-9]+(?:\.[0-9]+)?",
    "boolean": r"(?:True|False)",
}
ANY_VALUE = "(?:" + "|".join(VALUES.values()) + "|None)"


def call_pattern(tools, name):
    """A regex of `name(k=v, ...)`: the required parameters in the schema's order, then each optional one
    at most once (a parameter written twice is what a small model does when nothing stops it)."""
    schema = parameters_of(tools, name)
    properties = schema.get("properties") or {}
    required = [key for key in properties if key in (schema.get("required") or [])]
    optional = [key for key in properties if key not in required]

    def pair(key):
        return re.escape(key) + "=" + VALUES.get((properties[key] or {}).get("type"), ANY_VALUE)

    if required:
        body = ", ".join(pair(key) for key in required) + "".join("(?:, " + pair(key) + ")?" for key in optional)
    elif optional:
        body = "(?:" + pair(optional[0]) + "".join("(?:, " + pair(key) + ")?" for key in optional[1:]) + ")?"
    else:
        body = ""
    return re.escape(name) + r"\(" + body + r"\)"


def python_call(text):
    """(name, arguments dict) of `name(k=literal, ...)`, or None."""
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        return None
    if not isinstance(node, ast.Call) or node.args:
        return None
    name = ast.unparse(node.func)
    try:
        arguments = {keyword.arg: ast.literal_eval(keyword.value) for keyword in node.keywords}
    except (ValueError, SyntaxError):
        return None
    if None in arguments:
        return None
    try:
        json.dumps(arguments)
    except (TypeError, ValueError):
        return None
    return name, arguments
