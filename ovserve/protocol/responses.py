"""Generations -> OpenAI response objects, unary or as a stream of chunks.

Chat and text completions differ only in object names and in where a choice's text goes, so one
writer serves both, parameterised by a small `Shape`.
"""

import logging
import time
import uuid
from dataclasses import dataclass

from ovserve.errors import ClientDisconnected, OvserveError
from ovserve.protocol import sse

log = logging.getLogger("ovserve.protocol")


@dataclass(frozen=True)
class Shape:
    id_prefix: str
    unary_object: str
    chunk_object: str
    is_chat: bool


CHAT = Shape("chatcmpl-", "chat.completion", "chat.completion.chunk", True)
COMPLETION = Shape("cmpl-", "text_completion", "text_completion", False)


def error_body(error):
    """OpenAI's error object for a typed error (the HTTP layer uses it too)."""
    return {"error": {"message": error.message, "type": error.error_type, "param": error.param, "code": error.code}}


def usage(generation):
    return {
        "prompt_tokens": generation.prompt_tokens,
        "completion_tokens": generation.completion_tokens,
        "total_tokens": generation.prompt_tokens + generation.completion_tokens,
    }


def _chat_token(entry, top_logprobs):
    token = {"token": entry.token, "logprob": entry.logprob, "bytes": list(entry.token_bytes)}
    # The engine reports the sampled token only. The LLM node takes top_logprobs 1 only in greedy decoding,
    # where the sampled token is the most likely one, so it is the one alternative listed.
    return dict(token, top_logprobs=[dict(token)] if top_logprobs else [])


def chat_logprobs(entries, top_logprobs):
    return {"content": [_chat_token(entry, top_logprobs) for entry in entries]}


def completion_logprobs(entries, top_logprobs, text_offset):
    offsets, position = [], text_offset
    for entry in entries:
        offsets.append(position)
        position += len(entry.token)
    return {
        "tokens": [entry.token for entry in entries],
        "token_logprobs": [entry.logprob for entry in entries],
        "top_logprobs": [{entry.token: entry.logprob} for entry in entries] if top_logprobs else None,
        "text_offset": offsets,
    }


def tool_call_objects(calls):
    """Merge ToolCallDelta pieces into complete OpenAI tool_calls."""
    merged = {}
    for call in calls:
        entry = merged.setdefault(call.index, {"id": call.id, "type": "function",
                                               "function": {"name": call.name, "arguments": ""}})
        entry["id"] = entry["id"] or call.id
        entry["function"]["name"] = entry["function"]["name"] or call.name
        entry["function"]["arguments"] += call.arguments
    return [merged[index] for index in sorted(merged)]


def tool_call_chunks(calls):
    chunks = []
    for call in calls:
        chunk = {"index": call.index, "function": {"arguments": call.arguments}}
        if call.id is not None:
            chunk = {"index": call.index, "id": call.id, "type": "function",
                     "function": {"name": call.name, "arguments": call.arguments}}
        chunks.append(chunk)
    return chunks


