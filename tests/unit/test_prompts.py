"""Several prompts of one completions request answered as one generation (ovserve.graph.prompts, run by
Servable.complete_prompts)."""

from pathlib import Path

import pytest

from ovserve.errors import Overloaded
from ovserve.graph.messages import ChoiceDelta, CompletionInput, CompletionPrompts, SamplingParams
from ovserve.graph.node import NodeContext
from ovserve.graph.prompts import start_prompts
from ovserve.graph.servable import Servable
from ovserve.protocol.completions import CompletionWriter
from tests.unit.fakes import FakeGeneration, FakeGenerator, canned_steps


def prompts(*texts, n=1):
    return CompletionPrompts(tuple(CompletionInput(text, SamplingParams(n=n)) for text in texts))


def two_choices(first, second):
    """Steps of a generation with n=2: both choices advance together."""
    return [
        [ChoiceDelta(0, first), ChoiceDelta(1, second)],
        [ChoiceDelta(0, ".", "stop"), ChoiceDelta(1, "!", "length")],
    ]


def test_choice_j_of_prompt_i_is_choice_i_times_n_plus_j():
    generations = {
        "a": FakeGeneration(two_choices("a0", "a1"), prompt_tokens=3),
        "b": FakeGeneration(two_choices("b0", "b1"), prompt_tokens=4),
    }
    generation = start_prompts(lambda completion_input: generations[completion_input.prompt], prompts("a", "b", n=2))
    writer = CompletionWriter("m", 4)
    for deltas in generation:
        writer.add(deltas)
    body = writer.body(generation)
    assert [(c["index"], c["text"], c["finish_reason"]) for c in body["choices"]] == [
        (0, "a0.", "stop"),
        (1, "a1!", "length"),
        (2, "b0.", "stop"),
        (3, "b1!", "length"),
    ]
    assert body["usage"] == {"prompt_tokens": 7, "completion_tokens": 8, "total_tokens": 15}


def test_a_single_prompt_is_its_own_generation():
    only = FakeGeneration(canned_steps(["x"]))
    assert start_prompts(lambda _: only, prompts("a")) is only


def test_a_prompt_that_fails_to_start_cancels_those_already_started():
    started = []

    def start(completion_input):
        if completion_input.prompt == "c":
            raise Overloaded("full", retry_after=1)
        started.append(FakeGeneration(canned_steps(["x"])))
        return started[-1]

    with pytest.raises(Overloaded):
        start_prompts(start, prompts("a", "b", "c"))
    assert [generation.close_calls for generation in started] == [1, 1]


def test_closing_cancels_every_prompt():
    generations = [FakeGeneration(canned_steps(["x", "y"])) for _ in range(3)]
    remaining = iter(generations)
    combined = start_prompts(lambda _: next(remaining), prompts("a", "b", "c"))
    next(iter(combined))
    combined.close()
    assert [generation.close_calls for generation in generations] == [1, 1, 1]


def test_a_failure_in_a_later_prompt_ends_the_answer_after_the_earlier_output():
    generations = iter(
        [
            FakeGeneration(canned_steps(["fine"], "length")),
            FakeGeneration(canned_steps(["part"]), fail_with=Overloaded("engine restarting", retry_after=1)),
        ]
    )
    combined = start_prompts(lambda _: next(generations), prompts("a", "b"))
    seen = []
    with pytest.raises(Overloaded, match="engine restarting"):
        for deltas in combined:
            seen += [(delta.index, delta.text) for delta in deltas]
    assert seen == [(0, "fine"), (1, "part")]


def test_the_servable_fans_the_prompts_out_through_its_terminal():
    context = NodeContext("svc", "gen", Path("/fake/svc/graph.json"), "$.nodes[0].options")
    node = FakeGenerator({}, context, pieces=("ok",))
    generation = Servable("svc", [], node).complete_prompts(prompts("a", "b", n=1))
    assert [delta.index for deltas in generation for delta in deltas] == [0, 1]
    assert [request.prompt for request in node.requests] == ["a", "b"]
