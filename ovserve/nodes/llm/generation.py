"""One LLM request as seen by an HTTP worker: engine updates in, deltas per choice out."""

from ovserve.errors import EngineFailure
from ovserve.graph.messages import ChoiceDelta, Generation, TokenLogprob
from ovserve.nodes.llm.prompt_logprobs import merged
from ovserve.nodes.llm.stop_strings import StopStringMatcher


class ChoiceSettings:
    """What every choice of one request shares."""

    def __init__(
        self,
        new_detokenizer,
        stop_strings=(),
        include_stop_string=False,
        stop_token_ids=(),
        token_text=None,
        new_output=None,
    ):
        self.new_detokenizer = new_detokenizer
        self.stop_strings = stop_strings
        self.include_stop_string = include_stop_string
        self.stop_token_ids = frozenset(stop_token_ids)
        self.token_text = token_text  # id -> (text, bytes) when logprobs are asked for, else None
        self.new_output = new_output  # () -> an output parser (parsers.new_output_parser): reasoning, content, calls


class _Choice:
    def __init__(self, settings):
        self.settings = settings
        self.detokenizer = settings.new_detokenizer()
        self.stop = StopStringMatcher(settings.stop_strings, settings.include_stop_string)
        self.output = settings.new_output()
        self.finish_reason = None
        self.made_tool_calls = False
        self.reasoning_tokens = 0

    def advance(self, ids, logprobs, engine_finish_reason):
        """Return the ChoiceDelta these tokens make (or None), and set finish_reason when the choice ends."""
        # Tokens count as reasoning when the parser reads reasoning as they arrive (the closing tag's
        # tokens included, as the reasoning they end).
        if self.output.in_reasoning:
            self.reasoning_tokens += len(ids)
        settings = self.settings
        if (
            engine_finish_reason == "stop"
            and ids
            and ids[-1] in settings.stop_token_ids
            and not settings.include_stop_string
        ):
            ids = ids[:-1]  # a stop token ends the output without being part of it
        text = self.stop.feed(self.detokenizer.add(ids))
        if self.stop.stopped:
            self.finish_reason = "stop"
        elif engine_finish_reason is not None:
            text += self.stop.feed(self.detokenizer.flush())
            if not self.stop.stopped:
                text += self.stop.flush()
            self.finish_reason = "stop" if self.stop.stopped else engine_finish_reason
        piece = self.output.feed(text)
        content, reasoning, calls = piece.content, piece.reasoning, list(piece.calls)
        if self.finish_reason:
            tail = self.output.finish()
            content, reasoning, calls = content + tail.content, reasoning + tail.reasoning, calls + list(tail.calls)
        self.made_tool_calls |= bool(calls)
        if self.finish_reason == "stop" and self.made_tool_calls:
            self.finish_reason = "tool_calls"
        token_logprobs = ()
        if settings.token_text is not None:
            entries = []
            for token, logprob in zip(ids, logprobs):
                text, raw = settings.token_text(token)
                if raw:  # special tokens (end of turn) are not part of the output
                    entries.append(TokenLogprob(token=text, logprob=logprob, token_bytes=raw))
            token_logprobs = tuple(entries)
        if content or reasoning or calls or token_logprobs or self.finish_reason:
            stop_string = self.stop.matched if self.finish_reason == "stop" else None
            return ChoiceDelta(0, content, self.finish_reason, token_logprobs, tuple(calls), reasoning, stop_string)
        return None


class LLMGeneration(Generation):
    def __init__(self, stream, prompt_tokens, n, settings, echo_text=None, copies=False, prompt_scoring=None):
        self._stream = stream
        self._prompt_scoring = prompt_scoring  # a PromptScoring: the echo waits for the prompt's scores
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = 0
        self._choices = [_Choice(settings) for _ in range(n)]
        self._echo_text = echo_text
        self._copies = copies and n > 1

    @property
    def reasoning_tokens(self):
        return sum(choice.reasoning_tokens for choice in self._choices)

    @property
    def finished(self):
        return all(choice.finish_reason for choice in self._choices)

    def __iter__(self):
        if self._echo_text and self._prompt_scoring is None:
            yield [ChoiceDelta(index, self._echo_text) for index in range(len(self._choices))]
        for update in self._stream:
            deltas = []
            for sequence, ids, logprobs, reason in update.sequences:
                # One engine sequence feeds every choice when the choices are greedy copies.
                for index in range(len(self._choices)) if self._copies else (sequence,):
                    choice = self._choices[index]
                    if choice.finish_reason:
                        continue
                    self.completion_tokens += len(ids)
                    delta = choice.advance(ids, logprobs, reason)
                    if delta is not None:
                        delta.index = index
                        deltas.append(delta)
            if update.prompt_logprobs and self._prompt_scoring is not None:
                deltas = self._after_prompt(update.prompt_logprobs, deltas)
            if self.finished:
                self._stream.close()  # a stop string ended it early: free the engine's sequences now
                if deltas:
                    yield deltas
                return
            if self._stream.finished:
                raise EngineFailure(f"the engine ended the request without finishing it (status: {update.status})")
            if deltas:
                yield deltas

    def _after_prompt(self, scores, deltas):
        """Each choice's prompt delta, joined to its first generated delta when there is one."""
        firsts = self._prompt_scoring.first_deltas(scores, len(self._choices))
        joined = [merged(firsts.pop(delta.index), delta) if delta.index in firsts else delta for delta in deltas]
        return list(firsts.values()) + joined

    def close(self):
        self._stream.close()
