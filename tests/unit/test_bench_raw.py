"""`ovserve bench --raw`'s step loop, driven against a fake engine (the engine's submit/step contract)."""

import time

import pytest

from ovserve.bench.raw import rebase, step_loop
from ovserve.nodes.llm.messages import GenerationSettings, TokenUpdate


class FakeEngine:
    """One token per live request and step; a prompt [0] ends as 'cancelled' after its first token."""

    def __init__(self, step_seconds=0.0):
        self.live = {}
        self.peak = 0
        self.step_seconds = step_seconds

    def submit(self, key, request):
        self.live[key] = [request.settings.max_new_tokens, request.prompt_ids == (0,)]
        self.peak = max(self.peak, len(self.live))

    def step(self):
        time.sleep(self.step_seconds)
        updates = []
        for key, (remaining, fails) in list(self.live.items()):
            remaining -= 1
            done = remaining == 0 or fails
            status = "cancelled" if fails else ("finished" if done else "running")
            updates.append((key, TokenUpdate(((0, [7], [], None),), status), done))
            if done:
                del self.live[key]
            else:
                self.live[key][0] = remaining
        return updates


def test_a_closed_loop_keeps_c_requests_in_the_engine():
    engine = FakeEngine()
    prompts = [[1, 2, 3]] * 5
    records, _, _ = step_loop(engine, prompts, GenerationSettings(max_new_tokens=4), iter(range(100)), concurrency=2)
    assert engine.peak == 2
    assert all(record["tokens"] == 4 and len(record["chunks"]) == 4 and record["error"] is None for record in records)
    assert all(record["prompt_tokens"] == 3 and record["end"] == record["chunks"][-1] for record in records)


def test_an_open_loop_sends_at_the_arrival_times():
    engine = FakeEngine(step_seconds=0.01)
    records, start, _ = step_loop(
        engine, [[1]] * 3, GenerationSettings(max_new_tokens=2), iter(range(100)), offsets=[0.0, 0.05, 0.1]
    )
    rebase(records, start)
    assert [record["send"] for record in records] == pytest.approx([0.0, 0.05, 0.1])  # arrival, not admission
    assert all(record["chunks"][0] >= record["send"] for record in records)


def test_a_request_the_engine_does_not_finish_is_an_error():
    records, _, _ = step_loop(
        FakeEngine(), [[0], [1]], GenerationSettings(max_new_tokens=2), iter(range(100)), concurrency=2
    )
    assert records[0]["error"] == "generation status cancelled" and records[1]["error"] is None
