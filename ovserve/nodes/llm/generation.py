"""One LLM request as seen by an HTTP worker: engine updates in, text deltas per choice out."""

from ovserve.errors import EngineFailure
from ovserve.graph.messages import ChoiceDelta, Generation
from ovserve.nodes.llm.stop_strings import StopStringMatcher


class _Choice:
    def __init__(self, detokenizer, stop_strings, include_stop_string):
        self.detokenizer = detokenizer
        self.stop = StopStringMatcher(stop_strings, include_stop_string)
        self.finish_reason = None

    def advance(self, ids, engine_finish_reason):
        """Return the text these ids add, and set finish_reason when the choice ends."""
        text = self.stop.feed(self.detokenizer.add(ids))
        if self.stop.stopped:
            self.finish_reason = "stop"
        elif engine_finish_reason is not None:
            text += self.stop.feed(self.detokenizer.flush())
            if not self.stop.stopped:
                text += self.stop.flush()
            self.finish_reason = "stop" if self.stop.stopped else engine_finish_reason
        return text


class LLMGeneration(Generation):
    def __init__(self, stream, prompt_tokens, n, new_detokenizer, stop_strings=(), include_stop_string=False):
        self._stream = stream
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = 0
        self._choices = [_Choice(new_detokenizer(), stop_strings, include_stop_string) for _ in range(n)]

    @property
    def finished(self):
        return all(choice.finish_reason for choice in self._choices)

    def __iter__(self):
        for update in self._stream:
            deltas = []
            for index, ids, _logprobs, reason in update["sequences"]:
                choice = self._choices[index]
                if choice.finish_reason:
                    continue
                self.completion_tokens += len(ids)
                text = choice.advance(ids, reason)
                if text or choice.finish_reason:
                    deltas.append(ChoiceDelta(index, text, choice.finish_reason))
            if self.finished:
                self._stream.close()  # a stop string ended it early: free the engine's sequences now
                if deltas:
                    yield deltas
                return
            if self._stream.finished:
                raise EngineFailure(f"the engine ended the request without finishing it (status: {update['status']})")
            if deltas:
                yield deltas

    def close(self):
        self._stream.close()
