"""What OpenAI's chat and text completions share: an answer of numbered choices in one envelope, usage,
and the order of a stream's events (content, finish reasons in a chunk of their own, the usage chunk
when asked for, then [DONE]; after an error, an error event, then [DONE]). ChatWriter and
CompletionWriter fill in the choices."""

import time
import uuid
from dataclasses import dataclass, field
from typing import Optional

from ovserve.protocol import sse
from ovserve.protocol.api import GenerationWriter
from ovserve.protocol.errors import openai_error


def usage(counts):
    return {
        "prompt_tokens": counts.prompt_tokens,
        "completion_tokens": counts.completion_tokens,
        "total_tokens": counts.prompt_tokens + counts.completion_tokens,
    }


@dataclass
class CollectedChoice:
    """What a unary answer has gathered of one choice."""

    texts: list = field(default_factory=list)
    reasonings: list = field(default_factory=list)
    logprobs: list = field(default_factory=list)  # TokenLogprob
    tool_calls: list = field(default_factory=list)  # ToolCallDelta pieces
    finish_reason: Optional[str] = None

    @property
    def text(self):
        return "".join(self.texts)

    @property
    def reasoning(self):
        return "".join(self.reasonings)


class ChoicesWriter(GenerationWriter):
    id_prefix = unary_object = chunk_object = ""

    def __init__(self, model, n, logprobs=False, top_logprobs=0, include_usage=False):
        self.model = model
        self.n = n
        self.logprobs = logprobs
        self.top_logprobs = top_logprobs
        self.include_usage = include_usage
        self.id = self.id_prefix + uuid.uuid4().hex
        self.created = int(time.time())
        self._collected = [CollectedChoice() for _ in range(n)]

    def add(self, deltas):
        for delta in deltas:
            self._collect(delta)

    def body(self, counts):
        choices = [self._unary_choice(index, choice) for index, choice in enumerate(self._collected)]
        return dict(self._envelope(self.unary_object, choices), usage=self._usage(counts))

    def opening(self, counts):
        return []

    def chunks(self, deltas):
        contents = [self._content_choice(d) for d in deltas if d.text or d.reasoning or d.logprobs or d.tool_calls]
        finishes = [self._finish_choice(d.index, d.finish_reason) for d in deltas if d.finish_reason]
        return [self._chunk(choices) for choices in (contents, finishes) if choices]

    def closing(self, counts):
        if not self.include_usage:
            return [sse.DONE]
        return [sse.event(dict(self._envelope(self.chunk_object, []), usage=self._usage(counts))), sse.DONE]

    def failed(self, error):
        return [sse.event(openai_error(error)), sse.DONE]

    def _usage(self, counts):
        return usage(counts)

    def _collect(self, delta):
        choice = self._collected[delta.index]
        choice.texts.append(delta.text)
        choice.reasonings.append(delta.reasoning)
        choice.logprobs.extend(delta.logprobs)
        choice.tool_calls.extend(delta.tool_calls)
        if delta.finish_reason:
            choice.finish_reason = delta.finish_reason

    def _envelope(self, object_name, choices):
        return {"id": self.id, "object": object_name, "created": self.created, "model": self.model, "choices": choices}

    def _chunk(self, choices):
        chunk = self._envelope(self.chunk_object, choices)
        if self.include_usage:
            chunk["usage"] = None  # as OpenAI sends it: null on every chunk but the last, once usage is asked for
        return sse.event(chunk)

    def _unary_choice(self, index, choice):
        """The choice `index` of a unary answer, from what was collected of it."""
        raise NotImplementedError

    def _content_choice(self, delta):
        """The choice of a stream chunk that carries a delta's text, logprobs or tool calls."""
        raise NotImplementedError

    def _finish_choice(self, index, finish_reason):
        raise NotImplementedError
