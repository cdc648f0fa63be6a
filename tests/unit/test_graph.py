"""ovserve.graph: plugin discovery, graph building, the registry and servables, with fake plugin nodes."""

import shutil

import pytest

from ovserve.config.loader import ServableSpec, load_server_config
from ovserve.errors import ConfigError, ModelNotFound, UnsupportedByModel
from ovserve.graph.builder import build_servable
from ovserve.graph.messages import ChatInput, CompletionInput
from ovserve.graph.node import RequestProcessor, TextGenerator
from ovserve.graph.plugins import PluginError, discover_node_types
from ovserve.graph.registry import ServableRegistry
from tests.unit.conftest import copy_fixture, fixture_path, load_fixture, make_plugin_folder


@pytest.fixture
def node_types(plugin_folder):
    return discover_node_types([plugin_folder])


def spec_for(graph_fixture, tmp_path, name="svc"):
    graph_file = copy_fixture(("graphs", graph_fixture), tmp_path / "servables" / name / "graph.json")
    return ServableSpec(name, graph_file, load_fixture("graphs", graph_fixture), "$.servables[0]")


def build_error(graph_fixture, tmp_path, node_types):
    spec = spec_for(graph_fixture, tmp_path)
    with pytest.raises(ConfigError) as caught:
        build_servable(spec, node_types)
    assert caught.value.file == str(spec.graph_file)
    return caught.value


def run_chat(servable, text):
    generation = servable.chat(ChatInput(({"role": "user", "content": text},)))
    return "".join(delta.text for deltas in generation for delta in deltas)


# --- plugin discovery -----------------------------------------------------------------------------


def test_plugin_folder_types_are_discovered_with_entry_points(node_types):
    assert {"fake_append", "fake_echo", "fake_completion_only"} <= set(node_types.names())
    assert "llm_continuous_batching" in node_types.names()  # the packaged entry point
    assert node_types.names() == sorted(node_types.names())
    assert issubclass(node_types.get("fake_append"), RequestProcessor)
    assert issubclass(node_types.get("fake_echo"), TextGenerator)
    assert node_types.get("no_such_type") is None


def test_duplicate_type_names_across_plugin_folders_are_an_error(tmp_path):
    first = make_plugin_folder(tmp_path / "one")
    second = make_plugin_folder(tmp_path / "two")
    with pytest.raises(PluginError) as caught:
        discover_node_types([first, second])
    message = str(caught.value)
    assert "is defined twice" in message
    assert str(first / "fake_nodes.py") in message and str(second / "fake_nodes.py") in message


def test_plugin_type_clashing_with_an_entry_point_is_an_error(tmp_path):
    folder = make_plugin_folder(tmp_path, "steals_builtin_name.py")
    with pytest.raises(PluginError, match="'llm_continuous_batching' is defined twice: in entry point"):
        discover_node_types([folder])


def test_plugin_module_that_fails_to_import_is_a_plugin_error(tmp_path):
    folder = make_plugin_folder(tmp_path, "broken_plugin.py")
    with pytest.raises(PluginError, match="failed to import: RuntimeError"):
        discover_node_types([folder])


def test_plugin_types_must_be_node_subclasses(tmp_path):
    folder = make_plugin_folder(tmp_path, "not_a_node.py")
    with pytest.raises(PluginError, match="'not_a_node' .* is not a subclass of ovserve.graph.node.Node"):
        discover_node_types([folder])


def test_modules_starting_with_underscore_are_not_plugins(tmp_path):
    folder = make_plugin_folder(tmp_path, "fake_nodes.py", "_private_helper.py")
    assert "fake_echo" in discover_node_types([folder]).names()


def test_two_plugin_folders_with_the_same_name_load_their_own_modules(tmp_path):
    first = tmp_path / "site_a" / "plugins"
    second = tmp_path / "site_b" / "plugins"
    copy_fixture(("plugins", "fake_nodes.py"), first / "nodes.py")
    copy_fixture(("plugins", "other_nodes.py"), second / "nodes.py")
    names = discover_node_types([first, second]).names()
    assert "fake_echo" in names and "fake_shout" in names


def test_plugin_discovery_errors_are_config_errors(tmp_path):
    copy_fixture(("graphs", "minimal.json"), tmp_path / "servables" / "ok" / "graph.json")
    copy_fixture(("graphs", "chain_unordered.json"), tmp_path / "servables" / "shop" / "graph.json")
    copy_fixture(("plugins", "fake_nodes.py"), tmp_path / "node_plugins" / "fake_nodes.py")
    copy_fixture(("plugins", "broken_plugin.py"), tmp_path / "node_plugins" / "broken_plugin.py")
    config = load_server_config(copy_fixture(("configs", "with_plugins.json"), tmp_path / "config.json"))
    with pytest.raises(ConfigError):
        ServableRegistry.from_config(config)


# --- building servables: chain order and graph errors ---------------------------------------------


def test_chain_runs_from_the_input_to_the_output_whatever_the_listing_order(tmp_path, node_types):
    servable = build_servable(spec_for("chain_unordered.json", tmp_path), node_types)
    assert [node.context.node_name for node in servable.processors] == ["first", "second"]
    assert servable.terminal.context.node_name == "gen"
    assert [node.context.node_name for node in servable.nodes] == ["first", "second", "gen"]


def test_graph_input_may_have_a_custom_name(tmp_path, node_types):
    servable = build_servable(spec_for("custom_input_name.json", tmp_path), node_types)
    assert run_chat(servable, "hi") == "hi+"


