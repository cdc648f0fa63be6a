"""`ovserve bench --raw CONFIG_OR_MODEL`: which engine options the raw side gets (no model is loaded)."""

import json

import pytest

from ovserve.bench.target import TargetError, resolve_raw_target
from ovserve.config.loader import load_server_config
from ovserve.graph.builder import build_servable
from ovserve.graph.plugins import discover_node_types
from tests.unit.test_model_files import STRING, UINT32, write_gguf


def tiny_gguf(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_gguf(path, [("general.architecture", STRING, "llama"), ("llama.context_length", UINT32, 2048)])


def write_json(path, document):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    return path


def llm_graph(options, node_type="llm_continuous_batching"):
    return {
        "input": "request",
        "output": "llm",
        "nodes": [{"name": "llm", "type": node_type, "input": "request", "options": options}],
    }


@pytest.fixture
def server_config(tmp_path):
    """config.json with two LLM servables; the second's model is named through ${BENCH_MODELS}."""
    tiny_gguf(tmp_path / "models" / "tiny.gguf")
    write_json(
        tmp_path / "servables" / "a" / "graph.json",
        llm_graph(
            {
                "models_path": "../../models/tiny.gguf",
                "cache_size": 1,
                "deterministic": True,
                "plugin_config": {"KV_CACHE_PRECISION": "u8"},
            }
        ),
    )
    write_json(
        tmp_path / "servables" / "b" / "graph.json",
        llm_graph({"models_path": "${BENCH_MODELS}/tiny.gguf", "max_num_seqs": 4}),
    )
    return write_json(
        tmp_path / "config.json",
        {"servables": [{"name": "first", "base_path": "servables/a"}, {"name": "second", "base_path": "servables/b"}]},
    )


def test_a_config_gives_its_first_llm_servable_as_the_server_builds_it(server_config, tmp_path):
    target = resolve_raw_target(str(server_config))
    options = target.engine_options
    assert options["models_path"] == str((tmp_path / "models" / "tiny.gguf").resolve())  # relative to the graph
    assert options["cache_size"] == 1 and options["max_num_batched_tokens"] == 256  # defaults filled in
    # deterministic mode's plugin properties come with it, and the graph's own win
    assert options["plugin_config"]["INFERENCE_PRECISION_HINT"] == "f32"
    assert options["plugin_config"]["KV_CACHE_PRECISION"] == "u8"
    assert "'first'" in target.description
    # exactly what the server's graph builder hands to the engine process
    spec = load_server_config(server_config).servables[0]
    servable = build_servable(spec, discover_node_types())
    assert servable.terminal.engine_spec().options == options


def test_a_config_prefers_the_servable_named_like_the_model(server_config, tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_MODELS", str(tmp_path / "models"))
    target = resolve_raw_target(str(server_config), model="second")
    assert target.engine_options["max_num_seqs"] == 4 and "'second'" in target.description


def test_an_unset_variable_is_named(server_config, monkeypatch):
    monkeypatch.delenv("BENCH_MODELS", raising=False)
    with pytest.raises(TargetError, match="BENCH_MODELS"):
        resolve_raw_target(str(server_config), model="second")


def test_a_graph_file_or_a_servable_folder(tmp_path):
    tiny_gguf(tmp_path / "m.gguf")
    graph = write_json(tmp_path / "s" / "graph.json", llm_graph({"models_path": "../m.gguf", "device": "CPU"}))
    for argument in (graph, graph.parent):
        options = resolve_raw_target(str(argument)).engine_options
        assert options["models_path"] == str((tmp_path / "m.gguf").resolve())


def test_a_gguf_file_gets_the_default_options(tmp_path):
    target = resolve_raw_target(str(tiny_gguf(tmp_path / "x.gguf")))
    options = target.engine_options
    assert options["models_path"] == str(tmp_path / "x.gguf")
    assert (options["device"], options["cache_size"], options["max_num_seqs"]) == ("CPU", 2, 256)
    assert options["dynamic_split_fuse"] is True and options["plugin_config"] == {}


def test_an_ir_folder(tmp_path):
    for name in ("openvino_model.xml", "openvino_tokenizer.xml", "openvino_detokenizer.xml"):
        (tmp_path / name).write_text("<net/>")
    write_json(tmp_path / "config.json", {"max_position_embeddings": 4096})
    assert resolve_raw_target(str(tmp_path)).engine_options["models_path"] == str(tmp_path)


def test_invalid_options_name_the_file_and_field(tmp_path):
    tiny_gguf(tmp_path / "m.gguf")
    graph = write_json(tmp_path / "graph.json", llm_graph({"models_path": "m.gguf", "cache_size": -1}))
    with pytest.raises(TargetError, match=r"graph\.json.*cache_size"):
        resolve_raw_target(str(graph))


@pytest.mark.parametrize("document", [{"nothing": 1}, [1, 2]])
def test_a_json_that_is_neither_config_nor_graph(tmp_path, document):
    with pytest.raises(TargetError, match="neither"):
        resolve_raw_target(str(write_json(tmp_path / "x.json", document)))


def test_a_config_without_an_llm(tmp_path):
    write_json(tmp_path / "s" / "graph.json", llm_graph({"models_path": "x"}, node_type="embeddings"))
    config = write_json(tmp_path / "config.json", {"servables": [{"name": "e", "base_path": "s"}]})
    with pytest.raises(TargetError, match="no servable"):
        resolve_raw_target(str(config))


def test_nothing_there(tmp_path):
    with pytest.raises(TargetError, match="no such"):
        resolve_raw_target(str(tmp_path / "missing.gguf"))
    with pytest.raises(TargetError, match="neither"):
        resolve_raw_target(str(tmp_path))  # an empty folder
