"""The output items of one response, built as the generation's deltas arrive: reasoning, the message,
function calls, in the order the model produced them.

`OutputItems.add` returns what changed (an item opened, text appended to one, an item closed), which the
stream writer turns into its events; the unary writer reads only the finished items. One state machine
for both, so a streamed response assembles into the very object a unary one is.
"""

import uuid
from dataclasses import dataclass, field
from typing import Optional

OPENED, APPENDED, CLOSED = "opened", "appended", "closed"
REASONING, MESSAGE, FUNCTION_CALL = "reasoning", "message", "function_call"
_ID_PREFIXES = {REASONING: "rs_", MESSAGE: "msg_", FUNCTION_CALL: "fc_"}


@dataclass(frozen=True)
class Change:
    """What one delta did to the output: `kind` OPENED, APPENDED (`text`, `logprobs`) or CLOSED item `index`."""

    kind: str
    index: int
    text: str = ""
    logprobs: tuple = ()  # TokenLogprob, for message text with logprobs asked for


@dataclass
class OutputItem:
    kind: str  # REASONING | MESSAGE | FUNCTION_CALL
    id: str
    call_id: Optional[str] = None
    name: Optional[str] = None
    texts: list = field(default_factory=list)  # the reasoning, the message's text, or the call's arguments
    logprobs: list = field(default_factory=list)
    status: Optional[str] = None  # None while open; "completed" or "incomplete" once closed

    @property
    def text(self):
        return "".join(self.texts)


def token_logprobs(entries, top_logprobs):
    """TokenLogprob entries in the Responses shape (the engine reports the sampled token only: with
    top_logprobs, in greedy decoding, it is the one alternative)."""
    tokens = []
    for entry in entries:
        token = {"token": entry.token, "logprob": entry.logprob, "bytes": list(entry.token_bytes)}
        tokens.append(dict(token, top_logprobs=[dict(token)] if top_logprobs else []))
    return tokens


class OutputItems:
    def __init__(self, top_logprobs=0):
        self.items = []
        self.top_logprobs = top_logprobs
        self._open = None  # the index of the item text is appended to, if one is open
        self._calls = {}  # a tool call's index in the generation -> its item's index

    def add(self, delta):
        """The Changes a ChoiceDelta makes: its reasoning, then its text, then its tool call pieces."""
        changes = []
        if delta.reasoning:
            changes += self._append(REASONING, delta.reasoning)
        if delta.text or delta.logprobs:
            changes += self._append(MESSAGE, delta.text, delta.logprobs)
        for call in delta.tool_calls:
            if call.id is not None or call.index not in self._calls:
                changes += self._close_open("completed")
                self.items.append(
                    OutputItem(FUNCTION_CALL, _new_id(FUNCTION_CALL), call.id or "call_" + uuid.uuid4().hex, call.name)
                )
                self._open = self._calls[call.index] = len(self.items) - 1
                changes.append(Change(OPENED, self._open))
            if call.arguments:
                index = self._calls[call.index]
                self.items[index].texts.append(call.arguments)
                changes.append(Change(APPENDED, index, call.arguments))
        return changes

    def finish(self, status):
        """Close every open item with `status`; an answer with no output at all gets an empty message."""
        changes = []
        if not self.items:
            self.items.append(OutputItem(MESSAGE, _new_id(MESSAGE)))
            changes.append(Change(OPENED, 0))
        for index, item in enumerate(self.items):
            if item.status is None:
                item.status = status
                changes.append(Change(CLOSED, index))
        self._open = None
        return changes

    def rendered(self, index):
        """Item `index` as the API shows it (in progress while it is open)."""
        item = self.items[index]
        status = item.status or "in_progress"
        if item.kind == REASONING:
            return {
                "id": item.id,
                "type": "reasoning",
                "summary": [],
                "content": [self.content_part(index)],
                "status": status,
            }
        if item.kind == MESSAGE:
            return {
                "id": item.id,
                "type": "message",
                "role": "assistant",
                "status": status,
                "content": [self.content_part(index)],
            }
        return {
            "id": item.id,
            "type": "function_call",
            "call_id": item.call_id,
            "name": item.name,
            "arguments": item.text,
            "status": status,
        }

    def content_part(self, index, text=None):
        item = self.items[index]
        text = item.text if text is None else text
        if item.kind == REASONING:
            return {"type": "reasoning_text", "text": text}
        logprobs = token_logprobs(item.logprobs, self.top_logprobs) if text else []
        return {"type": "output_text", "text": text, "annotations": [], "logprobs": logprobs}

    def all_rendered(self):
        return [self.rendered(index) for index in range(len(self.items))]

    def _append(self, kind, text, logprobs=()):
        changes = []
        if self._open is None or self.items[self._open].kind != kind:
            changes += self._close_open("completed")
            self.items.append(OutputItem(kind, _new_id(kind)))
            self._open = len(self.items) - 1
            changes.append(Change(OPENED, self._open))
        item = self.items[self._open]
        item.texts.append(text)
        item.logprobs.extend(logprobs)
        changes.append(Change(APPENDED, self._open, text, tuple(logprobs)))
        return changes

    def _close_open(self, status):
        if self._open is None:
            return []
        index, self._open = self._open, None
        self.items[index].status = status
        return [Change(CLOSED, index)]


def _new_id(kind):
    return _ID_PREFIXES[kind] + uuid.uuid4().hex