class ResponseWriter:
    def __init__(self, shape, model, n, logprobs=False, top_logprobs=0):
        self.shape = shape
        self.model = model
        self.n = n
        self.logprobs = logprobs
        self.top_logprobs = top_logprobs
        self.id = shape.id_prefix + uuid.uuid4().hex
        self.created = int(time.time())
        self._text_offsets = [0] * n

    def _envelope(self, object_name, choices):
        return {"id": self.id, "object": object_name, "created": self.created, "model": self.model, "choices": choices}

    def _logprobs(self, index, entries, text=""):
        """Logprobs of a delta's tokens; for completions, text_offset counts from the start of the text."""
        if not self.logprobs:
            return None
        if self.shape.is_chat:
            return chat_logprobs(entries, self.top_logprobs)
        result = completion_logprobs(entries, self.top_logprobs, self._text_offsets[index])
        self._text_offsets[index] += len(text)
        return result

    # --- unary -----------------------------------------------------------------------------
    def unary(self, generation):
        texts = [[] for _ in range(self.n)]
        reasons = [None] * self.n
        tokens = [[] for _ in range(self.n)]
        calls = [[] for _ in range(self.n)]
        echoes = [""] * self.n
        try:
            for deltas in generation:
                for delta in deltas:
                    if not texts[delta.index] and not delta.logprobs and not self.shape.is_chat:
                        echoes[delta.index] += delta.text  # echoed prompt: logprob offsets start after it
                    texts[delta.index].append(delta.text)
                    tokens[delta.index].extend(delta.logprobs)
                    calls[delta.index].extend(delta.tool_calls)
                    if delta.finish_reason:
                        reasons[delta.index] = delta.finish_reason
        finally:
            generation.close()
        choices = []
        for index in range(self.n):
            text = "".join(texts[index])
            if self.shape.is_chat:
                message = {"role": "assistant", "content": text}
                if calls[index]:
                    message = {"role": "assistant", "content": text or None, "tool_calls": tool_call_objects(calls[index])}
                choice = {"index": index, "message": message}
            else:
                choice = {"index": index, "text": text}
            self._text_offsets[index] = len(echoes[index])
            choice["logprobs"] = self._logprobs(index, tokens[index])
            choice["finish_reason"] = reasons[index]
            choices.append(choice)
        body = self._envelope(self.shape.unary_object, choices)
        body["usage"] = usage(generation)
        return body

    # --- streaming -------------------------------------------------------------------------
    def _chunk_choice(self, delta):
        if self.shape.is_chat:
            content = {"content": delta.text} if delta.text or delta.logprobs else {}
            if delta.tool_calls:
                content["tool_calls"] = tool_call_chunks(delta.tool_calls)
            choice = {"index": delta.index, "delta": content}
        else:
            choice = {"index": delta.index, "text": delta.text}
        if self.logprobs and not delta.logprobs and not self.shape.is_chat:
            self._text_offsets[delta.index] += len(delta.text)  # text without tokens (echo) still moves offsets
        choice["logprobs"] = self._logprobs(delta.index, delta.logprobs, delta.text) if delta.logprobs else None
        choice["finish_reason"] = None
        return choice

    def _finish_choice(self, index, finish_reason):
        if self.shape.is_chat:
            return {"index": index, "delta": {}, "logprobs": None, "finish_reason": finish_reason}
        return {"index": index, "text": "", "logprobs": None, "finish_reason": finish_reason}

    def _chunk(self, choices, include_usage):
        chunk = self._envelope(self.shape.chunk_object, choices)
        if include_usage:
            chunk["usage"] = None
        return sse.event(chunk)

    def stream(self, generation, include_usage):
        """SSE bytes as an iterable whose close() always closes the generation, even before the first chunk."""
        close_generation = _once(generation.close)
        return ClosingStream(self._events(generation, include_usage, close_generation), close_generation)

    def _events(self, generation, include_usage, close_generation):
        """After the headers are sent, an error becomes an error event, then [DONE]."""
        try:
            if self.shape.is_chat:
                first = [{"index": i, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}
                         for i in range(self.n)]
                yield self._chunk(first, include_usage)
            for deltas in generation:
                # Content first, finish reasons in a chunk of their own, as OpenAI sends them.
                contents = [self._chunk_choice(d) for d in deltas if d.text or d.logprobs or d.tool_calls]
                finishes = [self._finish_choice(d.index, d.finish_reason) for d in deltas if d.finish_reason]
                if contents:
                    yield self._chunk(contents, include_usage)
                if finishes:
                    yield self._chunk(finishes, include_usage)
            if include_usage:
                chunk = self._envelope(self.shape.chunk_object, [])
                chunk["usage"] = usage(generation)
                yield sse.event(chunk)
        except OvserveError as error:
            log.log(logging.INFO if isinstance(error, ClientDisconnected) else logging.WARNING,
                    "stream %s ended: %s", self.id, error.message)
            yield sse.event(error_body(error))
        except Exception:
            log.exception("stream %s failed", self.id)
            yield sse.event({"error": {"message": "The server failed while generating; the stream was ended.",
                                       "type": "internal_error", "param": None, "code": None}})
        finally:
            close_generation()
        yield sse.DONE


def _once(function):
    called = []

    def call_once():
        if not called:
            called.append(True)
            function()

    return call_once


class ClosingStream:
    """An iterable response body that runs its closers when closed, whether or not it was started.

    A plain generator's `finally` never runs if it is closed before its first `next()`; a WSGI server
    that drops a response early would then leave a generation running in the engine.
    """

    def __init__(self, events, *closers):
        self._events = events
        self._closers = [closer for closer in closers if closer is not None]

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._events)

    def add_closer(self, closer):
        if closer is not None:
            self._closers.append(closer)

    def close(self):
        try:
            self._events.close()
        finally:
            closers, self._closers = self._closers, []
            for closer in closers:
                closer()
