"""The statistics of benchmarks/tune_defaults.py: the alternated schedule, pair ratios, verdicts."""

import pytest

from benchmarks import tune_defaults


def runs_of(sequence):
    """[(name, tok/s or None)] -> the runs tune_defaults records (None: a failed run)."""
    return [
        {"name": name, "result": {"metrics": {"output_tokens_per_s": tok_s}} if tok_s else {"error": "failed"}}
        for name, tok_s in sequence
    ]


def test_schedule_alternates_baseline_and_reverses_every_other_repeat():
    order = [name for name, _ in tune_defaults.schedule(["a", "b"], 2)]
    assert order == ["baseline", "a", "baseline", "b", "baseline", "b", "baseline", "a", "baseline"]


def test_pair_ratio_is_over_the_mean_of_the_neighbouring_baselines():
    ratios = tune_defaults.pair_ratios(
        runs_of([("baseline", 100), ("a", 110), ("baseline", 120), ("b", 60), ("baseline", 100)])
    )
    assert ratios["a"] == pytest.approx([1.0])
    assert ratios["b"] == pytest.approx([60 / 110])
    assert ratios["baseline"] == pytest.approx([1.2])  # the inner baseline against the outer two


def test_a_failed_baseline_leaves_the_other_neighbour():
    ratios = tune_defaults.pair_ratios(runs_of([("baseline", None), ("a", 90), ("baseline", 100)]))
    assert ratios["a"] == pytest.approx([0.9])


def test_verdict_needs_every_ratio_beyond_the_noise():
    assert tune_defaults.verdict([1.12, 1.15, 1.2], noise=0.08) == "better"
    assert tune_defaults.verdict([1.05, 1.15, 1.2], noise=0.08) == "within noise"
    assert tune_defaults.verdict([0.8, 0.85], noise=0.08) == "worse"
    assert tune_defaults.verdict([], noise=0.08) == "–"


def test_candidates_change_one_knob_over_the_baseline():
    baseline = {"max_num_batched_tokens": 256, "plugin_config": {"A": "1"}}
    changed = tune_defaults.candidate_options(baseline, tune_defaults.CANDIDATES["kv_f16"])
    assert changed == {"max_num_batched_tokens": 256, "plugin_config": {"A": "1", "KV_CACHE_PRECISION": "f16"}}
    assert baseline["plugin_config"] == {"A": "1"}
    assert set(tune_defaults.DEFAULT_CANDIDATES) <= set(tune_defaults.CANDIDATES)
