"""A response of the Responses API: the `response` object (unary), or its typed server-sent events
(`event: <type>` and `data: {...}` with an increasing `sequence_number`), saved to the store once it
completes. A stream that ends early (the client left, an error) is never stored."""

import json
import logging
import sqlite3
import time

from ovserve.errors import OvserveError
from ovserve.protocol.api import GenerationWriter
from ovserve.protocol.responses_output import (
    APPENDED,
    CLOSED,
    FUNCTION_CALL,
    MESSAGE,
    OPENED,
    OutputItems,
    token_logprobs,
)
from ovserve.protocol.responses_request import new_id

log = logging.getLogger("ovserve.protocol")


def usage(counts):
    prompt, completion = counts.prompt_tokens, counts.completion_tokens
    return {
        "input_tokens": prompt,
        # The engine does not tell which prompt tokens its prefix cache held.
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": getattr(counts, "reasoning_tokens", 0)},
        "total_tokens": prompt + completion,
    }


def _event(payload):
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return f"event: {payload['type']}\ndata: {data}\n\n".encode("utf-8")


def _error_code(error):
    return "server_error" if error.status >= 500 else (error.code or error.error_type)


class ResponsesWriter(GenerationWriter):
    def __init__(self, request, store=None):
        self.request = request
        self.store = store
        self.id = new_id("resp_")
        self.created_at = int(time.time())
        self.output = OutputItems(request.chat_input.params.top_logprobs)
        self._finish_reason = None
        self._sequence = 0

    # --- unary ---

    def add(self, deltas):
        for delta in deltas:
            self._note_finish(delta)
            self.output.add(delta)

    def body(self, counts):
        self.output.finish(self._item_status())
        response = self._response(counts)
        self._save(response)
        return response

    # --- streamed ---

    def opening(self, counts):
        started = self._response(None, status="in_progress")
        return [
            self._typed("response.created", response=started),
            self._typed("response.in_progress", response=started),
        ]

    def chunks(self, deltas):
        events = []
        for delta in deltas:
            self._note_finish(delta)
            events += self._events(self.output.add(delta))
        return events

    def closing(self, counts):
        events = self._events(self.output.finish(self._item_status()))
        response = self._response(counts)
        try:
            self._save(response)
        except OvserveError as error:
            return events + self.failed(error)
        kind = "response.completed" if response["status"] == "completed" else "response.incomplete"
        return events + [self._typed(kind, response=response)]

    def failed(self, error):
        response = self._response(None, status="failed")
        response["error"] = {"code": _error_code(error), "message": error.message}
        return [
            self._typed("error", code=_error_code(error), message=error.message, param=error.param),
            self._typed("response.failed", response=response),
        ]

    # --- the response object ---

    def _response(self, counts, status=None):
        incomplete = self._finish_reason == "length"
        if status is None:
            status = "incomplete" if incomplete else "completed"
        finished = status in ("completed", "incomplete")
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "completed_at": int(time.time()) if finished else None,
            "status": status,
            "error": None,
            "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
            "model": self.request.model,
            "output": self.output.all_rendered() if finished else [],
            "usage": usage(counts) if counts is not None else None,
            **self.request.echo,
        }

    def _save(self, response):
        if not self.request.store or self.store is None:
            return
        try:
            self.store.save(response, list(self.request.conversation_items))
        except sqlite3.Error as error:
            log.error("response %s could not be stored: %s", self.id, error)
            raise OvserveError(
                "The response was generated but could not be stored; retry, or send store: false."
            ) from error

    def _note_finish(self, delta):
        if delta.finish_reason:
            self._finish_reason = delta.finish_reason

    def _item_status(self):
        return "incomplete" if self._finish_reason == "length" else "completed"

    # --- stream events ---

    def _typed(self, kind, **fields):
        payload = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return _event(payload)

    def _events(self, changes):
        events = []
        for change in changes:
            item = self.output.items[change.index]
            where = {"output_index": change.index}
            part = {**where, "item_id": item.id, "content_index": 0}
            if change.kind == OPENED:
                opened = self.output.rendered(change.index)
                if item.kind != FUNCTION_CALL:
                    opened = dict(opened, content=[])
                events.append(self._typed("response.output_item.added", item=opened, **where))
                if item.kind != FUNCTION_CALL:
                    empty = self.output.content_part(change.index, text="")
                    events.append(self._typed("response.content_part.added", part=empty, **part))
            elif change.kind == APPENDED and item.kind == FUNCTION_CALL:
                events.append(
                    self._typed("response.function_call_arguments.delta", item_id=item.id, delta=change.text, **where)
                )
            elif change.kind == APPENDED and item.kind == MESSAGE:
                logprobs = token_logprobs(change.logprobs, self.output.top_logprobs)
                events.append(self._typed("response.output_text.delta", delta=change.text, logprobs=logprobs, **part))
            elif change.kind == APPENDED:
                events.append(self._typed("response.reasoning_text.delta", delta=change.text, **part))
            elif change.kind == CLOSED:
                events += self._closed_events(change.index, where, part)
        return events

    def _closed_events(self, index, where, part):
        item = self.output.items[index]
        done = self.output.rendered(index)
        if item.kind == FUNCTION_CALL:
            events = [
                self._typed(
                    "response.function_call_arguments.done",
                    item_id=item.id,
                    name=item.name,
                    arguments=item.text,
                    **where,
                )
            ]
        else:
            content = self.output.content_part(index)
            if item.kind == MESSAGE:
                text_done = self._typed(
                    "response.output_text.done", text=item.text, logprobs=content["logprobs"], **part
                )
            else:
                text_done = self._typed("response.reasoning_text.done", text=item.text, **part)
            events = [text_done, self._typed("response.content_part.done", part=content, **part)]
        return events + [self._typed("response.output_item.done", item=done, **where)]