def test_nodes_get_their_validated_options_and_context(tmp_path, node_types):
    spec = spec_for("chain_unordered.json", tmp_path, name="shop")
    servable = build_servable(spec, node_types)
    first = servable.processors[0]
    assert first.options == {"x": "1"}
    assert first.context.servable == "shop"
    assert first.context.file == spec.graph_file
    assert first.context.json_path == "$.nodes[2].options"
    assert servable.terminal.options == {}


@pytest.mark.parametrize(
    "graph, where, expected",
    [
        ("cycle.json", "$.nodes[0].input", "the nodes' inputs form a cycle"),
        ("off_path.json", "$.nodes[2]", "node 'stray' is not on the path from the input to the output"),
        ("dangling_input.json", "$.nodes[0].input", "'nowhere' is neither a node nor the graph input 'request'"),
        ("output_not_a_node.json", "$.output", "'llm' is not a node of this graph"),
        ("duplicate_node_names.json", "$.nodes[1].name", "node name 'gen' is used twice"),
        ("output_not_generator.json", "$.output", "the output node 'tag' (fake_append) can't answer requests"),
        ("generator_in_middle.json", "$.nodes[0].type", "node type 'fake_echo' can't sit before another node"),
    ],
)
def test_graph_shape_errors(tmp_path, node_types, graph, where, expected):
    error = build_error(graph, tmp_path, node_types)
    assert error.json_path == where
    assert expected in error.problem
    assert f": at {where}: " in str(error)


def test_unknown_node_type_lists_the_known_types(tmp_path, node_types):
    error = build_error("unknown_type.json", tmp_path, node_types)
    assert error.json_path == "$.nodes[0].type"
    assert "no plugin defines node type 'gpt_magic'" in error.problem
    known = str(error).split("known types: ", 1)[1].split(", ")
    assert known == sorted(known)
    assert {"fake_append", "fake_completion_only", "fake_echo", "llm_continuous_batching"} <= set(known)


@pytest.mark.parametrize(
    "graph, where, expected",
    [
        ("bad_option_type.json", "$.nodes[0].options.x", "expected string, got int 5"),
        ("unknown_option.json", "$.nodes[0].options", "'temperature' was unexpected"),
        ("missing_required_option.json", "$.nodes[0].options", "'x' is a required property"),
    ],
)
def test_node_options_are_validated_against_the_node_schema(tmp_path, node_types, graph, where, expected):
    error = build_error(graph, tmp_path, node_types)
    assert error.json_path == where
    assert expected in error.problem


def test_off_path_error_suggests_a_fix(tmp_path, node_types):
    assert "chain it through `input`" in str(build_error("off_path.json", tmp_path, node_types))


# --- servables and the registry ---------------------------------------------------------------------


def test_servable_chat_runs_processors_in_order_then_the_terminal(tmp_path, node_types):
    servable = build_servable(spec_for("chain_unordered.json", tmp_path), node_types)
    assert run_chat(servable, "hi") == "hi12"


def test_servable_complete_runs_processors_in_order_then_the_terminal(tmp_path, node_types):
    servable = build_servable(spec_for("chain_unordered.json", tmp_path), node_types)
    generation = servable.complete(CompletionInput("go"))
    assert [delta.text for deltas in generation for delta in deltas] == ["go12"]


def test_processors_do_not_mutate_the_callers_input(tmp_path, node_types):
    servable = build_servable(spec_for("chain_unordered.json", tmp_path), node_types)
    chat_input = ChatInput(({"role": "user", "content": "hi"},))
    servable.chat(chat_input)
    assert chat_input.messages == ({"role": "user", "content": "hi"},)


def test_servable_capabilities_readiness_and_engine_specs(tmp_path, node_types):
    servable = build_servable(spec_for("chain_unordered.json", tmp_path), node_types)
    assert servable.capabilities == ("chat.completions", "completions")
    assert servable.is_ready() is True
    assert servable.engine_specs() == {}


@pytest.fixture
def registry(tmp_path, node_types):
    return ServableRegistry(
        [
            build_servable(spec_for("minimal.json", tmp_path, name="org/echo-model"), node_types),
            build_servable(spec_for("completion_only.json", tmp_path, name="completer"), node_types),
        ]
    )


def test_registry_get_returns_the_servable_by_name(registry):
    assert registry.names() == ["org/echo-model", "completer"]
    assert registry.get("completer").name == "completer"
    assert [servable.name for servable in registry] == ["org/echo-model", "completer"]


def test_registry_get_unknown_model_lists_the_served_names(registry):
    with pytest.raises(ModelNotFound) as caught:
        registry.get("gpt-4o")
    error = caught.value
    assert error.status == 404
    assert error.param == "model" and error.code == "model_not_found"
    assert "'gpt-4o' does not exist" in error.message
    assert "'org/echo-model', 'completer'" in error.message


def test_registry_require_checks_the_capability(registry):
    assert registry.require("completer", "completions").name == "completer"
    with pytest.raises(UnsupportedByModel) as caught:
        registry.require("completer", "chat.completions")
    error = caught.value
    assert error.status == 400 and error.param == "model" and error.code == "unsupported_model_capability"
    assert "does not support chat.completions (it supports: completions)" in error.message


def test_registry_require_unknown_model_is_model_not_found(registry):
    with pytest.raises(ModelNotFound):
        registry.require("nope", "completions")


def test_registry_from_config_builds_every_servable(tmp_path):
    shutil.copytree(fixture_path("configs", "valid"), tmp_path / "site")
    copy_fixture(("plugins", "fake_nodes.py"), tmp_path / "site" / "plugins" / "fake_nodes.py")
    registry = ServableRegistry.from_config(load_server_config(tmp_path / "site" / "config.json"))
    assert registry.names() == ["org/echo-model", "shop"]
    assert run_chat(registry.get("shop"), "buy") == "buy!"
