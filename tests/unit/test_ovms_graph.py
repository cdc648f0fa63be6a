"""OVMS graph.pbtxt -> ovserve graph: every mapped option, and errors that name the file, the line and the option."""

import pytest
from google.protobuf import text_format

from ovserve.config.ovms import calculators
from ovserve.config.ovms.graph import graph_document
from ovserve.config.ovms.schema import POOL, message_class
from ovserve.errors import ConfigError
from ovserve.nodes.llm.node import ContinuousBatchingLLMNode
from tests.unit.conftest import copy_fixture, fixture_path


def graph_fixture(name):
    return fixture_path("ovms", "graphs", name)


def graph_error(name, tmp_path=None):
    path = graph_fixture(name) if tmp_path is None else copy_fixture(("ovms", "graphs", name), tmp_path / name)
    with pytest.raises(ConfigError) as caught:
        graph_document(path)
    return caught.value


def test_every_mapped_llm_option_reaches_the_llm_node():
    document = graph_document(graph_fixture("llm_every_option.pbtxt"))
    assert document == {
        "nodes": [
            {
                "name": "LLMExecutor",
                "type": "llm_continuous_batching",
                "options": {
                    "models_path": "./model.gguf",
                    "plugin_config": {"KV_CACHE_PRECISION": "u8"},
                    "prompt_lookup": True,
                    "enable_prefix_caching": True,
                    "cache_size": 3,
                    "max_num_batched_tokens": 512,
                    "dynamic_split_fuse": False,
                    "max_num_seqs": 16,
                    "device": "CPU",
                    "max_tokens_limit": 300,
                    "tool_parser": "hermes",
                    "reasoning_parser": "qwen3",
                },
            }
        ],
        "output": "LLMExecutor",
    }


def test_the_older_options_form_and_handler_options_by_type_name_parse_too():
    options = graph_document(graph_fixture("legacy_options_form.pbtxt"))["nodes"][0]["options"]
    # enable_prefix_caching left out: OVMS's default (off), not ovserve's (on)
    assert options == {"models_path": "./model.gguf", "max_num_seqs": 4, "enable_prefix_caching": False}


def test_embeddings_options_map_to_the_embeddings_node():
    node = graph_document(graph_fixture("embeddings.pbtxt"))["nodes"][0]
    assert node["type"] == "embeddings" and node["name"] == "EmbeddingsExecutor"
    assert node["options"] == {
        "models_path": "./",
        "normalize": False,
        "truncate": False,
        "pooling": "mean",
        "max_length": 128,
        "device": "CPU",
        "plugin_config": {"NUM_STREAMS": "1"},
    }


def test_rerank_options_map_to_the_rerank_node():
    node = graph_document(graph_fixture("rerank.pbtxt"))["nodes"][0]
    assert node["type"] == "rerank"
    assert node["options"] == {
        "models_path": "./",
        "max_documents": 50,
        "max_length": 256,
        "device": "CPU",
        "plugin_config": {},
    }


def test_an_unknown_option_is_reported_by_the_parser_with_its_line():
    error = graph_error("llm_unknown_option.pbtxt")
    assert error.line == 11 and "max_num_seq" in str(error)
    assert error.file.endswith("llm_unknown_option.pbtxt")


def test_a_malformed_value_is_reported_with_its_line():
    error = graph_error("malformed.pbtxt")
    assert error.line == 9 and "cache_size" in str(error)
    assert str(error).startswith(f"{graph_fixture('malformed.pbtxt')}, line 9:")


def test_an_option_ovserve_cant_honour_names_its_line_and_why(tmp_path):
    error = graph_error("llm_draft_model.pbtxt", tmp_path)
    assert error.line == 13
    assert "draft_models_path" in str(error) and "speculative decoding" in str(error)
    assert str(error).startswith(f"{tmp_path / 'llm_draft_model.pbtxt'}, line 13:")


@pytest.mark.parametrize(
    "name, line, words",
    [
        ("llm_bad_plugin_config.pbtxt", 7, ("plugin_config", "not valid JSON")),
        ("llm_unknown_tool_parser.pbtxt", 7, ("tool_parser", "'granite'", "hermes3")),
        ("llm_vlm.pbtxt", 7, ("pipeline_type", "VLM_CB", "text-only")),
    ],
)
def test_refused_values_name_the_option_and_the_line(tmp_path, name, line, words):
    error = graph_error(name, tmp_path)
    assert error.line == line
    for word in words:
        assert word in str(error)


def test_a_calculator_ovserve_has_no_node_for_is_named():
    error = graph_error("legacy_embeddings.pbtxt")
    assert "EmbeddingsCalculator" in str(error) and "HttpLLMCalculator" in str(error)
    assert error.line == 3


def test_the_options_of_a_calculator_ovserve_has_not_are_named_with_their_line():
    error = graph_error("legacy_session_calculator.pbtxt")
    assert error.line == 5 and "OpenVINOModelServerSessionCalculatorOptions" in str(error)


def test_a_missing_graph_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        graph_document(tmp_path / "graph.pbtxt")


@pytest.mark.parametrize("calculator", list(calculators.CALCULATORS.values()), ids=lambda c: c.options_type)
def test_every_ovms_option_has_a_rule(calculator):
    fields = {field.name for field in message_class(calculator.options_type).DESCRIPTOR.fields}
    assert fields == set(calculator.rules)


def test_every_ovms_parser_name_maps_to_an_ovserve_parser():
    schema = ContinuousBatchingLLMNode.options_schema
    assert set(calculators.TOOL_PARSERS.values()) <= set(schema["properties"]["tool_parser"]["enum"])
    assert set(calculators.REASONING_PARSERS.values()) <= set(schema["properties"]["reasoning_parser"]["enum"])


def test_the_graph_shape_of_ovms_parses_with_text_format():
    graph = message_class("CalculatorGraphConfig")()
    text_format.Parse(graph_fixture("llm_every_option.pbtxt").read_text(), graph, descriptor_pool=POOL)
    node = graph.node[0]
    assert node.calculator == "HttpLLMCalculator" and list(node.input_stream_info)[0].back_edge
    assert node.input_stream_handler.input_stream_handler == "SyncSetInputStreamHandler"
    assert node.node_options[0].type_url == "type.googleapis.com/mediapipe.LLMCalculatorOptions"
