"""A generation written as Anthropic's Message, or as its stream of named server-sent events.

The answer is a list of content blocks in the order the model produced them: its thinking (the
servable's reasoning parser separates it), its text, then one tool_use block per tool call. A stream
opens each block, sends its deltas and closes it before the next one starts, as Anthropic's does:

    message_start, ping, (content_block_start, content_block_delta..., content_block_stop)...,
    message_delta (stop_reason, usage), message_stop

and an error after the headers were sent is an `error` event, after which the stream ends.
"""

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Optional

from ovserve.protocol.anthropic_errors import anthropic_error
from ovserve.protocol.api import GenerationWriter

_STOP_REASONS = {"length": "max_tokens", "tool_calls": "tool_use"}


def named_event(payload):
    """One SSE event named by its payload's type, as Anthropic frames them."""
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return f"event: {payload['type']}\ndata: {data}\n\n".encode("utf-8")


def stop_reason(finish_reason, stop_string):
    if finish_reason == "stop" and stop_string is not None:
        return "stop_sequence"
    return _STOP_REASONS.get(finish_reason, "end_turn")


def thinking_signature(thinking):
    """Anthropic signs thinking so that it can be sent back unchanged. This server checks nothing it is
    sent back, so the signature is a digest of the text: stable, opaque, and no proof of anything."""
    return hashlib.sha256(thinking.encode("utf-8")).hexdigest()


def tool_use_id(call_id):
    """Anthropic's tool_use ids start with toolu_; the node's are call_<hex>."""
    return "toolu_" + (call_id or uuid.uuid4().hex).removeprefix("call_")


def tool_input(arguments):
    """A tool call's arguments (JSON text) as the `input` object. Constrained decoding makes them JSON; the
    auto tool parser reads JSON; anything else is kept, whole, under `arguments` rather than lost."""
    try:
        value = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        return {"arguments": arguments}
    return value if isinstance(value, dict) else {"arguments": value}


def usage(counts, output_tokens=None):
    return {
        "input_tokens": counts.prompt_tokens,
        "output_tokens": counts.completion_tokens if output_tokens is None else output_tokens,
        # The engine's prefix cache is automatic and reports no per-request hits.
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "service_tier": "standard",
    }


@dataclass
class Block:
    """A content block being written: its kind ("thinking" | "text" | "tool_use") and what it gathered."""

    kind: str
    parts: list = field(default_factory=list)
    tool_id: Optional[str] = None
    tool_name: Optional[str] = None

    @property
    def text(self):
        return "".join(self.parts)

    def content(self, omit_thinking=False):
        if self.kind == "text":
            return {"type": "text", "text": self.text}
        if self.kind == "thinking":
            return {"type": "thinking", "thinking": "" if omit_thinking else self.text, "signature": self._signature()}
        return {"type": "tool_use", "id": self.tool_id, "name": self.tool_name, "input": tool_input(self.text)}

    def opening(self):
        """The content_block of a content_block_start: the block before any delta."""
        if self.kind == "text":
            return {"type": "text", "text": ""}
        if self.kind == "thinking":
            return {"type": "thinking", "thinking": "", "signature": ""}
        return {"type": "tool_use", "id": self.tool_id, "name": self.tool_name, "input": {}}

    def delta(self, piece, omit_thinking=False):
        if self.kind == "text":
            return {"type": "text_delta", "text": piece}
        if self.kind == "thinking":
            return None if omit_thinking else {"type": "thinking_delta", "thinking": piece}
        return {"type": "input_json_delta", "partial_json": piece}

    def _signature(self):
        return thinking_signature(self.text)


class MessageWriter(GenerationWriter):
    """One request's answer (Anthropic has one choice) as a Message or its stream."""

    def __init__(self, model, omit_thinking=False):
        self.model = model
        self.omit_thinking = omit_thinking
        self.id = "msg_" + uuid.uuid4().hex
        self.blocks = []
        self.stop_reason = None
        self.stop_sequence = None
        self._open = None  # the index of the block a stream has open

    # --- gathering, shared by both forms ---

    def _gather(self, delta):
        """Add a delta's pieces to the blocks; return [(block index, piece, is a new block)]."""
        pieces = []
        if delta.reasoning:
            pieces.append(self._append("thinking", delta.reasoning))
        if delta.text:
            pieces.append(self._append("text", delta.text))
        for call in delta.tool_calls:
            if call.id is not None or not self.blocks or self.blocks[-1].kind != "tool_use":
                self.blocks.append(Block("tool_use", tool_id=tool_use_id(call.id), tool_name=call.name))
                pieces.append((len(self.blocks) - 1, "", True))
            if call.arguments:
                self.blocks[-1].parts.append(call.arguments)
                pieces.append((len(self.blocks) - 1, call.arguments, False))
        if delta.finish_reason:
            self.stop_reason = stop_reason(delta.finish_reason, delta.stop_string)
            self.stop_sequence = delta.stop_string if self.stop_reason == "stop_sequence" else None
        return pieces

    def _append(self, kind, piece):
        new = not self.blocks or self.blocks[-1].kind != kind
        if new:
            self.blocks.append(Block(kind))
        self.blocks[-1].parts.append(piece)
        return len(self.blocks) - 1, piece, new

    def _message(self, content, counts, output_tokens=None):
        return {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": content,
            "stop_reason": self.stop_reason,
            "stop_sequence": self.stop_sequence,
            "usage": usage(counts, output_tokens),
        }

    # --- unary ---

    def add(self, deltas):
        for delta in deltas:
            self._gather(delta)

    def body(self, counts):
        self.stop_reason = self.stop_reason or "end_turn"
        return self._message([block.content(self.omit_thinking) for block in self.blocks], counts)

    # --- streamed ---

    def opening(self, counts):
        start = {"type": "message_start", "message": self._message([], counts, output_tokens=0)}
        return [named_event(start), named_event({"type": "ping"})]

    def chunks(self, deltas):
        events = []
        for delta in deltas:
            for index, piece, new in self._gather(delta):
                if new:
                    events += self._close_open()
                    self._open = index
                    start = {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": self.blocks[index].opening(),
                    }
                    events.append(named_event(start))
                payload = self.blocks[index].delta(piece, self.omit_thinking) if piece else None
                if payload is not None:
                    events.append(named_event({"type": "content_block_delta", "index": index, "delta": payload}))
            if delta.finish_reason:
                events += self._close_open()
        return events

    def closing(self, counts):
        events = self._close_open()
        message_delta = {
            "type": "message_delta",
            "delta": {"stop_reason": self.stop_reason or "end_turn", "stop_sequence": self.stop_sequence},
            "usage": usage(counts),
        }
        return events + [named_event(message_delta), named_event({"type": "message_stop"})]

    def failed(self, error):
        return [named_event(anthropic_error(error))]

    def _close_open(self):
        if self._open is None:
            return []
        index, self._open = self._open, None
        events = []
        block = self.blocks[index]
        if block.kind == "thinking":  # Anthropic sends a thinking block's signature just before its stop
            signature = {"type": "signature_delta", "signature": block.content()["signature"]}
            events.append(named_event({"type": "content_block_delta", "index": index, "delta": signature}))
        events.append(named_event({"type": "content_block_stop", "index": index}))
        return events
