"""The prompt-lookup node options: what reaches the engine, and the plugin_config spelling refused (no model loaded)."""

import pytest

from ovserve.bench.target import TargetError, resolve_raw_target
from tests.unit.test_bench_target import llm_graph, tiny_gguf, write_json


def engine_options(tmp_path, **options):
    tiny_gguf(tmp_path / "tiny.gguf")
    graph = write_json(tmp_path / "graph.json", llm_graph({"models_path": "tiny.gguf", **options}))
    return resolve_raw_target(str(graph)).engine_options


def test_off_by_default_with_ovms_like_settings(tmp_path):
    options = engine_options(tmp_path)
    assert (options["prompt_lookup"], options["num_assistant_tokens"], options["max_ngram_size"]) == (False, 5, 3)


def test_on_with_its_settings_reaches_the_engine(tmp_path):
    options = engine_options(tmp_path, prompt_lookup=True, num_assistant_tokens=8, max_ngram_size=2)
    assert (options["prompt_lookup"], options["num_assistant_tokens"], options["max_ngram_size"]) == (True, 8, 2)
    assert "prompt_lookup" not in options["plugin_config"]


def test_prompt_lookup_inside_plugin_config_is_a_config_error(tmp_path):
    with pytest.raises(TargetError, match="prompt_lookup is a node option here"):
        engine_options(tmp_path, plugin_config={"prompt_lookup": True})


def test_settings_are_bounded(tmp_path):
    with pytest.raises(TargetError, match="num_assistant_tokens"):
        engine_options(tmp_path, prompt_lookup=True, num_assistant_tokens=0)
