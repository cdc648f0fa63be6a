"""Reading a JSON call object `{"name": ..., "arguments": {...}}` as it is generated.

The scanner is a small state machine over characters (strings, escapes, nesting depth, the keys of the
top level), so every chunking of the same text gives the same calls. A call starts (its id and name are
sent) once its name is complete, is one of the tools, and its arguments value begins; the arguments' raw
JSON text then streams as it comes. An object whose arguments come before its name (some templates write
them that way), or whose arguments are a JSON string (sent as that string's text), is sent whole when the
object closes. An object that isn't a call of a known tool is given back as text: `failed`.
"""

import json
import re

from ovserve.nodes.llm.parsers.pieces import arguments_text

NAME_KEYS = ("name",)
ARGUMENT_KEYS = ("arguments", "parameters")
STRING_STOPS = re.compile(r'["\\]')


class JsonCallObject:
    """One JSON object, fed from its `{`. `feed` answers (deltas, characters used); `done` once it closed."""

    def __init__(self, sink):
        self.sink = sink
        self.raw = ""
        self.depth = 0
        self.in_string = False
        self.escaped = False
        self.expect = "key"  # at depth 1: "key", "colon", "value", "comma"
        self.key = None
        self.token_start = 0  # where the current top-level key or value began in raw
        self.name = None
        self.committed = False  # id and name sent
        self.streaming = False  # inside the arguments value, sending it as it comes
        self.done = False
        self.failed = False

    def feed(self, text):
        deltas = ()
        offset = len(self.raw)  # where `text` begins in raw
        self.raw += text
        stream_from = 0 if self.streaming else None
        index, length = 0, len(text)
        while index < length:
            if self.in_string:
                index = self._skip_string(text, index, offset)
                continue
            ended_value = self._scan(text[index], offset + index)
            if ended_value == "start-arguments":
                deltas += self._start_arguments()
                stream_from = index if self.streaming else None
            elif ended_value:
                if self.streaming:
                    self.streaming = False
                    deltas += self.sink.arguments(text[stream_from : index + 1])
                    stream_from = None
                self._value_ended(ended_value)
            index += 1
            if self.done:
                self.raw = self.raw[: offset + index]
                return deltas + self._closed(), index
        if stream_from is not None:
            deltas += self.sink.arguments(text[stream_from:])
        return deltas, length

    def _skip_string(self, text, index, offset):
        """Past the string's characters up to its closing quote (its text isn't scanned one by one)."""
        if self.escaped:
            self.escaped = False
            return index + 1
        found = STRING_STOPS.search(text, index)
        if found is None:
            return len(text)
        index = found.start()
        if text[index] == "\\":
            self.escaped = True
            return index + 1
        self.in_string = False
        if self.depth == 1:
            ended_value = self._string_ended(offset + index)
            if ended_value:
                self._value_ended(ended_value)
        return index + 1

    def _scan(self, char, position):
        """Advance over one character; answers a top-level value's text when one just ended, or
        "start-arguments" when the arguments value just began."""
        if char.isspace():
            return None
        if self.depth == 1 and self.expect == "value":
            self.expect = "comma"
            self.token_start = position
            if self.key in ARGUMENT_KEYS and char in "{[":
                self.depth += 1
                return "start-arguments"
        if char == '"':
            self.in_string = True
            if self.depth == 1 and self.expect == "key":
                self.token_start = position
            return None
        if char in "{[":
            self.depth += 1
            return None
        if char in "}]":
            self.depth -= 1
            if self.depth == 1 and self.expect == "comma":
                return self.raw[self.token_start : position + 1]
            if self.depth <= 0:
                self.done = True
                return self._value_at_close(position)
            return None
        if self.depth == 1:
            if char == ":" and self.expect == "colon":
                self.expect = "value"
            elif char == ",":
                value = self._value_at_close(position)
                self.expect, self.key = "key", None
                return value
        return None

    def _string_ended(self, position):
        if self.expect == "key":
            try:
                self.key = json.loads(self.raw[self.token_start : position + 1])
            except ValueError:
                self.key = None
            self.expect = "colon"
            return None
        return self.raw[self.token_start : position + 1]  # a string value at the top level

    def _value_at_close(self, position):
        # A number, literal or string value ends at the top level's `,` or `}` (its text was already
        # answered when it was a string or a container).
        if self.expect == "comma" and self.raw[self.token_start] not in '"{[':
            return self.raw[self.token_start : position].strip()
        return None

    def _value_ended(self, value_text):
        # A string of arguments is sent whole when the object closes; only the name matters here.
        if self.key in NAME_KEYS and self.name is None:
            try:
                name = json.loads(value_text)
                self.name = name if isinstance(name, str) else None
            except ValueError:
                self.name = None

    def _start_arguments(self):
        if self.committed or self.name is None or not self.sink.knows(self.name):
            return ()
        self.committed = True
        self.streaming = True
        return self.sink.open(self.name)

    def _closed(self):
        if self.committed:
            return ()
        try:
            call = json.loads(self.raw)
        except ValueError:
            call = None
        name = call.get("name") if isinstance(call, dict) else None
        if not isinstance(name, str) or not self.sink.knows(name):
            self.failed = True
            return ()
        arguments = next((call[key] for key in ARGUMENT_KEYS if key in call), {})
        if isinstance(arguments, str):
            return self.sink.whole(name, arguments)
        if not isinstance(arguments, dict):
            self.failed = True
            return ()
        return self.sink.whole(name, arguments_text(arguments))


class JsonValue:
    """A bare JSON object or array (the arguments of `name[ARGS]{...}` or harmony's message), streamed as
    it comes: `feed` answers (text of the value in this chunk, characters used); `done` once it closed."""

    def __init__(self):
        self.depth = 0
        self.in_string = False
        self.escaped = False
        self.done = False
        self.raw = ""

    def feed(self, text):
        for used, char in enumerate(text):
            if self.in_string:
                if self.escaped:
                    self.escaped = False
                elif char == "\\":
                    self.escaped = True
                elif char == '"':
                    self.in_string = False
            elif char == '"':
                self.in_string = True
            elif char in "{[":
                self.depth += 1
            elif char in "}]":
                self.depth -= 1
                if self.depth <= 0:
                    self.done = True
                    self.raw += text[: used + 1]
                    return text[: used + 1], used + 1
        self.raw += text
        return text, len(text)
