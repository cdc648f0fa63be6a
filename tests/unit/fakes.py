"""Fakes of the objects a node hands to the protocol and HTTP layers (no engine, no model)."""

from ovserve.graph.messages import ChoiceDelta, Generation
from ovserve.graph.node import TextGenerator


class FakeGeneration(Generation):
    """Yields the given steps (lists of ChoiceDelta), then raises `fail_with` if given.

    Counts completion tokens as one per delta and records close() calls.
    """

    def __init__(self, steps, prompt_tokens=5, fail_with=None):
        self.steps = [list(step) for step in steps]
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = 0
        self.fail_with = fail_with
        self.close_calls = 0

    def __iter__(self):
        for step in self.steps:
            self.completion_tokens += len(step)
            yield step
        if self.fail_with is not None:
            raise self.fail_with

    def close(self):
        self.close_calls += 1


def canned_steps(text_pieces, finish_reason="stop", index=0):
    """Steps that send each piece as a delta of choice `index`, the last one with the finish reason."""
    steps = [[ChoiceDelta(index, piece)] for piece in text_pieces]
    steps[-1][-1].finish_reason = finish_reason
    return steps


class FakeGenerator(TextGenerator):
    """A terminal node answering every request with canned deltas; readiness can be switched off."""

    type_name = "fake_generator"

    def __init__(self, options, context, pieces=("Hel", "lo", "!")):
        super().__init__(options, context)
        self.pieces = pieces
        self.ready = True
        self.requests = []
        self.generations = []

    def _generation(self, graph_input):
        self.requests.append(graph_input)
        generation = FakeGeneration(canned_steps(self.pieces), prompt_tokens=4)
        self.generations.append(generation)
        return generation

    def chat(self, chat_input):
        return self._generation(chat_input)

    def complete(self, completion_input):
        return self._generation(completion_input)

    def is_ready(self):
        return self.ready

    def describe(self):
        return {"max_model_len": 2048}
