"""OVMS's config.json through ovserve's loader: OVMS's defaults, the same typed result as ovserve's own
format, and a ConfigError naming the entry for what ovserve can't serve."""

import json

import pytest

from ovserve.config.loader import ServableSpec, ServerConfig, load_server_config
from ovserve.errors import ConfigError
from ovserve.server.idle import idle_unload_settings
from tests.unit.conftest import copy_fixture


def ovms_site(tmp_path, config="ovms_defaults.json"):
    """OVMS's layout: config.json beside model folders, each with its graph.pbtxt."""
    copy_fixture(("ovms", "configs", config), tmp_path / "config.json")
    graphs = {
        "HuggingFaceTB/SmolLM2-135M-Instruct/graph.pbtxt": "llm_every_option.pbtxt",
        "models/reranker/rerank_graph.pbtxt": "rerank.pbtxt",
        "models/embedder/graph.pbtxt": "embeddings.pbtxt",
        "models/llm/graph.pbtxt": "legacy_options_form.pbtxt",
    }
    for destination, fixture in graphs.items():
        copy_fixture(("ovms", "graphs", fixture), tmp_path / destination)
    (tmp_path / "models" / "resnet" / "1").mkdir(parents=True)
    return tmp_path / "config.json"


def config_error(tmp_path, config):
    with pytest.raises(ConfigError) as caught:
        load_server_config(ovms_site(tmp_path, config))
    return caught.value


def test_ovms_config_loads_with_ovms_defaults_of_base_path_and_graph_path(tmp_path):
    config = load_server_config(ovms_site(tmp_path))
    assert isinstance(config, ServerConfig) and all(isinstance(s, ServableSpec) for s in config.servables)
    assert [(s.name, s.graph_file, s.json_path) for s in config.servables] == [
        (
            "HuggingFaceTB/SmolLM2-135M-Instruct",
            tmp_path / "HuggingFaceTB" / "SmolLM2-135M-Instruct" / "graph.pbtxt",
            "$.model_config_list[0].config",
        ),
        ("reranker", tmp_path / "models" / "reranker" / "rerank_graph.pbtxt", "$.model_config_list[1].config"),
        ("embedder", tmp_path / "models" / "embedder" / "graph.pbtxt", "$.mediapipe_config_list[0]"),
    ]
    assert [s.graph["nodes"][0]["type"] for s in config.servables] == [
        "llm_continuous_batching",
        "rerank",
        "embeddings",
    ]
    assert config.plugin_folders == ()


def test_an_ovserve_servable_may_name_a_graph_pbtxt(tmp_path):
    copy_fixture(("ovms", "graphs", "embeddings.pbtxt"), tmp_path / "embedder" / "graph.pbtxt")
    (tmp_path / "config.json").write_text(json.dumps({"servables": [{"name": "e", "base_path": "embedder"}]}))
    (servable,) = load_server_config(tmp_path / "config.json").servables
    assert servable.graph["nodes"][0]["options"]["pooling"] == "mean"


@pytest.mark.parametrize(
    "config, path, words",
    [
        ("mixed.json", "$.model_config_list", ("mixes ovserve's format",)),
        ("classic_model.json", "$.model_config_list[0].config.batch_size", ("classic model serving",)),
        ("classic_model_without_graph.json", "$.model_config_list[0].config", ("'resnet'", "KServe/TFS")),
        ("dag_pipeline.json", "$.pipeline_config_list", ("DAG pipelines",)),
        ("duplicate_names.json", "$.mediapipe_config_list[0].name", ("already used",)),
        ("device_in_config.json", "$.model_config_list[0].config.target_device", ("graph.pbtxt",)),
        ("subconfig.json", "$.mediapipe_config_list[0].subconfig", ("OpenVINOInferenceCalculator",)),
    ],
)
def test_what_ovserve_cant_serve_is_a_config_error_naming_the_entry(tmp_path, config, path, words):
    error = config_error(tmp_path, config)
    assert error.json_path == path and error.file == str(tmp_path / "config.json")
    for word in words:
        assert word in str(error)


def test_a_missing_base_path_folder_names_ovms_default(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_config_list": [{"config": {"name": "absent"}}]}))
    with pytest.raises(ConfigError, match="defaults to the servable's name") as caught:
        load_server_config(tmp_path / "config.json")
    assert caught.value.json_path == "$.model_config_list[0].config.base_path"


def test_an_error_in_a_pbtxt_graph_names_the_graph_file_and_line(tmp_path):
    config = ovms_site(tmp_path)
    graph = tmp_path / "models" / "embedder" / "graph.pbtxt"
    graph.write_text(graph.read_text().replace("pooling: MEAN", "pooling: AVERAGE"))
    with pytest.raises(ConfigError) as caught:
        load_server_config(config)
    assert caught.value.file == str(graph) and caught.value.line == 14 and "AVERAGE" in str(caught.value)


def test_an_option_out_of_ovservers_range_names_the_pbtxt_line(tmp_path):
    """The graph builder validates node options after translation; its error still names the pbtxt line."""
    from ovserve.graph.builder import build_servable
    from ovserve.graph.plugins import discover_node_types

    config = ovms_site(tmp_path)
    graph = tmp_path / "HuggingFaceTB" / "SmolLM2-135M-Instruct" / "graph.pbtxt"
    graph.write_text(graph.read_text().replace("max_num_seqs: 16", "max_num_seqs: 0"))
    spec = load_server_config(config).servables[0]
    with pytest.raises(ConfigError) as caught:
        build_servable(spec, discover_node_types([]))
    assert caught.value.file == str(graph) and caught.value.line == 26
    assert caught.value.json_path == "$.nodes[0].options.max_num_seqs"


def test_idle_unload_seconds_is_read_from_either_ovms_list(tmp_path):
    # ovserve's own addition to OVMS's entries, read by the same loader the supervisor's idle unloads use.
    config_file = ovms_site(tmp_path, "idle_unload.json")
    assert [(s.name, s.idle_unload_seconds) for s in load_server_config(config_file).servables] == [
        ("HuggingFaceTB/SmolLM2-135M-Instruct", 300.0),
        ("reranker", 0.0),
        ("embedder", 60.0),
    ]
    assert idle_unload_settings(config_file) == {"HuggingFaceTB/SmolLM2-135M-Instruct": 300.0, "embedder": 60.0}
