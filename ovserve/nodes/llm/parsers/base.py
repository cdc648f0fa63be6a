"""What the tool parsers share: a buffer fed text, a state machine run over it, content up to a marker, and
the lists of JSON call objects several families write (`[{...}, {...}]`)."""

from ovserve.nodes.llm.parsers.json_call import JsonCallObject
from ovserve.nodes.llm.parsers.pieces import EMPTY, CallSink, OutputPiece, held_tail


class ToolParser:
    """Feed it the content as it is generated; each feed answers an OutputPiece (content, calls).

    Subclasses are state machines: a method `_<state>` looks at `self.held` (text not yet decided),
    consumes what it can and answers a piece, or None to wait for more text. `self.block` is the raw text
    of the call being read, given back as content when it turns out not to be a call."""

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

    def feed(self, text):
        self.held += text
        piece = EMPTY
        while True:
            step = getattr(self, "_" + self.state)()
            if step is None:
                return piece
            piece += step

    def finish(self):
        piece = self.feed("")
        return piece + self._finish()

    def _finish(self):
        """End of the output: what is held is content, unless a subclass knows better."""
        return self._held_as_content()

    # Helpers for the states.

    def _content_until(self, markers, next_state):
        """Content up to the first marker (the marker starts `self.block`, state `next_state`), holding
        back a tail that may begin a marker."""
        found = [(self.held.find(marker), marker) for marker in markers if marker in self.held]
        if found:
            position, marker = min(found)
            content = self.held[:position]
            self.block = marker
            self.held = self.held[position + len(marker) :]
            self.state = next_state
            return OutputPiece(content=content)
        keep = held_tail(self.held, markers)
        content = self.held[: len(self.held) - keep]
        self.held = self.held[len(content) :]
        return OutputPiece(content=content) if content else None

    def _skip_blank(self):
        """Move leading blank space into the block; False when nothing else is held yet."""
        stripped = self.held.lstrip()
        self.block += self.held[: len(self.held) - len(stripped)]
        self.held = stripped
        return bool(stripped)

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

    def _held_as_content(self):
        held, self.held = self.block + self.held, ""
        self.block = ""
        return OutputPiece(content=held)


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
        if self.held[0] != "{":
            return self._give_back()
        self.call = JsonCallObject(self.sink)
        self.state = "list_object"
        return EMPTY

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
