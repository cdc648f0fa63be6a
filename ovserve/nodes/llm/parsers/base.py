"""What the parsers share: a buffer fed text and a state machine run over it; for the tool parsers, content
up to a marker, the JSON call objects several families write after a marker (`<tool_call>{...}`) or in a
list (`[{...}, {...}]`), and the optional tag that closes a call."""

from ovserve.nodes.llm.parsers.json_call import JsonCallObject
from ovserve.nodes.llm.parsers.pieces import EMPTY, CallSink, OutputPiece, held_tail


class StateMachine:
    """Text fed as it is generated, read by a state machine: a method `_<state>` looks at `self.held`
    (text not yet decided), consumes what it can and answers a piece, or None to wait for more text.
    Subclasses set `self.held` and `self.state`."""

    def feed(self, text):
        self.held += text
        piece = EMPTY
        while True:
            step = getattr(self, "_" + self.state)()
            if step is None:
                return piece
            piece += step

    def _release(self, markers):
        """The held text that can't begin one of `markers`, taken out of `self.held`: a marker split
        across chunks stays held until the next chunk tells."""
        keep = held_tail(self.held, markers)
        text = self.held[: len(self.held) - keep]
        self.held = self.held[len(text) :]
        return text

    def _until_marker(self, markers):
        """(text, marker): the held text before the first of `markers` to come, taken out of `self.held`
        (which then starts with that marker); or, with no marker whole yet, the text `_release` gives and
        None."""
        found = [(self.held.find(marker), marker) for marker in markers if marker in self.held]
        if not found:
            return self._release(markers), None
        position, marker = min(found)
        text, self.held = self.held[:position], self.held[position:]
        return text, marker


class ToolParser(StateMachine):
    """Feed it the content as it is generated; each feed answers an OutputPiece (content, calls).

    `self.block` is the raw text of the call being read, given back as content when it turns out not to
    be a call."""

    name = ""
    keeps_special_tokens = False  # its markers are special tokens of the family's tokenizers

    def __init__(self, tools=(), parallel_tool_calls=True):
        self.sink = CallSink(tools, parallel_tool_calls)
        self.tools = tools
        self.held = ""
        self.block = ""
        self.state = self.first_state

    first_state = "content"
    in_reasoning = False

    def finish(self):
        piece = self.feed("")
        return piece + self._finish()

    def _finish(self):
        """End of the output: what is held is content, unless a subclass knows better."""
        return self._held_as_content()

    def _content(self):
        """All that is held is content: the families whose calls can only open the answer (pythonic,
        json) come here once they know it holds none. Families with a marker read content up to it."""
        content, self.held = self.held, ""
        return OutputPiece(content=content) if content else None

    # Helpers for the states.

    def _content_until(self, markers, next_state):
        """Content up to the first marker (the marker starts `self.block`, state `next_state`), holding
        back a tail that may begin a marker."""
        content, marker = self._until_marker(markers)
        if marker is None:
            return OutputPiece(content=content) if content else None
        self.block, self.held = marker, self.held[len(marker) :]
        self.state = next_state
        return OutputPiece(content=content)

    def _skip_blank(self):
        """Move leading blank space into the block; False when nothing else is held yet."""
        stripped = self.held.lstrip()
        self.block += self.held[: len(self.held) - len(stripped)]
        self.held = stripped
        return bool(stripped)

    def _start_call_object(self, next_state):
        """A JSON call object starts at the held `{` (state `next_state` reads it); anything else means
        the block wasn't a call. Called once `_skip_blank` found text."""
        if self.held[0] != "{":
            return self._give_back()
        self.call = JsonCallObject(self.sink)
        self.state = next_state
        return EMPTY

    def _read_call_object(self, next_state):
        """Feed the held text to the call object being read; once it closed, go to `next_state` (or give
        its text back as content when it wasn't a call)."""
        deltas, used = self.call.feed(self.held)
        self.block += self.held[:used]
        self.held = self.held[used:]
        if not self.call.done:
            return OutputPiece(calls=deltas) if deltas else None
        if self.call.failed:
            return OutputPiece(calls=deltas) + self._give_back()
        self.block = ""
        self.state = next_state
        return OutputPiece(calls=deltas)

    def _finish_call_object(self):
        if self.call.committed:
            self.block = ""
        return self._held_as_content()

    def _past_closing(self, tag, next_state):
        """After a call: its closing `tag`, and the blank space before it, are dropped (state
        `next_state`); anything else is content (a model may leave the tag out). An empty tag drops only
        the blank space."""
        stripped = self.held.lstrip()
        if not stripped or (tag.startswith(stripped) and stripped != tag):
            return None  # blank so far, or maybe the start of the tag
        if stripped.startswith(tag):
            self.held, self.state = stripped[len(tag) :], next_state
        else:
            self.held, self.state = stripped, "content"
        return EMPTY

    def _after_block(self):
        """Blank space after a call's block only separates it from the next: dropped."""
        self.held = self.held.lstrip()
        if not self.held:
            return None
        self.state = "content"
        return EMPTY

    def _give_back(self, next_state="content"):
        """The block wasn't a call: it is content, as written."""
        block, self.block = self.block, ""
        self.state = next_state
        return OutputPiece(content=block)

    def _held_as_content(self):
        held, self.held = self.block + self.held, ""
        self.block = ""
        return OutputPiece(content=held)


class ClosingTag(ToolParser):
    """A mixin for families that close each call's block with a tag (`</tool_call>`): state "close" drops
    it, "after_block" the blank space after it, and at the end of the output a tag cut short."""

    closing_tag = ""

    def _close(self):
        return self._past_closing(self.closing_tag, "after_block")

    def _finish(self):
        if self.state in ("close", "after_block"):
            self.held = ""
        return super()._finish()


class JsonCallAfterMarker(ToolParser):
    """Families that write a JSON call object after a marker (`<tool_call>{...}`, `<|python_tag|>{...}`);
    what may follow a call (state `after_call`) is the family's own."""

    marker = ""
    after_call = ""

    def _content(self):
        return self._content_until((self.marker,), "object")

    def _object(self):
        if not self._skip_blank():
            return None
        return self._start_call_object("call")

    def _call(self):
        return self._read_call_object(self.after_call)

    def _finish(self):
        if self.state == "call":
            return self._finish_call_object()
        return self._held_as_content()


class JsonCallList(ToolParser):
    """Families that write a list of JSON call objects after their marker: `[{...}, {...}]`."""

    def _list_open(self):
        if not self._skip_blank():
            return None
        if self.held[0] != "[":
            return self._give_back()
        self.block += "["
        self.held = self.held[1:]
        self.state = "list_item"
        return EMPTY

    def _list_item(self):
        if not self._skip_blank():
            return None
        if self.held[0] == "]":  # an empty list
            self.held = self.held[1:]
            self.block = ""
            self.state = "content"
            return EMPTY
        return self._start_call_object("list_object")

    def _list_object(self):
        return self._read_call_object("list_next")

    def _list_next(self):
        if not self._skip_blank():
            return None
        char, self.held = self.held[0], self.held[1:]
        self.block = ""
        self.state = "list_item" if char == "," else "content"
        if char not in ",]":
            return OutputPiece(content=char)
        return EMPTY

    def _finish(self):
        if self.state == "list_object":
            return self._finish_call_object()
        if self.state in ("list_next", "list_item") and self.sink.count:
            self.block = ""  # the calls were read; a list cut short before its `]` loses nothing
        return self._held_as_content()
