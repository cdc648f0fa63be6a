"""POST /v3/completions: OpenAI's text completions, read into CompletionPrompts, answered by the
servable's generation over all the prompts, written as a text_completion or a stream of them."""

from ovserve.graph.servable import Servable
from ovserve.protocol.api import Api, Call
from ovserve.protocol.choices import ChoicesWriter
from ovserve.protocol.prompt_logprobs import PromptLogprobsCollector
from ovserve.protocol.requests import parse_completion


def completion_logprobs(entries, top_logprobs, text_offset):
    """OpenAI's legacy logprobs object. An echoed prompt's first token has no log-probability: null in
    token_logprobs and top_logprobs. The engine gives no alternatives, so a top_logprobs entry lists the token
    itself: the most likely one for a greedy generated token, the prompt's own for an echoed one."""
    offsets, position = [], text_offset
    for entry in entries:
        offsets.append(position)
        position += len(entry.token)
    return {
        "tokens": [entry.token for entry in entries],
        "token_logprobs": [entry.logprob for entry in entries],
        "top_logprobs": [None if entry.logprob is None else {entry.token: entry.logprob} for entry in entries]
        if top_logprobs
        else None,
        "text_offset": offsets,
    }


class CompletionWriter(ChoicesWriter):
    """text_offset counts from the start of a choice's text, echoed prompt included."""

    id_prefix = "cmpl-"
    unary_object = chunk_object = "text_completion"

    def __init__(self, model, n, logprobs=False, top_logprobs=0, include_usage=False, prompt_logprobs=False):
        super().__init__(model, n, logprobs, top_logprobs, include_usage)
        self._prompt_logprobs = PromptLogprobsCollector(prompt_logprobs)
        self._echoes = [""] * n  # unary: the text before the first token with logprobs (an echoed prompt)
        self._text_offsets = [0] * n  # streamed: the length of each choice's text so far

    def _collect(self, delta):
        if not self._collected[delta.index].texts and not delta.logprobs:
            self._echoes[delta.index] += delta.text
        self._prompt_logprobs.add(delta)
        super()._collect(delta)

    def _unary_choice(self, index, choice):
        logprobs = None
        if self.logprobs:
            logprobs = completion_logprobs(choice.logprobs, self.top_logprobs, len(self._echoes[index]))
        unary = {"index": index, "text": choice.text, "logprobs": logprobs, "finish_reason": choice.finish_reason}
        return self._prompt_logprobs.into(unary, index)

    def _content_choice(self, delta):
        logprobs = None
        if self.logprobs:
            if delta.logprobs:
                logprobs = completion_logprobs(delta.logprobs, self.top_logprobs, self._text_offsets[delta.index])
            self._text_offsets[delta.index] += len(delta.text)  # text without tokens (echo) moves offsets too
        chunk = {"index": delta.index, "text": delta.text, "logprobs": logprobs, "finish_reason": None}
        return self._prompt_logprobs.into_chunk(chunk, delta)

    def _finish_choice(self, index, finish_reason):
        return {"index": index, "text": "", "logprobs": None, "finish_reason": finish_reason}


def parse_completion_call(body, request_id=""):
    model, prompts, stream = parse_completion(body, request_id)
    params = prompts.params
    writer = CompletionWriter(
        model,
        prompts.choices,
        params.logprobs,
        params.top_logprobs,
        stream.include_usage,
        prompt_logprobs=params.prompt_logprobs is not None,
    )
    return Call(model, prompts, writer, stream.stream)


COMPLETIONS = Api("completions", parse_completion_call, Servable.complete_prompts)
