"""Generations -> OpenAI response objects, unary or as a stream of chunks.

Chat and text completions differ only in object names and in where a choice's text goes, so one
writer serves both, parameterised by a small `Shape`.
"""

import logging
import time
import uuid
from dataclasses import dataclass

from ovserve.errors import OvserveError
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


class ResponseWriter:
    def __init__(self, shape, model, n):
        self.shape = shape
        self.model = model
        self.n = n
        self.id = shape.id_prefix + uuid.uuid4().hex
        self.created = int(time.time())

    def _envelope(self, object_name, choices):
        return {"id": self.id, "object": object_name, "created": self.created, "model": self.model, "choices": choices}

    # --- unary -----------------------------------------------------------------------------
    def unary(self, generation):
        texts = [[] for _ in range(self.n)]
        reasons = [None] * self.n
        try:
            for deltas in generation:
                for delta in deltas:
                    texts[delta.index].append(delta.text)
                    if delta.finish_reason:
                        reasons[delta.index] = delta.finish_reason
        finally:
            generation.close()
        choices = []
        for index in range(self.n):
            text = "".join(texts[index])
            if self.shape.is_chat:
                choice = {"index": index, "message": {"role": "assistant", "content": text}}
            else:
                choice = {"index": index, "text": text}
            choice["logprobs"] = None
            choice["finish_reason"] = reasons[index]
            choices.append(choice)
        body = self._envelope(self.shape.unary_object, choices)
        body["usage"] = usage(generation)
        return body

    # --- streaming -------------------------------------------------------------------------
    def _chunk_choice(self, index, text, finish_reason, first=False):
        if self.shape.is_chat:
            delta = {"role": "assistant", "content": text} if first else ({"content": text} if text else {})
            return {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return {"index": index, "text": text, "logprobs": None, "finish_reason": finish_reason}

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
                yield self._chunk([self._chunk_choice(i, "", None, first=True) for i in range(self.n)], include_usage)
            for deltas in generation:
                # Text first, finish reasons in a chunk of their own, as OpenAI sends them.
                texts = [self._chunk_choice(d.index, d.text, None) for d in deltas if d.text]
                finishes = [self._chunk_choice(d.index, "", d.finish_reason) for d in deltas if d.finish_reason]
                if texts:
                    yield self._chunk(texts, include_usage)
                if finishes:
                    yield self._chunk(finishes, include_usage)
            if include_usage:
                chunk = self._envelope(self.shape.chunk_object, [])
                chunk["usage"] = usage(generation)
                yield sse.event(chunk)
        except OvserveError as error:
            log.warning("stream %s failed: %s", self.id, error.message)
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
